using System.Text;
using System.Text.Json.Nodes;
using CsCheck;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// Damaged JSON documents from a valid one: a value replaced by a hostile one (null, wrong type, out of range, huge,
/// deep), a property removed or renamed, an element repeated, or the text cut, as an admin client or a hand-edited
/// file would send them.
/// </summary>
internal static class JsonMutations
{
    private static readonly string[] Hostile =
    [
        "null", "0", "-1", "1.5", "1e309", "-1e309", "18446744073709551616", "-9223372036854775809", "4294967296", "true", "\"\"",
        "\"x\"", "\"NaN\"", "\"Infinity\"", "\"-1\"", "\"18446744073709551615\"", "\"0x10\"", "[]", "[null]", "{}", "{\"a\":null}",
        "\"\\u0000\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "\"" + new string('a', 5000) + "\"",
    ];

    /// <summary>Mutations of <paramref name="valid"/>, as UTF-8 bytes; every tenth or so is byte-level damage instead.</summary>
    public static Gen<byte[]> Of(string valid) =>
        Gen.Frequency(
            (8, Gen.Select(Gen.Int[1, 3], Gen.UInt.Array[3], Gen.Int[0, Hostile.Length - 1].Array[3], (n, where, what) => Mutate(valid, n, where, what))),
            (2, Fuzz.Mutations(Gen.Const(Encoding.UTF8.GetBytes(valid)))));

    private static byte[] Mutate(string valid, int count, uint[] where, int[] what)
    {
        var root = JsonNode.Parse(valid)!;
        for (var i = 0; i < count; i++)
        {
            var nodes = new List<JsonNode>();
            Collect(root, nodes);
            var target = nodes[(int)(where[i] % (uint)nodes.Count)];
            var replacement = JsonNode.Parse(Hostile[what[i]]);
            switch ((where[i] >> 16) % 4)
            {
                case 0 when target.Parent is JsonObject parent:
                    parent.Remove(target.GetPropertyName());
                    break;
                case 1 when target.Parent is JsonObject parent:
                    var name = target.GetPropertyName();
                    parent.Remove(name);
                    parent[name.ToUpperInvariant() + "_"] = replacement;
                    break;
                case 2 when target.Parent is JsonArray array:
                    array.Add(target.DeepClone());
                    break;
                default:
                    if (target.Parent is null)
                    {
                        root = replacement ?? JsonValue.Create(0);
                    }
                    else
                    {
                        target.ReplaceWith(replacement);
                    }

                    break;
            }
        }

        return Encoding.UTF8.GetBytes(root?.ToJsonString() ?? "null");
    }

    private static void Collect(JsonNode? node, List<JsonNode> into)
    {
        if (node is null)
        {
            return;
        }

        into.Add(node);
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, child) in obj)
                {
                    Collect(child, into);
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    Collect(child, into);
                }

                break;
        }
    }
}

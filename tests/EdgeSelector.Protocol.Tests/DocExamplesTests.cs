using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MessagePack;

namespace EdgeSelector.Protocol.Tests;

/// <summary>
/// Keeps the worked hex examples in docs/protocol.md true: each one is rendered from the real writer and must appear,
/// byte for byte, in the block that follows its <c>&lt;!-- hex:name --&gt;</c> marker. Set
/// EDGESEL_DUMP_DOC_EXAMPLES=path to write the rendered blocks out when the format changes.
/// </summary>
public partial class DocExamplesTests
{
    private static RequestContext ExampleContext(bool full)
    {
        var context = new RequestContext
        {
            MemberId = 42,
            Country = CountryCode.Pack("US"),
            Language = CountryCode.Pack("en"),
            Device = DeviceClass.Tv,
            HourOfDay = 21,
            DayOfWeek = 5,
        };
        if (full)
        {
            context.SetGenres([0.5f, 0.25f]);
            context.TimestampUnixMs = 1_764_300_000_000;
        }

        return context;
    }

    public static readonly (string Name, Action<IBufferWriter<byte>> Write)[] Examples =
    [
        ("select", o => FrameWriter.WriteSelect(o, 1, ExampleContext(full: true), new TitleCandidate(80_100_123, 0.875f, true))),
        ("select-minimal", o => FrameWriter.WriteSelect(o, 2, ExampleContext(full: false), new TitleCandidate(7, 0.5f, false))),
        ("select-page", o => FrameWriter.WriteSelectPage(o, 3, ExampleContext(full: false), [new(7, 0.5f, false), new(8, 0.25f, true)])),
        ("reward", o => FrameWriter.WriteReward(o, 4, new RewardRequest(0x1000_0000_0000_0001, true, 42.5f, 0.75f, 1_764_300_060_000, 0x9E3C_D0A4_51F7_2B68))),
        ("reward-minimal", o => FrameWriter.WriteReward(o, 7, new RewardRequest(0x1000_0000_0000_0002, false, 0f, 0f, 0, 0x2B1D_6E0F_8C35_A947))),
        ("ping", o => FrameWriter.WritePing(o, 5, 42)),
        ("select-result", o => FrameWriter.WriteSelectResult(o, 1, new SelectResult(80_100_123, 3, 0x1000_0000_0000_0001, 0.625f, 20_261_128, FallbackReason.None, 0x9E3C_D0A4_51F7_2B68))),
        ("select-page-result", o => FrameWriter.WriteSelectPageResult(o, 3,
        [
            new SelectResult(7, 70, 0x1000_0000_0000_0002, 1f, 20_261_128, FallbackReason.NoModel, 0x2B1D_6E0F_8C35_A947),
            new SelectResult(8, SelectResult.NoArtwork, 0x1000_0000_0000_0003, 1f, 0, FallbackReason.UnknownTitle, 0xC471_09E2_5DA8_3F16),
        ])),
        ("reward-result", o => FrameWriter.WriteRewardResult(o, 4, RewardStatus.Accepted)),
        ("reward-result-unverified", o => FrameWriter.WriteRewardResult(o, 7, RewardStatus.Unverified)),
        ("pong", o => FrameWriter.WritePong(o, 5, 42)),
        ("error", o => FrameWriter.WriteError(o, 6, ErrorCode.TooManyTitles)),
        ("error-fatal", o => FrameWriter.WriteError(o, 0, ErrorCode.UnsupportedVersion)),
    ];

    public static TheoryData<string> ExampleNames => new(Examples.Select(e => e.Name));

    [Theory]
    [MemberData(nameof(ExampleNames))]
    public void ProtocolDoc_HexExample_MatchesTheWriter(string name)
    {
        DumpIfAsked();
        string rendered = Render(name);
        string doc = File.ReadAllText(FindDoc());

        Match marker = Regex.Match(doc, $"<!-- hex:{Regex.Escape(name)} -->\\s*```text\\n(?<block>.*?)```", RegexOptions.Singleline);
        Assert.True(marker.Success, $"docs/protocol.md has no block for {name}; expected:\n{rendered}");
        Assert.Equal(HexOf(rendered), HexOf(marker.Groups["block"].Value));
    }

    /// <summary>An annotated dump: the header, then one line per MessagePack token, indented by nesting.</summary>
    public static string Render(string name)
    {
        byte[] bytes = TestFrames.Build(Examples.Single(e => e.Name == name).Write);
        FrameHeader h = FrameHeader.Read(bytes);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"{Hex(bytes.AsSpan(0, FrameHeader.Size)),-48}  # header: length {h.Length}, version {h.Version}, opcode 0x{(byte)h.Opcode:x2} {h.Opcode}, flags 0, request id {h.RequestId}\n");

        var payload = new ReadOnlySequence<byte>(bytes, FrameHeader.Size, bytes.Length - FrameHeader.Size);
        var reader = new MessagePackReader(payload);

        // One entry per enclosing array: how many elements it has and the index of the next one.
        var arrays = new List<(int Count, int Next)>();
        while (!reader.End)
        {
            // Outer arrays already counted the child we are inside; the innermost one is at this token.
            int[] path = arrays.Select((a, i) => i == arrays.Count - 1 ? a.Next : a.Next - 1).ToArray();
            long start = reader.Consumed;
            byte code = reader.NextCode;
            int arrayCount = -1;
            string what = reader.NextMessagePackType switch
            {
                MessagePackType.Array => $"array({arrayCount = reader.ReadArrayHeader()})",
                MessagePackType.Integer when code is 0xd0 or 0xd1 or 0xd2 or 0xd3 or >= 0xe0 => $"{IntName(code)} {reader.ReadInt64()}",
                MessagePackType.Integer => $"{IntName(code)} {reader.ReadUInt64()}",
                MessagePackType.Float => $"float32 {reader.ReadSingle().ToString(CultureInfo.InvariantCulture)}",
                MessagePackType.Boolean => reader.ReadBoolean() ? "true" : "false",
                MessagePackType.Nil => ReadNil(ref reader),
                MessagePackType.String => $"str \"{reader.ReadString()}\"",
                _ => throw new InvalidOperationException($"unexpected code {code:x2}"),
            };
            string indent = new(' ', 2 * arrays.Count);
            string hex = Hex(bytes.AsSpan(FrameHeader.Size + (int)start, (int)(reader.Consumed - start)));
            text.Append(CultureInfo.InvariantCulture, $"{(indent + hex),-48}  # {Label(h.Opcode, path)}: {what}\n");

            if (arrays.Count > 0)
            {
                arrays[^1] = (arrays[^1].Count, arrays[^1].Next + 1);
            }

            if (arrayCount > 0)
            {
                arrays.Add((arrayCount, 0));
            }

            while (arrays.Count > 0 && arrays[^1].Next == arrays[^1].Count)
            {
                arrays.RemoveAt(arrays.Count - 1);
            }
        }

        return text.ToString();
    }

    private static readonly string[] ContextFields =
        ["member_id", "country", "language", "device", "hour", "day_of_week", "genres", "timestamp_ms"];

    private static readonly string[] TitleFields = ["title_id", "score", "interacted"];

    private static readonly string[] ResultFields = ["title_id", "image_id", "event_id", "propensity", "model_version", "reason", "event_tag"];

    /// <summary>The field name of the token at <paramref name="path"/> (indices into the enclosing arrays).</summary>
    private static string Label(Opcode opcode, int[] path) => (opcode, path) switch
    {
        (_, []) => "payload",
        (Opcode.Select or Opcode.SelectPage, [0]) => "context",
        (Opcode.Select or Opcode.SelectPage, [0, 6, var g]) => $"genres[{g}]",
        (Opcode.Select or Opcode.SelectPage, [0, var f]) => ContextFields[f],
        (Opcode.Select, [1]) => "title",
        (Opcode.Select, [1, var f]) => TitleFields[f],
        (Opcode.SelectPage, [1]) => "titles",
        (Opcode.SelectPage, [1, var t]) => $"titles[{t}]",
        (Opcode.SelectPage, [1, _, var f]) => TitleFields[f],
        (Opcode.Reward, [var f]) => new[] { "event_id", "play_started", "minutes_watched", "fraction_completed", "timestamp_ms", "event_tag" }[f],
        (Opcode.Ping or Opcode.Pong, [0]) => "nonce",
        (Opcode.SelectResult, [var f]) => ResultFields[f],
        (Opcode.SelectPageResult, [var r]) => $"results[{r}]",
        (Opcode.SelectPageResult, [_, var f]) => ResultFields[f],
        (Opcode.RewardResult, [0]) => "status",
        (Opcode.Error, [var f]) => f == 0 ? "code" : "message",
        _ => "?",
    };

    private static string ReadNil(ref MessagePackReader reader)
    {
        reader.ReadNil();
        return "nil";
    }

    private static string IntName(byte code) => code switch
    {
        <= 0x7f => "positive fixint",
        0xcc => "uint8",
        0xcd => "uint16",
        0xce => "uint32",
        0xcf => "uint64",
        0xd3 => "int64",
        _ => $"int (0x{code:x2})",
    };

    private static string Hex(ReadOnlySpan<byte> bytes) => string.Join(' ', bytes.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    // The bytes of a dump: the hex pairs on each line before its '#'.
    private static string HexOf(string block) => string.Join(' ', block.Split('\n')
        .Select(line => line.Split('#')[0])
        .SelectMany(line => HexPair().Matches(line).Select(m => m.Value)));

    [GeneratedRegex(@"\b[0-9a-f]{2}\b")]
    private static partial Regex HexPair();

    private static string FindDoc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "docs", "protocol.md");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("docs/protocol.md not found above " + AppContext.BaseDirectory);
    }

    private static void DumpIfAsked()
    {
        string? path = Environment.GetEnvironmentVariable("EDGESEL_DUMP_DOC_EXAMPLES");
        if (!string.IsNullOrEmpty(path))
        {
            File.WriteAllText(path, string.Concat(Examples.Select(e => $"<!-- hex:{e.Name} -->\n```text\n{Render(e.Name)}```\n\n")));
        }
    }
}

using CsCheck;
using EdgeSelector.Chaos.Tests.Infrastructure;

namespace EdgeSelector.Chaos.Tests.Fuzz;

/// <summary>
/// Runs a fuzz target within the suite's budget: <see cref="ChaosBudget.FuzzIterations"/> generated inputs, and a
/// wall-clock limit that turns a hang into a failure (the property "no hang"). CsCheck prints the seed and the
/// shrunk input of a failure; pin it as a regression test (Fuzz/RegressionTests.cs) once the bug is fixed.
/// </summary>
internal static class Fuzz
{
    /// <summary>Samples <paramref name="gen"/> and calls <paramref name="property"/> on each input.</summary>
    public static async Task RunAsync<T>(Gen<T> gen, Action<T> property, int? iterations = null, Func<T, string>? print = null)
    {
        var limit = ChaosBudget.FuzzTime + TimeSpan.FromSeconds(60);
        var run = Task.Run(() => gen.Sample(property, iter: iterations ?? ChaosBudget.FuzzIterations, threads: 2, print: print));
        var finished = await Task.WhenAny(run, Task.Delay(limit));
        Assert.True(finished == run, $"the fuzz target did not finish within {limit.TotalSeconds} s: a parser hangs on some input");
        await run;
    }

    /// <summary>Bytes for a failure message: hex, so a failing input can be pasted into a regression test.</summary>
    public static string Hex(byte[] bytes) => Convert.ToHexString(bytes);

    /// <summary>Damage to a valid input: a flipped bit, a random byte, a cut, an insertion, a duplicated slice.</summary>
    public static Gen<byte[]> Mutations(Gen<byte[]> valid) =>
        Gen.Select(valid, Gen.Int[0, 5], Gen.Int[1, 8], Gen.UInt, Gen.Byte.Array[1, 40], (bytes, kind, n, at, noise) =>
        {
            if (bytes.Length == 0)
            {
                return noise;
            }

            var copy = (byte[])bytes.Clone();
            var where = (int)(at % (uint)copy.Length);
            switch (kind)
            {
                case 0:
                    for (var i = 0; i < n; i++)
                    {
                        var bit = (int)((at >> 3) + ((uint)i * 2654435761u)) % (copy.Length * 8);
                        copy[Math.Abs(bit) / 8] ^= (byte)(1 << (Math.Abs(bit) % 8));
                    }

                    return copy;
                case 1:
                    copy[where] = noise[0];
                    return copy;
                case 2:
                    return copy[..where];
                case 3:
                    return [.. copy[..where], .. noise, .. copy[where..]];
                case 4:
                    return [.. copy[..where], .. copy[where..Math.Min(copy.Length, where + n)], .. copy[where..]];
                default:
                    copy[where] = (byte)(copy[where] + 1);
                    return copy;
            }
        });
}

using System.Buffers;

namespace EdgeSelector.Testing;

/// <summary>Input as a pipe hands it over: bytes in more than one segment, for the parsers' multi-segment paths.</summary>
internal static class Sequences
{
    /// <summary>
    /// The same bytes as a sequence of one segment more than there are <paramref name="cuts"/>, cut at those offsets
    /// (ascending; 0, the length and repeats included, giving empty segments).
    /// </summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params ReadOnlySpan<int> cuts)
    {
        var first = new Segment(bytes.AsMemory(0, cuts.IsEmpty ? bytes.Length : cuts[0]), 0);
        var last = first;
        for (var i = 0; i < cuts.Length; i++)
        {
            var end = i + 1 < cuts.Length ? cuts[i + 1] : bytes.Length;
            last = last.Append(bytes.AsMemory(cuts[i], end - cuts[i]));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

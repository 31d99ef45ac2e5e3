using System.Buffers;
using System.IO.Pipelines;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// The connection's batching output: what is written reaches the pipe in order, whole, at the flush (not before), and
/// across as many of the pipe's segments as it takes.
/// </summary>
public class BatchedPipeWriterTests
{
    [Fact]
    public async Task Writes_ReachThePipeInOrder_OnlyAtTheFlush()
    {
        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 256, pauseWriterThreshold: 0));
        var output = new BatchedPipeWriter(pipe.Writer);
        var expected = new ArrayBufferWriter<byte>();
        var random = new Random(5);
        for (int i = 0; i < 300; i++)
        {
            // Frames of every size the binary protocol writes, into both writers.
            var result = new SelectResult((uint)i, (uint)random.Next(), (ulong)i << 20, 0.5f, 7, FallbackReason.None, (ulong)random.NextInt64());
            FrameWriter.WriteSelectResult(output, (ulong)i, in result);
            FrameWriter.WriteSelectResult(expected, (ulong)i, in result);
            if (i % 50 == 7)
            {
                var page = Enumerable.Repeat(result, i % 41).ToArray();
                FrameWriter.WriteSelectPageResult(output, (ulong)i, page);
                FrameWriter.WriteSelectPageResult(expected, (ulong)i, page);
                FrameWriter.WriteError(output, (ulong)i, ErrorCode.TooManyTitles);
                FrameWriter.WriteError(expected, (ulong)i, ErrorCode.TooManyTitles);
            }
        }

        Assert.False(pipe.Reader.TryRead(out _)); // nothing handed over before the flush
        Assert.Equal(expected.WrittenCount, output.UnflushedBytes);
        await output.FlushAsync();
        Assert.Equal(0, output.Buffered);
        var read = await pipe.Reader.ReadAtLeastAsync(expected.WrittenCount);
        Assert.Equal(expected.WrittenSpan.ToArray(), read.Buffer.ToArray());
    }

    [Fact]
    public async Task GetSpan_LargerThanWhatIsLeft_CommitsAndContinues()
    {
        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 128, pauseWriterThreshold: 0));
        var output = new BatchedPipeWriter(pipe.Writer);
        var bytes = Enumerable.Range(0, 5000).Select(i => (byte)(i * 31)).ToArray();
        var at = 0;
        foreach (var size in new[] { 1, 100, 3, 700, 50, 2000, 146, 2000 })
        {
            var span = output.GetSpan(size);
            Assert.True(span.Length >= size);
            bytes.AsSpan(at, size).CopyTo(span);
            output.Advance(size);
            at += size;
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => output.Advance(output.GetSpan(1).Length + 1));
        output.Complete();
        var read = await pipe.Reader.ReadAtLeastAsync(at);
        Assert.Equal(bytes[..at], read.Buffer.ToArray());
    }
}

using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeSelector.Server.Connections;

/// <summary>
/// The connection's output as its protocol session sees it: answers are written into one span of the transport's
/// pipe and handed to the pipe (<see cref="PipeWriter.Advance"/>, which takes the pipe's lock) once per batch, when
/// the skeleton flushes, or when the span is full; not once or twice per answer. Same bytes, same order: every write
/// of the connection goes through this writer, and <see cref="FlushAsync"/> and <see cref="Complete"/> hand the
/// buffered bytes over first. Not thread-safe: the connection's loop only (as the pipe writer it wraps).
/// </summary>
/// <remarks>
/// Measured with perf/callgrind-select.sh (docs/performance.md, "Where a SELECT's instructions go"): the pipe's
/// Advance with its lock was about 300 instructions of a SELECT; here a write costs a bounds check and an add.
/// </remarks>
internal sealed class BatchedPipeWriter(PipeWriter inner) : PipeWriter
{
    // The pipe's memory being filled: [_start, _start + _buffered) written, [.., _end) free. Array-backed (Kestrel's
    // pinned block pool) so a span is made without Memory<T>.Span; any other memory goes through _memory.
    private byte[]? _array;
    private Memory<byte> _memory;
    private int _start;
    private int _end;
    private int _buffered;

    /// <summary>Bytes written and not yet handed to the pipe.</summary>
    internal int Buffered => _buffered;

    /// <inheritdoc />
    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    /// <inheritdoc />
    public override long UnflushedBytes => inner.UnflushedBytes + _buffered;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        int offset = _start + _buffered;
        if (_end - offset < Math.Max(sizeHint, 1))
        {
            return Renew(sizeHint).Span;
        }

        return _array is { } array ? new Span<byte>(array, offset, _end - offset) : _memory.Span[_buffered..];
    }

    /// <inheritdoc />
    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_end - (_start + _buffered) < Math.Max(sizeHint, 1))
        {
            return Renew(sizeHint);
        }

        return _memory[_buffered..];
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override void Advance(int bytes)
    {
        if ((uint)bytes > (uint)(_end - _start - _buffered))
        {
            ThrowAdvancedTooFar();
        }

        _buffered += bytes;
    }

    /// <summary>Hands the buffered bytes to the pipe (they leave with its next flush).</summary>
    public void Commit()
    {
        if (_buffered > 0)
        {
            inner.Advance(_buffered);
        }

        _buffered = 0;
        _array = null;
        _memory = default;
        _start = _end = 0;
    }

    /// <inheritdoc />
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        Commit();
        return inner.FlushAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    /// <inheritdoc />
    public override void Complete(Exception? exception = null)
    {
        Commit();
        inner.Complete(exception);
    }

    /// <inheritdoc />
    public override ValueTask CompleteAsync(Exception? exception = null)
    {
        Commit();
        return inner.CompleteAsync(exception);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Memory<byte> Renew(int sizeHint)
    {
        Commit();
        _memory = inner.GetMemory(sizeHint);
        if (MemoryMarshal.TryGetArray<byte>(_memory, out var segment))
        {
            _array = segment.Array;
            _start = segment.Offset;
            _end = segment.Offset + segment.Count;
        }
        else
        {
            _end = _memory.Length;
        }

        return _memory;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowAdvancedTooFar() =>
        throw new ArgumentOutOfRangeException("bytes", "advanced past the span that was handed out");
}

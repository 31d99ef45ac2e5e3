using FASTER.core;

namespace EdgeSelector.Storage.Models;

/// <summary>
/// FASTER callbacks for reads: the output is the caller's visitor itself (passed by ref), so FASTER hands the value
/// to <see cref="IModelVisitor.Visit"/> in place, with no copy and no per-call state.
/// </summary>
/// <remarks>One session type exists per visitor type: one pool per <see cref="ModelReader"/> declared at open.</remarks>
internal sealed class ModelReadFunctions<TVisitor> : SpanByteFunctions<long, TVisitor, Empty>
    where TVisitor : struct, IModelVisitor
{
    /// <summary>
    /// Most of a record asked for by <see cref="ModelReadSession{TVisitor}.Prefetch"/> (an input of one byte): the CPU is
    /// asked to start loading it, the visitor is not called. 16 KB covers a K=32, d=64 model at any precision.
    /// </summary>
    internal const int PrefetchBytes = 16 << 10;

    public override bool SingleReader(ref long key, ref SpanByte input, ref SpanByte value, ref TVisitor dst, ref ReadInfo readInfo)
    {
        if (input.Length != 0)
        {
            Core.Scoring.Scorer.Prefetch(value.AsReadOnlySpan(), PrefetchBytes);
            return true;
        }

        dst.Visit((uint)key, value.AsReadOnlySpan());
        return true;
    }

    public override bool ConcurrentReader(ref long key, ref SpanByte input, ref SpanByte value, ref TVisitor dst, ref ReadInfo readInfo)
    {
        if (input.Length != 0)
        {
            Core.Scoring.Scorer.Prefetch(value.AsReadOnlySpan(), PrefetchBytes);
            return true;
        }

        dst.Visit((uint)key, value.AsReadOnlySpan());
        return true;
    }
}

/// <summary>FASTER callbacks for the push path: SpanByteFunctions already copies values and handles in-place resize.</summary>
internal sealed class ModelWriteFunctions : SpanByteFunctions<long, Empty, Empty>
{
}

/// <summary>Copies a value into a reusable byte buffer (push and recovery paths only, never the request path).</summary>
internal struct CopyVisitor : IModelVisitor
{
    public CopyVisitor(PinnedBuffer target) => Target = target;

    public PinnedBuffer Target { get; }

    public int Length { get; private set; }

    public void Visit(uint titleId, ReadOnlySpan<byte> model)
    {
        model.CopyTo(Target.Ensure(model.Length));
        Length = model.Length;
    }
}

/// <summary>
/// A growable buffer on the pinned object heap. FASTER's <see cref="SpanByte.FromFixedSpan(ReadOnlySpan{byte})"/>
/// keeps a raw pointer, so values handed to Upsert must not move; pinned arrays give that without `unsafe`.
/// </summary>
internal sealed class PinnedBuffer
{
    private byte[] _array = GC.AllocateUninitializedArray<byte>(4096, pinned: true);

    /// <summary>The first <paramref name="length"/> bytes of the buffer, growing it if needed.</summary>
    public Span<byte> Ensure(int length)
    {
        if (_array.Length < length)
        {
            _array = GC.AllocateUninitializedArray<byte>((int)Math.Min(Array.MaxLength, Math.Max(length, 2L * _array.Length)), pinned: true);
        }

        return _array.AsSpan(0, length);
    }

    /// <summary>A SpanByte over the first <paramref name="length"/> bytes (valid because the array is pinned).</summary>
    public SpanByte AsSpanByte(int length) => SpanByte.FromFixedSpan(_array.AsSpan(0, length));
}

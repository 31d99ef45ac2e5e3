namespace EdgeSelector.Protocol;

/// <summary>Limits the parser enforces; validated when set, so the hot path trusts them (docs/protocol.md#limits).</summary>
public sealed class ProtocolOptions
{
    /// <summary>Smallest allowed <see cref="MaxFrameSize"/>: room for a SELECT with every optional field.</summary>
    public const int MinMaxFrameSize = 256;

    /// <summary>Largest allowed <see cref="MaxFrameSize"/>; a frame is buffered whole, so this caps memory per connection.</summary>
    public const int MaxMaxFrameSize = 16 * 1024 * 1024;

    /// <summary>The defaults: 64 KiB frames, 256 titles per page.</summary>
    public static ProtocolOptions Default { get; } = new();

    /// <summary>Largest frame accepted, header included; a bigger length in a header is a fatal <see cref="ErrorCode.FrameTooLarge"/>.</summary>
    public int MaxFrameSize
    {
        get;
        init => field = value is >= MinMaxFrameSize and <= MaxMaxFrameSize
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MaxFrameSize), value, $"must be in [{MinMaxFrameSize}, {MaxMaxFrameSize}]");
    } = 64 * 1024;

    /// <summary>Most titles a SELECT_PAGE may carry; more is <see cref="ErrorCode.TooManyTitles"/> and the connection stays.</summary>
    public int MaxTitlesPerPage
    {
        get;
        init => field = value is >= 1 and <= ushort.MaxValue
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MaxTitlesPerPage), value, "must be in [1, 65535]");
    } = 256;
}

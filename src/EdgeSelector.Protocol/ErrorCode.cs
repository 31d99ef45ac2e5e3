namespace EdgeSelector.Protocol;

/// <summary>Codes carried by an ERROR frame (docs/protocol.md#error-codes).</summary>
/// <remarks>
/// 1-15: framing errors. The byte stream cannot be resynchronised, so the peer sends ERROR (request id 0 unless the
/// header was readable) and closes. 16-31: a well-formed frame with a bad request; the connection stays open.
/// 32-47: server limits; <see cref="ErrorCodes.IsFatal"/> says which of them close the connection.
/// </remarks>
public enum ErrorCode : ushort
{
    /// <summary>No error.</summary>
    None = 0,
    /// <summary>The header's length exceeds the maximum frame size. Fatal.</summary>
    FrameTooLarge = 1,
    /// <summary>The header's version byte is not 1 (or the stream is not this protocol at all). Fatal.</summary>
    UnsupportedVersion = 2,
    /// <summary>The header's length is smaller than the header itself. Fatal.</summary>
    MalformedHeader = 3,
    /// <summary>The opcode is not a request this peer understands. The connection stays.</summary>
    UnknownOpcode = 16,
    /// <summary>The payload is not the MessagePack layout the opcode requires. The connection stays.</summary>
    MalformedPayload = 17,
    /// <summary>A SELECT_PAGE carries more titles than the server's limit. The connection stays.</summary>
    TooManyTitles = 18,
    /// <summary>A field is out of range (hour &gt; 23, more than 16 genres, an affinity outside [0, 1] or NaN, a country or language that is not two letters). The connection stays.</summary>
    InvalidField = 19,
    /// <summary>The connection already has the maximum number of requests in flight; this one was dropped. The connection stays.</summary>
    TooManyInFlight = 32,
    /// <summary>The server is at its connection limit; sent with request id 0, then the connection is closed. Fatal.</summary>
    TooManyConnections = 33,
    /// <summary>No frame arrived within the idle timeout; sent with request id 0, then the connection is closed. Fatal.</summary>
    IdleTimeout = 34,
    /// <summary>The server is shutting down; sent with request id 0, then the connection is closed. Fatal.</summary>
    ShuttingDown = 35,
    /// <summary>The server could not take the request now (e.g. its reward log is not accepting records); retry. The connection stays.</summary>
    Unavailable = 36,
}

/// <summary>Facts about <see cref="ErrorCode"/> values that both peers must agree on.</summary>
public static class ErrorCodes
{
    /// <summary>True when the sender closes the connection right after the ERROR frame carrying this code.</summary>
    public static bool IsFatal(ErrorCode code) => code switch
    {
        ErrorCode.FrameTooLarge or ErrorCode.UnsupportedVersion or ErrorCode.MalformedHeader
            or ErrorCode.TooManyConnections or ErrorCode.IdleTimeout or ErrorCode.ShuttingDown => true,
        _ => false,
    };

    /// <summary>The fixed UTF-8 message sent with a code, so writing an ERROR frame allocates nothing.</summary>
    public static ReadOnlySpan<byte> Message(ErrorCode code) => code switch
    {
        ErrorCode.None => "ok"u8,
        ErrorCode.FrameTooLarge => "frame exceeds the maximum frame size"u8,
        ErrorCode.UnsupportedVersion => "unsupported protocol version"u8,
        ErrorCode.MalformedHeader => "frame length is smaller than the header"u8,
        ErrorCode.UnknownOpcode => "unknown opcode"u8,
        ErrorCode.MalformedPayload => "payload does not match the opcode's layout"u8,
        ErrorCode.TooManyTitles => "too many titles in the page"u8,
        ErrorCode.InvalidField => "a field is out of range"u8,
        ErrorCode.TooManyInFlight => "too many requests in flight on this connection"u8,
        ErrorCode.TooManyConnections => "too many connections"u8,
        ErrorCode.Unavailable => "temporarily unavailable, retry"u8,
        ErrorCode.IdleTimeout => "idle timeout"u8,
        ErrorCode.ShuttingDown => "server shutting down"u8,
        _ => "error"u8,
    };
}

using EdgeSelector.Protocol;

namespace EdgeSelector.Client;

/// <summary>The connection carrying a request failed or closed before its response arrived; the request may or may not have been executed.</summary>
public sealed class EdgeSelectorConnectionException : IOException
{
    /// <summary>Creates the exception.</summary>
    public EdgeSelectorConnectionException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>The server answered with an ERROR frame, or sent something this client cannot read.</summary>
public sealed class EdgeSelectorProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EdgeSelectorProtocolException(ErrorCode code, string message)
        : base($"{code}: {message}")
    {
        Code = code;
    }

    /// <summary>The protocol error code (docs/protocol.md#error-codes).</summary>
    public ErrorCode Code { get; }

    /// <summary>True when the server closes the connection after this error.</summary>
    public bool IsFatal => ErrorCodes.IsFatal(Code);
}

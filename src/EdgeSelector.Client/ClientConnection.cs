using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using EdgeSelector.Protocol;

namespace EdgeSelector.Client;

/// <summary>
/// One socket with many requests in flight: writers take turns under a lock, one read loop matches responses to
/// requests by request id (docs/protocol.md#request-ids), so the server may answer in any order.
/// </summary>
internal sealed class ClientConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<ulong, PendingRequest> _pending = new();
    private readonly ProtocolOptions _protocol;
    private readonly string _remote;
    private readonly Task _readLoop;
    private Exception? _failure;
    private EdgeSelectorProtocolException? _connectionError;
    private long _nextRequestId;

    private ClientConnection(Socket socket, ProtocolOptions protocol)
    {
        _socket = socket;
        _protocol = protocol;
        _remote = socket.RemoteEndPoint?.ToString() ?? "server";
        var stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>False once the connection has failed or been disposed; the pool then replaces it.</summary>
    public bool IsAlive => Volatile.Read(ref _failure) is null;

    public static async Task<ClientConnection> ConnectAsync(EndPoint endPoint, ProtocolOptions protocol, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(timeout);
            await socket.ConnectAsync(endPoint, connectTimeout.Token).ConfigureAwait(false);
            return new ClientConnection(socket, protocol);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new EdgeSelectorConnectionException($"could not connect to {endPoint} within {timeout}", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends a request and waits for its response, its timeout, its cancellation or the connection's end.</summary>
    public async Task<Response> SendAsync(PendingRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;

        // 0 is reserved for connection-level ERROR frames, so ids start at 1.
        ulong id = (ulong)Interlocked.Increment(ref _nextRequestId);
        _pending[id] = request;
        try
        {
            // Checked after registering: a failure that raced with registration has either seen this request or is seen here.
            ThrowIfFailed();
            if (!await _writeLock.WaitAsync(Remaining(deadline), cancellationToken).ConfigureAwait(false))
            {
                throw Timeout(request, timeout);
            }

            try
            {
                ThrowIfFailed();
                request.Write(_writer, id);

                // Not cancellable: abandoning a flush half way would leave a partial frame in the stream.
                await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
                Fail(new EdgeSelectorConnectionException(
                    $"connection to {_remote} failed while sending", Volatile.Read(ref _connectionError) ?? ex));
                ThrowIfFailed();
                throw;
            }
            finally
            {
                _writeLock.Release();
            }

            try
            {
                return await request.Task.WaitAsync(Remaining(deadline), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                if (!request.TryAbandon())
                {
                    // The read loop is delivering the response right now: take it rather than waste it.
                    return await request.Task.ConfigureAwait(false);
                }

                if (ex is TimeoutException)
                {
                    throw Timeout(request, timeout);
                }

                throw;
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Fail(new EdgeSelectorConnectionException($"connection to {_remote} was closed by the client"));
        await _readLoop.ConfigureAwait(false);
    }

    private async Task ReadLoopAsync()
    {
        Exception failure;
        try
        {
            while (true)
            {
                ReadResult result = await _reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                ErrorCode error;
                while (FrameReader.TryReadFrame(ref buffer, _protocol, out Frame frame, out error))
                {
                    Dispatch(in frame);
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (error != ErrorCode.None)
                {
                    failure = new EdgeSelectorConnectionException(
                        $"{_remote} sent a frame this client cannot read; closing",
                        new EdgeSelectorProtocolException(error, System.Text.Encoding.UTF8.GetString(ErrorCodes.Message(error))));
                    break;
                }

                if (result.IsCompleted)
                {
                    failure = new EdgeSelectorConnectionException(
                        $"connection closed by {_remote}", Volatile.Read(ref _connectionError));
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            failure = new EdgeSelectorConnectionException($"connection to {_remote} failed", Volatile.Read(ref _connectionError) ?? ex);
        }

        Fail(failure);
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _writer.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void Dispatch(in Frame frame)
    {
        if (frame.RequestId == 0 && frame.Opcode == Opcode.Error)
        {
            // About the connection, not a request (limit reached, idle, shutting down): the server closes next, and
            // the close reports this as its cause.
            Volatile.Write(ref _connectionError, PendingRequest.ToException(frame.Payload));
            return;
        }

        // A miss is a response to a request that already timed out or was cancelled.
        if (_pending.TryRemove(frame.RequestId, out PendingRequest? request))
        {
            request.Deliver(in frame);
        }
    }

    private void Fail(Exception failure)
    {
        if (Interlocked.CompareExchange(ref _failure, failure, null) is not null)
        {
            return;
        }

        // Closing the socket ends a pending read and makes further writes fail fast.
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
        foreach (KeyValuePair<ulong, PendingRequest> entry in _pending)
        {
            if (_pending.TryRemove(entry.Key, out PendingRequest? request))
            {
                request.TryFail(failure);
            }
        }
    }

    private void ThrowIfFailed()
    {
        Exception? failure = Volatile.Read(ref _failure);
        if (failure is not null)
        {
            throw failure is EdgeSelectorConnectionException
                ? new EdgeSelectorConnectionException(failure.Message, failure.InnerException)
                : new EdgeSelectorConnectionException($"connection to {_remote} failed", failure);
        }
    }

    private static TimeSpan Remaining(long deadline) => TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));

    private static TimeoutException Timeout(PendingRequest request, TimeSpan timeout) =>
        new($"{request.Opcode} got no response within {timeout.TotalMilliseconds} ms");
}

using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using EdgeSelector.Protocol;

namespace EdgeSelector.Client.Tests;

/// <summary>How the fake server treats requests.</summary>
internal enum FakeBehavior
{
    /// <summary>Answer every request (after <see cref="FakeServer.HoldUntil"/> have arrived, in reverse order).</summary>
    Answer,
    /// <summary>Read requests, never answer.</summary>
    Silent,
    /// <summary>Close the connection once <see cref="FakeServer.HoldUntil"/> requests have arrived, answering none.</summary>
    CloseAfterHold,
    /// <summary>Answer the first request batch with a frame of protocol version 9, which no client can read past.</summary>
    SendGarbage,
    /// <summary>Send a connection-level ERROR TooManyConnections right after accept, then close.</summary>
    RejectConnection,
}

/// <summary>
/// A loopback-only server built on the protocol library's own reader, dispatcher and writer. Its answers are a pure
/// function of the request, so tests can check that each response reached the request that caused it.
/// </summary>
internal sealed class FakeServer : IAsyncDisposable
{
    /// <summary>A SELECT for this member gets ERROR InvalidField, to exercise per-request errors.</summary>
    public const ulong RejectedMember = 666;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly List<Task> _sessions = [];
    private int _connections;

    public FakeServer(FakeBehavior behavior = FakeBehavior.Answer, int holdUntil = 1)
    {
        Behavior = behavior;
        HoldUntil = holdUntil;
        _listener.Start();
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync();
    }

    public FakeBehavior Behavior { get; }

    /// <summary>Responses are held until this many requests arrived on the connection, then sent newest first.</summary>
    public int HoldUntil { get; }

    public IPEndPoint EndPoint { get; }

    public int Connections => Volatile.Read(ref _connections);

    public static SelectResult Answer(ulong requestId, TitleCandidate title) =>
        new(title.TitleId, title.TitleId * 10, requestId + 1_000_000, title.Score / 2, 7, title.InteractedBefore ? FallbackReason.None : FallbackReason.NoModel, Tag(requestId + 1_000_000));

    /// <summary>The fake server's event tag (a real server's is a keyed PRF; any function shows the tag travels).</summary>
    public static ulong Tag(ulong eventId) => (eventId * 0x9E37_79B9_7F4A_7C15) ^ 0x5EED;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await Task.WhenAll([_acceptLoop, .. _sessions]).WaitAsync(TimeSpan.FromSeconds(10));
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                lock (_sessions)
                {
                    _sessions.Add(Task.Run(() => ServeAsync(socket)));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        PipeReader reader = PipeReader.Create(stream);
        PipeWriter writer = PipeWriter.Create(stream);
        var scratch = new TitleCandidate[ProtocolOptions.Default.MaxTitlesPerPage];
        var held = new List<byte[]>();
        int received = 0;
        try
        {
            if (Behavior == FakeBehavior.RejectConnection)
            {
                FrameWriter.WriteError(writer, 0, ErrorCode.TooManyConnections);
                await writer.FlushAsync();

                // Half-close and drain rather than close: closing with unread input would send a reset, which may
                // discard the ERROR frame before the client reads it.
                socket.Shutdown(SocketShutdown.Send);
                while (true)
                {
                    ReadResult drained = await reader.ReadAsync(_stop.Token);
                    reader.AdvanceTo(drained.Buffer.End);
                    if (drained.IsCompleted)
                    {
                        break;
                    }
                }

                return;
            }

            while (true)
            {
                ReadResult result = await reader.ReadAsync(_stop.Token);
                ReadOnlySequence<byte> buffer = result.Buffer;
                ErrorCode error;
                while (FrameReader.TryReadFrame(ref buffer, ProtocolOptions.Default, out Frame frame, out error))
                {
                    received++;
                    if (Behavior == FakeBehavior.Answer)
                    {
                        var responder = new Responder { Output = new ArrayBufferWriter<byte>() };
                        RequestDispatcher.Dispatch(in frame, ProtocolOptions.Default, scratch, ref responder);
                        held.Add(responder.Output.WrittenSpan.ToArray());
                    }
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (error != ErrorCode.None)
                {
                    FrameWriter.WriteError(writer, 0, error);
                    await writer.FlushAsync();
                    return;
                }

                if (Behavior == FakeBehavior.SendGarbage && received > 0)
                {
                    byte[] bad = new byte[FrameHeader.Size];
                    new FrameHeader(FrameHeader.Size, 9, Opcode.Pong, 0, 1).Write(bad);
                    writer.Write(bad);
                    await writer.FlushAsync();
                    received = int.MinValue;
                }

                if (Behavior == FakeBehavior.CloseAfterHold && received >= HoldUntil)
                {
                    return;
                }

                if (held.Count >= HoldUntil)
                {
                    for (int i = held.Count - 1; i >= 0; i--)
                    {
                        writer.Write(held[i]);
                    }

                    held.Clear();
                    await writer.FlushAsync(_stop.Token);
                }

                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
        {
            // Client went away or the server is stopping.
        }
        finally
        {
            await reader.CompleteAsync();
            await writer.CompleteAsync();
        }
    }

    private struct Responder : IRequestHandler
    {
        public ArrayBufferWriter<byte> Output;

        public readonly void OnSelect(ulong requestId, in RequestContext context, in TitleCandidate title)
        {
            if (context.MemberId == RejectedMember)
            {
                FrameWriter.WriteError(Output, requestId, ErrorCode.InvalidField);
                return;
            }

            FrameWriter.WriteSelectResult(Output, requestId, Answer(requestId, title));
        }

        public readonly void OnSelectPage(ulong requestId, in RequestContext context, ReadOnlySpan<TitleCandidate> titles)
        {
            var results = new SelectResult[titles.Length];
            for (int i = 0; i < titles.Length; i++)
            {
                results[i] = Answer(requestId, titles[i]);
            }

            FrameWriter.WriteSelectPageResult(Output, requestId, results);
        }

        public readonly void OnReward(ulong requestId, in RewardRequest reward) =>
            FrameWriter.WriteRewardResult(Output, requestId, reward.EventTag != Tag(reward.EventId) ? RewardStatus.Unverified : (RewardStatus)(reward.EventId % 3));

        public readonly void OnPing(ulong requestId, ulong nonce) => FrameWriter.WritePong(Output, requestId, nonce);

        public readonly void OnRequestError(ulong requestId, ErrorCode error) => FrameWriter.WriteError(Output, requestId, error);
    }
}

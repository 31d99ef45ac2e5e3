using EdgeSelector.Protocol;

namespace EdgeSelector.Client;

/// <summary>
/// Thread-safe EdgeSelector client: a pool of connections used round robin, each pipelining many requests
/// (docs/protocol.md). Connections open on first use and are replaced after they fail.
/// </summary>
public sealed class EdgeSelectorClient : IAsyncDisposable
{
    private readonly EdgeSelectorClientOptions _options;
    private readonly ClientConnection?[] _connections;
    private readonly SemaphoreSlim[] _connectLocks;
    private readonly CancellationTokenSource _disposed = new();
    private int _next = -1;

    /// <summary>Creates a client; no connection is opened until the first request.</summary>
    public EdgeSelectorClient(EdgeSelectorClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _connections = new ClientConnection?[options.ConnectionCount];
        _connectLocks = new SemaphoreSlim[options.ConnectionCount];
        for (int i = 0; i < _connectLocks.Length; i++)
        {
            _connectLocks[i] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>Asks which image to show for one title.</summary>
    /// <exception cref="TimeoutException">No response within <see cref="EdgeSelectorClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="EdgeSelectorProtocolException">The server rejected the request with an ERROR frame.</exception>
    /// <exception cref="EdgeSelectorConnectionException">The connection failed before the response arrived.</exception>
    public async Task<SelectResult> SelectAsync(RequestContext context, TitleCandidate title, CancellationToken cancellationToken = default)
    {
        Response response = await SendAsync(PendingRequest.Select(in context, in title), cancellationToken).ConfigureAwait(false);
        return response.Select;
    }

    /// <summary>Asks which image to show for each title of a page; fills <paramref name="results"/> in title order and returns the count.</summary>
    /// <remarks><paramref name="titles"/> and <paramref name="results"/> must stay untouched until the task completes; after a failure <paramref name="results"/> is not written.</remarks>
    public async Task<int> SelectPageAsync(
        RequestContext context,
        ReadOnlyMemory<TitleCandidate> titles,
        Memory<SelectResult> results,
        CancellationToken cancellationToken = default)
    {
        if (titles.Length > _options.Protocol.MaxTitlesPerPage)
        {
            throw new ArgumentOutOfRangeException(nameof(titles), titles.Length, $"at most {_options.Protocol.MaxTitlesPerPage} titles per page");
        }

        if (results.Length < titles.Length)
        {
            throw new ArgumentException("must have room for one result per title", nameof(results));
        }

        if (FrameWriter.SelectPageFrameSize(in context, titles.Length) > _options.Protocol.MaxFrameSize)
        {
            throw new ArgumentOutOfRangeException(nameof(titles), titles.Length, "the page does not fit in one frame");
        }

        Response response = await SendAsync(PendingRequest.SelectPage(in context, titles, results), cancellationToken).ConfigureAwait(false);
        return response.Count;
    }

    /// <summary>
    /// Reports what the member did after an impression. <paramref name="reward"/> must carry the impression's event id
    /// and event tag (<see cref="RewardRequest.For"/> copies both from its <see cref="SelectResult"/>); without the
    /// right tag the server answers <see cref="RewardStatus.Unverified"/> and records nothing.
    /// </summary>
    public async Task<RewardStatus> RewardAsync(RewardRequest reward, CancellationToken cancellationToken = default)
    {
        Response response = await SendAsync(PendingRequest.Reward(in reward), cancellationToken).ConfigureAwait(false);
        return response.Status;
    }

    /// <summary>Reports what the member did after the impression <paramref name="impression"/> (its event id and tag).</summary>
    public Task<RewardStatus> RewardAsync(
        SelectResult impression, bool playStarted, float minutesWatched, float fractionCompleted, CancellationToken cancellationToken = default) =>
        RewardAsync(RewardRequest.For(impression, playStarted, minutesWatched, fractionCompleted), cancellationToken);

    /// <summary>Round-trips a PING; returns the nonce the server echoed.</summary>
    public async Task<ulong> PingAsync(ulong nonce = 0, CancellationToken cancellationToken = default)
    {
        Response response = await SendAsync(PendingRequest.Ping(nonce), cancellationToken).ConfigureAwait(false);
        return response.Nonce;
    }

    /// <summary>Closes every connection; requests still in flight fail with <see cref="EdgeSelectorConnectionException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        for (int i = 0; i < _connections.Length; i++)
        {
            // Waiting for the slot's lock lets a connect in progress finish (or see the cancellation) first.
            await _connectLocks[i].WaitAsync().ConfigureAwait(false);
            ClientConnection? connection = _connections[i];
            _connections[i] = null;
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<Response> SendAsync(PendingRequest request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        ClientConnection connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.SendAsync(request, _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<ClientConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        int slot = (int)((uint)Interlocked.Increment(ref _next) % (uint)_connections.Length);
        ClientConnection? connection = Volatile.Read(ref _connections[slot]);
        if (connection is { IsAlive: true })
        {
            return connection;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        try
        {
            await _connectLocks[slot].WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(EdgeSelectorClient));
        }

        try
        {
            connection = _connections[slot];
            if (connection is { IsAlive: true })
            {
                return connection;
            }

            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            connection = await ClientConnection.ConnectAsync(_options.EndPoint, _options.Protocol, _options.ConnectTimeout, linked.Token)
                .ConfigureAwait(false);
            Volatile.Write(ref _connections[slot], connection);
            return connection;
        }
        finally
        {
            _connectLocks[slot].Release();
        }
    }
}

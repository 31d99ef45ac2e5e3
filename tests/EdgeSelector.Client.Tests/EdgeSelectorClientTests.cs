using EdgeSelector.Protocol;

namespace EdgeSelector.Client.Tests;

public class EdgeSelectorClientTests
{
    private static EdgeSelectorClient Client(FakeServer server, int connections = 1, int timeoutMs = 5_000) =>
        new(new EdgeSelectorClientOptions
        {
            EndPoint = server.EndPoint,
            ConnectionCount = connections,
            RequestTimeout = TimeSpan.FromMilliseconds(timeoutMs),
        });

    private static RequestContext Context(ulong member = 42)
    {
        var context = new RequestContext
        {
            MemberId = member,
            Country = CountryCode.Pack("BR"),
            Language = CountryCode.Pack("pt"),
            Device = DeviceClass.Phone,
            HourOfDay = 8,
            DayOfWeek = 1,
        };
        context.SetGenres([0.3f, 0.7f]);
        return context;
    }

    [Fact]
    public async Task SelectAsync_AnsweringServer_ReturnsTheServersChoiceForThatTitle()
    {
        await using var server = new FakeServer();
        await using EdgeSelectorClient client = Client(server);

        SelectResult result = await client.SelectAsync(Context(), new TitleCandidate(123, 0.8f, true));

        Assert.Equal(123u, result.TitleId);
        Assert.Equal(1230u, result.ImageId);
        Assert.Equal(0.4f, result.Propensity);
        Assert.Equal(FallbackReason.None, result.Reason);
    }

    [Fact]
    public async Task SelectPageAsync_AnsweringServer_FillsResultsInTitleOrder()
    {
        await using var server = new FakeServer();
        await using EdgeSelectorClient client = Client(server);
        TitleCandidate[] titles = Enumerable.Range(0, 50).Select(i => new TitleCandidate((uint)(500 + i), i, i % 2 == 0)).ToArray();
        var results = new SelectResult[64];

        int count = await client.SelectPageAsync(Context(), titles, results);

        Assert.Equal(50, count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(titles[i].TitleId, results[i].TitleId);
            Assert.Equal(titles[i].TitleId * 10, results[i].ImageId);
            Assert.Equal(i % 2 == 0 ? FallbackReason.None : FallbackReason.NoModel, results[i].Reason);
        }
    }

    [Fact]
    public async Task SelectPageAsync_MoreTitlesThanTheLimit_ThrowsBeforeSending()
    {
        await using var server = new FakeServer();
        await using EdgeSelectorClient client = Client(server);
        var titles = new TitleCandidate[ProtocolOptions.Default.MaxTitlesPerPage + 1];

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.SelectPageAsync(Context(), titles, new SelectResult[titles.Length]));
        Assert.Equal(0, server.Connections);
    }

    [Theory]
    [InlineData(300UL, RewardStatus.Accepted)]
    [InlineData(301UL, RewardStatus.Duplicate)]
    [InlineData(302UL, RewardStatus.UnknownEvent)]
    public async Task RewardAsync_AnsweringServer_ReturnsStatus(ulong eventId, RewardStatus expected)
    {
        await using var server = new FakeServer();
        await using EdgeSelectorClient client = Client(server);

        RewardStatus status = await client.RewardAsync(new RewardRequest(eventId, true, 12f, 0.5f, EventTag: FakeServer.Tag(eventId)));

        Assert.Equal(expected, status);
    }

    [Fact]
    public async Task RewardAsync_ForAResult_SendsItsEventTag_WithoutItUnverified()
    {
        await using var server = new FakeServer();
        await using EdgeSelectorClient client = Client(server);
        SelectResult shown = await client.SelectAsync(Context(), new TitleCandidate(123, 0.8f, true));

        Assert.Equal(FakeServer.Tag(shown.EventId), shown.EventTag);
        Assert.NotEqual(RewardStatus.Unverified, await client.RewardAsync(RewardRequest.For(shown, true, 12f, 0.5f)));
        Assert.NotEqual(RewardStatus.Unverified, await client.RewardAsync(shown, true, 12f, 0.5f));
        Assert.Equal(RewardStatus.Unverified, await client.RewardAsync(new RewardRequest(shown.EventId, true, 12f, 0.5f)));
        Assert.Equal(RewardStatus.Unverified, await client.RewardAsync(RewardRequest.For(shown with { EventId = shown.EventId + 1 }, true, 12f, 0.5f)));
    }

    [Fact]
    public async Task PingAsync_AnsweringServer_EchoesNonce()
    {
        await using var server = new FakeServer();
        await using EdgeSelectorClient client = Client(server);

        Assert.Equal(0xDEAD_BEEFUL, await client.PingAsync(0xDEAD_BEEF));
    }

    [Fact]
    public async Task SelectAsync_ThousandInFlightAnsweredInReverse_EachMatchedToItsRequest()
    {
        const int count = 1_000;

        // The server answers nothing until all 1,000 requests are in, then answers newest first: every request was
        // in flight at once on one connection and every match had to go by request id.
        await using var server = new FakeServer(FakeBehavior.Answer, holdUntil: count);
        await using EdgeSelectorClient client = Client(server, timeoutMs: 30_000);
        RequestContext context = Context();

        Task<SelectResult>[] calls = Enumerable.Range(0, count)
            .Select(i => client.SelectAsync(context, new TitleCandidate((uint)i, i, true)))
            .ToArray();
        SelectResult[] results = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60));

        for (int i = 0; i < count; i++)
        {
            Assert.Equal((uint)i, results[i].TitleId);
            Assert.Equal((uint)i * 10, results[i].ImageId);
        }

        Assert.Equal(count, results.Select(r => r.EventId).Distinct().Count());
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task PingAsync_PoolOfFour_SpreadsOverFourConnections()
    {
        await using var server = new FakeServer();
        await using EdgeSelectorClient client = Client(server, connections: 4);

        ulong[] nonces = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => client.PingAsync((ulong)i)));

        Assert.Equal(Enumerable.Range(0, 40).Select(i => (ulong)i), nonces);
        Assert.Equal(4, server.Connections);
    }

    [Fact]
    public async Task SelectAsync_ServerRejectsRequest_ProtocolExceptionAndConnectionStaysUsable()
    {
        await using var server = new FakeServer();
        await using EdgeSelectorClient client = Client(server);

        var error = await Assert.ThrowsAsync<EdgeSelectorProtocolException>(
            () => client.SelectAsync(Context(FakeServer.RejectedMember), new TitleCandidate(1, 1, false)));

        Assert.Equal(ErrorCode.InvalidField, error.Code);
        Assert.False(error.IsFatal);
        Assert.Equal(9UL, await client.PingAsync(9));
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task SelectAsync_SilentServer_TimesOut()
    {
        await using var server = new FakeServer(FakeBehavior.Silent);
        await using EdgeSelectorClient client = Client(server, timeoutMs: 200);

        await Assert.ThrowsAsync<TimeoutException>(() => client.SelectAsync(Context(), new TitleCandidate(1, 1, false)));
    }

    [Fact]
    public async Task PingAsync_CancelledWhileWaiting_ThrowsOperationCanceled()
    {
        await using var server = new FakeServer(FakeBehavior.Silent);
        await using EdgeSelectorClient client = Client(server);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PingAsync(1, cancel.Token));
    }

    [Fact]
    public async Task PingAsync_ServerDropsConnectionWithRequestsInFlight_AllFailWithConnectionException()
    {
        await using var server = new FakeServer(FakeBehavior.CloseAfterHold, holdUntil: 10);
        await using EdgeSelectorClient client = Client(server, timeoutMs: 30_000);

        Task<ulong>[] calls = Enumerable.Range(0, 10).Select(i => client.PingAsync((ulong)i)).ToArray();

        foreach (Task<ulong> call in calls)
        {
            await Assert.ThrowsAsync<EdgeSelectorConnectionException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task PingAsync_AfterConnectionDropped_PoolReconnects()
    {
        await using var server = new FakeServer(FakeBehavior.CloseAfterHold, holdUntil: 1);
        await using EdgeSelectorClient client = Client(server);

        await Assert.ThrowsAsync<EdgeSelectorConnectionException>(() => client.PingAsync(1));
        await Assert.ThrowsAsync<EdgeSelectorConnectionException>(() => client.PingAsync(2));

        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task DisposeAsync_WithRequestsInFlight_FailsThemWithConnectionExceptionAndRejectsNewCalls()
    {
        await using var server = new FakeServer(FakeBehavior.Silent);
        EdgeSelectorClient client = Client(server, timeoutMs: 30_000);
        Task<ulong>[] calls = Enumerable.Range(0, 5).Select(i => client.PingAsync((ulong)i)).ToArray();
        while (server.Connections == 0)
        {
            await Task.Delay(10);
        }

        await Task.Delay(100);
        await client.DisposeAsync();

        foreach (Task<ulong> call in calls)
        {
            await Assert.ThrowsAsync<EdgeSelectorConnectionException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.PingAsync(1));
    }

    [Fact]
    public async Task SelectAsync_NothingListening_ConnectionException()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var endPoint = (System.Net.IPEndPoint)listener.LocalEndpoint;
        listener.Stop();
        await using var client = new EdgeSelectorClient(new EdgeSelectorClientOptions { EndPoint = endPoint });

        await Assert.ThrowsAsync<EdgeSelectorConnectionException>(() => client.PingAsync());
    }

    [Fact]
    public async Task PingAsync_ServerSendsUnreadableFrame_ConnectionExceptionWithProtocolCause()
    {
        await using var server = new FakeServer(FakeBehavior.SendGarbage);
        await using EdgeSelectorClient client = Client(server);

        var error = await Assert.ThrowsAsync<EdgeSelectorConnectionException>(() => client.PingAsync(1));

        var cause = Assert.IsType<EdgeSelectorProtocolException>(error.InnerException);
        Assert.Equal(ErrorCode.UnsupportedVersion, cause.Code);
    }

    [Fact]
    public async Task PingAsync_ServerRejectsConnection_ConnectionExceptionCarryingTheServersError()
    {
        await using var server = new FakeServer(FakeBehavior.RejectConnection);
        await using EdgeSelectorClient client = Client(server);

        var error = await Assert.ThrowsAsync<EdgeSelectorConnectionException>(() => client.PingAsync(1));

        var cause = Assert.IsType<EdgeSelectorProtocolException>(error.InnerException);
        Assert.Equal(ErrorCode.TooManyConnections, cause.Code);
        Assert.True(cause.IsFatal);
    }
}

using System.Diagnostics;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Logging;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Serving;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// A node composed as the host composes it (<see cref="EdgeSelectorNode.Compose"/>) over real stores in a directory of
/// its own, with no listener: the services are called directly. Disposing closes the stores and removes the directory.
/// </summary>
internal sealed class TestNode : IDisposable
{
    /// <summary>The titles of the first bundle: title t has images t*100+1..3, default t*100+1, and t*100+2 wins.</summary>
    public static readonly uint[] Titles = [.. Enumerable.Range(1001, 12).Select(t => (uint)t)];

    private readonly TempDirectory _dir;
    private bool _closed;

    private TestNode(TempDirectory dir, EdgeSelectorNode node)
    {
        _dir = dir;
        Node = node;
    }

    public EdgeSelectorNode Node { get; }

    public string DataDir => _dir.Path;

    /// <summary>
    /// Composes a node with the test defaults and <paramref name="configure"/>'s changes and, unless
    /// <paramref name="push"/> is false, applies bundle 1 of <see cref="Titles"/>.
    /// </summary>
    public static TestNode Start(Action<EdgeSelectorOptions>? configure = null, bool push = true, TempDirectory? dir = null)
    {
        dir ??= new TempDirectory("es-server-");
        var options = Options(dir.Path);
        configure?.Invoke(options);
        var node = new TestNode(dir, EdgeSelectorNode.Compose(options));
        if (push)
        {
            var result = node.Push(1, Titles);
            Assert.True(result.Ok, result.Message);
        }

        return node;
    }

    public static EdgeSelectorOptions Options(string dataDir) => new()
    {
        DataDir = dataDir,
        AdminToken = LiveServer.Token,
        BundleKey = LiveServer.BundleKey,
        ModelMemoryMB = 32,
        ProfileMemoryMB = 32,
        ImpressionLogMemoryMB = 8,
        ModelIndexMB = 1,
        ProfileIndexMB = 1,
        DeadlineMs = 1000,
        MaxQueueDelayMs = 10_000,
        LogCommitIntervalMs = 2,
    };

    /// <summary>A partial bundle of <paramref name="titles"/> at <paramref name="version"/> (image t*100+2 wins), through the bundle service.</summary>
    public BundleResult Push(ulong version, params uint[] titles) =>
        Node.Bundles.Apply(TestBundles.Partial(version, LiveServer.BundleKey, [.. titles.Select(t => TestBundles.TitleWithWinner(t, version, (t * 100) + 2))]), force: false);

    /// <summary>A connection's session, as the front doors create one.</summary>
    public ServingSession Session() =>
        new(Node.Selection, Node.Rewards, Node.Options.MaxTitlesPerPage, TimeSpan.FromSeconds(30), static () => { });

    /// <summary>
    /// One batch of one page through a fresh session: the titles decided for <paramref name="context"/>, the request
    /// read <paramref name="age"/> before the batch started.
    /// </summary>
    public SelectResult[] SelectPage(in RequestContext context, uint[] titles, TimeSpan age = default) =>
        SelectPage(Session(), in context, titles, age);

    /// <summary>One batch of one page through <paramref name="session"/> (a session kept across batches).</summary>
    public static SelectResult[] SelectPage(ServingSession session, in RequestContext context, uint[] titles, TimeSpan age = default)
    {
        var now = Stopwatch.GetTimestamp();
        session.BeginBatch(new Batch(now, now - (long)(age.TotalSeconds * Stopwatch.Frequency)));
        var page = session.Titles.AsSpan(0, titles.Length);
        for (var i = 0; i < titles.Length; i++)
        {
            page[i] = new TitleCandidate(titles[i], 0.5f, false);
        }

        var results = session.Results.AsSpan(0, titles.Length);
        session.Select(in context, page, results);
        session.EndBatch();
        return results.ToArray();
    }

    /// <summary>Stores a profile for <paramref name="memberId"/> (a horror fan in France on a phone).</summary>
    public void StoreProfile(ulong memberId)
    {
        var profile = new MemberProfile { Country = CountryCode.Pack("FR"), Language = CountryCode.Pack("FR"), Device = DeviceClass.Phone };
        profile.Genres[3] = 1f;
        Node.Stores.Profiles.Upsert(memberId, in profile);
    }

    /// <summary>Commits the impression log and returns every entry in it, each as its page's event ids (first, count).</summary>
    public List<(ulong FirstEventId, int Titles)> LoggedPages()
    {
        var log = Node.Stores.Impressions!;
        log.Commit();
        var pages = new Pages();
        log.ReadRecent(long.MaxValue / 2, 10_000, pages);
        return pages.List;
    }

    /// <summary>
    /// Closes this node as a shutdown does (its stores checkpoint) and composes a new one over the same directory with
    /// <paramref name="configure"/>'s changes, pushing nothing: a restart. This node then only removes the directory on dispose.
    /// </summary>
    public TestNode Restart(Action<EdgeSelectorOptions>? configure = null)
    {
        _closed = true;
        Node.Dispose();
        return Start(configure, push: false, _dir);
    }

    public void Dispose()
    {
        if (!_closed)
        {
            _closed = true;
            Node.Dispose();
        }

        _dir.Dispose();
    }

    private readonly struct Pages() : IImpressionConsumer
    {
        public List<(ulong FirstEventId, int Titles)> List { get; } = [];

        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            Assert.True(ImpressionPageReader.TryRead(record, out var page), $"entry at {address} is not a page");
            List.Add((page.FirstEventId, page.Count));
        }
    }
}

using EdgeSelector.Server.Fleet;

namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// How a node's dashboard turns the heartbeats it watches into its fleet section (FleetView.Build; docs/dashboard.md).
/// No NATS: the watch itself is exercised by the cluster test, which reads GET /dashboard/stats on the nodes.
/// </summary>
public sealed class FleetViewTests
{
    private const long Now = 1_800_000_000_000;

    [Fact]
    public void Build_EveryLiveNode_SortedById_WithWhatItServes()
    {
        var pointer = new BundlePointer { Version = 7, Object = FleetNames.BundleObject(7), Sha256 = new string('a', 64), Size = 10, PointedAtMs = Now - 5_000 };
        var view = FleetView.Build(2, 1000, pointer, [Beat(3, "c", Now - 500, applied: 6, bundleError: "bundle 7 refused (signature): …"), Beat(1, "a", Now - 200, applied: 7), Beat(2, "b", Now - 900, applied: 7)], Now, error: null);

        Assert.Equal(2, view.Self);
        Assert.Equal(1000, view.HeartbeatIntervalMs);
        Assert.Equal(new Server.Dashboard.FleetPointer(7, pointer.Sha256, pointer.PointedAtMs), view.Pointer);
        Assert.Equal([1, 2, 3], view.Nodes.Select(n => n.NodeId));
        Assert.Equal([7ul, 7ul, 6ul], view.Nodes.Select(n => n.AppliedVersion));
        Assert.Equal("bundle 7 refused (signature): …", view.Nodes[2].BundleError);
        Assert.Equal(Now - 900, view.Nodes[1].HeartbeatAtMs);
        Assert.Null(view.Error);
    }

    [Fact]
    public void Build_RestartedNode_FormerInstanceDropped_StoppedNodeKept()
    {
        // Node 2 restarted 20 s ago: its former instance's heartbeat stays in the bucket until it expires. Node 3 stopped.
        var view = FleetView.Build(1, 1000, null,
        [
            Beat(1, "a", Now - 100),
            Beat(2, "old", Now - 25_000, startedAtMs: Now - 600_000),
            Beat(2, "new", Now - 300, startedAtMs: Now - 20_000),
            Beat(3, "c", Now - 30_000),
        ], Now, error: null);

        Assert.Equal(["a", "new", "c"], view.Nodes.Select(n => n.Instance));
        Assert.Null(view.Pointer);
    }

    [Fact]
    public void Build_TwoLiveInstancesOfOneNodeId_BothShown_ExpiredHeartbeatsDropped()
    {
        var view = FleetView.Build(1, 1000, null,
        [
            Beat(1, "x", Now - 100),
            Beat(1, "y", Now - 200),
            Beat(4, "gone", Now - (long)FleetNames.NodeStatusMaxAge.TotalMilliseconds - 1),
        ], Now, error: "KV bucket es_nodes does not exist");

        Assert.Equal(["x", "y"], view.Nodes.Select(n => n.Instance));
        Assert.Equal("KV bucket es_nodes does not exist", view.Error);
    }

    private static NodeStatus Beat(int node, string instance, long atMs, ulong applied = 1, long? startedAtMs = null, string? bundleError = null) => new()
    {
        NodeId = node,
        Instance = instance,
        StartedAtMs = startedAtMs ?? Now - 60_000,
        HeartbeatAtMs = atMs,
        HeartbeatIntervalMs = 1000,
        Ready = true,
        AppliedVersion = applied,
        PointerVersion = 7,
        BundleError = bundleError,
    };
}

namespace EdgeSelector.Chaos.Tests.Infrastructure;

/// <summary>
/// One node shared by the test classes of <see cref="Collection"/> (they run one after the other): short deadlines,
/// so that damaged input cannot hold a connection for long.
/// </summary>
public sealed class SharedNode : IAsyncLifetime
{
    /// <summary>The xUnit collection name.</summary>
    public const string Collection = "shared node";

    private readonly TempDirectory _dir = new("es-chaos-shared-");

    internal ChaosNode Chaos { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Chaos = ChaosNode.Start(_dir.Path, "--EdgeSelector:FrameTimeoutSeconds=2", "--EdgeSelector:IdleTimeoutSeconds=5");
        await Chaos.WaitReadyAsync();
    }

    public Task DisposeAsync()
    {
        Chaos.Dispose();
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>The collection of the classes that share <see cref="SharedNode"/>.</summary>
[CollectionDefinition(SharedNode.Collection)]
public sealed class SharedNodeCollection : ICollectionFixture<SharedNode>;

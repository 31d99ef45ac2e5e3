namespace EdgeSelector.Architecture.Tests;

/// <summary>
/// Layers only point down (docs/ARCHITECTURE.md, "Projects"): each row names a project, something it must never
/// depend on (a project or a package, directly or through any chain of references), and why. To forbid a new edge,
/// add a row.
/// </summary>
public class DependencyRulesTests
{
    public static TheoryData<string, string, string> ForbiddenDependencies => new()
    {
        { "EdgeSelector.Primitives", "EdgeSelector.Core", "the shared vocabulary depends on nothing" },
        { "EdgeSelector.Primitives", "MessagePack", "the shared vocabulary depends on nothing" },
        { "EdgeSelector.Core", "EdgeSelector.Protocol", "Core is the decision kernel: no wire, no I/O" },
        { "EdgeSelector.Core", "EdgeSelector.Storage", "Core is the decision kernel: no wire, no I/O" },
        { "EdgeSelector.Core", "EdgeSelector.Learning", "Core is the decision kernel; the trainer builds on it" },
        { "EdgeSelector.Core", "EdgeSelector.Server", "Core is the decision kernel; the server builds on it" },
        { "EdgeSelector.Protocol", "EdgeSelector.Core", "the wire format must not drag the scoring kernels and bundle code into clients" },
        { "EdgeSelector.Protocol", "EdgeSelector.Storage", "the wire format must not need the stores" },
        { "EdgeSelector.Client", "EdgeSelector.Core", "a client needs the wire, not the scoring kernels" },
        { "EdgeSelector.Client", "EdgeSelector.Storage", "a client needs the wire, not the stores" },
        { "EdgeSelector.Client", "EdgeSelector.Learning", "a client needs the wire, not the trainer" },
        { "EdgeSelector.Client", "EdgeSelector.Server", "a client must not need the server" },
        { "EdgeSelector.Client", "Microsoft.FASTER.Core", "a client must not carry the storage engine" },
        { "EdgeSelector.Storage", "EdgeSelector.Protocol", "the stores do not speak the wire" },
        { "EdgeSelector.Storage", "EdgeSelector.Learning", "the stores do not depend on the trainer" },
        { "EdgeSelector.Storage", "EdgeSelector.Server", "the stores do not depend on the server" },
        { "EdgeSelector.Learning", "EdgeSelector.Server", "the trainer reads the server's logs, never its code" },
        { "EdgeSelector.Fleet", "EdgeSelector.Server", "the fleet library is wired into the server, never the other way round" },
        { "EdgeSelector.Fleet", "EdgeSelector.Learning", "the fleet library ships entries as opaque bytes: the native binary must not carry the trainer" },
        { "EdgeSelector.LoadTest", "EdgeSelector.Core", "the load tool drives the wire like any client" },
        { "EdgeSelector.LoadTest", "EdgeSelector.Server", "the load tool drives the wire like any client" },
    };

    [Theory]
    [MemberData(nameof(ForbiddenDependencies))]
    public void Project_NeverDependsOn_ForbiddenProjectOrPackage(string project, string forbidden, string why)
    {
        var graph = ProjectGraph.Load();
        Assert.True(graph.Contains(project), $"{project}: no such project under {graph.Root} (rename the rule with the project)");

        var dependencies = graph.Dependencies(project);

        Assert.False(dependencies.TryGetValue(forbidden, out var chain), $"{chain}: forbidden ({why})");
    }

    [Fact]
    public void Primitives_ReferencesNothing()
    {
        var dependencies = ProjectGraph.Load().Dependencies("EdgeSelector.Primitives");

        Assert.Empty(dependencies.Values);
    }

    [Fact]
    public void Dependencies_ReferenceChain_FollowedTransitively()
    {
        // The rules mean "through any chain": the client reaches Primitives only through Protocol.
        var dependencies = ProjectGraph.Load().Dependencies("EdgeSelector.Client");

        Assert.Equal("EdgeSelector.Client -> EdgeSelector.Protocol -> EdgeSelector.Primitives", dependencies["EdgeSelector.Primitives"]);
        Assert.Equal("EdgeSelector.Client -> EdgeSelector.Protocol -> package MessagePack", dependencies["MessagePack"]);
    }
}

using EdgeSelector.Server;

try
{
    var (app, node) = EdgeSelectorHost.Build(args);
    var options = node.Options;
    Console.WriteLine(
        $"edgeselector: binary protocol on {options.BindAddress}:{options.BinaryPort}, admin API on " +
        $"http://{options.BindAddress}:{options.AdminPort}, data in {node.Stores.DataDir}, " +
        $"bundle {node.Stores.Models.Version} with {node.Stores.Models.TitleCount} titles, policy {node.Engine.Options.Policy}, " +
        $"int8 scoring with {EdgeSelector.Core.Scoring.Scorer.Int8Kernel}");
    app.Run();
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"edgeselector: configuration error: {e.Message}");
    return 2;
}

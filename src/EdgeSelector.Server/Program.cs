using EdgeSelector.Server;
using EdgeSelector.Server.Health;

try
{
    var (app, node) = EdgeSelectorHost.Build(args);
    var options = node.Options;
    Console.WriteLine(
        $"edgeselector: binary protocol on {options.BindAddress}:{options.BinaryPort}, admin API on " +
        $"http://{options.BindAddress}:{options.AdminPort}, data in {node.Stores.DataDir}, " +
        $"bundle {node.Stores.Models.Version} with {node.Stores.Models.TitleCount} titles, policy {node.Engine.Options.Policy}, " +
        $"int8 scoring with {EdgeSelector.Core.Scoring.Scorer.Int8Kernel}");
    app.Lifetime.ApplicationStopping.Register(() => ShutdownWatchdog.Arm(TimeSpan.FromSeconds(node.Options.ShutdownTimeoutSeconds)));
    app.Run();
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"edgeselector: configuration error: {e.Message}");
    return 2;
}
catch (StartupRefusedException e)
{
    // docs/reliability.md, "Exit codes": the data directory cannot be used as it is; one line says why.
    Console.Error.WriteLine($"edgeselector: cannot start: {e.Message}");
    return StartupRefusedException.ExitCode;
}

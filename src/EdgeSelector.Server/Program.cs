using EdgeSelector.Server;
using EdgeSelector.Server.Health;

try
{
    var (app, state) = EdgeSelectorHost.Build(args);
    Console.WriteLine(
        $"edgeselector: binary protocol on {state.Options.BindAddress}:{state.Options.BinaryPort}, admin API on " +
        $"http://{state.Options.BindAddress}:{state.Options.AdminPort}, data in {state.DataDir}, " +
        $"bundle {state.Models.Version} with {state.Models.TitleCount} titles, policy {state.Engine.Options.Policy}, " +
        $"int8 scoring with {EdgeSelector.Core.Scoring.Scorer.Int8Kernel}");
    app.Lifetime.ApplicationStopping.Register(() => ShutdownWatchdog.Arm(TimeSpan.FromSeconds(state.Options.ShutdownTimeoutSeconds)));
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

using EdgeSelector.Server;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Diagnostics;
using EdgeSelector.Server.Health;

// docs/operations.md: --help, --version, and one line on stderr with a documented exit code for every configuration
// or resource mistake (never a stack trace for those).
try
{
    switch (ServerCommandLine.Parse(args))
    {
        case CommandLineAction.Help:
            Console.Out.Write(ServerCommandLine.Help());
            return ExitCodes.Ok;
        case CommandLineAction.Version:
            Console.Out.WriteLine(ServerCommandLine.VersionLine());
            return ExitCodes.Ok;
    }

    var (app, node) = EdgeSelectorHost.Build(args);
    var options = node.Options;
    try
    {
        await app.StartAsync();
    }
    catch (IOException e) when (ResourceChecks.ListenFailure(e, options) is { } message)
    {
        // A port taken after ResourceChecks.Ports probed it: the stores are open, close them before exiting.
        await app.DisposeAsync();
        node.Dispose();
        Console.Error.WriteLine($"edgeselector: {message}");
        return ExitCodes.Listen;
    }

    NodeLog.Started(
        app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(NodeLog.Host), options.BindAddress, options.BinaryPort,
        options.RespPort, options.AdminPort, node.Stores.DataDir, node.Stores.Models.Version, node.Stores.Models.TitleCount,
        node.Engine.Options.Policy.ToString(), options.NodeId, EdgeSelector.Core.Scoring.Scorer.Int8Kernel);
    app.Lifetime.ApplicationStopping.Register(() => ShutdownWatchdog.Arm(TimeSpan.FromSeconds(node.Options.ShutdownTimeoutSeconds)));
    await app.WaitForShutdownAsync();
    await app.DisposeAsync();
    return ExitCodes.Ok;
}
catch (StartupException e)
{
    Console.Error.WriteLine($"edgeselector: {e.Message}");
    return e.ExitCode;
}
catch (ArgumentException e)
{
    // A check deeper than the options' (a store's own limits): still a configuration mistake, still one line.
    Console.Error.WriteLine($"edgeselector: configuration error: {e.Message}");
    return ExitCodes.Configuration;
}
catch (StartupRefusedException e)
{
    // docs/operations.md, "Exit codes": the data directory cannot be used as it is; one line says why.
    Console.Error.WriteLine($"edgeselector: cannot start: {e.Message}");
    return StartupRefusedException.ExitCode;
}

using System.Net;
using EdgeSelector.Server.Admin;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Dashboard;
using EdgeSelector.Server.Demo;
using EdgeSelector.Server.Diagnostics;
using EdgeSelector.Server.Fleet;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Metrics;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace EdgeSelector.Server;

/// <summary>
/// Builds the process: configuration → <see cref="EdgeSelectorNode.Compose"/> (stores recovered from DataDir, every
/// service built with what it uses) → Kestrel with its listeners (each TCP front door behind its own connection
/// budget, then the pipelined-connection skeleton; the admin HTTP API) → demo or synthetic seeding when asked and the
/// store is empty. Used by <c>Program</c> and, in process, by the integration tests.
/// </summary>
internal static class EdgeSelectorHost
{
    // EdgeSelectorOptions.MinThreadPoolThreads: process-wide, and only ever raised (hosts in one test process share it).
    private static void RaiseThreadPoolFloor(int minimum)
    {
        if (minimum <= 0)
        {
            return;
        }

        ThreadPool.GetMinThreads(out var worker, out var io);
        ThreadPool.SetMinThreads(Math.Max(worker, minimum), Math.Max(io, minimum));
    }

    public static (WebApplication App, EdgeSelectorNode Node) Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        // Every key and value checked, then the data directory and the ports (docs/operations.md, "Exit codes").
        var options = ServerConfiguration.Load(builder.Configuration);
        ResourceChecks.DataDirectory(options);
        ResourceChecks.Ports(options);
        RaiseThreadPoolFloor(options.MinThreadPoolThreads);
        NodeLogging.AddDefaults(builder.Configuration);
        NodeLogging.UseConfiguredFormatter(builder);

        // Kestrel gets a third of the shutdown bound to let connections finish; the stores get the rest (NodeStores.Dispose).
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownTimeoutSeconds / 3));

        // In a fleet the shipper's log readers hold rotation from the moment the logs open (docs/reliability.md,
        // "Retention floor"): nothing it has not shipped is rotated away, even before it starts again after a restart.
        var node = EdgeSelectorNode.Compose(options, FleetHosting.RetentionReaders(builder.Configuration));
        try
        {
            // The dashboard's feed reads the fleet view from the container when the fleet wiring registers one.
            builder.Services.AddSingleton(services => new DashboardFeed(node, services.GetService<IFleetView>()));
            FleetHosting.Add(builder, node); // fleet membership (docs/fleet.md): nothing unless EdgeSelector:Nats:Url is set
            builder.WebHost.UseSockets(sockets =>
            {
                // Answer on the I/O thread that read the frames: no hop to the thread pool per batch (docs/performance.md).
                sockets.UnsafePreferInlineScheduling = options.InlineScheduling;
                sockets.WaitForDataBeforeAllocatingBuffer = !options.InlineScheduling;
            });
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                var address = IPAddress.Parse(options.BindAddress);
                kestrel.Listen(address, options.BinaryPort, listen =>
                {
                    listen.Use(node.BinaryLimit.Wrap);
                    listen.Run(node.Binary.OnConnectedAsync);
                });
                if (options.RespPort != 0)
                {
                    kestrel.Listen(address, options.RespPort, listen =>
                    {
                        listen.Use(node.RespLimit.Wrap);
                        listen.Run(node.Resp.OnConnectedAsync);
                    });
                }

                kestrel.Listen(address, options.AdminPort);
                kestrel.Limits.MaxRequestBodySize = (long)options.MaxAdminBodyMB << 20;
                kestrel.AddServerHeader = false;
            });

            // The runtime's and ASP.NET Core's meters in /metrics (Metrics/MeterExporter.cs): this host's, not another in-process host's.
            builder.Services.AddSingleton(services => new MeterExporter(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
            builder.Services.AddSingleton(services => new AdminEventLog(node, services.GetRequiredService<ILoggerFactory>().CreateLogger(NodeLog.Admin)));
            var app = builder.Build();
            var loggers = app.Services.GetRequiredService<ILoggerFactory>();
            var log = loggers.CreateLogger(NodeLog.Host);
            NodeLogging.Recovered(log, node.Stores);
            AdminApi.Map(app, node);
            OpenApiDocument.Map(app); // docs/admin-api.md, "OpenAPI"
            DashboardApi.Map(app, node, app.Services.GetRequiredService<DashboardFeed>());
            if (SyntheticCatalog.SeedIfEmpty(node.Stores, node.Bundles, options))
            {
                NodeLog.Seeded(log, $"synthetic ({options.SyntheticImages} images per title)", node.Stores.Models.TitleCount, options.SyntheticMembers);
            }

            if (options.Demo && DemoData.SeedIfEmpty(node.Stores, node.Bundles))
            {
                NodeLog.Seeded(log, "demo", node.Stores.Models.TitleCount, DemoData.Members);
            }

            if (node.NodeLocalEventKeyPath is { } keyPath)
            {
                NodeLog.EventKeyNodeLocal(log, keyPath);
            }

            node.Rollout.Logger = loggers.CreateLogger(NodeLog.Host);

            node.Selection.WarmUp();
            node.Health.Monitor(TimeSpan.FromSeconds(1));
            // Connections say goodbye (ERROR ShuttingDown, after the rewards they owe) before Kestrel stops; the
            // stores close after the last request.
            var storeEvents = new StoreEvents(node.Stores, loggers.CreateLogger(NodeLog.Storage), TimeSpan.FromSeconds(1));
            app.Lifetime.ApplicationStopping.Register(() => NodeLog.Stopping(log));
            app.Lifetime.ApplicationStopping.Register(node.Heartbeat.StopAll);
            app.Lifetime.ApplicationStopped.Register(() =>
            {
                var stopping = System.Diagnostics.Stopwatch.GetTimestamp();
                storeEvents.Dispose();
                node.Dispose();
                NodeLog.Stopped(log, (long)System.Diagnostics.Stopwatch.GetElapsedTime(stopping).TotalMilliseconds);
            });
            return (app, node);
        }
        catch
        {
            node.Dispose();
            throw;
        }
    }
}

using System.Net;
using EdgeSelector.Server.Admin;
using EdgeSelector.Server.Binary;
using EdgeSelector.Server.Configuration;
using EdgeSelector.Server.Dashboard;
using EdgeSelector.Server.Demo;
using EdgeSelector.Server.Fleet;
using EdgeSelector.Server.Resp;
using EdgeSelector.Server.Serving;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace EdgeSelector.Server;

/// <summary>
/// Builds the node: configuration → <see cref="ServerState"/> (stores recovered from DataDir) → Kestrel with two
/// listeners (the binary protocol through <see cref="BinaryConnectionHandler"/>, the admin HTTP API) → demo seeding
/// when asked and the store is empty. Used by <c>Program</c> and, in process, by the integration tests.
/// </summary>
internal static class EdgeSelectorHost
{
    public static (WebApplication App, ServerState State) Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var options = new EdgeSelectorOptions();
        builder.Configuration.GetSection(EdgeSelectorOptions.Section).Bind(options);
        options.Validate();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);

        var state = new ServerState(options);
        try
        {
            builder.Services.AddSingleton(state);
            builder.Services.AddSingleton<BinaryConnectionHandler>();
            builder.Services.AddSingleton<RespConnectionHandler>();
            builder.Services.AddSingleton(services => new DashboardFeed(state, services.GetService<IFleetView>()));
            FleetHosting.Add(builder, state); // fleet membership (docs/fleet.md): nothing unless EdgeSelector:Nats:Url is set
            builder.WebHost.UseSockets(sockets =>
            {
                // Answer on the I/O thread that read the frames: no hop to the thread pool per batch (docs/performance.md).
                sockets.UnsafePreferInlineScheduling = options.InlineScheduling;
                sockets.WaitForDataBeforeAllocatingBuffer = !options.InlineScheduling;
            });
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                var address = IPAddress.Parse(options.BindAddress);
                kestrel.Listen(address, options.BinaryPort, listen => listen.UseConnectionHandler<BinaryConnectionHandler>());
                if (options.RespPort != 0)
                {
                    kestrel.Listen(address, options.RespPort, listen => listen.UseConnectionHandler<RespConnectionHandler>());
                }

                kestrel.Listen(address, options.AdminPort);
                kestrel.Limits.MaxRequestBodySize = (long)options.MaxAdminBodyMB << 20;
                kestrel.AddServerHeader = false;
            });

            var app = builder.Build();
            AdminApi.Map(app, state);
            DashboardApi.Map(app, state, app.Services.GetRequiredService<DashboardFeed>());
            if (SyntheticCatalog.SeedIfEmpty(state, options))
            {
                Console.WriteLine($"edgeselector: seeded a synthetic catalog ({state.Models.TitleCount} titles x {options.SyntheticImages} images) and {options.SyntheticMembers} member profiles");
            }

            if (options.Demo && DemoData.SeedIfEmpty(state))
            {
                Console.WriteLine($"edgeselector: seeded the demo catalog ({state.Models.TitleCount} titles) and {DemoData.Members} member profiles");
            }

            state.Selection.WarmUp();
            app.Lifetime.ApplicationStopped.Register(state.Dispose);
            return (app, state);
        }
        catch
        {
            state.Dispose();
            throw;
        }
    }
}

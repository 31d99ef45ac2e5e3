using System.CommandLine;
using EdgeSelector.Cli.Commands.Fleet;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel rollback</c>: makes servers serve their previous bundle again (POST /v1/models/rollback), or with
/// <c>--nats</c> points a fleet's bundle pointer back at its previous value or at <c>--to VERSION</c> (docs/fleet.md).
/// </summary>
internal sealed class RollbackCommand : CliCommand
{
    private readonly Option<string> _server = SharedOptions.Server(required: false);
    private readonly Option<string> _tokenFile = SharedOptions.TokenFile();
    private readonly Option<string> _nats = SharedOptions.Nats("A fleet instead: point every node back at the bundle the pointer named before (re-pointing; docs/fleet.md)");

    private readonly Option<ulong> _to = SharedOptions.Positive(new Option<ulong>("--to")
    {
        Description = "With --nats: point the fleet at this published version instead of the previous one",
        HelpName = "VERSION",
    });

    public RollbackCommand()
        : base("rollback", "Make nodes serve their previous bundle again (POST /v1/models/rollback), or re-point a fleet (--nats)")
    {
        Options.Add(_server);
        Options.Add(_tokenFile);
        Options.Add(_nats);
        Options.Add(_to);
        FleetCli.OneTarget(this, _server, _nats);
        FleetCli.OnlyWith(this, _server, _tokenFile);
        FleetCli.OnlyWith(this, _nats, _to);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        if (parse.GetValue(_nats) is { } nats)
        {
            return FleetDeploy.Rollback(nats, parse.GetResult(_to) is { Implicit: false } ? parse.GetValue(_to) : null, context);
        }

        var servers = Servers.Parse(parse.GetRequiredValue(_server));
        var token = Secrets.AdminToken(parse, _tokenFile);
        return Servers.Each(servers, token, TimeSpan.FromMinutes(1), (http, cancellation) => http.PostAsync("/v1/models/rollback", content: null, cancellation), "rolled back", context);
    }
}

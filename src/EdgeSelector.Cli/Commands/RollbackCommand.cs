using System.CommandLine;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel rollback</c>: makes servers serve their previous bundle again (POST /v1/models/rollback).</summary>
internal sealed class RollbackCommand : CliCommand
{
    private readonly Option<string> _server = SharedOptions.Server();
    private readonly Option<string> _tokenFile = SharedOptions.TokenFile();

    public RollbackCommand()
        : base("rollback", "Make nodes serve their previous bundle again (POST /v1/models/rollback)")
    {
        Options.Add(_server);
        Options.Add(_tokenFile);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var servers = Servers.Parse(parse.GetRequiredValue(_server));
        var token = Secrets.AdminToken(parse, _tokenFile);
        return Servers.Each(servers, token, TimeSpan.FromMinutes(1), (http, cancellation) => http.PostAsync("/v1/models/rollback", content: null, cancellation), "rolled back", context);
    }
}

using System.CommandLine;
using System.Net.Http.Headers;
using EdgeSelector.Cli.Commands.Fleet;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Learning.Training;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel push</c>: sends a signed bundle to the admin API (PUT /v1/models) of one or more servers, or with
/// <c>--nats</c> uploads it to a fleet's Object Store and points every node at it (docs/fleet.md).
/// </summary>
internal sealed class PushCommand : CliCommand
{
    private readonly Option<string> _bundle = new("--bundle") { Description = "The bundle file to send", HelpName = "FILE" };
    private readonly Option<string> _models = SharedOptions.Models("Send the newest serving bundle of this directory", required: false);
    private readonly Option<string> _server = SharedOptions.Server(required: false);
    private readonly Option<string> _nats = SharedOptions.Nats("A fleet instead: upload the bundle to its JetStream Object Store and point every node at it (docs/fleet.md)");
    private readonly Option<string> _tokenFile = SharedOptions.TokenFile();
    private readonly Option<bool> _force = new("--force") { Description = "Let a server accept a version older than the one it serves (--server only: a fleet applies whatever its pointer names)" };

    public PushCommand()
        : base("push", "Send a signed bundle to one or more nodes (PUT /v1/models), or to a fleet through NATS (--nats); each node checks the signature, every model and the version, and applies all or nothing")
    {
        Options.Add(_bundle);
        Options.Add(_models);
        Options.Add(_server);
        Options.Add(_nats);
        Options.Add(_tokenFile);
        Options.Add(_force);
        FleetCli.OneTarget(this, _server, _nats);
        FleetCli.OnlyWith(this, _server, _tokenFile, _force);
        Validators.Add(r =>
        {
            if ((r.GetResult(_bundle) is null) == (r.GetResult(_models) is null))
            {
                r.AddError("give one of --bundle FILE or --models DIR.");
            }
        });
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var nats = parse.GetValue(_nats);
        var servers = nats is null ? Servers.Parse(parse.GetRequiredValue(_server)) : [];
        var token = nats is null ? Secrets.AdminToken(parse, _tokenFile) : string.Empty;
        string path;
        if (parse.GetValue(_bundle) is { } file)
        {
            path = InputFiles.Require(file, "--bundle");
        }
        else
        {
            var repo = new BundleRepository(InputFiles.RequireDirectory(parse.GetRequiredValue(_models), "--models"));
            var latest = repo.LatestVersion();
            path = latest > 0 ? repo.PathOf(latest) : throw new CommandInputException($"{repo.Directory}: no bundle in this directory (edgesel bundle or train writes one).");
        }

        if (nats is not null)
        {
            return FleetDeploy.Push(nats, path, context);
        }

        var bytes = File.ReadAllBytes(path);
        var endpoint = parse.GetValue(_force) ? "/v1/models?force=true" : "/v1/models";
        return Servers.Each(servers, token, TimeSpan.FromMinutes(5), (http, cancellation) =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return http.PutAsync(endpoint, content, cancellation);
        }, "applied", context);
    }
}

using EdgeSelector.Learning.Training;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel push</c>: sends a signed bundle to the admin API (PUT /v1/models) of one or more servers.</summary>
internal sealed class PushCommand : ICommand
{
    public string Name => "push";

    public string Summary => "send a signed bundle to one or more servers (PUT /v1/models)";

    public string Usage => """
        usage: edgesel push (--bundle FILE | --models DIR) (--server URL[,URL...] | --nats URL) [--token-file FILE] [--force]
          --bundle      the bundle file to send
          --models      send the newest serving bundle of this directory
          --server      admin API base URLs, comma-separated (http://host:7401)
          --nats        a fleet instead: upload to the JetStream Object Store and point every node at it (docs/fleet.md)
          --token-file  admin bearer token (else $EDGESEL_ADMIN_TOKEN)
          --force       let a server accept a version older than the one it serves
        every server is tried; the server checks the signature, every model and the version, and applies all or nothing.
        exit codes: 0 every server applied it, 1 some server refused it or could not be reached, 2 bad command line
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string> { "bundle", "models", "server", "token-file", "nats" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string> { "force" };

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        var nats = args.Get("nats");
        var servers = nats is null ? Servers.Parse(args) : [];
        var token = nats is null ? Secrets.AdminToken(args) : string.Empty;
        string path;
        if (args.Get("bundle") is { } file)
        {
            path = file;
        }
        else if (args.Get("models") is { } dir)
        {
            var repo = new BundleRepository(dir);
            var latest = repo.LatestVersion();
            if (latest == 0)
            {
                stderr.WriteLine($"edgesel push: {repo.Directory}: no bundle.");
                return Program.ExitInputError;
            }

            path = repo.PathOf(latest);
        }
        else
        {
            throw new UsageException("give --bundle FILE or --models DIR.");
        }

        if (!File.Exists(path))
        {
            stderr.WriteLine($"edgesel push: {path}: file not found.");
            return Program.ExitInputError;
        }

        if (nats is not null)
        {
            return Fleet.FleetDeploy.Push(nats, path, stdout, stderr); // the pointer is the fleet's truth: no --force needed
        }

        var bytes = File.ReadAllBytes(path);
        var endpoint = args.Has("force") ? "/v1/models?force=true" : "/v1/models";
        return Servers.Each(servers, token, TimeSpan.FromMinutes(5), http =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
            return http.PutAsync(endpoint, content);
        }, "applied", stdout, stderr);
    }
}

/// <summary><c>edgesel rollback</c>: makes servers serve their previous bundle again (POST /v1/models/rollback).</summary>
internal sealed class RollbackCommand : ICommand
{
    public string Name => "rollback";

    public string Summary => "make servers serve their previous bundle again";

    public string Usage => """
        usage: edgesel rollback (--server URL[,URL...] [--token-file FILE] | --nats URL [--to VERSION])
          --server      admin API base URLs, comma-separated
          --nats        a fleet instead: point every node back at the previous bundle (or --to VERSION)
          --token-file  admin bearer token (else $EDGESEL_ADMIN_TOKEN)
        exit codes: 0 every server rolled back, 1 some server could not (no previous bundle, unreachable), 2 bad command line
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string> { "server", "token-file", "nats", "to" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string>();

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Get("nats") is { } nats)
        {
            return Fleet.FleetDeploy.Rollback(nats, args.Get("to"), stdout, stderr);
        }

        var servers = Servers.Parse(args);
        var token = Secrets.AdminToken(args);
        return Servers.Each(servers, token, TimeSpan.FromMinutes(1), http => http.PostAsync("/v1/models/rollback", content: null), "rolled back", stdout, stderr);
    }
}

using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeSelector.Cli.Commands.Fleet;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel profiles import FILE</c>: loads member profiles into servers through PUT /v1/profiles in bounded batches,
/// or with <c>--nats</c> publishes the batches to a fleet's profile stream, which every node replays (docs/fleet.md).
/// </summary>
internal sealed class ProfilesImportCommand : CliCommand
{
    /// <summary>The server's limit per call.</summary>
    public const int MaxBatch = 100_000;

    private readonly Argument<string> _file = new("FILE")
    {
        Description = "JSON lines (one profile object per line) or a JSON array of them (docs/profiles.md), e.g. samples/profiles.jsonl",
    };

    private readonly Option<string> _server = SharedOptions.Server(required: false);
    private readonly Option<string> _tokenFile = SharedOptions.TokenFile();
    private readonly Option<string> _nats = SharedOptions.Nats("A fleet instead: publish the batches to the profile stream every node replays (docs/fleet.md)");

    private readonly Option<bool> _replace = new("--replace")
    {
        Description = "With --nats: FILE is the whole set; purge the batches published before it (a new node then replays only this import)",
    };

    private readonly Option<int> _batch = SharedOptions.Range(
        new Option<int>("--batch") { Description = "Profiles per request", HelpName = "N", DefaultValueFactory = _ => 10_000 }, 1, MaxBatch);

    public ProfilesImportCommand()
        : base("import", "Load member profiles into nodes (PUT /v1/profiles, in batches; the file is streamed), or publish them to a fleet (--nats). A refused batch stops the import; batches before it are stored")
    {
        Arguments.Add(_file);
        Options.Add(_server);
        Options.Add(_tokenFile);
        Options.Add(_nats);
        Options.Add(_replace);
        Options.Add(_batch);
        FleetCli.OneTarget(this, _server, _nats);
        FleetCli.OnlyWith(this, _server, _tokenFile);
        FleetCli.OnlyWith(this, _nats, _replace);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var file = parse.GetRequiredValue(_file);
        var nats = parse.GetValue(_nats);
        var servers = nats is null ? Servers.Parse(parse.GetRequiredValue(_server)) : [];
        var token = nats is null ? Secrets.AdminToken(parse, _tokenFile) : string.Empty;
        var batchSize = parse.GetValue(_batch);
        InputFiles.Require(file, "the profiles to import");
        if (nats is not null)
        {
            return FleetDeploy.ImportProfiles(nats, file, Read(file), batchSize, parse.GetValue(_replace), context);
        }

        var clients = servers.Select(s => Servers.Client(s, token, TimeSpan.FromMinutes(5))).ToList();
        try
        {
            using var progress = context.Progress($"importing {file} into {servers.Count} node(s)");
            long sent = 0;
            var batch = new List<ProfileRecord>(batchSize);
            long batchStart = 1;
            foreach (var (profile, where) in Read(file))
            {
                if (batch.Count == 0)
                {
                    batchStart = where;
                }

                batch.Add(profile);
                if (batch.Count == batchSize)
                {
                    Send(clients, batch, file, batchStart, context.Cancellation);
                    sent += batch.Count;
                    batch.Clear();
                    progress.Step(string.Create(CultureInfo.InvariantCulture, $"{sent:N0} profiles stored"));
                }
            }

            if (batch.Count > 0)
            {
                Send(clients, batch, file, batchStart, context.Cancellation);
                sent += batch.Count;
            }

            context.Out.WriteLine($"{sent} profiles stored on {servers.Count} server(s)");
            return ExitCodes.Ok;
        }
        catch (JsonException e)
        {
            throw new CommandInputException($"{file}: {e.Message}", e);
        }
        catch (HttpRequestException e)
        {
            throw new CommandInputException($"{file}: a node could not be reached: {e.Message}", e);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    // Yields each profile with its line (JSON lines) or element number (array).
    private static IEnumerable<(ProfileRecord Profile, long Where)> Read(string file)
    {
        using var stream = File.OpenRead(file);
        var first = -1;
        while ((first = stream.ReadByte()) is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF)
        {
        }

        stream.Position = 0;
        if (first == '[')
        {
            long i = 0;
            foreach (var p in JsonSerializer.DeserializeAsyncEnumerable(stream, ProfilesJsonContext.Default.ProfileRecord).ToBlockingEnumerable())
            {
                i++;
                yield return (p ?? throw new CommandInputException($"{file}: element {i} is null."), i);
            }

            yield break;
        }

        using var reader = new StreamReader(stream, Encoding.UTF8);
        long line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            ProfileRecord? p;
            try
            {
                p = JsonSerializer.Deserialize(text, ProfilesJsonContext.Default.ProfileRecord);
            }
            catch (JsonException e)
            {
                throw new CommandInputException($"{file}:{line}: not a profile object: {e.Message}", e);
            }

            yield return (p ?? throw new CommandInputException($"{file}:{line}: null."), line);
        }
    }

    private static void Send(List<HttpClient> clients, List<ProfileRecord> batch, string file, long where, CancellationToken cancellation)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new ProfileBatchBody(batch), ProfilesJsonContext.Default.ProfileBatchBody);
        foreach (var http in clients)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = http.PutAsync("/v1/profiles", content, cancellation).GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
            {
                var reason = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                throw new CommandInputException($"{file}: batch starting at {where} refused by {http.BaseAddress} ({(int)response.StatusCode}): {reason}");
            }
        }
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSelector.Cli.Commands;

/// <summary>One member profile as PUT /v1/profiles takes it (docs/profiles.md).</summary>
internal sealed record ProfileRecord
{
    public ulong MemberId { get; init; }

    public string? Country { get; init; }

    public string? Language { get; init; }

    public string? Device { get; init; }

    public Dictionary<string, float>? Genres { get; init; }
}

/// <summary>Body of PUT /v1/profiles.</summary>
internal sealed record ProfileBatchBody(List<ProfileRecord> Profiles);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, AllowTrailingCommas = true, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(ProfileRecord))]
[JsonSerializable(typeof(List<ProfileRecord>))]
[JsonSerializable(typeof(ProfileBatchBody))]
internal sealed partial class ProfilesJsonContext : JsonSerializerContext;

/// <summary><c>edgesel profiles import FILE</c>: loads member profiles into a server through PUT /v1/profiles in bounded batches.</summary>
internal sealed class ProfilesCommand : ICommand
{
    /// <summary>The server's limit per call.</summary>
    public const int MaxBatch = 100_000;

    public string Name => "profiles";

    public string Summary => "profiles import FILE: load member profiles into servers (PUT /v1/profiles, in batches)";

    public string Usage => """
        usage: edgesel profiles import FILE (--server URL[,URL...] [--token-file FILE] | --nats URL [--replace]) [--batch N]
          FILE          JSON lines (one profile object per line) or a JSON array of them (docs/profiles.md)
          --server      admin API base URLs, comma-separated
          --nats        a fleet instead: publish the batches to the profile stream every node replays (docs/fleet.md)
          --replace     with --nats: FILE is the whole set; purge the batches published before it
          --token-file  admin bearer token (else $EDGESEL_ADMIN_TOKEN)
          --batch       profiles per request (default 10000, at most 100000)
        the file is streamed: memory holds one batch. A batch the server refuses stops the import; the message names
        the batch's first line and the server's reason; batches before it are stored.
        exit codes: 0 all stored, 1 bad file or a batch refused, 2 bad command line
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string> { "server", "token-file", "batch", "nats" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string> { "replace" };

    public int MaxPositionals => 2;

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Positionals.Count != 2 || args.Positionals[0] != "import")
        {
            throw new UsageException("expected: profiles import FILE.");
        }

        var file = args.Positionals[1];
        var nats = args.Get("nats");
        var servers = nats is null ? Servers.Parse(args) : [];
        var token = nats is null ? Secrets.AdminToken(args) : string.Empty;
        var batchSize = args.Get("batch") is { } b
            ? (int.TryParse(b, out var n) && n is > 0 and <= MaxBatch ? n : throw new UsageException($"--batch must be 1..{MaxBatch}."))
            : 10_000;
        if (!File.Exists(file))
        {
            stderr.WriteLine($"edgesel profiles: {file}: file not found.");
            return Program.ExitInputError;
        }

        if (nats is not null)
        {
            return Fleet.FleetDeploy.ImportProfiles(nats, file, Read(file), batchSize, args.Has("replace"), stdout, stderr);
        }

        var clients = servers.Select(s => Servers.Client(s, token, TimeSpan.FromMinutes(5))).ToList();
        try
        {
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
                    Send(clients, batch, file, batchStart);
                    sent += batch.Count;
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                Send(clients, batch, file, batchStart);
                sent += batch.Count;
            }

            stdout.WriteLine($"{sent} profiles stored on {servers.Count} server(s)");
            return Program.ExitOk;
        }
        catch (Exception e) when (e is CommandInputException or JsonException or IOException or HttpRequestException or TaskCanceledException)
        {
            stderr.WriteLine($"edgesel profiles: {e.Message}");
            return Program.ExitInputError;
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    // Yields each profile with its line (JSON lines) or element number (array).
    internal static IEnumerable<(ProfileRecord Profile, long Where)> Read(string file)
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

    private static void Send(List<HttpClient> clients, List<ProfileRecord> batch, string file, long where)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new ProfileBatchBody(batch), ProfilesJsonContext.Default.ProfileBatchBody);
        foreach (var http in clients)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = http.PutAsync("/v1/profiles", content).GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
            {
                var reason = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                throw new CommandInputException($"{file}: batch starting at {where} refused by {http.BaseAddress} ({(int)response.StatusCode}): {reason}");
            }
        }
    }
}

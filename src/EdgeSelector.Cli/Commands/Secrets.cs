using System.Text;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// The bundle key and the admin token: read from a file (<c>--key-file</c>, <c>--token-file</c>) or the environment
/// (<c>EDGESEL_BUNDLE_KEY</c>, <c>EDGESEL_ADMIN_TOKEN</c>), never from the command line, where other users of the
/// machine could read them in the process list. The value is the file's text without surrounding whitespace, as
/// UTF-8 — the same bytes the server takes from <c>EdgeSelector:BundleKey</c> / <c>AdminToken</c>.
/// </summary>
internal static class Secrets
{
    public const string KeyEnvironment = "EDGESEL_BUNDLE_KEY";
    public const string TokenEnvironment = "EDGESEL_ADMIN_TOKEN";

    public static byte[] BundleKey(CommandArgs args) => Read(args.Get("key-file"), KeyEnvironment, "bundle key", "--key-file");

    public static string AdminToken(CommandArgs args) => Encoding.UTF8.GetString(Read(args.Get("token-file"), TokenEnvironment, "admin token", "--token-file"));

    private static byte[] Read(string? file, string environment, string what, string option)
    {
        string? text;
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new CommandInputException($"{file}: file not found ({what}).");
            }

            text = File.ReadAllText(file);
        }
        else
        {
            text = Environment.GetEnvironmentVariable(environment);
        }

        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            throw new UsageException($"no {what}: give {option} or set {environment}.");
        }

        return Encoding.UTF8.GetBytes(text);
    }
}

/// <summary>Bad input data, files or server answers: printed, exit code 1.</summary>
internal sealed class CommandInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The admin API of one or more servers (<c>--server URL[,URL…]</c>).</summary>
internal static class Servers
{
    public static List<Uri> Parse(CommandArgs args)
    {
        var list = new List<Uri>();
        foreach (var part in args.Require("server").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new UsageException($"--server: '{part}' is not an http(s) URL.");
            }

            list.Add(uri);
        }

        return list.Count > 0 ? list : throw new UsageException("--server needs at least one URL.");
    }

    public static HttpClient Client(Uri server, string token, TimeSpan timeout)
    {
        var http = new HttpClient { BaseAddress = server, Timeout = timeout };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>
    /// Sends one admin call to every server, printing "SERVER: DONE BODY" or why it was refused or unreachable;
    /// returns the exit code: 0 when every server accepted, 1 otherwise.
    /// </summary>
    public static int Each(
        IReadOnlyList<Uri> servers, string token, TimeSpan timeout, Func<HttpClient, Task<HttpResponseMessage>> send, string done,
        TextWriter stdout, TextWriter stderr)
    {
        var failed = 0;
        foreach (var server in servers)
        {
            using var http = Client(server, token, timeout);
            try
            {
                using var response = send(http).GetAwaiter().GetResult();
                var body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                if (response.IsSuccessStatusCode)
                {
                    stdout.WriteLine($"{server}: {done} {body}");
                }
                else
                {
                    failed++;
                    stderr.WriteLine($"{server}: refused ({(int)response.StatusCode}) {body}");
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                failed++;
                stderr.WriteLine($"{server}: unreachable: {e.Message}");
            }
        }

        return failed == 0 ? Program.ExitOk : Program.ExitInputError;
    }
}

using System.Net.Http.Headers;

namespace EdgeSelector.Cli.Infrastructure;

/// <summary>The admin API of one or more servers (<c>--server URL[,URL…]</c>).</summary>
internal static class Servers
{
    public static List<Uri> Parse(string value)
    {
        var list = new List<Uri>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
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
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>
    /// Sends one admin call to every server, printing "SERVER: DONE BODY" or why it was refused or unreachable;
    /// returns the exit code: 0 when every server accepted, 1 otherwise.
    /// </summary>
    public static int Each(
        IReadOnlyList<Uri> servers, string token, TimeSpan timeout, Func<HttpClient, CancellationToken, Task<HttpResponseMessage>> send,
        string done, CliContext context)
    {
        var failed = 0;
        foreach (var server in servers)
        {
            using var http = Client(server, token, timeout);
            try
            {
                using var response = send(http, context.Cancellation).GetAwaiter().GetResult();
                var body = response.Content.ReadAsStringAsync(context.Cancellation).GetAwaiter().GetResult();
                if (response.IsSuccessStatusCode)
                {
                    context.Out.WriteLine($"{server}: {done} {body}");
                }
                else
                {
                    failed++;
                    context.Err.WriteLine($"{server}: refused ({(int)response.StatusCode}) {body}");
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !context.Cancellation.IsCancellationRequested)
            {
                failed++;
                context.Err.WriteLine($"{server}: unreachable: {e.Message}");
            }
        }

        return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
    }
}

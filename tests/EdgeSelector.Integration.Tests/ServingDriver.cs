using System.Diagnostics;
using EdgeSelector.Protocol;
using EdgeSelector.Server.Connections;
using EdgeSelector.Server.Hosting;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Integration.Tests;

/// <summary>
/// Drives the request path in process the way a connection does: one <see cref="ServingSession"/> (its own model and
/// profile sessions), each call a batch of one request (BeginBatch, Select, EndBatch) on the calling thread.
/// </summary>
internal sealed class ServingDriver : IDisposable
{
    public ServingDriver(EdgeSelectorNode node)
    {
        Session = new ServingSession(node.Selection, node.Rewards, node.Options.MaxTitlesPerPage, TimeSpan.FromSeconds(1), static () => { });
    }

    /// <summary>The connection's serving session.</summary>
    public ServingSession Session { get; }

    /// <summary>One batch of one request whose bytes the server read at <paramref name="arrivalTicks"/>.</summary>
    public void Select(in RequestContext context, ReadOnlySpan<TitleCandidate> titles, Span<SelectResult> results, long arrivalTicks)
    {
        Session.BeginBatch(new Batch(Stopwatch.GetTimestamp(), arrivalTicks));
        try
        {
            Session.Count(titles.Length == 1 ? Server.Metrics.RequestKind.Select : Server.Metrics.RequestKind.SelectPage);
            Session.Select(in context, titles, results);
        }
        finally
        {
            Session.EndBatch();
        }
    }

    public void Dispose() => Session.Dispose();
}

using System.Diagnostics;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace EdgeSelector.Fleet;

/// <summary>
/// The one place that decides which JetStream answers are worth another try and how long to keep trying: used by
/// <see cref="FleetConnection.InitTopologyAsync"/> (a cluster still forming) and by the tools' reads (a stream or
/// consumer leader being re-elected after a server died, docs/fleet.md "Failure table").
/// </summary>
internal static class FleetRetry
{
    /// <summary>
    /// How long one try may take: a healthy cluster answers each request in milliseconds, and without this bound a
    /// request that reached a server with no leader to answer it would wait the connection's whole request timeout
    /// (30 s for the tools), the retry bound with it.
    /// </summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Pause between tries.</summary>
    public static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// True for the answers of a JetStream cluster that cannot serve a request yet but may soon: 503 (temporarily
    /// unavailable), "no suitable peers for placement" (10005), "JetStream system temporarily unavailable" (10008), or
    /// no answer at all (no meta, stream or consumer leader to answer the API request).
    /// </summary>
    public static bool IsTransient(Exception e) => e switch
    {
        NatsJSApiException api => api.Error.Code == 503 || api.Error.ErrCode is 10005 or 10008,
        NatsJSApiNoResponseException or NatsNoRespondersException or NatsNoReplyException => true,
        FleetTransientException => true,
        _ => false,
    };

    /// <summary>
    /// Runs <paramref name="attempt"/> until it succeeds: each try is bounded to <paramref name="attemptTimeout"/>
    /// (default <see cref="AttemptTimeout"/>; or what is left of <paramref name="wait"/>, at least a second), a transient answer (<see cref="IsTransient"/>) or a try
    /// that ran out of time is tried again after <see cref="Pause"/> while <paramref name="wait"/> has not passed, then
    /// <paramref name="giveUp"/> makes the exception to throw from the last failure. Any other exception, and
    /// <paramref name="cancellationToken"/>, end it at once. A zero <paramref name="wait"/> runs one unbounded try.
    /// </summary>
    /// <remarks>
    /// A try must be safe to run again: idempotent requests, or reads whose caller keeps what an interrupted try
    /// already delivered (<see cref="Events.EventFetcher.FetchAvailableAsync"/>). The wait is timed on the monotonic
    /// clock: a wall-clock step (NTP at boot, when clusters form) must not stretch or cut it.
    /// </remarks>
    public static async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> attempt, TimeSpan wait, Func<Exception, FleetException> giveUp, CancellationToken cancellationToken, TimeSpan? attemptTimeout = null)
    {
        var perTry = attemptTimeout ?? AttemptTimeout;
        if (wait <= TimeSpan.Zero)
        {
            return await attempt(cancellationToken).ConfigureAwait(false);
        }

        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var left = wait - Stopwatch.GetElapsedTime(start);
            bounded.CancelAfter(left < perTry ? TimeSpan.FromTicks(Math.Max(left.Ticks, TimeSpan.TicksPerSecond)) : perTry);
            try
            {
                return await attempt(bounded.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransient(e) || (e is OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested))
            {
                if (Stopwatch.GetElapsedTime(start) >= wait)
                {
                    throw giveUp(e);
                }

                await Task.Delay(Pause, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>What a failure says in a give-up message: "no answer" for a try that ran out of time.</summary>
    public static string Reason(Exception e) => e is OperationCanceledException or TimeoutException ? "no answer" : e.Message;
}

/// <summary>A JetStream answer that only means "not now" (e.g. a consumer with no leader yet): tried again by <see cref="FleetRetry"/>.</summary>
internal sealed class FleetTransientException(string message) : Exception(message);

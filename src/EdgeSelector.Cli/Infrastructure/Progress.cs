using System.Diagnostics;
using System.Globalization;

namespace EdgeSelector.Cli.Infrastructure;

/// <summary>
/// Progress of a long step on stderr (stdout stays for results): <c>edgesel report: replaying policies…</c>, then a
/// line with the elapsed time every <see cref="Interval"/> while it runs, and the total when it ends. Plain lines,
/// not a redrawn bar, so the output reads the same in a terminal, a CI log or a pipe.
/// </summary>
internal sealed class Progress : IDisposable
{
    /// <summary>How often a step that is still running says so.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(3);

    private readonly CliContext _context;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Timer? _timer;
    private readonly Lock _lock = new();
    private string _step;
    private bool _done;

    public Progress(CliContext context, string step, bool quiet)
    {
        _context = context;
        _step = step;
        if (!quiet)
        {
            Write($"{step}…");
            _timer = new Timer(_ => Tick(), null, Interval, Interval);
        }
    }

    /// <summary>Moves on to the next step of the same operation.</summary>
    public void Step(string step)
    {
        lock (_lock)
        {
            _step = step;
        }

        if (_timer is not null)
        {
            Write(string.Create(CultureInfo.InvariantCulture, $"{step}… ({_clock.Elapsed.TotalSeconds:F0} s)"));
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _done = true;
        }

        _timer?.Dispose();
    }

    private void Tick()
    {
        string step;
        lock (_lock)
        {
            if (_done)
            {
                return;
            }

            step = _step;
        }

        Write(string.Create(CultureInfo.InvariantCulture, $"{step}… {_clock.Elapsed.TotalSeconds:F0} s"));
    }

    private void Write(string line)
    {
        lock (_lock)
        {
            if (!_done)
            {
                _context.Message(line);
            }
        }
    }
}

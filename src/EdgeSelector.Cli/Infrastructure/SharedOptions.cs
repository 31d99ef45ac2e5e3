using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace EdgeSelector.Cli.Infrastructure;

/// <summary>
/// Options more than one command takes, defined once so they read and behave the same everywhere. Each factory returns
/// a new instance (an option belongs to the command it is added to); the command keeps it to read its value.
/// </summary>
internal static class SharedOptions
{
    /// <summary><c>--quiet</c>: no progress lines on stderr (results and errors still print). On every command.</summary>
    public static readonly Option<bool> Quiet = new("--quiet", "-q")
    {
        Description = "Print no progress on stderr (results and errors still print)",
        Recursive = true,
    };

    /// <summary>
    /// <c>--server URL[,URL…]</c>: the admin API of one or more nodes. Not required on the commands that take
    /// <c>--nats</c> instead (they check that exactly one is given).
    /// </summary>
    public static Option<string> Server(bool required = true) => new("--server")
    {
        Description = "Admin API base URLs of the nodes, comma-separated (http://host:7401)",
        HelpName = "URL[,URL...]",
        Required = required,
    };

    /// <summary>
    /// <c>--nats URL[,URL…]</c>: the NATS servers of a fleet (docs/fleet.md). Required by <c>fleet</c>; on <c>push</c>,
    /// <c>rollback</c>, <c>profiles import</c> and <c>train</c> the alternative to one node's <c>--server</c> / <c>--data-dir</c>.
    /// </summary>
    public static Option<string> Nats(string description, bool required = false) => new("--nats")
    {
        Description = description,
        HelpName = "URL[,URL...]",
        Required = required,
    };

    /// <summary><c>--token-file</c>: the admin bearer token (else <c>$EDGESEL_ADMIN_TOKEN</c>).</summary>
    public static Option<string> TokenFile() => new("--token-file")
    {
        Description = $"File holding the node's admin token (else ${Secrets.TokenEnvironment}; never on the command line)",
        HelpName = "FILE",
    };

    /// <summary><c>--key-file</c>: the bundle signing key (else <c>$EDGESEL_BUNDLE_KEY</c>).</summary>
    public static Option<string> KeyFile() => new("--key-file")
    {
        Description = $"File holding the HMAC-SHA256 bundle key (else ${Secrets.KeyEnvironment}; never on the command line)",
        HelpName = "FILE",
    };

    /// <summary><c>--models DIR</c>: a bundle directory.</summary>
    public static Option<string> Models(string description, bool required = true) => new("--models")
    {
        Description = description,
        HelpName = "DIR",
        Required = required,
    };

    /// <summary><c>--json</c>: machine-readable output on stdout.</summary>
    public static Option<bool> Json(string description) => new("--json") { Description = description };

    /// <summary><c>--scenario FILE.json</c>: a simulated world (docs/simulation.md).</summary>
    public static Option<string> Scenario(string description) => new("--scenario")
    {
        Description = description,
        HelpName = "FILE.json",
    };

    /// <summary><c>--seed N</c>.</summary>
    public static Option<int> Seed(int defaultValue, string description) => NonNegative(new Option<int>("--seed")
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
    });

    /// <summary><c>--out DIR</c>: where files are written.</summary>
    public static Option<string> Out(string description, string? defaultValue = null)
    {
        var option = new Option<string>("--out") { Description = description, HelpName = "DIR" };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }

        return option;
    }

    /// <summary>Refuses negative values at parse time (exit 2).</summary>
    public static Option<T> NonNegative<T>(Option<T> option)
        where T : struct, IComparable<T>
    {
        option.Validators.Add(r => Check(r, option, v => v.CompareTo(default) >= 0, "must not be negative"));
        return option;
    }

    /// <summary>Refuses zero and negative values at parse time (exit 2).</summary>
    public static Option<T> Positive<T>(Option<T> option)
        where T : struct, IComparable<T>
    {
        option.Validators.Add(r => Check(r, option, v => v.CompareTo(default) > 0, "must be positive"));
        return option;
    }

    /// <summary>Refuses values outside [min, max] at parse time (exit 2).</summary>
    public static Option<T> Range<T>(Option<T> option, T min, T max)
        where T : struct, IComparable<T>
    {
        option.Validators.Add(r => Check(r, option, v => v.CompareTo(min) >= 0 && v.CompareTo(max) <= 0,
            string.Create(CultureInfo.InvariantCulture, $"must be in {min}..{max}")));
        return option;
    }

    /// <summary>Refuses values other than <paramref name="allowed"/> at parse time (exit 2).</summary>
    public static Option<T> OneOf<T>(Option<T> option, params T[] allowed)
        where T : struct, IComparable<T>
    {
        option.Validators.Add(r => Check(r, option, v => allowed.Contains(v), "must be one of " + string.Join(", ", allowed)));
        return option;
    }

    /// <summary>Refuses NaN and infinities (and negatives) for a double option.</summary>
    public static Option<double> FiniteNonNegative(Option<double> option)
    {
        option.Validators.Add(r => Check(r, option, v => double.IsFinite(v) && v >= 0, "must be a non-negative number"));
        return option;
    }

    private static void Check<T>(OptionResult result, Option<T> option, Func<T, bool> ok, string message)
    {
        if (result.Implicit || result.Tokens.Count == 0)
        {
            return;
        }

        T value;
        try
        {
            value = result.GetValueOrDefault<T>();
        }
        catch (InvalidOperationException)
        {
            return; // Not a number at all: the parser reports that itself.
        }

        if (!ok(value))
        {
            result.AddError($"{option.Name} {message} (got '{result.Tokens[0].Value}').");
        }
    }
}

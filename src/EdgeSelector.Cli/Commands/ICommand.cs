namespace EdgeSelector.Cli.Commands;

/// <summary>One <c>edgesel</c> sub-command.</summary>
internal interface ICommand
{
    /// <summary>The word after <c>edgesel</c>.</summary>
    string Name { get; }

    /// <summary>One line for the command list.</summary>
    string Summary { get; }

    /// <summary>Full usage text.</summary>
    string Usage { get; }

    /// <summary>Options that take a value (<c>--name value</c>), without the dashes.</summary>
    IReadOnlySet<string> ValueOptions { get; }

    /// <summary>Options that take no value, without the dashes.</summary>
    IReadOnlySet<string> Flags { get; }

    /// <summary>How many positional arguments (words before or between the options) the command takes; 0 for most.</summary>
    int MaxPositionals => 0;

    /// <summary>Runs the command; returns the process exit code. Throws <see cref="UsageException"/> for a bad command line.</summary>
    int Run(CommandArgs args, TextWriter stdout, TextWriter stderr);
}

/// <summary>A malformed command line: printed with the command's usage, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Parsed <c>--name value</c> options, <c>--flag</c> switches and, for commands that take them, positional words.</summary>
internal sealed class CommandArgs
{
    private readonly Dictionary<string, string> _values;
    private readonly HashSet<string> _flags;

    private CommandArgs(Dictionary<string, string> values, HashSet<string> flags, List<string> positionals)
    {
        _values = values;
        _flags = flags;
        Positionals = positionals;
    }

    /// <summary>The positional words, in order.</summary>
    public IReadOnlyList<string> Positionals { get; }

    public static CommandArgs Parse(IReadOnlyList<string> args, IReadOnlySet<string> valueOptions, IReadOnlySet<string> flags, int maxPositionals = 0)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var seenFlags = new HashSet<string>(StringComparer.Ordinal);
        var positionals = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                if (positionals.Count < maxPositionals && arg.Length > 0 && arg != "--")
                {
                    positionals.Add(arg);
                    continue;
                }

                throw new UsageException($"unexpected argument '{arg}'.");
            }

            var name = arg[2..];
            string? inlineValue = null;
            if (name.IndexOf('=') is var eq and > 0)
            {
                inlineValue = name[(eq + 1)..];
                name = name[..eq];
            }

            if (flags.Contains(name) && inlineValue is null)
            {
                seenFlags.Add(name);
            }
            else if (valueOptions.Contains(name))
            {
                var value = inlineValue ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"--{name} needs a value."));
                if (!values.TryAdd(name, value))
                {
                    throw new UsageException($"--{name} given twice.");
                }
            }
            else
            {
                throw new UsageException($"unknown option '--{name}'.");
            }
        }

        return new CommandArgs(values, seenFlags, positionals);
    }

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public string Require(string name) => Get(name) ?? throw new UsageException($"--{name} is required.");

    public bool Has(string name) => _flags.Contains(name);
}

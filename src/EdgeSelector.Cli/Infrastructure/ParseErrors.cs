using System.CommandLine;


namespace EdgeSelector.Cli.Infrastructure;

/// <summary>
/// How a malformed command line is reported (exit 2): one line per problem prefixed with the command, the closest
/// command or option for a misspelt one, and a pointer to <c>--help</c>. System.CommandLine's own report prints the
/// whole help and suggests options for an unknown option's value; this keeps the error on screen instead.
/// </summary>
internal static class ParseErrors
{
    public static int Report(ParseResult parse, TextWriter stderr)
    {
        var command = parse.CommandResult.Command;
        var path = CommandPath(parse);
        if (command is RootCommand && parse.Tokens.Count == 0)
        {
            // Bare `edgesel`: the command list, on stderr since nothing was done.
            Edgesel.Create().Parse(["--help"]).Invoke(new InvocationConfiguration { Output = stderr, Error = stderr });
            return ExitCodes.Usage;
        }

        var unmatched = parse.UnmatchedTokens;
        var afterUnknownOption = false;
        foreach (var token in unmatched)
        {
            if (token.StartsWith('-'))
            {
                var name = token.Split('=', 2)[0];
                stderr.WriteLine($"{path}: unknown option '{name}'.{Suggest(name, OptionNames(command))}");
                afterUnknownOption = !token.Contains('=');
            }
            else if (afterUnknownOption)
            {
                // Most likely the unknown option's value: reporting it too would only add noise.
                afterUnknownOption = false;
            }
            else if (command.Subcommands.Count > 0)
            {
                stderr.WriteLine($"{path}: unknown command '{token}'.{Suggest(token, command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}");
            }
            else
            {
                stderr.WriteLine($"{path}: unexpected argument '{token}'.");
            }
        }

        foreach (var error in parse.Errors)
        {
            if (error.Message.StartsWith("Unrecognized command or argument", StringComparison.Ordinal))
            {
                continue;
            }

            if (error.Message.StartsWith("Required command was not provided", StringComparison.Ordinal))
            {
                if (unmatched.Count == 0)
                {
                    stderr.WriteLine($"{path}: give a command: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}.");
                }

                continue;
            }

            stderr.WriteLine($"{path}: {error.Message}");
        }

        stderr.WriteLine($"Run '{path} --help' for usage.");
        return ExitCodes.Usage;
    }

    /// <summary>The command as typed, e.g. <c>edgesel profiles import</c>.</summary>
    public static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(result.Command.Name);
        }

        names[^1] = Edgesel.Name;
        names.Reverse();
        return string.Join(' ', names);
    }

    private static IEnumerable<string> OptionNames(Command command)
    {
        for (Symbol? c = command; c is Command current; c = current.Parents.FirstOrDefault())
        {
            foreach (var option in current.Options.Where(o => !o.Hidden && (ReferenceEquals(current, command) || o.Recursive)))
            {
                yield return option.Name;
                foreach (var alias in option.Aliases.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
                {
                    yield return alias;
                }
            }
        }
    }

    // The closest name by edit distance, when it is close enough to be a typo (or the word is a prefix of it).
    private static string Suggest(string word, IEnumerable<string> candidates)
    {
        var best = candidates
            .Distinct()
            .Select(c => (Name: c, Distance: c.StartsWith(word, StringComparison.Ordinal) && word.TrimStart('-').Length >= 2 ? 0 : Distance(word, c)))
            .OrderBy(c => c.Distance)
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, word.Length / 3) ? $" Did you mean '{best.Name}'?" : string.Empty;
    }

    // Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours ("trian").
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}

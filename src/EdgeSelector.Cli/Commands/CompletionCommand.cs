using System.CommandLine;
using EdgeSelector.Cli.Infrastructure;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel completion SHELL</c>: prints a script that makes the shell complete edgesel's commands, options and
/// option values. The script asks edgesel itself through System.CommandLine's <c>[suggest:POSITION]</c> directive,
/// so completions always match the installed version.
/// </summary>
internal sealed class CompletionCommand : CliCommand
{
    private readonly Argument<string> _shell = new("shell")
    {
        Description = "bash, zsh, fish or pwsh",
    };

    public CompletionCommand()
        : base("completion", "Print a shell completion script (bash, zsh, fish, pwsh); e.g. edgesel completion bash >> ~/.bashrc")
    {
        _shell.AcceptOnlyFromAmong("bash", "zsh", "fish", "pwsh");
        Arguments.Add(_shell);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        context.Out.WriteLine(Script(parse.GetRequiredValue(_shell)).TrimEnd());
        return ExitCodes.Ok;
    }

    /// <summary>The completion script for one shell.</summary>
    internal static string Script(string shell) => shell switch
    {
        "bash" => """
            # edgesel completion for bash: source this file, or add it to ~/.bashrc
            _edgesel_complete() {
              local IFS=$'\n'
              COMPREPLY=( $(edgesel "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null) )
            }
            complete -o default -F _edgesel_complete edgesel

            """,
        "zsh" => """
            # edgesel completion for zsh: source this file, or add it to ~/.zshrc (after compinit)
            _edgesel_complete() {
              local -a completions
              completions=("${(@f)$(edgesel "[suggest:${CURSOR}]" "${BUFFER}" 2>/dev/null)}")
              compadd -a completions
            }
            compdef _edgesel_complete edgesel

            """,
        "fish" => """
            # edgesel completion for fish: save as ~/.config/fish/completions/edgesel.fish
            complete -c edgesel -f -a '(set -l line (commandline -cp); edgesel "[suggest:"(string length -- $line)"]" "$line" 2>/dev/null)'

            """,
        "pwsh" => """
            # edgesel completion for PowerShell: add to $PROFILE
            Register-ArgumentCompleter -Native -CommandName edgesel -ScriptBlock {
              param($wordToComplete, $commandAst, $cursorPosition)
              edgesel "[suggest:$cursorPosition]" "$commandAst" 2>$null | ForEach-Object {
                [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
              }
            }

            """,
        _ => throw new UsageException($"unknown shell '{shell}' (bash, zsh, fish or pwsh)."),
    };
}

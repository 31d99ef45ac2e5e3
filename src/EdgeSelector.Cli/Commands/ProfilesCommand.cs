using System.CommandLine;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel profiles</c>: member profiles on the nodes (docs/profiles.md).</summary>
internal sealed class ProfilesCommand : Command
{
    public ProfilesCommand()
        : base("profiles", "Member profiles on the nodes (docs/profiles.md)")
    {
        Subcommands.Add(new ProfilesImportCommand());
    }
}

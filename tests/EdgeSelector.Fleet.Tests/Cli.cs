namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// <c>edgesel</c> in this process (<see cref="CliCommands"/>): declared here because inside <c>EdgeSelector.*</c> the name
/// <c>Cli</c> would otherwise mean the namespace <c>EdgeSelector.Cli</c>.
/// </summary>
internal abstract class Cli : CliCommands;

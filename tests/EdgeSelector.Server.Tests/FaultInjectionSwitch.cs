using System.Runtime.CompilerServices;

namespace EdgeSelector.Server.Tests;

/// <summary>
/// Switches the server's test-only fault injection on for this test process (Serving/FaultInjection.cs): the
/// server's own build pins it off, so no production request path carries the check. No fault fires unless a test
/// names a title (<c>SelectionService.FaultInjectionTitleId</c>, <c>FaultInjectionReadTitleId</c>).
/// </summary>
internal static class FaultInjectionSwitch
{
#pragma warning disable CA2255 // A test assembly, not a library: the switch must be set before any server code runs.
    [ModuleInitializer]
    internal static void SwitchOn() => AppContext.SetSwitch("EdgeSelector.Server.FaultInjection", true);
#pragma warning restore CA2255
}

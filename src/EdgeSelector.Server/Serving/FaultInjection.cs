using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Test-only fault injection for the "internal error" path (a title whose scoring throws, a title whose model read
/// itself throws out of the store: <see cref="ScoringVisitor"/>, a batch whose entry into the stores throws:
/// <see cref="ServingSession.EnterStores"/>), behind a .NET feature
/// switch. The server project pins the switch off with <c>Trim="true"</c> (EdgeSelector.Server.csproj), so the
/// native binary's compiler replaces <see cref="IsEnabled"/> with <c>false</c> and removes every check: nothing of it
/// is on a production request path (a JIT run reads a static readonly false, which the tier-1 JIT folds away too).
/// The integration and server tests switch it on for their process (a module initializer in each test assembly).
/// </summary>
/// <remarks>
/// Chosen over a test-only decorator: the fault must be thrown inside the store's read callback, where real
/// scoring runs, and a decorator there would make the visitor (and with it the selection service and both protocol
/// sessions) generic over a test type. Chosen over an <c>#if</c>: the tests would need a second build of the server.
/// </remarks>
internal static class FaultInjection
{
    /// <summary>The feature switch's name.</summary>
    public const string Switch = "EdgeSelector.Server.FaultInjection";

    private static readonly bool Enabled = AppContext.TryGetSwitch(Switch, out var on) && on;

    /// <summary>True only in a process that switched fault injection on (the integration tests).</summary>
    [FeatureSwitchDefinition(Switch)]
    public static bool IsEnabled => Enabled;

    /// <summary>Throws the injected fault of <paramref name="titleId"/>'s model read (out of line: the caller stays small).</summary>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowReadFault(uint titleId) => throw new InvalidOperationException($"model read fault injected for title {titleId}");

    /// <summary>Throws the injected fault of entering the stores for a batch (out of line).</summary>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowEnterFault() => throw new InvalidOperationException("store entry fault injected");
}

using System.Runtime.CompilerServices;
using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Rollout;

/// <summary>Which bundle a member is served from while a candidate bundle is being tried (the impression's <c>arm</c> byte).</summary>
public enum Arm : byte
{
    /// <summary>The active bundle: every member when no candidate is being tried.</summary>
    Control = 0,

    /// <summary>The candidate bundle.</summary>
    Candidate = 1,
}

/// <summary>
/// The sticky member split of a rollout (docs/rollout.md): a member is in the candidate arm when a keyed hash of its
/// id, scaled to [0, 1), is below the configured fraction. Stateless, so every node of a fleet puts a member in the
/// same arm; keyed by the candidate's version, so successive candidates expose different members; keyed apart from
/// the exploration draw (<see cref="Selection.StickyRandom"/>: another key and another multiplier), so the arm says
/// nothing about which image a member is drawn. Raising the fraction keeps every member already in the candidate arm
/// there (the threshold only moves up). One multiply-xorshift finalizer per request, no allocation, no lock.
/// </summary>
public readonly struct ArmSplit
{
    // Not the exploration seed and not its multipliers: the arm must be independent of the sticky image draw.
    private const ulong Salt = 0x5AFE_0A11_0C8D_2E15;
    private const ulong MemberMultiplier = 0xD6E8_FEB8_6659_FD93;
    private const double TwoTo53 = 9007199254740992.0;

    private readonly ulong _key;
    private readonly ulong _threshold;

    /// <summary>A split for the candidate bundle <paramref name="candidateVersion"/> sending <paramref name="fraction"/> of members to it.</summary>
    public ArmSplit(ulong candidateVersion, double fraction)
    {
        if (!double.IsFinite(fraction) || fraction < 0 || fraction > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "a rollout fraction must be in [0, 1]");
        }

        _key = Hash64.Mix(Salt ^ (candidateVersion * Hash64.Golden));
        _threshold = (ulong)Math.Round(fraction * TwoTo53);
        Fraction = fraction;
    }

    /// <summary>The share of members in the candidate arm.</summary>
    public double Fraction { get; }

    /// <summary>The member's position in [0, 1): in the candidate arm when below <see cref="Fraction"/>.</summary>
    public double Position(ulong memberId) => Bucket(memberId) / TwoTo53;

    /// <summary>The member's arm.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Arm ArmOf(ulong memberId) => Bucket(memberId) < _threshold ? Arm.Candidate : Arm.Control;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Bucket(ulong memberId) => Hash64.Mix(_key ^ (memberId * MemberMultiplier)) >> 11;
}

using EdgeSelector.Core.Numerics;

namespace EdgeSelector.Core.Selection;

/// <summary>
/// Stateless, sticky randomness: the random draw for (member, title) is a keyed hash of (seed, member id, title id,
/// time bucket). The same member sees the same draw for a title for one stickiness window, on any node, with no
/// per-member state. Each (member, title) pair gets its own phase within the window, so windows do not all roll
/// over at the same instant (which would make every member's artwork change at once).
/// </summary>
public readonly struct StickyRandom
{
    // Odd multipliers that spread member and title ids over 64 bits before the one finalizer round of the pair.
    private const ulong MemberMultiplier = Hash64.Golden;
    private const ulong TitleMultiplier = 0xC2B2AE3D27D4EB4F; // xxHash64's second prime

    private readonly ulong _seedKey;
    private readonly long _windowMs;

    /// <summary>Creates the source for a seed and a window (at least 1 ms).</summary>
    public StickyRandom(ulong seed, TimeSpan window)
    {
        _seedKey = Hash64.Mix(seed + MemberMultiplier);
        _windowMs = Math.Max(1, (long)window.TotalMilliseconds);
    }

    /// <summary>The stickiness window.</summary>
    public TimeSpan Window => TimeSpan.FromMilliseconds(_windowMs);

    /// <summary>The window bucket of (member, title) at a time: the draw changes exactly when this changes.</summary>
    public long Bucket(ulong memberId, uint titleId, long unixMs) => Bucket(Pair(memberId, titleId), unixMs);

    /// <summary>
    /// The 64-bit key of (member, title) at a time: a counter-based stream of uniforms starts from it. Two finalizer
    /// rounds and one division on the path (pair, then the bucket folded in), since every selection waits for it.
    /// </summary>
    public ulong Key(ulong memberId, uint titleId, long unixMs)
    {
        var pair = Pair(memberId, titleId);
        return Hash64.Mix(pair + ((ulong)Bucket(pair, unixMs) * MemberMultiplier));
    }

    private ulong Pair(ulong memberId, uint titleId) =>
        Hash64.Mix(_seedKey ^ (memberId * MemberMultiplier) ^ (titleId * TitleMultiplier));

    // phase = ⌊pair · window / 2⁶⁴⌋ (a multiply, not a 64-bit division: this sits on every selection's path), then
    // one floor division of the shifted time.
    private long Bucket(ulong pair, long unixMs)
    {
        var phase = (long)Math.BigMul(pair, (ulong)_windowMs, out _);
        var (bucket, remainder) = Math.DivRem(unixMs + phase, _windowMs);
        return remainder < 0 ? bucket - 1 : bucket;
    }

    /// <summary>The first uniform in [0, 1) of a key's stream: what the pmf-based policies sample with.</summary>
    public static double Uniform(ulong key) => Hash64.ToUnit(Hash64.Stream(key, ulong.MaxValue));
}

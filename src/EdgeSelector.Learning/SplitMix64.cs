namespace EdgeSelector.Learning;

/// <summary>
/// splitmix64's finaliser: a cheap, well-mixed 64-bit hash for deterministic pseudo-random choices (cross-fitting
/// folds, the simulator's per-pair contexts) that must not depend on Core's hashing, which serves the engine.
/// </summary>
internal static class SplitMix64
{
    public static ulong Mix(ulong z)
    {
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>A uniform double in [0, 1) from the top 53 bits.</summary>
    public static double Unit(ulong h) => (h >> 11) * (1.0 / (1UL << 53));
}

namespace EdgeSelector.Core.Exploration;

/// <summary>The exploration policies; the byte value is what the impression log records.</summary>
public enum PolicyKind : byte
{
    /// <summary>Always the best-scoring image (ties split evenly).</summary>
    Greedy = 0,
    /// <summary>With probability ε a uniformly random image, else the greedy one.</summary>
    EpsilonGreedy = 1,
    /// <summary>Probability proportional to exp(score / temperature).</summary>
    Softmax = 2,
    /// <summary>Sample each image's score from its Gaussian posterior, take the best.</summary>
    Thompson = 3,
    /// <summary>The best upper confidence bound mean + α·σ (deterministic).</summary>
    Ucb = 4,
    /// <summary>Uniformly random: pure exploration for data collection.</summary>
    Uniform = 5,
}

using EdgeSelector.Learning.Evaluation;
using EdgeSelector.Learning.Evaluation.Data;
using EdgeSelector.Learning.Evaluation.Policies;

namespace EdgeSelector.Learning.Tests;

/// <summary>
/// A tiny logged-bandit world with known truth: two binary context features, four actions, Bernoulli rewards linear
/// in the features per action (so the ridge reward model is well specified), a context-dependent logging policy and
/// a context-dependent target policy. The true value of the target policy is an exact finite sum.
/// </summary>
internal static class SyntheticWorld
{
    public const int Actions = 4;
    private const double PX1 = 0.5;
    private const double PX2 = 0.3;

    public static readonly string[] FeatureNames = ["x_1", "x_2"];

    public static double RewardProbability(int x1, int x2, int a) =>
        0.1 + (0.08 * a) + (x1 * (a == 1 ? 0.3 : 0.0)) + (x2 * (a == 0 ? 0.4 : -0.05));

    /// <summary>The logging policy: leans to low actions when x1 = 0 and to high ones when x1 = 1.</summary>
    public static double Logging(int x1, int a, bool uniform) =>
        uniform ? 1.0 / Actions : (x1 == 0 ? new[] { 0.4, 0.3, 0.2, 0.1 } : new[] { 0.1, 0.2, 0.3, 0.4 })[a];

    /// <summary>The target policy: action 3 mostly when x2 = 0, action 0 mostly when x2 = 1.</summary>
    public static double Target(int x2, int a) => (x2 == 0 ? new[] { 0.1, 0.1, 0.1, 0.7 } : new[] { 0.7, 0.1, 0.1, 0.1 })[a];

    public static double TrueValue()
    {
        var value = 0.0;
        for (var x1 = 0; x1 < 2; x1++)
        {
            for (var x2 = 0; x2 < 2; x2++)
            {
                var px = (x1 == 1 ? PX1 : 1 - PX1) * (x2 == 1 ? PX2 : 1 - PX2);
                for (var a = 0; a < Actions; a++)
                {
                    value += px * Target(x2, a) * RewardProbability(x1, x2, a);
                }
            }
        }

        return value;
    }

    public static InMemoryBanditSource Log(int rows, int seed, bool uniformLogging = false)
    {
        var random = new Random(seed);
        var list = new List<InMemoryBanditSource.Row>(rows);
        for (var i = 0; i < rows; i++)
        {
            var x1 = random.NextDouble() < PX1 ? 1 : 0;
            var x2 = random.NextDouble() < PX2 ? 1 : 0;
            var u = random.NextDouble();
            var a = 0;
            for (var cumulative = Logging(x1, 0, uniformLogging); u >= cumulative && a < Actions - 1;)
            {
                cumulative += Logging(x1, ++a, uniformLogging);
            }

            var reward = random.NextDouble() < RewardProbability(x1, x2, a) ? 1.0 : 0.0;
            list.Add(new(a, 1, Logging(x1, a, uniformLogging), reward, [x1, x2]));
        }

        return new InMemoryBanditSource(FeatureNames, list);
    }

    /// <summary>The target policy as the evaluator sees it: reads x_2 from each row.</summary>
    public sealed class TargetPolicyOfWorld : TargetPolicy
    {
        public override bool HasFullDistribution => true;

        public override IPolicyCursor Open() => new Cursor();

        private sealed class Cursor : IPolicyCursor
        {
            private readonly ActionProbability[] _distribution = new ActionProbability[Actions];
            private int _x2;

            public ReadOnlySpan<ActionProbability> Distribution => _distribution;

            public void MoveTo(LoggedSample sample)
            {
                _x2 = (int)sample.Features[1];
                for (var a = 0; a < Actions; a++)
                {
                    _distribution[a] = new ActionProbability(a, Target(_x2, a));
                }
            }

            public double Probability(int action) => Target(_x2, action);

            public void Finish()
            {
            }

            public void Dispose()
            {
            }
        }
    }
}

using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Learning.Simulation;

/// <summary>A policy's distribution over each title's candidates for every (member, title) pair of a world.</summary>
public sealed class PolicyTable
{
    private readonly double[] _p;
    private readonly int _stride;
    private readonly int _titles;
    private readonly SimulatedWorld _world;

    internal PolicyTable(string name, SimulatedWorld world)
    {
        Name = name;
        _world = world;
        _stride = world.MaxImages;
        _titles = world.Titles.Count;
        _p = new double[world.MemberCount * _titles * _stride];
    }

    /// <summary>The policy's name.</summary>
    public string Name { get; }

    /// <summary>π(· | m, t) over title t's candidates.</summary>
    public ReadOnlySpan<double> Pmf(int m, int t) => _p.AsSpan(((m * _titles) + t) * _stride, _world.Titles[t].Images.Length);

    /// <summary>Throws when a distribution does not sum to 1: a policy that lost its mass would have a true value of 0.</summary>
    internal void Validate()
    {
        for (var m = 0; m < _world.MemberCount; m++)
        {
            for (var t = 0; t < _titles; t++)
            {
                var sum = 0.0;
                foreach (var p in Pmf(m, t))
                {
                    sum += p;
                }

                if (Math.Abs(sum - 1) > 1e-5)
                {
                    throw new InvalidOperationException($"policy {Name}: the distribution for member {m}, title {t} sums to {sum}");
                }
            }
        }
    }

    internal Span<double> Slot(int m, int t) => _p.AsSpan(((m * _titles) + t) * _stride, _world.Titles[t].Images.Length);
}

/// <summary>
/// The built-in policies of the simulator, as exact distributions per (member, title): the explore/logging policies
/// and the targets that evaluation is checked against.
/// </summary>
public static class WorldPolicies
{
    /// <summary>ε of the ε-greedy policies: keeps every candidate's probability at least ε/K (overlap with any log).</summary>
    public const double Epsilon = 0.2;

    /// <summary>ε of the engine's ε-greedy policy (as a server would run it: mostly exploiting).</summary>
    public const double EngineEpsilon = 0.1;

    /// <summary>Every built-in policy name.</summary>
    public static readonly IReadOnlyList<string> Names =
        ["uniform", "default", "personal-softmax", "oracle-epsilon", "engine-epsilon", "clickbait-greedy"];

    /// <summary>Builds the table of a named policy; throws <see cref="ArgumentException"/> for an unknown name.</summary>
    public static PolicyTable Build(SimulatedWorld world, string name)
    {
        var table = new PolicyTable(name, world);
        switch (name)
        {
            case "uniform":
                Fill(world, table, (m, t, p) => p.Fill(1.0 / p.Length));
                break;
            case "default":
                // The default image (index 0): what every member sees without personalisation.
                Fill(world, table, (m, t, p) => p[0] = 1);
                break;
            case "personal-softmax":
                Fill(world, table, (m, t, p) =>
                {
                    world.Context(m, t, out var member, out _);
                    var images = world.Titles[t].Images;
                    var sum = 0.0;
                    for (var i = 0; i < p.Length; i++)
                    {
                        p[i] = Math.Exp(world.Scenario.PersonalWeight * SimulatedWorld.ThemeMatch(member, images[i].Theme));
                        sum += p[i];
                    }

                    for (var i = 0; i < p.Length; i++)
                    {
                        p[i] /= sum;
                    }
                });
                break;
            case "oracle-epsilon":
                Fill(world, table, (m, t, p) => EpsilonGreedy(p, i => world.QualityProbability(m, t, i)));
                break;
            case "clickbait-greedy":
                // Chases play starts: the policy a click-through metric would pick.
                Fill(world, table, (m, t, p) => EpsilonGreedy(p, i => world.PlayStartProbability(m, t, i)));
                break;
            case "engine-epsilon":
                FillFromEngine(world, table);
                break;
            default:
                throw new ArgumentException($"unknown policy '{name}' (known: {string.Join(", ", Names)})", nameof(name));
        }

        table.Validate();
        return table;
    }

    private static void Fill(SimulatedWorld world, PolicyTable table, Action<int, int, Span<double>> fill)
    {
        for (var m = 0; m < world.MemberCount; m++)
        {
            for (var t = 0; t < world.Titles.Count; t++)
            {
                fill(m, t, table.Slot(m, t));
            }
        }
    }

    private static void EpsilonGreedy(Span<double> p, Func<int, double> score)
    {
        var best = 0;
        for (var i = 1; i < p.Length; i++)
        {
            if (score(i) > score(best))
            {
                best = i;
            }
        }

        p.Fill(Epsilon / p.Length);
        p[best] += 1 - Epsilon;
    }

    /// <summary>
    /// Our own engine (Core's <see cref="SelectionEngine"/>, ε-greedy) over a model bundle whose per-image weights
    /// put the theme's genres on the genre slots: a well-informed linear model, scored exactly as the server would.
    /// </summary>
    private static void FillFromEngine(SimulatedWorld world, PolicyTable table)
    {
        var space = FeatureSpace.Default;
        var blobs = world.Titles.Select(title => BuildModel(world, title, space).Serialize()).ToArray();
        FillFromEngine(world, table, blobs, new SelectionOptions
        {
            Policy = Core.Exploration.PolicyKind.EpsilonGreedy,
            Epsilon = (float)EngineEpsilon,
        });
    }

    /// <summary>
    /// The exact distribution of Core's <see cref="SelectionEngine"/> with <paramref name="options"/> over one model
    /// blob per world title (in the world's title order, each with the title's candidates in order), for every
    /// (member, title) pair: how a trained bundle is turned into a policy the simulator can value exactly.
    /// </summary>
    public static PolicyTable FromEngine(SimulatedWorld world, string name, IReadOnlyList<byte[]> blobs, SelectionOptions options)
    {
        var table = new PolicyTable(name, world);
        FillFromEngine(world, table, blobs, options);
        table.Validate();
        return table;
    }

    private static void FillFromEngine(SimulatedWorld world, PolicyTable table, IReadOnlyList<byte[]> blobs, SelectionOptions options)
    {
        var engine = new SelectionEngine(options);
        Span<float> pmf = stackalloc float[ModelFormat.MaxImages];
        for (var t = 0; t < world.Titles.Count; t++)
        {
            var blob = blobs[t];
            if (!ModelView.TryOpen(blob, ModelCheck.Full, out var view, out var error))
            {
                throw new InvalidOperationException($"model of title {t} rejected: {error}");
            }

            if (view.ImageCount != world.Titles[t].Images.Length)
            {
                throw new InvalidOperationException($"model of title {t} has {view.ImageCount} candidates, the title {world.Titles[t].Images.Length}");
            }

            for (var m = 0; m < world.MemberCount; m++)
            {
                world.Context(m, t, out var member, out var title);
                _ = engine.Select(view, member, title, 0, pmf);
                var p = table.Slot(m, t);
                for (var i = 0; i < p.Length; i++)
                {
                    p[i] = pmf[i];
                }
            }
        }
    }

    /// <summary>The engine model of one simulated title (exported for tools that want to serve the world).</summary>
    public static TitleModel BuildModel(SimulatedWorld world, SimulatedTitle title, FeatureSpace space)
    {
        var model = new TitleModel(title.Id, 1, title.Images[0].Id, space);
        foreach (var image in title.Images)
        {
            var genres = SimulatedWorld.ThemeGenres[(int)image.Theme];
            var im = new ImageModel(image.Id, space.Dimension, image.Theme.ToString()) { Bias = (float)image.Effect };
            foreach (var g in genres)
            {
                im.Weights[FeatureEncoder.GenreSlot + g] = (float)(world.Scenario.PersonalWeight / genres.Length);
            }

            model.Images.Add(im);
        }

        return model;
    }
}

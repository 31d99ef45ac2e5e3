using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeSelector.Learning.Evaluation.Policies;
using EdgeSelector.Learning.Simulation;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel simulate</c>: draw an explore log from a seeded synthetic world and print the policies' true values (docs/simulation.md).</summary>
internal sealed class SimulateCommand : ICommand
{
    public string Name => "simulate";

    public string Summary => "write an explore log from a synthetic world, with the exact value of each built-in policy";

    public string Usage => $"""
        usage: edgesel simulate [--scenario FILE.json] [--out DIR] [--impressions N] [--seed N] [--json]
          --scenario     world sizes and effects (snake_case keys, see docs/simulation.md); default: built-in
          --out          write DIR/impressions.esrf (impressions + rewards), DIR/policy-<name>.csv (per-row
                         p_<k> files for 'edgesel evaluate'), DIR/truth.json and DIR/models/<title>.esm (the
                         engine-epsilon policy's model blobs: evaluate --policy DIR/models --epsilon 0.1)
          --impressions  logged impressions (default: the scenario's, 100000)
          --seed         seed of the log (the world has the scenario's seed); default 1
          --json         print the truth as one JSON object instead of a table
        policies: {string.Join(", ", WorldPolicies.Names)}
        then e.g.: edgesel evaluate --format impressions --data DIR/impressions.esrf --reward quality --policy DIR/policy-default.csv
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string> { "scenario", "out", "impressions", "seed" };

    public IReadOnlySet<string> Flags { get; } = new HashSet<string> { "json" };

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        var seed = ParseInt(args.Get("seed") ?? "1", "seed");
        Scenario scenario;
        try
        {
            scenario = args.Get("scenario") is { } path
                ? (File.Exists(path) ? Scenario.Load(path) : throw new InvalidDataException($"{path}: file not found."))
                : new Scenario();
            if (args.Get("impressions") is { } n)
            {
                scenario = scenario with { Impressions = ParseInt(n, "impressions") };
            }

            scenario.Validate();
        }
        catch (InvalidDataException e)
        {
            stderr.WriteLine($"edgesel simulate: {e.Message}");
            return Program.ExitInputError;
        }

        var world = new SimulatedWorld(scenario);
        var policies = WorldPolicies.Names.Select(name => WorldPolicies.Build(world, name)).ToArray();
        var truth = policies.Select(p => (p.Name, Quality: world.TrueValue(p), Starts: world.TrueValue(p, playStarts: true))).ToArray();
        var json = TruthJson(truth);
        if (args.Get("out") is { } dir)
        {
            Directory.CreateDirectory(dir);
            var log = SimulatedLog.Generate(world, policies.First(p => p.Name == scenario.LoggingPolicy), scenario.Impressions, seed);
            log.Write(Path.Combine(dir, "impressions.esrf"));
            foreach (var policy in policies)
            {
                log.WritePolicy(Path.Combine(dir, $"policy-{policy.Name}.csv"), policy);
            }

            File.WriteAllText(Path.Combine(dir, "truth.json"), json + "\n");
            var models = Directory.CreateDirectory(Path.Combine(dir, "models")).FullName;
            foreach (var title in world.Titles)
            {
                var blob = WorldPolicies.BuildModel(world, title, Core.Features.FeatureSpace.Default).Serialize();
                File.WriteAllBytes(Path.Combine(models, $"{title.Id}{EnginePolicy.ModelExtension}"), blob);
            }
        }

        if (args.Has("json"))
        {
            stdout.WriteLine(json);
        }
        else
        {
            stdout.WriteLine($"{"policy",-18} {"quality plays",14} {"play starts",12}");
            foreach (var (name, quality, starts) in truth)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-18} {quality,14:0.000000} {starts,12:0.000000}"));
            }
        }

        return Program.ExitOk;
    }

    private static string TruthJson(IEnumerable<(string Name, double Quality, double Starts)> truth)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, quality, starts) in truth)
            {
                writer.WriteStartObject(name);
                writer.WriteNumber("quality", quality);
                writer.WriteNumber("play_start", starts);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static int ParseInt(string value, string name) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0
            ? n
            : throw new UsageException($"--{name} must be a non-negative integer (got '{value}').");
}

using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Learning.Evaluation.Policies;
using EdgeSelector.Learning.Simulation;

namespace EdgeSelector.Cli.Commands;

/// <summary><c>edgesel simulate</c>: draw an explore log from a seeded synthetic world and print the policies' true values (docs/simulation.md).</summary>
internal sealed class SimulateCommand : CliCommand
{
    private readonly Option<string> _scenario = SharedOptions.Scenario("World sizes and effects (snake_case keys, docs/simulation.md); default: built-in");

    private readonly Option<string> _out = SharedOptions.Out(
        "Write DIR/impressions.esrf (impressions + rewards), DIR/policy-<name>.csv (per-row p_<k> files for edgesel evaluate), "
        + "DIR/truth.json and DIR/models/<title>.esm (the engine-epsilon policy's model blobs: evaluate --policy DIR/models --epsilon 0.1)");

    private readonly Option<int> _impressions = SharedOptions.NonNegative(new Option<int>("--impressions")
    {
        Description = "Logged impressions (default: the scenario's, 100000)",
        HelpName = "N",
    });

    private readonly Option<int> _seed = SharedOptions.Seed(1, "Seed of the log (the world has the scenario's seed)");
    private readonly Option<bool> _json = SharedOptions.Json("Print the truth as one JSON object instead of a table");

    public SimulateCommand()
        : base("simulate", $"Write an explore log from a seeded synthetic world, with the exact value of each built-in policy ({string.Join(", ", WorldPolicies.Names)})")
    {
        Options.Add(_scenario);
        Options.Add(_out);
        Options.Add(_impressions);
        Options.Add(_seed);
        Options.Add(_json);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var seed = parse.GetValue(_seed);
        var scenario = parse.GetValue(_scenario) is { } path ? Scenario.Load(InputFiles.Require(path, "--scenario")) : new Scenario();
        if (parse.GetResult(_impressions) is { Implicit: false })
        {
            scenario = scenario with { Impressions = parse.GetValue(_impressions) };
        }

        scenario.Validate();
        using var progress = context.Progress("building the world and valuing the policies");
        var world = new SimulatedWorld(scenario);
        var policies = WorldPolicies.Names.Select(name => WorldPolicies.Build(world, name)).ToArray();
        var truth = policies.Select(p => (p.Name, Quality: world.TrueValue(p), Starts: world.TrueValue(p, playStarts: true))).ToArray();
        var json = TruthJson(truth);
        if (parse.GetValue(_out) is { } dir)
        {
            progress.Step(string.Create(CultureInfo.InvariantCulture, $"writing {scenario.Impressions:N0} impressions to {dir}"));
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

        progress.Dispose();
        if (parse.GetValue(_json))
        {
            context.Out.WriteLine(json);
        }
        else
        {
            context.Out.WriteLine($"{"policy",-18} {"quality plays",14} {"play starts",12}");
            foreach (var (name, quality, starts) in truth)
            {
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-18} {quality,14:0.000000} {starts,12:0.000000}"));
            }
        }

        return ExitCodes.Ok;
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
}

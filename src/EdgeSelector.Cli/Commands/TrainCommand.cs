using System.Globalization;
using System.Text.Json;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Logging;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Training;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel train</c>: reads what a server logged since the last run (read-only, while it keeps writing), joins
/// rewards, fits the models warm-started from the newest bundle, and writes the next signed bundle (docs/learning.md).
/// </summary>
internal sealed class TrainCommand : ICommand
{
    public string Name => "train";

    public string Summary => "join a server's impressions and rewards, fit the models, write the next signed bundle";

    public string Usage => """
        usage: edgesel train (--data-dir DIR | --nats URL) --models DIR [--key-file FILE] [--catalog FILE]
                             [--window-hours H] [--min-minutes M] [--min-fraction F] [--as-of UNIX_MS]
                             [--ips] [--no-cross-title] [--json]
                             [--gate [--gate-holdout F] [--gate-margin M] [--server URL[,URL...]]]
          --data-dir      the server's DataDir: <DataDir>/impressions and <DataDir>/rewards are read read-only
                          from where the previous run stopped (models/trainer/state.json)
          --nats          a fleet instead: every node's shipped impressions and rewards, through durable
                          consumers; the bundle is published to the fleet unless --no-publish (docs/fleet.md);
                          --max-messages N per stream and run (default 4096), --examples-out FILE (CSV),
                          --dedupe-days D (default 8: how long event ids are remembered)
          --models        the bundle directory: warm start from its newest bundle, write the next one there
          --catalog       merge a catalog into the models first (as edgesel bundle does)
          --window-hours  attribution window (default 24): impressions become negatives once it has closed
          --min-minutes   quality play: at least this many minutes (default 10) ...
          --min-fraction  ... or at least this fraction of the title (default 0.25)
          --as-of         the join's clock in unix ms (default now): windows closed by then are labelled
          --ips           weight examples by inverse propensity (off by default; docs/learning.md)
          --no-cross-title  fit the per-image models only
          --json          print the training report as JSON
        """ + TrainGate.Usage + """
        exit codes: 0 ok (also when there was nothing new: no bundle is written), 1 bad input, 2 bad command line,
                    3 the gate refused to publish (nothing written or pushed)
        """;

    public IReadOnlySet<string> ValueOptions { get; } = new HashSet<string>(
    [
        "data-dir", "models", "key-file", "catalog", "window-hours", "min-minutes", "min-fraction", "as-of",
        "nats", "max-messages", "examples-out", "dedupe-days", .. TrainGate.ValueOptions,
    ]);

    public IReadOnlySet<string> Flags { get; } = new HashSet<string> { "ips", "no-cross-title", "json", "no-publish", "gate" };

    public int Run(CommandArgs args, TextWriter stdout, TextWriter stderr)
    {
        var nats = args.Get("nats");
        var dataDir = nats is null ? args.Require("data-dir") : string.Empty;
        var repo = new BundleRepository(args.Require("models"));
        var key = Secrets.BundleKey(args);
        var join = new RewardJoinOptions
        {
            AttributionWindow = TimeSpan.FromHours(Number(args, "window-hours", 24)),
            Rule = new QualityPlayRule { MinMinutes = (float)Number(args, "min-minutes", 10), MinFraction = (float)Number(args, "min-fraction", 0.25) },
        };
        var asOf = args.Get("as-of") is { } a
            ? (long.TryParse(a, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) ? t : throw new UsageException("--as-of must be unix milliseconds."))
            : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var options = new TrainerOptions { InversePropensityWeighting = args.Has("ips"), CrossTitle = !args.Has("no-cross-title") };
        if (nats is not null)
        {
            return Fleet.FleetTrain.Run(args, nats, join, asOf, options, stdout, stderr);
        }

        try
        {
            var latest = repo.LatestVersion();
            if (latest == 0)
            {
                throw new CommandInputException($"{repo.Directory}: no bundle to start from; run edgesel bundle --catalog first.");
            }

            var (parentManifest, current) = repo.ReadForTraining(latest, key);
            if (args.Get("catalog") is { } catalogPath)
            {
                var space = current.Values.First().Features;
                var merged = CatalogModelBuilder.Build(CatalogReader.Load(catalogPath), latest + 1, space, current);
                BundleCommand.FoldIntoNewImages(merged, current, LoadCrossTitle(repo));
                current = merged.ToDictionary(m => m.TitleId);
            }

            Directory.CreateDirectory(repo.StateDirectory);
            var state = LoadState(repo);
            var joiner = new RewardJoiner(join);
            var pendingPath = Path.Combine(repo.StateDirectory, "pending.esrf");
            joiner.LoadPending(pendingPath);

            // Rewards first: a reward in this view was accepted after its impression was logged, so the impression
            // view opened next normally holds it; if the impression was still inside its group commit, the join holds
            // the reward (in pending.esrf) until the impression turns up in a later run or its window closes.
            var rewards = new List<RewardRecord>();
            long rewardsNext, impressionsNext;
            using (var log = ImpressionLogSnapshotReader.Open(Path.Combine(dataDir, "rewards")))
            {
                WarnIfRotatedAway(stderr, "reward", state.RewardsAddress, log.BeginAddress);
                rewardsNext = log.ReadFrom(state.RewardsAddress, new RewardCollector(rewards));
            }

            using (var log = ImpressionLogSnapshotReader.Open(Path.Combine(dataDir, "impressions")))
            {
                WarnIfRotatedAway(stderr, "impression", state.ImpressionsAddress, log.BeginAddress);
                impressionsNext = log.ReadFrom(state.ImpressionsAddress, new ImpressionFeeder(joiner));
            }

            foreach (var reward in rewards)
            {
                joiner.AddReward(reward);
            }

            var examples = joiner.Close(asOf);
            var cross = LoadCrossTitle(repo);
            var version = Math.Max(latest, state.LastVersion) + 1;
            // Offline gate (#15, TrainGate.cs): judged before the real run, which updates the models in place.
            var gate = args.Has("gate") && examples.Count > 0 ? TrainGate.Judge(args, current, latest, examples, cross, version, options) : null;
            var (models, report) = Trainer.Train(current, examples, cross, version, options);
            report = report with { Join = joiner.Counters, Gate = gate };
            string? written = null;
            if (gate is { Publish: false })
            {
                stderr.WriteLine($"edgesel train: gate: bundle {version} not written: {gate.Reason}");
            }
            else if (examples.Count > 0)
            {
                var manifest = new BundleManifest
                {
                    Version = version,
                    ParentVersion = parentManifest.Version,
                    CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                    TrainingFromMs = report.FromMs,
                    TrainingToMs = report.ToMs,
                    Full = true,
                    MetricsJson = JsonSerializer.Serialize(report, TrainingJsonContext.Default.TrainingReport),
                };
                var path = written = repo.Write(manifest, models, key);
                File.WriteAllText(Path.Combine(repo.StateDirectory, "cross-title.json"), cross.ToJson());
                stderr.WriteLine($"edgesel train: bundle {version} -> {path}");
                if (gate is not null)
                {
                    stderr.WriteLine($"edgesel train: gate: {gate.Reason}");
                }
            }
            else
            {
                stderr.WriteLine("edgesel train: no impression's window has closed since the last run; no bundle written.");
            }

            // The bundle is on disk before the positions move: a crash in between re-reads (at-least-once), never skips.
            joiner.SavePending(pendingPath);
            SaveState(repo, new TrainerState
            {
                ImpressionsAddress = impressionsNext,
                RewardsAddress = rewardsNext,
                LastVersion = examples.Count > 0 ? version : state.LastVersion,
            });
            if (args.Has("json"))
            {
                stdout.WriteLine(JsonSerializer.Serialize(report, TrainingJsonContext.Default.TrainingReport));
            }
            else
            {
                var c = joiner.Counters;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"examples {report.Examples} (positives {report.Positives}, short plays {c.ShortPlays}), pending {joiner.PendingCount}, " +
                    $"rewards {c.Rewards} duplicate {c.DuplicateRewards} late {c.LateRewards} unknown {c.UnknownRewards} invalid {c.InvalidRewards}, " +
                    $"fallbacks {c.Fallbacks}, titles {report.TitlesTrained}, images {report.ImagesTrained}"));
            }

            if (gate is { Publish: false })
            {
                return TrainGate.ExitRefused;
            }

            return gate is not null && written is not null && args.Get("server") is not null
                ? TrainGate.PushCandidate(args, written, stdout, stderr)
                : Program.ExitOk;
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException or CommandInputException or ArgumentException or JsonException)
        {
            stderr.WriteLine($"edgesel train: {e.Message}");
            return Program.ExitInputError;
        }
    }

    /// <summary>The cross-title component the last training run left (empty before the first).</summary>
    internal static CrossTitleModel LoadCrossTitle(BundleRepository repo)
    {
        var path = Path.Combine(repo.StateDirectory, "cross-title.json");
        return File.Exists(path) ? CrossTitleModel.FromJson(File.ReadAllText(path)) : new CrossTitleModel();
    }

    // The node rotates its logs (LogRetentionMB) whether or not a trainer has read them: say so when it happened.
    private static void WarnIfRotatedAway(TextWriter stderr, string what, long position, long begin)
    {
        if (begin > Math.Max(position, 64))
        {
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"edgesel train: warning: {begin - Math.Max(position, 64)} bytes of the {what} log were rotated away before this trainer read them (raise LogRetentionMB or train more often)."));
        }
    }

    private static TrainerState LoadState(BundleRepository repo)
    {
        var path = Path.Combine(repo.StateDirectory, "state.json");
        return File.Exists(path)
            ? JsonSerializer.Deserialize(File.ReadAllText(path), TrainingJsonContext.Default.TrainerState) ?? new TrainerState()
            : new TrainerState();
    }

    private static void SaveState(BundleRepository repo, TrainerState state)
    {
        var path = Path.Combine(repo.StateDirectory, "state.json");
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(state, TrainingJsonContext.Default.TrainerState));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static double Number(CommandArgs args, string name, double fallback)
    {
        if (args.Get(name) is not { } text)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && double.IsFinite(v)
            ? v
            : throw new UsageException($"--{name} must be a non-negative number.");
    }

    private readonly struct RewardCollector(List<RewardRecord> rewards) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            if (RewardRecord.TryRead(record, out var reward))
            {
                rewards.Add(reward);
            }
        }
    }

    private readonly struct ImpressionFeeder(RewardJoiner joiner) : IImpressionConsumer
    {
        public void Consume(ReadOnlySpan<byte> record, long address, long nextAddress)
        {
            if (ImpressionRecord.TryRead(record, out var impression))
            {
                joiner.AddImpression(impression);
            }
        }
    }
}

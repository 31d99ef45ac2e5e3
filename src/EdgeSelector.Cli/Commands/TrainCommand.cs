using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeSelector.Cli.Commands.Fleet;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Models;
using EdgeSelector.Learning.Catalog;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Rollout;
using EdgeSelector.Learning.Training;
using EdgeSelector.Storage.Impressions;

namespace EdgeSelector.Cli.Commands;

/// <summary>
/// <c>edgesel train</c>: reads what a server logged since the last run (read-only, while it keeps writing), joins
/// rewards, fits the models warm-started from the newest bundle, and writes the next signed bundle (docs/learning.md).
/// With <c>--nats</c> it reads every node's shipped events from the fleet's streams instead and publishes the bundle to
/// the fleet (<see cref="FleetTrain"/>, docs/fleet.md).
/// </summary>
internal sealed class TrainCommand : CliCommand
{
    private readonly Option<string> _dataDir = new("--data-dir")
    {
        Description = "The node's DataDir: <DataDir>/impressions and <DataDir>/rewards are read read-only from where the previous run stopped (models/trainer/state.json)",
        HelpName = "DIR",
    };

    private readonly Option<string> _nats = SharedOptions.Nats(
        "A fleet instead of --data-dir: every node's shipped impressions and rewards through durable consumers; the bundle is published to the fleet unless --no-publish (docs/fleet.md)");

    private readonly Option<string> _models = SharedOptions.Models("Bundle directory: warm start from its newest bundle, write the next one there");
    private readonly Option<string> _keyFile = SharedOptions.KeyFile();
    private readonly Option<string> _catalog = new("--catalog")
    {
        Description = "Merge a catalog into the models first (as edgesel bundle does; its image embeddings are kept in <models>/trainer/embeddings.json)",
        HelpName = "FILE",
    };

    private readonly Option<double> _windowHours = SharedOptions.Positive(new Option<double>("--window-hours")
    {
        Description = "Attribution window: impressions become negatives once it has closed",
        HelpName = "H",
        DefaultValueFactory = _ => 24,
    });

    private readonly Option<double> _minMinutes = SharedOptions.MinMinutes("Quality play (the label): at least this many minutes ...");
    private readonly Option<double> _minFraction = SharedOptions.MinFraction("... or at least this fraction of the title (the rule is written to the bundle manifest as qualityRule)");

    private readonly Option<double> _forgetHalfLife = SharedOptions.FiniteNonNegative(new Option<double>("--forget-half-life")
    {
        Description = "Evidence loses half its weight every H hours of data age; the previous bundle is aged from its newest example "
            + "(0 = never forget; written to the bundle manifest; docs/learning.md section 8.1)",
        HelpName = "H",
        DefaultValueFactory = _ => TrainerOptions.DefaultForgettingHalfLifeHours,
    });

    private readonly Option<string> _asOf = new("--as-of")
    {
        Description = "The join's clock: windows closed by then are labelled. Unix milliseconds, an ISO-8601 time, or now+DURATION "
            + "(+24h, +90m, +2d: try the loop at once on a fresh node, as if that much time had passed); default now",
        HelpName = "TIME",
    };

    private readonly Option<bool> _ips = new("--ips") { Description = "Weight examples by inverse propensity (off by default; docs/learning.md)" };
    private readonly Option<bool> _noCrossTitle = new("--no-cross-title") { Description = "Fit the per-image models only" };
    private readonly Option<bool> _json = SharedOptions.Json("Print the training report as JSON");

    private readonly Option<int> _maxMessages = SharedOptions.Positive(new Option<int>("--max-messages")
    {
        Description = "With --nats: at most this many packed messages per stream and run (more waiting: run again)",
        HelpName = "N",
        DefaultValueFactory = _ => 4096,
    });

    private readonly Option<string> _examplesOut = new("--examples-out")
    {
        Description = "With --nats: append the joined training set to this CSV (event_id,node,title_id,image_id,propensity,model_version,label,play_started)",
        HelpName = "FILE",
    };

    private readonly Option<double> _dedupeDays = SharedOptions.Positive(new Option<double>("--dedupe-days")
    {
        Description = "With --nats: how long taken event ids are remembered (the event streams' retention plus a margin)",
        HelpName = "D",
        DefaultValueFactory = _ => 8,
    });

    private readonly Option<bool> _noPublish = new("--no-publish") { Description = "With --nats: write the bundle to --models but do not point the fleet at it" };

    // Offline gate (#15): --gate, --gate-holdout, --gate-margin, --gate-policy, --gate-epsilon, --server, --token-file, --candidate-fraction.
    private readonly TrainGate _gate = new();

    // Fleet rollout (#15): --rollout-alpha, --rollout-tau, --rollout-min-impressions, --rollout-promote-after, --rollout-margin, --rollout-fallback-margin, --no-rollout-decide.
    private readonly FleetRolloutOptions _rollout = new();

    public TrainCommand()
        : base("train", "Join a node's (or with --nats a fleet's) impressions and rewards, fit the models, write the next signed bundle (exit 0 also when nothing was new: then no bundle is written)")
    {
        Options.Add(_dataDir);
        Options.Add(_nats);
        Options.Add(_models);
        Options.Add(_keyFile);
        Options.Add(_catalog);
        Options.Add(_windowHours);
        Options.Add(_minMinutes);
        Options.Add(_minFraction);
        Options.Add(_asOf);
        Options.Add(_forgetHalfLife);
        Options.Add(_ips);
        Options.Add(_noCrossTitle);
        Options.Add(_json);
        Options.Add(_maxMessages);
        Options.Add(_examplesOut);
        Options.Add(_dedupeDays);
        Options.Add(_noPublish);
        _gate.AddTo(this, _nats);
        _rollout.AddTo(this, _nats);
        FleetCli.OneTarget(this, _dataDir, _nats);
        FleetCli.OnlyWith(this, _nats, _maxMessages, _examplesOut, _dedupeDays, _noPublish);
    }

    protected override int Execute(ParseResult parse, CliContext context)
    {
        var nats = parse.GetValue(_nats);
        var dataDir = nats is null ? InputFiles.RequireDirectory(parse.GetRequiredValue(_dataDir), "--data-dir, the node's DataDir") : string.Empty;
        var repo = new BundleRepository(parse.GetRequiredValue(_models));
        var key = Secrets.BundleKey(parse, _keyFile);
        var join = new RewardJoinOptions
        {
            AttributionWindow = TimeSpan.FromHours(parse.GetValue(_windowHours)),
            Rule = SharedOptions.QualityRule(parse, _minMinutes, _minFraction),
        };
        var now = DateTimeOffset.UtcNow;
        var asOf = parse.GetValue(_asOf) is { } a ? ParseAsOf(a, now) : now.ToUnixTimeMilliseconds();
        var options = new TrainerOptions
        {
            InversePropensityWeighting = parse.GetValue(_ips),
            CrossTitle = !parse.GetValue(_noCrossTitle),
            ForgettingHalfLifeHours = parse.GetValue(_forgetHalfLife),
        };
        var catalogPath = parse.GetValue(_catalog) is { } c ? InputFiles.Require(c, "--catalog") : null;
        var examplesOut = parse.GetValue(_examplesOut);

        var latest = repo.LatestVersion();
        if (latest == 0)
        {
            throw new CommandInputException($"{repo.Directory}: no bundle to start from; run edgesel bundle --catalog first.");
        }

        using var progress = context.Progress(nats is null ? $"reading bundle {latest} and the logs in {dataDir}" : $"reading bundle {latest}");
        var start = Start(repo, key, latest, catalogPath, join, asOf, options, now);
        if (nats is not null)
        {
            // The offline gate judges before the fit, which updates the models in place (TrainGate.Judge trains copies).
            Func<List<LabeledExample>, CrossTitleModel, ulong, GateReport>? judge = _gate.Enabled(parse)
                ? (examples, cross, version) => _gate.Judge(parse, start.Current, latest, examples, cross, version, start.Options)
                : null;
            var fleet = new FleetTrainOptions(nats, parse.GetValue(_maxMessages), examplesOut, parse.GetValue(_dedupeDays), Publish: !parse.GetValue(_noPublish), Json: parse.GetValue(_json),
                RolloutTest: _rollout.Test(parse), RolloutDecide: _rollout.Decide(parse), Gate: judge, CandidateFraction: _gate.CandidateFraction(parse) ?? FleetCandidate.DefaultFraction);
            return FleetTrain.Run(start, fleet, progress, context);
        }

        var current = start.Current;
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
            WarnIfRotatedAway(context, "reward", state.RewardsAddress, log.BeginAddress);
            rewardsNext = log.ReadFrom(state.RewardsAddress, new RewardCollector(rewards));
        }

        using (var log = ImpressionLogSnapshotReader.Open(Path.Combine(dataDir, "impressions")))
        {
            WarnIfRotatedAway(context, "impression", state.ImpressionsAddress, log.BeginAddress);
            impressionsNext = log.ReadFrom(state.ImpressionsAddress, new ImpressionFeeder(joiner));
        }

        foreach (var reward in rewards)
        {
            joiner.AddReward(reward);
        }

        var examples = joiner.Close(asOf);
        var cross = repo.LoadCrossTitle();
        var version = BundleVersions.Next(Math.Max(latest, state.LastVersion), now);
        progress.Step(string.Create(CultureInfo.InvariantCulture, $"fitting {examples.Count:N0} examples"));
        // Offline gate (#15, TrainGate.cs): judged before the real run, which updates the models in place.
        var gate = _gate.Enabled(parse) && examples.Count > 0 ? _gate.Judge(parse, current, latest, examples, cross, version, start.Options) : null;
        var (models, report) = Fit(start, examples, cross, version, joiner);
        progress.Dispose();
        report = report with { Gate = gate };
        string? written = null;
        if (gate is { Publish: false })
        {
            context.Message($"gate: bundle {version} not written: {gate.Reason}");
        }
        else if (examples.Count > 0)
        {
            var path = written = WriteBundle(start, version, models, report, cross);
            context.Message($"bundle {version} -> {path}");
            if (gate is not null)
            {
                context.Message($"gate: {gate.Reason}");
            }
        }
        else
        {
            context.Message("no impression's attribution window has closed since the last run; no bundle written (--as-of +24h labels them as if a day had passed).");
        }

        // The bundle is on disk before the positions move: a crash in between re-reads (at-least-once), never skips.
        joiner.SavePending(pendingPath);
        SaveState(repo, new TrainerState
        {
            ImpressionsAddress = impressionsNext,
            RewardsAddress = rewardsNext,
            LastVersion = examples.Count > 0 ? version : state.LastVersion,
        });
        PrintReport(context, report, joiner, parse.GetValue(_json));
        return gate is { Publish: false } ? TrainGate.ExitRefused
            : gate is not null && written is not null ? _gate.PushCandidate(parse, written, context)
            : ExitCodes.Ok;
    }

    /// <summary>
    /// What both trainers start from: the newest bundle of the directory read at full precision (its signature checked),
    /// with the catalog merged in when one is given.
    /// </summary>
    private static TrainingStart Start(BundleRepository repo, byte[] key, ulong latest, string? catalogPath, RewardJoinOptions join, long asOf, TrainerOptions options, DateTimeOffset now)
    {
        var (parentManifest, current) = repo.ReadForTraining(latest, key);
        var embeddings = repo.LoadEmbeddings();
        if (catalogPath is not null)
        {
            var catalog = CatalogReader.Load(catalogPath);
            var space = current.Values.First().Features;
            var merged = CatalogModelBuilder.Build(catalog, latest + 1, space, current);
            embeddings = repo.MergeEmbeddings(catalog.Embeddings());
            Trainer.FoldIntoNewImages(merged, current, repo.LoadCrossTitle(), embeddings);
            current = merged.ToDictionary(m => m.TitleId);
        }

        // The parent bundle's newest example dates the prior, so forgetting ages it by the data between the runs.
        options = options with { PriorDataToMs = parentManifest.TrainingToMs };
        return new TrainingStart(repo, key, latest, parentManifest, current, embeddings, join, asOf, options, now);
    }

    /// <summary>
    /// The fit both trainers run: warm start from <see cref="TrainingStart.Current"/> with the start's options (forgetting
    /// aged from the parent bundle) and embeddings; the report carries the join's counters and the quality-play rule
    /// the examples were labelled with (both end up in the manifest's metrics).
    /// </summary>
    internal static (List<TitleModel> Models, TrainingReport Report) Fit(TrainingStart start, List<LabeledExample> examples, CrossTitleModel cross, ulong version, RewardJoiner joiner)
    {
        var (models, report) = Trainer.Train(start.Current, examples, cross, version, start.Options, start.Embeddings);
        return (models, report with { Join = joiner.Counters, QualityRule = start.Join.Rule.Describe() });
    }

    /// <summary>Writes the trained models as bundle <paramref name="version"/> and the cross-title state beside it; returns the serving bundle's path.</summary>
    internal static string WriteBundle(TrainingStart start, ulong version, List<TitleModel> models, TrainingReport report, CrossTitleModel cross)
    {
        var manifest = new BundleManifest
        {
            Version = version,
            ParentVersion = start.Parent.Version,
            CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            TrainingFromMs = report.FromMs,
            TrainingToMs = report.ToMs,
            Full = true,
            MetricsJson = JsonSerializer.Serialize(report, TrainingJsonContext.Default.TrainingReport),
        };
        var path = start.Repository.Write(manifest, models, start.Key);
        File.WriteAllText(Path.Combine(start.Repository.StateDirectory, "cross-title.json"), cross.ToJson());
        return path;
    }

    /// <summary>The result line (or the JSON report) on stdout.</summary>
    internal static void PrintReport(CliContext context, TrainingReport report, RewardJoiner joiner, bool json)
    {
        if (json)
        {
            context.Out.WriteLine(JsonSerializer.Serialize(report, TrainingJsonContext.Default.TrainingReport));
            return;
        }

        var counters = joiner.Counters;
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"examples {report.Examples} (positives {report.Positives}, short plays {counters.ShortPlays}), pending {joiner.PendingCount}, " +
            $"rewards {counters.Rewards} duplicate {counters.DuplicateRewards} late {counters.LateRewards} unknown {counters.UnknownRewards} invalid {counters.InvalidRewards}, " +
            $"fallbacks {counters.Fallbacks}, titles {report.TitlesTrained}, images {report.ImagesTrained}, " +
            $"forget half-life {report.ForgettingHalfLifeHours} h (prior aged {report.PriorAgeHours:F1} h), {report.QualityRule}"));
    }

    /// <summary>
    /// <c>--as-of</c>: unix milliseconds, an ISO-8601 time, <c>now</c>, or <c>now+DURATION</c> / <c>+DURATION</c> with a
    /// unit of m, h or d.
    /// </summary>
    internal static long ParseAsOf(string text, DateTimeOffset now)
    {
        var inv = CultureInfo.InvariantCulture;
        if (long.TryParse(text, NumberStyles.None, inv, out var ms))
        {
            return ms;
        }

        var relative = text.StartsWith("now", StringComparison.Ordinal) ? text[3..] : text;
        if (relative.Length == 0)
        {
            return now.ToUnixTimeMilliseconds();
        }

        if (relative[0] == '+' && relative.Length > 2
            && double.TryParse(relative[1..^1], NumberStyles.Float, inv, out var amount) && double.IsFinite(amount) && amount >= 0)
        {
            TimeSpan? offset = relative[^1] switch
            {
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => null,
            };
            if (offset is { } o)
            {
                return (now + o).ToUnixTimeMilliseconds();
            }
        }

        // ISO 8601 only (2026-12-03 or 2026-12-03T00:00:00Z): the general parser would take "+24" as a time too.
        if (text.Length >= 10 && char.IsAsciiDigit(text[0]) && text[4] == '-'
            && DateTimeOffset.TryParse(text, inv, DateTimeStyles.AssumeUniversal, out var time))
        {
            return time.ToUnixTimeMilliseconds();
        }

        throw new UsageException($"--as-of: '{text}' is not unix milliseconds, an ISO-8601 time or now+DURATION (+24h, +90m, +2d).");
    }

    // The node rotates its logs (LogRetentionMB) whether or not a trainer has read them: say so when it happened.
    private static void WarnIfRotatedAway(CliContext context, string what, long position, long begin)
    {
        if (begin > Math.Max(position, 64))
        {
            context.Message(string.Create(CultureInfo.InvariantCulture,
                $"warning: {begin - Math.Max(position, 64)} bytes of the {what} log were rotated away before this trainer read them (raise LogRetentionMB or train more often)."));
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
            joiner.AddEntry(record);
        }
    }
}

/// <summary>What a training run starts from, read and checked once by <see cref="TrainCommand"/> for either source of events.</summary>
internal sealed record TrainingStart(
    BundleRepository Repository,
    byte[] Key,
    ulong LatestVersion,
    BundleManifest Parent,
    Dictionary<uint, TitleModel> Current,
    ImageEmbeddings Embeddings,
    RewardJoinOptions Join,
    long AsOfMs,
    TrainerOptions Options,
    DateTimeOffset Now);

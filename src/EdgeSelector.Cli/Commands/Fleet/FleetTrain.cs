using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeSelector.Core.Bundles;
using EdgeSelector.Core.Logging;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Events;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Training;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// <c>edgesel train --nats URL</c>: the fleet-wide trainer (docs/fleet.md, "Training"). Pulls the impressions and
/// rewards every node shipped through durable consumers, drops what it already took by event id, joins a reward to its
/// impression whichever nodes each reached, trains, writes the next bundle and publishes it. Order: fetch → join →
/// bundle on disk → join and de-duplication state on disk → acknowledge → publish; a crash anywhere re-delivers and
/// the de-duplication makes the re-run take nothing twice.
/// </summary>
internal static class FleetTrain
{
    public static int Run(CommandArgs args, string url, RewardJoinOptions join, long asOf, TrainerOptions options, TextWriter stdout, TextWriter stderr)
    {
        var repo = new BundleRepository(args.Require("models"));
        var key = Secrets.BundleKey(args);
        var maxMessages = args.Get("max-messages") is { } m
            ? (int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new UsageException("--max-messages must be a positive integer."))
            : 4096;
        try
        {
            var latest = repo.LatestVersion();
            if (latest == 0)
            {
                throw new CommandInputException($"{repo.Directory}: no bundle to start from; run edgesel bundle --catalog first.");
            }

            var (parentManifest, current) = repo.ReadForTraining(latest, key);
            var stateDir = Path.Combine(repo.StateDirectory, "fleet");
            Directory.CreateDirectory(stateDir);
            var pendingPath = Path.Combine(stateDir, "pending.esrf");
            var dedupePath = Path.Combine(stateDir, "seen.bin");
            var statePath = Path.Combine(stateDir, "state.json");
            var joiner = new RewardJoiner(join);
            joiner.LoadPending(pendingPath);
            var dedupe = EventDedupe.Load(dedupePath);
            var lastVersion = File.Exists(statePath)
                ? (JsonSerializer.Deserialize(File.ReadAllText(statePath), TrainingJsonContext.Default.TrainerState)?.LastVersion ?? 0)
                : 0;

            var connection = FleetCli.Connect(url, "train");
            using var _ = FleetCommand.AsDisposable(connection);
            var rewardsIn = EventFetcher.OpenAsync(connection, EventKind.Rewards, FleetNames.TrainerConsumer).GetAwaiter().GetResult();
            var impressionsIn = EventFetcher.OpenAsync(connection, EventKind.Impressions, FleetNames.TrainerConsumer).GetAwaiter().GetResult();

            // Rewards first, as edgesel train does: a reward held for an impression not read yet waits in the join.
            var rewardMessages = rewardsIn.FetchAvailableAsync(maxMessages).GetAwaiter().GetResult();
            var impressionMessages = impressionsIn.FetchAvailableAsync(maxMessages).GetAwaiter().GetResult();
            var rewards = new List<RewardRecord>();
            var decoder = new Decoder(joiner, dedupe, rewards);
            foreach (var msg in rewardMessages)
            {
                EventBatch.ForEach(msg.Data ?? [], ref decoder);
            }

            foreach (var msg in impressionMessages)
            {
                EventBatch.ForEach(msg.Data ?? [], ref decoder);
            }

            foreach (var reward in rewards)
            {
                joiner.AddReward(reward);
            }

            var examples = joiner.Close(asOf);
            var cross = repo.LoadCrossTitle();
            var version = Math.Max(latest, lastVersion) + 1;
            var (models, report) = Trainer.Train(current, examples, cross, version, options with { PriorDataToMs = parentManifest.TrainingToMs }, repo.LoadEmbeddings());
            report = report with { Join = joiner.Counters, QualityRule = join.Rule.Describe() };
            string? bundlePath = null;
            if (examples.Count > 0)
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
                bundlePath = repo.Write(manifest, models, key);
                File.WriteAllText(Path.Combine(repo.StateDirectory, "cross-title.json"), cross.ToJson());
                if (args.Get("examples-out") is { } examplesOut)
                {
                    AppendExamples(examplesOut, examples);
                }
            }

            // Durable before acknowledged: what the trainer took is on disk before the streams forget it was delivered.
            joiner.SavePending(pendingPath);
            dedupe.Prune(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)TimeSpan.FromDays(Number(args, "dedupe-days", 8)).TotalMilliseconds);
            dedupe.Save(dedupePath);
            File.WriteAllText(statePath + ".tmp", JsonSerializer.Serialize(new TrainerState { LastVersion = bundlePath is null ? lastVersion : version }, TrainingJsonContext.Default.TrainerState));
            File.Move(statePath + ".tmp", statePath, overwrite: true);
            EventFetcher.AckAllAsync(rewardMessages).GetAwaiter().GetResult();
            EventFetcher.AckAllAsync(impressionMessages).GetAwaiter().GetResult();

            var c = joiner.Counters;
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"edgesel train: {impressionMessages.Count} impression and {rewardMessages.Count} reward messages; duplicates dropped: {dedupe.DuplicateImpressions} impressions, {dedupe.DuplicateRewards} rewards"));
            if (impressionMessages.Count == maxMessages || rewardMessages.Count == maxMessages)
            {
                stderr.WriteLine("edgesel train: --max-messages reached: more events are waiting; run again.");
            }

            var exit = Program.ExitOk;
            if (bundlePath is not null)
            {
                stderr.WriteLine($"edgesel train: bundle {version} -> {bundlePath}");
                if (!args.Has("no-publish"))
                {
                    try
                    {
                        var pointer = new BundleChannel(connection).PublishAsync(File.ReadAllBytes(bundlePath), version).GetAwaiter().GetResult();
                        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"edgesel train: bundle {pointer.Version} published to the fleet"));
                    }
                    catch (Exception e) when (e is FleetException or NatsException or TimeoutException)
                    {
                        stderr.WriteLine($"edgesel train: bundle {version} is written but not published ({e.Message}); publish it with edgesel push --nats {url} --models {repo.Directory}");
                        exit = Program.ExitInputError;
                    }
                }
            }
            else
            {
                stderr.WriteLine("edgesel train: no impression's window has closed since the last run; no bundle written.");
            }

            if (args.Has("json"))
            {
                stdout.WriteLine(JsonSerializer.Serialize(report, TrainingJsonContext.Default.TrainingReport));
            }
            else
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"examples {report.Examples} (positives {report.Positives}, short plays {c.ShortPlays}), pending {joiner.PendingCount}, " +
                    $"rewards {c.Rewards} duplicate {c.DuplicateRewards} late {c.LateRewards} unknown {c.UnknownRewards} invalid {c.InvalidRewards}, " +
                    $"fallbacks {c.Fallbacks}, titles {report.TitlesTrained}, images {report.ImagesTrained}"));
            }

            return exit;
        }
        catch (Exception e) when (e is FleetException or NatsException or TimeoutException or InvalidDataException or IOException or CommandInputException or ArgumentException or JsonException or FormatException)
        {
            stderr.WriteLine($"edgesel train: {e.Message}");
            return Program.ExitInputError;
        }
    }

    private static void AppendExamples(string path, List<LabeledExample> examples)
    {
        var exists = File.Exists(path);
        using var writer = new StreamWriter(path, append: true, Encoding.UTF8);
        if (!exists)
        {
            writer.WriteLine("event_id,node,title_id,image_id,propensity,model_version,label,play_started");
        }

        foreach (var e in examples)
        {
            var i = e.Impression;
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{i.EventId},{i.EventId >> 52},{i.TitleId},{i.ChosenImageId},{i.Propensity:R},{i.ModelVersion},{(e.Label ? 1 : 0)},{(e.PlayStarted ? 1 : 0)}"));
        }
    }

    private static double Number(CommandArgs args, string name, double fallback) =>
        args.Get(name) is not { } text ? fallback
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && double.IsFinite(v) ? v
        : throw new UsageException($"--{name} must be a positive number.");

    /// <summary>Decodes the entries of packed messages with the shared record readers (PLAN decision 4).</summary>
    private struct Decoder(RewardJoiner joiner, EventDedupe dedupe, List<RewardRecord> rewards) : IEntryConsumer
    {
        public readonly void Consume(ReadOnlySpan<byte> entry)
        {
            switch (LogRecord.PeekKind(entry))
            {
                case LogRecordKind.Impression when ImpressionRecord.TryRead(entry, out var impression):
                    if (dedupe.TakeImpression(impression))
                    {
                        joiner.AddImpression(impression);
                    }

                    break;
                case LogRecordKind.Reward when RewardRecord.TryRead(entry, out var reward):
                    if (dedupe.TakeReward(reward))
                    {
                        rewards.Add(reward);
                    }

                    break;
                default:
                    break; // a record this version cannot read: skipped, as the local readers do
            }
        }
    }
}

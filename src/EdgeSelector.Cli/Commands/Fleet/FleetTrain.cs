using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Core.Logging;
using EdgeSelector.Core.Rollout;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Events;
using EdgeSelector.Learning.Join;
using EdgeSelector.Learning.Rollout;
using EdgeSelector.Learning.Training;
using NATS.Client.Core;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// The <c>--nats</c> options of <c>edgesel train</c>. <paramref name="Gate"/>, with <c>--gate</c>, judges the run's
/// examples before the fit (<see cref="TrainGate.Judge"/>); a bundle that passes is started as the fleet's candidate on
/// <paramref name="CandidateFraction"/> of members instead of being published as active.
/// </summary>
internal sealed record FleetTrainOptions(
    string Url, int MaxMessages, string? ExamplesOut, double DedupeDays, bool Publish, bool Json, RolloutTestOptions RolloutTest, bool RolloutDecide,
    Func<List<LabeledExample>, CrossTitleModel, ulong, GateReport>? Gate = null, double CandidateFraction = FleetCandidate.DefaultFraction);

/// <summary>
/// <c>edgesel train --nats URL</c>: the fleet-wide trainer (docs/fleet.md, "Training"). Pulls the impressions and
/// rewards every node shipped through durable consumers, drops what it already took by event id, joins a reward to its
/// impression whichever nodes each reached, trains, writes the next bundle and publishes it. Order: fetch → join →
/// bundle on disk → join and de-duplication state on disk → acknowledge → publish; a crash anywhere re-delivers and
/// the de-duplication makes the re-run take nothing twice. With <c>--gate</c> the offline gate judges the examples
/// first: refused, nothing is written or published (the events are still taken, as a local run's positions move on,
/// exit 3); passed, the bundle is written and started as the fleet's candidate, never published as active.
/// </summary>
internal static class FleetTrain
{
    public static int Run(TrainingStart start, FleetTrainOptions fleet, Progress progress, CliContext context)
    {
        var repo = start.Repository;
        var stateDir = Path.Combine(repo.StateDirectory, "fleet");
        Directory.CreateDirectory(stateDir);
        var pendingPath = Path.Combine(stateDir, "pending.esrf");
        var dedupePath = Path.Combine(stateDir, "seen.bin");
        var statePath = Path.Combine(stateDir, "state.json");
        var joiner = new RewardJoiner(start.Join);
        joiner.LoadPending(pendingPath);
        var dedupe = EventDedupe.Load(dedupePath);
        var lastVersion = File.Exists(statePath)
            ? (JsonSerializer.Deserialize(File.ReadAllText(statePath), TrainingJsonContext.Default.TrainerState)?.LastVersion ?? 0)
            : 0;

        progress.Step($"fetching events from {fleet.Url}");
        var cancellation = context.Cancellation;
        var connection = FleetCli.Connect(fleet.Url, "train", cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        var rewardsIn = EventFetcher.OpenAsync(connection, EventKind.Rewards, FleetNames.TrainerConsumer, cancellation).GetAwaiter().GetResult();
        var impressionsIn = EventFetcher.OpenAsync(connection, EventKind.Impressions, FleetNames.TrainerConsumer, cancellation).GetAwaiter().GetResult();
        var rollout = FleetRolloutRun.Open(connection, stateDir, cancellation); // the fleet's candidate, if one is tried (docs/rollout.md, "Fleet")

        // Rewards first, as edgesel train does: a reward held for an impression not read yet waits in the join.
        var rewardMessages = rewardsIn.FetchAvailableAsync(fleet.MaxMessages, cancellation).GetAwaiter().GetResult();
        var impressionMessages = impressionsIn.FetchAvailableAsync(fleet.MaxMessages, cancellation).GetAwaiter().GetResult();
        var rewards = new List<RewardRecord>();
        var decoder = new Decoder(joiner, dedupe, rewards, rollout);
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

        rollout?.AddRewards(rewards, start.Join.Rule);

        var examples = joiner.Close(start.AsOfMs);
        var cross = repo.LoadCrossTitle();
        var version = BundleVersions.Next(Math.Max(start.LatestVersion, lastVersion), start.Now);
        progress.Step(string.Create(CultureInfo.InvariantCulture, $"fitting {examples.Count:N0} examples"));

        // The offline gate (--gate) judges on copies before the real fit, which updates the models in place.
        var gate = fleet.Gate is { } judge && examples.Count > 0 ? judge(examples, cross, version) : null;

        // The same fit as a local run: the quality-play rule, forgetting (the parent bundle aged from its newest
        // example) and the kept embeddings all come from the one TrainingStart.
        var (models, report) = TrainCommand.Fit(start, examples, cross, version, joiner);
        report = report with { Gate = gate };
        string? bundlePath = null;
        if (examples.Count > 0)
        {
            if (gate is not { Publish: false })
            {
                bundlePath = TrainCommand.WriteBundle(start, version, models, report, cross);
            }

            if (fleet.ExamplesOut is { } examplesOut)
            {
                AppendExamples(examplesOut, examples);
            }
        }

        // Durable before acknowledged: what the trainer took is on disk before the streams forget it was delivered.
        joiner.SavePending(pendingPath);
        dedupe.Prune(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)TimeSpan.FromDays(fleet.DedupeDays).TotalMilliseconds);
        dedupe.Save(dedupePath);
        rollout?.Save();
        File.WriteAllText(statePath + ".tmp", JsonSerializer.Serialize(new TrainerState { LastVersion = examples.Count > 0 ? version : lastVersion }, TrainingJsonContext.Default.TrainerState));
        File.Move(statePath + ".tmp", statePath, overwrite: true);
        // Acknowledged without the command's cancellation: once the state is on disk, stopping half-way through the
        // acks only means redeliveries, which the saved ids drop; there is nothing to gain from stopping here.
        EventFetcher.AckAllAsync(rewardMessages).GetAwaiter().GetResult();
        EventFetcher.AckAllAsync(impressionMessages).GetAwaiter().GetResult();
        progress.Dispose();

        context.Message(string.Create(CultureInfo.InvariantCulture,
            $"{impressionMessages.Count} impression and {rewardMessages.Count} reward messages; duplicates dropped: {dedupe.DuplicateImpressions} impressions, {dedupe.DuplicateRewards} rewards"));
        if (impressionMessages.Count == fleet.MaxMessages || rewardMessages.Count == fleet.MaxMessages)
        {
            context.Message("--max-messages reached: more events are waiting; run again.");
        }

        var exit = ExitCodes.Ok;
        var rolloutReport = rollout?.Decide(fleet.RolloutTest, fleet.RolloutDecide, context);
        if (gate is { Publish: false })
        {
            context.Message($"gate: bundle {version} not written: {gate.Reason}");
            exit = TrainGate.ExitRefused;
        }
        else if (bundlePath is not null)
        {
            context.Message($"bundle {version} -> {bundlePath}");
            if (gate is not null)
            {
                context.Message($"gate: {gate.Reason}");
            }

            if (fleet.Publish && rollout is { Running: true } && rolloutReport is { Published: false })
            {
                // Pointing the fleet at a newer active bundle, or starting a newer candidate, would end the trial on
                // every node (superseded, replaced) and throw its counts away.
                context.Message(gate is null
                    ? $"bundle {version} is written but not published: candidate {rollout.Pointer.Version} is being tried in the fleet (publish it with edgesel push --nats once it is decided)"
                    : $"bundle {version} is written but not started as the fleet's candidate: candidate {rollout.Pointer.Version} is being tried (start it with edgesel rollout start --nats {fleet.Url} --bundle {bundlePath} once that one is decided)");
            }
            else if (fleet.Publish && gate is not null)
            {
                exit = StartCandidate(connection, start, bundlePath, version, fleet, context);
            }
            else if (fleet.Publish)
            {
                try
                {
                    var pointer = new BundleChannel(connection).PublishAsync(File.ReadAllBytes(bundlePath), version, cancellation).GetAwaiter().GetResult();
                    context.Message(string.Create(CultureInfo.InvariantCulture, $"bundle {pointer.Version} published to the fleet"));
                }
                catch (Exception e) when (e is FleetException or NatsException or TimeoutException)
                {
                    context.Message($"bundle {version} is written but not published ({e.Message}); publish it with edgesel push --nats {fleet.Url} --models {repo.Directory}");
                    exit = ExitCodes.Failed;
                }
            }
        }
        else
        {
            context.Message("no impression's window has closed since the last run; no bundle written.");
        }

        if (rolloutReport is not null && !fleet.Json)
        {
            FleetRolloutRun.Print(context.Out, rolloutReport);
        }

        TrainCommand.PrintReport(context, report with { Rollout = rolloutReport }, joiner, fleet.Json);
        return exit;
    }

    // A bundle that passed the gate goes to the fleet's candidate slot (as edgesel rollout start --nats), never to the
    // active pointer: every node tries it on the fraction of members and edgesel train --nats decides it.
    private static int StartCandidate(FleetConnection connection, TrainingStart start, string bundlePath, ulong version, FleetTrainOptions fleet, CliContext context)
    {
        try
        {
            var bytes = File.ReadAllBytes(bundlePath);
            var candidate = FleetCandidate.Check(bytes, start.Key, bundlePath);
            var reason = string.Create(CultureInfo.InvariantCulture, $"candidate {version} for {fleet.CandidateFraction:0.####} of members: passed the offline gate");
            var pointer = FleetCandidate.Start(connection, candidate, bytes, start.Key, fleet.CandidateFraction, reason, "gate", context.Cancellation);
            context.Message(string.Create(CultureInfo.InvariantCulture,
                $"bundle {pointer.Version} started as the fleet's candidate on {pointer.Fraction:0.####} of members against active {pointer.ActiveVersion} (edgesel rollout status --nats {fleet.Url})"));
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is FleetException or NatsException or TimeoutException or CommandInputException)
        {
            context.Message($"bundle {version} is written but not started as the fleet's candidate ({e.Message}); start it with edgesel rollout start --nats {fleet.Url} --bundle {bundlePath}");
            return ExitCodes.Failed;
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

    /// <summary>Decodes the entries of packed messages with the shared record readers (PLAN decision 4).</summary>
    private struct Decoder(RewardJoiner joiner, EventDedupe dedupe, List<RewardRecord> rewards, FleetRolloutRun? rollout) : IEntryConsumer
    {
        public readonly void Consume(ReadOnlySpan<byte> entry)
        {
            switch (LogRecord.PeekKind(entry))
            {
                case LogRecordKind.ImpressionPage or LogRecordKind.Impression when ImpressionEntry.TryRead(entry, out var impressions):
                    foreach (var impression in impressions)
                    {
                        if (dedupe.TakeImpression(impression))
                        {
                            joiner.AddImpression(impression);
                            rollout?.AddImpression(impression);
                        }
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

using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Profiles;
using NATS.Client.Core;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>The <c>--nats</c> forms of <c>push</c>, <c>rollback</c> and <c>profiles import</c> (docs/fleet.md).</summary>
internal static class FleetDeploy
{
    /// <summary>Uploads a bundle to the Object Store and points the fleet at it.</summary>
    public static int Push(string url, string path, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            var version = FleetCli.BundleVersion(bytes, path);
            var connection = FleetCli.Connect(url, "push");
            using var _ = FleetCommand.AsDisposable(connection);
            var pointer = new BundleChannel(connection).PublishAsync(bytes, version).GetAwaiter().GetResult();
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{url}: bundle {pointer.Version} published as {pointer.Object} (sha256 {pointer.Sha256[..12]}…, {pointer.Size} bytes); every node applies it (edgesel fleet status)"));
            return Program.ExitOk;
        }
        catch (Exception e) when (e is FleetException or NatsException or TimeoutException or CommandInputException or IOException)
        {
            stderr.WriteLine($"edgesel push: {e.Message}");
            return Program.ExitInputError;
        }
    }

    /// <summary>Points the fleet at <paramref name="to"/>, or at the version the pointer held before the current one.</summary>
    public static int Rollback(string url, string? to, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var connection = FleetCli.Connect(url, "rollback");
            using var _ = FleetCommand.AsDisposable(connection);
            var channel = new BundleChannel(connection);
            ulong version;
            if (to is not null)
            {
                version = ulong.TryParse(to, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new UsageException("--to must be a bundle version.");
            }
            else
            {
                var history = channel.HistoryAsync().GetAwaiter().GetResult();
                var current = history.FirstOrDefault()?.Version ?? throw new CommandInputException("nothing was ever pushed: no bundle to roll back to");
                version = history.Select(p => p.Version).FirstOrDefault(v => v != current);
                if (version == 0)
                {
                    throw new CommandInputException($"the pointer has only ever named version {current}: no previous bundle (give --to VERSION)");
                }
            }

            var pointer = channel.RepointAsync(version).GetAwaiter().GetResult();
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{url}: fleet pointed back at bundle {pointer.Version} ({pointer.Object})"));
            return Program.ExitOk;
        }
        catch (Exception e) when (e is FleetException or NatsException or TimeoutException or CommandInputException)
        {
            stderr.WriteLine($"edgesel rollback: {e.Message}");
            return Program.ExitInputError;
        }
    }

    /// <summary>
    /// Publishes the profiles of <paramref name="file"/> in batches to the profile stream; with <paramref name="replace"/>,
    /// then purges every batch published before this import (it is the whole set).
    /// </summary>
    public static int ImportProfiles(string url, string file, IEnumerable<(ProfileRecord Profile, long Where)> profiles, int batchSize, bool replace, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var connection = FleetCli.Connect(url, "profiles");
            using var _ = FleetCommand.AsDisposable(connection);
            var channel = new ProfileChannel(connection);
            var before = channel.LastSequenceAsync().GetAwaiter().GetResult();
            var import = RandomNumberGenerator.GetHexString(12, lowercase: true);
            long sent = 0;
            var batches = 0;
            ulong first = 0, last = 0;
            var batch = new List<ProfileRecord>(batchSize);
            void Flush()
            {
                var body = JsonSerializer.SerializeToUtf8Bytes(new ProfileBatchBody(batch), ProfilesJsonContext.Default.ProfileBatchBody);
                last = channel.PublishAsync(body, string.Create(CultureInfo.InvariantCulture, $"profiles.{import}.{batches}")).GetAwaiter().GetResult();
                first = first == 0 ? last : first;
                sent += batch.Count;
                batches++;
                batch.Clear();
            }

            foreach (var (profile, _) in profiles)
            {
                batch.Add(profile);
                if (batch.Count == batchSize)
                {
                    Flush();
                }
            }

            if (batch.Count > 0)
            {
                Flush();
            }

            if (replace && first > before + 1)
            {
                channel.PurgeBeforeAsync(first).GetAwaiter().GetResult();
            }

            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{sent} profiles published to {FleetNames.ProfileStream} in {batches} batch(es), sequences {first}..{last}{(replace && first > before + 1 ? $"; batches before {first} purged" : string.Empty)}"));
            return Program.ExitOk;
        }
        catch (Exception e) when (e is FleetException or NatsException or TimeoutException or CommandInputException or JsonException or IOException)
        {
            stderr.WriteLine($"edgesel profiles: {file}: {e.Message}");
            return Program.ExitInputError;
        }
    }
}

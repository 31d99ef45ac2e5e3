using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeSelector.Cli.Infrastructure;
using EdgeSelector.Fleet;
using EdgeSelector.Fleet.Bundles;
using EdgeSelector.Fleet.Profiles;

namespace EdgeSelector.Cli.Commands.Fleet;

/// <summary>
/// The <c>--nats</c> forms of <c>push</c>, <c>rollback</c> and <c>profiles import</c> (docs/fleet.md). Failures throw
/// (<see cref="FleetException"/>, <see cref="CommandInputException"/>): <see cref="CliCommand"/> prints the one line
/// and exits 1.
/// </summary>
internal static class FleetDeploy
{
    /// <summary>Uploads a bundle to the Object Store and points the fleet at it.</summary>
    public static int Push(string url, string path, CliContext context)
    {
        var bytes = File.ReadAllBytes(path);
        var version = FleetCli.BundleVersion(bytes, path);
        var connection = FleetCli.Connect(url, "push", context.Cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        BundlePointer pointer;
        using (context.Progress(string.Create(CultureInfo.InvariantCulture, $"publishing bundle {version} ({bytes.Length:N0} bytes) to {url}")))
        {
            pointer = new BundleChannel(connection).PublishAsync(bytes, version, context.Cancellation).GetAwaiter().GetResult();
        }

        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{url}: bundle {pointer.Version} published as {pointer.Object} (sha256 {pointer.Sha256[..12]}…, {pointer.Size} bytes); every node applies it (edgesel fleet status)"));
        return ExitCodes.Ok;
    }

    /// <summary>Points the fleet at <paramref name="to"/>, or at the version the pointer held before the current one.</summary>
    public static int Rollback(string url, ulong? to, CliContext context)
    {
        var connection = FleetCli.Connect(url, "rollback", context.Cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        var channel = new BundleChannel(connection);
        ulong version;
        if (to is { } target)
        {
            version = target;
        }
        else
        {
            var history = channel.HistoryAsync(context.Cancellation).GetAwaiter().GetResult();
            var current = history.FirstOrDefault()?.Version ?? throw new CommandInputException("nothing was ever pushed: no bundle to roll back to");
            version = history.Select(p => p.Version).FirstOrDefault(v => v != current);
            if (version == 0)
            {
                throw new CommandInputException($"the pointer has only ever named version {current}: no previous bundle (give --to VERSION)");
            }
        }

        var pointer = channel.RepointAsync(version, context.Cancellation).GetAwaiter().GetResult();
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{url}: fleet pointed back at bundle {pointer.Version} ({pointer.Object})"));
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Publishes the profiles of <paramref name="file"/> in batches to the profile stream; with <paramref name="replace"/>,
    /// then purges every batch published before this import (it is the whole set).
    /// </summary>
    public static int ImportProfiles(string url, string file, IEnumerable<(ProfileRecord Profile, long Where)> profiles, int batchSize, bool replace, CliContext context)
    {
        var connection = FleetCli.Connect(url, "profiles", context.Cancellation);
        using var _ = FleetCli.AsDisposable(connection);
        var channel = new ProfileChannel(connection);
        var before = channel.LastSequenceAsync(context.Cancellation).GetAwaiter().GetResult();
        var import = RandomNumberGenerator.GetHexString(12, lowercase: true);
        long sent = 0;
        var batches = 0;
        ulong first = 0, last = 0;
        var batch = new List<ProfileRecord>(batchSize);
        using var progress = context.Progress($"publishing {file} to {FleetNames.ProfileStream}");
        void Flush()
        {
            var body = JsonSerializer.SerializeToUtf8Bytes(new ProfileBatchBody(batch), ProfilesJsonContext.Default.ProfileBatchBody);
            last = channel.PublishAsync(body, string.Create(CultureInfo.InvariantCulture, $"profiles.{import}.{batches}"), context.Cancellation).GetAwaiter().GetResult();
            first = first == 0 ? last : first;
            sent += batch.Count;
            batches++;
            batch.Clear();
            progress.Step(string.Create(CultureInfo.InvariantCulture, $"{sent:N0} profiles published"));
        }

        try
        {
            foreach (var (profile, _) in profiles)
            {
                batch.Add(profile);
                if (batch.Count == batchSize)
                {
                    Flush();
                }
            }
        }
        catch (JsonException e)
        {
            throw new CommandInputException($"{file}: {e.Message}", e);
        }

        if (batch.Count > 0)
        {
            Flush();
        }

        var purged = replace && first > before + 1;
        if (purged)
        {
            channel.PurgeBeforeAsync(first, context.Cancellation).GetAwaiter().GetResult();
        }

        progress.Dispose();
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{sent} profiles published to {FleetNames.ProfileStream} in {batches} batch(es), sequences {first}..{last}{(purged ? $"; batches before {first} purged" : string.Empty)}"));
        return ExitCodes.Ok;
    }
}

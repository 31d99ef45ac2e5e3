using System.Text.Json;
using EdgeSelector.Storage;
using EdgeSelector.Storage.Models;

namespace EdgeSelector.Server.Serving;

/// <summary>
/// Migrates what older data directories hold outside the model store: <c>bundles.json</c> (the bundle history) and
/// <c>default-images.bin</c> (the default images) move into the model store's metadata slots, durably, and the files
/// are renamed <c>*.migrated</c>. A damaged file is reported (what is kept, what is lost), renamed <c>*.damaged</c>, and
/// never stops the node: the bundles themselves are in the model store.
/// </summary>
internal static class LegacyFiles
{
    public const string BundleHistoryFile = "bundles.json";
    public const string DefaultImagesFile = "default-images.bin";

    /// <summary>Migrates both files if present; returns one line per thing done or found (for the start-up log).</summary>
    public static List<(bool Damaged, string Message)> Migrate(string dataDir, ModelStore models, TimeSpan within)
    {
        var notes = new List<(bool, string)>();
        var defaults = Path.Combine(dataDir, DefaultImagesFile);
        if (File.Exists(defaults))
        {
            var bytes = File.ReadAllBytes(defaults);
            var map = DefaultImages.Decode(bytes);
            bool damaged = bytes.Length % 8 != 0;
            if (models.TryGetMetadata(DefaultImages.Slot, out var stored))
            {
                // Merge: a title's newer default (from the store) wins over the file's.
                foreach (var (title, image) in DefaultImages.Decode(stored))
                {
                    map[title] = image;
                }
            }

            notes.Add(Store(models, DefaultImages.Slot, DefaultImages.Encode(map), defaults, damaged, within, damaged
                ? $"{defaults} is damaged ({bytes.Length} bytes, not whole 8-byte entries): its first {map.Count} entries are kept, the partial one is lost"
                : $"{defaults}: {map.Count} default images moved into the model store"));
        }

        var history = Path.Combine(dataDir, BundleHistoryFile);
        if (File.Exists(history))
        {
            List<AppliedBundle>? applied = null;
            string? problem = null;
            try
            {
                applied = JsonSerializer.Deserialize(File.ReadAllBytes(history), ServingJsonContext.Default.ListAppliedBundle) ?? [];
            }
            catch (JsonException e)
            {
                problem = e.Message;
            }

            if (applied is null)
            {
                var versions = string.Join(", ", models.Generations.Select(g => g.Version));
                notes.Add((true, $"{history} is damaged ({problem}): the bundle history it held is lost; the bundles themselves are kept in the model store (versions {(versions.Length > 0 ? versions : "none")}); the file was renamed {Rename(history, ".damaged")}"));
            }
            else
            {
                // The file is older than anything the store recorded: its entries go first, the store's win on a version.
                List<AppliedBundle> stored = [];
                if (models.TryGetMetadata(BundleService.HistorySlot, out var storedBytes))
                {
                    stored = JsonSerializer.Deserialize(storedBytes, ServingJsonContext.Default.ListAppliedBundle) ?? [];
                }

                List<AppliedBundle> merged = [.. applied.Where(a => !stored.Any(s => s.Version == a.Version)), .. stored];
                var bytes = JsonSerializer.SerializeToUtf8Bytes(merged.TakeLast(BundleService.HistoryLength).ToList(), ServingJsonContext.Default.ListAppliedBundle);
                notes.Add(Store(models, BundleService.HistorySlot, bytes, history, damaged: false, within, $"{history}: the history of {applied.Count} bundles moved into the model store"));
            }
        }

        return notes;
    }

    private static (bool, string) Store(ModelStore models, uint slot, byte[] value, string file, bool damaged, TimeSpan within, string done)
    {
        var result = models.TryWriteMetadata(slot, value, within);
        return result.Status == StoreWriteStatus.Durable
            ? (damaged, $"{done}; the file was renamed {Rename(file, damaged ? ".damaged" : ".migrated")}")
            : (true, $"{file}: could not be moved into the model store yet ({result.Reason}); it is kept and the move is tried again at the next start");
    }

    private static string Rename(string file, string suffix)
    {
        var target = file + suffix;
        File.Move(file, target, overwrite: true);
        return target;
    }
}

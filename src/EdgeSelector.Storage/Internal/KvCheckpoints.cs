using System.Globalization;
using System.Text;
using EdgeSelector.Core.Numerics;
using EdgeSelector.Storage.Health;
using FASTER.core;

namespace EdgeSelector.Storage.Internal;

/// <summary>
/// The checkpoints of one FasterKV store and their integrity records. FASTER checks almost nothing when it recovers
/// (measured: a flipped, truncated, emptied or deleted hash index, checkpoint record or log segment mostly recovers an
/// empty or partial store without a word, docs/reliability.md), so after every checkpoint this writes a record of
/// CRC-32C and length of every file the checkpoint needs — its index and log checkpoint files and the log segments up to
/// the flushed address — and at open only a checkpoint whose files all match is recovered, newest first. The last
/// <see cref="Kept"/> verified checkpoints are kept (FASTER's own removal is off), so damage to the newest one falls back
/// to the one before it. A record names an index checkpoint and a log checkpoint; after a full checkpoint they are the
/// same token, and hybrid-log-only checkpoints (the profile store's periodic ones) name the last index checkpoint, so
/// many records share one index checkpoint: it is kept while any kept record names it, and while every kept record
/// names the same one, the newest record over an older index checkpoint is kept too (damage to the shared index files
/// still has a fallback).
/// </summary>
/// <remarks>
/// Layout under the store's directory: <c>checkpoints/</c> (FASTER's), <c>integrity/NNNNNNNNNN.txt</c>:
/// <code>
/// edgeselector-integrity 1
/// index &lt;guid&gt;
/// log &lt;guid&gt;
/// file &lt;crc32c hex&gt; &lt;bytes covered&gt; &lt;path relative to the store directory&gt;
/// </code>
/// A record is written to a temporary file, flushed to disk and renamed, so it is whole or absent. Log segment bytes
/// below the flushed address never change (FASTER writes each page once and folds over at a checkpoint), so their CRC is
/// extended incrementally and a checkpoint reads only what is new; the one exception, the sector holding a recovered
/// log's tail, is in <see cref="Adopt"/>. Segment files are deleted here, after a record, below the first segment a
/// kept record covers (<see cref="Log"/>), not by FASTER.
/// </remarks>
internal sealed class KvCheckpoints
{
    /// <summary>Verified checkpoints kept on disk.</summary>
    public const int Kept = 2;

    private const string Header = "edgeselector-integrity 1";

    private readonly string _root;
    private readonly string _logFileBase;
    private readonly long _segmentBytes;
    private readonly Dictionary<string, (long Covered, uint Crc)> _crcs = new(StringComparer.Ordinal);

    public KvCheckpoints(string root, string logFileBase, long segmentBytes, DeviceHealth health)
    {
        _root = root;
        _logFileBase = logFileBase;
        _segmentBytes = segmentBytes;
        Directory.CreateDirectory(LogDirectory);
        Log = new ResilientDevice(
            Devices.CreateLogDevice(Path.Combine(LogDirectory, logFileBase), preallocateFile: false, deleteOnClose: false, recoverDevice: true),
            health)
        {
            TruncatesOnlyWhenTold = true,
        };
        Manager = new DeferredCommitCheckpointManager(
            new DeviceLogCommitCheckpointManager(new ResilientDeviceFactory(health), new DefaultCheckpointNamingScheme(CheckpointDirectory), removeOutdated: false));
    }

    /// <summary>
    /// The store's checkpoint manager: FASTER's, over retrying devices, its metadata writes taken off FASTER's state
    /// machine (<see cref="DeferredCommitCheckpointManager"/>; a checkpoint is recorded by <see cref="RecordAsync"/>).
    /// </summary>
    public DeferredCommitCheckpointManager Manager { get; }

    /// <summary>
    /// The store's log device (the store disposes it). Its segment files are removed here, once no kept checkpoint needs
    /// them (<see cref="ResilientDevice.TruncatesOnlyWhenTold"/>), not when FASTER shifts the begin address.
    /// </summary>
    public ResilientDevice Log { get; }

    public string CheckpointDirectory => Path.Combine(_root, "checkpoints");

    public string IntegrityDirectory => Path.Combine(_root, "integrity");

    public string LogDirectory => Path.Combine(_root, "log");

    /// <summary>True if the directory holds anything FASTER wrote (checkpoints or log data).</summary>
    public bool HasFiles =>
        (Directory.Exists(CheckpointDirectory) && Directory.EnumerateFiles(CheckpointDirectory, "*", SearchOption.AllDirectories).Any())
        || (Directory.Exists(LogDirectory) && Directory.EnumerateFiles(LogDirectory).Any(f => new FileInfo(f).Length > 0));

    /// <summary>True if any integrity record exists (the store was written by a version that records them).</summary>
    public bool HasRecords => Records().Any();

    /// <summary>The integrity records, newest first, each verified against the files (lazily: stop at the one recovered).</summary>
    public IEnumerable<Candidate> Verify()
    {
        foreach (var record in Records())
        {
            yield return VerifyRecord(record, withIndex: true);
        }
    }

    /// <summary>
    /// The integrity records, newest first, each verified without its index checkpoint's files (the candidate's
    /// <see cref="Candidate.IndexToken"/> is empty): for recovering a hybrid-log checkpoint alone, its index rebuilt from
    /// a scan of the log, when no record's index checkpoint verifies (lazily, like <see cref="Verify"/>).
    /// </summary>
    public IEnumerable<Candidate> VerifyLogs()
    {
        foreach (var record in Records())
        {
            var candidate = VerifyRecord(record, withIndex: false);
            yield return candidate with { IndexToken = Guid.Empty };
        }
    }

    /// <summary>
    /// Log checkpoints on disk that no integrity record names: written after the last record (a crash between the
    /// checkpoint and its record: that change was never acknowledged) or their record was lost. Either way they are
    /// not recovered, and the report says so.
    /// </summary>
    public IReadOnlyList<Guid> UnrecordedCheckpoints()
    {
        var named = new HashSet<Guid>();
        foreach (var record in Records())
        {
            // A full checkpoint's log part shares its token with the index part a later record may name.
            if (TokensOf(record) is { } tokens)
            {
                named.Add(tokens.Index);
                named.Add(tokens.Log);
            }
        }

        var directory = Path.Combine(CheckpointDirectory, "cpr-checkpoints");
        return Directory.Exists(directory)
            ? [.. Directory.EnumerateDirectories(directory).Select(d => Guid.TryParse(Path.GetFileName(d), out var token) ? token : Guid.Empty).Where(t => t != Guid.Empty && !named.Contains(t))]
            : [];
    }

    /// <summary>
    /// The checkpoint of <paramref name="candidate"/> was recovered: its verified CRCs seed the incremental cache, but
    /// for the log segment its log ends in. FASTER's first flush after recovery rewrites the sector holding the recovered
    /// tail from memory, where recovery changed record headers (measured: a header bit cleared in the records there), so
    /// the bytes below that tail change once and the segment's CRC is computed afresh by the next record.
    /// </summary>
    public void Adopt(Candidate candidate)
    {
        _crcs.Clear();
        foreach (var (path, covered, crc) in candidate.Files)
        {
            if (covered < _segmentBytes && path.StartsWith(LogDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }

            _crcs[path] = (covered, crc);
        }
    }

    /// <summary>
    /// Records the checkpoint FASTER just completed, once its metadata files are on disk: awaits the deferred metadata
    /// writes (<see cref="DeferredCommitCheckpointManager.WhenWritten"/>; FASTER completes a checkpoint before they are
    /// written), then writes the integrity record (<see cref="Record"/>). The checkpoint is durable when this completes;
    /// it faults, and nothing is recorded, if a metadata write failed, so the store must not report it durable. A crash
    /// before the record leaves a checkpoint <see cref="KvOpen"/> does not recover (<see cref="UnrecordedCheckpoints"/>).
    /// </summary>
    public async Task RecordAsync(Guid indexToken, Guid logToken, long beginAddress, long flushedUntil)
    {
        await Manager.WhenWritten().ConfigureAwait(false);
        BeforeRecord?.Invoke();
        Record(indexToken, logToken, beginAddress, flushedUntil);
    }

    /// <summary>
    /// Tests only: runs after a checkpoint's metadata files are written and before its integrity record, on the
    /// checkpoint's thread (the crash-window tests copy the directory there, as a kill -9 would leave it).
    /// </summary>
    internal Action? BeforeRecord { get; set; }

    /// <summary>
    /// Records the checkpoint just taken (tokens, and the log up to <paramref name="flushedUntil"/>), then removes the
    /// checkpoints and records older than the last <see cref="Kept"/>. Throws <see cref="IOException"/> if the record
    /// cannot be written (the checkpoint is then not reported durable, and not recovered while a recorded one verifies).
    /// </summary>
    private void Record(Guid indexToken, Guid logToken, long beginAddress, long flushedUntil)
    {
        var text = new StringBuilder();
        text.Append(Header).Append('\n');
        text.Append("index ").Append(indexToken.ToString("D")).Append('\n');
        text.Append("log ").Append(logToken.ToString("D")).Append('\n');
        foreach (var file in CheckpointFiles(indexToken, logToken))
        {
            AppendFile(text, file, new FileInfo(file).Length);
        }

        for (long segment = beginAddress / _segmentBytes; segment * _segmentBytes < flushedUntil; segment++)
        {
            var path = SegmentPath(segment);
            if (File.Exists(path))
            {
                AppendFile(text, path, Math.Min(_segmentBytes, flushedUntil - (segment * _segmentBytes)));
            }
        }

        Directory.CreateDirectory(IntegrityDirectory);
        long sequence = Records().Select(SequenceOf).DefaultIfEmpty(0).Max() + 1;
        var target = Path.Combine(IntegrityDirectory, sequence.ToString("D10", CultureInfo.InvariantCulture) + ".txt");
        var temp = target + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, target, overwrite: true);
        Prune();
    }

    private static long SequenceOf(string record) =>
        long.TryParse(Path.GetFileNameWithoutExtension(record), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private IEnumerable<string> Records() => RecordsIn(IntegrityDirectory);

    /// <summary>The integrity records in <paramref name="integrityDirectory"/>, newest first.</summary>
    internal static IEnumerable<string> RecordsIn(string integrityDirectory) =>
        Directory.Exists(integrityDirectory)
            ? Directory.EnumerateFiles(integrityDirectory, "*.txt").OrderByDescending(SequenceOf)
            : [];

    private string SegmentPath(long segment) => Path.Combine(LogDirectory, _logFileBase + "." + segment.ToString(CultureInfo.InvariantCulture));

    private IEnumerable<string> CheckpointFiles(Guid indexToken, Guid logToken)
    {
        foreach (var directory in new[] { Path.Combine(CheckpointDirectory, "index-checkpoints", indexToken.ToString("D")), Path.Combine(CheckpointDirectory, "cpr-checkpoints", logToken.ToString("D")) })
        {
            if (Directory.Exists(directory))
            {
                foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    yield return file;
                }
            }
        }
    }

    private void AppendFile(StringBuilder text, string path, long covered)
    {
        var crc = Crc(path, covered, useCache: true);
        text.Append("file ").Append(crc.ToString("x8", CultureInfo.InvariantCulture)).Append(' ')
            .Append(covered.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(Path.GetRelativePath(_root, path)).Append('\n');
    }

    private Candidate VerifyRecord(string record, bool withIndex)
    {
        var indexFiles = Path.Combine("checkpoints", "index-checkpoints") + Path.DirectorySeparatorChar;
        var lines = File.ReadAllLines(record);
        if (lines.Length < 3 || lines[0] != Header
            || !lines[1].StartsWith("index ", StringComparison.Ordinal) || !Guid.TryParse(lines[1].AsSpan(6), out var indexToken)
            || !lines[2].StartsWith("log ", StringComparison.Ordinal) || !Guid.TryParse(lines[2].AsSpan(4), out var logToken))
        {
            return new Candidate(Guid.Empty, Guid.Empty, $"{record}: integrity record is unreadable", []);
        }

        var files = new List<(string, long, uint)>();

        foreach (var line in lines.Skip(3))
        {
            var parts = line.Split(' ', 4);
            if (parts.Length != 4 || parts[0] != "file"
                || !uint.TryParse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var crc)
                || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var covered))
            {
                return new Candidate(indexToken, logToken, $"{record}: integrity record is unreadable at '{line}'", files);
            }

            if (!withIndex && parts[3].StartsWith(indexFiles, StringComparison.Ordinal))
            {
                continue;
            }

            var path = Path.Combine(_root, parts[3]);
            if (!File.Exists(path))
            {
                return new Candidate(indexToken, logToken, $"{path}: missing", files);
            }

            long length = new FileInfo(path).Length;
            if (length < covered)
            {
                return new Candidate(indexToken, logToken, $"{path}: {length} bytes, checkpoint {logToken} needs {covered}", files);
            }

            var actual = Crc(path, covered, useCache: false);
            if (actual != crc)
            {
                return new Candidate(indexToken, logToken, $"{path}: checksum mismatch in its first {covered} bytes (damaged)", files);
            }

            files.Add((path, covered, actual));
        }

        return new Candidate(indexToken, logToken, null, files);
    }

    private uint Crc(string path, long covered, bool useCache)
    {
        uint crc = 0;
        long from = 0;
        if (useCache && _crcs.TryGetValue(path, out var cached) && cached.Covered <= covered)
        {
            crc = cached.Crc;
            from = cached.Covered;
        }

        if (from < covered)
        {
            var buffer = new byte[1 << 20];
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
            stream.Position = from;
            while (from < covered)
            {
                int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, covered - from));
                if (read <= 0)
                {
                    throw new IOException($"{path}: ends at byte {from}, expected {covered}");
                }

                crc = Crc32C.Append(crc, buffer.AsSpan(0, read));
                from += read;
            }
        }

        if (useCache)
        {
            _crcs[path] = (covered, crc);
        }

        return crc;
    }

    /// <summary>
    /// Removes records beyond the last <see cref="Kept"/> (but for the newest one over an older index checkpoint, while
    /// all kept records share one) and every checkpoint none of the kept records names.
    /// </summary>
    private void Prune()
    {
        var records = Records().Select(r => (Path: r, Tokens: TokensOf(r))).ToList();
        var kept = records.Take(Kept).ToList();
        if (kept.Count > 0 && kept[0].Tokens is { } newest && kept.All(r => r.Tokens?.Index == newest.Index)
            && records.Skip(Kept).FirstOrDefault(r => r.Tokens is { } t && t.Index != newest.Index) is { Path: not null } fallback)
        {
            kept.Add(fallback);
        }

        var keep = new HashSet<Guid>();
        foreach (var (_, tokens) in kept)
        {
            if (tokens is { } t)
            {
                keep.Add(t.Index);
                keep.Add(t.Log);
            }
        }

        foreach (var kind in new[] { "index-checkpoints", "cpr-checkpoints" })
        {
            var directory = Path.Combine(CheckpointDirectory, kind);
            if (!Directory.Exists(directory))
            {
                continue;
            }

            foreach (var tokenDirectory in Directory.EnumerateDirectories(directory))
            {
                if (Guid.TryParse(Path.GetFileName(tokenDirectory), out var token) && !keep.Contains(token))
                {
                    TryDelete(tokenDirectory);
                }
            }
        }

        // Log segments below the first one a kept record covers: FASTER asked for them to go when it moved the begin
        // address (compaction, then the next checkpoint), and only now does no kept checkpoint need them.
        var firstSegment = kept.Select(r => FirstSegmentOf(r.Path)).Min();
        if (firstSegment is > 0)
        {
            Log.TruncateBelow(firstSegment.Value * _segmentBytes);
        }

        var keptPaths = kept.Select(r => r.Path).ToHashSet(StringComparer.Ordinal);
        foreach (var (record, _) in records)
        {
            if (!keptPaths.Contains(record))
            {
                File.Delete(record);
            }
        }
    }

    /// <summary>
    /// The first log segment a record covers; null if it covers none (its log was empty) or names one unreadably (it
    /// cannot be recovered): such a record keeps no segment.
    /// </summary>
    private long? FirstSegmentOf(string record)
    {
        var prefix = "file ";
        var segmentPrefix = Path.Combine("log", _logFileBase) + ".";
        long? first = null;
        foreach (var line in File.ReadLines(record))
        {
            var parts = line.Split(' ', 4);
            if (!line.StartsWith(prefix, StringComparison.Ordinal) || parts.Length != 4 || !parts[3].StartsWith(segmentPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (!long.TryParse(parts[3].AsSpan(segmentPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var segment))
            {
                return null;
            }

            first = first is { } f ? Math.Min(f, segment) : segment;
        }

        return first;
    }

    /// <summary>The index and log tokens a record names; null if it is unreadable.</summary>
    internal static (Guid Index, Guid Log)? TokensOf(string record)
    {
        var lines = File.ReadAllLines(record);
        return lines.Length >= 3 && Guid.TryParse(lines[1].AsSpan(6), out var index) && Guid.TryParse(lines[2].AsSpan(4), out var log)
            ? (index, log)
            : null;
    }

    private void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
            foreach (var key in _crcs.Keys.Where(k => k.StartsWith(directory, StringComparison.Ordinal)).ToList())
            {
                _crcs.Remove(key);
            }
        }
        catch (IOException)
        {
            // Still open (FASTER closes checkpoint devices lazily): removed at the next checkpoint.
        }
    }
}

/// <summary>A recorded checkpoint and the result of verifying its files.</summary>
/// <param name="IndexToken">FASTER's index checkpoint token.</param>
/// <param name="LogToken">FASTER's hybrid-log checkpoint token.</param>
/// <param name="Problem">The first damaged file, or null if every file matched.</param>
/// <param name="Files">The files verified so far: path, bytes covered, CRC-32C.</param>
internal sealed record Candidate(Guid IndexToken, Guid LogToken, string? Problem, List<(string Path, long Covered, uint Crc)> Files);

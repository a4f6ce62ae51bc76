using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Win32.SafeHandles;

namespace TapeGateway.Storage.Tapes;

/// <summary>
/// One segment of a tape's record stream as the cache sees it. Guarded by its tape's <see cref="CachedTape.Gate"/>.
/// </summary>
internal sealed class SegmentState
{
    public SegmentState(int index) => Index = index;

    public int Index { get; }

    /// <summary>Bytes of the record stream this segment holds now (local or, when absent, uploaded).</summary>
    public long Length { get; set; }

    /// <summary>The local file holds the current bytes.</summary>
    public bool Present { get; set; }

    /// <summary>The current bytes are not (all) in the object store; such a segment is never evicted.</summary>
    public bool Dirty { get; set; }

    /// <summary>The last object uploaded for this index: it equals the current bytes exactly when not <see cref="Dirty"/>.</summary>
    public TapeSegmentRef? Uploaded { get; set; }

    /// <summary>Bumped by every write or truncation, so an upload that raced with a change is not taken as current.</summary>
    public long Version { get; set; }

    public Task? Upload { get; set; }

    public Task? Fetch { get; set; }

    /// <summary>
    /// The local file may be another name of a stored object's inode (adopted by hard link), so it must not be written,
    /// truncated or appended to in place: the first change copies it to a new inode (<see cref="Unshare"/>) first.
    /// </summary>
    public bool Shared { get; set; }

    /// <summary>The copy-on-write of a <see cref="Shared"/> file in progress; writers and truncation wait for it.</summary>
    public Task? Unshare { get; set; }

    /// <summary>Reads in progress: an evictor must not delete the file under them.</summary>
    public int Leases { get; set; }

    public long LastAccess { get; set; }

    public SafeFileHandle? Handle { get; set; }

    /// <summary>
    /// SHA-256 of bytes [0, <see cref="HashedLength"/>), extended by the tier's hasher shortly after they were written
    /// (from the page cache, off the command path), so a full segment's upload needs no extra read-and-hash pass; null
    /// when unknown (the segment was rewritten, truncated or loaded after a restart): the upload hashes the file then.
    /// </summary>
    public System.Security.Cryptography.IncrementalHash? Hash { get; set; }

    public long HashedLength { get; set; }

    /// <summary>Bytes [0, this) were completely written (appends in order): the most the hasher may read.</summary>
    public long HashableLength { get; set; }

    /// <summary>The hasher is appending to <see cref="Hash"/> outside the gate: nobody else touches it meanwhile.</summary>
    public bool Hashing { get; set; }

    /// <summary>Writes between <c>PrepareWriteAsync</c> and <c>Written</c>: the uploader must not read the file meanwhile.</summary>
    public int Writers { get; set; }

    public void ForgetHash()
    {
        if (!Hashing)
        {
            Hash?.Dispose(); // else the hasher finds it replaced and disposes it
        }

        Hash = null;
        HashedLength = -1;
    }

    /// <summary>A complete running hash of the current bytes, ready for an upload of <paramref name="length"/> bytes.</summary>
    public bool HashReady(long length) => Hash is not null && !Hashing && HashedLength == length;
}

/// <summary>
/// A tape in the local cache: its directory (<c>head</c>, <c>seg.NNNNNNNN</c> files, <c>state.json</c>) and the upload
/// bookkeeping. The persisted state is rewritten (temp file, fsync, rename) before the first change to a clean segment
/// and after every upload, so after a crash a segment the state calls clean really equals its uploaded object.
/// </summary>
internal sealed class CachedTape
{
    public const string HeadFileName = "head";
    public const string StateFileName = "state.json";

    public CachedTape(string barcode, string directory, long segmentSize, long dataStart)
    {
        Barcode = barcode;
        Directory = directory;
        SegmentSize = segmentSize;
        DataStart = dataStart;
    }

    public string Barcode { get; }

    public string Directory { get; }

    public long SegmentSize { get; }

    public long DataStart { get; }

    public Lock Gate { get; } = new();

    public List<SegmentState> Segments { get; } = [];

    public long NextGeneration { get; set; } = 1;

    public long PublishedGeneration { get; set; }

    /// <summary>The last published manifest was complete and nothing changed since.</summary>
    public bool PublishedComplete { get; set; }

    public TapeObjectRef? Head { get; set; }

    public bool HeadDirty { get; set; } = true;

    public long HeadVersion { get; set; }

    /// <summary>Keys superseded by newer uploads; deleted once a manifest that no longer names them is published.</summary>
    public List<string> Garbage { get; } = [];

    public long CapacityBytes { get; set; }

    public bool Worm { get; set; }

    /// <summary>A live store has the tape open (mounted). Persisted, so a crash while open is visible at the next start.</summary>
    public TieredTapeStore? OpenStore { get; set; }

    /// <summary>Extends the segments' running hashes in the background (created on the first append).</summary>
    public SegmentHasher? Hasher { get; set; }

    /// <summary>
    /// Segments below this index had nothing left to hash when the hasher last looked (under <see cref="Gate"/>); a
    /// write that gives one of them more to hash lowers it. Without it every 1 MiB step of the hasher walked the whole
    /// segment list from the start — quadratic in the tape's length, under the gate the writers need.
    /// </summary>
    public int HashScanFrom { get; set; }

    /// <summary>
    /// Publishes decided, waiting for <see cref="PublishLock"/> or running (under <see cref="Gate"/>): the uploader
    /// decides on none while one is counted.
    /// </summary>
    public int Publishes { get; set; }

    /// <summary>A publish holds <see cref="PublishLock"/> and is writing objects (under <see cref="Gate"/>).</summary>
    public bool PublishRunning { get; set; }

    /// <summary>Serialises publishes of this tape (the uploader's and an archive's <c>EnsureUploadedAsync</c>).</summary>
    public SemaphoreSlim PublishLock { get; } = new(1, 1);

    /// <summary>Set while the tape is being created or imported: its writes are not throttled (it is not uploadable yet).</summary>
    public bool Creating { get; set; }

    /// <summary>After an upload failure, the tape's uploads wait until this timestamp; the delay doubles per failure.</summary>
    public long RetryAt
    {
        get => Volatile.Read(ref RetryAtField);
        set => Volatile.Write(ref RetryAtField, value);
    }

    public long RetryAtField;

    public TimeSpan RetryDelay { get; set; }

    public long LastPublish { get; set; }

    public long LastWriteTicks { get; set; }

    public SafeFileHandle? HeadHandle { get; set; }

    /// <summary>Bytes of the metadata region written so far (less than <see cref="DataStart"/> only while formatting).</summary>
    public long HeadLength { get; set; }

    /// <summary>Sum of the segment lengths, kept up to date by every change (read on every write, so not summed each time).</summary>
    public long StreamLength { get; set; }

    public long Length => HeadLength + StreamLength;

    public void RecomputeStreamLength() => StreamLength = Segments.Sum(s => s.Length);

    public string SegmentPath(int index) => Path.Combine(Directory, "seg." + index.ToString("D8", CultureInfo.InvariantCulture));

    public string HeadPath => Path.Combine(Directory, HeadFileName);

    public string StatePath => Path.Combine(Directory, StateFileName);

    public bool HasPendingWork => HeadDirty || Segments.Any(s => s.Dirty) || Garbage.Count > 0 || !PublishedComplete;

    public long DirtyBytes => Segments.Where(s => s.Dirty).Sum(s => s.Length);

    // ---- persisted state ------------------------------------------------------------------------------------------

    private sealed record StateFile
    {
        [JsonPropertyName("barcode")]
        public required string Barcode { get; init; }

        [JsonPropertyName("segmentSize")]
        public long SegmentSize { get; init; }

        [JsonPropertyName("nextGeneration")]
        public long NextGeneration { get; init; }

        [JsonPropertyName("publishedGeneration")]
        public long PublishedGeneration { get; init; }

        [JsonPropertyName("publishedComplete")]
        public bool PublishedComplete { get; init; }

        [JsonPropertyName("open")]
        public bool Open { get; init; }

        [JsonPropertyName("capacityBytes")]
        public long CapacityBytes { get; init; }

        [JsonPropertyName("worm")]
        public bool Worm { get; init; }

        [JsonPropertyName("head")]
        public TapeObjectRef? Head { get; init; }

        [JsonPropertyName("headDirty")]
        public bool HeadDirty { get; init; }

        [JsonPropertyName("segments")]
        public List<SegmentFile> Segments { get; init; } = [];

        [JsonPropertyName("garbage")]
        public List<string> Garbage { get; init; } = [];
    }

    private sealed record SegmentFile
    {
        [JsonPropertyName("index")]
        public int Index { get; init; }

        [JsonPropertyName("length")]
        public long Length { get; init; }

        [JsonPropertyName("dirty")]
        public bool Dirty { get; init; }

        [JsonPropertyName("uploaded")]
        public TapeSegmentRef? Uploaded { get; init; }
    }

    private static readonly JsonSerializerOptions s_json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Writes the state durably. Call under <see cref="Gate"/> (it is small: a few KiB per TiB of tape).</summary>
    public void PersistLocked()
    {
        var state = new StateFile
        {
            Barcode = Barcode,
            SegmentSize = SegmentSize,
            NextGeneration = NextGeneration,
            PublishedGeneration = PublishedGeneration,
            PublishedComplete = PublishedComplete,
            Open = OpenStore is not null,
            CapacityBytes = CapacityBytes,
            Worm = Worm,
            Head = Head,
            HeadDirty = HeadDirty,
            Segments = [.. Segments.Select(s => new SegmentFile { Index = s.Index, Length = s.Length, Dirty = s.Dirty, Uploaded = s.Uploaded })],
            Garbage = [.. Garbage],
        };
        var bytes = JsonSerializer.SerializeToUtf8Bytes(state, s_json);
        var temporary = StatePath + ".tmp";
        using (var handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(handle, bytes, 0);
            RandomAccess.FlushToDisk(handle);
        }

        File.Move(temporary, StatePath, overwrite: true);
    }

    /// <summary>
    /// Loads a tape directory. Segment files are reconciled with the state: a dirty segment's length is its file's
    /// (writes after the last persist extended it); a clean one is present only if its file has the uploaded length;
    /// a file the state does not know is a dirty segment written after the last persist.
    /// </summary>
    public static CachedTape Load(string directory, long dataStart)
    {
        var state = JsonSerializer.Deserialize<StateFile>(File.ReadAllBytes(Path.Combine(directory, StateFileName)), s_json)
            ?? throw new InvalidDataException($"Empty tape cache state in {directory}.");
        var tape = new CachedTape(state.Barcode, directory, state.SegmentSize, dataStart)
        {
            NextGeneration = state.NextGeneration,
            PublishedGeneration = state.PublishedGeneration,
            PublishedComplete = state.PublishedComplete && !state.Open,
            CapacityBytes = state.CapacityBytes,
            Worm = state.Worm,
            Head = state.Head,
            HeadDirty = state.HeadDirty || state.Open || state.Head is null,
        };
        tape.Garbage.AddRange(state.Garbage);
        var headPath = Path.Combine(directory, HeadFileName);
        tape.HeadLength = File.Exists(headPath) ? Math.Min(new FileInfo(headPath).Length, dataStart) : 0;

        foreach (var f in state.Segments.OrderBy(s => s.Index))
        {
            var seg = new SegmentState(f.Index) { Uploaded = f.Uploaded, Dirty = f.Dirty || f.Uploaded is null };
            var path = tape.SegmentPath(f.Index);
            var fileLength = File.Exists(path) ? new FileInfo(path).Length : -1;
            if (seg.Dirty)
            {
                seg.Length = Math.Max(fileLength, 0);
                seg.Present = true;
            }
            else
            {
                seg.Length = f.Uploaded!.Length;
                seg.Present = fileLength == seg.Length;
                if (!seg.Present && fileLength >= 0)
                {
                    File.Delete(path);
                }
            }

            seg.Shared = seg.Present && MayBeShared(path);
            tape.Segments.Add(seg);
        }

        // Files written after the last persist (new segments whose creation was persisted lazily) are dirty data.
        for (var index = tape.Segments.Count; File.Exists(tape.SegmentPath(index)); index++)
        {
            var path = tape.SegmentPath(index);
            tape.Segments.Add(new SegmentState(index) { Length = new FileInfo(path).Length, Present = true, Dirty = true, Shared = MayBeShared(path) });
        }

        // Drop empty trailing segments and anything after a gap: the record stream is contiguous.
        while (tape.Segments.Count > 0 && tape.Segments[^1].Length == 0)
        {
            var last = tape.Segments[^1];
            if (last.Uploaded is not null)
            {
                tape.Garbage.Add(last.Uploaded.Key);
            }

            File.Delete(tape.SegmentPath(last.Index));
            tape.Segments.RemoveAt(tape.Segments.Count - 1);
        }

        tape.RecomputeStreamLength();
        foreach (var file in System.IO.Directory.EnumerateFiles(directory, "*.part").Concat(System.IO.Directory.EnumerateFiles(directory, "*" + CopyOnWriteSuffix)))
        {
            File.Delete(file);
        }

        return tape;
    }

    /// <summary>Suffix of a segment's copy-on-write copy while it is being made (a leftover is deleted at load).</summary>
    public const string CopyOnWriteSuffix = ".cow";

    /// <summary>
    /// Whether a segment file found at load may share its inode with a stored object (the in-memory mark is lost with
    /// the process): more than one name, or unknown where hard links are made at all.
    /// </summary>
    private static bool MayBeShared(string path) => HardLinks.LinkCount(path) is { } links ? links > 1 : HardLinks.IsSupported;
}

using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using TapeGateway.Media.Tape;

namespace TapeGateway.Storage.Tapes;

/// <summary>
/// The tape data tier: a local cache and upload buffer in front of an <see cref="IObjectStore"/> (AWS: an AVAILABLE
/// tape is in S3). It hands out <see cref="TieredTapeStore"/>s for mounted tapes, uploads full segments in the
/// background (parallel, retried with backoff), publishes manifests, fetches evicted segments back with read-ahead,
/// evicts only clean data, and slows writers down when the upload buffer is full.
/// </summary>
/// <remarks>
/// Upload policy: a full segment is uploaded as soon as it is full (the uploader fsyncs it first); a segment's last,
/// partial piece (the tail) and the head are uploaded when the tape is closed, or once the tape has been idle for
/// <see cref="TapeCacheOptions.PublishInterval"/>. A manifest naming the contiguous clean prefix is published after
/// uploads, so the bucket always describes a consistent (possibly shorter) image that the image format's own recovery
/// (record CRCs, durable mark) can mount.
/// </remarks>
public sealed partial class TapeDataTier : ITapeDataTier, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, CachedTape> _tapes = new(StringComparer.Ordinal);
    private readonly TapeCacheOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _uploadSlots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _signalGate = new();
    private TaskCompletionSource _workSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _spaceSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _worker;
    private readonly HashSet<Task> _transfers = [];
    private long _dirtyBytes;
    private long _cleanPresentBytes;

    public TapeDataTier(IObjectStore store, TapeObjectLayout layout, TapeCacheOptions options, ILogger<TapeDataTier> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        ObjectStore = store;
        Layout = layout;
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _uploadSlots = new SemaphoreSlim(options.MaxParallelUploads, options.MaxParallelUploads);
    }

    public IObjectStore ObjectStore { get; }

    public TapeObjectLayout Layout { get; }

    public TapeCacheOptions Options => _options;

    /// <summary>Bytes written locally and not yet uploaded, over all tapes (the upload buffer's fill).</summary>
    public long DirtyBytes => Interlocked.Read(ref _dirtyBytes);

    /// <summary>Bytes of uploaded segments kept locally for reading (the read cache's fill).</summary>
    public long CachedBytes => Interlocked.Read(ref _cleanPresentBytes);

    /// <summary>Upload failures since start (transient ones are retried).</summary>
    public long UploadFailures => Interlocked.Read(ref _uploadFailures);

    private long _uploadFailures;

    /// <summary>Full segments that became objects by hard link instead of a copy (<see cref="IFileAdoptingObjectStore"/>).</summary>
    public long AdoptedSegments => Interlocked.Read(ref _adoptedSegments);

    private long _adoptedSegments;

    /// <summary>Segment files copied to a new inode before a change, because a stored object shared theirs.</summary>
    public long CopiedOnWriteSegments => Interlocked.Read(ref _copiedOnWriteSegments);

    private long _copiedOnWriteSegments;

    // ---- life cycle -----------------------------------------------------------------------------------------------

    /// <summary>Loads every tape directory of the cache and starts the background uploader.</summary>
    public Task StartAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(_options.Directory);
        foreach (var directory in Directory.EnumerateDirectories(_options.Directory))
        {
            var name = Path.GetFileName(directory);
            if (name.EndsWith(".new", StringComparison.Ordinal) || name.EndsWith(".purge", StringComparison.Ordinal))
            {
                Directory.Delete(directory, recursive: true); // an interrupted creation or purge
                continue;
            }

            if (!File.Exists(Path.Combine(directory, CachedTape.StateFileName)))
            {
                continue;
            }

            var tape = CachedTape.Load(directory, TapeStoreLayout.MetadataLength);
            _tapes[tape.Barcode] = tape;
            foreach (var s in tape.Segments)
            {
                if (s.Dirty)
                {
                    Interlocked.Add(ref _dirtyBytes, s.Length);
                }
                else if (s.Present)
                {
                    Interlocked.Add(ref _cleanPresentBytes, s.Length);
                }
            }

            if (tape.HasPendingWork)
            {
                LogResuming(_logger, tape.Barcode, tape.DirtyBytes);
            }
        }

        _worker = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        Signal();
        return Task.CompletedTask;
    }

    /// <summary>Stops the uploader. What is left stays in the cache and is uploaded after the next start.</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] running;
        lock (_signalGate)
        {
            running = [.. _transfers, .. _worker is null ? Array.Empty<Task>() : [_worker]];
        }

        // Transfers in flight see the cancellation and end; wait for them so no state write happens after the stop.
        try
        {
            await Task.WhenAll(running).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectStoreException or IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        foreach (var tape in _tapes.Values)
        {
            lock (tape.Gate)
            {
                CloseHandlesLocked(tape);
            }
        }

        // _stopping and _uploadSlots are not disposed: a host may still call StopAsync after disposing its container,
        // and transfers that ended with the stop may release a slot late. Both hold no unmanaged resources here.
    }

    // ---- opening and creating -------------------------------------------------------------------------------------

    /// <summary>True when the tape has a local copy or a library-tier manifest.</summary>
    public async Task<bool> ExistsAsync(string barcode, CancellationToken ct) =>
        _tapes.ContainsKey(barcode) || await GetManifestAsync(TapeTier.Library, barcode, ct).ConfigureAwait(false) is not null;

    public bool IsOpen(string barcode) => _tapes.TryGetValue(barcode, out var t) && t.OpenStore is not null;

    public bool IsCachedLocally(string barcode) => _tapes.ContainsKey(barcode);

    /// <summary>
    /// Creates a new tape: <paramref name="format"/> writes the empty image into a store in a temporary directory, which
    /// is renamed into place only after it returns, so a crash never leaves a half-formatted tape under its barcode.
    /// </summary>
    public async Task CreateAsync(string barcode, long capacityBytes, bool worm, Func<ITapeStore, ValueTask> format, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(format);
        if (await ExistsAsync(barcode, ct).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"Tape {barcode} already exists in the tape tier.");
        }

        var final = TapeDirectory(barcode);
        var temporary = final + ".new";
        if (Directory.Exists(temporary))
        {
            Directory.Delete(temporary, recursive: true);
        }

        Directory.CreateDirectory(temporary);
        var tape = new CachedTape(barcode, temporary, _options.SegmentSize, TapeStoreLayout.MetadataLength) { CapacityBytes = capacityBytes, Worm = worm, Creating = true };
        tape.HeadHandle = TieredTapeStore.OpenHandle(tape.HeadPath, FileMode.CreateNew);
        var store = new TieredTapeStore(this, tape);
        lock (tape.Gate)
        {
            tape.OpenStore = store;
            tape.PersistLocked();
        }

        try
        {
            await format(store).ConfigureAwait(false);
            await CatchUpHashesAsync(tape, ct).ConfigureAwait(false);
        }
        finally
        {
            await store.DisposeAsync().ConfigureAwait(false);
            lock (tape.Gate)
            {
                CloseHandlesLocked(tape);

                // The format's writes counted into the upload buffer like any write; the tape that is loaded below
                // counts its dirty segments itself (and a failed format leaves nothing to upload). Counting both
                // left every created tape's first bytes in the upload buffer for ever.
                Interlocked.Add(ref _dirtyBytes, -tape.DirtyBytes);
            }
        }

        Directory.Move(temporary, final);
        var loaded = CachedTape.Load(final, TapeStoreLayout.MetadataLength);
        foreach (var s in loaded.Segments.Where(s => s.Dirty))
        {
            Interlocked.Add(ref _dirtyBytes, s.Length);

            // The running hashes fed while formatting or importing describe the very files just loaded: keep them, or
            // the first upload of every segment would read and hash it once more. A stale one can only fail an upload
            // (the store checks the bytes it sends against it), never store bad data.
            if (s.Index < tape.Segments.Count && tape.Segments[s.Index] is { Hash: not null } written && written.HashedLength == s.Length)
            {
                s.Hash = written.Hash;
                s.HashedLength = written.HashedLength;
                s.HashableLength = s.Length;
                written.Hash = null;
            }
        }

        foreach (var s in tape.Segments)
        {
            s.ForgetHash();
        }

        _tapes[barcode] = loaded;
        Signal();
    }

    /// <summary>
    /// Opens a tape for mounting: from the cache, or (evicted, retrieved, recovered) from its library-tier manifest,
    /// in which case only the head is fetched now and segments follow on demand. One open store per tape.
    /// </summary>
    public async Task<TieredTapeStore> OpenAsync(string barcode, CancellationToken ct)
    {
        if (!_tapes.TryGetValue(barcode, out var tape))
        {
            tape = await HydrateFromManifestAsync(barcode, ct).ConfigureAwait(false);
        }

        lock (tape.Gate)
        {
            if (tape.OpenStore is not null)
            {
                throw new IOException($"Tape {barcode} is already mounted.");
            }

            tape.HeadHandle ??= TieredTapeStore.OpenHandle(tape.HeadPath, FileMode.Open);
            var store = new TieredTapeStore(this, tape);
            tape.OpenStore = store;
            tape.PublishedComplete = false;
            tape.PersistLocked();
            return store;
        }
    }

    /// <summary>Copies an existing local image file (the pre-tier layout) into the tier; the file is left in place.</summary>
    public async Task ImportImageFileAsync(string barcode, string path, long capacityBytes, bool worm, CancellationToken ct)
    {
        await CreateAsync(barcode, capacityBytes, worm, async store =>
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
            var length = RandomAccess.GetLength(handle);
            var buffer = new byte[1 << 20];
            for (long offset = 0; offset < length;)
            {
                var n = await RandomAccess.ReadAsync(handle, buffer, offset, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                await store.WriteAsync(offset, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                offset += n;
            }

            await store.FlushAsync(ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
    }

    private async Task<CachedTape> HydrateFromManifestAsync(string barcode, CancellationToken ct)
    {
        var manifest = await GetManifestAsync(TapeTier.Library, barcode, ct).ConfigureAwait(false)
            ?? throw new FileNotFoundException($"Tape {barcode} is neither in the cache nor in the object store.");
        var final = TapeDirectory(barcode);
        var temporary = final + ".new";
        if (Directory.Exists(temporary))
        {
            Directory.Delete(temporary, recursive: true);
        }

        Directory.CreateDirectory(temporary);
        await DownloadAsync(manifest.Head, Path.Combine(temporary, CachedTape.HeadFileName), ct).ConfigureAwait(false);
        var tape = new CachedTape(barcode, temporary, manifest.SegmentSize, manifest.DataStart)
        {
            NextGeneration = manifest.Generation + 1,
            PublishedGeneration = manifest.Generation,
            PublishedComplete = manifest.Complete,
            CapacityBytes = manifest.CapacityBytes,
            Worm = manifest.Worm,
            Head = manifest.Head,
            HeadDirty = false,
        };
        foreach (var s in manifest.Segments)
        {
            tape.Segments.Add(new SegmentState(s.Index) { Length = s.Length, Uploaded = s, Present = false, Dirty = false });
        }

        lock (tape.Gate)
        {
            tape.PersistLocked();
        }

        Directory.Move(temporary, final);
        var loaded = CachedTape.Load(final, TapeStoreLayout.MetadataLength);
        return _tapes.GetOrAdd(barcode, loaded);
    }

    private string TapeDirectory(string barcode) => Path.Combine(_options.Directory, barcode);

    // ---- ITapeDataTier --------------------------------------------------------------------------------------------

    public long PendingUploadBytes(string barcode)
    {
        if (!_tapes.TryGetValue(barcode, out var tape))
        {
            return 0;
        }

        lock (tape.Gate)
        {
            return tape.DirtyBytes + (tape.HeadDirty ? tape.DataStart : 0);
        }
    }

    public async Task<TapeManifest> EnsureUploadedAsync(string barcode, CancellationToken ct)
    {
        var delay = _options.UploadRetryDelay;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (!_tapes.TryGetValue(barcode, out var tape))
            {
                return await GetManifestAsync(TapeTier.Library, barcode, ct).ConfigureAwait(false)
                    ?? throw new FileNotFoundException($"Tape {barcode} has no data in the cache or the object store.");
            }

            lock (tape.Gate)
            {
                if (tape.OpenStore is not null)
                {
                    throw new InvalidOperationException($"Tape {barcode} is mounted; unload it before archiving.");
                }
            }

            try
            {
                await UploadTapeAsync(tape, includeTail: true, ct).ConfigureAwait(false);
                var manifest = await PublishAsync(tape, reserved: false, ct).ConfigureAwait(false);
                if (manifest is { Complete: true })
                {
                    return manifest;
                }
            }
            catch (Exception ex) when (ex is ObjectStoreException or IOException && ex is not ObjectCorruptedException)
            {
                LogUploadFailed(_logger, barcode, ex.Message);
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxUploadRetryDelay.Ticks));
            }
        }
    }

    public Task<TapeManifest?> GetManifestAsync(TapeTier tier, string barcode, CancellationToken ct) =>
        TapeManifest.ReadAsync(ObjectStore, Layout.ManifestKey(tier, barcode), ct);


    public Task PurgeLocalAsync(string barcode, CancellationToken ct)
    {
        if (PurgeLocal(barcode) is { } refusal)
        {
            throw new InvalidOperationException(refusal);
        }

        return Task.CompletedTask;
    }

    public Task<bool> TryPurgeLocalAsync(string barcode, CancellationToken ct) => Task.FromResult(PurgeLocal(barcode) is null);

    /// <summary>Forgets the tape locally; returns why it cannot (open, transfers in flight), or null when done.</summary>
    private string? PurgeLocal(string barcode)
    {
        if (!_tapes.TryGetValue(barcode, out var tape))
        {
            return null;
        }

        lock (tape.Gate)
        {
            if (tape.OpenStore is not null)
            {
                return $"Tape {barcode} is mounted; it cannot be purged.";
            }

            if (tape.Segments.FirstOrDefault(s => s.Upload is not null || s.Fetch is not null || s.Unshare is not null) is { } busy)
            {
                return $"Tape {barcode} has transfers in flight (segment {busy.Index} {(busy.Upload is not null ? "uploading" : busy.Fetch is not null ? "fetching" : "copying")}); try again.";
            }

            if (tape.PublishRunning)
            {
                return $"Tape {barcode} has transfers in flight (its manifest is being published); try again.";
            }

            foreach (var s in tape.Segments)
            {
                if (s.Dirty)
                {
                    Interlocked.Add(ref _dirtyBytes, -s.Length);
                }
                else if (s.Present)
                {
                    Interlocked.Add(ref _cleanPresentBytes, -s.Length);
                }
            }

            CloseHandlesLocked(tape);
            _tapes.TryRemove(barcode, out _);
        }

        // Rename first so a crash in the middle of the delete cannot leave a half-deleted tape that looks loadable.
        var doomed = tape.Directory + ".purge";
        Directory.Move(tape.Directory, doomed);
        Directory.Delete(doomed, recursive: true);
        SignalSpace();
        return null;
    }

    /// <summary>Deletes every library-tier object of a tape (its manifest first, so no reader sees a partial tape).</summary>
    public async Task DeleteLibraryObjectsAsync(string barcode, CancellationToken ct)
    {
        await ObjectStore.DeleteAsync(Layout.ManifestKey(TapeTier.Library, barcode), ct).ConfigureAwait(false);
        await foreach (var o in ObjectStore.ListAsync(Layout.TapePrefix(TapeTier.Library, barcode), ct).ConfigureAwait(false))
        {
            await ObjectStore.DeleteAsync(o.Key, ct).ConfigureAwait(false);
        }
    }

    // ---- store callbacks (TieredTapeStore) ------------------------------------------------------------------------

    internal (long Length, bool Exists) SegmentExtent(CachedTape tape, int index)
    {
        lock (tape.Gate)
        {
            return index < tape.Segments.Count ? (tape.Segments[index].Length, true) : (0, false);
        }
    }

    internal SafeFileHandle? TryGetHandle(CachedTape tape, int index)
    {
        lock (tape.Gate)
        {
            return index < tape.Segments.Count ? tape.Segments[index].Handle : null;
        }
    }

    /// <summary>Makes the segment local (fetching it if evicted) and pins it against eviction until <see cref="ReleaseRead"/>.</summary>
    internal async ValueTask<SafeFileHandle?> LeaseForReadAsync(CachedTape tape, int index, CancellationToken ct)
    {
        while (true)
        {
            Task? fetch;
            lock (tape.Gate)
            {
                if (index >= tape.Segments.Count)
                {
                    return null;
                }

                var s = tape.Segments[index];
                if (s.Present)
                {
                    s.Handle ??= TieredTapeStore.OpenHandle(tape.SegmentPath(index), FileMode.Open);
                    s.Leases++;
                    s.LastAccess = _time.GetTimestamp();
                    StartReadAheadLocked(tape, index);
                    return s.Handle;
                }

                fetch = s.Fetch ??= FetchAsync(tape, s);
                StartReadAheadLocked(tape, index);
            }

            await fetch.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Like <see cref="LeaseForReadAsync"/> but never waits: the leased handle when the segment is local, else null
    /// after starting its fetch (so a read-ahead that declines now finds it next time).
    /// </summary>
    internal SafeFileHandle? TryLeasePresent(CachedTape tape, int index)
    {
        lock (tape.Gate)
        {
            if (index >= tape.Segments.Count)
            {
                return null;
            }

            var s = tape.Segments[index];
            if (!s.Present)
            {
                s.Fetch ??= FetchAsync(tape, s);
                return null;
            }

            s.Handle ??= TieredTapeStore.OpenHandle(tape.SegmentPath(index), FileMode.Open);
            s.Leases++;
            s.LastAccess = _time.GetTimestamp();
            StartReadAheadLocked(tape, index);
            return s.Handle;
        }
    }

    internal void ReleaseRead(CachedTape tape, int index)
    {
        lock (tape.Gate)
        {
            if (index < tape.Segments.Count)
            {
                tape.Segments[index].Leases--;
            }
        }
    }

    private void StartReadAheadLocked(CachedTape tape, int index)
    {
        for (var i = index + 1; i <= index + _options.ReadAheadSegments && i < tape.Segments.Count; i++)
        {
            var s = tape.Segments[i];
            if (!s.Present && s.Fetch is null)
            {
                s.Fetch = FetchAsync(tape, s);
            }
        }
    }

    internal void HeadWritten(CachedTape tape, long end)
    {
        lock (tape.Gate)
        {
            tape.HeadLength = Math.Max(tape.HeadLength, end);
            tape.HeadVersion++;
            tape.PublishedComplete = false;
            if (!tape.HeadDirty)
            {
                tape.HeadDirty = true;
                tape.PersistLocked();
            }
        }
    }

    /// <summary>
    /// Before bytes [within, within+count) of a segment are written: waits for upload-buffer space when the write
    /// appends, fetches the segment if it was evicted (its earlier bytes must survive), waits for an upload that reads
    /// bytes about to be overwritten, and marks the segment dirty (persisted before the first change of a clean one).
    /// </summary>
    internal async ValueTask<SafeFileHandle> PrepareWriteAsync(CachedTape tape, int index, long within, int count, CancellationToken ct)
    {
        var appends = false;
        lock (tape.Gate)
        {
            appends = index >= tape.Segments.Count || within + count > tape.Segments[index].Length;
        }

        if (appends && !tape.Creating)
        {
            await WaitForUploadSpaceAsync(count, ct).ConfigureAwait(false);
        }

        while (true)
        {
            Task? wait = null;
            var unsharing = false;
            lock (tape.Gate)
            {
                if (index > tape.Segments.Count)
                {
                    throw new InvalidOperationException($"Write into segment {index} of {tape.Barcode} leaves a gap.");
                }

                if (index == tape.Segments.Count)
                {
                    var created = new SegmentState(index)
                    {
                        Present = true,
                        Dirty = true,
                        Hash = ObjectStore.NeedsSha256BeforePut ? System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256) : null,
                        HashedLength = 0,
                        HashableLength = 0,
                    };
                    // FileMode.Create truncates an existing file in place, which would change an object sharing its
                    // inode; none should exist here, but unlinking a stray one costs nothing.
                    File.Delete(tape.SegmentPath(index));
                    created.Handle = TieredTapeStore.OpenHandle(tape.SegmentPath(index), FileMode.Create);
                    tape.Segments.Add(created);
                    tape.PersistLocked();
                }

                var s = tape.Segments[index];
                if (!s.Present)
                {
                    wait = s.Fetch ??= FetchAsync(tape, s);
                }
                else if (s.Upload is not null && (within < s.Length || s.Shared))
                {
                    // The uploader reads [0, Length); do not change those bytes under it. An adopting upload (Shared)
                    // hard-links the file by its path: not even an append may touch the file, or replace it, until then.
                    wait = s.Upload;
                }
                else if (s.Unshare is not null || MustUnshareLocked(tape, s))
                {
                    wait = s.Unshare ??= UnshareAsync(tape, s);
                    unsharing = true;
                }
                else
                {
                    if (!s.Dirty)
                    {
                        s.Dirty = true;
                        if (within != s.HashableLength)
                        {
                            s.ForgetHash(); // an append to an uploaded tail keeps its running hash; anything else cannot
                        }

                        Interlocked.Add(ref _cleanPresentBytes, -s.Length);
                        Interlocked.Add(ref _dirtyBytes, s.Length);
                        tape.PersistLocked();
                    }

                    var end = within + count;
                    if (end > s.Length)
                    {
                        Interlocked.Add(ref _dirtyBytes, end - s.Length);
                        tape.StreamLength += end - s.Length;
                        s.Length = end;
                    }

                    s.Version++;
                    s.LastAccess = _time.GetTimestamp();
                    tape.LastWriteTicks = s.LastAccess;
                    tape.PublishedComplete = false;
                    s.Handle ??= TieredTapeStore.OpenHandle(tape.SegmentPath(index), FileMode.Open);
                    s.Writers++;
                    return s.Handle;
                }
            }

            try
            {
                await wait.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (Exception) when (!ct.IsCancellationRequested && !unsharing)
            {
                // An upload failure is the uploader's business; a fetch failure surfaces on the next loop's fetch; a
                // failed copy-on-write (disk full) fails this write, as a failed write into the file would.
                lock (tape.Gate)
                {
                    var s = tape.Segments[index];
                    if (!s.Present && s.Fetch == wait)
                    {
                        throw;
                    }
                }
            }
        }
    }

    internal async ValueTask TruncateAsync(CachedTape tape, long length, CancellationToken ct)
    {
        var stream = length - tape.DataStart;
        var keep = (int)((stream + tape.SegmentSize - 1) / tape.SegmentSize); // segments that keep bytes
        while (true)
        {
            Task? wait = null;
            var unsharing = false;
            lock (tape.Gate)
            {
                for (var i = Math.Max(keep - 1, 0); i < tape.Segments.Count && wait is null; i++)
                {
                    wait = tape.Segments[i].Upload ?? tape.Segments[i].Fetch ?? tape.Segments[i].Unshare;
                }

                if (wait is null)
                {
                    for (var i = tape.Segments.Count - 1; i >= keep; i--)
                    {
                        var s = tape.Segments[i];
                        RemoveSegmentLocked(tape, s);
                        tape.Segments.RemoveAt(i);
                    }

                    if (keep > 0)
                    {
                        var last = tape.Segments[keep - 1];
                        var newLength = stream - ((long)(keep - 1) * tape.SegmentSize);
                        if (newLength < last.Length)
                        {
                            if (!last.Present)
                            {
                                wait = last.Fetch ??= FetchAsync(tape, last);
                            }
                            else if (MustUnshareLocked(tape, last))
                            {
                                wait = last.Unshare ??= UnshareAsync(tape, last);
                                unsharing = true;
                            }
                            else
                            {
                                last.Handle ??= TieredTapeStore.OpenHandle(tape.SegmentPath(last.Index), FileMode.Open);
                                RandomAccess.SetLength(last.Handle, newLength);
                                if (last.Dirty)
                                {
                                    Interlocked.Add(ref _dirtyBytes, newLength - last.Length);
                                }
                                else
                                {
                                    Interlocked.Add(ref _cleanPresentBytes, -last.Length);
                                    Interlocked.Add(ref _dirtyBytes, newLength);
                                    last.Dirty = true;
                                }

                                last.Length = newLength;
                                last.HashableLength = Math.Min(last.HashableLength, newLength);
                                last.Version++;
                                last.ForgetHash();
                            }
                        }
                    }

                    tape.RecomputeStreamLength();
                    if (wait is null)
                    {
                        tape.PublishedComplete = false;
                        tape.PersistLocked();
                        SignalSpace();
                        return;
                    }
                }
            }

            try
            {
                await wait.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (Exception) when (!ct.IsCancellationRequested && !unsharing)
            {
                // Retried by the loop (a failed fetch is started again there, an upload failure is irrelevant here); a
                // failed copy-on-write fails the truncation.
            }
        }
    }

    private void RemoveSegmentLocked(CachedTape tape, SegmentState s)
    {
        if (s.Dirty)
        {
            Interlocked.Add(ref _dirtyBytes, -s.Length);
        }
        else if (s.Present)
        {
            Interlocked.Add(ref _cleanPresentBytes, -s.Length);
        }

        if (s.Uploaded is not null)
        {
            tape.Garbage.Add(s.Uploaded.Key);
        }

        s.Handle?.Dispose();
        s.Handle = null;
        s.ForgetHash();
        File.Delete(tape.SegmentPath(s.Index));
    }

    /// <summary>After the store wrote <paramref name="data"/> at <paramref name="within"/>: extends the running hash of an append.</summary>
    internal void Written(CachedTape tape, int index, long within, ReadOnlySpan<byte> data, bool succeeded) =>
        Written(tape, index, within, data.Length, succeeded);

    /// <summary>
    /// After the store wrote <paramref name="count"/> bytes at <paramref name="within"/>: an append extends what the
    /// hasher may read and wakes it; a rewrite of completely written bytes makes the running hash unknown.
    /// </summary>
    internal void Written(CachedTape tape, int index, long within, long count, bool succeeded)
    {
        var full = false;
        var hash = false;
        lock (tape.Gate)
        {
            if (index >= tape.Segments.Count)
            {
                return;
            }

            var s = tape.Segments[index];
            s.Writers--;
            full = s.Writers == 0 && s.Length == tape.SegmentSize;
            if (!succeeded || within < s.HashableLength)
            {
                // A failed write leaves unknown bytes; a rewrite changes bytes the hasher may have read already.
                s.ForgetHash();
            }

            if (succeeded && within <= s.HashableLength)
            {
                s.HashableLength = Math.Max(s.HashableLength, within + count);
                hash = s.Hash is not null;
                tape.HashScanFrom = Math.Min(tape.HashScanFrom, index);
            }
        }

        if (hash)
        {
            tape.Hasher ??= new SegmentHasher(this, tape);
            tape.Hasher.Queue();
        }

        if (full)
        {
            Signal(); // a full segment whose bytes are all in the file: upload it now (once its hash has caught up)
        }
    }

    internal void Flushed(CachedTape tape)
    {
        lock (tape.Gate)
        {
            tape.LastWriteTicks = _time.GetTimestamp();
        }

        Signal();
    }

    internal void Closed(CachedTape tape, TieredTapeStore store)
    {
        lock (tape.Gate)
        {
            if (ReferenceEquals(tape.OpenStore, store))
            {
                tape.OpenStore = null;
                tape.PersistLocked();
            }
        }

        Signal();
    }

    private static void CloseHandlesLocked(CachedTape tape)
    {
        foreach (var s in tape.Segments)
        {
            s.Handle?.Dispose();
            s.Handle = null;
        }

        tape.HeadHandle?.Dispose();
        tape.HeadHandle = null;
    }

    // ---- backpressure ---------------------------------------------------------------------------------------------

    private async ValueTask WaitForUploadSpaceAsync(long count, CancellationToken ct)
    {
        if (Interlocked.Read(ref _dirtyBytes) + count <= _options.UploadBufferBytes)
        {
            return;
        }

        var deadline = _time.GetTimestamp() + (long)(_options.BackpressureTimeout.TotalSeconds * _time.TimestampFrequency);
        LogBackpressure(_logger, DirtyBytes, _options.UploadBufferBytes);

        // A host waits for the uploads now: they must not yield the CPU to the drives any more.
        using var hurry = _options.Background?.Hurry();
        while (Interlocked.Read(ref _dirtyBytes) + count > _options.UploadBufferBytes)
        {
            Task space;
            lock (_signalGate)
            {
                space = _spaceSignal.Task;
            }

            Signal();
            var remaining = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero)
            {
                throw new TapeStoreException(
                    TapeStoreFailure.Unavailable,
                    $"The upload buffer has been full ({DirtyBytes} of {_options.UploadBufferBytes} bytes) for {_options.BackpressureTimeout}; the object store is not accepting uploads fast enough.");
            }

            try
            {
                await space.WaitAsync(remaining < TimeSpan.FromSeconds(1) ? remaining : TimeSpan.FromSeconds(1), _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    /// <summary>Remembers a background transfer so <see cref="StopAsync"/> can wait for it.</summary>
    private Task Track(Task task)
    {
        lock (_signalGate)
        {
            _transfers.Add(task);
        }

        _ = task.ContinueWith(
            static (t, state) =>
            {
                var tier = (TapeDataTier)state!;
                lock (tier._signalGate)
                {
                    tier._transfers.Remove(t);
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return task;
    }

    private void SignalSpace()
    {
        TaskCompletionSource previous;
        lock (_signalGate)
        {
            previous = _spaceSignal;
            _spaceSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }

    /// <summary>Wakes the uploader (for the hasher's relay).</summary>
    internal void SignalUploader() => Signal();

    private void Signal()
    {
        TaskCompletionSource previous;
        lock (_signalGate)
        {
            previous = _workSignal;
            _workSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Tape {Barcode}: resuming uploads ({Bytes} bytes pending)")]
    private static partial void LogResuming(ILogger logger, string barcode, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tape {Barcode}: upload failed, will retry: {Reason}")]
    private static partial void LogUploadFailed(ILogger logger, string barcode, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload buffer full ({Dirty} of {Limit} bytes): writes wait for uploads")]
    private static partial void LogBackpressure(ILogger logger, long dirty, long limit);

    [LoggerMessage(Level = LogLevel.Error, Message = "Tape {Barcode}: segment {Index} could not be fetched: {Reason}")]
    private static partial void LogFetchFailed(ILogger logger, string barcode, int index, string reason);
}

using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using TapeGateway.Media.Tape;

namespace TapeGateway.Storage.Tapes;

public sealed partial class TapeDataTier
{
    // ---- the background uploader ----------------------------------------------------------------------------------

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Task signal;
            lock (_signalGate)
            {
                signal = _workSignal.Task;
            }

            var wait = TimeSpan.FromSeconds(1);
            try
            {
                var now = _time.GetTimestamp();
                foreach (var tape in _tapes.Values)
                {
                    var retryIn = _time.GetElapsedTime(now, Volatile.Read(ref tape.RetryAtField));
                    if (retryIn > TimeSpan.Zero && retryIn < wait)
                    {
                        wait = retryIn; // wake up when a backed-off tape may retry, not a whole tick later
                    }

                    ScheduleUploads(tape, now, stopping);
                    if (TryReservePublish(tape, now))
                    {
                        _ = Track(PublishInBackgroundAsync(tape, stopping));
                    }
                }

                EvictIfNeeded();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                LogUploadFailed(_logger, "*", ex.Message);
            }

            try
            {
                await signal.WaitAsync(wait, _time, stopping).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Starts uploads of the tape's eligible dirty segments: full ones always, the tail once the tape is idle.</summary>
    private void ScheduleUploads(CachedTape tape, long now, CancellationToken stopping)
    {
        lock (tape.Gate)
        {
            if (tape.Creating || now < tape.RetryAt)
            {
                return;
            }

            var idle = tape.OpenStore is null || _time.GetElapsedTime(tape.LastWriteTicks, now) >= _options.PublishInterval;
            foreach (var s in tape.Segments)
            {
                // Not during a copy-on-write: an adopting upload links the file by its path, which the copy replaces.
                if (s.Dirty && s.Upload is null && s.Unshare is null && s.Present && s.Writers == 0 && s.Length > 0 &&
                    (s.Length == tape.SegmentSize || (idle && s.Index == tape.Segments.Count - 1)) &&
                    (s.Hash is null || s.HashReady(s.Length)))
                {
                    s.Upload = Track(UploadSegmentAsync(tape, s, stopping));
                }
            }
        }
    }

    /// <summary>Decides whether the tape needs a publish and, if so, counts it as started (one decision, one gate).</summary>
    private bool TryReservePublish(CachedTape tape, long now)
    {
        lock (tape.Gate)
        {
            if (!ShouldPublishLocked(tape, now))
            {
                return false;
            }

            tape.Publishes++;
            return true;
        }
    }

    private bool ShouldPublishLocked(CachedTape tape, long now) =>
        !tape.Creating && tape.Publishes == 0 && now >= tape.RetryAt && !tape.Segments.Any(s => s.Upload is not null) &&
        NeedsPublishLocked(tape, now);

    /// <summary>Whether the published manifest lags behind what the tape's clean segments could name.</summary>
    private bool NeedsPublishLocked(CachedTape tape, long now)
    {
        if (tape.OpenStore is null)
        {
            // Closed: publish the final, complete manifest once every segment is clean.
            return !tape.PublishedComplete && tape.Segments.All(s => !s.Dirty);
        }

        // Mounted: a snapshot now and then (for disaster recovery), when something new was uploaded.
        var uploadedSince = tape.Segments.Any(s => s.Uploaded is { } u && !s.Dirty && ExtractGeneration(u.Key) > tape.PublishedGeneration);
        return uploadedSince && _time.GetElapsedTime(tape.LastPublish, now) >= _options.PublishInterval;
    }

    /// <summary>True while <paramref name="tape"/> is the tier's entry for its barcode (not purged, not replaced).</summary>
    private bool IsCurrent(CachedTape tape) => _tapes.TryGetValue(tape.Barcode, out var current) && ReferenceEquals(current, tape);

    private static long ExtractGeneration(string key) =>
        long.TryParse(key.AsSpan(key.LastIndexOf('.') + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var g) ? g : 0;

    private async Task PublishInBackgroundAsync(CachedTape tape, CancellationToken stopping)
    {
        try
        {
            await PublishAsync(tape, reserved: true, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is ObjectStoreException or IOException)
        {
            Backoff(tape);
            LogUploadFailed(_logger, tape.Barcode, ex.Message);
        }
    }

    /// <summary>Uploads every dirty segment of a tape that is not mounted (the tail too) and waits for them.</summary>
    private async Task UploadTapeAsync(CachedTape tape, bool includeTail, CancellationToken ct)
    {
        while (true)
        {
            var pending = new List<Task>();
            lock (tape.Gate)
            {
                foreach (var s in tape.Segments)
                {
                    if (s.Upload is not null)
                    {
                        pending.Add(s.Upload);
                    }
                    else if (s.Unshare is not null)
                    {
                        pending.Add(s.Unshare); // see ScheduleUploads
                    }
                    else if (s.Dirty && s.Length > 0 && s.Writers == 0 && (includeTail || s.Length == tape.SegmentSize))
                    {
                        if (!s.Present)
                        {
                            throw new InvalidOperationException($"Tape {tape.Barcode}: dirty segment {s.Index} has no local file.");
                        }

                        s.Upload = Track(UploadSegmentAsync(tape, s, _stopping.Token));
                        pending.Add(s.Upload);
                    }
                }
            }

            if (pending.Count == 0)
            {
                return;
            }

            await Task.WhenAll(pending).WaitAsync(ct).ConfigureAwait(false);
            lock (tape.Gate)
            {
                if (now() < tape.RetryAt && tape.Segments.Any(s => s.Dirty))
                {
                    throw new IOException($"Tape {tape.Barcode}: uploads are failing; retrying later.");
                }
            }
        }

        long now() => _time.GetTimestamp();
    }

    private async Task UploadSegmentAsync(CachedTape tape, SegmentState s, CancellationToken stopping)
    {
        await Task.Yield(); // started under the tape's gate: do the work elsewhere
        var slot = false;
        string? key = null;
        try
        {
            await _uploadSlots.WaitAsync(stopping).ConfigureAwait(false);
            slot = true;
            long length;
            long version;
            long generation;
            var adopting = _options.AdoptSegmentFiles ? ObjectStore as IFileAdoptingObjectStore : null;
            var wasShared = false;
            lock (tape.Gate)
            {
                length = s.Length;
                version = s.Version;
                generation = tape.NextGeneration++;

                // Adoption hard-links the segment file into the store, so afterwards the file and a committed object
                // are one inode and the file must never change in place again. Why this holds:
                // - Shared is set here, under the gate, before the link exists; from now on every writer and truncation
                //   waits for this upload (PrepareWriteAsync, TruncateAsync: s.Upload), and after it copies the file to a
                //   new inode before its first change (Unshare), so nothing writes into the inode the store links.
                // - The store links the file by path, hashes the linked inode and commits exactly those bytes (and only
                //   if the file is exactly `length` bytes), so the sidecar's SHA-256 describes what is stored. The path
                //   keeps naming the inode captured here: a copy-on-write (which renames a copy over it) neither runs
                //   now (ScheduleUploads starts no upload during one) nor starts before this upload ends (writers wait).
                // - A change between the capture above and the link cannot happen (the writers wait); were one to slip
                //   in, it bumps Version and the object is discarded as garbage below, as for a copied upload.
                // Only full segments are adopted: nothing appends to them, and a host rarely rewrites them. A partial
                // tail is uploaded whenever the tape is idle and appended to after, so adopting it would trade the
                // background copy for a copy-on-write on the host's next write: no gain, and the latency on the writer.
                if (adopting is not null && length == tape.SegmentSize)
                {
                    wasShared = s.Shared;
                    s.Shared = true;
                }
                else
                {
                    adopting = null;
                }
            }

            var sha = await RunningHashAsync(tape, s, length, stopping).ConfigureAwait(false);

            key = Layout.SegmentKey(TapeTier.Library, tape.Barcode, s.Index, generation);
            using var handle = File.OpenHandle(tape.SegmentPath(s.Index), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);

            // Clean means "the local file equals the object", which must hold after a crash too: fsync first. On a busy
            // disk that blocks for a while, so it waits on a background worker rather than on a pool thread.
            if (_options.Background is { } background)
            {
                await background.Run(() => FlushToDisk(handle), stopping).ConfigureAwait(false);
            }
            else
            {
                RandomAccess.FlushToDisk(handle);
            }

            // The running hash of an append-only segment saves a read-and-hash pass; the store still checks the bytes it
            // sends against it (PutOptions.ExpectedSha256), so a stale hash can only fail the upload, never store bad data.
            // A store that hashes while storing needs neither: its result is the hash (one pass over the bytes in all).
            if (sha is null && ObjectStore.NeedsSha256BeforePut)
            {
                sha = _options.Background is { } hasher
                    ? await hasher.Run(() => HashFile(handle, length, stopping), stopping).ConfigureAwait(false)
                    : HashFile(handle, length, stopping);
            }

            var putOptions = new PutOptions
            {
                ExpectedSha256 = sha,
                Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["tapegw-barcode"] = tape.Barcode },
            };
            PutResult? stored = null;
            if (adopting is not null)
            {
                stored = await adopting.TryAdoptFileAsync(key, tape.SegmentPath(s.Index), length, putOptions, stopping).ConfigureAwait(false);
                if (stored is not null)
                {
                    Interlocked.Increment(ref _adoptedSegments);
                }
                else
                {
                    // Not linked (another filesystem, no hard links): the file is still only the cache's. Had the store
                    // failed after linking, it would have thrown instead, and the mark stays (a needless copy at worst).
                    lock (tape.Gate)
                    {
                        s.Shared = wasShared;
                    }
                }
            }

            if (stored is null)
            {
                await using var file = new FileStream(handle, FileAccess.Read, 0, isAsync: true);
                using var body = new BoundedReadStream(file, length);
                stored = await ObjectStore.PutAsync(key, body, putOptions, stopping).ConfigureAwait(false);
            }

            sha = stored.Sha256;

            lock (tape.Gate)
            {
                var current = s.Index < tape.Segments.Count && ReferenceEquals(tape.Segments[s.Index], s);
                if (current && s.Dirty && s.Version == version && s.Length == length)
                {
                    if (s.Uploaded is not null)
                    {
                        tape.Garbage.Add(s.Uploaded.Key);
                    }

                    s.Uploaded = new TapeSegmentRef { Index = s.Index, Key = key, Length = length, Sha256 = sha };
                    s.Dirty = false;
                    Interlocked.Add(ref _dirtyBytes, -length);
                    Interlocked.Add(ref _cleanPresentBytes, length);
                }
                else
                {
                    tape.Garbage.Add(key); // the segment changed while it was uploading: that object is stale
                }

                tape.RetryDelay = TimeSpan.Zero;
                tape.PersistLocked();
            }

            SignalSpace();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is ObjectStoreException or IOException)
        {
            Interlocked.Increment(ref _uploadFailures);
            Backoff(tape);
            LogUploadFailed(_logger, tape.Barcode, ex.Message);
            if (key is not null)
            {
                lock (tape.Gate)
                {
                    tape.Garbage.Add(key); // a failed multipart put stores nothing, but a lost response may have
                }
            }
        }
        finally
        {
            if (slot)
            {
                _uploadSlots.Release();
            }

            lock (tape.Gate)
            {
                s.Upload = null;
            }

            Signal();
        }
    }

    private void Backoff(CachedTape tape)
    {
        lock (tape.Gate)
        {
            var delay = tape.RetryDelay == TimeSpan.Zero ? _options.UploadRetryDelay : TimeSpan.FromTicks(Math.Min(tape.RetryDelay.Ticks * 2, _options.MaxUploadRetryDelay.Ticks));
            tape.RetryDelay = delay;
            tape.RetryAt = _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);
        }
    }

    private static bool FlushToDisk(SafeFileHandle handle)
    {
        RandomAccess.FlushToDisk(handle);
        return true;
    }

    private static string HashFile(SafeFileHandle handle, long length, CancellationToken ct) =>
        FileSha256.TryCompute(handle, length, ct) ?? throw new IOException($"Segment file shorter than {length} bytes.");

    /// <summary>
    /// Publishes the tape's manifest: uploads the head if it changed, names the contiguous clean prefix of segments,
    /// writes the manifest (the commit point), then deletes objects no manifest names any more. Returns null when the
    /// tape is no longer the tier's entry (purged meanwhile): publishing it would write an old manifest over whatever a
    /// later mount of the same tape published, or when the uploader's <paramref name="reserved"/> publish finds its work
    /// done by another. <paramref name="reserved"/>: the uploader counted this publish when it decided on it.
    /// </summary>
    private async Task<TapeManifest?> PublishAsync(CachedTape tape, bool reserved, CancellationToken ct)
    {
        if (!reserved)
        {
            lock (tape.Gate)
            {
                tape.Publishes++;
            }
        }

        var locked = false;
        try
        {
            await tape.PublishLock.WaitAsync(ct).ConfigureAwait(false);
            locked = true;
            lock (tape.Gate)
            {
                // A purge refuses only a running publish: one still waiting here finds the tape gone and does nothing.
                // The uploader decides before it holds the lock, so by now an explicit publish may have done its work.
                if (!IsCurrent(tape) || (reserved && !NeedsPublishLocked(tape, _time.GetTimestamp())))
                {
                    return null;
                }

                tape.PublishRunning = true;
            }

            bool headDirty;
            long headVersion;
            long generation;
            lock (tape.Gate)
            {
                headDirty = tape.HeadDirty || tape.Head is null;
                headVersion = tape.HeadVersion;
                generation = tape.NextGeneration++;
            }

            if (headDirty)
            {
                var head = new byte[tape.DataStart];
                using (var handle = File.OpenHandle(tape.HeadPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                {
                    RandomAccess.FlushToDisk(handle);
                    var n = RandomAccess.Read(handle, head, 0);
                    if (n != head.Length)
                    {
                        throw new IOException($"Tape {tape.Barcode}: the head file is short ({n} bytes).");
                    }
                }

                var sha = TapeManifest.Sha256Hex(head);
                var key = Layout.HeadKey(TapeTier.Library, tape.Barcode, generation);
                await ObjectStore.PutAsync(key, new MemoryStream(head, writable: false), new PutOptions { ExpectedSha256 = sha }, ct).ConfigureAwait(false);
                lock (tape.Gate)
                {
                    if (tape.Head is not null)
                    {
                        tape.Garbage.Add(tape.Head.Key);
                    }

                    // A mark written while the head uploaded leaves it dirty; the uploaded snapshot is still a valid head
                    // (both slots are CRC-protected and alternate), so the manifest may name it.
                    tape.Head = new TapeObjectRef { Key = key, Length = head.Length, Sha256 = sha };
                    tape.HeadDirty = tape.HeadVersion != headVersion;
                    tape.PersistLocked();
                }
            }

            TapeManifest manifest;
            List<string> garbage;
            lock (tape.Gate)
            {
                var segments = new List<TapeSegmentRef>();
                foreach (var s in tape.Segments)
                {
                    if (s.Dirty || s.Uploaded is null)
                    {
                        break;
                    }

                    segments.Add(s.Uploaded);
                }

                var complete = tape.OpenStore is null && !tape.HeadDirty && segments.Count == tape.Segments.Count;
                manifest = new TapeManifest
                {
                    Barcode = tape.Barcode,
                    GatewayId = Layout.GatewayId,
                    Generation = tape.NextGeneration++,
                    SegmentSize = tape.SegmentSize,
                    DataStart = tape.DataStart,
                    Length = tape.DataStart + segments.Sum(s => s.Length),
                    Complete = complete,
                    CapacityBytes = tape.CapacityBytes,
                    Worm = tape.Worm,
                    UsedBytes = segments.Sum(s => s.Length),
                    Head = tape.Head!,
                    Segments = segments,
                    Written = _time.GetUtcNow(),
                };
                garbage = [.. tape.Garbage];
                tape.PersistLocked();
            }

            var json = manifest.ToJsonBytes();
            await ObjectStore.PutAsync(Layout.ManifestKey(TapeTier.Library, tape.Barcode), new MemoryStream(json, writable: false), new PutOptions(), ct).ConfigureAwait(false);
            foreach (var key in garbage)
            {
                await ObjectStore.DeleteAsync(key, ct).ConfigureAwait(false);
            }

            lock (tape.Gate)
            {
                tape.PublishedGeneration = manifest.Generation;
                tape.PublishedComplete = manifest.Complete && tape.OpenStore is null && !tape.HeadDirty && tape.Segments.All(s => !s.Dirty);
                tape.LastPublish = _time.GetTimestamp();
                tape.Garbage.RemoveAll(garbage.Contains);
                tape.RetryDelay = TimeSpan.Zero;
                tape.PersistLocked();
            }

            return manifest;
        }
        finally
        {
            lock (tape.Gate)
            {
                tape.Publishes--;
                if (locked)
                {
                    tape.PublishRunning = false;
                }
            }

            if (locked)
            {
                tape.PublishLock.Release();
            }
        }
    }

    // ---- fetching and eviction ------------------------------------------------------------------------------------

    /// <summary>Brings an evicted segment back from its object (started under the gate: the work runs on the pool).</summary>
    private Task FetchAsync(CachedTape tape, SegmentState s) => Track(Task.Run(() => FetchCoreAsync(tape, s)));

    private async Task FetchCoreAsync(CachedTape tape, SegmentState s)
    {
        TapeSegmentRef? source;
        lock (tape.Gate)
        {
            source = s.Uploaded;
        }

        try
        {
            if (source is null)
            {
                throw new TapeStoreException(TapeStoreFailure.MediumError, $"Tape {tape.Barcode}: segment {s.Index} is neither local nor uploaded.");
            }

            var path = tape.SegmentPath(s.Index);
            await DownloadAsync(source, path, _stopping.Token).ConfigureAwait(false);
            lock (tape.Gate)
            {
                s.Present = true;
                s.Shared = false; // a download is a file of its own, whatever the evicted one shared
                s.LastAccess = _time.GetTimestamp();
                Interlocked.Add(ref _cleanPresentBytes, s.Length);
            }
        }
        catch (Exception ex) when (ex is ObjectStoreException or IOException and not TapeStoreException)
        {
            LogFetchFailed(_logger, tape.Barcode, s.Index, ex.Message);
            var failure = ex is ObjectCorruptedException or ObjectNotFoundException or InvalidObjectStateException or InvalidDataException
                ? TapeStoreFailure.MediumError
                : TapeStoreFailure.Unavailable;
            throw new TapeStoreException(failure, $"Tape {tape.Barcode}: segment {s.Index} could not be read from the object store: {ex.Message}", ex);
        }
        finally
        {
            lock (tape.Gate)
            {
                s.Fetch = null;
            }

            Signal();
        }
    }

    /// <summary>Ranged GETs of one object in flight at once (per fetch; read-ahead fetches run side by side).</summary>
    private const int FetchRangesInFlight = 4;

    /// <summary>
    /// Downloads one object to <paramref name="path"/> (through a temporary file, fsynced before the rename so a crash
    /// never leaves a right-sized file of wrong bytes), checking length and the SHA-256 the manifest recorded. A large
    /// object comes as parallel ranged GETs (one TCP stream rarely fills the link to an object store), written at their
    /// offsets and hashed in order once all are in, so the restore of one tape streams at several connections' speed.
    /// </summary>
    private async Task DownloadAsync(TapeObjectRef source, string path, CancellationToken ct)
    {
        var temporary = path + ".part";
        long total = 0;
        using (var handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            if (source.Length <= _options.FetchRangeBytes)
            {
                // Small (or empty) object: one GET; the store checks its own SHA-256 on a full read, the manifest's below.
                await using var read = await ObjectStore.GetAsync(source.Key, null, ct).ConfigureAwait(false);
                total = await CopyToFileAsync(read.Content, handle, 0, ct).ConfigureAwait(false);
            }
            else
            {
                var range = _options.FetchRangeBytes;
                var ranges = (int)((source.Length + range - 1) / range);
                var counts = new long[ranges];
                await Parallel.ForEachAsync(
                    Enumerable.Range(0, ranges),
                    new ParallelOptions { MaxDegreeOfParallelism = FetchRangesInFlight, CancellationToken = ct },
                    async (i, token) =>
                    {
                        var offset = (long)i * range;
                        var length = Math.Min(range, source.Length - offset);
                        await using var read = await ObjectStore.GetAsync(source.Key, new ByteRange(offset, length), token).ConfigureAwait(false);
                        counts[i] = await CopyToFileAsync(read.Content, handle, offset, token).ConfigureAwait(false);
                        if (counts[i] != length)
                        {
                            throw new ObjectCorruptedException($"'{source.Key}': range at {offset} returned {counts[i]} of {length} bytes.") { Key = source.Key };
                        }
                    }).ConfigureAwait(false);
                total = counts.Sum();
            }

            RandomAccess.FlushToDisk(handle);
            var actual = HashFile(handle, total, ct);
            if (total != source.Length || !string.Equals(actual, source.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                handle.Dispose();
                File.Delete(temporary);
                throw new ObjectCorruptedException($"'{source.Key}' has {total} bytes with SHA-256 {actual}; the manifest says {source.Length} bytes, {source.Sha256}.") { Key = source.Key };
            }
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static async Task<long> CopyToFileAsync(Stream content, SafeFileHandle handle, long offset, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long total = 0;
            int n;
            while ((n = await content.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                await RandomAccess.WriteAsync(handle, buffer.AsMemory(0, n), offset + total, ct).ConfigureAwait(false);
                total += n;
            }

            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // ---- copy-on-write of adopted segment files ---------------------------------------------------------------------

    /// <summary>
    /// Whether the segment file must get an inode of its own before it changes: marked so by an adoption, at load, or —
    /// belt and braces, once per change of a clean segment — because its inode has more than one name.
    /// </summary>
    private static bool MustUnshareLocked(CachedTape tape, SegmentState s)
    {
        if (!s.Shared && !s.Dirty && HardLinks.LinkCount(tape.SegmentPath(s.Index)) is > 1)
        {
            s.Shared = true;
        }

        return s.Shared;
    }

    /// <summary>Gives a shared segment file an inode of its own (started under the gate: the copy runs on the pool).</summary>
    private Task UnshareAsync(CachedTape tape, SegmentState s) => Track(Task.Run(() => UnshareCoreAsync(tape, s)));

    /// <summary>
    /// Copies the file to a new inode (fsynced: a clean segment must equal its object after a crash too) and renames it
    /// over the cache path. The stored object keeps the old inode untouched. Nobody writes the file meanwhile (writers
    /// and truncation wait for <see cref="SegmentState.Unshare"/>); the cached handle still names the old inode, so it
    /// is closed — once no read holds it — and the next user opens the new file.
    /// </summary>
    private async Task UnshareCoreAsync(CachedTape tape, SegmentState s)
    {
        var path = tape.SegmentPath(s.Index);
        var copy = path + CachedTape.CopyOnWriteSuffix;
        try
        {
            // File.Copy clones (FICLONE) where the filesystem can, else copies in the kernel (copy_file_range).
            File.Copy(path, copy, overwrite: true);
            using (var handle = File.OpenHandle(copy, FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.FlushToDisk(handle);
            }

            while (true)
            {
                lock (tape.Gate)
                {
                    if (s.Index >= tape.Segments.Count || !ReferenceEquals(tape.Segments[s.Index], s) || !s.Present)
                    {
                        File.Delete(copy);
                        return;
                    }

                    // A lease's reader uses the cached handle outside the gate (the image's read-ahead, too): closing
                    // it under the reader would fail the read, so wait for the (short, page-cache) reads to end.
                    if (s.Leases == 0)
                    {
                        File.Move(copy, path, overwrite: true);
                        s.Handle?.Dispose();
                        s.Handle = null;
                        s.Shared = false;
                        break;
                    }
                }

                await Task.Delay(1).ConfigureAwait(false);
            }

            Interlocked.Increment(ref _copiedOnWriteSegments);
        }
        catch
        {
            try
            {
                File.Delete(copy);
            }
            catch (IOException)
            {
                // The tape's directory went away (purged); a leftover copy is deleted at the next load.
            }

            throw;
        }
        finally
        {
            lock (tape.Gate)
            {
                s.Unshare = null;
            }
        }
    }

    /// <summary>Evicts least recently used clean segments until the read cache is within its limit.</summary>
    private void EvictIfNeeded()
    {
        if (CachedBytes <= _options.CacheBytes)
        {
            return;
        }

        var candidates = new List<(long LastAccess, CachedTape Tape, SegmentState Segment)>();
        foreach (var tape in _tapes.Values)
        {
            lock (tape.Gate)
            {
                foreach (var s in tape.Segments)
                {
                    if (s.Present && !s.Dirty && s.Leases == 0 && s.Fetch is null && s.Upload is null && s.Unshare is null)
                    {
                        candidates.Add((s.LastAccess, tape, s));
                    }
                }
            }
        }

        foreach (var (_, tape, s) in candidates.OrderBy(c => c.LastAccess))
        {
            if (CachedBytes <= _options.CacheBytes)
            {
                break;
            }

            lock (tape.Gate)
            {
                if (!s.Present || s.Dirty || s.Leases != 0 || s.Fetch is not null || s.Upload is not null || s.Unshare is not null)
                {
                    continue;
                }

                s.Handle?.Dispose();
                s.Handle = null;
                File.Delete(tape.SegmentPath(s.Index));
                s.Present = false;
                Interlocked.Add(ref _cleanPresentBytes, -s.Length);
            }
        }
    }
}

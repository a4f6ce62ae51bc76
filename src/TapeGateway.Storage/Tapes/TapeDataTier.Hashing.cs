using System.Buffers;

namespace TapeGateway.Storage.Tapes;

public sealed partial class TapeDataTier
{
    /// <summary>How much the hasher reads and hashes per step; the tape's gate is never held while it hashes.</summary>
    private const int HashChunk = 1 << 20;

    /// <summary>
    /// Extends every segment's running SHA-256 over the bytes appended since, reading them back from the page cache.
    /// Runs on a pool thread, so a WRITE is acknowledged without paying for the hash (about 0.7 s of CPU per GB here,
    /// most of the tier's cost per command); on a machine with a core to spare the hash is free in wall time.
    /// </summary>
    /// <remarks>
    /// Correct against concurrent writers because it only reads [HashedLength, HashableLength) — bytes whose writes
    /// completed — and any later write below HashableLength replaces the hash (<see cref="SegmentState.ForgetHash"/>),
    /// which the hasher notices when it comes back to the gate and then discards its work.
    /// </remarks>
    internal void HashAppended(CachedTape tape, SegmentHasher? via = null)
    {
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                SegmentState? s = null;
                System.Security.Cryptography.IncrementalHash? hash = null;
                Microsoft.Win32.SafeHandles.SafeFileHandle? handle = null;
                long start = 0, end = 0;
                lock (tape.Gate)
                {
                    var idle = true; // every segment so far has nothing to hash, and nobody is hashing it
                    for (var i = Math.Min(tape.HashScanFrom, tape.Segments.Count); i < tape.Segments.Count; i++)
                    {
                        var candidate = tape.Segments[i];
                        if (candidate.Hash is not null && !candidate.Hashing && candidate.Present &&
                            candidate.HashedLength < candidate.HashableLength)
                        {
                            s = candidate;
                            break;
                        }

                        idle &= !candidate.Hashing && (candidate.Hash is null || candidate.HashedLength >= candidate.HashableLength);
                        if (idle)
                        {
                            tape.HashScanFrom = i + 1;
                        }
                    }

                    if (s is null)
                    {
                        return;
                    }

                    try
                    {
                        // Closed when its tape was unloaded; gone when a new tape's directory was renamed into place.
                        handle = s.Handle ??= TieredTapeStore.OpenHandle(tape.SegmentPath(s.Index), FileMode.Open);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        s.ForgetHash(); // the upload (if this tape is still live) hashes the file instead
                        continue;
                    }

                    s.Hashing = true;
                    hash = s.Hash;
                    start = s.HashedLength;
                    end = Math.Min(s.HashableLength, start + HashChunk);
                }

                var done = false;
                try
                {
                    buffer ??= ArrayPool<byte>.Shared.Rent(HashChunk);
                    var length = (int)(end - start);
                    var n = 0;
                    while (n < length)
                    {
                        var read = RandomAccess.Read(handle!, buffer.AsSpan(n, length - n), start + n);
                        if (read == 0)
                        {
                            break;
                        }

                        n += read;
                    }

                    if (n == length)
                    {
                        hash!.AppendData(buffer, 0, length);
                        done = true;
                    }
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
                {
                    // The segment was truncated or closed under us: its hash is forgotten or about to be.
                }

                var ready = false;
                lock (tape.Gate)
                {
                    s.Hashing = false;
                    if (!ReferenceEquals(s.Hash, hash))
                    {
                        hash!.Dispose(); // forgotten while we hashed
                    }
                    else if (!done)
                    {
                        s.ForgetHash(); // the upload hashes the file instead
                        ready = true;
                    }
                    else
                    {
                        // Wake the uploader only for what it would upload now (a full segment, or the tail of an
                        // unloaded tape); an idle tail is found by its periodic pass, a waiting upload polls.
                        s.HashedLength = end;
                        ready = s.Writers == 0 && end == s.Length && (end == tape.SegmentSize || tape.OpenStore is null);
                    }
                }

                if (ready)
                {
                    // The uploader skips segments whose hash is still catching up. A background worker must not wake
                    // pool work itself (see BackgroundWorkScheduler): its relay thread does.
                    if (via is not null && Options.Background is { } background)
                    {
                        via.SignalRequested = true;
                        background.Relay(via);
                    }
                    else
                    {
                        Signal();
                    }
                }
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Finishes the running hashes of a tape on the calling thread (and waits for a background pass still at work), so
    /// a tape created or imported with data keeps complete hashes when its files move into place.
    /// </summary>
    private async Task CatchUpHashesAsync(CachedTape tape, CancellationToken ct)
    {
        while (true)
        {
            HashAppended(tape);
            lock (tape.Gate)
            {
                if (!tape.Segments.Any(s => s.Hashing))
                {
                    return;
                }
            }

            await Task.Delay(1, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The upload's SHA-256 of a segment's first <paramref name="length"/> bytes: the running hash once the hasher has
    /// caught up (waiting for it briefly), or null when the hash is unknown and the file must be hashed.
    /// </summary>
    private async Task<string?> RunningHashAsync(CachedTape tape, SegmentState s, long length, CancellationToken ct)
    {
        while (true)
        {
            lock (tape.Gate)
            {
                if (s.Hash is null || s.HashableLength < length)
                {
                    return null;
                }

                if (s.HashReady(length))
                {
                    return Convert.ToHexStringLower(s.Hash.GetCurrentHash());
                }

                // Past the captured length (an append landed after the upload took its length and the hasher went on),
                // the running hash can never describe exactly these bytes again; nor can it with no hasher to extend it.
                // The upload then hashes the file: correct, only slower. Waiting here would wait forever.
                if (s.HashedLength > length || tape.Hasher is null)
                {
                    return null;
                }
            }

            tape.Hasher?.Queue();
            await Task.Delay(2, ct).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// One tape's hashing work item: queued at most once at a time, reused, so an append allocates nothing. Runs on the
/// tier's background workers when it has them, else on the thread pool.
/// </summary>
internal sealed class SegmentHasher(TapeDataTier tier, CachedTape tape) : IThreadPoolWorkItem, IBackgroundWorkItem
{
    private int _queued;
    private int _signal;

    /// <summary>Set by a pass on a background worker; the relay thread then signals the uploader.</summary>
    public bool SignalRequested
    {
        set => Volatile.Write(ref _signal, value ? 1 : 0);
    }

    public void Queue()
    {
        if (Interlocked.Exchange(ref _queued, 1) == 0)
        {
            if (tier.Options.Background is { Hurried: false } background)
            {
                background.UnsafeQueue(this);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }
    }

    public void Execute()
    {
        // Cleared before the work, so an append that lands while we hash queues another pass instead of being missed.
        Volatile.Write(ref _queued, 0);
        tier.HashAppended(tape, this);
    }

    void IBackgroundWorkItem.Completed()
    {
        if (Interlocked.Exchange(ref _signal, 0) != 0)
        {
            tier.SignalUploader();
        }
    }
}

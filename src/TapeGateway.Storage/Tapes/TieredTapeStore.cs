using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using TapeGateway.Media.IO;
using TapeGateway.Media.Tape;

namespace TapeGateway.Storage.Tapes;

/// <summary>
/// The <see cref="ITapeStore"/> of a tape whose bytes live in the object store behind the local cache. The image's
/// metadata region is the local <c>head</c> file; the record stream is split into segment files of a fixed size, each
/// uploaded as an immutable object once it is full (or when the tape is closed), and fetched back on demand when it
/// was evicted. Writes land in the local file (the drive's buffer) and are acknowledged from there; a durability point
/// (<see cref="FlushAsync"/>) fsyncs what was written, exactly as for a local image.
/// </summary>
/// <remarks>
/// <para>The image serialises its verbs, so one call at a time reaches this store; the tier's uploader and evictor
/// run concurrently and coordinate through the tape's gate.</para>
/// <para>A record that falls inside one local segment — nearly all of them — takes the same path as a local image
/// (<see cref="LocalFileTapeStore"/>): header and payload in one synchronous <c>pwritev</c> on the calling worker (the
/// drive runs writes as blocking commands), reads tried from the page cache first with <c>preadv2(RWF_NOWAIT)</c>, and
/// nothing allocated per call. Records crossing a segment boundary, metadata writes and evicted segments take the
/// general path.</para>
/// </remarks>
public sealed class TieredTapeStore : ITapeStore
{
    private readonly TapeDataTier _tier;
    private readonly CachedTape _tape;
    private readonly HashSet<int> _unsynced = [];
    private readonly ReadOnlyMemory<byte>[] _oneSource = new ReadOnlyMemory<byte>[1];
    private readonly PooledFileRead _pending = new();
    private bool _tryNoWaitReads = VectoredFile.IsNative;
    private bool _headUnsynced;
    private bool _disposed;

    internal TieredTapeStore(TapeDataTier tier, CachedTape tape)
    {
        _tier = tier;
        _tape = tape;
    }

    public string Barcode => _tape.Barcode;

    public long Length
    {
        get
        {
            lock (_tape.Gate)
            {
                return _tape.Length;
            }
        }
    }

    public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct) =>
        ReadScatter(offset, destination, default, ct);

    public ValueTask<int> ReadScatterAsync(long offset, IReadOnlyList<Memory<byte>> destinations, CancellationToken ct) =>
        destinations.Count switch
        {
            1 => ReadScatter(offset, destinations[0], default, ct),
            2 => ReadScatter(offset, destinations[0], destinations[1], ct),
            _ => ITapeStore.ReadEachAsync(this, offset, destinations, ct),
        };

    public bool TryReadCached(long offset, IReadOnlyList<Memory<byte>> destinations, out int bytesRead)
    {
        bytesRead = 0;
        if (_disposed || !_tryNoWaitReads || destinations.Count != 2 ||
            !TryLocate(offset, destinations[0].Length + destinations[1].Length, out var index, out var within))
        {
            return false;
        }

        var handle = _tier.TryLeasePresent(_tape, index);
        if (handle is null)
        {
            return false;
        }

        try
        {
            var n = NoWaitRead(handle, index, within, destinations[0], destinations[1]);
            if (n < 0)
            {
                return false;
            }

            bytesRead = n;
            return true;
        }
        finally
        {
            _tier.ReleaseRead(_tape, index);
        }
    }

    /// <summary>The fast path for a read inside one local segment, else the general one.</summary>
    private ValueTask<int> ReadScatter(long offset, Memory<byte> first, Memory<byte> second, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ct.ThrowIfCancellationRequested();
        if (!TryLocate(offset, first.Length + second.Length, out var index, out var within))
        {
            return ReadPartsAsync(offset, first, second, ct);
        }

        var handle = _tier.TryLeasePresent(_tape, index);
        if (handle is null)
        {
            return ReadPartsAsync(offset, first, second, ct); // evicted: the general path waits for the fetch
        }

        var leased = true;
        try
        {
            var n = _tryNoWaitReads ? NoWaitRead(handle, index, within, first, second) : -1;
            if (n >= 0)
            {
                return new ValueTask<int>(n);
            }

            leased = false; // handed to the pooled read, which releases it
            return ReadOnPoolAsync(handle, index, within, first, second);
        }
        finally
        {
            if (leased)
            {
                _tier.ReleaseRead(_tape, index);
            }
        }
    }

    /// <summary>
    /// True when [offset, offset+count) is record-stream bytes inside one segment, within what that segment holds;
    /// then <paramref name="index"/> and <paramref name="within"/> locate it.
    /// </summary>
    private bool TryLocate(long offset, long count, out int index, out long within)
    {
        index = 0;
        within = 0;
        if (offset < _tape.DataStart)
        {
            return false;
        }

        index = (int)((offset - _tape.DataStart) / _tape.SegmentSize);
        within = (offset - _tape.DataStart) % _tape.SegmentSize;
        var (segmentLength, exists) = _tier.SegmentExtent(_tape, index);
        return exists && within + count <= segmentLength;
    }

    private int NoWaitRead(SafeFileHandle handle, int index, long within, Memory<byte> first, Memory<byte> second)
    {
        var n = VectoredFile.TryReadNoWait(handle, within, first, second);
        if (n == VectoredFile.Unsupported)
        {
            _tryNoWaitReads = false; // a file system without RWF_NOWAIT: always read on the pool
        }

        return n;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadOnPoolAsync(SafeFileHandle handle, int index, long within, Memory<byte> first, Memory<byte> second)
    {
        try
        {
            return await _pending.Start(handle, within, first, second, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _tier.ReleaseRead(_tape, index);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadPartsAsync(long offset, Memory<byte> first, Memory<byte> second, CancellationToken ct)
    {
        var n = await ReadGeneralAsync(offset, first, ct).ConfigureAwait(false);
        if (n == first.Length && second.Length > 0)
        {
            n += await ReadGeneralAsync(offset + n, second, ct).ConfigureAwait(false);
        }

        return n;
    }

    /// <summary>Any range: metadata from the head file, the stream segment by segment, fetching evicted ones.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadGeneralAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var total = 0;
        while (total < destination.Length)
        {
            var position = offset + total;
            if (position < _tape.DataStart)
            {
                var take = (int)Math.Min(destination.Length - total, _tape.DataStart - position);
                var n = await RandomAccess.ReadAsync(_tape.HeadHandle!, destination.Slice(total, take), position, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
                continue;
            }

            var index = (int)((position - _tape.DataStart) / _tape.SegmentSize);
            var within = (position - _tape.DataStart) % _tape.SegmentSize;
            var handle = await _tier.LeaseForReadAsync(_tape, index, ct).ConfigureAwait(false);
            if (handle is null)
            {
                break; // past the end of the stream
            }

            try
            {
                var (segmentLength, _) = _tier.SegmentExtent(_tape, index);
                if (within >= segmentLength)
                {
                    break;
                }

                var take = (int)Math.Min(destination.Length - total, segmentLength - within);
                var n = await RandomAccess.ReadAsync(handle, destination.Slice(total, take), within, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }
            finally
            {
                _tier.ReleaseRead(_tape, index);
            }
        }

        return total;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        _oneSource[0] = source;
        return WriteGatherAsync(offset, _oneSource, ct);
    }

    public ValueTask WriteGatherAsync(long offset, IReadOnlyList<ReadOnlyMemory<byte>> sources, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ct.ThrowIfCancellationRequested();
        long total = 0;
        for (var i = 0; i < sources.Count; i++)
        {
            total += sources[i].Length;
        }

        if (sources.Count is 0 or > 2 || offset < _tape.DataStart || offset > Length ||
            (offset - _tape.DataStart) % _tape.SegmentSize + total > _tape.SegmentSize)
        {
            return WriteEachAsync(offset, sources, ct);
        }

        var index = (int)((offset - _tape.DataStart) / _tape.SegmentSize);
        var within = (offset - _tape.DataStart) % _tape.SegmentSize;
        var prepare = _tier.PrepareWriteAsync(_tape, index, within, (int)total, ct);
        if (prepare.IsCompletedSuccessfully)
        {
            WriteInSegment(prepare.Result, index, within, sources);
            return ValueTask.CompletedTask;
        }

        return WriteAfterPrepareAsync(prepare, index, within, sources);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteAfterPrepareAsync(ValueTask<SafeFileHandle> prepare, int index, long within, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        // Backpressure, a fetch of an evicted segment or an upload reading the bytes: the wait is over here.
        WriteInSegment(await prepare.ConfigureAwait(false), index, within, sources);
    }

    /// <summary>One gathered write inside one segment, prepared by the tier (dirty, pinned by a writer count).</summary>
    private void WriteInSegment(SafeFileHandle handle, int index, long within, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        var succeeded = false;
        try
        {
            VectoredFile.WriteGather(handle, within, sources);
            succeeded = true;
        }
        finally
        {
            _tier.Written(_tape, index, within, sources[0].Length + (sources.Count > 1 ? sources[1].Length : 0), succeeded);
        }

        _unsynced.Add(index);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteEachAsync(long offset, IReadOnlyList<ReadOnlyMemory<byte>> sources, CancellationToken ct)
    {
        for (var i = 0; i < sources.Count; i++)
        {
            await WriteGeneralAsync(offset, sources[i], ct).ConfigureAwait(false);
            offset += sources[i].Length;
        }
    }

    /// <summary>Any range: metadata into the head file, the stream segment by segment.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteGeneralAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset > Length)
        {
            // The image only appends at its end or rewrites metadata; a hole would be a bug in the caller.
            throw new InvalidOperationException($"Write at {offset} beyond the end of tape {_tape.Barcode} ({Length}).");
        }

        var written = 0;
        while (written < source.Length)
        {
            var position = offset + written;
            if (position < _tape.DataStart)
            {
                var take = (int)Math.Min(source.Length - written, _tape.DataStart - position);
                _tier.HeadWritten(_tape, position + take);
                await RandomAccess.WriteAsync(_tape.HeadHandle!, source.Slice(written, take), position, ct).ConfigureAwait(false);
                _headUnsynced = true;
                written += take;
                continue;
            }

            var index = (int)((position - _tape.DataStart) / _tape.SegmentSize);
            var within = (position - _tape.DataStart) % _tape.SegmentSize;
            var chunk = (int)Math.Min(source.Length - written, _tape.SegmentSize - within);
            var handle = await _tier.PrepareWriteAsync(_tape, index, within, chunk, ct).ConfigureAwait(false);
            var succeeded = false;
            try
            {
                await RandomAccess.WriteAsync(handle, source.Slice(written, chunk), within, ct).ConfigureAwait(false);
                succeeded = true;
            }
            finally
            {
                _tier.Written(_tape, index, within, source.Span.Slice(written, chunk), succeeded);
            }

            _unsynced.Add(index);
            written += chunk;
        }
    }

    public async ValueTask SetLengthAsync(long length, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, _tape.DataStart);
        await _tier.TruncateAsync(_tape, length, ct).ConfigureAwait(false);
        _unsynced.RemoveWhere(i => i > (length - _tape.DataStart) / _tape.SegmentSize);
    }

    public ValueTask FlushAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ct.ThrowIfCancellationRequested();
        foreach (var index in _unsynced)
        {
            if (_tier.TryGetHandle(_tape, index) is { } handle)
            {
                RandomAccess.FlushToDisk(handle);
            }
        }

        _unsynced.Clear();
        if (_headUnsynced)
        {
            RandomAccess.FlushToDisk(_tape.HeadHandle!);
            _headUnsynced = false;
        }

        _tier.Flushed(_tape);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        // The image fsynced before closing; this covers a store closed without its image (creation failures).
        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        _disposed = true;
        _tier.Closed(_tape, this);
    }

    internal static SafeFileHandle OpenHandle(string path, FileMode mode) =>
        File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
}

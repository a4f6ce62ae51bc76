using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using TapeGateway.Media.Tape;

namespace TapeGateway.Storage.Tapes;

/// <summary>
/// The <see cref="ITapeStore"/> of a tape whose bytes live in the object store behind the local cache. The image's
/// metadata region is the local <c>head</c> file; the record stream is split into segment files of a fixed size, each
/// uploaded as an immutable object once it is full (or when the tape is closed), and fetched back on demand when it
/// was evicted. Writes land in the local file (the drive's buffer) and are acknowledged from there; a durability point
/// (<see cref="FlushAsync"/>) fsyncs what was written, exactly as for a local image.
/// </summary>
/// <remarks>The image serialises its verbs, so one call at a time reaches this store; the tier's uploader and evictor
/// run concurrently and coordinate through the tape's gate.</remarks>
public sealed class TieredTapeStore : ITapeStore
{
    private readonly TapeDataTier _tier;
    private readonly CachedTape _tape;
    private readonly HashSet<int> _unsynced = [];
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

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
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

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
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

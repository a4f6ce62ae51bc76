using Microsoft.Win32.SafeHandles;
using TapeGateway.Media.IO;

namespace TapeGateway.Media.Tape;

/// <summary>
/// <see cref="ITapeStore"/> over one local file with positional I/O: no FileStream buffering, no shared file pointer,
/// nothing allocated per call.
/// </summary>
/// <remarks>
/// <para>
/// Writes, truncation and fsync are synchronous: they block the calling thread, as a page-cache write costs about as
/// much as handing it to another thread would (tens of microseconds per 256 KiB) and can still stall for long on
/// dirty-page throttling, which the caller must be prepared for anyway. The SSC drive therefore runs the commands that
/// write or sync on a thread-pool worker (<c>CommandFlags.Blocking</c>), never on a connection's read loop. A record —
/// header plus payload — is one <c>pwritev</c>.
/// </para>
/// <para>
/// Reads are first tried inline with <c>preadv2(RWF_NOWAIT)</c>, which the kernel serves only from the page cache
/// and refuses (EAGAIN) when it would have to wait for the disk; then, and only then, the read goes to the thread
/// pool through a work item the store reuses. A tape streamed back soon after it was written costs no thread hop.
/// (<see cref="RandomAccess"/> would hop on every call, and its gathered overloads allocate per call.)
/// </para>
/// </remarks>
public sealed class LocalFileTapeStore : ITapeStore
{
    private static readonly bool s_native = VectoredFile.IsNative;


    private readonly SafeFileHandle _handle;
    private readonly PooledFileRead _pending = new();
    private readonly ReadOnlyMemory<byte>[] _oneSource = new ReadOnlyMemory<byte>[1];
    private long _length;
    private bool _tryNoWaitReads = s_native;

    private LocalFileTapeStore(SafeFileHandle handle)
    {
        _handle = handle;
        _length = RandomAccess.GetLength(handle);
    }

    public string Path { get; private init; } = "";

    public long Length => _length;

    /// <summary>Creates a new, empty file; fails if it already exists so an existing tape is never clobbered.</summary>
    public static LocalFileTapeStore Create(string path) =>
        new(File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            Path = path,
        };

    /// <summary>
    /// Opens an existing file exclusively (on Unix .NET maps FileShare.None to an advisory exclusive lock), so two
    /// drives can never mount the same cartridge.
    /// </summary>
    public static LocalFileTapeStore Open(string path) =>
        new(File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            Path = path,
        };

    public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (!s_native)
        {
            return ReadFallbackAsync(offset, destination, ct);
        }

        var done = TryReadNoWait(offset, destination, default);
        if (done < 0)
        {
            return _pending.Start(_handle, offset, destination, default, ct);
        }

        return new ValueTask<int>(done);
    }

    public ValueTask<int> ReadScatterAsync(long offset, IReadOnlyList<Memory<byte>> destinations, CancellationToken ct)
    {
        if (!s_native || destinations.Count != 2)
        {
            return ITapeStore.ReadEachAsync(this, offset, destinations, ct);
        }

        ct.ThrowIfCancellationRequested();
        var done = TryReadNoWait(offset, destinations[0], destinations[1]);
        if (done < 0)
        {
            return _pending.Start(_handle, offset, destinations[0], destinations[1], ct);
        }

        return new ValueTask<int>(done);
    }

    public bool TryReadCached(long offset, IReadOnlyList<Memory<byte>> destinations, out int bytesRead)
    {
        bytesRead = 0;
        if (!s_native || destinations.Count != 2)
        {
            return false;
        }

        var n = TryReadNoWait(offset, destinations[0], destinations[1]);
        if (n < 0)
        {
            return false;
        }

        bytesRead = n;
        return true;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        _oneSource[0] = source;
        return WriteGatherAsync(offset, _oneSource, ct);
    }

    public ValueTask WriteGatherAsync(long offset, IReadOnlyList<ReadOnlyMemory<byte>> sources, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        long total = 0;
        for (var i = 0; i < sources.Count; i++)
        {
            total += sources[i].Length;
        }

        var end = offset + total;
        if (end > _length)
        {
            _length = end;
        }

        VectoredFile.WriteGather(_handle, offset, sources);
        return ValueTask.CompletedTask;
    }

    public ValueTask SetLengthAsync(long length, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        RandomAccess.SetLength(_handle, length);
        _length = length;
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();

        // fsync covers both data and the file size, which is what truncation-before-append relies on.
        RandomAccess.FlushToDisk(_handle);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _handle.Dispose();
        return ValueTask.CompletedTask;
    }

    private async ValueTask<int> ReadFallbackAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var n = await RandomAccess.ReadAsync(_handle, destination[total..], offset + total, ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <summary>Reads from the page cache without blocking; -1 when the read has to go to a pool thread.</summary>
    private int TryReadNoWait(long offset, Memory<byte> first, Memory<byte> second)
    {
        if (!_tryNoWaitReads)
        {
            return -1;
        }

        var n = VectoredFile.TryReadNoWait(_handle, offset, first, second);
        if (n == VectoredFile.Unsupported)
        {
            _tryNoWaitReads = false; // older kernel or a file system without it: always use the pool
        }

        return n < 0 ? -1 : n;
    }
}

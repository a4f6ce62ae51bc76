using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Microsoft.Win32.SafeHandles;

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
public sealed partial class LocalFileTapeStore : ITapeStore
{
    private const int MaxVectors = 4;

    // 64-bit Linux: off_t is 64 bits, so the libc entry points below take the offsets as given.
    private static readonly bool s_native = OperatingSystem.IsLinux() && Environment.Is64BitProcess;


    private readonly SafeFileHandle _handle;
    private readonly PendingIo _pending;
    private readonly ReadOnlyMemory<byte>[] _oneSource = new ReadOnlyMemory<byte>[1];
    private long _length;
    private bool _tryNoWaitReads = s_native;

    private LocalFileTapeStore(SafeFileHandle handle)
    {
        _handle = handle;
        _length = RandomAccess.GetLength(handle);
        _pending = new PendingIo(this);
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
            return _pending.StartRead(offset, destination, default, ct);
        }

        return new ValueTask<int>(done);
    }

    public ValueTask<int> ReadScatterAsync(long offset, IReadOnlyList<Memory<byte>> destinations, CancellationToken ct)
    {
        if (!s_native || destinations.Count != 2)
        {
            return ReadEachAsync(offset, destinations, ct);
        }

        ct.ThrowIfCancellationRequested();
        var done = TryReadNoWait(offset, destinations[0], destinations[1]);
        if (done < 0)
        {
            return _pending.StartRead(offset, destinations[0], destinations[1], ct);
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

        if (!s_native || sources.Count > MaxVectors)
        {
            RandomAccess.Write(_handle, sources, offset);
            return ValueTask.CompletedTask;
        }

        WriteAll(offset, sources);
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

    private async ValueTask<int> ReadEachAsync(long offset, IReadOnlyList<Memory<byte>> destinations, CancellationToken ct)
    {
        var total = 0;
        for (var i = 0; i < destinations.Count; i++)
        {
            var n = await ReadAsync(offset + total, destinations[i], ct).ConfigureAwait(false);
            total += n;
            if (n < destinations[i].Length)
            {
                break;
            }
        }

        return total;
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

    /// <summary>
    /// Reads from the page cache without blocking. Returns the bytes read (all of them, or fewer at the end of the
    /// file), or -1 when the kernel would have to wait for the disk (or cannot promise not to): then nothing useful
    /// was done and the caller queues the whole read to the thread pool.
    /// </summary>
    private unsafe int TryReadNoWait(long offset, Memory<byte> first, Memory<byte> second)
    {
        if (!_tryNoWaitReads)
        {
            return -1;
        }

        var wanted = first.Length + second.Length;
        using var a = first.Pin();
        using var b = second.Pin();
        var fd = AcquireFd();
        try
        {
            var done = 0;
            var vectors = stackalloc IoVec[2];
            while (done < wanted)
            {
                var count = Vectors(vectors, (byte*)a.Pointer, first.Length, (byte*)b.Pointer, second.Length, done);
                var n = Native.preadv2(fd, vectors, count, offset + done, Native.RWF_NOWAIT);
                if (n > 0)
                {
                    done += (int)n;
                    continue;
                }

                if (n == 0)
                {
                    return done; // end of file
                }

                var errno = Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case Native.EINTR:
                        continue;
                    case Native.EAGAIN:
                        // Not (all) in the page cache. Whatever was read is simply read again by the pool thread.
                        return -1;
                    case Native.EOPNOTSUPP or Native.EINVAL or Native.ENOSYS:
                        _tryNoWaitReads = false; // older kernel or a file system without it: always use the pool
                        return -1;
                    default:
                        throw new IOException($"preadv2 on '{Path}' failed (errno {errno})", errno);
                }
            }

            return done;
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>Blocking positional read of both buffers until full or end of file (a pool thread's job).</summary>
    private unsafe int ReadAll(long offset, Memory<byte> first, Memory<byte> second)
    {
        var wanted = first.Length + second.Length;
        using var a = first.Pin();
        using var b = second.Pin();
        var fd = AcquireFd();
        try
        {
            var done = 0;
            var vectors = stackalloc IoVec[2];
            while (done < wanted)
            {
                var count = Vectors(vectors, (byte*)a.Pointer, first.Length, (byte*)b.Pointer, second.Length, done);
                var n = Native.preadv(fd, vectors, count, offset + done);
                if (n > 0)
                {
                    done += (int)n;
                }
                else if (n == 0)
                {
                    break;
                }
                else if (Marshal.GetLastPInvokeError() is var errno && errno != Native.EINTR)
                {
                    throw new IOException($"preadv on '{Path}' failed (errno {errno})", errno);
                }
            }

            return done;
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>Positional gathered write of every buffer, on the calling thread (short writes are continued).</summary>
    private unsafe void WriteAll(long offset, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        var pins = default(Pins);
        var count = sources.Count;
        var vectors = stackalloc IoVec[MaxVectors];
        long remaining = 0;
        try
        {
            for (var i = 0; i < count; i++)
            {
                pins[i] = sources[i].Pin();
                vectors[i] = new IoVec((byte*)pins[i].Pointer, sources[i].Length);
                remaining += sources[i].Length;
            }

            var fd = AcquireFd();
            try
            {
                var first = 0;
                while (remaining > 0)
                {
                    var n = Native.pwritev(fd, vectors + first, count - first, offset);
                    if (n < 0)
                    {
                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == Native.EINTR)
                        {
                            continue;
                        }

                        throw new IOException($"pwritev on '{Path}' failed (errno {errno})", errno);
                    }

                    long written = n;
                    offset += written;
                    remaining -= written;
                    while (written > 0 && first < count)
                    {
                        var take = (long)Math.Min((ulong)written, vectors[first].Length);
                        vectors[first] = new IoVec(vectors[first].Base + take, (int)((long)vectors[first].Length - take));
                        written -= take;
                        if (vectors[first].Length == 0)
                        {
                            first++;
                        }
                    }
                }
            }
            finally
            {
                _handle.DangerousRelease();
            }
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                pins[i].Dispose();
            }
        }
    }

    /// <summary>The two buffers as iovecs, skipping the first <paramref name="skip"/> bytes; returns the vector count.</summary>
    private static unsafe int Vectors(IoVec* vectors, byte* first, int firstLength, byte* second, int secondLength, int skip)
    {
        var count = 0;
        if (skip < firstLength)
        {
            vectors[count++] = new IoVec(first + skip, firstLength - skip);
            skip = 0;
        }
        else
        {
            skip -= firstLength;
        }

        if (secondLength - skip > 0)
        {
            vectors[count++] = new IoVec(second + skip, secondLength - skip);
        }

        return count;
    }

    /// <summary>The raw descriptor, with a reference held so a concurrent dispose cannot recycle it under us.</summary>
    private int AcquireFd()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var added = false;
        _handle.DangerousAddRef(ref added);
        return (int)_handle.DangerousGetHandle();
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly unsafe struct IoVec(byte* start, int length)
    {
        public readonly byte* Base = start;
        public readonly nuint Length = (nuint)length;
    }

    [InlineArray(MaxVectors)]
    private struct Pins
    {
        private MemoryHandle _element;
    }

    /// <summary>
    /// The one read the store can have in flight on the thread pool (the image never overlaps calls), as a reusable
    /// work item and <see cref="IValueTaskSource{TResult}"/>: queuing and awaiting it allocate nothing. The
    /// continuation runs on the pool thread that did the read.
    /// </summary>
    private sealed class PendingIo(LocalFileTapeStore store) : IThreadPoolWorkItem, IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;
        private Memory<byte> _first;
        private Memory<byte> _second;
        private long _offset;
        private CancellationToken _ct;

        public ValueTask<int> StartRead(long offset, Memory<byte> first, Memory<byte> second, CancellationToken ct)
        {
            _offset = offset;
            _first = first;
            _second = second;
            _ct = ct;
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            return new ValueTask<int>(this, _core.Version);
        }

        public void Execute()
        {
            var first = _first;
            var second = _second;

            // Do not keep the caller's buffers reachable from the store after the operation.
            _first = default;
            _second = default;
            try
            {
                _ct.ThrowIfCancellationRequested();
                _core.SetResult(store.ReadAll(_offset, first, second));
            }
            catch (Exception ex)
            {
                _core.SetException(ex);
            }
        }

        public int GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _ct = default;
                _core.Reset();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    /// <summary>Linux system calls .NET does not expose without allocating. "libc" is resolved to the C library.</summary>
    private static unsafe partial class Native
    {
        public const int RWF_NOWAIT = 0x08;
        public const int EINTR = 4;
        public const int EAGAIN = 11;
        public const int EINVAL = 22;
        public const int ENOSYS = 38;
        public const int EOPNOTSUPP = 95;

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint pwritev(int fd, IoVec* iov, int iovcnt, long offset);

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint preadv(int fd, IoVec* iov, int iovcnt, long offset);

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint preadv2(int fd, IoVec* iov, int iovcnt, long offset, int flags);
    }
}

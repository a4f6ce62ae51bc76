using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Microsoft.Win32.SafeHandles;

namespace TapeGateway.Media.IO;

/// <summary>
/// Positional, vectored file I/O on a <see cref="SafeFileHandle"/> that allocates nothing per call: a tape record's
/// header and payload are one <c>pwritev</c>/<c>preadv</c>, and a read is first tried from the page cache with
/// <c>preadv2(RWF_NOWAIT)</c>. <see cref="RandomAccess"/> would allocate for its gathered overloads and hop to the
/// thread pool on every async call; this is the path the local image and the object-store tier's cache files share.
/// </summary>
/// <remarks>Linux, 64-bit only (off_t is 64 bits, so offsets pass as given); elsewhere <see cref="IsNative"/> is false
/// and callers use <see cref="RandomAccess"/>.</remarks>
public static unsafe partial class VectoredFile
{
    /// <summary>Most buffers one call takes (a record is two: header and payload).</summary>
    public const int MaxVectors = 4;

    /// <summary>The result of <see cref="TryReadNoWait"/> when the kernel would have to wait for the disk.</summary>
    public const int WouldBlock = -1;

    /// <summary>The result of <see cref="TryReadNoWait"/> when the kernel or file system has no RWF_NOWAIT.</summary>
    public const int Unsupported = -2;

    public static bool IsNative { get; } = OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    /// <summary>
    /// Writes every buffer back to back at <paramref name="offset"/> on the calling thread (short writes continued).
    /// It blocks for as long as the page cache makes it (dirty-page throttling), so callers run it on a worker.
    /// </summary>
    public static void WriteGather(SafeFileHandle handle, long offset, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        var count = sources.Count;
        if (!IsNative || count > MaxVectors)
        {
            RandomAccess.Write(handle, sources, offset);
            return;
        }

        var pins = default(Pins);
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

            var fd = AcquireFd(handle);
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

                        throw new IOException($"pwritev failed (errno {errno})", errno);
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
                handle.DangerousRelease();
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

    /// <summary>
    /// Reads into both buffers from the page cache without blocking. Returns the bytes read (all of them, or fewer at
    /// the end of the file), <see cref="WouldBlock"/> when the kernel would have to wait for the disk (whatever was
    /// read is simply read again by the blocking path), or <see cref="Unsupported"/>.
    /// </summary>
    public static int TryReadNoWait(SafeFileHandle handle, long offset, Memory<byte> first, Memory<byte> second) =>
        IsNative ? Read(handle, offset, first, second, noWait: true) : Unsupported;

    /// <summary>Blocking positional read of both buffers until full or end of file (a pool thread's job).</summary>
    public static int ReadAll(SafeFileHandle handle, long offset, Memory<byte> first, Memory<byte> second)
    {
        if (IsNative)
        {
            return Read(handle, offset, first, second, noWait: false);
        }

        var total = RandomAccess.Read(handle, first.Span, offset);
        if (total == first.Length && second.Length > 0)
        {
            total += RandomAccess.Read(handle, second.Span, offset + total);
        }

        return total;
    }

    /// <summary><c>preadv</c> (or <c>preadv2(RWF_NOWAIT)</c>) of both buffers, continuing short reads.</summary>
    private static int Read(SafeFileHandle handle, long offset, Memory<byte> first, Memory<byte> second, bool noWait)
    {
        var wanted = first.Length + second.Length;
        using var a = first.Pin();
        using var b = second.Pin();
        var fd = AcquireFd(handle);
        try
        {
            var done = 0;
            var vectors = stackalloc IoVec[2];
            while (done < wanted)
            {
                var count = Vectors(vectors, (byte*)a.Pointer, first.Length, (byte*)b.Pointer, second.Length, done);
                var n = noWait
                    ? Native.preadv2(fd, vectors, count, offset + done, Native.RWF_NOWAIT)
                    : Native.preadv(fd, vectors, count, offset + done);
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
                    case Native.EAGAIN when noWait:
                        return WouldBlock;
                    case Native.EOPNOTSUPP or Native.EINVAL or Native.ENOSYS when noWait:
                        return Unsupported;
                    default:
                        throw new IOException($"{(noWait ? "preadv2" : "preadv")} failed (errno {errno})", errno);
                }
            }

            return done;
        }
        finally
        {
            handle.DangerousRelease();
        }
    }

    /// <summary>The two buffers as iovecs, skipping the first <paramref name="skip"/> bytes; returns the vector count.</summary>
    private static int Vectors(IoVec* vectors, byte* first, int firstLength, byte* second, int secondLength, int skip)
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
    private static int AcquireFd(SafeFileHandle handle)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, handle);
        var added = false;
        handle.DangerousAddRef(ref added);
        return (int)handle.DangerousGetHandle();
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct IoVec(byte* start, int length)
    {
        public readonly byte* Base = start;
        public readonly nuint Length = (nuint)length;
    }

    [InlineArray(MaxVectors)]
    private struct Pins
    {
        private MemoryHandle _element;
    }

    /// <summary>Linux system calls .NET does not expose without allocating. "libc" is resolved to the C library.</summary>
    private static partial class Native
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

/// <summary>
/// One blocking read at a time on a pool thread, as a reusable work item and <see cref="IValueTaskSource{TResult}"/>:
/// queuing and awaiting it allocate nothing. For a caller that never overlaps its reads (a tape image serialises its
/// verbs). The continuation runs on the pool thread that did the read.
/// </summary>
public sealed class PooledFileRead : IThreadPoolWorkItem, IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _core;
    private SafeFileHandle? _handle;
    private Memory<byte> _first;
    private Memory<byte> _second;
    private long _offset;
    private CancellationToken _ct;

    public ValueTask<int> Start(SafeFileHandle handle, long offset, Memory<byte> first, Memory<byte> second, CancellationToken ct)
    {
        _handle = handle;
        _offset = offset;
        _first = first;
        _second = second;
        _ct = ct;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return new ValueTask<int>(this, _core.Version);
    }

    void IThreadPoolWorkItem.Execute()
    {
        var handle = _handle!;
        var first = _first;
        var second = _second;

        // Do not keep the caller's buffers or the file reachable from here after the operation.
        _handle = null;
        _first = default;
        _second = default;
        try
        {
            _ct.ThrowIfCancellationRequested();
            _core.SetResult(VectoredFile.ReadAll(handle, _offset, first, second));
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

using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TapeGateway.Media.Block;

/// <summary>
/// A "stored mode" volume: one sparse file, accessed with positional I/O (pread/pwrite through
/// <see cref="RandomAccess"/>), so any number of commands may run concurrently on the one handle.
/// <para>
/// Durability: writes land in the OS page cache (the volume behaves like a disk with a volatile write cache, WCE=1);
/// a FUA write or <see cref="FlushAsync"/> ends with fdatasync(2), which makes the data and the metadata needed to
/// read it back durable without forcing unrelated inode updates (mtime).
/// </para>
/// <para>
/// Thin provisioning (Linux): <see cref="UnmapAsync"/> punches holes with fallocate(2) FALLOC_FL_PUNCH_HOLE |
/// FALLOC_FL_KEEP_SIZE over whole allocation units and writes zeros over the partial units at the edges, so the
/// deallocated blocks read back as zeros (LBPRZ=1); <see cref="GetProvisioningStatusAsync"/> walks the extents with
/// lseek(2) SEEK_DATA / SEEK_HOLE. Elsewhere, or on a file system without hole punching, unmap writes zeros and every
/// block reports mapped.
/// </para>
/// </summary>
public sealed partial class FileBlockVolume : IBlockVolume
{
    /// <summary>Granularity we punch holes at: the page size and the block size of every Linux file system we target.</summary>
    public const int AllocationUnit = 4096;

    private const int ZeroChunk = 1 << 20;
    private static readonly ReadOnlyMemory<byte> s_zeros = new byte[ZeroChunk];

    private readonly SafeFileHandle _handle;
    private readonly bool _thin;
    private int _punchUnsupported;
    private int _disposed;

    private FileBlockVolume(string path, SafeFileHandle handle, int blockSize, long blockCount, bool readOnly, bool thin)
    {
        Path = path;
        _handle = handle;
        BlockSize = blockSize;
        BlockCount = blockCount;
        IsReadOnly = readOnly;
        _thin = thin;
    }

    public string Path { get; }

    public int BlockSize { get; }

    public long BlockCount { get; }

    public bool IsReadOnly { get; }

    /// <summary>Thin (the default) on Linux, where holes can be punched and found again; never elsewhere.</summary>
    public bool SupportsUnmap => _thin && OperatingSystem.IsLinux();

    /// <summary>Creates a new sparse file of <paramref name="blockCount"/> blocks (fails if it exists).</summary>
    public static FileBlockVolume Create(string path, long blockCount, int blockSize = 512, bool thin = true)
    {
        ValidateBlockSize(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blockCount, long.MaxValue / blockSize);
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            // ftruncate(2) to the full size: no blocks are allocated, the whole volume is one hole (reads as zeros).
            RandomAccess.SetLength(handle, blockCount * blockSize);
            return new FileBlockVolume(path, handle, blockSize, blockCount, readOnly: false, thin);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens an existing file; the volume has floor(length / block size) blocks (a trailing partial block is not
    /// addressable). Read-only volumes open the file for reading only and share it with other readers.
    /// </summary>
    public static FileBlockVolume Open(string path, int blockSize = 512, bool readOnly = false, bool thin = true)
    {
        ValidateBlockSize(blockSize);
        var handle = readOnly
            ? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read)
            : File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            var blocks = RandomAccess.GetLength(handle) / blockSize;
            if (blocks == 0)
            {
                throw new InvalidDataException($"{path} is smaller than one {blockSize}-byte block");
            }

            return new FileBlockVolume(path, handle, blockSize, blocks, readOnly, thin);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/> if it exists, otherwise creates it sparse with <paramref name="blockCount"/> blocks.</summary>
    public static FileBlockVolume OpenOrCreate(string path, long blockCount, int blockSize = 512, bool readOnly = false, bool thin = true) =>
        File.Exists(path) ? Open(path, blockSize, readOnly, thin) : Create(path, blockCount, blockSize, thin);

    public async ValueTask ReadAsync(long lba, Memory<byte> destination, CancellationToken ct)
    {
        CheckRange(lba, destination.Length);
        var offset = lba * BlockSize;
        while (!destination.IsEmpty)
        {
            var n = await RandomAccess.ReadAsync(_handle, destination, offset, ct).ConfigureAwait(false);
            if (n == 0)
            {
                // Past end of file (the file was shortened behind our back): the missing part reads as zeros.
                destination.Span.Clear();
                return;
            }

            destination = destination[n..];
            offset += n;
        }
    }

    public async ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken ct)
    {
        CheckWritable();
        CheckRange(lba, source.Length);
        await RandomAccess.WriteAsync(_handle, source, lba * BlockSize, ct).ConfigureAwait(false);
        if (forceUnitAccess)
        {
            await FlushAsync(ct).ConfigureAwait(false);
        }
    }

    public ValueTask FlushAsync(CancellationToken ct)
    {
        if (IsReadOnly)
        {
            return ValueTask.CompletedTask;
        }

        // fdatasync blocks the calling thread for as long as the device takes; keep it off the I/O completion path.
        return new ValueTask(Task.Run(DataSync, ct));
    }

    public async ValueTask UnmapAsync(long lba, long blockCount, CancellationToken ct)
    {
        CheckWritable();
        ArgumentOutOfRangeException.ThrowIfNegative(blockCount);
        CheckRange(lba, blockCount * BlockSize);
        if (blockCount == 0)
        {
            return;
        }

        var start = lba * BlockSize;
        var end = start + (blockCount * BlockSize);
        if (!SupportsUnmap || Volatile.Read(ref _punchUnsupported) != 0)
        {
            await WriteZerosAsync(start, end, ct).ConfigureAwait(false);
            return;
        }

        // Whole allocation units are deallocated; the partial units at either edge still hold other blocks' data,
        // so those bytes are overwritten with zeros instead (the kernel would zero them too, but doing it here keeps
        // the behaviour identical on file systems whose block size differs from ours).
        var holeStart = AlignUp(start, AllocationUnit);
        var holeEnd = end & ~(long)(AllocationUnit - 1);
        if (holeStart >= holeEnd)
        {
            await WriteZerosAsync(start, end, ct).ConfigureAwait(false);
            return;
        }

        await WriteZerosAsync(start, holeStart, ct).ConfigureAwait(false);
        await WriteZerosAsync(holeEnd, end, ct).ConfigureAwait(false);
        var punched = await Task.Run(() => TryPunchHole(holeStart, holeEnd - holeStart), ct).ConfigureAwait(false);
        if (!punched)
        {
            await WriteZerosAsync(holeStart, holeEnd, ct).ConfigureAwait(false);
        }
    }

    public ValueTask<(bool Mapped, long BlockCount)> GetProvisioningStatusAsync(long lba, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lba);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(lba, BlockCount);
        var remaining = BlockCount - lba;
        if (!SupportsUnmap)
        {
            return new((true, remaining));
        }

        return new(FindExtent(lba, remaining));
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _handle.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    public override string ToString() => $"{Path} ({BlockCount} x {BlockSize}{(IsReadOnly ? ", read-only" : "")})";

    // ---- helpers -------------------------------------------------------------------------------------------

    private static void ValidateBlockSize(int blockSize)
    {
        if (blockSize is not (512 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be 512 or 4096");
        }
    }

    private static long AlignUp(long value, int unit) => (value + unit - 1) & ~(long)(unit - 1);

    private void CheckWritable()
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException($"{Path} is opened read-only");
        }
    }

    private void CheckRange(long lba, long byteCount)
    {
        if (byteCount % BlockSize != 0)
        {
            throw new ArgumentException($"length {byteCount} is not a multiple of the block size {BlockSize}", nameof(byteCount));
        }

        if (lba < 0 || lba > BlockCount || byteCount / BlockSize > BlockCount - lba)
        {
            throw new ArgumentOutOfRangeException(nameof(lba), lba, "range is outside the volume");
        }
    }

    private async ValueTask WriteZerosAsync(long start, long end, CancellationToken ct)
    {
        while (start < end)
        {
            var n = (int)Math.Min(end - start, ZeroChunk);
            await RandomAccess.WriteAsync(_handle, s_zeros[..n], start, ct).ConfigureAwait(false);
            start += n;
        }
    }

    private void DataSync()
    {
        if (OperatingSystem.IsLinux())
        {
            var fd = AcquireFd();
            try
            {
                if (Native.fdatasync(fd) != 0)
                {
                    throw new IOException($"fdatasync({Path}) failed: errno {Marshal.GetLastPInvokeError()}");
                }
            }
            finally
            {
                _handle.DangerousRelease();
            }

            return;
        }

        RandomAccess.FlushToDisk(_handle);
    }

    private bool TryPunchHole(long offset, long length)
    {
        var fd = AcquireFd();
        try
        {
            if (Native.fallocate(fd, Native.FALLOC_FL_KEEP_SIZE | Native.FALLOC_FL_PUNCH_HOLE, offset, length) == 0)
            {
                return true;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno is Native.EOPNOTSUPP or Native.ENOSYS)
            {
                // This file system cannot deallocate: stop trying and write zeros from now on (still LBPRZ-correct).
                Volatile.Write(ref _punchUnsupported, 1);
                return false;
            }

            throw new IOException($"fallocate(PUNCH_HOLE) on {Path} failed: errno {errno}");
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>
    /// SEEK_DATA from the block's offset says whether the block holds data (the result is inside the block) and, if
    /// not, where the next data starts; SEEK_HOLE from a data offset says where that data ends. A block that shares
    /// an allocation unit with data counts as mapped (it is: reading it touches allocated storage).
    /// </summary>
    private (bool Mapped, long BlockCount) FindExtent(long lba, long remaining)
    {
        var fd = AcquireFd();
        try
        {
            var offset = lba * BlockSize;
            var end = BlockCount * BlockSize;
            var data = Native.lseek(fd, offset, Native.SEEK_DATA);
            if (data < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                // ENXIO: no data at or after offset, the rest is one hole. Anything else (EINVAL on a file system
                // without SEEK_DATA support) means we cannot tell, so report mapped.
                return errno == Native.ENXIO ? (false, remaining) : (true, remaining);
            }

            if (data >= offset + BlockSize)
            {
                var holeBlocks = (Math.Min(data, end) - offset) / BlockSize;
                return (false, Math.Clamp(holeBlocks, 1, remaining));
            }

            var hole = Native.lseek(fd, Math.Max(data, offset), Native.SEEK_HOLE);
            if (hole < 0)
            {
                return (true, remaining);
            }

            var mappedBlocks = (Math.Min(hole, end) - offset + BlockSize - 1) / BlockSize;
            return (true, Math.Clamp(mappedBlocks, 1, remaining));
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>The raw descriptor, with a reference held so a concurrent dispose cannot recycle it under us.</summary>
    private int AcquireFd()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var added = false;
        _handle.DangerousAddRef(ref added);
        return (int)_handle.DangerousGetHandle();
    }

    /// <summary>Linux system calls .NET does not wrap. "libc" is resolved to the C library by the runtime on Linux.</summary>
    private static partial class Native
    {
        public const int FALLOC_FL_KEEP_SIZE = 0x01;
        public const int FALLOC_FL_PUNCH_HOLE = 0x02;
        public const int SEEK_DATA = 3;
        public const int SEEK_HOLE = 4;
        public const int ENXIO = 6;
        public const int ENOSYS = 38;
        public const int EOPNOTSUPP = 95;

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fallocate(int fd, int mode, long offset, long len);

        [LibraryImport("libc", SetLastError = true)]
        public static partial long lseek(int fd, long offset, int whence);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fdatasync(int fd);
    }
}

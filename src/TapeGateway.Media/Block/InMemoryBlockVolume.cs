namespace TapeGateway.Media.Block;

/// <summary>
/// A sparse in-memory volume for tests: only written blocks take memory, so a unit test can present a volume of
/// 2^33 blocks (READ CAPACITY(10) overflow) as cheaply as one of 16. Unwritten and unmapped blocks read as zeros
/// and report deallocated; a written block (even with zeros) is mapped, as on a file. Counters let tests check that
/// FUA and SYNCHRONIZE CACHE reach the volume.
/// </summary>
public sealed class InMemoryBlockVolume : IBlockVolume
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, byte[]> _blocks = [];
    private readonly SortedSet<long> _mapped = [];
    private int _flushCount;
    private int _forceUnitAccessWrites;
    private int _writeCount;
    private int _unmapCount;

    public InMemoryBlockVolume(long blockCount, int blockSize = 512, bool readOnly = false, bool thin = true)
    {
        if (blockSize is not (512 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be 512 or 4096");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCount);
        BlockCount = blockCount;
        BlockSize = blockSize;
        IsReadOnly = readOnly;
        SupportsUnmap = thin;
    }

    public int BlockSize { get; }

    public long BlockCount { get; }

    public bool IsReadOnly { get; }

    public bool SupportsUnmap { get; }

    /// <summary>Number of FlushAsync calls (SYNCHRONIZE CACHE and FUA writes both count).</summary>
    public int FlushCount => Volatile.Read(ref _flushCount);

    /// <summary>Number of WriteAsync calls with forceUnitAccess set.</summary>
    public int ForceUnitAccessWrites => Volatile.Read(ref _forceUnitAccessWrites);

    public int WriteCount => Volatile.Read(ref _writeCount);

    public int UnmapCount => Volatile.Read(ref _unmapCount);

    /// <summary>Blocks currently holding data (for tests of deallocation).</summary>
    public long MappedBlockCount
    {
        get
        {
            lock (_lock)
            {
                return _mapped.Count;
            }
        }
    }

    /// <summary>Fills blocks without going through the SCSI layer (test setup); bypasses the read-only flag.</summary>
    public void Seed(long lba, ReadOnlySpan<byte> data)
    {
        CheckRange(lba, data.Length);
        lock (_lock)
        {
            StoreLocked(lba, data);
        }
    }

    public ValueTask ReadAsync(long lba, Memory<byte> destination, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        CheckRange(lba, destination.Length);
        var span = destination.Span;
        lock (_lock)
        {
            for (var i = 0; i < destination.Length / BlockSize; i++)
            {
                var block = span.Slice(i * BlockSize, BlockSize);
                if (_blocks.TryGetValue(lba + i, out var stored))
                {
                    stored.CopyTo(block);
                }
                else
                {
                    block.Clear();
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        CheckWritable();
        CheckRange(lba, source.Length);
        lock (_lock)
        {
            StoreLocked(lba, source.Span);
        }

        Interlocked.Increment(ref _writeCount);
        if (forceUnitAccess)
        {
            Interlocked.Increment(ref _forceUnitAccessWrites);
            Interlocked.Increment(ref _flushCount);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _flushCount);
        return ValueTask.CompletedTask;
    }

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        CheckWritable();
        ArgumentOutOfRangeException.ThrowIfNegative(blockCount);
        CheckRange(lba, blockCount * BlockSize);
        lock (_lock)
        {
            if (blockCount > 0)
            {
                foreach (var mapped in _mapped.GetViewBetween(lba, lba + blockCount - 1).ToArray())
                {
                    _mapped.Remove(mapped);
                    _blocks.Remove(mapped);
                }
            }
        }

        Interlocked.Increment(ref _unmapCount);
        return ValueTask.CompletedTask;
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

        lock (_lock)
        {
            var after = _mapped.GetViewBetween(lba, BlockCount - 1);
            if (after.Count == 0)
            {
                return new((false, remaining));
            }

            var next = after.Min;
            if (next > lba)
            {
                return new((false, next - lba));
            }

            var run = 0L;
            foreach (var mapped in after)
            {
                if (mapped != lba + run)
                {
                    break;
                }

                run++;
            }

            return new((true, run));
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private void StoreLocked(long lba, ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length / BlockSize; i++)
        {
            if (!_blocks.TryGetValue(lba + i, out var stored))
            {
                stored = new byte[BlockSize];
                _blocks.Add(lba + i, stored);
                _mapped.Add(lba + i);
            }

            data.Slice(i * BlockSize, BlockSize).CopyTo(stored);
        }
    }

    private void CheckWritable()
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException("volume is read-only");
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
}

namespace TapeGateway.Media.Block;

/// <summary>
/// A block volume as SBC sees it, in logical blocks. Implementations: a local file (stored mode); later S3-backed
/// cached volumes plug in under the same interface. No CDB crosses this boundary: offsets and lengths only.
/// </summary>
public interface IBlockVolume : IAsyncDisposable
{
    /// <summary>Logical block length in bytes (512 or 4096).</summary>
    int BlockSize { get; }

    /// <summary>Number of logical blocks.</summary>
    long BlockCount { get; }

    bool IsReadOnly { get; }

    /// <summary>Whether UNMAP / WRITE SAME(UNMAP) deallocate space (thin provisioning, SBC-3 §4.7).</summary>
    bool SupportsUnmap { get; }

    ValueTask ReadAsync(long lba, Memory<byte> destination, CancellationToken ct);

    /// <summary>Writes whole blocks. With <paramref name="forceUnitAccess"/> the data is durable before this completes.</summary>
    ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken ct);

    /// <summary>Makes every completed write durable (SYNCHRONIZE CACHE).</summary>
    ValueTask FlushAsync(CancellationToken ct);

    /// <summary>Deallocates blocks; they read back as zeros afterwards (LBPRZ=1).</summary>
    ValueTask UnmapAsync(long lba, long blockCount, CancellationToken ct);

    /// <summary>
    /// Provisioning status from <paramref name="lba"/>: whether that block is mapped, and how many blocks share that
    /// status (SBC-3 §5.6 GET LBA STATUS).
    /// </summary>
    ValueTask<(bool Mapped, long BlockCount)> GetProvisioningStatusAsync(long lba, CancellationToken ct);
}

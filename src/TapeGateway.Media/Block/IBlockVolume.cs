namespace TapeGateway.Media.Block;

/// <summary>
/// A block volume as SBC sees it, in logical blocks. Implementations: a local file (stored mode,
/// <see cref="FileBlockVolume"/>), an in-memory volume for tests (<see cref="InMemoryBlockVolume"/>); later S3-backed
/// cached volumes plug in under the same interface. No CDB crosses this boundary: offsets and lengths only.
/// Callers (the SBC logical unit) have already range-checked every request; implementations throw
/// <see cref="ArgumentOutOfRangeException"/> on a request outside the volume and <see cref="InvalidOperationException"/>
/// on a write to a read-only volume, as a safety net only. Concurrent calls are allowed; ordering between overlapping
/// writes is the caller's business.
/// </summary>
public interface IBlockVolume : IAsyncDisposable
{
    /// <summary>Logical block length in bytes (512 or 4096).</summary>
    int BlockSize { get; }

    /// <summary>Number of logical blocks.</summary>
    long BlockCount { get; }

    bool IsReadOnly { get; }

    /// <summary>
    /// Whether the volume is thin provisioned: UNMAP / WRITE SAME(UNMAP) deallocate space and deallocated blocks read
    /// back as zeros (SBC-3 §4.7.3.2 LBPRZ=1), and <see cref="GetProvisioningStatusAsync"/> reports real mapping.
    /// </summary>
    bool SupportsUnmap { get; }

    /// <summary>
    /// Reads whole blocks; <paramref name="destination"/> is a multiple of <see cref="BlockSize"/> and is filled
    /// completely (unwritten and unmapped blocks read as zeros), so callers need not clear it first.
    /// </summary>
    ValueTask ReadAsync(long lba, Memory<byte> destination, CancellationToken ct);

    /// <summary>Writes whole blocks. With <paramref name="forceUnitAccess"/> the data is durable before this completes.</summary>
    ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken ct);

    /// <summary>Makes every completed write durable (SYNCHRONIZE CACHE).</summary>
    ValueTask FlushAsync(CancellationToken ct);

    /// <summary>Deallocates blocks; they read back as zeros afterwards (LBPRZ=1).</summary>
    ValueTask UnmapAsync(long lba, long blockCount, CancellationToken ct);

    /// <summary>
    /// Provisioning status from <paramref name="lba"/>: whether that block is mapped, and how many blocks from it
    /// (at least one, at most to the end of the volume) share that status (SBC-3 §5.4 GET LBA STATUS).
    /// </summary>
    ValueTask<(bool Mapped, long BlockCount)> GetProvisioningStatusAsync(long lba, CancellationToken ct);
}

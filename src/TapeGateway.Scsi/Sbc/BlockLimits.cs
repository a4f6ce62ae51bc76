namespace TapeGateway.Scsi.Sbc;

/// <summary>
/// What the Block Limits VPD page (SBC-3 §6.5.3) promises, in logical blocks, and what the command handlers enforce:
/// a READ/WRITE longer than <see cref="MaximumTransferLength"/> is INVALID FIELD IN CDB, an UNMAP beyond the unmap
/// limits is INVALID FIELD IN PARAMETER LIST, and so on. Zero means "no limit reported" where SBC-3 allows it.
/// </summary>
public sealed record BlockLimits
{
    /// <summary>Largest READ/WRITE/VERIFY(BYTCHK)/ORWRITE transfer, in blocks.</summary>
    public required uint MaximumTransferLength { get; init; }

    /// <summary>Transfers of this many blocks or fewer are processed without penalty.</summary>
    public required uint OptimalTransferLength { get; init; }

    /// <summary>Transfers should be multiples of this many blocks (our allocation unit).</summary>
    public required ushort OptimalTransferLengthGranularity { get; init; }

    /// <summary>Largest PRE-FETCH length, in blocks.</summary>
    public required uint MaximumPrefetchLength { get; init; }

    /// <summary>Largest number of blocks one UNMAP may name in total (0 when the unit is not thin).</summary>
    public required uint MaximumUnmapLbaCount { get; init; }

    /// <summary>Largest number of UNMAP block descriptors in one parameter list.</summary>
    public required uint MaximumUnmapBlockDescriptorCount { get; init; }

    /// <summary>Unmapping whole multiples of this many blocks actually frees space (the file system block).</summary>
    public required uint OptimalUnmapGranularity { get; init; }

    /// <summary>Largest WRITE SAME, in blocks; a NUMBER OF LOGICAL BLOCKS of 0 ("to the end") is held to it too.</summary>
    public required ulong MaximumWriteSameLength { get; init; }

    /// <summary>Largest COMPARE AND WRITE NUMBER OF LOGICAL BLOCKS (VMware ATS uses 1).</summary>
    public required byte MaximumCompareAndWriteLength { get; init; }

    /// <summary>
    /// Defaults for a block size: 8 MiB transfers (what Linux and ESXi issue at most), 1 MiB optimal, 4 KiB
    /// granularity, 1 GiB per WRITE SAME and per UNMAP (at most 2^20 blocks), 256 UNMAP descriptors, one block per COMPARE AND WRITE.
    /// </summary>
    public static BlockLimits For(int blockSize, bool thin)
    {
        var perUnit = (ushort)Math.Max(1, 4096 / blockSize);
        var maxTransfer = (uint)((8 << 20) / blockSize);
        return new BlockLimits
        {
            MaximumTransferLength = maxTransfer,
            OptimalTransferLength = (uint)((1 << 20) / blockSize),
            OptimalTransferLengthGranularity = perUnit,
            MaximumPrefetchLength = maxTransfer,
            // libiscsi inquiry_block_limits insists on at most 2^20 (or FFFFFFFFh): 512 MiB at 512-byte blocks.
            MaximumUnmapLbaCount = thin ? (uint)Math.Min((1 << 30) / blockSize, 1 << 20) : 0,
            MaximumUnmapBlockDescriptorCount = thin ? 256u : 0,
            OptimalUnmapGranularity = thin ? perUnit : 0u,
            // Bounded like a WRITE, so one command's latency stays comparable (and initiators that verify a WRITE SAME
            // with an equally long READ/WRITE, as libiscsi does, stay within MaximumTransferLength).
            MaximumWriteSameLength = maxTransfer,
            MaximumCompareAndWriteLength = 1,
        };
    }
}

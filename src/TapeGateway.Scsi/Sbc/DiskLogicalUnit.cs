using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Block;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Sbc;

/// <summary>
/// An SBC-3 direct-access logical unit (a disk) over an <see cref="IBlockVolume"/>: the "stored mode" volume.
/// Command handlers are static methods in the partial files next to this one, registered once in a static
/// <see cref="CommandTable{TUnit}"/> together with the shared SPC-4 commands.
/// <para>
/// Caching model (SBC-3 §4.15): the volume's page cache is a volatile write cache, so WCE=1 by default and writes
/// complete before they are durable; FUA writes, SYNCHRONIZE CACHE and WRITE AND VERIFY make data durable before
/// GOOD. WCE is changeable through MODE SELECT: with WCE=0 every write is done as a FUA write.
/// </para>
/// </summary>
public sealed partial class DiskLogicalUnit : LogicalUnit<DiskLogicalUnit>
{
    public const byte CachingPage = 0x08;
    public const byte ReadWriteErrorRecoveryPage = 0x01;

    private const byte VpdBlockLimits = 0xB0;
    private const byte VpdBlockDeviceCharacteristics = 0xB1;
    private const byte VpdLogicalBlockProvisioning = 0xB2;

    private static readonly CommandTable<DiskLogicalUnit> s_commands = BuildCommandTable();

    private readonly ModePageSet _modePages;
    private readonly WriteGate _writes = new();

    /// <param name="volumeId">Stable id of the volume (e.g. its configured name); serial and NAA derive from it.</param>
    /// <param name="limits">Block limits to report and enforce; defaults to <see cref="BlockLimits.For"/>.</param>
    public DiskLogicalUnit(
        Lun lun,
        IBlockVolume volume,
        string volumeId,
        DiskPersonality? personality = null,
        ILogger? logger = null,
        BlockLimits? limits = null)
        : base(lun, (personality ?? DiskPersonality.Default).CreateIdentity(volumeId), logger ?? NullLogger.Instance)
    {
        ArgumentNullException.ThrowIfNull(volume);
        Volume = volume;
        Limits = limits ?? BlockLimits.For(volume.BlockSize, volume.SupportsUnmap);
        _modePages = BuildModePages();
    }

    public IBlockVolume Volume { get; }

    public BlockLimits Limits { get; }

    public override PeripheralDeviceType DeviceType => PeripheralDeviceType.DirectAccess;

    public override ModePageSet ModePages => _modePages;

    public int BlockSize => Volume.BlockSize;

    public long BlockCount => Volume.BlockCount;

    /// <summary>Thin provisioned (SBC-3 §4.7.3): LBPME=1, LBPRZ=1, UNMAP and WRITE SAME(UNMAP) supported.</summary>
    public bool IsThin => Volume.SupportsUnmap;

    /// <summary>
    /// Read-only volume, or the Control page's SWP bit (SPC-4 §7.5.8, byte 4 bit 3: software write protect) set —
    /// honoured here if the Control page ever makes SWP changeable (libiscsi modesense6_control_swp).
    /// </summary>
    public bool IsWriteProtected =>
        Volume.IsReadOnly || (_modePages.GetCurrentByte(Spc.ModePageSet.ControlPage, 0, 4) & 0x08) != 0;

    /// <summary>The WCE bit of the current Caching mode page (SBC-3 §6.4.5).</summary>
    public bool WriteCacheEnabled => (_modePages.GetCurrentByte(CachingPage, 0, 2) & 0x04) != 0;

    protected override CommandTable<DiskLogicalUnit> Commands => s_commands;

    // ---- mode parameters (SBC-3 §6.4) ------------------------------------------------------------------------

    /// <summary>
    /// SBC-3 §6.4.2 block descriptor: NUMBER OF LOGICAL BLOCKS and LOGICAL BLOCK LENGTH. Neither is changeable
    /// (we do not reformat a volume through MODE SELECT), so the changeable image is all zeros.
    /// </summary>
    protected internal override ModeBlockDescriptor? GetModeBlockDescriptor(ModePageControl pageControl) =>
        pageControl == ModePageControl.Changeable
            ? new ModeBlockDescriptor(0, 0, 0)
            : new ModeBlockDescriptor(0, (ulong)BlockCount, (uint)BlockSize);

    /// <summary>
    /// SBC-3 §6.4.1 DEVICE-SPECIFIC PARAMETER: WP (bit 7) when the volume is read-only, DPOFUA (bit 4) always — we
    /// honour FUA (durable before GOOD) and accept DPO (a cache hint we have no use for).
    /// </summary>
    protected internal override byte DeviceSpecificParameter => (byte)((IsWriteProtected ? 0x80 : 0x00) | 0x10);

    private static ModePageSet BuildModePages()
    {
        var pages = new ModePageSet();

        // SBC-3 §6.4.9 Read-Write Error Recovery page (12 bytes): AWRE and ARRE set (a file has no defects to
        // reallocate, so "automatic reallocation enabled" is vacuously true), retry counts 0, nothing changeable.
        var recovery = new byte[12];
        recovery[2] = 0xC0;
        pages.Register(ReadWriteErrorRecoveryPage, 0, recovery, new byte[12]);

        // SBC-3 §6.4.5 Caching page (20 bytes). WCE=1: writes are acknowledged from the page cache. RCD=0: reads use
        // the cache. Only WCE is changeable: an initiator that clears it gets write-through behaviour (every write is
        // FUA), which is the one cache setting we can honour exactly. Prefetch fields stay zero (no read-ahead promise).
        var caching = new byte[20];
        caching[2] = 0x04;
        var cachingMask = new byte[20];
        cachingMask[2] = 0x04;
        pages.Register(CachingPage, 0, caching, cachingMask);
        return pages;
    }

    // ---- VPD pages (SBC-3 §6.5) ------------------------------------------------------------------------------

    public override IReadOnlyList<byte> ExtraVpdPages { get; } =
        [VpdBlockLimits, VpdBlockDeviceCharacteristics, VpdLogicalBlockProvisioning];

    /// <summary>Writes the page body after the 4-byte header: destination[0] is page byte 4.</summary>
    public override int WriteVpdPage(byte page, Span<byte> destination)
    {
        switch (page)
        {
            case VpdBlockLimits:
                return WriteBlockLimits(destination);
            case VpdBlockDeviceCharacteristics:
                // SBC-3 §6.5.2: MEDIUM ROTATION RATE 0001h = non-rotating medium (Linux then marks the queue
                // non-rotational); product type, form factor and FUAB/VBULS zero. PAGE LENGTH 3Ch.
                destination[..0x3C].Clear();
                BinaryPrimitives.WriteUInt16BigEndian(destination, 0x0001);
                return 0x3C;
            case VpdLogicalBlockProvisioning:
                return WriteLogicalBlockProvisioning(destination);
            default:
                return -1;
        }
    }

    /*
     * SBC-3 §6.5.3 Block Limits VPD page, PAGE LENGTH 3Ch (page byte offsets; destination is offset by 4):
     *  4 WSNZ            5 MAXIMUM COMPARE AND WRITE LENGTH     6-7 OPTIMAL TRANSFER LENGTH GRANULARITY
     *  8-11 MAXIMUM TRANSFER LENGTH     12-15 OPTIMAL TRANSFER LENGTH     16-19 MAXIMUM PREFETCH LENGTH
     *  20-23 MAXIMUM UNMAP LBA COUNT    24-27 MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
     *  28-31 OPTIMAL UNMAP GRANULARITY  32-35 UGAVALID | UNMAP GRANULARITY ALIGNMENT
     *  36-43 MAXIMUM WRITE SAME LENGTH
     * WSNZ=0: WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 means "to the last LBA" (bounded by MAXIMUM WRITE SAME
     * LENGTH). UGAVALID=1 with alignment 0: LBA 0 starts an allocation unit.
     */
    private int WriteBlockLimits(Span<byte> d)
    {
        const int length = 0x3C;
        d[..length].Clear();
        var l = Limits;
        d[5 - 4] = l.MaximumCompareAndWriteLength;
        BinaryPrimitives.WriteUInt16BigEndian(d[(6 - 4)..], l.OptimalTransferLengthGranularity);
        BinaryPrimitives.WriteUInt32BigEndian(d[(8 - 4)..], l.MaximumTransferLength);
        BinaryPrimitives.WriteUInt32BigEndian(d[(12 - 4)..], l.OptimalTransferLength);
        BinaryPrimitives.WriteUInt32BigEndian(d[(16 - 4)..], l.MaximumPrefetchLength);
        if (IsThin)
        {
            BinaryPrimitives.WriteUInt32BigEndian(d[(20 - 4)..], l.MaximumUnmapLbaCount);
            BinaryPrimitives.WriteUInt32BigEndian(d[(24 - 4)..], l.MaximumUnmapBlockDescriptorCount);
            BinaryPrimitives.WriteUInt32BigEndian(d[(28 - 4)..], l.OptimalUnmapGranularity);
            BinaryPrimitives.WriteUInt32BigEndian(d[(32 - 4)..], 0x8000_0000u);
        }

        BinaryPrimitives.WriteUInt64BigEndian(d[(36 - 4)..], l.MaximumWriteSameLength);
        return length;
    }

    /*
     * SBC-3 §6.5.4 Logical Block Provisioning VPD page (PAGE LENGTH 4, no provisioning group descriptor):
     *  4 THRESHOLD EXPONENT (0: no thresholds)
     *  5 LBPU | LBPWS | LBPWS10 | reserved(4-3) | LBPRZ | ANC_SUP | DP
     *  6 reserved | PROVISIONING TYPE (bits 2-0: 000b full, 010b thin)
     * Thin: UNMAP, WRITE SAME(16) and WRITE SAME(10) with UNMAP=1 deallocate; deallocated blocks read zeros.
     * ANC_SUP=0: we never anchor, so ANCHOR=1 is INVALID FIELD IN CDB.
     */
    private int WriteLogicalBlockProvisioning(Span<byte> d)
    {
        d[..4].Clear();
        if (IsThin)
        {
            d[5 - 4] = 0x80 | 0x40 | 0x20 | 0x04;
            d[6 - 4] = 0x02;
        }

        return 4;
    }

    // ---- helpers shared by the handlers ----------------------------------------------------------------------

    /// <summary>SBC-3 §4.5: the range [lba, lba + blocks) lies on the medium (blocks may be zero; lba may equal the capacity).</summary>
    internal bool InRange(ulong lba, ulong blocks) =>
        lba <= (ulong)BlockCount && blocks <= (ulong)BlockCount - lba;
}

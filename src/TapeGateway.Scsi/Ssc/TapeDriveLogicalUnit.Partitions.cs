using System.Buffers.Binary;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Ssc;

public sealed partial class TapeDriveLogicalUnit
{
    /// <summary>
    /// Smallest partition FORMAT MEDIUM makes, and the granularity every partition size is rounded up to. A real LTO
    /// partition is at least one wrap pair (tens of GB); a thin image has no wraps, so 1 MiB keeps partitions usable
    /// (a few records plus an early-warning zone) on the small tapes tests and labs use, while LTFS's "1 GB rounded up
    /// to the minimum partition size" still yields 1 GB on a real-size tape.
    /// </summary>
    public const long MinimumPartitionBytes = 1024 * 1024;

    private const int PartitionSizeDescriptorsAt = 8;
    private const byte PartitionFdp = 0x80;
    private const byte PartitionSdp = 0x40;
    private const byte PartitionIdp = 0x20;
    private const byte PartitionPsumMask = 0x18;
    private const byte PartitionPsumUnits = 0x18;
    private const byte PartitionPofm = 0x04;
    private const ushort PartitionSizeRest = 0xFFFF;

    /// <summary>
    /// MODE SELECT changed page 11h and FORMAT MEDIUM has not applied it yet: MODE SENSE shows that pending layout
    /// instead of the medium's. Dropped by FORMAT MEDIUM, SET CAPACITY, load, unload and reset (mode parameters return
    /// to their saved values then, SPC-4 §6.9 / SAM-5 §6.3.3).
    /// </summary>
    private volatile bool _partitionLayoutPending;

    /// <summary>
    /// SSC-4 §8.3.4 Medium Partition mode page as IBM LTO drives lay it out: byte 2 MAXIMUM ADDITIONAL PARTITIONS;
    /// 3 ADDITIONAL PARTITIONS DEFINED; 4 FDP(7) SDP(6) IDP(5) PSUM(4-3) POFM(2) CLEAR(1) ADDP(0); 5 MEDIUM FORMAT
    /// RECOGNITION 03h; 6 PARTITION UNITS (3-0); 8.. one 2-byte PARTITION SIZE per partition the generation allows.
    /// POFM=1: MODE SELECT only records the layout, FORMAT MEDIUM applies it (SSC-4: with POFM neither partitions nor
    /// data change at MODE SELECT) — so a mistyped page cannot destroy a tape. PSUM 11b: sizes in 10^PARTITION UNITS
    /// bytes, which LTFS relies on (it only rewrites the units, keeping PSUM as reported). Changeable: ADDITIONAL
    /// PARTITIONS DEFINED, FDP/SDP/IDP, PSUM, PARTITION UNITS and the sizes. A generation without partitions (LTO-4 and
    /// earlier) keeps the 8-byte page with nothing changeable.
    /// </summary>
    private static void RegisterMediumPartitionPage(ModePageSet pages, TapeDrivePersonality personality)
    {
        var max = personality.Generation.MaxAdditionalPartitions;
        if (max == 0)
        {
            var single = new byte[8];
            single[5] = 0x03;
            pages.Register(MediumPartitionPage, 0, single, new byte[8]);
            return;
        }

        var length = PartitionSizeDescriptorsAt + (2 * (max + 1));
        var mp = new byte[length];
        mp[2] = (byte)max;
        mp[4] = PartitionPsumUnits | PartitionPofm;
        mp[5] = 0x03;
        mp[6] = 0x09;
        var mask = new byte[length];
        mask[3] = 0xFF;
        mask[4] = PartitionFdp | PartitionSdp | PartitionIdp | PartitionPsumMask;
        mask[6] = 0x0F;
        mask.AsSpan(PartitionSizeDescriptorsAt).Fill(0xFF);

        // Linux st shortens the page to two descriptors (page length 0Ah) whatever the drive reported.
        pages.Register(MediumPartitionPage, 0, mp, mask, page => ValidatePartitionPage(page, max), minimumSelectLength: PartitionSizeDescriptorsAt);
    }

    /// <summary>
    /// MODE SELECT checks of page 11h beyond the changeable mask (SSC-4 §8.3.4), each refusal INVALID FIELD IN
    /// PARAMETER LIST at the returned page offset: a whole number of size descriptors; ADDITIONAL PARTITIONS DEFINED
    /// within MAXIMUM ADDITIONAL PARTITIONS; at most one of FDP/SDP/IDP; with IDP, a descriptor for every partition,
    /// none zero, and at most one FFFFh ("the rest of the medium"). Whether the sizes fit the medium is FORMAT
    /// MEDIUM's check: with POFM the page may be selected before the cartridge it is meant for is loaded.
    /// </summary>
    private static int ValidatePartitionPage(ReadOnlySpan<byte> page, int max)
    {
        if ((page.Length - PartitionSizeDescriptorsAt) % 2 != 0)
        {
            return 1;
        }

        var additional = page[3];
        if (additional > max)
        {
            return 3;
        }

        var flags = page[4];
        var selectors = ((flags & PartitionFdp) != 0 ? 1 : 0) + ((flags & PartitionSdp) != 0 ? 1 : 0) + ((flags & PartitionIdp) != 0 ? 1 : 0);
        if (selectors > 1)
        {
            return 4;
        }

        if ((flags & PartitionIdp) == 0)
        {
            return -1;
        }

        var count = additional + 1;
        if (PartitionSizeDescriptorsAt + (2 * count) > page.Length)
        {
            return 1;
        }

        var rest = false;
        for (var k = 0; k < count; k++)
        {
            var at = PartitionSizeDescriptorsAt + (2 * k);
            var size = BinaryPrimitives.ReadUInt16BigEndian(page[at..]);
            if (size == 0 || (size == PartitionSizeRest && rest))
            {
                return at;
            }

            rest |= size == PartitionSizeRest;
        }

        return -1;
    }

    /// <summary>
    /// Brings the fields that follow the drive's state up to date before MODE SENSE or MODE SELECT reads them: Device
    /// Configuration ACTIVE PARTITION (SSC-4 §8.3.3) and, unless a MODE SELECT layout is pending, page 11h from the
    /// loaded medium. MODE SENSE is not serialized, so the medium may be leaving or reformatting: the old values stay.
    /// </summary>
    protected internal override void RefreshModePages()
    {
        var medium = CurrentMedium;
        TapePartitionInfo[]? layout = null;
        var active = 0;
        try
        {
            if (medium is not null)
            {
                active = medium.ReadPosition().Partition;
                layout = new TapePartitionInfo[medium.PartitionCount];
                for (var k = 0; k < layout.Length; k++)
                {
                    layout[k] = medium.GetPartition(k);
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or ArgumentOutOfRangeException)
        {
            return;
        }

        _modePages.SetDeviceByte(DeviceConfigurationPage, 0, 3, (byte)active);
        var max = Personality.Generation.MaxAdditionalPartitions;
        if (max == 0)
        {
            return;
        }

        // MAXIMUM ADDITIONAL PARTITIONS describes the loaded volume: an LTO-5 drive writes an LTO-4 cartridge in the
        // LTO-4 format, which has no partitions, so st and LTFS see at once that this tape cannot be partitioned.
        var cartridgeMax = _cartridge is { } loaded ? Math.Min(max, loaded.Generation.MaxAdditionalPartitions) : max;
        _modePages.SetDeviceByte(MediumPartitionPage, 0, 2, (byte)cartridgeMax);
        if (_partitionLayoutPending)
        {
            return;
        }

        var count = layout?.Length ?? 1;
        var units = layout is null ? 9 : ReportedPartitionUnits(layout);
        _modePages.SetDeviceByte(MediumPartitionPage, 0, 3, (byte)(count - 1));
        _modePages.SetDeviceByte(MediumPartitionPage, 0, 4, (byte)((count > 1 ? PartitionIdp : 0) | PartitionPsumUnits | PartitionPofm));
        _modePages.SetDeviceByte(MediumPartitionPage, 0, 6, (byte)units);
        var scale = Pow10(units);
        for (var k = 0; k <= max; k++)
        {
            var size = layout is not null && k < layout.Length ? (ushort)Math.Min(0xFFFE, layout[k].CapacityBytes / scale) : (ushort)0;
            var at = PartitionSizeDescriptorsAt + (2 * k);
            _modePages.SetDeviceByte(MediumPartitionPage, 0, at, (byte)(size >> 8));
            _modePages.SetDeviceByte(MediumPartitionPage, 0, at + 1, (byte)size);
        }
    }

    /// <summary>
    /// PARTITION UNITS for reporting a layout: 9 (GB) as IBM drives report real-size tapes, lowered one decade at a time
    /// until the smallest partition measures at least one unit (a 16 MiB test tape would otherwise read as zero), then
    /// raised if the largest would not fit the 16-bit field below FFFFh (which means "the rest").
    /// </summary>
    private static int ReportedPartitionUnits(IReadOnlyList<TapePartitionInfo> layout)
    {
        var smallest = layout.Min(p => p.CapacityBytes);
        var largest = layout.Max(p => p.CapacityBytes);
        var units = 9;
        while (units > 0 && smallest < Pow10(units))
        {
            units--;
        }

        while (units < 15 && largest / Pow10(units) > 0xFFFE)
        {
            units++;
        }

        return units;
    }

    private static long Pow10(int exponent)
    {
        var v = 1L;
        for (var i = 0; i < exponent; i++)
        {
            v *= 10;
        }

        return v;
    }

    protected internal override void OnModePageChanged(byte page, byte subpage)
    {
        if (page == MediumPartitionPage && subpage == 0)
        {
            _partitionLayoutPending = true;
        }
    }

    /// <summary>
    /// The partition capacities FORMAT MEDIUM 01h/02h gives the medium (SSC-4 §7.2: "partition the medium as the Medium
    /// Partition mode page defines"), from the pending page 11h, else the medium's current layout unchanged. Null when
    /// the layout does not fit the medium: more partitions than the cartridge's generation allows, explicit sizes that
    /// add up to more than its capacity, or a "rest" partition left below <see cref="MinimumPartitionBytes"/>.
    /// <list type="bullet">
    /// <item>IDP: the sizes of the descriptors, each in PSUM units (00b bytes, 01b 10^3, 10b 10^6, 11b 10^PARTITION
    /// UNITS), rounded up to a multiple of <see cref="MinimumPartitionBytes"/>; FFFFh takes what the others leave.</item>
    /// <item>SDP: ADDITIONAL PARTITIONS DEFINED + 1 partitions of equal size (the device chooses the sizes).</item>
    /// <item>FDP: the drive's fixed layout: two partitions, partition 1 of the minimum size, partition 0 the rest —
    /// what Linux st asks for with <c>mt mkpartition 1</c>, which sends FDP for a 1 MB partition 1.</item>
    /// <item>None of them: the medium keeps its layout (the page then only restates it).</item>
    /// </list>
    /// </summary>
    private long[]? ResolvePartitionLayout(ITapeMedium medium)
    {
        var capacity = medium.CapacityBytes;
        if (!_partitionLayoutPending)
        {
            return CurrentLayout(medium);
        }

        Span<byte> page = stackalloc byte[64];
        if (!_modePages.TryGetCurrent(MediumPartitionPage, 0, page, out var length))
        {
            return CurrentLayout(medium);
        }

        page = page[..length];
        var flags = page[4];
        var additional = page[3];
        var allowed = _cartridge?.Generation.MaxAdditionalPartitions ?? Personality.Generation.MaxAdditionalPartitions;
        long[] layout;
        if ((flags & PartitionFdp) != 0)
        {
            layout = [capacity - MinimumPartitionBytes, MinimumPartitionBytes];
        }
        else if ((flags & PartitionSdp) != 0)
        {
            var each = capacity / (additional + 1) / MinimumPartitionBytes * MinimumPartitionBytes;
            layout = Enumerable.Repeat(each, additional + 1).ToArray();
        }
        else if ((flags & PartitionIdp) != 0)
        {
            var unit = (page[4] & PartitionPsumMask) switch
            {
                0x00 => 1L,
                0x08 => 1_000L,
                0x10 => 1_000_000L,
                _ => Pow10(page[6] & 0x0F),
            };
            layout = new long[additional + 1];
            var rest = -1;
            Int128 explicitSum = 0;
            for (var k = 0; k < layout.Length; k++)
            {
                var size = BinaryPrimitives.ReadUInt16BigEndian(page[(PartitionSizeDescriptorsAt + (2 * k))..]);
                if (size == PartitionSizeRest)
                {
                    rest = k;
                    continue;
                }

                var bytes = RoundUpToPartitionGranularity((Int128)size * unit);
                if (bytes > capacity)
                {
                    return null;
                }

                layout[k] = (long)bytes;
                explicitSum += bytes;
            }

            if (explicitSum > capacity)
            {
                return null;
            }

            if (rest >= 0)
            {
                layout[rest] = capacity - (long)explicitSum;
            }
        }
        else
        {
            return CurrentLayout(medium);
        }

        if (layout.Length - 1 > allowed || layout.Any(c => c < MinimumPartitionBytes))
        {
            return null;
        }

        return layout;
    }

    private static Int128 RoundUpToPartitionGranularity(Int128 bytes) =>
        bytes <= MinimumPartitionBytes ? MinimumPartitionBytes : (bytes + MinimumPartitionBytes - 1) / MinimumPartitionBytes * MinimumPartitionBytes;

    private static long[] CurrentLayout(ITapeMedium medium)
    {
        var layout = new long[medium.PartitionCount];
        for (var k = 0; k < layout.Length; k++)
        {
            layout[k] = medium.GetPartition(k).CapacityBytes;
        }

        return layout;
    }
}

using System.Buffers.Binary;
using TapeGateway.Media.Tape;

namespace TapeGateway.Scsi.Ssc;

/// <summary>TapeAlert flags we raise (TapeAlert specification / SSC-4 Annex: flag numbers 01h-40h).</summary>
internal enum TapeAlertFlag
{
    HardError = 0x03,
    Media = 0x04,
    ReadFailure = 0x05,
    WriteFailure = 0x06,
    WriteProtect = 0x09,
    NoRemoval = 0x0A,
    CleaningMedia = 0x0B,
    UnsupportedFormat = 0x0C,
    ReadOnlyFormat = 0x11,
}

public sealed partial class TapeDriveLogicalUnit
{
    private const byte WriteErrorCountersPage = 0x02;
    private const byte ReadErrorCountersPage = 0x03;
    private const byte SequentialAccessDevicePage = 0x0C;
    private const byte VolumeStatisticsPage = 0x17;
    private const byte DataCompressionLogPage = 0x1B;
    private const byte TapeAlertPage = 0x2E;
    private const byte TapeCapacityPage = 0x31;
    private const byte IbmDataCompressionLogPage = 0x32;
    private const long MiB = 1024 * 1024;

    private static readonly byte[] StandardLogPages =
        [WriteErrorCountersPage, ReadErrorCountersPage, SequentialAccessDevicePage, VolumeStatisticsPage, DataCompressionLogPage, TapeAlertPage, TapeCapacityPage];

    // IBM LTO-5 drives report data compression on their vendor page 32h, which SSC-4 later standardised as 1Bh with
    // the same parameters; IBM personalities answer both, in ascending order as the supported-pages list requires.
    private static readonly byte[] IbmLogPages = [.. StandardLogPages, IbmDataCompressionLogPage];

    private readonly ErrorCounters _counters = new();
    private ulong _tapeAlerts;

    public override IReadOnlyList<byte> ExtraLogPages => Personality.IbmVpd is null ? StandardLogPages : IbmLogPages;

    /// <summary>TapeAlert flags currently set (bit n-1 = flag n), for tests and the library's health view.</summary>
    public ulong TapeAlertFlags
    {
        get
        {
            lock (_lock)
            {
                return _tapeAlerts;
            }
        }
    }

    internal void SetAlert(TapeAlertFlag flag)
    {
        lock (_lock)
        {
            SetAlertLocked(flag);
        }
    }

    private void SetAlertLocked(TapeAlertFlag flag) => _tapeAlerts |= 1UL << ((int)flag - 1);

    /// <summary>
    /// SPC-4 §7.3 log pages of a tape drive. Every page: 4-byte header (PAGE CODE, SUBPAGE, PAGE LENGTH) and log
    /// parameters (PARAMETER CODE, control byte, PARAMETER LENGTH, value) with codes at or above the PARAMETER POINTER.
    /// Only subpage 0 exists; page control is ignored (we keep no thresholds: every PC reports current values).
    /// </summary>
    protected internal override int WriteLogPage(byte page, byte subpage, byte pageControl, ushort parameterPointer, Span<byte> destination)
    {
        if (subpage != 0)
        {
            return -1;
        }

        var w = new LogWriter(destination, page, parameterPointer);
        switch (page)
        {
            case WriteErrorCountersPage:
            case ReadErrorCountersPage:
                WriteErrorCounterPage(ref w, page == WriteErrorCountersPage);
                break;
            case SequentialAccessDevicePage:
                WriteSequentialAccessPage(ref w);
                break;
            case VolumeStatisticsPage:
                WriteVolumeStatisticsPage(ref w);
                break;
            case TapeAlertPage:
                WriteTapeAlertPage(ref w);
                break;
            case TapeCapacityPage:
                WriteTapeCapacityPage(ref w);
                break;
            case DataCompressionLogPage:
            case IbmDataCompressionLogPage when Personality.IbmVpd is not null:
                WriteDataCompressionPage(ref w);
                break;
            default:
                return -1;
        }

        return w.Finish();
    }

    /// <summary>
    /// SPC-4 Write and Read Error Counter log pages: 0000h-0002h corrected-error counts (always 0: a file
    /// has no soft errors), 0003h total corrected, 0004h correction algorithm processed, 0005h total bytes processed,
    /// 0006h total uncorrected errors (CRC failures on read; write failures).
    /// </summary>
    private void WriteErrorCounterPage(ref LogWriter w, bool write)
    {
        var stats = (CurrentMedium as TapeImage)?.Statistics;
        var bytes = write ? (stats?.HostBytesWritten ?? 0) - _counters.WrittenBase : (stats?.HostBytesRead ?? 0) - _counters.ReadBase;
        for (ushort code = 0; code <= 4; code++)
        {
            w.Counter(code, 0);
        }

        w.Counter(0x0005, (ulong)Math.Max(0, bytes));
        w.Counter(0x0006, (ulong)(write ? _counters.WriteUncorrected : _counters.ReadUncorrected));
    }

    /// <summary>
    /// SSC-4 Data Compression log page (1Bh; IBM LTO-5's 32h), this mount's: 0000h/0001h read/write compression ratio
    /// × 100 (host bytes over medium bytes; 0 before any data), then pairs of megabytes (MiB) and the bytes beyond
    /// them: 0002h/0003h transferred to the host, 0004h/0005h read from the medium, 0006h/0007h transferred from the
    /// host, 0008h/0009h written to the medium; 0100h DCE now. Medium bytes are what the image stores (compressed,
    /// and for encrypted blocks the envelope).
    /// </summary>
    private void WriteDataCompressionPage(ref LogWriter w)
    {
        var stats = (CurrentMedium as TapeImage)?.Statistics;
        long toHost = stats?.HostBytesRead ?? 0, fromMedium = stats?.MediumBytesRead ?? 0;
        long fromHost = stats?.HostBytesWritten ?? 0, toMedium = stats?.MediumBytesWritten ?? 0;
        w.Counter(0x0000, CompressionRatio(toHost, fromMedium), 2);
        w.Counter(0x0001, CompressionRatio(fromHost, toMedium), 2);
        ushort code = 0x0002;
        foreach (var bytes in (ReadOnlySpan<long>)[toHost, fromMedium, fromHost, toMedium])
        {
            w.Counter(code++, (ulong)Math.Min(bytes / MiB, uint.MaxValue), 4);
            w.Counter(code++, (ulong)(bytes % MiB), 4);
        }

        w.Counter(0x0100, CompressionEnabled ? 1UL : 0UL, 1);
    }

    // Host bytes over the bytes the medium holds for them, × 100 (SSC-4's unit for log pages 1Bh and 17h); 0 before
    // any data, saturated at the 2-byte field's maximum (zeros compress beyond 655:1).
    private static ulong CompressionRatio(long host, long medium) =>
        medium <= 0 ? 0 : (ulong)Math.Min(host * 100 / medium, ushort.MaxValue);

    /// <summary>
    /// SSC-4 Sequential-Access Device page (0Ch): 0000h bytes received from initiators (uncompressed),
    /// 0001h bytes written to the medium (after compression), 0002h bytes read from the medium, 0003h bytes sent to
    /// initiators, 0004h-0007h native capacity figures in MiB (BOP to EOD, BOP to EW, EW to EOP, BOP to current
    /// position), 0100h cleaning required (0: a virtual head never needs cleaning).
    /// </summary>
    private void WriteSequentialAccessPage(ref LogWriter w)
    {
        var medium = CurrentMedium;
        var stats = (medium as TapeImage)?.Statistics;
        var p = SafePosition(medium);
        w.Counter(0x0000, (ulong)(stats?.HostBytesWritten ?? 0));
        w.Counter(0x0001, (ulong)(stats?.MediumBytesWritten ?? 0));
        w.Counter(0x0002, (ulong)(stats?.MediumBytesRead ?? 0));
        w.Counter(0x0003, (ulong)(stats?.HostBytesRead ?? 0));
        if (p is { } pos)
        {
            w.Counter(0x0004, (ulong)(pos.BytesUsed / MiB), 4);
            w.Counter(0x0005, (ulong)((pos.CapacityBytes - pos.EarlyWarningBytes) / MiB), 4);
            w.Counter(0x0006, (ulong)(pos.EarlyWarningBytes / MiB), 4);
            w.Counter(0x0007, (ulong)(pos.BytesUsed / MiB), 4);
        }
        else
        {
            for (ushort code = 4; code <= 7; code++)
            {
                w.Counter(code, 0, 4);
            }
        }

        w.Counter(0x0100, 0);
    }

    /// <summary>
    /// SSC-4 Volume Statistics page (17h), what LTFS and backup software read about the mounted volume: 0000h page
    /// valid, 0001h thread (load) count, 0002h/0007h total data sets written/read (host records over the volume's life),
    /// 0003h/0008h total write/read retries and 0005h/0006h/000Ah/000Bh suspended (and fatal suspended) writes/reads —
    /// 0: a file neither retries nor suspends —, 0004h/0009h total unrecovered write/read errors, 000Ch/000Dh the same
    /// for this mount, 000Eh/000Fh megabytes written/read this mount, 0010h/0011h megabytes written/read over the
    /// volume's life, 0012h/0013h this load's write/read compression ratio × 100 (as log page 1Bh), 0016h/0017h total
    /// and used native capacity (MB), 0040h volume serial number, 0042h barcode, 0043h volume manufacturer (MAM 0400h)
    /// and 0045h volume personality ("Ultrium-5" for an LTO-5 cartridge) — ASCII, space padded to a multiple of 4 —,
    /// 0080h write protect, 0081h WORM, 0101h/0102h beginning- and middle-of-medium passes (0: no head ever passes over
    /// a file). Lifetime totals live in the image (docs/media-format.md) and are updated at unload; error totals are the
    /// drive's since the tape was loaded.
    /// </summary>
    private void WriteVolumeStatisticsPage(ref LogWriter w)
    {
        var medium = CurrentMedium;
        var stats = (medium as TapeImage)?.Statistics;
        var p = SafePosition(medium);
        LoadedCartridge? cartridge;
        bool protectedNow;
        lock (_lock)
        {
            cartridge = _medium is null ? null : _cartridge;
            protectedNow = medium is not null && IsWriteProtected;
        }

        ulong loads = 0;
        if (medium is not null && medium.TryGetAttribute(MamAttributeId.LoadCount, out var raw) && raw.Length is > 0 and <= 8)
        {
            foreach (var octet in raw.Span)
            {
                loads = (loads << 8) | octet;
            }
        }

        const ulong Mb = 1_000_000;
        w.Counter(0x0000, medium is null ? 0UL : 1UL, 1);
        w.Counter(0x0001, loads, 4);
        w.Counter(0x0002, (ulong)(stats?.LifetimeBlocksWritten ?? 0), 4);
        w.Counter(0x0003, 0, 4);
        w.Counter(0x0004, (ulong)_counters.WriteUncorrected, 4);
        w.Counter(0x0005, 0, 2);
        w.Counter(0x0006, 0, 2);
        w.Counter(0x0007, (ulong)(stats?.LifetimeBlocksRead ?? 0), 4);
        w.Counter(0x0008, 0, 4);
        w.Counter(0x0009, (ulong)_counters.ReadUncorrected, 4);
        w.Counter(0x000A, 0, 2);
        w.Counter(0x000B, 0, 2);
        w.Counter(0x000C, (ulong)_counters.WriteUncorrected, 2);
        w.Counter(0x000D, (ulong)_counters.ReadUncorrected, 2);
        w.Counter(0x000E, (ulong)(stats?.HostBytesWritten ?? 0) / Mb, 4);
        w.Counter(0x000F, (ulong)(stats?.HostBytesRead ?? 0) / Mb, 4);
        w.Counter(0x0010, (ulong)(stats?.LifetimeHostBytesWritten ?? 0) / Mb, 4);
        w.Counter(0x0011, (ulong)(stats?.LifetimeHostBytesRead ?? 0) / Mb, 4);
        w.Counter(0x0012, CompressionRatio(stats?.HostBytesWritten ?? 0, stats?.MediumBytesWritten ?? 0), 2);
        w.Counter(0x0013, CompressionRatio(stats?.HostBytesRead ?? 0, stats?.MediumBytesRead ?? 0), 2);
        w.Counter(0x0016, p is { } a ? (ulong)a.CapacityBytes / Mb : 0, 4);
        w.Counter(0x0017, p is { } b ? (ulong)b.BytesUsed / Mb : 0, 4);
        w.Ascii(0x0040, cartridge?.MediumSerialNumber ?? "");
        w.Ascii(0x0042, cartridge?.Barcode ?? "");
        w.Ascii(0x0043, medium is null ? "" : MediumManufacturerOf(medium));
        w.Ascii(0x0045, cartridge is null ? "" : $"Ultrium-{cartridge.Generation.Number}");
        w.Counter(0x0080, protectedNow ? 1UL : 0UL, 1);
        w.Counter(0x0081, cartridge is { Worm: true } ? 1UL : 0UL, 1);
        w.Counter(0x0101, 0, 4);
        w.Counter(0x0102, 0, 4);

        // Partition record parameters, one 8-byte record per partition: LENGTH 07h, reserved, PARTITION NUMBER (2),
        // value (4), in MB (10^6 bytes) like 0016h/0017h. 0202h approximate native capacity, 0203h approximate used
        // native capacity, 0204h approximate remaining native capacity (what LTFS reads on LTO-6 and later). 0200h/0201h
        // (first encrypted / first unencrypted logical object) are left out: the index does not record which blocks are
        // encrypted, and finding them would mean reading the partition's records for a LOG SENSE.
        if (SafePartitions(medium) is { } partitions)
        {
            w.PartitionRecords(0x0202, partitions, static q => (ulong)q.CapacityBytes / Mb);
            w.PartitionRecords(0x0203, partitions, static q => (ulong)q.BytesUsed / Mb);
            w.PartitionRecords(0x0204, partitions, static q => (ulong)q.RemainingBytes / Mb);
        }
    }

    /// <summary>
    /// SSC-4 TapeAlert page (2Eh): 64 parameters 0001h-0040h, one byte each, bit 0 = flag set. Flags are
    /// cleared once read (TapeAlert "read and clear" as drives implement it for polling hosts) and on every load.
    /// </summary>
    private void WriteTapeAlertPage(ref LogWriter w)
    {
        ulong flags;
        lock (_lock)
        {
            flags = _tapeAlerts;
            _tapeAlerts = 0;
        }

        for (var i = 1; i <= 64; i++)
        {
            w.Counter((ushort)i, (flags >> (i - 1)) & 1, 1, control: 0x03);
        }
    }

    /// <summary>
    /// SSC-4 Tape Capacity page (31h), in MiB: 0001h main partition (partition 0) remaining capacity, 0002h alternate
    /// partition (partition 1) remaining, 0003h main partition maximum capacity, 0004h alternate maximum; the alternate
    /// figures are 0 on a single-partition medium. LTFS reads these four on LTO-5 to learn each partition's space.
    /// </summary>
    private void WriteTapeCapacityPage(ref LogWriter w)
    {
        var partitions = SafePartitions(CurrentMedium);
        var main = partitions is { Length: > 0 } ? partitions[0] : (TapePartitionInfo?)null;
        var alternate = partitions is { Length: > 1 } ? partitions[1] : (TapePartitionInfo?)null;
        w.Counter(0x0001, main is { } a ? (ulong)(a.RemainingBytes / MiB) : 0, 4);
        w.Counter(0x0002, alternate is { } b ? (ulong)(b.RemainingBytes / MiB) : 0, 4);
        w.Counter(0x0003, main is { } c ? (ulong)(c.CapacityBytes / MiB) : 0, 4);
        w.Counter(0x0004, alternate is { } d ? (ulong)(d.CapacityBytes / MiB) : 0, 4);
    }

    /// <summary>Every partition's figures for log pages, which are not serialized: null when the medium is leaving.</summary>
    private static TapePartitionInfo[]? SafePartitions(ITapeMedium? medium)
    {
        if (medium is null)
        {
            return null;
        }

        try
        {
            var partitions = new TapePartitionInfo[medium.PartitionCount];
            for (var k = 0; k < partitions.Length; k++)
            {
                partitions[k] = medium.GetPartition(k);
            }

            return partitions;
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private ITapeMedium? CurrentMedium
    {
        get
        {
            lock (_lock)
            {
                return _state == DriveState.Ready ? _medium : null;
            }
        }
    }

    /// <summary>READ POSITION data for log pages, which are not serialized: the medium may be leaving the drive.</summary>
    private static TapePosition? SafePosition(ITapeMedium? medium)
    {
        if (medium is null)
        {
            return null;
        }

        try
        {
            return medium.ReadPosition();
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>LOG SELECT PCR=1 (SPC-4 LOG SELECT): error counters and TapeAlert flags back to zero.</summary>
    private void ResetLogParameters()
    {
        var stats = (CurrentMedium as TapeImage)?.Statistics;
        lock (_lock)
        {
            _counters.Reset();
            _counters.WrittenBase = stats?.HostBytesWritten ?? 0;
            _counters.ReadBase = stats?.HostBytesRead ?? 0;
            _tapeAlerts = 0;
        }
    }

    private sealed class ErrorCounters
    {
        public long ReadUncorrected;
        public long WriteUncorrected;
        public long WrittenBase;
        public long ReadBase;

        public void Reset()
        {
            ReadUncorrected = 0;
            WriteUncorrected = 0;
            WrittenBase = 0;
            ReadBase = 0;
        }
    }

    /// <summary>Appends log parameters after a 4-byte page header, skipping codes below the parameter pointer.</summary>
    private ref struct LogWriter
    {
        private readonly Span<byte> _d;
        private readonly ushort _pointer;
        private int _at;

        public LogWriter(Span<byte> destination, byte page, ushort pointer)
        {
            _d = destination;
            _pointer = pointer;
            _d[..4].Clear();
            _d[0] = page;
            _at = 4;
        }

        /// <summary>
        /// One parameter: control byte 0 = bounded data counter (SPC-4 log parameter FORMAT AND LINKING 00b), or 03h
        /// binary list for TapeAlert flags.
        /// </summary>
        public void Counter(ushort code, ulong value, int length = 8, byte control = 0x00)
        {
            if (code < _pointer)
            {
                return;
            }

            BinaryPrimitives.WriteUInt16BigEndian(_d[_at..], code);
            _d[_at + 2] = control;
            _d[_at + 3] = (byte)length;
            var v = _d.Slice(_at + 4, length);
            for (var i = length - 1; i >= 0; i--)
            {
                v[i] = (byte)value;
                value >>= 8;
            }

            _at += 4 + length;
        }

        /// <summary>An ASCII list parameter (control byte 01h: FORMAT AND LINKING 01b), space padded to a multiple of 4.</summary>
        public void Ascii(ushort code, string text)
        {
            if (code < _pointer)
            {
                return;
            }

            var length = Math.Max(4, (text.Length + 3) / 4 * 4);
            BinaryPrimitives.WriteUInt16BigEndian(_d[_at..], code);
            _d[_at + 2] = 0x01;
            _d[_at + 3] = (byte)length;
            var v = _d.Slice(_at + 4, length);
            v.Fill((byte)' ');
            for (var i = 0; i < text.Length && i < length; i++)
            {
                v[i] = text[i] is >= ' ' and <= '~' ? (byte)text[i] : (byte)'?';
            }

            _at += 4 + length;
        }

        /// <summary>
        /// A Volume Statistics partition record list (SSC-4 Volume Statistics page, parameters 0200h-0205h): per
        /// partition LENGTH 07h, reserved, PARTITION NUMBER, 4-byte value. Control byte 03h: a binary list.
        /// </summary>
        public void PartitionRecords(ushort code, IReadOnlyList<TapePartitionInfo> partitions, Func<TapePartitionInfo, ulong> value)
        {
            if (code < _pointer)
            {
                return;
            }

            BinaryPrimitives.WriteUInt16BigEndian(_d[_at..], code);
            _d[_at + 2] = 0x03;
            _d[_at + 3] = (byte)(8 * partitions.Count);
            var r = _at + 4;
            foreach (var p in partitions)
            {
                _d[r] = 0x07;
                _d[r + 1] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(_d[(r + 2)..], (ushort)p.Partition);
                BinaryPrimitives.WriteUInt32BigEndian(_d[(r + 4)..], (uint)Math.Min(uint.MaxValue, value(p)));
                r += 8;
            }

            _at = r;
        }

        public readonly int Finish()
        {
            BinaryPrimitives.WriteUInt16BigEndian(_d[2..], (ushort)(_at - 4));
            return _at;
        }
    }
}

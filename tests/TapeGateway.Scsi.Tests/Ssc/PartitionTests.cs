using System.Buffers.Binary;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// Tape partitions at the SCSI layer: Medium Partition mode page 11h (SSC-4 §8.3.4), FORMAT MEDIUM (§7.2), LOCATE
/// CP=1, log pages 31h/17h and MAM per partition, driven by the exact sequences of LTFS (tape_format) and Linux st
/// (partition_tape), on TapeImage media in memory.
/// </summary>
public sealed class PartitionTests
{
    private const long GB = 1_000_000_000;
    private const long MiB = 1024 * 1024;

    /// <summary>1 GB rounded up to the 1 MiB partition granularity.</summary>
    private const long OneGbRounded = 954 * MiB;

    private static async Task<(TapeHarness H, TapeImage Tape)> LoadAsync(long capacity = 100 * GB, TapeDrivePersonality? personality = null, LtoGeneration? generation = null, MemoryTapeStore? store = null)
    {
        var h = new TapeHarness(personality);
        var tape = await TapeImage.CreateAsync(store ?? new MemoryTapeStore(), new TapeImageOptions { CapacityBytes = capacity });
        await h.Drive.LoadAsync(tape, TapeHarness.Cartridge(generation: generation), CancellationToken.None);
        h.Consume(h.A);
        h.Consume(h.B);
        return (h, tape);
    }

    private static byte[] Locate16(byte partition, long lon, bool cp = true)
    {
        var c = Cdb.Locate16(lon);
        c[1] |= (byte)(cp ? 0x02 : 0);
        c[3] = partition;
        return c;
    }

    private static async Task<byte[]> SenseAsync(TapeHarness h, bool ten = true)
    {
        var t = await h.Run(ten ? SpcCdb.ModeSense10(0x11) : SpcCdb.ModeSense6(0x11));
        t.AssertGood();
        return t.Data();
    }

    /// <summary>LTFS tape_format(): the MODE SENSE(10) buffer edited as LTFS edits it (page at offset 16).</summary>
    private static byte[] LtfsEdit(byte[] buf, byte additional, byte units, ushort size0, ushort size1)
    {
        var b = (byte[])buf.Clone();
        b[0] = 0;
        b[1] = 0;
        b[16 + 3] = additional;
        b[16 + 4] = (byte)(0x20 | (b[16 + 4] & 0x1F));
        b[16 + 6] = units;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(16 + 8), size0);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(16 + 10), size1);
        return b[..(16 + b[16 + 1] + 2)];
    }

    /// <summary>Linux st partition_tape(size MB) for target partition 1 with a SCSI-3 drive that reports POFM.</summary>
    private static byte[] StEdit(byte[] buf, int size)
    {
        var b = (byte[])buf.Clone();
        var pgo = 4 + b[3];
        var maxAdd = b[pgo + 2];
        var psdCnt = 2; // POFM: "Leave the old value for HP DATs claiming SCSI_3"
        var psum = 0x10;
        var units = 0;
        if ((b[pgo + 4] & 0x18) == 0x18 && size >= 1000 && size % 1000 == 0)
        {
            size /= 1000;
            psum = 0x18;
            units = 9;
        }

        var psdo = pgo + 8;
        if (psdCnt > maxAdd || maxAdd != 1)
        {
            b[psdo] = b[psdo + 1] = 0xFF;
            psdo += 2;
        }

        Array.Clear(b, psdo, b[pgo + 3] * 2);
        b[psdo] = (byte)(size >> 8);
        b[psdo + 1] = (byte)size;
        b[pgo + 3] = 1;
        b[pgo + 6] = 0;
        b[pgo + 7] = 0;
        b[pgo + 4] = size != 1 || units != 0
            ? (byte)(0x20 | psum | (b[pgo + 4] & 0x07))
            : (byte)(0x80 | (b[pgo + 4] & 0x1F));
        b[pgo + 6] = (byte)units;
        b[pgo + 1] = (byte)(6 + (psdCnt * 2));

        // write_mode_page: reserved header fields cleared, WP cleared, PS cleared.
        b[0] = 0;
        b[1] = 0;
        b[2] &= 0x7F;
        b[pgo] &= 0x3F;
        return b[..(pgo + b[pgo + 1] + 2)];
    }

    private static long[] Layout(ITapeMedium tape) =>
        Enumerable.Range(0, tape.PartitionCount).Select(k => tape.GetPartition(k).CapacityBytes).ToArray();

    [Fact]
    public async Task Ltfs_Lto5_IndexPartition0_ByteForByte()
    {
        var (h, tape) = await LoadAsync();
        await h.Good(Cdb.LoadUnload(load: true));
        var buf = await SenseAsync(h);

        // Header (8: MEDIUM TYPE 58h, LTO-5 data), block descriptor (8: density 58h, variable), page 11h: 2 descriptors,
        // PSUM 11b, POFM, 100 GB. LTFS sends the header back as sensed, MEDIUM TYPE included.
        Assert.Equal(
            new byte[] { 0x00, 0x1A, 0x58, 0x10, 0x00, 0x00, 0x00, 0x08, 0x58, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x0A, 0x01, 0x00, 0x1C, 0x03, 0x09, 0x00, 0x00, 0x64, 0x00, 0x00 },
            buf);

        var list = LtfsEdit(buf, additional: 1, units: 0x09, size0: 1, size1: 0xFFFF);
        Assert.Equal(28, list.Length);
        await h.Good(SpcCdb.ModeSelect10(list.Length), list);

        // Pending: MODE SENSE shows what was selected; the medium is untouched until FORMAT MEDIUM (POFM).
        Assert.Equal(list[16..], (await SenseAsync(h))[16..]);
        Assert.Equal(1, tape.PartitionCount);

        await h.Good(Cdb.FormatMedium(0x01));
        Assert.Equal(new[] { OneGbRounded, (100 * GB) - OneGbRounded }, Layout(tape));
        Assert.Equal(
            new byte[] { 0x11, 0x0A, 0x01, 0x01, 0x3C, 0x03, 0x09, 0x00, 0x00, 0x01, 0x00, 0x62 },
            (await SenseAsync(h))[16..]);
    }

    [Fact]
    public async Task Ltfs_IndexPartition1_HardFormat_ThenUnformat()
    {
        var (h, tape) = await LoadAsync();
        var list = LtfsEdit(await SenseAsync(h), 1, 0x09, 0xFFFF, 1);
        await h.Good(SpcCdb.ModeSelect10(list.Length), list);
        await h.Good(Cdb.FormatMedium(0x02));
        Assert.Equal(new[] { (100 * GB) - OneGbRounded, OneGbRounded }, Layout(tape));

        // ltfs unformat: one partition, units 8, sizes {FFFFh, 0}, FORMAT 00h.
        var un = LtfsEdit(await SenseAsync(h), 0, 0x08, 0xFFFF, 0);
        await h.Good(SpcCdb.ModeSelect10(un.Length), un);
        await h.Good(Cdb.FormatMedium(0x00));
        Assert.Equal(new[] { 100 * GB }, Layout(tape));
        var page = (await SenseAsync(h))[16..];
        Assert.Equal(new byte[] { 0x11, 0x0A, 0x01, 0x00, 0x1C, 0x03, 0x09, 0x00, 0x00, 0x64, 0x00, 0x00 }, page);
    }

    public static TheoryData<string, int, long> StSizes => new()
    {
        { "MB, IDP", 500, 477 * MiB },            // 500 MB rounded up to 1 MiB granularity
        { "GB units, IDP", 2000, 1908 * MiB },    // 2000 is a multiple of 1000: PSUM 11b, units 9, size 2
        { "1 MB: FDP", 1, MiB },                  // st sends FDP: the drive's fixed layout, partition 1 minimum size
    };

    [Theory]
    [MemberData(nameof(StSizes))]
    public async Task LinuxSt_Mkpartition_Lto5(string what, int sizeMb, long expectedPartition1)
    {
        _ = what;
        var (h, tape) = await LoadAsync(10 * GB);
        var buf = await SenseAsync(h, ten: false);
        Assert.Equal(new byte[] { 0x11, 0x0A, 0x01, 0x00, 0x1C, 0x03, 0x09, 0x00, 0x00, 0x0A, 0x00, 0x00 }, buf[12..]);
        var list = StEdit(buf, sizeMb);
        Assert.Equal(24, list.Length);
        await h.Good(SpcCdb.ModeSelect6(list.Length), list);
        await h.Good(Cdb.FormatMedium(0x01));
        Assert.Equal(new[] { (10 * GB) - expectedPartition1, expectedPartition1 }, Layout(tape));
    }

    [Fact]
    public async Task LinuxSt_Lto6_ShortenedPage_Accepted()
    {
        var (h, tape) = await LoadAsync(10 * GB, TapeDrivePersonality.IbmUlt3580Td6, LtoGeneration.Lto6);
        var buf = await SenseAsync(h, ten: false);
        Assert.Equal(new byte[] { 0x11, 0x0E, 0x03, 0x00, 0x1C, 0x03, 0x09, 0x00, 0x00, 0x0A, 0, 0, 0, 0, 0, 0 }, buf[12..]);
        var list = StEdit(buf, 300);
        Assert.Equal(0x0A, list[12 + 1]); // st always sends two descriptors
        await h.Good(SpcCdb.ModeSelect6(list.Length), list);
        await h.Good(Cdb.FormatMedium(0x01));
        Assert.Equal(new[] { (10 * GB) - (287 * MiB), 287 * MiB }, Layout(tape));
    }

    [Fact]
    public async Task LinuxSt_Mkpartition0_FormatOnly_OnePartition()
    {
        var (h, tape) = await LoadAsync(10 * GB);
        var list = StEdit(await SenseAsync(h, ten: false), 500);
        await h.Good(SpcCdb.ModeSelect6(list.Length), list);
        await h.Good(Cdb.FormatMedium(0x01));
        Assert.Equal(2, tape.PartitionCount);
        await h.Good(Cdb.FormatMedium(0x00));
        Assert.Equal(new[] { 10 * GB }, Layout(tape));
    }

    [Fact]
    public async Task Lto6_FourPartitions_Idp()
    {
        var (h, tape) = await LoadAsync(10 * GB, TapeDrivePersonality.IbmUlt3580Td6, LtoGeneration.Lto6);
        var b = await SenseAsync(h);
        b[0] = b[1] = 0;
        b[16 + 3] = 3;
        b[16 + 4] = 0x20 | 0x10 | 0x04; // IDP, PSUM MB
        ushort[] sizes = [0xFFFF, 100, 200, 300];
        for (var k = 0; k < 4; k++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(16 + 8 + (2 * k)), sizes[k]);
        }

        await h.Good(SpcCdb.ModeSelect10(b.Length), b);
        await h.Good(Cdb.FormatMedium(0x01));
        Assert.Equal(new[] { (10 * GB) - ((96 + 191 + 287) * MiB), 96 * MiB, 191 * MiB, 287 * MiB }, Layout(tape));
        var page = (await SenseAsync(h))[16..];
        Assert.Equal(new byte[] { 0x11, 0x0E, 0x03, 0x03, 0x3C, 0x03, 0x08 }, page[..7]); // units lowered: 96 MiB < 1 GB
    }

    private static async Task<(TapeHarness H, TapeImage Tape)> TwoPartitionsAsync(long capacity = 10 * GB, MemoryTapeStore? store = null)
    {
        var (h, tape) = await LoadAsync(capacity, store: store);
        var list = StEdit(await SenseAsync(h, ten: false), 500);
        await h.Good(SpcCdb.ModeSelect6(list.Length), list);
        await h.Good(Cdb.FormatMedium(0x01));
        return (h, tape);
    }

    private static async Task<(int Partition, long Object, long File, int Flags)> LongAsync(TapeHarness h)
    {
        var t = await h.Run(Cdb.ReadPosition(0x06));
        t.AssertGood();
        var d = t.Data();
        return ((int)BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)), BinaryPrimitives.ReadInt64BigEndian(d.AsSpan(8)), BinaryPrimitives.ReadInt64BigEndian(d.AsSpan(16)), d[0]);
    }

    [Fact]
    public async Task WriteAndRead_InBothPartitions()
    {
        var (h, _) = await TwoPartitionsAsync();
        await h.WriteRecordsAsync(2, 1000, 10);
        await h.Good(Cdb.WriteFilemarks(1));

        await h.Good(Locate16(1, 0));
        Assert.Equal((1, 0L, 0L, 0x80), await LongAsync(h));
        await h.WriteRecordsAsync(3, 2000, 20);
        await h.Good(Cdb.WriteFilemarks(1));
        Assert.Equal((1, 4L, 1L, 0x00), await LongAsync(h));

        // Short form: PARTITION and first/last logical object locations relative to the partition's BOP.
        var s = await h.Run(Cdb.ReadPosition(0x00));
        Assert.Equal(1, s.Data()[1]);
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32BigEndian(s.Data().AsSpan(4)));
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32BigEndian(s.Data().AsSpan(8)));

        // Device Configuration ACTIVE PARTITION follows.
        Assert.Equal(1, (await h.Run(SpcCdb.ModeSense6(0x10, dbd: true))).Data()[4 + 3]);

        // WRITE FILEMARKS(16) names the active partition; any other is refused.
        var rightPartition = Cdb.WriteFilemarks16(4, 0);
        rightPartition[3] = 1;
        (await h.Run(rightPartition)).AssertGood();
        (await h.Run(Cdb.WriteFilemarks16(4, 0))).AssertInvalidCdbField(3);

        await h.Good(Locate16(0, 1));
        var r = await h.Run(Cdb.Read(1000));
        r.AssertGood();
        Assert.Equal(TapeHarness.Block(1000, 11), r.Data());

        // CP=0 ignores PARTITION: stays in partition 0.
        await h.Good(Locate16(1, 0, cp: false));
        Assert.Equal((0, 0L, 0L, 0x80), await LongAsync(h));

        await h.Good(Cdb.Locate10(1, cp: true, partition: 1));
        r = await h.Run(Cdb.Read(2000));
        r.AssertGood();
        Assert.Equal(TapeHarness.Block(2000, 21), r.Data());

        // REWIND goes to BOP of the active partition (Linux st keeps its partition across MTREW); LOAD goes to BOP 0.
        await h.Good(Cdb.Rewind());
        Assert.Equal((1, 0L, 0L, 0x80), await LongAsync(h));
        Assert.Equal(1, (await h.Run(SpcCdb.ModeSense6(0x10, dbd: true))).Data()[4 + 3]);
        await h.Good(Cdb.Locate10(1, cp: true, partition: 1));
        await h.Good(Cdb.LoadUnload(load: true));
        Assert.Equal((0, 0L, 0L, 0x80), await LongAsync(h));
        Assert.Equal(0, (await h.Run(SpcCdb.ModeSense6(0x10, dbd: true))).Data()[4 + 3]);

        // LOCATE(16) to end of data of partition 1.
        var eod = Locate16(1, 0);
        eod[1] |= 3 << 3;
        await h.Good(eod);
        Assert.Equal((1, 4L, 1L, 0x00), await LongAsync(h));
    }

    private static Dictionary<ushort, byte[]> LogParameters(byte[] page)
    {
        var map = new Dictionary<ushort, byte[]>();
        var at = 4;
        while (at < page.Length)
        {
            var code = BinaryPrimitives.ReadUInt16BigEndian(page.AsSpan(at));
            var length = page[at + 3];
            map[code] = page.AsSpan(at + 4, length).ToArray();
            at += 4 + length;
        }

        return map;
    }

    [Fact]
    public async Task LogPages_31h_17h_PerPartition()
    {
        var (h, tape) = await TwoPartitionsAsync();
        await h.Good(Locate16(1, 0));
        await h.WriteRecordsAsync(3, 1024 * 1024, 5);
        var p0 = tape.GetPartition(0);
        var p1 = tape.GetPartition(1);
        Assert.True(p1.BytesUsed > 3 * MiB);

        var cap = LogParameters((await h.Run(SpcCdb.LogSense(0x31, allocation: 1024))).Data());
        Assert.Equal((uint)(p0.RemainingBytes / MiB), BinaryPrimitives.ReadUInt32BigEndian(cap[0x0001]));
        Assert.Equal((uint)(p1.RemainingBytes / MiB), BinaryPrimitives.ReadUInt32BigEndian(cap[0x0002]));
        Assert.Equal((uint)(p0.CapacityBytes / MiB), BinaryPrimitives.ReadUInt32BigEndian(cap[0x0003]));
        Assert.Equal(477u, BinaryPrimitives.ReadUInt32BigEndian(cap[0x0004]));

        var vs = LogParameters((await h.Run(SpcCdb.LogSense(0x17, allocation: 4096))).Data());
        byte[] Record(int partition, long mb)
        {
            var r = new byte[8];
            r[0] = 0x07;
            BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(2), (ushort)partition);
            BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(4), (uint)mb);
            return r;
        }

        Assert.Equal([.. Record(0, p0.CapacityBytes / 1_000_000), .. Record(1, p1.CapacityBytes / 1_000_000)], vs[0x0202]);
        Assert.Equal([.. Record(0, 0), .. Record(1, p1.BytesUsed / 1_000_000)], vs[0x0203]);
        Assert.Equal([.. Record(0, p0.RemainingBytes / 1_000_000), .. Record(1, p1.RemainingBytes / 1_000_000)], vs[0x0204]);
    }

    [Fact]
    public async Task Attributes_PerPartition()
    {
        var (h, tape) = await TwoPartitionsAsync();

        // PARTITION LIST: first 0, two partitions.
        var list = await h.Run(Cdb.ReadAttribute(0x03));
        Assert.Equal(new byte[] { 0x00, 0x02, 0x00, 0x02 }, list.Data());

        async Task<ulong> ReadBinary(byte partition, ushort id)
        {
            var t = await h.Run(Cdb.ReadAttribute(0x00, id, partition: partition));
            t.AssertGood();
            var d = t.Data();
            Assert.Equal(id, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(4)));
            return BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(9));
        }

        Assert.Equal((ulong)(tape.GetPartition(0).CapacityBytes / MiB), await ReadBinary(0, 0x0001));
        Assert.Equal(477UL, await ReadBinary(1, 0x0001));
        Assert.Equal(477UL, await ReadBinary(1, 0x0000));

        // VOLUME COHERENCY INFORMATION (080Ch) written to partition 1 only.
        byte[] vci = [0x08, 0x0C, 0x00, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF];
        var parameters = new byte[4 + vci.Length];
        BinaryPrimitives.WriteUInt32BigEndian(parameters, (uint)vci.Length);
        vci.CopyTo(parameters, 4);
        var write = Cdb.WriteAttribute(parameters.Length);
        write[7] = 1;
        await h.Good(write, parameters);
        var back = await h.Run(Cdb.ReadAttribute(0x00, 0x080C, partition: 1));
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, back.Data()[9..13]);
        var other = await h.Run(Cdb.ReadAttribute(0x00, 0x080C, partition: 0));
        Assert.DoesNotContain((ushort)0x080C, AttributeIds(other.Data()));

        // The cartridge's device attributes answer for partition 1 as for partition 0 (LOAD COUNT 0003h).
        Assert.Equal(await ReadBinary(0, 0x0003), await ReadBinary(1, 0x0003));

        // Partition out of range.
        (await h.Run(Cdb.ReadAttribute(0x00, partition: 2))).AssertInvalidCdbField(7);
        write[7] = 2;
        (await h.Run(write, parameters)).AssertInvalidCdbField(7);
    }

    private static List<ushort> AttributeIds(byte[] data)
    {
        var ids = new List<ushort>();
        for (var at = 4; at + 5 <= data.Length; at += 5 + BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at + 3)))
        {
            ids.Add(BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at)));
        }

        return ids;
    }

    [Fact]
    public async Task Locate_MissingPartition_InvalidFieldInCdb_NotMoved()
    {
        var (h, _) = await TwoPartitionsAsync();
        await h.WriteRecordsAsync(2, 100, 1);
        (await h.Run(Locate16(2, 0))).AssertInvalidCdbField(3);
        (await h.Run(Cdb.Locate10(0, cp: true, partition: 4))).AssertInvalidCdbField(8);
        Assert.Equal((0, 2L, 0L, 0x00), await LongAsync(h));
    }

    public static TheoryData<string, int, byte, int, int?> BadPages => new()
    {
        // what, page offset, value, page offset and bit of the field pointer
        { "additional partitions above maximum", 3, 0x02, 3, null },
        { "FDP and IDP", 4, 0xBC, 4, null },
        { "IDP with a zero size", 8, 0x00, 8, null },
        { "reserved bits of PARTITION UNITS", 6, 0x19, 6, 4 },
        { "MAXIMUM ADDITIONAL PARTITIONS", 2, 0x03, 2, 1 },
        { "POFM", 4, 0x38, 4, 2 },
    };

    [Theory]
    [MemberData(nameof(BadPages))]
    public async Task ModeSelect_BadPage11h_InvalidFieldInParameterList_NothingChanged(string what, int offset, byte value, int pointer, int? bit)
    {
        _ = what;
        var (h, tape) = await LoadAsync(10 * GB);
        var before = await SenseAsync(h);
        var list = LtfsEdit(before, 1, 0x09, 1, 0xFFFF);
        list[16 + offset] = value;
        if (offset == 8)
        {
            list[16 + 9] = 0;
        }

        (await h.Run(SpcCdb.ModeSelect10(list.Length), list)).AssertInvalidParameterField(16 + pointer, bit);
        Assert.Equal(before, await SenseAsync(h));
        await h.Good(Cdb.FormatMedium(0x01));
        Assert.Equal(new[] { 10 * GB }, Layout(tape));
    }

    [Fact]
    public async Task ModeSelect_TwoRestSizes_PointsAtTheSecond()
    {
        var (h, _) = await LoadAsync(10 * GB);
        var before = await SenseAsync(h);
        var list = LtfsEdit(before, 1, 0x09, 0xFFFF, 0xFFFF);
        (await h.Run(SpcCdb.ModeSelect10(list.Length), list)).AssertInvalidParameterField(16 + 10);
        Assert.Equal(before, await SenseAsync(h));
    }

    public static TheoryData<string, long, ushort, ushort> Misfits => new()
    {
        { "explicit size beyond the capacity", 2 * GB, 0xFFFF, 5 },
        { "rest below the minimum partition", OneGbRounded + 500_000, 1, 0xFFFF },
    };

    [Theory]
    [MemberData(nameof(Misfits))]
    public async Task Format_LayoutDoesNotFit_26_00_NothingChanged(string what, long capacity, ushort size0, ushort size1)
    {
        _ = what;
        var (h, tape) = await LoadAsync(capacity);
        await h.WriteRecordsAsync(2, 100, 3);
        await h.Good(Cdb.Rewind());
        var list = LtfsEdit(await SenseAsync(h), 1, 0x09, size0, size1);
        await h.Good(SpcCdb.ModeSelect10(list.Length), list);
        var t = await h.Run(Cdb.FormatMedium(0x01));
        t.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        Assert.Equal(new[] { capacity }, Layout(tape));
        Assert.Equal(2L, tape.GetPartition(0).EndOfDataObjectNumber);
        Assert.Equal(list[16..], (await SenseAsync(h))[16..]); // still pending
    }

    [Fact]
    public async Task Format_MorePartitionsThanTheCartridgeGeneration_26_00()
    {
        // An LTO-6 drive with an LTO-5 cartridge: the drive offers 3 additional partitions, the medium takes 1.
        var (h, tape) = await LoadAsync(10 * GB, TapeDrivePersonality.IbmUlt3580Td6, LtoGeneration.Lto5);
        var b = await SenseAsync(h);
        Assert.Equal(1, b[16 + 2]); // MAXIMUM ADDITIONAL PARTITIONS of the loaded LTO-5 volume
        b[0] = b[1] = 0;
        b[16 + 3] = 2;
        b[16 + 4] = 0x3C;
        b[16 + 6] = 0x09;
        ushort[] sizes = [0xFFFF, 1, 1, 0];
        for (var k = 0; k < 4; k++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(16 + 8 + (2 * k)), sizes[k]);
        }

        await h.Good(SpcCdb.ModeSelect10(b.Length), b);
        (await h.Run(Cdb.FormatMedium(0x01))).AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        Assert.Equal(new[] { 10 * GB }, Layout(tape));
    }

    [Fact]
    public async Task Lto4CartridgeInLto5Drive_NoAdditionalPartitions_FormatRefused()
    {
        // An LTO-4 cartridge is written in the LTO-4 format, which has no partitions: page 11h says so.
        var (h, tape) = await LoadAsync(10 * GB, generation: LtoGeneration.Lto4);
        var b = await SenseAsync(h);
        Assert.Equal(0, b[16 + 2]);
        b[0] = b[1] = 0;
        b[16 + 3] = 1;
        b[16 + 4] = 0x3C;
        b[16 + 6] = 0x09;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(16 + 8), 0xFFFF);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(16 + 10), 1);
        await h.Good(SpcCdb.ModeSelect10(b.Length), b);
        (await h.Run(Cdb.FormatMedium(0x01))).AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        Assert.Equal(new[] { 10 * GB }, Layout(tape));
    }

    [Fact]
    public async Task Unload_DropsPendingLayout()
    {
        var (h, tape) = await LoadAsync(10 * GB);
        var before = await SenseAsync(h);
        var list = LtfsEdit(before, 1, 0x09, 1, 0xFFFF);
        await h.Good(SpcCdb.ModeSelect10(list.Length), list);
        await h.Good(Cdb.LoadUnload(load: false));
        await h.Good(Cdb.LoadUnload(load: true));
        h.Consume(h.A);
        Assert.Equal(before, await SenseAsync(h));
        await h.Good(Cdb.FormatMedium(0x01));
        Assert.Equal(1, tape.PartitionCount);
    }

    [Fact]
    public async Task ReloadedPartitionedTape_ReportsItsLayout()
    {
        var store = new MemoryTapeStore();
        var (h, first) = await TwoPartitionsAsync(store: store);
        var ejected = await h.Drive.EjectAsync(force: true, CancellationToken.None);
        Assert.Same(first, ejected);
        await first.UnloadAsync();
        var tape = await TapeImage.OpenAsync(new MemoryTapeStore(store.ToArray()));
        await h.Drive.LoadAsync(tape, TapeHarness.Cartridge(), CancellationToken.None);
        h.Consume(h.A);
        var page = (await SenseAsync(h))[16..];

        // 9 499 829 248 and 500 170 752 bytes: units 10^8 (the smaller is below 1 GB), sizes 94 and 5.
        Assert.Equal(new byte[] { 0x11, 0x0A, 0x01, 0x01, 0x3C, 0x03, 0x08, 0x00, 0x00, 0x5E, 0x00, 0x05 }, page);

        // FORMAT 01h without a pending page keeps the medium's exact layout.
        var layout = Layout(tape);
        await h.Good(Cdb.FormatMedium(0x01));
        Assert.Equal(layout, Layout(tape));
    }

    [Fact]
    public async Task SetCapacity_OnPartitionedTape_OnePartitionInPage11h()
    {
        var (h, tape) = await TwoPartitionsAsync();
        await h.Good(Cdb.SetCapacity(0xFFFF));
        Assert.Equal(1, tape.PartitionCount);
        var page = (await SenseAsync(h))[16..];
        Assert.Equal(0x00, page[3]);
        Assert.Equal(0x1C, page[4]);
        Assert.Equal(new byte[] { 0x00, 0x00 }, page[10..12]);
    }

    [Fact]
    public async Task SingleImage_ReportsOnePartition_AndMediumPartitionPageChangeable()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var changeable = (await h.Run(SpcCdb.ModeSense10(0x11, pc: 1, dbd: true))).Data()[8..];
        Assert.Equal(new byte[] { 0x11, 0x0A, 0x00, 0xFF, 0xF8, 0x00, 0x0F, 0x00, 0xFF, 0xFF, 0xFF, 0xFF }, changeable);
        var current = (await h.Run(SpcCdb.ModeSense10(0x11, dbd: true))).Data()[8..];
        Assert.Equal(new byte[] { 0x11, 0x0A, 0x01, 0x00, 0x1C, 0x03, 0x07, 0x00, 0x00, 0x01, 0x00, 0x00 }, current); // 16 MiB: units 10^7
        Assert.Equal(new byte[] { 0x00, 0x02, 0x00, 0x01 }, (await h.Run(Cdb.ReadAttribute(0x03))).Data());
        (await h.Run(Locate16(1, 0))).AssertInvalidCdbField(3);
    }
}

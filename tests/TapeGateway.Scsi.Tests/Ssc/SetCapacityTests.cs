using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>SSC-4 §7.11 SET CAPACITY on a 16 MiB tape (native = the capacity the image was made with).</summary>
public sealed class SetCapacityTests
{
    private const long MiB = TapeHarness.MiB;
    private const long Native = 16 * MiB;
    private const ushort HostAttribute = TapeHarness.TwoFilesHostAttribute;
    private const int BlockSize = 64 * 1024;

    /// <summary>native x value / 65535 (SSC-4 §7.11), with the 20 % minimum the TD5 personality applies.</summary>
    private static long Scaled(ushort value) => Native * Math.Max(value, (ushort)13107) / 65535;

    private static Task<TapeHarness> WrittenAsync(bool worm = false, TapeDrivePersonality? personality = null) =>
        TapeHarness.TwoFilesAsync(worm, personality);

    /// <summary>The data written by <see cref="WrittenAsync"/> is all still there and the capacity is the full one.</summary>
    private static async Task AssertIntactAsync(TapeHarness h)
    {
        Assert.Equal(Native, h.Image!.CapacityBytes);
        await h.AssertTwoFilesIntactAsync();
    }

    /// <summary>Log page 31h (MiB): main partition remaining (0001h) and maximum (0003h) capacity.</summary>
    private static async Task<(uint Remaining, uint Maximum)> CapacityLogAsync(TapeHarness h)
    {
        var t = await h.Run(SpcCdb.LogSense(0x31));
        t.AssertGood();
        var d = t.Data();
        return (BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(8)), BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(8 + 16)));
    }

    /// <summary>MAM 0000h REMAINING CAPACITY IN PARTITION and 0001h MAXIMUM CAPACITY IN PARTITION (MiB, 8 bytes each).</summary>
    private static async Task<(ulong Remaining, ulong Maximum)> CapacityAttributesAsync(TapeHarness h)
    {
        var t = await h.Run(Cdb.ReadAttribute(0x00, first: 0x0000));
        t.AssertGood();
        var d = t.Data();
        ulong? remaining = null, maximum = null;
        for (var at = 4; at < d.Length;)
        {
            var id = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at));
            var length = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at + 3));
            if (id == 0x0000)
            {
                remaining = BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(at + 5));
            }
            else if (id == 0x0001)
            {
                maximum = BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(at + 5));
            }

            at += 5 + length;
        }

        return (Assert.NotNull(remaining), Assert.NotNull(maximum));
    }

    public static TheoryData<ushort, bool> Values => new()
    {
        { 32768, false }, // about half
        { 32768, true },  // IMMED: the work is done by the time status is back
        { 13107, false }, // exactly the 20 % minimum: not rounded
        { 52428, true },  // 80 %
    };

    [Theory]
    [MemberData(nameof(Values))]
    public async Task AtBop_EverythingLost_AtBop_CapacityReportedEverywhere(ushort value, bool immed)
    {
        var h = await WrittenAsync();
        await h.Good(Cdb.SetCapacity(value, immed));
        var capacity = Scaled(value);

        var (obj, file, flags) = await h.LongPositionAsync();
        Assert.Equal((0L, 0L), (obj, file));
        Assert.Equal(0x80, flags & 0x80); // BOP
        (await h.Run(Cdb.Read(1000))).AssertSense(SenseKey.BlankCheck, 0x00, 0x05);

        Assert.Equal((capacity, Native), (h.Image!.CapacityBytes, h.Image.NativeCapacityBytes));
        Assert.Equal(((uint)(capacity / MiB), (uint)(capacity / MiB)), await CapacityLogAsync(h));
        Assert.Equal(((ulong)(capacity / MiB), (ulong)(capacity / MiB)), await CapacityAttributesAsync(h));

        // MAM kept; durable at once: an image of the store as a crash would leave it has the capacity and no data.
        await using var crashed = await TapeImage.OpenAsync(new MemoryTapeStore(h.Store!.ToArray()));
        Assert.Equal(capacity, crashed.CapacityBytes);
        Assert.Equal(0L, crashed.ReadPosition().EndOfDataObjectNumber);
        Assert.True(crashed.TryGetAttribute(HostAttribute, out var vendor));
        Assert.Equal("VENDOR01"u8.ToArray(), vendor.ToArray());
    }

    [Fact]
    public async Task EarlyWarning_And_VolumeOverflow_Move_To_The_New_Capacity()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: Native);
        await h.Good(Cdb.SetCapacity(32768));
        var capacity = Scaled(32768);
        var earlyWarning = 4 * MiB * capacity / Native; // the default zone (4 MiB of 16) keeps its share
        Assert.Equal(earlyWarning, h.Image!.EarlyWarningBytes);

        const int Record = BlockSize + 32;
        var firstWarning = (int)((capacity - earlyWarning) / Record) + 1;
        var fitting = (int)(capacity / Record);
        for (var n = 1; n <= fitting; n++)
        {
            var t = await h.Run(Cdb.Write(BlockSize), TapeHarness.Block(BlockSize, n));
            if (n < firstWarning)
            {
                t.AssertGood();
            }
            else
            {
                t.AssertTape(SenseKey.NoSense, 0x00, 0x02, SenseFlags.EndOfMedium, information: 0);
            }
        }

        var overflow = await h.Run(Cdb.Write(BlockSize), TapeHarness.Block(BlockSize, 0));
        overflow.AssertTape(SenseKey.VolumeOverflow, 0x00, 0x02, SenseFlags.EndOfMedium);
        Assert.Equal((long)fitting, (await h.LongPositionAsync()).Object);
        Assert.Equal(0u, (await CapacityLogAsync(h)).Remaining);
    }

    [Fact]
    public async Task Persists_Across_Unload_And_Reload_Until_65535_Restores_The_Full_Tape()
    {
        var h = await WrittenAsync();
        await h.Good(Cdb.SetCapacity(32768));
        await h.WriteRecordAsync(TapeHarness.Block(500, 7));
        var medium = await h.Drive.EjectAsync(force: false, CancellationToken.None);
        Assert.NotNull(medium);
        await medium.UnloadAsync();

        var store = new MemoryTapeStore(h.Store!.ToArray());
        var reopened = await TapeImage.OpenAsync(store);
        await h.Drive.LoadAsync(reopened, TapeHarness.Cartridge(), CancellationToken.None);
        h.Consume(h.A);
        Assert.Equal((uint)(Scaled(32768) / MiB), (await CapacityLogAsync(h)).Maximum);
        var read = await h.Run(Cdb.Read(500));
        read.AssertGood();
        Assert.Equal(TapeHarness.Block(500, 7), read.Data());

        await h.Good(Cdb.Rewind());
        await h.Good(Cdb.SetCapacity(65535));
        Assert.Equal((16u, 16u), await CapacityLogAsync(h));
        Assert.Equal((16UL, 16UL), await CapacityAttributesAsync(h));
        await using var crashed = await TapeImage.OpenAsync(new MemoryTapeStore(store.ToArray()));
        Assert.Equal(Native, crashed.CapacityBytes);
    }

    public static TheoryData<ushort> TooSmall => [0, 1, 13106];

    [Theory]
    [MemberData(nameof(TooSmall))]
    public async Task BelowTheMinimum_RoundedUpTo20Percent_RecoveredError3700_Done(ushort value)
    {
        var h = await WrittenAsync();
        var t = await h.Run(Cdb.SetCapacity(value));
        t.AssertTape(SenseKey.RecoveredError, 0x37, 0x00);

        // Carried out with the rounded value: 20 % of native, data lost, at BOP.
        Assert.Equal(Native / 5, h.Image!.CapacityBytes);
        Assert.Equal(0L, (await h.LongPositionAsync()).Object);
        (await h.Run(Cdb.Read(1000))).AssertSense(SenseKey.BlankCheck, 0x00, 0x05);
    }

    [Fact]
    public async Task ReportDensitySupport_Media_Reports_The_Scaled_Capacity()
    {
        var h = await WrittenAsync();
        await h.Good(Cdb.SetCapacity(32768));
        var media = await h.Run(Cdb.ReportDensity(media: true));
        media.AssertGood();
        // LTO-5's 1.5 TB in the proportion the image was scaled (8388736 of 16 MiB bytes): 750011444266 bytes, in MB.
        Assert.Equal(750_011u, BinaryPrimitives.ReadUInt32BigEndian(media.Data().AsSpan(4 + 12)));

        // Without MEDIA the drive reports what the density holds, not the loaded tape.
        var all = (await h.Run(Cdb.ReportDensity())).Data();
        Assert.Equal(1_500_000u, BinaryPrimitives.ReadUInt32BigEndian(all.AsSpan(4 + 104 + 12)));
    }

    [Theory]
    [MemberData(nameof(TapeHarness.TwoFilesAwayFromBop), MemberType = typeof(TapeHarness))]
    public async Task AwayFromBop_PositionPastBeginningOfMedium_NothingLost(string where, uint block)
    {
        _ = where;
        var h = await WrittenAsync();
        await h.Good(Cdb.Locate10(block));
        (await h.Run(Cdb.SetCapacity(32768))).AssertTape(SenseKey.IllegalRequest, 0x3B, 0x0C);
        Assert.Equal((long)block, (await h.LongPositionAsync()).Object);
        await AssertIntactAsync(h);
    }

    [Fact]
    public async Task Worm_WithData_DataProtect300C_NothingLost()
    {
        var h = await WrittenAsync(worm: true);
        (await h.Run(Cdb.SetCapacity(32768))).AssertTape(SenseKey.DataProtect, 0x30, 0x0C);
        await AssertIntactAsync(h);
    }

    [Fact]
    public async Task Worm_Blank_Scales()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: Native, worm: true);
        await h.Good(Cdb.SetCapacity(32768));
        Assert.Equal(Scaled(32768), h.Image!.CapacityBytes);
    }

    [Fact]
    public async Task WriteProtectedTab_DataProtect2700_NothingLost()
    {
        var h = await WrittenAsync();
        h.Image!.SetWriteProtected(true);
        (await h.Run(Cdb.SetCapacity(32768))).AssertTape(SenseKey.DataProtect, 0x27, 0x00);
        await AssertIntactAsync(h);
    }

    [Fact]
    public async Task ReadOnlyCartridge_DataProtect2700()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(cartridge: TapeHarness.Cartridge(readOnly: true));
        (await h.Run(Cdb.SetCapacity(32768))).AssertTape(SenseKey.DataProtect, 0x27, 0x00);
        Assert.Equal(Native, h.Image!.CapacityBytes);
    }

    [Fact]
    public async Task NoMedium_NotReady3A00()
    {
        var h = new TapeHarness();
        (await h.Run(Cdb.SetCapacity(32768))).AssertSense(SenseKey.NotReady, 0x3A, 0x00);
    }

    [Fact]
    public async Task ReportSupportedOperationCodes_Lists_It_For_The_Td5()
    {
        var h = new TapeHarness();
        var t = await h.Run(SpcCdb.ReportSupportedOperationCodes(1, 0x0B));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(0x03, d[1] & 0x07);
        Assert.Equal(new byte[] { 0x0B, 0x01, 0x00, 0xFF, 0xFF, 0x00 }, d.AsSpan(4).ToArray());
    }

    [Fact]
    public async Task PersonalityWithoutIt_InvalidOperationCode_NotListed_NothingLost()
    {
        var h = await WrittenAsync(personality: TapeDrivePersonality.IbmUlt3580Td5 with { SupportsSetCapacity = false });
        var t = await h.Run(Cdb.SetCapacity(32768));
        t.AssertSense(SenseKey.IllegalRequest, 0x20, 0x00);
        t.AssertFieldPointer(inCdb: true, 0, null);
        await AssertIntactAsync(h);

        var rsoc = await h.Run(SpcCdb.ReportSupportedOperationCodes(1, 0x0B));
        rsoc.AssertGood();
        Assert.Equal(0x01, rsoc.Data()[1] & 0x07);
    }

    public static TheoryData<ushort, ushort, long, bool> Scaling => new()
    {
        { 65535, 13107, 1_500_000_000_000, false },
        { 32768, 13107, 750_011_444_266, false }, // 1.5 TB x 32768 / 65535, truncated
        { 13106, 13107, 300_000_000_000, true },
        { 0, 0, 65536, true }, // no proportion minimum: the image's 64 KiB floor
        { 100, 13107, 300_000_000_000, true },
    };

    [Theory]
    [MemberData(nameof(Scaling))]
    public void ScaledCapacity_Is_Native_Times_Value_Over_65535_With_The_Minimum(ushort value, ushort minimum, long expected, bool rounded)
    {
        var native = value == 0 && minimum == 0 ? 16 * MiB : 1_500_000_000_000;
        Assert.Equal((expected, rounded), TapeDriveLogicalUnit.ScaledCapacity(native, value, minimum));
    }
}

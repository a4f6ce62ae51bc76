using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>SSC-4 §7.2 FORMAT MEDIUM on a single-partition drive (Medium Partition page 11h: no additional partitions).</summary>
public sealed class FormatMediumTests
{
    private const ushort HostAttribute = TapeHarness.TwoFilesHostAttribute;

    private static Task<TapeHarness> WrittenAsync(bool worm = false) => TapeHarness.TwoFilesAsync(worm);

    private static Task AssertIntactAsync(TapeHarness h) => h.AssertTwoFilesIntactAsync();

    public static TheoryData<byte, bool, bool> Formats => new()
    {
        { 0x0, false, false }, // default format
        { 0x1, false, false }, // partition per page 11h: one partition, same as 0h
        { 0x2, false, false }, // default format then partition: same
        { 0x0, true, false },  // IMMED
        { 0x2, true, true },   // IMMED and VERIFY
        { 0x1, false, true },  // VERIFY
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task AtBop_EverythingLost_AtBop_NewWriteWorks_MamKept(byte format, bool immed, bool verify)
    {
        var h = await WrittenAsync();
        await h.Good(Cdb.FormatMedium(format, immed, verify));

        // Done by the time status is back, IMMED or not: at BOP of partition 0, blank.
        var (obj, file, flags) = await h.LongPositionAsync();
        Assert.Equal((0L, 0L), (obj, file));
        Assert.Equal(0x80, flags & 0x80); // BOP
        var read = await h.Run(Cdb.Read(1000));
        read.AssertSense(SenseKey.BlankCheck, 0x00, 0x05);
        await h.Good(Cdb.Space(3, 0));
        Assert.Equal(0L, (await h.LongPositionAsync()).Object);

        // Durable, like ERASE: an image of the store as a crash would leave it holds no data, and the MAM is kept.
        await using (var crashed = await TapeImage.OpenAsync(new MemoryTapeStore(h.Store!.ToArray())))
        {
            Assert.Equal(0L, crashed.ReadPosition().EndOfDataObjectNumber);
            Assert.True(crashed.TryGetAttribute(HostAttribute, out var vendor));
            Assert.Equal("VENDOR01"u8.ToArray(), vendor.ToArray());
        }

        await h.WriteRecordAsync(TapeHarness.Block(500, 77));
        await h.Good(Cdb.Rewind());
        var again = await h.Run(Cdb.Read(500));
        again.AssertGood();
        Assert.Equal(TapeHarness.Block(500, 77), again.Data());
        (await h.Run(Cdb.Read(500))).AssertSense(SenseKey.BlankCheck, 0x00, 0x05);
    }

    [Fact]
    public async Task BlankTape_Formats()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.Good(Cdb.FormatMedium());
        Assert.Equal(0u, (await h.ShortPositionAsync()).Block);
    }

    [Theory]
    [MemberData(nameof(TapeHarness.TwoFilesAwayFromBop), MemberType = typeof(TapeHarness))]
    public async Task AwayFromBop_PositionPastBeginningOfMedium_NothingLost(string where, uint block)
    {
        _ = where;
        var h = await WrittenAsync();
        await h.Good(Cdb.Locate10(block));
        var t = await h.Run(Cdb.FormatMedium());
        t.AssertTape(SenseKey.IllegalRequest, 0x3B, 0x0C);
        Assert.Equal((long)block, (await h.LongPositionAsync()).Object);
        await AssertIntactAsync(h);
    }

    [Fact]
    public async Task Worm_WithData_DataProtect300C_NothingLost()
    {
        var h = await WrittenAsync(worm: true);
        var t = await h.Run(Cdb.FormatMedium());
        t.AssertTape(SenseKey.DataProtect, 0x30, 0x0C);
        await AssertIntactAsync(h);
    }

    [Fact]
    public async Task Worm_Blank_Formats()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(worm: true);
        await h.Good(Cdb.FormatMedium());
        await h.WriteRecordAsync(TapeHarness.Block(100, 5));
        Assert.Equal(1L, (await h.LongPositionAsync()).Object);
    }

    [Fact]
    public async Task WriteProtectedTab_DataProtect2700_NothingLost()
    {
        var h = await WrittenAsync();
        h.Image!.SetWriteProtected(true);
        var t = await h.Run(Cdb.FormatMedium());
        t.AssertTape(SenseKey.DataProtect, 0x27, 0x00);
        await AssertIntactAsync(h);
    }

    [Fact]
    public async Task ReadOnlyCartridge_DataProtect2700()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(cartridge: TapeHarness.Cartridge(readOnly: true));
        (await h.Run(Cdb.FormatMedium())).AssertTape(SenseKey.DataProtect, 0x27, 0x00);
    }

    [Fact]
    public async Task NoMedium_NotReady3A00()
    {
        var h = new TapeHarness();
        (await h.Run(Cdb.FormatMedium())).AssertSense(SenseKey.NotReady, 0x3A, 0x00);
    }

    public static TheoryData<string, byte[], int, int?> InvalidFields => new()
    {
        { "FORMAT 3h (reserved)", Cdb.FormatMedium(0x3), 2, 3 },
        { "FORMAT 7h (reserved)", Cdb.FormatMedium(0x7), 2, 3 },
        { "FORMAT 8h (vendor specific)", Cdb.FormatMedium(0x8), 2, 3 },
        { "FORMAT Fh (vendor specific)", Cdb.FormatMedium(0xF), 2, 3 },
        { "TRANSFER LENGTH 1", Cdb.FormatMedium(transferLength: 1), 3, null },
        { "TRANSFER LENGTH 100h", Cdb.FormatMedium(transferLength: 0x100), 3, null },
        { "TRANSFER LENGTH FFFFh with FORMAT 1h", Cdb.FormatMedium(0x1, transferLength: 0xFFFF), 3, null },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public async Task InvalidCdbField_PointsAtTheField_NothingLost(string name, byte[] cdb, int bytePointer, int? bitPointer)
    {
        _ = name;
        var h = await WrittenAsync();
        var t = await h.Run(cdb);
        t.AssertInvalidCdbField(bytePointer, bitPointer);
        await AssertIntactAsync(h);
    }

    [Fact]
    public async Task InvalidCdbField_BeforeNotReady()
    {
        var h = new TapeHarness();
        (await h.Run(Cdb.FormatMedium(0x3))).AssertInvalidCdbField(2, 3);
    }
}

using System.Buffers.Binary;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>SPACE, LOCATE, READ POSITION, REWIND, ERASE: the sequences tgt got wrong (RESULTS.md failures 2 and 3).</summary>
public sealed class TapePositioningTests
{
    /// <summary>Three files: (2 records, FM) × 3, then rewound.</summary>
    private static async Task<TapeHarness> ThreeFilesAsync()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        for (var f = 0; f < 3; f++)
        {
            await h.WriteRecordsAsync(2, 1000, f * 10);
            await h.Good(Cdb.WriteFilemarks(1));
        }

        await h.Good(Cdb.Rewind());
        return h;
    }

    [Fact]
    public async Task MtEom_SpaceFilemarks7FFFFF_BlankCheckWithResidue_ThenFileNumber3()
    {
        var h = await ThreeFilesAsync();
        var t = await h.Run(Cdb.Space(1, 0x7FFFFF));
        t.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 0x7FFFFF - 3);
        var (obj, file, _) = await h.LongPositionAsync();
        Assert.Equal((9L, 3L), (obj, file));

        // st then issues SPACE to EOD (MTEOM's second step): GOOD, same place.
        await h.Good(Cdb.Space(3, 0));
        Assert.Equal(3L, (await h.LongPositionAsync()).File);
    }

    [Fact]
    public async Task SpaceFilemarks_ForwardAndReverse()
    {
        var h = await ThreeFilesAsync();
        await h.Good(Cdb.Space(1, 2));
        var (obj, file, _) = await h.LongPositionAsync();
        Assert.Equal((6L, 2L), (obj, file));

        // Reverse 1: BOP side of filemark 2 (object 5).
        await h.Good(Cdb.Space(1, -1));
        Assert.Equal(5L, (await h.LongPositionAsync()).Object);

        // Reverse 5 from there: 1 filemark behind, BOP reached: NO SENSE 00/04 EOM, INFORMATION = 5 - 1 (not negative).
        var t = await h.Run(Cdb.Space(1, -5));
        t.AssertTape(SenseKey.NoSense, 0x00, 0x04, SenseFlags.EndOfMedium, 4);
        var (_, flags) = await h.ShortPositionAsync();
        Assert.Equal(0x80, flags & 0x80);
    }

    [Fact]
    public async Task SpaceBlocks_FilemarkEodAndBop()
    {
        var h = await ThreeFilesAsync();

        // Forward 5 blocks: the filemark after 2 blocks stops it, INFORMATION = 5 - 2, FM bit, after the mark.
        var t = await h.Run(Cdb.Space(0, 5));
        t.AssertTape(SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, 3);
        Assert.Equal(3u, (await h.ShortPositionAsync()).Block);

        // Reverse 4 from object 3: crosses the filemark at 2 first: stops on its BOP side, INFORMATION = 4.
        var r = await h.Run(Cdb.Space(0, -4));
        r.AssertTape(SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, 4);
        Assert.Equal(2u, (await h.ShortPositionAsync()).Block);

        // Reverse 5 from object 2: BOP after 2 blocks.
        var bop = await h.Run(Cdb.Space(0, -5));
        bop.AssertTape(SenseKey.NoSense, 0x00, 0x04, SenseFlags.EndOfMedium, 3);

        // SPACE(16) to EOD then forward blocks: BLANK CHECK with the whole count as residue.
        await h.Good(Cdb.Space16(3, 0));
        var eod = await h.Run(Cdb.Space16(0, 7));
        eod.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 7);

        await h.Good(Cdb.Space(0, 0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SpaceReverse_EarlyTermination_InformationIsNeverNegative(bool sixteen)
    {
        // SSC: early termination of any SPACE, toward BOP too, never reports a negative INFORMATION (Linux st's
        // MTBSF/MTBSR count it as what was not spaced).
        var h = await ThreeFilesAsync();
        byte[] Space(int code, int count) => sixteen ? Cdb.Space16(code, count) : Cdb.Space(code, count);
        await h.Good(Space(3, 0));

        // From EOD (object 9) back over blocks: the filemark at 8 is met first, no block spaced.
        var fm = await h.Run(Space(0, -2));
        fm.AssertTape(SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, 2);
        Assert.Equal(8u, (await h.ShortPositionAsync()).Block);

        // Back over 0x800000 filemarks (SPACE(6)'s most negative count): 2 behind (objects 5 and 2), then BOP.
        var bop = await h.Run(Space(1, -0x800000));
        bop.AssertTape(SenseKey.NoSense, 0x00, 0x04, SenseFlags.EndOfMedium, 0x800000 - 2);
        Assert.Equal(0u, (await h.ShortPositionAsync()).Block);

        // Back over blocks from object 2: 2 spaced, then BOP.
        await h.Good(Cdb.Locate10(2));
        var blocks = await h.Run(Space(0, -7));
        blocks.AssertTape(SenseKey.NoSense, 0x00, 0x04, SenseFlags.EndOfMedium, 5);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(15)]
    public async Task Space_UnsupportedCodes_InvalidField(int code)
    {
        var h = await ThreeFilesAsync();
        var t = await h.Run(Cdb.Space(code, 1));
        t.AssertInvalidCdbField(1, 3);
    }

    [Fact]
    public async Task Space16_ParameterLength_InvalidField()
    {
        var h = await ThreeFilesAsync();
        var cdb = Cdb.Space16(1, 1);
        cdb[13] = 1;
        var t = await h.Run(cdb);
        t.AssertInvalidCdbField(12);
    }

    [Fact]
    public async Task ReadPosition_AtBot_AllForms()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        foreach (byte sa in new byte[] { 0x00, 0x01 })
        {
            var t = await h.Run(Cdb.ReadPosition(sa));
            t.AssertGood();
            var d = t.Data();
            Assert.Equal(20, d.Length);
            Assert.Equal(0x80, d[0]); // BOP only: no LOCU/BYCU/LOLU/PERR
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)));
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(8)));
        }

        var (obj, file, flags) = await h.LongPositionAsync();
        Assert.Equal((0L, 0L, (byte)0x80), (obj, file, flags));

        var ext = await h.Run(Cdb.ReadPosition(0x08, allocation: 32));
        ext.AssertGood();
        var e = ext.Data();
        Assert.Equal(32, e.Length);
        Assert.Equal(0x80, e[0]);
        Assert.Equal(0x1C, BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(2)));

        var clipped = await h.Run(Cdb.ReadPosition(0x08, allocation: 8));
        Assert.Equal(8, clipped.DataIn.Length);

        var bad = await h.Run(Cdb.ReadPosition(0x02));
        bad.AssertInvalidCdbField(1, 4);

        await h.WriteRecordAsync(new byte[10]);
        var (block, f2) = await h.ShortPositionAsync();
        Assert.Equal((1u, 0), (block, f2 & 0x80));
    }

    [Fact]
    public async Task ReadPosition_WithoutMedium_NotReady()
    {
        var h = new TapeHarness();
        var t = await h.Run(Cdb.ReadPosition(0));
        t.AssertSense(SenseKey.NotReady, 0x3A, 0x00);
    }

    [Fact]
    public async Task Locate_RoundTrip_AndBeyondEod()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var records = new List<byte[]>();
        for (var i = 0; i < 10; i++)
        {
            records.Add(TapeHarness.Block(2000 + i, i));
            await h.WriteRecordAsync(records[^1]);
        }

        Assert.Equal(10u, (await h.ShortPositionAsync()).Block);
        await h.Good(Cdb.Locate10(4, bt: true));
        Assert.Equal(4u, (await h.ShortPositionAsync()).Block);
        var r = await h.Run(Cdb.Read(2004));
        r.AssertGood();
        Assert.Equal(records[4], r.Data());

        await h.Good(Cdb.Locate16(7));
        Assert.Equal(7L, (await h.LongPositionAsync()).Object);

        var beyond = await h.Run(Cdb.Locate10(11));
        beyond.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 1); // one object short of 11
        Assert.Equal(10u, (await h.ShortPositionAsync()).Block);
        await h.Good(Cdb.Locate10(2));
        (await h.Run(Cdb.Locate10(1000))).AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 990);
        Assert.Equal(10u, (await h.ShortPositionAsync()).Block);

        await h.Good(Cdb.Locate10(10));
        var partition = await h.Run(Cdb.Locate10(0, cp: true, partition: 1));
        partition.AssertInvalidCdbField(8);
        await h.Good(Cdb.Locate10(0, cp: true, partition: 0));
    }

    [Fact]
    public async Task Locate16_FileAndEndOfData()
    {
        var h = await ThreeFilesAsync();
        await h.Good(Cdb.Locate16(2, destType: 1));
        var (obj, file, _) = await h.LongPositionAsync();
        Assert.Equal((6L, 2L), (obj, file));
        await h.Good(Cdb.Locate16(0, destType: 3));
        Assert.Equal(9L, (await h.LongPositionAsync()).Object);
        await h.Good(Cdb.Locate16(0, destType: 1));
        Assert.Equal(0L, (await h.LongPositionAsync()).Object);
        var bad = await h.Run(Cdb.Locate16(0, destType: 2));
        bad.AssertInvalidCdbField(1, 5);

        // Beyond EOD: at EOD, INFORMATION in the destination's unit — objects short, or files short (3 filemarks).
        (await h.Run(Cdb.Locate16(100))).AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 91);
        Assert.Equal(9L, (await h.LongPositionAsync()).Object);
        (await h.Run(Cdb.Locate16(7, destType: 1))).AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 4);
        Assert.Equal(9L, (await h.LongPositionAsync()).Object);

        // Past any object number: at EOD, no INFORMATION to give.
        (await h.Run(Cdb.Locate16(-1))).AssertTape(SenseKey.BlankCheck, 0x00, 0x05);
        Assert.Null((await h.Run(Cdb.Locate16(-1))).Information());
        Assert.Equal(9L, (await h.LongPositionAsync()).Object);
    }

    [Fact]
    public async Task BtapeAppendTest()
    {
        // btape "append test": write 2 files, rewind, space to EOD, write a third, rewind, count the files.
        var h = new TapeHarness();
        await h.LoadNewAsync();
        for (var f = 0; f < 2; f++)
        {
            await h.WriteRecordsAsync(5, 64412, f * 100);
            await h.Good(Cdb.WriteFilemarks(1));
        }

        await h.Good(Cdb.Rewind());

        // mt eod as Linux st does it: SPACE filemarks 0x7FFFFF, then SPACE EOD.
        var eom = await h.Run(Cdb.Space(1, 0x7FFFFF));
        eom.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 0x7FFFFF - 2);
        Assert.Equal(2L, (await h.LongPositionAsync()).File);
        await h.Good(Cdb.Space(3, 0));

        await h.WriteRecordsAsync(5, 64412, 900);
        await h.Good(Cdb.WriteFilemarks(1));
        Assert.Equal(3L, (await h.LongPositionAsync()).File);
        await h.Good(Cdb.Rewind());

        var files = 0;
        while (true)
        {
            var t = await h.Run(Cdb.Space(1, 1));
            if (t.Status != Core.Scsi.ScsiStatus.Good)
            {
                t.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 1);
                break;
            }

            files++;
        }

        Assert.Equal(3, files);

        // fsf test: rewind, fsf 1 and read the first record of file 1.
        await h.Good(Cdb.Rewind());
        await h.Good(Cdb.Space(1, 1));
        var r = await h.Run(Cdb.Read(64412));
        r.AssertGood();
        Assert.Equal(TapeHarness.Block(64412, 100), r.Data());
    }

    [Fact]
    public async Task Erase_AtBot_EmptiesTape()
    {
        var h = await ThreeFilesAsync();
        await h.Good(Cdb.Locate10(3));
        await h.Good(Cdb.Erase(longErase: true));
        await h.Good(Cdb.Space(3, 0));
        Assert.Equal(3L, (await h.LongPositionAsync()).Object);
        await h.Good(Cdb.Rewind(immed: true));
        await h.Good(Cdb.Erase());
        await h.Good(Cdb.Space(3, 0));
        Assert.Equal(0L, (await h.LongPositionAsync()).Object);
    }
}

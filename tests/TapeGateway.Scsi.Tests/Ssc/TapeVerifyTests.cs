using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>SSC-4 VERIFY(6): positions like READ, reports like READ, compares with BYTCMP, VBF and VTE ranges.</summary>
public sealed class TapeVerifyTests
{
    private static byte[] Verify(int length, bool fixedMode = false, bool byteCompare = false, bool vbf = false, bool vte = false, bool vlbpm = false, bool immed = false) =>
        [0x13, (byte)((vte ? 0x20 : 0) | (vlbpm ? 0x10 : 0) | (vbf ? 0x08 : 0) | (immed ? 0x04 : 0) | (byteCompare ? 0x02 : 0) | (fixedMode ? 0x01 : 0)),
            (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0];

    /// <summary>File 0: blocks of 1000, 2000, 3000 bytes; file 1: one block of 500; then EOD.</summary>
    private static async Task<TapeHarness> TwoFilesAsync()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.WriteRecordAsync(TapeHarness.Block(1000, 1));
        await h.WriteRecordAsync(TapeHarness.Block(2000, 2));
        await h.WriteRecordAsync(TapeHarness.Block(3000, 3));
        await h.Good(Cdb.WriteFilemarks(1));
        await h.WriteRecordAsync(TapeHarness.Block(500, 4));
        await h.Good(Cdb.WriteFilemarks(1));
        await h.Good(Cdb.Rewind());
        return h;
    }

    [Fact]
    public async Task Variable_VerifiesOneBlock_MovesLikeRead_NoDataIn()
    {
        var h = await TwoFilesAsync();
        var t = await h.Run(Verify(1000), expected: 0);
        t.AssertGood();
        Assert.Equal(0, t.DataIn.Length);
        Assert.Equal(1u, (await h.ShortPositionAsync()).Block);

        // A 2000-byte block verified as 1500: ILI like READ without SILI, positioned after it.
        var ili = await h.Run(Verify(1500));
        ili.AssertTape(SenseKey.NoSense, 0, 0, SenseFlags.IncorrectLength, -500);
        Assert.Equal(2u, (await h.ShortPositionAsync()).Block);

        await h.Good(Verify(3000));
        var fm = await h.Run(Verify(4096));
        fm.AssertTape(SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, 4096);
        var (obj, file, _) = await h.LongPositionAsync();
        Assert.Equal((4L, 1L), (obj, file));
    }

    [Fact]
    public async Task ByteCompare_EqualIsGood_DifferenceIsMiscompare_PositionedAfterTheBlock()
    {
        var h = await TwoFilesAsync();
        (await h.Run(Verify(1000, byteCompare: true), TapeHarness.Block(1000, 1))).AssertGood();

        var other = TapeHarness.Block(2000, 2);
        other[1234] ^= 0x40;
        var miscompare = await h.Run(Verify(2000, byteCompare: true), other);
        miscompare.AssertTape(SenseKey.Miscompare, 0x1D, 0x00, SenseFlags.None, 2000);
        Assert.Equal(2u, (await h.ShortPositionAsync()).Block);

        // Data-Out shorter than the verification length: PARAMETER LIST LENGTH ERROR, nothing read.
        var shortList = await h.Run(Verify(3000, byteCompare: true), new byte[100]);
        shortList.AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
        Assert.Equal(2u, (await h.ShortPositionAsync()).Block);
    }

    [Fact]
    public async Task Fixed_CountsBlocks_WrongLengthAndEodReportBlockResidue()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        (await h.Run(Verify(1, fixedMode: true))).AssertInvalidCdbField(1, 0); // variable-block mode
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(512));
        var data = new byte[4 * 512];
        Random.Shared.NextBytes(data);
        await h.Good(Cdb.Write(4, fixedMode: true), data);
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(0));
        await h.WriteRecordAsync(TapeHarness.Block(700, 9));
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(512));
        await h.Good(Cdb.Rewind());

        (await h.Run(Verify(2, fixedMode: true, byteCompare: true), data[..1024])).AssertGood();
        var ili = await h.Run(Verify(3, fixedMode: true));
        ili.AssertTape(SenseKey.NoSense, 0, 0, SenseFlags.IncorrectLength, 1);
        Assert.Equal(5u, (await h.ShortPositionAsync()).Block);
        var eod = await h.Run(Verify(2, fixedMode: true));
        eod.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 2);
    }

    [Fact]
    public async Task Vbf_CrossesFilemarks_Vte_RunsToEndOfData()
    {
        var h = await TwoFilesAsync();
        await h.Good(Verify(1, vbf: true));
        var (obj, file, _) = await h.LongPositionAsync();
        Assert.Equal((4L, 1L), (obj, file));

        // Two more filemarks asked, one left: BLANK CHECK at EOD with the filemarks not crossed.
        var eod = await h.Run(Verify(2, vbf: true));
        eod.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 1);

        await h.Good(Cdb.Rewind());
        await h.Good(Verify(0, vte: true, immed: true));
        (obj, file, _) = await h.LongPositionAsync();
        Assert.Equal((6L, 2L), (obj, file));
    }

    [Fact]
    public async Task CorruptBlock_IsMediumError_AndTheNextBlockStillVerifies()
    {
        var h = await TwoFilesAsync();
        // Payload bytes of the first record (the data region starts at 139264, a record header is 32 bytes).
        await h.Store!.WriteAsync(139264 + 32 + 100, new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, CancellationToken.None);
        var bad = await h.Run(Verify(1000));
        bad.AssertTape(SenseKey.MediumError, 0x11, 0x00, SenseFlags.None, 1000);
        Assert.Equal(1u, (await h.ShortPositionAsync()).Block);
        await h.Good(Verify(2000));
    }

    [Theory]
    [InlineData(false, false, false, true, 1, 4)]  // VLBPM: no logical block protection
    [InlineData(true, false, true, false, 1, 1)]   // BYTCMP with VBF
    [InlineData(true, true, false, false, 1, 1)]   // BYTCMP with VTE
    [InlineData(false, true, true, false, 1, 5)]   // VTE with VBF
    public async Task InvalidCombinations_AreInvalidFieldInCdb(bool byteCompare, bool vte, bool vbf, bool vlbpm, int bytePointer, int bit)
    {
        var h = await TwoFilesAsync();
        var t = await h.Run(Verify(1000, byteCompare: byteCompare, vte: vte, vbf: vbf, vlbpm: vlbpm));
        t.AssertInvalidCdbField(bytePointer, bit);
        Assert.Equal(0u, (await h.ShortPositionAsync()).Block);
    }

    [Fact]
    public async Task NoMedium_IsNotReady()
    {
        var h = new TapeHarness();
        var t = await h.Run(Verify(1000), nexus: h.A);
        Assert.Equal(ScsiStatus.CheckCondition, t.Status);
        var (key, _, _) = SenseDataBuilder.Parse(t.Sense);
        Assert.True(key is SenseKey.NotReady or SenseKey.UnitAttention, $"{key}");
    }
}

using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>READ(6)/WRITE(6)/WRITE FILEMARKS in variable and fixed mode, with every exception condition.</summary>
public sealed class TapeReadWriteTests
{
    [Fact]
    public async Task ShortRecord_Ili_PositiveResidue_TransportResidualIsShortfall()
    {
        // RESULTS.md failure 4: READ(6) of 262144 on a 166466-byte record.
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var record = TapeHarness.Block(166466, 7);
        await h.WriteRecordAsync(record);
        await h.Good(Cdb.Rewind());

        var t = await h.Run(Cdb.Read(262144), expected: 262144);
        t.AssertTape(SenseKey.NoSense, 0, 0, SenseFlags.IncorrectLength, 95678);
        Assert.Equal(166466, t.DataIn.Length);
        Assert.Equal(record, t.Data());
        Assert.Equal(166466, t.CommandTransferLength);
        Assert.Equal(95678, t.ExpectedDataTransferLength - t.CommandTransferLength);
    }

    [Fact]
    public async Task LongRecord_Ili_NegativeResidue_TruncatedData()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var record = TapeHarness.Block(256 * 1024, 8);
        await h.WriteRecordAsync(record);
        await h.Good(Cdb.Rewind());

        var t = await h.Run(Cdb.Read(64 * 1024), expected: 64 * 1024);
        t.AssertTape(SenseKey.NoSense, 0, 0, SenseFlags.IncorrectLength, (64 * 1024) - (256 * 1024));
        Assert.Equal(64 * 1024, t.DataIn.Length);
        Assert.Equal(record.AsSpan(0, 64 * 1024).ToArray(), t.Data());

        // The record was passed over: the next read sees EOD.
        var eod = await h.Run(Cdb.Read(1024));
        eod.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 1024);
    }

    [Fact]
    public async Task Sili_SuppressesUnderlengthAndVariableOverlength()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.WriteRecordAsync(TapeHarness.Block(1000, 1));
        await h.WriteRecordAsync(TapeHarness.Block(3000, 2));
        await h.Good(Cdb.Rewind());

        var shortRead = await h.Run(Cdb.Read(2000, sili: true));
        shortRead.AssertGood();
        Assert.Equal(1000, shortRead.DataIn.Length);
        var longRead = await h.Run(Cdb.Read(2000, sili: true));
        longRead.AssertGood();
        Assert.Equal(2000, longRead.DataIn.Length);
    }

    [Fact]
    public async Task ExactRead_Good_AndFilemarkThenEod()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var record = TapeHarness.Block(4096, 3);
        await h.WriteRecordAsync(record);
        await h.Good(Cdb.WriteFilemarks(1));
        await h.Good(Cdb.Rewind());

        var t = await h.Run(Cdb.Read(4096));
        t.AssertGood();
        Assert.Equal(record, t.Data());

        var fm = await h.Run(Cdb.Read(4096));
        fm.AssertTape(SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, 4096);
        Assert.Equal(0, fm.DataIn.Length);

        var (obj, file, _) = await h.LongPositionAsync();
        Assert.Equal((2L, 1L), (obj, file));

        var eod = await h.Run(Cdb.Read(4096));
        eod.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 4096);
        Assert.Equal(2u, (await h.ShortPositionAsync()).Block);
    }

    [Fact]
    public async Task ZeroLengthReadAndWrite_AreNoOps()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.Good(Cdb.Write(0), []);
        await h.Good(Cdb.Read(0));
        Assert.Equal(0u, (await h.ShortPositionAsync()).Block);
    }

    [Fact]
    public async Task FixedMode_WriteReadAndResidues()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var fixedBit = await h.Run(Cdb.Read(1, fixedMode: true));
        fixedBit.AssertInvalidCdbField(1, 0);

        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(1024));
        Assert.Equal(1024u, h.Drive.BlockLength);
        var sense = await h.Run(SpcCdb.ModeSense6(0x10));
        sense.AssertGood();
        var d = sense.Data();
        Assert.Equal(8, d[3]);
        Assert.Equal(0x58, d[4]); // LTO-5 density
        Assert.Equal(1024, (d[9] << 16) | (d[10] << 8) | d[11]);

        var data = TapeHarness.Block(4 * 1024, 9);
        await h.Good(Cdb.Write(4, fixedMode: true), data);
        await h.Good(Cdb.WriteFilemarks(1));
        await h.Good(Cdb.Rewind());
        Assert.Equal(0L, (await h.LongPositionAsync()).Object);

        var r = await h.Run(Cdb.Read(8, fixedMode: true));
        r.AssertTape(SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, 4);
        Assert.Equal(data, r.Data());
        Assert.Equal(4096, r.CommandTransferLength);

        var sili = await h.Run(Cdb.Read(1, fixedMode: true, sili: true));
        sili.AssertInvalidCdbField(1, 1);

        // A variable-length record read in fixed mode: ILI, INFORMATION = blocks not read.
        await h.Good(Cdb.Write(500), TapeHarness.Block(500, 1));
        await h.Good(Cdb.Space(0, -1));
        var ili = await h.Run(Cdb.Read(3, fixedMode: true));
        ili.AssertTape(SenseKey.NoSense, 0, 0, SenseFlags.IncorrectLength, 3);
        Assert.Equal(0, ili.DataIn.Length);

        // Back to variable mode.
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(0));
        Assert.Equal(0u, h.Drive.BlockLength);
    }

    [Fact]
    public async Task ModeSelect_RejectsBadBlockLengthAndDensity()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var tooBig = await h.Run(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(16 * 1024 * 1024 - 1));
        tooBig.AssertInvalidParameterField(4);
        var badDensity = await h.Run(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(0, 0x40));
        badDensity.AssertInvalidParameterField(4);
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(0, 0x58));
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(0, 0x7F));
    }

    [Fact]
    public async Task WriteProtected_DataProtect_WpBit_TapeAlert()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(cartridge: TapeHarness.Cartridge(readOnly: true));
        var w = await h.Run(Cdb.Write(512), new byte[512]);
        w.AssertTape(SenseKey.DataProtect, 0x27, 0x00);
        var fm = await h.Run(Cdb.WriteFilemarks(1));
        fm.AssertTape(SenseKey.DataProtect, 0x27, 0x00);
        await h.Good(Cdb.WriteFilemarks(0));
        var erase = await h.Run(Cdb.Erase());
        erase.AssertTape(SenseKey.DataProtect, 0x27, 0x00);

        var sense = await h.Run(SpcCdb.ModeSense6(0x3F));
        sense.AssertGood();
        Assert.Equal(0x80, sense.Data()[2] & 0x80);
        Assert.Equal(0x10, sense.Data()[2] & 0x70); // BUFFERED MODE 001b
        Assert.NotEqual(0UL, h.Drive.TapeAlertFlags & (1UL << 8)); // flag 09h write protect
    }

    [Fact]
    public async Task EarlyWarningThenVolumeOverflow_On16MiBTape()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 16 * TapeHarness.MiB);
        var block = TapeHarness.Block(1024 * 1024, 5);
        var earlyWarnings = 0;
        var goodBeforeWarning = 0;
        ScsiTask? last = null;
        for (var i = 0; i < 64; i++)
        {
            last = await h.Run(Cdb.Write(block.Length), block);
            if (last.Status == ScsiStatus.Good)
            {
                Assert.Equal(0, earlyWarnings);
                goodBeforeWarning++;
                continue;
            }

            var (key, _, _) = SenseDataBuilder.Parse(last.Sense);
            if (key == SenseKey.NoSense)
            {
                // Early warning: written, NO SENSE + EOM 00/02, INFORMATION 0.
                last.AssertTape(SenseKey.NoSense, 0x00, 0x02, SenseFlags.EndOfMedium, 0);
                earlyWarnings++;
                continue;
            }

            break;
        }

        Assert.True(goodBeforeWarning >= 8, $"only {goodBeforeWarning} writes before early warning");
        Assert.True(earlyWarnings >= 1);
        last!.AssertTape(SenseKey.VolumeOverflow, 0x00, 0x02, SenseFlags.EndOfMedium, block.Length);

        // Filemarks still fit after the refused block; READ POSITION reports EOP (beyond early warning).
        var fm = await h.Run(Cdb.WriteFilemarks(1));
        fm.AssertTape(SenseKey.NoSense, 0x00, 0x02, SenseFlags.EndOfMedium);
        var (_, flags) = await h.ShortPositionAsync();
        Assert.Equal(0x40, flags & 0x40);

        // Everything written before the overflow reads back.
        await h.Good(Cdb.Rewind());
        for (var i = 0; i < goodBeforeWarning + earlyWarnings; i++)
        {
            var r = await h.Run(Cdb.Read(block.Length));
            r.AssertGood();
        }
    }

    [Fact]
    public async Task ProgrammableEarlyWarning_SetByModeSelect_ReportedOnceWhenCrossed_BpewInReadPosition()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 16 * TapeHarness.MiB);

        // PEWS is the one changeable field of the Device Configuration Extension page (10h/01h), bytes 6-7.
        var changeable = await h.Run(SpcCdb.ModeSense10(0x10, subpage: 0x01, pc: 1, dbd: true));
        changeable.AssertGood();
        var mask = changeable.Data().AsSpan(8).ToArray();
        Assert.Equal([0xFF, 0xFF], mask[6..8]);
        Assert.All(mask[8..], b => Assert.Equal(0, b));

        var current = await h.Run(SpcCdb.ModeSense6(0x10, subpage: 0x01, dbd: true));
        var list = current.Data();
        list[0] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
        list[4 + 6] = 0;
        list[4 + 7] = 8; // PEW 8 MB before early warning (4 MiB before the end of this tape)
        await h.Good(SpcCdb.ModeSelect6(list.Length), list);
        Assert.Equal(8_000_000, h.Drive.ProgrammableEarlyWarningBytes);

        var block = TapeHarness.Block(256 * 1024, 9);
        var reports = new List<int>();
        var i = 0;
        for (; i < 64; i++)
        {
            var w = await h.Run(Cdb.Write(block.Length), block);
            if (w.Status == ScsiStatus.Good)
            {
                continue;
            }

            var (key, asc, ascq) = SenseDataBuilder.Parse(w.Sense);
            if ((key, asc, ascq) == (SenseKey.NoSense, 0x00, 0x07))
            {
                w.AssertTape(SenseKey.NoSense, 0x00, 0x07, SenseFlags.EndOfMedium, 0);
                var (_, flags) = await h.ShortPositionAsync();
                Assert.Equal(0x01, flags & 0x41); // BPEW, not yet EOP (early warning)
                reports.Add(i);
                continue;
            }

            w.AssertTape(SenseKey.NoSense, 0x00, 0x02, SenseFlags.EndOfMedium, 0); // then early warning, as before
            break;
        }

        var reported = Assert.Single(reports);
        Assert.True(reported >= 8 && reported < i - 8, $"PEW at write {reported}, early warning at {i}");

        // Back to the default (PEWS 0) on the next load, as every mode parameter.
        var medium = await h.Drive.EjectAsync(force: false, CancellationToken.None);
        await medium!.DisposeAsync();
        await h.LoadNewAsync(capacity: 16 * TapeHarness.MiB);
        Assert.Equal(0, h.Drive.ProgrammableEarlyWarningBytes);
    }

    [Fact]
    public async Task Worm_MediumConfigurationPage_WormmFollowsTheCartridge_FilemarksBeforeEodOverwritable()
    {
        var h = new TapeHarness();
        static async Task<byte[]> Page1D(TapeHarness h)
        {
            var t = await h.Run(SpcCdb.ModeSense6(0x1D, dbd: true));
            t.AssertGood();
            var d = t.Data();
            Assert.Equal(4 + 32, d.Length);
            Assert.Equal(0x1D, d[4] & 0x3F);
            Assert.Equal(30, d[5]);
            return d[4..];
        }

        await h.LoadNewAsync(worm: true);
        var page = await Page1D(h);
        Assert.Equal(0x01, page[2] & 0x01); // WORMM
        Assert.Equal(0x00, page[4]);        // no logical block may be overwritten
        Assert.Equal(0x02, page[5]);        // filemarks before EOD, except the one closest to BOP

        // MODE SELECT may echo it (WORMM included) but not change it.
        var list = new byte[4 + 32];
        page.CopyTo(list, 4);
        list[4] &= 0x3F;
        await h.Good(SpcCdb.ModeSelect6((byte)list.Length), list);
        list[4 + 2] = 0x00;
        var change = await h.Run(SpcCdb.ModeSelect6((byte)list.Length), list);
        change.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);

        // Two filemarks close the data; backing over the second and appending is allowed, over the first it is not.
        await h.WriteRecordsAsync(2, 1000);
        await h.Good(Cdb.WriteFilemarks(2));
        await h.Good(Cdb.Space(1, -1));
        await h.WriteRecordAsync(TapeHarness.Block(1000, 60));
        await h.Good(Cdb.Space(1, -1));
        var first = await h.Run(Cdb.Write(1000), new byte[1000]);
        first.AssertTape(SenseKey.DataProtect, 0x30, 0x0C);

        // WORMM goes with the cartridge: clear once it is out, clear for a data cartridge.
        var medium = await h.Drive.EjectAsync(force: true, CancellationToken.None);
        await medium!.DisposeAsync();
        Assert.Equal(0x00, (await Page1D(h))[2] & 0x01);
        await h.LoadNewAsync();
        Assert.Equal(0x00, (await Page1D(h))[2] & 0x01);
    }

    [Fact]
    public async Task Worm_AppendOnly_OverwriteRefused_AllowOverwriteDoesNotOpenIt()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(worm: true);
        await h.WriteRecordsAsync(3, 1000);
        await h.Good(Cdb.WriteFilemarks(1));
        await h.Good(Cdb.Rewind());
        var w = await h.Run(Cdb.Write(1000), new byte[1000]);
        w.AssertTape(SenseKey.DataProtect, 0x30, 0x0C);
        var e = await h.Run(Cdb.Erase());
        e.AssertTape(SenseKey.DataProtect, 0x30, 0x0C);

        // Append at EOD is fine.
        await h.Good(Cdb.Space(3, 0));
        await h.WriteRecordAsync(TapeHarness.Block(1000, 50));

        // ALLOW OVERWRITE must name the current position. It lifts append-only mode only: on WORM the WORM rules still
        // decide (IBM LTO SCSI Reference §4.2.3), so the filemark and the block after it stay.
        await h.Good(Cdb.Locate10(3));
        var wrong = await h.Run(Cdb.AllowOverwrite(2));
        wrong.AssertInvalidCdbField(4);
        await h.Good(Cdb.AllowOverwrite(3));
        var overwrite = await h.Run(Cdb.WriteFilemarks(1));
        overwrite.AssertTape(SenseKey.DataProtect, 0x30, 0x0C);
        await h.Good(Cdb.AllowOverwrite(3));
        var erase = await h.Run(Cdb.Erase());
        erase.AssertTape(SenseKey.DataProtect, 0x30, 0x0C);
        await h.Good(Cdb.Space(3, 0));
        Assert.Equal(5L, (await h.LongPositionAsync()).Object);

        var format = await h.Run(Cdb.AllowOverwrite(0, mode: 2));
        format.AssertInvalidCdbField(2, 3);
    }

    [Fact]
    public async Task Compression_DceOnAndOff_VisibleInStoredImage()
    {
        var compressible = new byte[256 * 1024];
        for (var i = 0; i < compressible.Length; i++)
        {
            compressible[i] = (byte)(i % 7);
        }

        var on = new TapeHarness();
        await on.LoadNewAsync();
        Assert.True(on.Drive.CompressionEnabled);
        await on.WriteRecordAsync(compressible);
        await on.Good(Cdb.WriteFilemarks(0));
        var onLength = on.Store!.Length;

        var off = new TapeHarness();
        await off.LoadNewAsync();
        var page = await off.Run(SpcCdb.ModeSense6(0x0F, dbd: true));
        page.AssertGood();
        var list = page.Data();
        list[0] = 0;
        list[4 + 2] &= 0x7F; // DCE=0
        await off.Good(SpcCdb.ModeSelect6(list.Length), list);
        Assert.False(off.Drive.CompressionEnabled);
        await off.WriteRecordAsync(compressible);
        await off.Good(Cdb.WriteFilemarks(0));
        var offLength = off.Store!.Length;

        Assert.True(offLength - onLength > 200 * 1024, $"compressed {onLength}, plain {offLength}");

        // Data reads back identically either way.
        await on.Good(Cdb.Rewind());
        var r = await on.Run(Cdb.Read(compressible.Length));
        r.AssertGood();
        Assert.Equal(compressible, r.Data());

        // DCC and the changeable mask: only DCE may change.
        var changeable = await off.Run(SpcCdb.ModeSense6(0x0F, pc: 1, dbd: true));
        Assert.Equal(0x80, changeable.Data()[4 + 2]);
    }

    [Fact]
    public async Task CrcFailure_MediumError_WithResidue_AndTapeAlert()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.WriteRecordAsync(TapeHarness.Block(4096, 1));
        await h.WriteRecordAsync(TapeHarness.Block(4096, 2));
        await h.Good(Cdb.Rewind());

        // Flip payload bytes of the first record (data region starts at 139264, record header 32 bytes).
        await h.Store!.WriteAsync(139264 + 32 + 100, new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, CancellationToken.None);
        var r = await h.Run(Cdb.Read(4096));
        r.AssertTape(SenseKey.MediumError, 0x11, 0x00, SenseFlags.None, 4096);
        Assert.Equal(0, r.DataIn.Length);
        var flags = h.Drive.TapeAlertFlags;
        Assert.NotEqual(0UL, flags & (1UL << 3)); // 04h media
        Assert.NotEqual(0UL, flags & (1UL << 4)); // 05h read failure

        // The next block is still readable.
        var next = await h.Run(Cdb.Read(4096));
        next.AssertGood();
    }

    [Fact]
    public async Task WriteFilemarks_SetmarksRejected_Count0Syncs_Sixteen()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var wsmk = await h.Run(Cdb.WriteFilemarks(1, wsmk: true));
        wsmk.AssertInvalidCdbField(1, 1);
        await h.WriteRecordAsync(new byte[100]);
        await h.Good(Cdb.WriteFilemarks(2, immed: true));
        var wrong = await h.Run(Cdb.WriteFilemarks16(0, 1));
        wrong.AssertInvalidCdbField(4);
        await h.Good(Cdb.WriteFilemarks16(3, 1));
        var (obj, file, _) = await h.LongPositionAsync();
        Assert.Equal((4L, 3L), (obj, file));
    }

    [Fact]
    public async Task Write_VariableAboveMaximumBlockLength_InvalidField()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var t = await h.Run(Cdb.Write((8 * 1024 * 1024) + 1), new byte[(8 * 1024 * 1024) + 1]);
        t.AssertInvalidCdbField(2);
    }

    [Fact]
    public async Task IncompatibleGenerations()
    {
        // TD5 reads LTO-3 but cannot write it; LTO-2 it cannot read at all.
        var h = new TapeHarness();
        await h.LoadNewAsync(cartridge: TapeHarness.Cartridge(generation: TapeGateway.Scsi.Ssc.LtoGeneration.Lto3));
        var w = await h.Run(Cdb.Write(100), new byte[100]);
        w.AssertTape(SenseKey.DataProtect, 0x30, 0x05);
        var eod = await h.Run(Cdb.Read(100));
        eod.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, 100);
        var ms = await h.Run(SpcCdb.ModeSense6(0x3F));
        Assert.Equal(0x80, ms.Data()[2] & 0x80);
        Assert.Equal(0x44, ms.Data()[4]);

        var old = new TapeHarness();
        await old.LoadNewAsync(cartridge: TapeHarness.Cartridge(generation: TapeGateway.Scsi.Ssc.LtoGeneration.Lto2));
        var r = await old.Run(Cdb.Read(100));
        r.AssertTape(SenseKey.MediumError, 0x30, 0x02);
    }
}

using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// The MODE SENSE header's MEDIUM TYPE (SPC-4 §7.5.4) on the IBM personalities names the loaded cartridge with the
/// code REPORT DENSITY SUPPORT lists for it (IBM LTO SCSI Reference, Mode Parameter Header); LTFS's IBM backends take
/// the cartridge type from MODE SENSE(10) byte 2 and refuse to format when it is 00h. MODE SELECT accepts 00h or the
/// reported value (applications send back the header they sensed).
/// </summary>
public sealed class ModeHeaderMediumTypeTests
{
    private static async Task<byte[]> Sense10Async(TapeHarness h, byte page = 0x10)
    {
        var t = await h.Run(SpcCdb.ModeSense10(page));
        t.AssertGood();
        return t.Data();
    }

    [Fact]
    public async Task NoCartridge_MediumType00()
    {
        var h = new TapeHarness();
        Assert.Equal(0x00, (await Sense10Async(h))[2]);
    }

    [Theory]
    [InlineData(5, false, 0x58)]
    [InlineData(5, true, 0x5C)]
    [InlineData(4, false, 0x48)]
    public async Task LoadedCartridge_ReportsItsMediumType(int generation, bool worm, byte expected)
    {
        var h = new TapeHarness();
        var g = LtoGeneration.All[generation - 1];
        await h.LoadNewAsync(worm: worm, cartridge: TapeHarness.Cartridge(generation: g, worm: worm));
        Assert.Equal(expected, (await Sense10Async(h))[2]);

        var t = await h.Run(SpcCdb.ModeSense6(0x10));
        t.AssertGood();
        Assert.Equal(expected, t.Data()[1]);
    }

    [Fact]
    public async Task HpPersonality_MediumType00()
    {
        var h = new TapeHarness(TapeDrivePersonality.HpUltrium5);
        await h.LoadNewAsync();
        Assert.Equal(0x00, (await Sense10Async(h))[2]);
    }

    [Fact]
    public async Task ModeSelect_SensedHeaderEchoed_Accepted_OtherTypeRefused()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var buf = await Sense10Async(h, 0x0F);
        Assert.Equal(0x58, buf[2]);
        buf[0] = 0;
        buf[1] = 0;
        await h.Good(SpcCdb.ModeSelect10(buf.Length), buf);

        buf[2] = 0x00;
        await h.Good(SpcCdb.ModeSelect10(buf.Length), buf);

        buf[2] = 0x48;
        var t = await h.Run(SpcCdb.ModeSelect10(buf.Length), buf);
        t.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        t.AssertFieldPointer(inCdb: false, 2);
    }
}

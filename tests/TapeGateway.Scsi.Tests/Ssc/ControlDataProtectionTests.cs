using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// SSC-4 §8.3.3 Control Data Protection mode page (0Ah/F0h): present, logical block protection method 00h (none),
/// nothing changeable. The sequences are those of an application that reads the page and writes it back (LTFS does
/// so on every open: MODE SENSE(10) with the block descriptor, then MODE SELECT(10) of the same 48 bytes).
/// </summary>
public sealed class ControlDataProtectionTests
{
    private static async Task<byte[]> SenseAsync(TapeHarness h, byte pc = 0)
    {
        var t = await h.Run(SpcCdb.ModeSense10(0x0A, 0xF0, pc));
        t.AssertGood();
        return t.Data();
    }

    [Fact]
    public async Task ModeSense_ReportsPage_NoProtection()
    {
        var h = new TapeHarness();
        var buf = await SenseAsync(h);

        // Header (8) + block descriptor (8) + the page: SPF, 0Ah, F0h, PAGE LENGTH 001Ch, method/length/LBP_W/LBP_R 0.
        Assert.Equal(16 + 32, buf.Length);
        Assert.Equal(new byte[] { 0x4A, 0xF0, 0x00, 0x1C, 0x00, 0x00, 0x00, 0x00 }, buf[16..24]);
        Assert.All(buf[24..48], b => Assert.Equal(0, b));

        // Changeable values: none beyond the header.
        var mask = await SenseAsync(h, pc: 1);
        Assert.All(mask[20..48], b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task ModeSelect_WriteBackUnchanged_Accepted()
    {
        var h = new TapeHarness();
        var buf = await SenseAsync(h);
        buf[0] = 0;
        buf[1] = 0;
        await h.Good(SpcCdb.ModeSelect10(buf.Length), buf);
        Assert.Equal(0, (await SenseAsync(h))[20]);
    }

    [Theory]
    [InlineData(0x01, 0x04, 0xC0, 20, 0)] // Reed-Solomon CRC, 4 bytes, LBP_W + LBP_R (LTFS scsi_lbprotect=on, LTO-5/6)
    [InlineData(0x02, 0x04, 0xC0, 20, 1)] // CRC32C (LTO-7 and later)
    [InlineData(0x00, 0x00, 0x80, 22, 7)] // LBP_W alone
    public async Task ModeSelect_AskingForProtection_InvalidFieldInParameterList(byte method, byte length, byte flags, int pointer, int bit)
    {
        var h = new TapeHarness();
        var buf = await SenseAsync(h);
        buf[0] = 0;
        buf[1] = 0;
        buf[20] = method;
        buf[21] = length;
        buf[22] = flags;
        var t = await h.Run(SpcCdb.ModeSelect10(buf.Length), buf);
        t.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        t.AssertInvalidParameterField(pointer, bit);
        Assert.Equal(0, (await SenseAsync(h))[20]);
    }
}

using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>Fuzzing of the SSC tape drive, and the regressions it found.</summary>
public sealed class TapeDriveFuzzTests
{
    /// <summary>
    /// Found by the mutation fuzz: MODE SELECT with a valid block descriptor (fixed 4096-byte blocks) and an invalid
    /// DEVICE-SPECIFIC PARAMETER (SPEED 0Ah) was refused with INVALID FIELD IN PARAMETER LIST but had already switched
    /// the drive to fixed-block mode. A refused MODE SELECT changes no parameter (SPC-4 §6.9).
    /// </summary>
    [Fact]
    public async Task ModeSelect_InvalidDeviceSpecificParameter_LeavesTheBlockLengthAlone()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var list = Cdb.BlockDescriptorList(4096);
        list[2] = 0x0A; // BUFFERED MODE 000b, SPEED 0Ah: only SPEED 0 is supported
        var t = await h.Run(SpcCdb.ModeSelect6(list.Length), list);
        t.AssertInvalidParameterField(2);
        Assert.Equal(0u, h.Drive.BlockLength);

        list[2] = 0x10;
        await h.Good(SpcCdb.ModeSelect6(list.Length), list);
        Assert.Equal(4096u, h.Drive.BlockLength);
    }
}

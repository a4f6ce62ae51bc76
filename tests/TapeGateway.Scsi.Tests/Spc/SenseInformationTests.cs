using System.Buffers.Binary;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Spc;

/// <summary>SPC-4 §4.5.3 fixed format's 4-byte INFORMATION field and §4.5.2.2 the 8-byte information descriptor.</summary>
public class SenseInformationTests
{
    [Theory]
    [InlineData(5L, 0x00000005u)]
    [InlineData(-3L, 0xFFFFFFFDu)] // SSC: a reverse movement's residue is negative (two's complement)
    [InlineData(int.MinValue, 0x80000000u)]
    [InlineData(uint.MaxValue, 0xFFFFFFFFu)] // SBC: the last LBA of a 32-bit LUN
    public void Fixed_format_reports_what_fits_in_four_bytes(long information, uint field)
    {
        var sense = new byte[SenseDataBuilder.FixedLength];
        SenseDataBuilder.Write(sense, SenseReason.BlankCheckEndOfData, SenseFormat.Fixed, SenseDetails.Info(information));
        Assert.Equal(0xF0, sense[0]); // VALID, current error
        Assert.Equal(field, BinaryPrimitives.ReadUInt32BigEndian(sense.AsSpan(3)));
    }

    [Theory]
    [InlineData(1L << 32)] // a SPACE(16) residue beyond 32 bits
    [InlineData((long)int.MinValue - 1)]
    [InlineData(long.MaxValue)]
    public void Fixed_format_leaves_VALID_clear_rather_than_truncate(long information)
    {
        var sense = new byte[SenseDataBuilder.FixedLength];
        SenseDataBuilder.Write(sense, SenseReason.BlankCheckEndOfData, SenseFormat.Fixed, SenseDetails.Info(information));
        Assert.Equal(0x70, sense[0]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(sense.AsSpan(3)));
        Assert.Equal((SenseKey.BlankCheck, (byte)0x00, (byte)0x05), SenseDataBuilder.Parse(sense));
    }

    [Fact]
    public void Descriptor_format_carries_all_eight_bytes()
    {
        var sense = new byte[64];
        var n = SenseDataBuilder.Write(sense, SenseReason.BlankCheckEndOfData, SenseFormat.Descriptor, SenseDetails.Info(1L << 40));
        Assert.Equal(0x72, sense[0]);
        Assert.Equal(0x00, sense[8]); // information descriptor
        Assert.Equal(0x80, sense[10] & 0x80); // VALID
        Assert.Equal(1L << 40, BinaryPrimitives.ReadInt64BigEndian(sense.AsSpan(12)));
        Assert.True(n >= 20);
    }
}

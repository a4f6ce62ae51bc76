using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Tests.Pdu;

/// <summary>RFC 1982 serial number arithmetic (SERIAL_BITS = 32) as RFC 7143 §4.2.2.1 uses it for CmdSN/StatSN.</summary>
public class SerialNumberTests
{
    [Theory]
    [InlineData(0u, 1u)]
    [InlineData(0xFFFF_FFFFu, 0u)]
    [InlineData(0xFFFF_FFF0u, 0x10u)]
    [InlineData(0x7FFF_FFFEu, 0xFFFF_FFFDu)] // 2^31 - 1 apart: still ordered
    [InlineData(5u, 0x8000_0004u)]
    public void Lower_serial_number_is_less_across_the_wrap(uint lower, uint higher)
    {
        Assert.True(SerialNumber.LessThan(lower, higher));
        Assert.False(SerialNumber.LessThan(higher, lower));
        Assert.True(SerialNumber.GreaterThan(higher, lower));
        Assert.False(SerialNumber.GreaterThan(lower, higher));
        Assert.True(SerialNumber.LessOrEqual(lower, higher));
        Assert.False(SerialNumber.LessOrEqual(higher, lower));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0x8000_0000u)]
    [InlineData(0xFFFF_FFFFu)]
    public void A_serial_number_is_neither_less_nor_greater_than_itself(uint value)
    {
        Assert.False(SerialNumber.LessThan(value, value));
        Assert.False(SerialNumber.GreaterThan(value, value));
        Assert.True(SerialNumber.LessOrEqual(value, value));
    }

    [Theory]
    [InlineData(0xFFFF_FFFEu, 0xFFFF_FFFEu, 0x0000_0002u, true)]
    [InlineData(0x0000_0000u, 0xFFFF_FFFEu, 0x0000_0002u, true)]
    [InlineData(0x0000_0002u, 0xFFFF_FFFEu, 0x0000_0002u, true)]
    [InlineData(0x0000_0003u, 0xFFFF_FFFEu, 0x0000_0002u, false)]
    [InlineData(0xFFFF_FFFDu, 0xFFFF_FFFEu, 0x0000_0002u, false)]
    [InlineData(0x8000_0000u, 0xFFFF_FFFEu, 0x0000_0002u, false)]
    public void Window_membership_wraps_around_zero(uint value, uint low, uint high, bool inside)
    {
        Assert.Equal(inside, SerialNumber.InWindow(value, low, high));
    }
}

namespace TapeGateway.Iscsi.Session;

/// <summary>
/// RFC 1982 serial number arithmetic with SERIAL_BITS = 32, as RFC 7143 §4.2.2.1 requires for CmdSN, StatSN and
/// DataSN comparisons. Plain &lt; breaks the day a long session wraps 2^32 commands.
/// </summary>
public static class SerialNumber
{
    public static bool LessThan(uint a, uint b) => a != b && (int)(a - b) < 0;

    public static bool GreaterThan(uint a, uint b) => a != b && (int)(a - b) > 0;

    public static bool LessOrEqual(uint a, uint b) => a == b || LessThan(a, b);

    /// <summary>True when <paramref name="value"/> lies in [low, high] on the serial-number circle.</summary>
    public static bool InWindow(uint value, uint low, uint high) => LessOrEqual(low, value) && LessOrEqual(value, high);
}

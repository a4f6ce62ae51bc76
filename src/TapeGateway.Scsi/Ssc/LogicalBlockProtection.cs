using System.Buffers.Binary;
using System.IO.Hashing;

namespace TapeGateway.Scsi.Ssc;

/// <summary>
/// The protection information of SSC-4 logical block protection (§4.2.x "Logical block protection", Control Data
/// Protection mode page 0Ah/F0h): a 4-byte check value that travels with every logical block between the
/// application and the drive. With LBP_W the application appends it to each block it writes and the drive checks it
/// before the block is accepted; with LBP_R the drive appends it to each block it returns.
/// </summary>
public static class LogicalBlockProtection
{
    /// <summary>LOGICAL BLOCK PROTECTION METHOD 00h: no protection.</summary>
    public const byte None = 0x00;

    /// <summary>Method 01h: Reed-Solomon CRC as ECMA-319 defines it (IBM LTO-5 and later).</summary>
    public const byte ReedSolomonCrc = 0x01;

    /// <summary>Method 02h: CRC32C (Castagnoli), the method LTO-7 and later drives add.</summary>
    public const byte Crc32C = 0x02;

    /// <summary>LOGICAL BLOCK PROTECTION INFORMATION LENGTH of both methods.</summary>
    public const int InformationLength = 4;

    /*
     * ECMA-319 Reed-Solomon CRC: the four check symbols of a Reed-Solomon code over GF(2^8) whose field polynomial is
     * x^8 + x^4 + x^3 + x^2 + 1 (11Dh), with generator polynomial G(x) = (x + a^126)(x + a^127)(x + a^128)(x + a^129),
     * a = 02h. The data bytes are divided by G(x), first byte highest order; the 4-byte remainder (register starts at
     * zero, nothing inverted) is appended most significant symbol first. G(x) = x^4 + 38h x^3 + CFh x^2 + 38h x + 01h.
     * The table holds v * (38h, CFh, 38h, 01h) for every byte v, one GF(2^8) product per register byte, so one
     * division step is a shift and one lookup.
     */
    private static readonly uint[] s_rsTable = BuildReedSolomonTable();

    /// <summary>The ECMA-319 Reed-Solomon CRC of <paramref name="data"/>.</summary>
    public static uint ComputeReedSolomon(ReadOnlySpan<byte> data)
    {
        var table = s_rsTable;
        uint register = 0;
        foreach (var b in data)
        {
            register = (register << 8) ^ table[b ^ (int)(register >> 24)];
        }

        return register;
    }

    /// <summary>The method's name for operators: "none", "reed-solomon-crc", "crc32c", else its code in hex.</summary>
    public static string Name(byte method) => method switch
    {
        None => "none",
        ReedSolomonCrc => "reed-solomon-crc",
        Crc32C => "crc32c",
        _ => $"0x{method:X2}",
    };

    /// <summary>Writes the protection information of <paramref name="data"/> for <paramref name="method"/> into the first 4 bytes of <paramref name="destination"/>.</summary>
    public static void Write(byte method, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        switch (method)
        {
            case ReedSolomonCrc:
                BinaryPrimitives.WriteUInt32BigEndian(destination, ComputeReedSolomon(data));
                break;
            case Crc32C:
                // CRC32C as iSCSI and LTO use it (initial value and final XOR FFFFFFFFh), least significant byte first.
                BinaryPrimitives.WriteUInt32LittleEndian(destination, Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(method), method, "not a logical block protection method");
        }
    }

    /// <summary>True when the 4 bytes <paramref name="information"/> are <paramref name="data"/>'s protection information for <paramref name="method"/>.</summary>
    public static bool Check(byte method, ReadOnlySpan<byte> data, ReadOnlySpan<byte> information)
    {
        Span<byte> expected = stackalloc byte[InformationLength];
        Write(method, data, expected);
        return information.Length >= InformationLength && expected.SequenceEqual(information[..InformationLength]);
    }

    private static uint[] BuildReedSolomonTable()
    {
        // G(x) from its roots, so the constants above are derived rather than typed in.
        Span<byte> g = [1, 0, 0, 0, 0];
        var degree = 0;
        for (var i = 126; i <= 129; i++)
        {
            var root = GfPow(i);
            for (var k = degree + 1; k > 0; k--)
            {
                g[k] = (byte)(g[k - 1] ^ GfMultiply(g[k], root));
            }

            g[0] = GfMultiply(g[0], root);
            degree++;
        }

        // g[k] is the coefficient of x^k; the register's top byte is x^3.
        var table = new uint[256];
        for (var v = 0; v < 256; v++)
        {
            table[v] = ((uint)GfMultiply((byte)v, g[3]) << 24) | ((uint)GfMultiply((byte)v, g[2]) << 16)
                | ((uint)GfMultiply((byte)v, g[1]) << 8) | GfMultiply((byte)v, g[0]);
        }

        return table;
    }

    private static byte GfPow(int exponent)
    {
        byte r = 1;
        for (var i = 0; i < exponent; i++)
        {
            r = GfMultiply(r, 2);
        }

        return r;
    }

    internal static byte GfMultiply(byte a, byte b)
    {
        var x = (int)a;
        var r = 0;
        for (var y = (int)b; y != 0; y >>= 1)
        {
            if ((y & 1) != 0)
            {
                r ^= x;
            }

            x <<= 1;
            if ((x & 0x100) != 0)
            {
                x ^= 0x11D;
            }
        }

        return (byte)r;
    }
}

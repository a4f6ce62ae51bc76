namespace TapeGateway.Iscsi.Tests.Pdu;

/// <summary>
/// Bit-at-a-time CRC32C (Castagnoli, reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF), written from
/// RFC 7143 §13.1 / RFC 3385 rather than from the production code, so digests in golden bytes are checked against an
/// independent implementation.
/// </summary>
internal static class ReferenceCrc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFF_FFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78u : crc >> 1;
            }
        }

        return ~crc;
    }

    /// <summary>The digest as it appears on the wire: least significant byte first (RFC 7143 Appendix B.4).</summary>
    public static byte[] WireBytes(uint crc) => [(byte)crc, (byte)(crc >> 8), (byte)(crc >> 16), (byte)(crc >> 24)];
}

/// <summary>Builds PDUs byte by byte (BHS, AHS, header digest, data, padding, data digest) without the production writer.</summary>
internal static class RawPdu
{
    public static byte[] Build(ReadOnlySpan<byte> bhs, ReadOnlySpan<byte> ahs, ReadOnlySpan<byte> data, bool headerDigest, bool dataDigest)
    {
        var header = bhs[..48].ToArray();
        header[4] = (byte)(ahs.Length / 4);
        header[5] = (byte)(data.Length >> 16);
        header[6] = (byte)(data.Length >> 8);
        header[7] = (byte)data.Length;
        var bytes = new List<byte>(header);
        bytes.AddRange(ahs.ToArray());
        if (headerDigest)
        {
            bytes.AddRange(ReferenceCrc32C.WireBytes(ReferenceCrc32C.Compute(bytes.ToArray())));
        }

        if (!data.IsEmpty)
        {
            var padded = new byte[(data.Length + 3) & ~3];
            data.CopyTo(padded);
            bytes.AddRange(padded);
            if (dataDigest)
            {
                bytes.AddRange(ReferenceCrc32C.WireBytes(ReferenceCrc32C.Compute(padded)));
            }
        }

        return [.. bytes];
    }

    /// <summary>A NOP-Out BHS: immediate, F=1, ITT, TTT=0xffffffff, CmdSN, ExpStatSN (RFC 7143 §11.18).</summary>
    public static byte[] NopOutBhs(uint itt, uint cmdSn, uint expStatSn)
    {
        var bhs = new byte[48];
        bhs[0] = 0x40;
        bhs[1] = 0x80;
        WriteBe(bhs, 16, itt);
        WriteBe(bhs, 20, 0xFFFF_FFFF);
        WriteBe(bhs, 24, cmdSn);
        WriteBe(bhs, 28, expStatSn);
        return bhs;
    }

    /// <summary>A SCSI Command BHS for READ(10) of <paramref name="blocks"/> blocks at <paramref name="lba"/> on LUN 1.</summary>
    public static byte[] Read10Bhs(uint itt, uint cmdSn, uint lba, ushort blocks)
    {
        var bhs = new byte[48];
        bhs[0] = 0x01;
        bhs[1] = 0xC1; // F, R, ATTR=Simple
        bhs[9] = 0x01; // LUN 1, peripheral addressing: 00 01 00 00 00 00 00 00
        WriteBe(bhs, 16, itt);
        WriteBe(bhs, 20, blocks * 512u);
        WriteBe(bhs, 24, cmdSn);
        WriteBe(bhs, 28, 1);
        bhs[32] = 0x28;
        WriteBe(bhs, 34, lba);
        bhs[39] = (byte)(blocks >> 8);
        bhs[40] = (byte)blocks;
        return bhs;
    }

    /// <summary>A SCSI Data-In BHS carrying <c>dataLength</c> bytes at <paramref name="offset"/> (RFC 7143 §11.7).</summary>
    public static byte[] DataInBhs(uint itt, uint dataSn, uint offset)
    {
        var bhs = new byte[48];
        bhs[0] = 0x25;
        bhs[1] = 0x80;
        WriteBe(bhs, 16, itt);
        WriteBe(bhs, 20, 0xFFFF_FFFF);
        WriteBe(bhs, 36, dataSn);
        WriteBe(bhs, 40, offset);
        return bhs;
    }

    public static void WriteBe(byte[] buffer, int offset, uint value)
    {
        buffer[offset] = (byte)(value >> 24);
        buffer[offset + 1] = (byte)(value >> 16);
        buffer[offset + 2] = (byte)(value >> 8);
        buffer[offset + 3] = (byte)value;
    }
}

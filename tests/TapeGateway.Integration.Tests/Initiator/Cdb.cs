using System.Buffers.Binary;

namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>CDBs the tests send (SPC-4 / SBC-3 layouts).</summary>
public static class Cdb
{
    public static byte[] TestUnitReady() => new byte[6];

    public static byte[] RequestSense(byte allocationLength = 252) => [0x03, 0, 0, 0, allocationLength, 0];

    public static byte[] Inquiry(ushort allocationLength = 96, byte? vpdPage = null)
    {
        var cdb = new byte[6];
        cdb[0] = 0x12;
        if (vpdPage is { } page)
        {
            cdb[1] = 0x01;
            cdb[2] = page;
        }

        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(3), allocationLength);
        return cdb;
    }

    public static byte[] ReportLuns(uint allocationLength = 4096)
    {
        var cdb = new byte[12];
        cdb[0] = 0xA0;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(6), allocationLength);
        return cdb;
    }

    /// <summary>READ CAPACITY(16): SERVICE ACTION IN(16) 0x9E / 0x10 (SBC-3 §5.16).</summary>
    public static byte[] ReadCapacity16(uint allocationLength = 32)
    {
        var cdb = new byte[16];
        cdb[0] = 0x9E;
        cdb[1] = 0x10;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), allocationLength);
        return cdb;
    }

    public static byte[] Read10(uint lba, ushort blocks)
    {
        var cdb = new byte[10];
        cdb[0] = 0x28;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), blocks);
        return cdb;
    }

    public static byte[] Write10(uint lba, ushort blocks, bool fua = false)
    {
        var cdb = new byte[10];
        cdb[0] = 0x2A;
        cdb[1] = fua ? (byte)0x08 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), blocks);
        return cdb;
    }
}

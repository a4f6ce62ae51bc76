using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Block;
using TapeGateway.Scsi.Sbc;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Sbc;

/// <summary>A disk LU over an <see cref="IBlockVolume"/> plus helpers to run CDBs against it.</summary>
internal sealed class DiskHarness
{
    private readonly ItNexus _nexus = new("iqn.i", 1, "iqn.t", 1);

    public DiskHarness(IBlockVolume volume, BlockLimits? limits = null)
    {
        Volume = volume;
        Unit = new DiskLogicalUnit(new Lun(0), volume, "volume-under-test", limits: limits);
    }

    public IBlockVolume Volume { get; }

    public InMemoryBlockVolume Memory => (InMemoryBlockVolume)Volume;

    public DiskLogicalUnit Unit { get; }

    public int BlockSize => Volume.BlockSize;

    public static DiskHarness Create(long blocks = 1024, int blockSize = 512, bool readOnly = false, bool thin = true, BlockLimits? limits = null) =>
        new(new InMemoryBlockVolume(blocks, blockSize, readOnly, thin), limits);

    public async Task<ScsiTask> RunAsync(byte[] cdb, byte[]? dataOut = null)
    {
        var task = new ScsiTask();
        task.SetCdb(cdb);
        task.Nexus = _nexus;
        task.Lun = new Lun(0);
        if (dataOut is not null)
        {
            task.Direction = DataDirection.Write;
            task.ExpectedDataTransferLength = (uint)dataOut.Length;
            dataOut.CopyTo(task.PrepareDataOut(dataOut.Length));
            task.CompleteDataOut(dataOut.Length);
        }

        await Unit.ExecuteAsync(task);
        return task;
    }

    public async Task<byte[]> ReadBlocksAsync(long lba, int blocks)
    {
        var data = new byte[blocks * BlockSize];
        await Volume.ReadAsync(lba, data, default);
        return data;
    }

    public Task WriteBlocksAsync(long lba, byte[] data) => Volume.WriteAsync(lba, data, false, default).AsTask();

    public byte[] Pattern(int blocks, byte seed)
    {
        var data = new byte[blocks * BlockSize];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(seed + (i * 13) + (i >> 9));
        }

        return data;
    }
}

internal static class TaskAssert
{
    public static void Good(ScsiTask task)
    {
        Assert.True(task.Status == ScsiStatus.Good, $"expected GOOD, got {task.Status} {Describe(task)}");
    }

    public static void Sense(ScsiTask task, SenseKey key, byte asc, byte ascq)
    {
        Assert.Equal(ScsiStatus.CheckCondition, task.Status);
        var (k, a, q) = SenseDataBuilder.Parse(task.Sense);
        Assert.True((key, asc, ascq) == (k, a, q), $"expected {key} {asc:X2}/{ascq:X2}, got {Describe(task)}");
    }

    public static void InvalidField(ScsiTask task) => Sense(task, SenseKey.IllegalRequest, 0x24, 0x00);

    public static void OutOfRange(ScsiTask task) => Sense(task, SenseKey.IllegalRequest, 0x21, 0x00);

    public static void WriteProtected(ScsiTask task) => Sense(task, SenseKey.DataProtect, 0x27, 0x00);

    /// <summary>Fixed-format INFORMATION (bytes 3-6) with VALID set.</summary>
    public static void Information(ScsiTask task, uint expected)
    {
        Assert.True((task.Sense[0] & 0x80) != 0, "VALID bit must be set");
        Assert.Equal(expected, BinaryPrimitives.ReadUInt32BigEndian(task.Sense[3..]));
    }

    /// <summary>Sense-key specific field pointer (bytes 15-17) for INVALID FIELD IN CDB.</summary>
    public static void FieldPointer(ScsiTask task, int bytePointer, int? bit = null)
    {
        Assert.True((task.Sense[15] & 0x80) != 0, "SKSV must be set");
        Assert.Equal(bytePointer, BinaryPrimitives.ReadUInt16BigEndian(task.Sense[16..]));
        if (bit is { } b)
        {
            Assert.Equal(0x08 | b, task.Sense[15] & 0x0F);
        }
    }

    private static string Describe(ScsiTask task)
    {
        if (task.SenseLength == 0)
        {
            return task.Status.ToString();
        }

        var (k, a, q) = SenseDataBuilder.Parse(task.Sense);
        return $"{task.Status} {k} {a:X2}/{q:X2}";
    }
}

/// <summary>CDB builders for the SBC-3 commands under test (byte layouts per SBC-3 §5).</summary>
internal static class Cdb
{
    public static byte[] Rw6(byte opcode, uint lba, byte blocks) =>
        [opcode, (byte)((lba >> 16) & 0x1F), (byte)(lba >> 8), (byte)lba, blocks, 0];

    public static byte[] Rw10(byte opcode, uint lba, ushort blocks, byte flags = 0)
    {
        var c = new byte[10];
        c[0] = opcode;
        c[1] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), blocks);
        return c;
    }

    public static byte[] Rw12(byte opcode, uint lba, uint blocks, byte flags = 0)
    {
        var c = new byte[12];
        c[0] = opcode;
        c[1] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), blocks);
        return c;
    }

    public static byte[] Rw16(byte opcode, ulong lba, uint blocks, byte flags = 0)
    {
        var c = new byte[16];
        c[0] = opcode;
        c[1] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), blocks);
        return c;
    }

    public static byte[] Read10(uint lba, ushort blocks, byte flags = 0) => Rw10(0x28, lba, blocks, flags);

    public static byte[] Write10(uint lba, ushort blocks, byte flags = 0) => Rw10(0x2A, lba, blocks, flags);

    public static byte[] Read16(ulong lba, uint blocks, byte flags = 0) => Rw16(0x88, lba, blocks, flags);

    public static byte[] Write16(ulong lba, uint blocks, byte flags = 0) => Rw16(0x8A, lba, blocks, flags);

    public static byte[] Verify10(uint lba, ushort blocks, int bytchk, byte extra = 0) => Rw10(0x2F, lba, blocks, (byte)((bytchk << 1) | extra));

    public static byte[] WriteSame10(uint lba, ushort blocks, byte flags = 0) => Rw10(0x41, lba, blocks, flags);

    public static byte[] WriteSame16(ulong lba, uint blocks, byte flags = 0) => Rw16(0x93, lba, blocks, flags);

    public static byte[] CompareAndWrite(ulong lba, byte blocks, byte flags = 0)
    {
        var c = new byte[16];
        c[0] = 0x89;
        c[1] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        c[13] = blocks;
        return c;
    }

    public static byte[] Unmap(ushort parameterListLength, bool anchor = false)
    {
        var c = new byte[10];
        c[0] = 0x42;
        c[1] = anchor ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), parameterListLength);
        return c;
    }

    public static byte[] UnmapList(params (ulong Lba, uint Blocks)[] extents)
    {
        var list = new byte[8 + (16 * extents.Length)];
        BinaryPrimitives.WriteUInt16BigEndian(list, (ushort)(list.Length - 2));
        BinaryPrimitives.WriteUInt16BigEndian(list.AsSpan(2), (ushort)(list.Length - 8));
        for (var i = 0; i < extents.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(list.AsSpan(8 + (16 * i)), extents[i].Lba);
            BinaryPrimitives.WriteUInt32BigEndian(list.AsSpan(16 + (16 * i)), extents[i].Blocks);
        }

        return list;
    }

    public static byte[] ServiceActionIn(byte action, ulong lba, uint allocationLength)
    {
        var c = new byte[16];
        c[0] = 0x9E;
        c[1] = action;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), allocationLength);
        return c;
    }

    public static byte[] ReadCapacity16(uint allocationLength = 32) => ServiceActionIn(0x10, 0, allocationLength);

    public static byte[] GetLbaStatus(ulong lba, uint allocationLength = 1024) => ServiceActionIn(0x12, lba, allocationLength);

    public static byte[] Inquiry(byte page) => [0x12, 0x01, page, 0x10, 0x00, 0x00];

    public static byte[] ModeSense6(byte page = 0x3F, byte allocation = 255, bool dbd = false) => [0x1A, dbd ? (byte)0x08 : (byte)0, page, 0, allocation, 0];
}

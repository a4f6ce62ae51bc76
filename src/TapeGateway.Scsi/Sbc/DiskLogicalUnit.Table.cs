using System.Buffers.Binary;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Sbc;

public sealed partial class DiskLogicalUnit
{
    public const byte Read6 = 0x08;
    public const byte Write6 = 0x0A;
    public const byte StartStopUnit = 0x1B;
    public const byte PreventAllowMediumRemoval = 0x1E;
    public const byte ReadCapacity10 = 0x25;
    public const byte Read10 = 0x28;
    public const byte Write10 = 0x2A;
    public const byte WriteAndVerify10 = 0x2E;
    public const byte Verify10 = 0x2F;
    public const byte PreFetch10 = 0x34;
    public const byte SynchronizeCache10 = 0x35;
    public const byte ReadDefectData10 = 0x37;
    public const byte WriteSame10 = 0x41;
    public const byte Unmap = 0x42;
    public const byte Read16 = 0x88;
    public const byte CompareAndWrite = 0x89;
    public const byte Write16 = 0x8A;
    public const byte OrWrite16 = 0x8B;
    public const byte WriteAndVerify16 = 0x8E;
    public const byte Verify16 = 0x8F;
    public const byte PreFetch16 = 0x90;
    public const byte SynchronizeCache16 = 0x91;
    public const byte WriteSame16 = 0x93;
    public const byte ServiceActionIn16 = 0x9E;
    public const byte ReadCapacity16Action = 0x10;
    public const byte GetLbaStatusAction = 0x12;
    public const byte Read12 = 0xA8;
    public const byte Write12 = 0xAA;
    public const byte WriteAndVerify12 = 0xAE;
    public const byte Verify12 = 0xAF;
    public const byte ReadDefectData12 = 0xB7;

    /// <summary>
    /// SPC-4 §5.12.1 table 64 and SBC-3 §4.17 (reservations): reads pass a Write Exclusive reservation held by
    /// another nexus; READ CAPACITY passes every persistent reservation; anything that changes the medium or its
    /// cache (writes, UNMAP, SYNCHRONIZE CACHE, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL) conflicts.
    /// </summary>
    private const CommandFlags ReadLike = CommandFlags.AllowedUnderWriteExclusive;

    private const CommandFlags Capacity = CommandFlags.AllowedUnderWriteExclusive | CommandFlags.AllowedUnderExclusiveAccess;

    private const CommandFlags WriteLike = CommandFlags.None;

    private static CommandTable<DiskLogicalUnit> BuildCommandTable()
    {
        var t = SpcCommands.Register(new CommandTable<DiskLogicalUnit>());

        // CDB usage bitmaps (SPC-4 §6.35.3) follow the SPC convention here: a one for every bit the handler
        // evaluates. DPO and FUA are reported (byte 1 bits 4-3) because DPOFUA=1 in MODE SENSE (libiscsi checks the
        // two agree); RDPROTECT/WRPROTECT/VRPROTECT (only checked to be zero) and GROUP NUMBER (ignored) are zero.
        t.Add(Read6, "READ(6)", ReadAsync, ReadLike, [Read6, 0x1F, 0xFF, 0xFF, 0xFF, 0x00], "SBC-3 5.10");
        t.Add(Read10, "READ(10)", ReadAsync, ReadLike,
            [Read10, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.11");
        t.Add(Read12, "READ(12)", ReadAsync, ReadLike,
            [Read12, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.12");
        t.Add(Read16, "READ(16)", ReadAsync, ReadLike,
            [Read16, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.13");

        t.Add(Write6, "WRITE(6)", WriteAsync, WriteLike, [Write6, 0x1F, 0xFF, 0xFF, 0xFF, 0x00], "SBC-3 5.33");
        t.Add(Write10, "WRITE(10)", WriteAsync, WriteLike,
            [Write10, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.34");
        t.Add(Write12, "WRITE(12)", WriteAsync, WriteLike,
            [Write12, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.35");
        t.Add(Write16, "WRITE(16)", WriteAsync, WriteLike,
            [Write16, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.36");

        t.Add(WriteAndVerify10, "WRITE AND VERIFY(10)", WriteAndVerifyAsync, WriteLike,
            [WriteAndVerify10, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.38");
        t.Add(WriteAndVerify12, "WRITE AND VERIFY(12)", WriteAndVerifyAsync, WriteLike,
            [WriteAndVerify12, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.39");
        t.Add(WriteAndVerify16, "WRITE AND VERIFY(16)", WriteAndVerifyAsync, WriteLike,
            [WriteAndVerify16, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.40");

        t.Add(Verify10, "VERIFY(10)", VerifyAsync, ReadLike,
            [Verify10, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.29");
        t.Add(Verify12, "VERIFY(12)", VerifyAsync, ReadLike,
            [Verify12, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.30");
        t.Add(Verify16, "VERIFY(16)", VerifyAsync, ReadLike,
            [Verify16, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.31");

        t.Add(CompareAndWrite, "COMPARE AND WRITE", CompareAndWriteAsync, WriteLike,
            [CompareAndWrite, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00], "SBC-3 5.2");
        t.Add(OrWrite16, "ORWRITE(16)", OrWriteAsync, WriteLike,
            [OrWrite16, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.5");

        t.Add(WriteSame10, "WRITE SAME(10)", WriteSameAsync, WriteLike,
            [WriteSame10, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.44");
        t.Add(WriteSame16, "WRITE SAME(16)", WriteSameAsync, WriteLike,
            [WriteSame16, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.45");
        t.Add(Unmap, "UNMAP", UnmapAsync, WriteLike,
            [Unmap, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.28");

        t.Add(SynchronizeCache10, "SYNCHRONIZE CACHE(10)", SynchronizeCacheAsync, WriteLike,
            [SynchronizeCache10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.26");
        t.Add(SynchronizeCache16, "SYNCHRONIZE CACHE(16)", SynchronizeCacheAsync, WriteLike,
            [SynchronizeCache16, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.27");
        t.Add(PreFetch10, "PRE-FETCH(10)", PreFetchAsync, ReadLike,
            [PreFetch10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.7");
        t.Add(PreFetch16, "PRE-FETCH(16)", PreFetchAsync, ReadLike,
            [PreFetch16, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.8");

        t.Add(ReadCapacity10, "READ CAPACITY(10)", ReadCapacity10Async, Capacity,
            [ReadCapacity10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], "SBC-3 5.15");
        t.Add(ServiceActionIn16, ReadCapacity16Action, "READ CAPACITY(16)", ReadCapacity16Async, Capacity,
            [ServiceActionIn16, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.16");
        t.Add(ServiceActionIn16, GetLbaStatusAction, "GET LBA STATUS", GetLbaStatusAsync, ReadLike,
            [ServiceActionIn16, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.4");

        t.Add(ReadDefectData10, "READ DEFECT DATA(10)", ReadDefectDataAsync, ReadLike,
            [ReadDefectData10, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00], "SBC-3 5.17");
        t.Add(ReadDefectData12, "READ DEFECT DATA(12)", ReadDefectDataAsync, ReadLike,
            [ReadDefectData12, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SBC-3 5.18");
        t.Add(StartStopUnit, "START STOP UNIT", StartStopUnitAsync, WriteLike,
            [StartStopUnit, 0x01, 0x00, 0x00, 0xF7, 0x00], "SBC-3 5.25");
        t.Add(PreventAllowMediumRemoval, "PREVENT ALLOW MEDIUM REMOVAL", PreventAllowMediumRemovalAsync, WriteLike,
            [PreventAllowMediumRemoval, 0x00, 0x00, 0x00, 0x03, 0x00], "SBC-3 5.9");
        return t;
    }

    /// <summary>
    /// The LOGICAL BLOCK ADDRESS and TRANSFER LENGTH (or VERIFICATION / PREFETCH / NUMBER OF LOGICAL BLOCKS) fields
    /// common to the SBC-3 block commands, located by CDB length (SPC-4 §4.2.5.1 group code):
    /// 6-byte: 21-bit LBA in bytes 1-3, length byte 4; 10-byte: LBA 2-5, length 7-8; 12-byte: LBA 2-5, length 6-9;
    /// 16-byte: LBA 2-9, length 10-13. <see cref="LengthOffset"/> is the field pointer for INVALID FIELD IN CDB.
    /// </summary>
    private readonly record struct BlockCdb(ulong Lba, uint Blocks, int LengthOffset, byte Flags)
    {
        /// <remarks>
        /// Dispatch is on the group code, not the span length: iSCSI carries every CDB in a 16-byte field, so a
        /// READ(10) may arrive as 16 bytes with zero padding.
        /// </remarks>
        public static BlockCdb Parse(ReadOnlySpan<byte> cdb) => (cdb[0] >> 5) switch
        {
            0 => new((ulong)(((cdb[1] & 0x1F) << 16) | (cdb[2] << 8) | cdb[3]), cdb[4], 4, 0),
            1 or 2 => new(BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]), 7, cdb[1]),
            5 => new(BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]), 6, cdb[1]),
            _ => new(BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]), BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]), 10, cdb[1]),
        };

        /// <summary>RDPROTECT / WRPROTECT / VRPROTECT / ORPROTECT (byte 1 bits 7-5); zero on 6-byte CDBs.</summary>
        public int Protect => Flags >> 5;

        public bool Dpo => (Flags & 0x10) != 0;

        public bool Fua => (Flags & 0x08) != 0;
    }

}

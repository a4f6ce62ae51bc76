using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Sbc;

public sealed partial class DiskLogicalUnit
{
    /// <summary>
    /// SBC-3 §5.15 READ CAPACITY(10): RETURNED LOGICAL BLOCK ADDRESS (the last LBA, or FFFFFFFFh when it does not fit
    /// in 32 bits, telling the initiator to use READ CAPACITY(16)) and LOGICAL BLOCK LENGTH IN BYTES. The PMI bit and
    /// LOGICAL BLOCK ADDRESS field are obsolete in SBC-3 and ignored.
    /// </summary>
    private static ValueTask<CommandOutcome> ReadCapacity10Async(DiskLogicalUnit unit, ScsiTask task)
    {
        var data = task.GetDataInBuffer(8).Span;
        var last = (ulong)unit.BlockCount - 1;
        BinaryPrimitives.WriteUInt32BigEndian(data, last > uint.MaxValue ? uint.MaxValue : (uint)last);
        BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)unit.BlockSize);
        return CommandOutcome.Good;
    }

    /*
     * SBC-3 §5.16 READ CAPACITY(16) parameter data (32 bytes):
     *  0-7 RETURNED LOGICAL BLOCK ADDRESS   8-11 LOGICAL BLOCK LENGTH IN BYTES
     *  12  P_TYPE | PROT_EN (0: no protection information)
     *  13  P_I_EXPONENT | LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (0: one logical block per physical block)
     *  14-15 LBPME | LBPRZ | LOWEST ALIGNED LOGICAL BLOCK ADDRESS (0)
     * LBPME=1 and LBPRZ=1 on thin units (SBC-3 §4.7.3.2: deallocated blocks read back as zeros).
     * The ALLOCATION LENGTH (bytes 10-13) clips the data; 0 returns nothing and is not an error.
     */
    private static ValueTask<CommandOutcome> ReadCapacity16Async(DiskLogicalUnit unit, ScsiTask task)
    {
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[10..]);
        var data = task.GetDataInBuffer(32).Span;
        BinaryPrimitives.WriteUInt64BigEndian(data, (ulong)unit.BlockCount - 1);
        BinaryPrimitives.WriteUInt32BigEndian(data[8..], (uint)unit.BlockSize);
        if (unit.IsThin)
        {
            data[14] = 0x80 | 0x40;
        }

        task.TrimDataIn((int)Math.Min(32u, allocationLength));
        return CommandOutcome.Good;
    }

    /// <summary>
    /// SBC-3 §5.26/§5.27 SYNCHRONIZE CACHE(10/16). The range is checked (LBA OUT OF RANGE) and then the whole volume
    /// is made durable: fdatasync has no range form worth using and a wider flush is always allowed. IMMED=1 is
    /// accepted; we still complete the flush before GOOD, which the standard permits ("may" return early) and which
    /// keeps an acknowledged SYNCHRONIZE CACHE meaning durable. NUMBER OF LOGICAL BLOCKS 0 means "to the end".
    /// </summary>
    private static async ValueTask<CommandOutcome> SynchronizeCacheAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        if (!unit.InRange(cdb.Lba, cdb.Blocks))
        {
            return CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
        }

        try
        {
            await unit.Volume.FlushAsync(task.Aborted).ConfigureAwait(false);
        }
        catch (IOException)
        {
            return CommandOutcome.Fail(SenseReason.WriteError);
        }

        return CommandOutcome.Good;
    }

    /// <summary>
    /// SBC-3 §5.7/§5.8 PRE-FETCH(10/16). After the range check there is nothing to do: the OS page cache does its
    /// own read-ahead and we cannot promise the blocks stay cached, so the answer is GOOD rather than CONDITION MET
    /// (which would claim they will). IMMED is accepted; PREFETCH LENGTH above MAXIMUM PREFETCH LENGTH is INVALID
    /// FIELD IN CDB.
    /// </summary>
    private static ValueTask<CommandOutcome> PreFetchAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        if (unit.Limits.MaximumPrefetchLength != 0 && cdb.Blocks > unit.Limits.MaximumPrefetchLength)
        {
            return CommandOutcome.InvalidCdbField(cdb.LengthOffset);
        }

        return unit.InRange(cdb.Lba, cdb.Blocks)
            ? CommandOutcome.Good
            : CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
    }

    /// <summary>
    /// SBC-3 §5.17/§5.18 READ DEFECT DATA(10/12). A file has no defects: GOOD with an empty list in the requested
    /// format, PLISTV/GLISTV echoing REQ_PLIST/REQ_GLIST (the requested lists are valid, and empty). This is what
    /// LIO and most SSDs answer and what libiscsi readdefectdata*_simple expect. Format 111b is reserved (INVALID
    /// FIELD IN CDB). READ DEFECT DATA(10) header: 4 bytes with a 16-bit DEFECT LIST LENGTH; (12): 8 bytes with a
    /// 32-bit one.
    /// </summary>
    private static ValueTask<CommandOutcome> ReadDefectDataAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var ten = task.OperationCode == ReadDefectData10;
        var request = ten ? task.Cdb[2] : task.Cdb[1];
        if ((request & 0x07) == 0x07)
        {
            return CommandOutcome.InvalidCdbField(ten ? 2 : 1, 2);
        }

        var allocationLength = ten
            ? BinaryPrimitives.ReadUInt16BigEndian(task.Cdb[7..])
            : BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[6..]);
        var length = ten ? 4 : 8;
        var data = task.GetDataInBuffer(length).Span;
        data[1] = (byte)(request & 0x1F);
        task.TrimDataIn((int)Math.Min((uint)length, allocationLength));
        return CommandOutcome.Good;
    }

    /// <summary>
    /// SBC-3 §5.25 START STOP UNIT. The medium is a file and always ready; every valid request succeeds. Stopping
    /// (START=0, POWER CONDITION 0h) without NO_FLUSH first writes the cache to the medium, as a real disk must.
    /// LOEJ on a non-removable unit is accepted and ignored. Reserved POWER CONDITION values are INVALID FIELD IN CDB.
    /// </summary>
    private static async ValueTask<CommandOutcome> StartStopUnitAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var b4 = task.Cdb[4];
        var powerCondition = b4 >> 4;
        var noFlush = (b4 & 0x04) != 0;
        var start = (b4 & 0x01) != 0;
        if (powerCondition is not (0x0 or 0x1 or 0x2 or 0x3 or 0x7 or 0xA or 0xB))
        {
            return CommandOutcome.InvalidCdbField(4, 7);
        }

        if (powerCondition == 0 && !start && !noFlush)
        {
            await unit.Volume.FlushAsync(task.Aborted).ConfigureAwait(false);
        }

        return CommandOutcome.Good;
    }

    /// <summary>
    /// SBC-3 §5.9 PREVENT ALLOW MEDIUM REMOVAL. RMB=0 (nothing can be removed), so PREVENT values are accepted and
    /// have no effect.
    /// </summary>
    private static ValueTask<CommandOutcome> PreventAllowMediumRemovalAsync(DiskLogicalUnit unit, ScsiTask task) =>
        CommandOutcome.Good;
}

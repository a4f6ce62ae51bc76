using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Ssc;

public sealed partial class TapeDriveLogicalUnit
{
    /*
     * SSC-4 SPACE(6): byte 1 CODE (bits 3-0); bytes 2-4 COUNT, 24-bit two's complement (negative = toward BOP).
     * SPACE(16): byte 1 CODE; bytes 4-11 COUNT (64-bit); bytes 12-13 PARAMETER LENGTH (must be 0: no parameter data).
     * CODE 000b logical blocks, 001b filemarks, 011b end-of-data; 010b sequential filemarks and the setmark codes are
     * not supported (INVALID FIELD IN CDB). A count of 0 is no motion and GOOD.
     * Exceptions, INFORMATION = |requested| − actual, never negative: since SSC-1, "a CHECK CONDITION caused by early
     * termination of any SPACE command shall not result in a negative INFORMATION field value", reverse spaces included
     * (SCSI-2 had been read both ways; HP and StorageTek drive references say the same; Linux st flips a negative one
     * for MTBSF/MTBSR as "some drives get this wrong"):
     *  - a filemark stops a block space: NO SENSE 00/01 with FM; forward: after it, reverse: on its BOP side;
     *  - end of data: BLANK CHECK 00/05, positioned at EOD. Linux st's MTEOM is SPACE filemarks 0x7FFFFF and computes
     *    the file number as count − INFORMATION, so INFORMATION must be the filemarks NOT spaced (RESULTS.md failure 2);
     *  - beginning of partition: NO SENSE 00/04 with EOM, positioned at BOP.
     */
    private static async ValueTask<CommandOutcome> SpaceAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var code = cdb[1] & 0x0F;
        long count;
        if (cdb[0] == Space16)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(cdb[12..]) != 0)
            {
                return CommandOutcome.InvalidCdbField(12);
            }

            count = BinaryPrimitives.ReadInt64BigEndian(cdb[4..]);
        }
        else
        {
            count = (Read24(cdb[2..]) << 8) >> 8; // sign-extend the 24-bit two's complement count
        }

        if (code is not (0 or 1 or 3))
        {
            return CommandOutcome.InvalidCdbField(1, 3);
        }

        if (!unit.TryGetReadableMedium(out var medium, out var failure))
        {
            return failure;
        }

        TapeResult r;
        switch (code)
        {
            case 0:
                r = await medium.SpaceBlocksAsync(count, task.Aborted).ConfigureAwait(false);
                break;
            case 1:
                r = await medium.SpaceFilemarksAsync(count, task.Aborted).ConfigureAwait(false);
                break;
            default:
                r = await medium.SpaceToEndOfDataAsync(task.Aborted).ConfigureAwait(false);
                break;
        }

        var residue = r.Residue; // the medium reports magnitudes
        return r.Condition switch
        {
            TapeCondition.Ok => CommandOutcome.Good,
            TapeCondition.FilemarkDetected => CommandOutcome.Fail(SenseReason.FilemarkDetected, SenseDetails.Info(residue)),
            TapeCondition.EndOfData => CommandOutcome.Fail(SenseReason.BlankCheckEndOfData, SenseDetails.Info(residue)),
            TapeCondition.BeginningOfMedium => CommandOutcome.Fail(SenseReason.BeginningOfPartitionMediumDetected, SenseDetails.Info(residue)),
            _ => unit.ReadFailure(r.Condition, residue),
        };
    }

    /*
     * SSC-4 LOCATE(10): byte 1 BT (bit 2) | CP (bit 1) | IMMED (bit 0); bytes 3-6 LOGICAL OBJECT IDENTIFIER; byte 8
     * PARTITION (with CP=1). LOCATE(16): byte 1 DEST_TYPE (bits 5-3) | CP | IMMED; byte 2 BAM; byte 3 PARTITION; bytes
     * 4-11 LOGICAL IDENTIFIER. DEST_TYPE 000b logical object, 001b logical file (positioned at the BOP side of the
     * first object of that file), 011b end of data. BT=1 asks for a device-specific block address: ours are logical
     * object numbers, the same values READ POSITION's short vendor-specific form (01h, which Linux st uses) returns.
     * CP=1 (SSC-4 §4.2.3 partitions): the destination lies in PARTITION, which becomes the active partition; a
     * partition the medium does not have is ILLEGAL REQUEST 24/00 INVALID FIELD IN CDB pointing at PARTITION (the
     * value is out of range for the loaded medium, SPC-4 §4.5.2 field pointer), nothing moved. CP=0: PARTITION is
     * ignored and the destination lies in the active partition.
     * Locating beyond EOD: BLANK CHECK 00/05, positioned at EOD, INFORMATION the objects (or files) short of the
     * destination. IMMED is accepted; we complete before status.
     */
    private static async ValueTask<CommandOutcome> LocateAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var sixteen = cdb[0] == Locate16;
        var changePartition = (cdb[1] & 0x02) != 0;
        var partition = sixteen ? cdb[3] : cdb[8];
        var destination = sixteen ? (cdb[1] >> 3) & 0x07 : 0;
        var identifier = sixteen ? BinaryPrimitives.ReadUInt64BigEndian(cdb[4..]) : BinaryPrimitives.ReadUInt32BigEndian(cdb[3..]);
        if (destination is not (0 or 1 or 3))
        {
            return CommandOutcome.InvalidCdbField(1, 5);
        }

        if (!unit.TryGetReadableMedium(out var medium, out var failure))
        {
            return failure;
        }

        if (changePartition && partition >= medium.PartitionCount)
        {
            return CommandOutcome.InvalidCdbField(sixteen ? 3 : 8);
        }

        TapeResult r;
        if (destination == 3 || identifier > long.MaxValue)
        {
            if (changePartition)
            {
                await medium.LocateAsync(partition, 0, task.Aborted).ConfigureAwait(false);
            }

            r = await medium.SpaceToEndOfDataAsync(task.Aborted).ConfigureAwait(false);
            if (destination != 3)
            {
                r = TapeResult.Of(TapeCondition.EndOfData);
            }
        }
        else if (destination == 1)
        {
            r = changePartition
                ? await medium.LocateAsync(partition, 0, task.Aborted).ConfigureAwait(false)
                : await medium.LocateAsync(0, task.Aborted).ConfigureAwait(false);
            if (identifier > 0)
            {
                r = await medium.SpaceFilemarksAsync((long)identifier, task.Aborted).ConfigureAwait(false);
            }
        }
        else
        {
            r = changePartition
                ? await medium.LocateAsync(partition, (long)identifier, task.Aborted).ConfigureAwait(false)
                : await medium.LocateAsync((long)identifier, task.Aborted).ConfigureAwait(false);
        }

        if (r.Condition == TapeCondition.EndOfData)
        {
            // INFORMATION: how far short of the destination EOD stopped, in the destination's unit (objects, or files
            // for DEST_TYPE 001b), as drives report it for LOCATE and SPACE; none when the destination is beyond any
            // object number (a LOCATE(16) past 2^63).
            return destination switch
            {
                0 when identifier <= long.MaxValue => CommandOutcome.Fail(
                    SenseReason.BlankCheckEndOfData, SenseDetails.Info((long)identifier - medium.ReadPosition().LogicalObjectNumber)),
                1 => CommandOutcome.Fail(SenseReason.BlankCheckEndOfData, SenseDetails.Info(r.Residue)),
                _ => CommandOutcome.Fail(SenseReason.BlankCheckEndOfData),
            };
        }

        return r.Condition == TapeCondition.Ok ? CommandOutcome.Good : unit.ReadFailure(r.Condition, 0);
    }

    /*
     * SSC-4 READ POSITION, service action in byte 1 bits 4-0:
     *  00h/01h short form (20 bytes): byte 0 BOP(7) EOP(6) LOCU(5) BYCU(4) LOLU(2) PERR(1) BPEW(0); byte 1 PARTITION;
     *    4-7 FIRST LOGICAL OBJECT LOCATION; 8-11 LAST LOGICAL OBJECT LOCATION; 13-15 LOGICAL OBJECTS IN OBJECT BUFFER;
     *    16-19 BYTES IN OBJECT BUFFER. 01h is the "vendor-specific" form Linux st asks for (mt tell); our block
     *    addresses are logical object numbers, so both forms are identical.
     *  06h long form (32 bytes): byte 0 BOP EOP MPU(3) LONU(2) BPEW; 4-7 PARTITION; 8-15 LOGICAL OBJECT NUMBER;
     *    16-23 LOGICAL FILE IDENTIFIER; 24-31 LOGICAL SET IDENTIFIER.
     *  08h extended form (32 bytes): byte 0 as short; 1 PARTITION; 2-3 ADDITIONAL LENGTH (1Ch); 5-7 objects in buffer;
     *    8-15 FIRST, 16-23 LAST LOGICAL OBJECT LOCATION; 24-31 BYTES IN OBJECT BUFFER.
     * We write through, so the object buffer is always empty and FIRST = LAST = the current position (RESULTS.md
     * failure 3: tgt returned zeros with LOLU/BPU set, which st reads as "position unknown").
     * ALLOCATION LENGTH (bytes 7-8) only applies to the extended form; for the others it is zero (st sends 0).
     */
    private static ValueTask<CommandOutcome> ReadPositionAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var serviceAction = cdb[1] & 0x1F;
        if (!unit.TryGetMedium(out var medium, out var failure))
        {
            return failure;
        }

        unit.ApplyProgrammableEarlyWarning(medium);
        var p = medium.ReadPosition();
        var flags = (byte)((p.AtBeginningOfPartition ? 0x80 : 0) | (p.BeyondEarlyWarning ? 0x40 : 0) | (p.BeyondProgrammableEarlyWarning ? 0x01 : 0));
        switch (serviceAction)
        {
            case 0x00:
            case 0x01:
                {
                    var d = task.GetDataInBuffer(20).Span;
                    var overflow = p.LogicalObjectNumber > uint.MaxValue;
                    d[0] = (byte)(flags | (overflow ? 0x02 | 0x04 : 0)); // PERR and LOLU when it does not fit in 32 bits
                    d[1] = (byte)p.Partition;
                    if (!overflow)
                    {
                        BinaryPrimitives.WriteUInt32BigEndian(d[4..], (uint)p.LogicalObjectNumber);
                        BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)p.LogicalObjectNumber);
                    }

                    return CommandOutcome.Good;
                }

            case 0x06:
                {
                    var d = task.GetDataInBuffer(32).Span;
                    d[0] = flags;
                    BinaryPrimitives.WriteUInt32BigEndian(d[4..], (uint)p.Partition);
                    BinaryPrimitives.WriteInt64BigEndian(d[8..], p.LogicalObjectNumber);
                    BinaryPrimitives.WriteInt64BigEndian(d[16..], p.FileNumber);
                    return CommandOutcome.Good;
                }

            default:
                {
                    var allocationLength = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
                    var d = task.GetDataInBuffer(32).Span;
                    d[0] = flags;
                    d[1] = (byte)p.Partition;
                    BinaryPrimitives.WriteUInt16BigEndian(d[2..], 0x1C);
                    BinaryPrimitives.WriteInt64BigEndian(d[8..], p.LogicalObjectNumber);
                    BinaryPrimitives.WriteInt64BigEndian(d[16..], p.LogicalObjectNumber);
                    task.TrimDataIn(Math.Min(32, (int)allocationLength));
                    return CommandOutcome.Good;
                }
        }
    }

    /// <summary>SSC-4 REWIND: byte 1 IMMED (accepted; we complete first). Buffered objects become durable, then BOP.</summary>
    private static async ValueTask<CommandOutcome> RewindAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        if (!unit.TryGetMedium(out var medium, out var failure))
        {
            return failure;
        }

        await medium.RewindAsync(task.Aborted).ConfigureAwait(false);
        return CommandOutcome.Good;
    }

    /*
     * SSC-4 ERASE(6): byte 1 IMMED (bit 1) | LONG (bit 0). Short erase writes an EOD at the current position; long
     * erase erases to the end of the partition. Both leave EOD at the current position here (the image has nothing
     * beyond EOD to erase). WORM media refuse it except at EOD (30/0C).
     */
    private static async ValueTask<CommandOutcome> EraseAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        if (!unit.TryGetWritableMedium(out var medium, out var failure))
        {
            return failure;
        }

        var r = await medium.EraseAsync(task.Aborted).ConfigureAwait(false);
        return unit.WriteOutcome(r.Condition, 0);
    }

    /*
     * SSC-4 LOAD UNLOAD: byte 1 IMMED; byte 4 HOLD (3) | EOT (2) | RETEN (1) | LOAD (0).
     *  LOAD=1: thread a cartridge the initiator unloaded, or reposition a threaded one, at BOP of partition 0 (EOT=1 with LOAD=1 is INVALID FIELD);
     *    RETEN is accepted (nothing to retension). Without a cartridge in the drive: NOT READY 3A/00.
     *  LOAD=0, HOLD=0: rewind, make every object durable, unthread: NOT READY 3A/00 from now on, and the changer is told
     *    (Unloaded) so it can move the cartridge. Refused (ILLEGAL REQUEST 53/02) while removal is prevented.
     *  LOAD=0, HOLD=1: rewind and keep the cartridge threaded (no unload).
     */
    private static async ValueTask<CommandOutcome> LoadUnloadAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var b4 = task.Cdb[4];
        var load = (b4 & 0x01) != 0;
        var eot = (b4 & 0x04) != 0;
        var hold = (b4 & 0x08) != 0;
        if (load && eot)
        {
            return CommandOutcome.InvalidCdbField(4, 2);
        }

        ITapeMedium? medium;
        DriveState state;
        bool cleaning;
        lock (unit._lock)
        {
            medium = unit._medium;
            state = unit._state;
            cleaning = unit._cartridge is { Cleaning: true };
        }

        if (medium is null || state == DriveState.Empty)
        {
            return CommandOutcome.Fail(SenseReason.MediumNotPresent);
        }

        if (state == DriveState.Loading)
        {
            return CommandOutcome.Fail(SenseReason.LogicalUnitBecomingReady);
        }

        if (load)
        {
            // SSC-4 LOAD UNLOAD: a load positions at BOP of partition 0, also when the volume is already mounted (LTFS
            // formats after a LOAD to get to partition 0, block 0; Linux st's mkpartition loads first and counts
            // from BOT). REWIND alone would stay in the active partition.
            if (!cleaning)
            {
                await medium.LocateAsync(0, 0, task.Aborted).ConfigureAwait(false);
            }

            var reloaded = false;
            lock (unit._lock)
            {
                if (unit._state == DriveState.Unloaded)
                {
                    unit._state = DriveState.Ready;
                    reloaded = true;
                }
            }

            if (reloaded)
            {
                // The medium may have changed as far as any other initiator knows.
                unit.UnitAttentions.AddAllExcept(task.Nexus, SenseReason.NotReadyToReadyChange);
            }

            return CommandOutcome.Good;
        }

        if (state == DriveState.Unloaded)
        {
            return CommandOutcome.Good;
        }

        if (!hold && unit.IsRemovalPrevented)
        {
            return CommandOutcome.Fail(SenseReason.MediumRemovalPrevented);
        }

        if (!cleaning)
        {
            await medium.RewindAsync(task.Aborted).ConfigureAwait(false);
        }

        if (hold)
        {
            return CommandOutcome.Good;
        }

        lock (unit._lock)
        {
            unit._state = DriveState.Unloaded;
        }

        unit._partitionLayoutPending = false;

        unit.RaiseUnloaded();
        return CommandOutcome.Good;
    }

    /// <summary>
    /// SPC-4 PREVENT ALLOW MEDIUM REMOVAL as SSC-4 uses it: byte 4 PREVENT (bits 1-0): 00b allow, 01b prevent for
    /// this I_T nexus; 10b/11b (medium changer forms) are INVALID FIELD. Removal stays prevented while any nexus
    /// prevents it.
    /// </summary>
    private static ValueTask<CommandOutcome> PreventAllowAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var prevent = task.Cdb[4] & 0x03;
        if (prevent > 1)
        {
            return CommandOutcome.InvalidCdbField(4, 1);
        }

        lock (unit._lock)
        {
            if (prevent == 1)
            {
                unit._preventers.Add(task.Nexus.Id);
            }
            else
            {
                unit._preventers.Remove(task.Nexus.Id);
            }
        }

        return CommandOutcome.Good;
    }

    /*
     * SSC-4 READ BLOCK LIMITS: byte 1 MLOC (bit 0). MLOC=0: 6 bytes — byte 0 GRANULARITY (bits 4-0), bytes 1-3
     * MAXIMUM BLOCK LENGTH LIMIT, bytes 4-5 MINIMUM BLOCK LENGTH LIMIT. MLOC=1: 20 bytes, bytes 12-19 MAXIMUM LOGICAL
     * OBJECT IDENTIFIER. Needs no medium.
     */
    private static ValueTask<CommandOutcome> ReadBlockLimitsAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var p = unit.Personality;
        if ((task.Cdb[1] & 0x01) != 0)
        {
            var m = task.GetDataInBuffer(20).Span;
            BinaryPrimitives.WriteUInt64BigEndian(m[12..], uint.MaxValue);
            return CommandOutcome.Good;
        }

        var d = task.GetDataInBuffer(6).Span;
        d[0] = (byte)(p.Granularity & 0x1F);
        d[1] = (byte)(p.MaxBlockLength >> 16);
        d[2] = (byte)(p.MaxBlockLength >> 8);
        d[3] = (byte)p.MaxBlockLength;
        BinaryPrimitives.WriteUInt16BigEndian(d[4..], (ushort)p.MinBlockLength);
        return CommandOutcome.Good;
    }

    /// <summary>
    /// SPC-4 LOG SELECT: byte 1 PCR (bit 1) | SP (bit 0); bytes 7-8 PARAMETER LIST LENGTH. PCR=1 resets the error
    /// counters and TapeAlert flags; no log parameter is changeable, so a parameter list is INVALID FIELD IN CDB, as is
    /// SP (nothing saveable).
    /// </summary>
    private static ValueTask<CommandOutcome> LogSelectAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        if ((cdb[1] & 0x01) != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]) != 0)
        {
            return CommandOutcome.InvalidCdbField(7);
        }

        if ((cdb[1] & 0x02) != 0)
        {
            unit.ResetLogParameters();
        }

        return CommandOutcome.Good;
    }

    /*
     * SSC-4 ALLOW OVERWRITE: byte 2 ALLOW OVERWRITE (bits 3-0): 0h disabled, 1h current position, 2h format (lets
     * FORMAT MEDIUM run in append-only mode; still INVALID FIELD here, as before FORMAT MEDIUM existed); byte 3
     * PARTITION; bytes 4-11 LOGICAL OBJECT IDENTIFIER, which must be the current position for 1h. ALLOW OVERWRITE
     * lifts the restriction of append-only mode (SSC-4; IBM LTO SCSI Reference §4.2.3), which this drive does not offer
     * (WRITE MODE of the Device Configuration Extension page is 0, overwrite allowed, and not changeable): a write at
     * the position is processed as it would be anyway, and on a WORM cartridge "a write type command shall be
     * processed following the WORM rules" (ibid.) - it never opens WORM data for overwriting. The command is validated
     * and answers GOOD.
     */
    private static ValueTask<CommandOutcome> AllowOverwriteAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var mode = cdb[2] & 0x0F;
        if (mode > 1)
        {
            return CommandOutcome.InvalidCdbField(2, 3);
        }

        if (!unit.TryGetMedium(out var medium, out var failure))
        {
            return failure;
        }

        if (mode == 0)
        {
            return CommandOutcome.Good;
        }

        var p = medium.ReadPosition();
        if (cdb[3] != p.Partition)
        {
            return CommandOutcome.InvalidCdbField(3);
        }

        if (BinaryPrimitives.ReadUInt64BigEndian(cdb[4..]) != (ulong)p.LogicalObjectNumber)
        {
            return CommandOutcome.InvalidCdbField(4);
        }

        return CommandOutcome.Good;
    }
}

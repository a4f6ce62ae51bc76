using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Ssc;

public sealed partial class TapeDriveLogicalUnit
{
    /*
     * SSC-4 §7.2 FORMAT MEDIUM: byte 1 VERIFY (bit 1) | IMMED (bit 0); byte 2 FORMAT (bits 3-0); bytes 3-4 TRANSFER
     * LENGTH.
     *  - FORMAT 0h: default format, one partition of the whole (effective) capacity. 1h: partition the medium as the
     *    Medium Partition mode page (11h, SSC-4 §8.3.4) defines — the layout a MODE SELECT left pending (POFM=1: the
     *    page takes effect here), else the medium's own layout again. 2h: default format, then partition; with a thin
     *    image both steps end in the same state, so 2h is 1h. 3h-7h are reserved and 8h-Fh vendor specific (none
     *    defined here): INVALID FIELD IN CDB pointing at the field.
     *  - A layout that does not fit the loaded medium (more partitions than its generation allows, sizes beyond its
     *    capacity, a "rest" partition below the minimum partition size): ILLEGAL REQUEST 26/00 INVALID FIELD IN
     *    PARAMETER LIST, nothing changed. The faulty values came in page 11h's parameter list, which POFM makes FORMAT
     *    MEDIUM check; there is no field of this command to point at, so no sense-key-specific pointer.
     *  - TRANSFER LENGTH counts vendor-specific format parameter data; this drive defines none (the StorageTek T10000
     *    reference likewise allows only 0000h), so a non-zero value is INVALID FIELD IN CDB at byte 3.
     *  - Accepted only at the beginning of partition 0; anywhere else ILLEGAL REQUEST 3B/0C POSITION PAST BEGINNING OF
     *    MEDIUM (SSC-4 §7.2; mhVTL answers the same). A write-type command: DATA PROTECT 27/00 when write protected, 30/05 when
     *    the drive cannot write the generation, NOT READY 3A/00 without a cartridge.
     *  - Effect: every logical object of every partition is lost and the medium is left at BOP of partition 0, durably
     *    (a crash cannot bring the old data back). The pending page 11h layout is used up: MODE SENSE shows the
     *    medium's layout again.
     *  - WORM: formatting would destroy written data, so the WORM rule ERASE follows applies (DATA PROTECT 30/0C,
     *    nothing lost); a blank WORM cartridge (EOD at BOP) formats.
     *  - MAM attributes stay: they live in the cartridge memory, not in the tape's data area, and no reference we found
     *    has FORMAT MEDIUM clear them (LTFS's mkltfs rewrites the host attributes it needs after formatting).
     *  - VERIFY: the format is exact metadata here, so there is nothing further to verify; accepted.
     *  - IMMED: accepted; as for REWIND and ERASE the work completes before status, which satisfies IMMED=1 too.
     */
    private static async ValueTask<CommandOutcome> FormatMediumAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var format = cdb[2] & 0x0F;
        if (format > 2)
        {
            return CommandOutcome.InvalidCdbField(2, 3);
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(cdb[3..]) != 0)
        {
            return CommandOutcome.InvalidCdbField(3);
        }

        if (!unit.TryGetWritableMediumAtBop(out var medium, out var failure))
        {
            return failure;
        }

        var layout = format == 0 ? [medium.CapacityBytes] : unit.ResolvePartitionLayout(medium);
        if (layout is null)
        {
            return CommandOutcome.Fail(SenseReason.InvalidFieldInParameterList);
        }

        TapeResult r;
        try
        {
            r = await medium.FormatPartitionsAsync(layout, task.Aborted).ConfigureAwait(false);
        }
        catch (ArgumentOutOfRangeException)
        {
            // The medium refuses layouts it cannot hold before changing anything (ITapeMedium.FormatPartitionsAsync).
            return CommandOutcome.Fail(SenseReason.InvalidFieldInParameterList);
        }

        if (r.Condition == TapeCondition.Ok)
        {
            unit._partitionLayoutPending = false;
        }

        return unit.WriteOutcome(r.Condition, 0);
    }
}

using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Ssc;

public sealed partial class TapeDriveLogicalUnit
{
    /// <summary>Denominator of the CAPACITY PROPORTION VALUE (SSC-4 §7.11).</summary>
    private const int CapacityProportionScale = 65535;

    /*
     * SSC-4 §7.11 SET CAPACITY: byte 1 IMMED (bit 0); bytes 3-4 CAPACITY PROPORTION VALUE.
     *  - Available capacity = native capacity x value / 65535, native being the capacity the cartridge was made with
     *    (the image's, not a previous SET CAPACITY's); 65535 restores the full tape. A value below the personality's
     *    minimum (20 % by default, Quantum LTO-3/LTO-4 references) is rounded up to it: the command is carried out and
     *    ends with RECOVERED ERROR 37/00 ROUNDED PARAMETER (Quantum and Seagate LTO references).
     *  - Accepted only at the beginning of partition 0; anywhere else ILLEGAL REQUEST 3B/0C POSITION PAST BEGINNING OF
     *    MEDIUM. A write-type command: DATA PROTECT 27/00 when write protected (30/05 for a generation the drive only
     *    reads), NOT READY 3A/00 without a cartridge.
     *  - Effect: every logical object on the tape is lost and the tape is left at BOP; the capacity stays with the
     *    cartridge (the image persists it) until the next SET CAPACITY. Log page 31h, MAM 0000h/0001h, log pages
     *    0Ch/17h, READ POSITION and REPORT DENSITY SUPPORT (MEDIA=1) report the new capacity; early warning and VOLUME
     *    OVERFLOW move with it. The library catalog keeps the cartridge's native size.
     *  - WORM: only a cartridge that was never written may be scaled (HP LTO-3/LTO-4 references), else DATA PROTECT
     *    30/0C and nothing is lost, the rule FORMAT MEDIUM and ERASE follow here.
     *  - MAM attributes stay, as for FORMAT MEDIUM: they live in the cartridge memory, not in the data area.
     *  - Partitions: the medium returns to one partition (SSC-4 §7.11: the medium is formatted to the new capacity);
     *    a page 11h layout left pending by MODE SELECT is dropped, so MODE SENSE shows the single partition.
     *  - IMMED: accepted; as for REWIND, ERASE and FORMAT MEDIUM the work completes before status.
     */
    private static async ValueTask<CommandOutcome> SetCapacityAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        if (!unit.Personality.SupportsSetCapacity)
        {
            return CommandOutcome.Fail(SenseReason.InvalidCommandOperationCode, SenseDetails.CdbField(0));
        }

        if (!unit.TryGetWritableMediumAtBop(out var medium, out var failure))
        {
            return failure;
        }

        var value = BinaryPrimitives.ReadUInt16BigEndian(task.Cdb[3..]);
        var (capacity, rounded) = ScaledCapacity(medium.NativeCapacityBytes, value, unit.Personality.MinimumCapacityProportion);
        var r = await medium.SetCapacityAsync(capacity, task.Aborted).ConfigureAwait(false);
        if (r.Condition != TapeCondition.Ok)
        {
            return unit.WriteOutcome(r.Condition, 0);
        }

        unit._partitionLayoutPending = false;
        return rounded ? CommandOutcome.Fail(SenseReason.RoundedParameter) : CommandOutcome.Good;
    }

    /// <summary>
    /// native x value / 65535, with <paramref name="value"/> raised to <paramref name="minimumProportion"/> and the
    /// result to the image's smallest capacity (64 KiB, or the whole tape if it is smaller). Rounded: it was raised.
    /// </summary>
    internal static (long Capacity, bool Rounded) ScaledCapacity(long native, ushort value, ushort minimumProportion)
    {
        var proportion = Math.Max(value, minimumProportion);
        var capacity = (long)((Int128)native * proportion / CapacityProportionScale);
        var floor = Math.Min(TapeImageOptions.MinimumCapacityBytes, native);
        var rounded = proportion != value;
        if (capacity < floor)
        {
            capacity = floor;
            rounded = true;
        }

        return (capacity, rounded);
    }
}

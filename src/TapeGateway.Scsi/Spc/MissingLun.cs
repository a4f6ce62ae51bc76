using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

/// <summary>Answers for a LUN with no logical unit behind it (SPC-4 §6.6.1, §6.29, §6.39). Skeleton: SPC work completes it.</summary>
internal static class MissingLun
{
    public static void Execute(ScsiTargetDevice target, ScsiTask task)
    {
        ScsiTargetDevice.WriteSense(task, SenseReason.LogicalUnitNotSupported);
    }
}

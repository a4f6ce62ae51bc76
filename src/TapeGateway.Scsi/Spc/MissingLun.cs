using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

/// <summary>
/// The stand-in that answers LUNs with no logical unit behind them, one per target. SPC-4 §6.6.2: INQUIRY returns
/// standard data with PERIPHERAL QUALIFIER 011b and device type 1Fh (and only VPD page 00h); §6.33: REPORT LUNS
/// works from any LUN; §6.29: REQUEST SENSE returns LOGICAL UNIT NOT SUPPORTED as data with GOOD status; every other
/// command ends with CHECK CONDITION, LOGICAL UNIT NOT SUPPORTED (25h/00h). It shares the SPC handlers with real
/// units; it tracks no nexuses, so it never has a unit attention or a reservation.
/// </summary>
internal sealed class MissingLun : LogicalUnit<MissingLun>
{
    private static readonly CommandTable<MissingLun> s_commands = SpcCommands.RegisterForMissingLun(new CommandTable<MissingLun>());
    private static readonly LogicalUnitIdentity s_identity = new("TAPEGW", "NO LUN", "0001", "", 0);
    private readonly ModePageSet _modePages = new(includeSharedPages: false);

    public MissingLun(ScsiTargetDevice target)
        : base(new Lun(0), s_identity, NullLogger.Instance)
    {
        Target = target;
    }

    public override PeripheralDeviceType DeviceType => PeripheralDeviceType.Unknown;

    public override ModePageSet ModePages => _modePages;

    /// <summary>Fixed format: there is no Control page whose D_SENSE could ask for descriptors.</summary>
    public override SenseFormat SenseFormat => SenseFormat.Fixed;

    protected internal override byte PeripheralQualifier => 0b011;

    protected override CommandTable<MissingLun> Commands => s_commands;

    /// <summary>REQUEST SENSE reports this as its data; TEST UNIT READY never gets here (not in the table).</summary>
    protected internal override SenseReason CheckReady() => SenseReason.LogicalUnitNotSupported;

    public override ValueTask ExecuteAsync(ScsiTask task)
    {
        if (s_commands.Find(task.Cdb, out _) is null)
        {
            SetSense(task, SenseReason.LogicalUnitNotSupported);
            return ValueTask.CompletedTask;
        }

        return base.ExecuteAsync(task);
    }
}

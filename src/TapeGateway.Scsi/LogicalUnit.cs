using Microsoft.Extensions.Logging;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi;

/// <summary>SPC-4 §6.6.2 peripheral device types we emulate.</summary>
public enum PeripheralDeviceType : byte
{
    DirectAccess = 0x00,
    SequentialAccess = 0x01,
    MediumChanger = 0x08,
    Unknown = 0x1F,
}

/// <summary>
/// State and checks every logical unit shares (SPC-4): unit attentions per I_T nexus, reservations, mode pages,
/// identity. The per-device-type pipeline lives in <see cref="LogicalUnit{TSelf}"/>.
/// </summary>
public abstract partial class LogicalUnit
{
    private readonly SemaphoreSlim _serial = new(1, 1);

    protected LogicalUnit(Lun lun, LogicalUnitIdentity identity, ILogger logger)
    {
        Lun = lun;
        Identity = identity;
        Logger = logger;
        UnitAttentions = new UnitAttentionQueue();
        Reservations = new ReservationState(this);
    }

    public Lun Lun { get; }

    public LogicalUnitIdentity Identity { get; }

    public abstract PeripheralDeviceType DeviceType { get; }

    /// <summary>Set when the unit is added to a target; REPORT LUNS and VPD 0x83 target-port ids need it.</summary>
    public ScsiTargetDevice Target { get; internal set; } = null!;

    public UnitAttentionQueue UnitAttentions { get; }

    public ReservationState Reservations { get; }

    /// <summary>Mode pages of this unit (SPC-4 §7.5); device types add their pages when they build it.</summary>
    public abstract ModePageSet ModePages { get; }

    /// <summary>Whether sense is returned in descriptor format: the D_SENSE bit of the Control mode page (SPC-4 §7.5.8).</summary>
    public virtual SenseFormat SenseFormat => ModePages.DescriptorSense ? SenseFormat.Descriptor : SenseFormat.Fixed;

    /// <summary>Removable medium bit of standard INQUIRY (tapes and changers set it).</summary>
    public virtual bool RemovableMedium => false;

    protected ILogger Logger { get; }

    /// <summary>Opcodes this unit implements, for REPORT SUPPORTED OPERATION CODES.</summary>
    public abstract IReadOnlyList<SupportedCommand> SupportedCommands { get; }

    /// <summary>Device-type VPD pages beyond 0x00/0x80/0x83 (e.g. 0xB0/0xB1/0xB2 on disks), in ascending page order.</summary>
    public virtual IReadOnlyList<byte> ExtraVpdPages => [];

    /// <summary>Writes a device-type VPD page (without the 4-byte header); returns its length, or -1 if unknown.</summary>
    public virtual int WriteVpdPage(byte page, Span<byte> destination) => -1;

    /// <summary>The device-type part of standard INQUIRY byte 7 etc. can be overridden by personalities.</summary>
    public virtual byte VersionDescriptorLevel => 0x06; // SPC-4

    public abstract ValueTask ExecuteAsync(ScsiTask task);

    internal void OnNexusCreated(ItNexus nexus) => UnitAttentions.Add(nexus, SenseReason.PowerOnResetOrBusDeviceReset);

    internal virtual void OnNexusLost(ItNexus nexus)
    {
        UnitAttentions.Remove(nexus);
        Reservations.OnNexusLost(nexus);
    }

    internal virtual void OnTaskManagement(TaskManagementEvent what, ItNexus requester)
    {
        switch (what)
        {
            case TaskManagementEvent.ClearTaskSet:
                UnitAttentions.AddAllExcept(requester, SenseReason.CommandsClearedByAnotherInitiator);
                break;
            case TaskManagementEvent.LogicalUnitReset:
                Reservations.OnReset();
                UnitAttentions.AddAll(SenseReason.BusDeviceResetFunctionOccurred);
                OnReset();
                break;
            case TaskManagementEvent.TargetWarmReset:
                Reservations.OnReset();
                UnitAttentions.AddAll(SenseReason.ScsiBusResetOccurred);
                OnReset();
                break;
            case TaskManagementEvent.TargetColdReset:
                Reservations.OnReset();
                UnitAttentions.AddAll(SenseReason.PowerOnOccurred);
                OnReset();
                break;
        }
    }

    /// <summary>Device-type reset side effects (SAM-5 §6.3.3: mode parameters back to saved values, etc.).</summary>
    protected virtual void OnReset() => ModePages.ResetToSaved();

    /// <summary>Sets CHECK CONDITION with sense for <paramref name="reason"/> in this unit's sense format.</summary>
    public void SetSense(ScsiTask task, SenseReason reason, in SenseDetails details = default)
    {
        var n = SenseDataBuilder.Write(task.SenseBuffer, reason, SenseFormat, details);
        task.SetSense(n);
    }

    internal async ValueTask<IDisposable?> EnterAsync(CommandFlags flags, CancellationToken ct)
    {
        if ((flags & CommandFlags.Serialized) == 0)
        {
            return null;
        }

        await _serial.WaitAsync(ct).ConfigureAwait(false);
        return new Releaser(_serial);
    }

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        public void Dispose() => semaphore.Release();
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "LUN {Lun}: command {Opcode:X2} failed unexpectedly")]
    protected static partial void LogCommandFailed(ILogger logger, Exception error, Lun lun, byte opcode);
}

/// <summary>The table-driven command pipeline for one device type.</summary>
public abstract class LogicalUnit<TSelf> : LogicalUnit
    where TSelf : LogicalUnit<TSelf>
{
    private IReadOnlyList<SupportedCommand>? _supported;

    protected LogicalUnit(Lun lun, LogicalUnitIdentity identity, ILogger logger)
        : base(lun, identity, logger)
    {
    }

    protected abstract CommandTable<TSelf> Commands { get; }

    public override IReadOnlyList<SupportedCommand> SupportedCommands =>
        _supported ??= Commands.All
            .Select(d => new SupportedCommand(d.OperationCode, d.ServiceAction, d.CdbUsage, d.Name))
            .OrderBy(c => c.OperationCode).ThenBy(c => c.ServiceAction ?? 0)
            .ToArray();

    public bool HasServiceActions(byte opcode) => Commands.HasServiceActions(opcode);

    /// <summary>
    /// SPC-4 order of checks (as LIO's target_setup_cmd_from_cdb): unit attention, reservation, then the handler's own
    /// parse-and-execute. Unexpected exceptions become HARDWARE ERROR / INTERNAL TARGET FAILURE, never a dropped session.
    /// </summary>
    public override async ValueTask ExecuteAsync(ScsiTask task)
    {
        var descriptor = Commands.Find(task.Cdb, out var invalidServiceAction);
        var flags = descriptor?.Flags ?? CommandFlags.None;

        if ((flags & (CommandFlags.IgnoresUnitAttention | CommandFlags.ReportsUnitAttention)) == 0
            && UnitAttentions.TryTake(task.Nexus, out var ua))
        {
            SetSense(task, ua);
            return;
        }

        if (descriptor is null)
        {
            if (invalidServiceAction)
            {
                SetSense(task, SenseReason.InvalidFieldInCdb, SenseDetails.CdbField(1, 4));
            }
            else
            {
                SetSense(task, SenseReason.InvalidCommandOperationCode, SenseDetails.CdbField(0));
            }

            return;
        }

        if (task.Cdb.Length < descriptor.CdbLength)
        {
            SetSense(task, SenseReason.InvalidFieldInCdb, SenseDetails.CdbField(0));
            return;
        }

        // SAM-5 §5.2: the CONTROL byte's NACA bit asks for ACA, which we do not support (NormACA=0 in INQUIRY).
        var control = task.Cdb[descriptor.CdbLength - 1];
        if (task.OperationCode != 0x7F && (control & 0x04) != 0)
        {
            SetSense(task, SenseReason.InvalidFieldInCdb, SenseDetails.CdbField(descriptor.CdbLength - 1, 2));
            return;
        }

        if (Reservations.IsConflict(task, flags))
        {
            task.Status = ScsiStatus.ReservationConflict;
            return;
        }

        try
        {
            using var gate = await EnterAsync(flags, task.Aborted).ConfigureAwait(false);
            var outcome = await descriptor.Handler((TSelf)this, task).ConfigureAwait(false);
            Complete(task, outcome);
        }
        catch (OperationCanceledException) when (task.IsAborted)
        {
            task.Status = ScsiStatus.TaskAborted;
        }
        catch (Exception ex)
        {
            LogCommandFailed(Logger, ex, Lun, task.OperationCode);
            task.TrimDataIn(0);
            SetSense(task, SenseReason.InternalTargetFailure);
        }
    }

    private void Complete(ScsiTask task, in CommandOutcome outcome)
    {
        if (outcome.Reason != SenseReason.None)
        {
            SetSense(task, outcome.Reason, outcome.Details);
            if (outcome.Status != ScsiStatus.CheckCondition && outcome.Status != ScsiStatus.Good)
            {
                task.Status = outcome.Status;
            }
        }
        else
        {
            task.Status = outcome.Status;
        }
    }
}

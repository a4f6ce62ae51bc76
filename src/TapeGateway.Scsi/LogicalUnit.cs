using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
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

    // One holder at a time (the semaphore's count is 1), so one releaser serves every command: no allocation per call.
    private readonly Releaser _serialReleaser;

    protected LogicalUnit(Lun lun, LogicalUnitIdentity identity, ILogger logger)
    {
        Lun = lun;
        Identity = identity;
        Logger = logger;
        UnitAttentions = new UnitAttentionQueue();
        Reservations = new ReservationState(this);
        _serialReleaser = new Releaser(_serial);
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

    /// <summary>
    /// Standard INQUIRY version descriptors (SPC-4 §6.6.2, at most eight): SAM-5, iSCSI, SPC-4 and the command set
    /// standard of <see cref="DeviceType"/>. Personalities that mimic a specific drive may override the list.
    /// </summary>
    public virtual IReadOnlyList<ushort> VersionDescriptors => DeviceType switch
    {
        PeripheralDeviceType.DirectAccess => [0x00A0, 0x0960, 0x0460, 0x04C0], // + SBC-3
        PeripheralDeviceType.SequentialAccess => [0x00A0, 0x0960, 0x0460, 0x05C0], // + SSC-4
        PeripheralDeviceType.MediumChanger => [0x00A0, 0x0960, 0x0460, 0x0480], // + SMC-3
        _ => [0x00A0, 0x0960, 0x0460],
    };

    /// <summary>
    /// SPC-4 §6.6.2 PERIPHERAL QUALIFIER: 000b for real units; 011b only for the stand-in that answers LUNs without a
    /// logical unit (<see cref="MissingLun"/>).
    /// </summary>
    protected internal virtual byte PeripheralQualifier => 0;

    /// <summary>
    /// Whether the unit can execute media commands now (SPC-4 §6.37 TEST UNIT READY, §6.29 REQUEST SENSE): None when
    /// ready, otherwise the NOT READY reason (e.g. <see cref="SenseReason.MediumNotPresent"/> for an empty tape drive).
    /// </summary>
    protected internal virtual SenseReason CheckReady() => SenseReason.None;

    /// <summary>
    /// The block descriptor MODE SENSE returns (SPC-4 §7.5.5; SBC-3 §6.4.2 for disks: block count + block length;
    /// SSC-4 §8.3.2 for tapes: density code + block length), or null for none (changers). <paramref name="pageControl"/>
    /// is the PC field so a device type can report which descriptor fields are changeable.
    /// </summary>
    protected internal virtual ModeBlockDescriptor? GetModeBlockDescriptor(ModePageControl pageControl) => null;

    /// <summary>
    /// Applies a block descriptor sent with MODE SELECT. The default accepts only what MODE SENSE reports (a NUMBER
    /// OF BLOCKS of zero means "no change", SBC-3 §6.4.2.2); tapes override this to change density and block length.
    /// </summary>
    protected internal virtual bool TryApplyModeBlockDescriptor(in ModeBlockDescriptor requested)
    {
        if (GetModeBlockDescriptor(ModePageControl.Current) is not { } current)
        {
            return false;
        }

        return requested.BlockLength == current.BlockLength
            && (requested.BlockCount == 0 || requested.BlockCount == current.BlockCount)
            && (requested.DensityCode == 0 || requested.DensityCode == current.DensityCode);
    }

    /// <summary>
    /// MODE SENSE header DEVICE-SPECIFIC PARAMETER (SPC-4 §7.5.4): WP and DPOFUA for disks (SBC-3 §6.4.1), WP,
    /// BUFFERED MODE and SPEED for tapes (SSC-4 §8.3.1).
    /// </summary>
    protected internal virtual byte DeviceSpecificParameter => 0;

    /// <summary>
    /// Applies the DEVICE-SPECIFIC PARAMETER of a MODE SELECT header. Disks ignore it (WP/DPOFUA are reserved in MODE
    /// SELECT, SBC-3 §6.4.1); tapes override it for BUFFERED MODE. Return false to reject the value.
    /// </summary>
    protected internal virtual bool TryApplyDeviceSpecificParameter(byte value) => true;

    /// <summary>Called after MODE SELECT changed the current values of a page, so device types can react (e.g. WCE).</summary>
    protected internal virtual void OnModePageChanged(byte page, byte subpage)
    {
    }

    /// <summary>Device-type log pages beyond 0x00 (supported pages), subpage 0, ascending (SPC-4 §7.3).</summary>
    public virtual IReadOnlyList<byte> ExtraLogPages => [];

    /// <summary>Writes a device-type log page including its 4-byte header; returns its length, or -1 if unknown.</summary>
    protected internal virtual int WriteLogPage(byte page, byte subpage, byte pageControl, ushort parameterPointer, Span<byte> destination) => -1;

    /// <summary>REPORT SUPPORTED OPERATION CODES command timeouts (SPC-4 §6.35.4), in seconds; 0 = not specified.</summary>
    protected internal virtual (uint Nominal, uint Recommended) GetCommandTimeouts(byte opcode, ushort? serviceAction) => (0, 0);

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

            // SAM-5 §6.3.3: a reset reports 29/0x to every I_T nexus, the requester's included (as LIO does).
            case TaskManagementEvent.LogicalUnitReset:
                Reservations.OnReset();
                UnitAttentions.AddAll(SenseReason.BusDeviceResetFunctionOccurred);
                OnReset();
                break;

            // Deviation: after TARGET WARM RESET the requesting nexus gets no unit attention. It learns of the reset from
            // the TMF response; libiscsi's conformance suite resets the target and carries on in the same session, and
            // targets it was written against (LIO) refuse warm reset altogether, so a 29/02 there fails later tests.
            case TaskManagementEvent.TargetWarmReset:
                Reservations.OnReset();
                UnitAttentions.AddAllExcept(requester, SenseReason.ScsiBusResetOccurred);
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
        return _serialReleaser;
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
            .Select(d => new SupportedCommand(d.OperationCode, d.ServiceAction, d.CdbUsage, d.Name, d.SpecReference, d.Flags))
            .OrderBy(c => c.OperationCode).ThenBy(c => c.ServiceAction ?? 0)
            .ToArray();

    public bool HasServiceActions(byte opcode) => Commands.HasServiceActions(opcode);

    /// <summary>
    /// SPC-4 order of checks (as LIO's target_setup_cmd_from_cdb): unit attention, reservation, then the handler's own
    /// parse-and-execute. Unexpected exceptions become HARDWARE ERROR / INTERNAL TARGET FAILURE, never a dropped session.
    /// </summary>
    // Pooled state machine: a command that completes asynchronously (every disk and tape I/O) allocates nothing here.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
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
        catch (DataOutException)
        {
            task.TrimDataIn(0);
            SetSense(task, SenseReason.DataPhaseError);
        }
        catch (TapeStoreException ex)
        {
            // The medium's byte store (the object-store tier) failed. SPC-4 §4.5.6: unreadable bytes are a MEDIUM
            // ERROR (11/00), as on a real drive; a store that is only temporarily unable to serve (bucket unreachable,
            // upload buffer full past its timeout) changed nothing, so ABORTED COMMAND / SYSTEM RESOURCE FAILURE
            // tells the initiator to retry.
            LogCommandFailed(Logger, ex, Lun, task.OperationCode);
            task.TrimDataIn(0);
            SetSense(task, ex.Failure == TapeStoreFailure.MediumError ? SenseReason.UnrecoveredReadError : SenseReason.SystemResourceFailure);
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

namespace TapeGateway.Core.Scsi;

/// <summary>
/// A SCSI target device (SAM-5 §4.5): a set of logical units behind one name. The transport (iSCSI) knows only this
/// port; which device types sit behind it is the SCSI layer's business. Commands are passed in the order the
/// transport must deliver them (iSCSI CmdSN order); the target decides what may run concurrently.
/// </summary>
public interface IScsiTarget
{
    /// <summary>iSCSI qualified name (or another transport's target name).</summary>
    string Name { get; }

    /// <summary>Optional human-readable alias (RFC 7143 TargetAlias).</summary>
    string? Alias { get; }

    /// <summary>Runs one command to completion: status, sense and Data-In are set on the task when this completes.</summary>
    ValueTask ExecuteAsync(ScsiTask task);

    /// <summary>True when <paramref name="lun"/> addresses a logical unit (for task management on unknown LUNs).</summary>
    bool HasLun(Lun lun);

    /// <summary>A new I_T nexus logged in (SAM-5 §6.3.2: each LU reports POWER ON OR RESET to it first).</summary>
    void NexusCreated(ItNexus nexus);

    /// <summary>An I_T nexus is gone (session closed, dropped or reinstated, SAM-5 §6.3.4 I_T nexus loss).</summary>
    void NexusLost(ItNexus nexus);

    /// <summary>Task management: LOGICAL UNIT RESET, CLEAR TASK SET, TARGET WARM/COLD RESET side effects.</summary>
    void TaskManagement(TaskManagementEvent what, Lun lun, ItNexus requester);

    /// <summary>
    /// The SCSI layer asks the transport to abort every task of these I_T nexuses on a LUN (SPC-4 §5.12.11.2.3
    /// PREEMPT AND ABORT). The transport aborts them without status (TAS=0) and without waiting for the caller.
    /// </summary>
    event Action<Lun, IReadOnlyList<ItNexus>>? AbortRequested;
}

/// <summary>Side effects the SCSI layer must apply after the transport has aborted the affected tasks (SAM-5 §7).</summary>
public enum TaskManagementEvent
{
    /// <summary>Tasks of the requester were aborted (ABORT TASK SET): no unit attention for others.</summary>
    AbortTaskSet,

    /// <summary>All tasks on the LU were cleared (CLEAR TASK SET): other nexuses get 2F/00.</summary>
    ClearTaskSet,

    /// <summary>LOGICAL UNIT RESET: 29/03 for every nexus, SPC-2 reservations released.</summary>
    LogicalUnitReset,

    /// <summary>TARGET WARM RESET: 29/02 to all nexuses on all LUs.</summary>
    TargetWarmReset,

    /// <summary>TARGET COLD RESET: 29/01 to all nexuses on all LUs (the transport also drops every session).</summary>
    TargetColdReset,
}

/// <summary>The set of targets this gateway presents; the transport resolves login names against it.</summary>
public interface IScsiTargetRegistry
{
    IReadOnlyList<IScsiTarget> Targets { get; }

    IScsiTarget? Find(string name);
}

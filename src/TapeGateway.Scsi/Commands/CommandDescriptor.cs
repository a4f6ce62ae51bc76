using TapeGateway.Core.Scsi;

namespace TapeGateway.Scsi.Commands;

/// <summary>Per-command properties the shared checks need before a handler runs (LIO parse_cdb / gotgt PRConflictBits).</summary>
[Flags]
public enum CommandFlags
{
    None = 0,

    /// <summary>Runs even while a unit attention is pending and does not clear it (SPC-4 §5.14: INQUIRY, REPORT LUNS).</summary>
    IgnoresUnitAttention = 1 << 0,

    /// <summary>Reports and clears the pending unit attention as its own data (REQUEST SENSE).</summary>
    ReportsUnitAttention = 1 << 1,

    /// <summary>Allowed from a nexus that does not hold an SPC-2 RESERVE (SPC-2 §5.5.1 table 10).</summary>
    AllowedUnderReserve = 1 << 2,

    /// <summary>Allowed from a non-holder under Write Exclusive PR types (SPC-4 §5.12.1 table 64, "allowed" for WE).</summary>
    AllowedUnderWriteExclusive = 1 << 3,

    /// <summary>Allowed from a non-holder under Exclusive Access PR types.</summary>
    AllowedUnderExclusiveAccess = 1 << 4,

    /// <summary>Requires a mounted medium (tape); NOT READY 3A/00 otherwise.</summary>
    NeedsMedium = 1 << 5,

    /// <summary>Must not run concurrently with other commands on this LU (tape positioning, changer moves, PR OUT).</summary>
    Serialized = 1 << 6,

    /// <summary>
    /// May block its thread on media I/O (page-cache writes that can stall on dirty-page throttling, fsync, opening
    /// a tape image): never run on the transport's thread, which must keep reading PDUs (task management, other LUNs
    /// of the session). The unit runs it on a thread-pool worker once all its Data-Out has arrived; that worker then
    /// goes on with the commands queued behind it, so a stream of WRITEs costs one hop per burst, not per command.
    /// </summary>
    Blocking = 1 << 7,

    /// <summary>Commands that are always allowed regardless of any reservation (INQUIRY, REPORT LUNS, …).</summary>
    AllowedUnderAnyReservation = AllowedUnderReserve | AllowedUnderWriteExclusive | AllowedUnderExclusiveAccess,
}

/// <summary>
/// One entry of a device type's opcode table: the handler, its flags, and what REPORT SUPPORTED OPERATION CODES
/// says about it (SPC-4 §6.35: CDB length and usage bitmap).
/// </summary>
public sealed record CommandDescriptor<TUnit>(
    byte OperationCode,
    string Name,
    CommandHandler<TUnit> Handler,
    CommandFlags Flags,
    byte[] CdbUsage,
    ushort? ServiceAction = null,
    string SpecReference = "")
    where TUnit : LogicalUnit
{
    public int CdbLength => CdbUsage.Length;
}

public delegate ValueTask<CommandOutcome> CommandHandler<in TUnit>(TUnit unit, ScsiTask task)
    where TUnit : LogicalUnit;

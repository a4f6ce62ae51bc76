using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Commands;

/// <summary>
/// What a command handler returns: GOOD (data already on the task), a sense reason with details, or a bare status
/// such as RESERVATION CONFLICT. Result values, not exceptions, carry every expected failure.
/// </summary>
public readonly record struct CommandOutcome(ScsiStatus Status, SenseReason Reason, SenseDetails Details)
{
    public static CommandOutcome Good => default;

    public static CommandOutcome Conflict => new(ScsiStatus.ReservationConflict, SenseReason.None, default);

    public static CommandOutcome Busy => new(ScsiStatus.Busy, SenseReason.None, default);

    public bool IsGood => Status == ScsiStatus.Good && Reason == SenseReason.None;

    public static CommandOutcome Fail(SenseReason reason, in SenseDetails details = default) =>
        new(ScsiStatus.CheckCondition, reason, details);

    /// <summary>CHECK CONDITION, INVALID FIELD IN CDB with the field pointer set (SPC-4 §4.5.2.4.2).</summary>
    public static CommandOutcome InvalidCdbField(int bytePointer, int? bitPointer = null) =>
        Fail(SenseReason.InvalidFieldInCdb, SenseDetails.CdbField(bytePointer, bitPointer));

    public static CommandOutcome InvalidParameterField(int bytePointer, int? bitPointer = null) =>
        Fail(SenseReason.InvalidFieldInParameterList, SenseDetails.ParameterField(bytePointer, bitPointer));

    public static implicit operator ValueTask<CommandOutcome>(CommandOutcome outcome) => new(outcome);
}

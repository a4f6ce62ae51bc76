namespace TapeGateway.Core.Scsi;

/// <summary>SAM-5 §5.3.1 status codes.</summary>
public enum ScsiStatus : byte
{
    Good = 0x00,
    CheckCondition = 0x02,
    ConditionMet = 0x04,
    Busy = 0x08,
    ReservationConflict = 0x18,
    TaskSetFull = 0x28,
    AcaActive = 0x30,
    TaskAborted = 0x40,
}

/// <summary>SAM-5 §8.6 task attributes (carried in the iSCSI SCSI Command ATTR field, RFC 7143 §11.3.1).</summary>
public enum TaskAttribute : byte
{
    Untagged = 0,
    Simple = 1,
    Ordered = 2,
    HeadOfQueue = 3,
    Aca = 4,
}

/// <summary>Which data phases the initiator announced for a command (RFC 7143 §11.3.1 R and W bits).</summary>
[Flags]
public enum DataDirection : byte
{
    None = 0,
    Read = 1,
    Write = 2,
    Bidirectional = Read | Write,
}

namespace TapeGateway.Media.Tape;

/// <summary>
/// What READ POSITION reports (SSC-4 READ POSITION short and long forms), plus capacity figures for LOG SENSE.
/// </summary>
/// <param name="Partition">Active partition; every other figure is that partition's.</param>
/// <param name="LogicalObjectNumber">
/// Logical object number of the next object to be read or written = blocks + filemarks between BOP and the current
/// position (SSC-4 "first logical object location" / long-form LOGICAL OBJECT NUMBER).
/// </param>
/// <param name="FileNumber">Filemarks between BOP and the current position (long-form LOGICAL FILE IDENTIFIER).</param>
/// <param name="BlockNumberInFile">Blocks between the last filemark before the position (or BOP) and the position.</param>
/// <param name="AtBeginningOfPartition">BOP bit.</param>
/// <param name="BeyondEarlyWarning">EOP bit: positioned between early warning and end of partition.</param>
/// <param name="BeyondProgrammableEarlyWarning">BPEW bit: the position is past the programmable early-warning point (set by the drive, off by default).</param>
/// <param name="EndOfDataObjectNumber">Logical object number of EOD (= number of objects on the partition).</param>
/// <param name="BytesUsed">Bytes of the partition used by records (headers + stored, possibly compressed, payloads).</param>
/// <param name="CapacityBytes">Partition capacity in bytes (thin: only <paramref name="BytesUsed"/> occupy storage).</param>
/// <param name="EarlyWarningBytes">Size of the early-warning zone at the end of the partition.</param>
public readonly record struct TapePosition(
    int Partition,
    long LogicalObjectNumber,
    long FileNumber,
    long BlockNumberInFile,
    bool AtBeginningOfPartition,
    bool BeyondEarlyWarning,
    bool BeyondProgrammableEarlyWarning,
    long EndOfDataObjectNumber,
    long BytesUsed,
    long CapacityBytes,
    long EarlyWarningBytes)
{
    public bool AtEndOfData => LogicalObjectNumber == EndOfDataObjectNumber;

    public long RemainingBytes => Math.Max(0, CapacityBytes - BytesUsed);
}

namespace TapeGateway.Media.Tape;

/// <summary>Capacity and usage of one partition of a medium (SSC-4 §4.2.3).</summary>
/// <param name="Partition">Partition number, 0-based.</param>
/// <param name="CapacityBytes">Capacity of the partition in bytes of records (thin: only <paramref name="BytesUsed"/> take space).</param>
/// <param name="EarlyWarningBytes">Size of the early-warning zone at the end of the partition.</param>
/// <param name="BytesUsed">Bytes of records in the partition (headers + stored, possibly compressed, payloads).</param>
/// <param name="EndOfDataObjectNumber">Logical object number of the partition's EOD (= objects in it).</param>
public readonly record struct TapePartitionInfo(int Partition, long CapacityBytes, long EarlyWarningBytes, long BytesUsed, long EndOfDataObjectNumber)
{
    /// <summary>Most partitions a medium can have (LTO-6 and later drives: four; LTO-5: two).</summary>
    public const int MaxPartitions = 4;

    public long RemainingBytes => Math.Max(0, CapacityBytes - BytesUsed);
}

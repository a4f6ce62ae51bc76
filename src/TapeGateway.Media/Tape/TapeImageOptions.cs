namespace TapeGateway.Media.Tape;

/// <summary>Fixed properties of a new tape, chosen when the cartridge is "manufactured".</summary>
public sealed record TapeImageOptions
{
    private const long MiB = 1024 * 1024;

    /// <summary>Smallest capacity a tape can be created with, or scaled to (SET CAPACITY).</summary>
    public const long MinimumCapacityBytes = 64 * 1024;

    /// <summary>Capacity of partition 0 in bytes of stored records (headers + payloads after compression).</summary>
    public required long CapacityBytes { get; init; }

    /// <summary>
    /// Size of the early-warning zone at the end of the partition; null picks <see cref="DefaultEarlyWarningBytes"/>.
    /// </summary>
    public long? EarlyWarningBytes { get; init; }

    /// <summary>WORM cartridge: data can only be appended at EOD. Fixed for the life of the tape.</summary>
    public bool Worm { get; init; }

    /// <summary>Initial attributes (barcode, medium serial number, ...) written with the tape.</summary>
    public IReadOnlyList<TapeAttribute> InitialAttributes { get; init; } = [];

    /// <summary>
    /// The last max(1 %, 4 MiB) of the tape, but never more than half of it, so even a 16 MiB test tape has a usable
    /// region before early warning. Real drives put early warning tens to hundreds of MB before the physical end,
    /// enough for an application to flush its buffers and write trailer labels.
    /// </summary>
    public static long DefaultEarlyWarningBytes(long capacityBytes) =>
        Math.Min(capacityBytes / 2, Math.Max(capacityBytes / 100, 4 * MiB));

    internal long ResolvedEarlyWarningBytes => EarlyWarningBytes ?? DefaultEarlyWarningBytes(CapacityBytes);
}

/// <summary>Per-mount settings: how the drive that loads the tape behaves.</summary>
public sealed record TapeMountOptions
{
    public static TapeMountOptions Default { get; } = new();

    /// <summary>zstd level used when a block is written with compression (drive DCE on). 1 favours throughput.</summary>
    public int CompressionLevel { get; init; } = 1;

    /// <summary>
    /// Cores one compressed block may use at once: a block of at least twice <see cref="ChunkedCompressor.MinChunkLength"/>
    /// is cut into up to that many zstd frames compressed in parallel (1: one frame per block).
    /// </summary>
    public int CompressionParallelism { get; init; } = Math.Min(Environment.ProcessorCount, 4);

    /// <summary>Open without ever modifying the image (no torn-tail cut, no seal on unload, every write refused).</summary>
    public bool ReadOnly { get; init; }
}

/// <summary>What the open-time recovery found.</summary>
/// <param name="WasSealed">The tape left its last drive cleanly (an end-of-data seal was found).</param>
/// <param name="DiscardedBytes">Bytes of a torn tail (records never made durable, or half-written) cut at open.</param>
/// <param name="ObjectCount">Logical objects (blocks + filemarks) on the tape after recovery.</param>
/// <param name="DamagedAt">
/// Store offset of an unreadable record header inside the durable region (media damage, not a crash), or null. The
/// tape then ends there logically; reading at that point reports <see cref="TapeCondition.MediumError"/>, and the
/// bytes are kept until a write at that position replaces them.
/// </param>
/// <param name="FromCheckpoint">
/// The index came from the checkpoint behind the EOD seal, not from a scan of every record header.
/// </param>
public readonly record struct TapeRecoveryInfo(bool WasSealed, long DiscardedBytes, long ObjectCount, long? DamagedAt, bool FromCheckpoint = false);

using TapeGateway.Core.Buffers;

namespace TapeGateway.Media.Tape;

/// <summary>
/// A loaded tape as the SSC layer sees it: tape verbs in logical objects (SSC-4 4.2 logical objects: every block and
/// every filemark is one), outcomes as <see cref="TapeResult"/> values. One verb at a time: the drive serialises
/// commands, and an overlapping call throws <see cref="InvalidOperationException"/>.
/// Environment failures (the host disk is full, I/O errors of the store) surface as exceptions, not conditions.
/// </summary>
public interface ITapeMedium : IAsyncDisposable
{
    Guid MediumId { get; }

    bool IsWorm { get; }

    bool IsWriteProtected { get; }

    /// <summary>Capacity the cartridge was made with (the image's superblock); SET CAPACITY scales from it.</summary>
    long NativeCapacityBytes { get; }

    /// <summary>
    /// Effective capacity of the medium: <see cref="NativeCapacityBytes"/>, or less after <see cref="SetCapacityAsync"/>.
    /// On one partition everything that enforces or reports capacity (VOLUME OVERFLOW, early warning, READ POSITION)
    /// uses this one; on a partitioned medium each partition has its own (<see cref="GetPartition"/>), which these
    /// verbs use, and the partitions' capacities add up to at most this.
    /// </summary>
    long CapacityBytes { get; }

    /// <summary>Size of the early-warning zone at the end of <see cref="CapacityBytes"/> (scaled with it; per partition: <see cref="GetPartition"/>).</summary>
    long EarlyWarningBytes { get; }

    /// <summary>
    /// Programmable early warning (SSC-4 PEW): how many bytes before the early-warning point the first write to end
    /// past it reports <see cref="TapeCondition.ProgrammableEarlyWarning"/>; 0 (the default) turns it off. A drive
    /// setting (Device Configuration Extension mode page), applied by the drive; clamped to the record area.
    /// </summary>
    long ProgrammableEarlyWarningBytes { get; set; }

    TapeRecoveryInfo Recovery { get; }

    /// <summary>
    /// Data encryption (SSC-4 §4.2.21) the drive applies to the verbs that follow; null = none. A drive setting, kept in
    /// memory only: the keys never reach the image, only the encrypted blocks and their key-associated data do.
    /// </summary>
    TapeEncryption? Encryption { get; set; }

    /// <summary>
    /// What the object at the current position is, for SSC-4 Next Block Encryption Status: end of data, a filemark, or
    /// a block (compressed? encrypted? its key-associated data; whether <see cref="Encryption"/>'s key opens it).
    /// Moves nothing.
    /// </summary>
    ValueTask<TapeObjectInfo> DescribeNextObjectAsync(CancellationToken ct = default);

    /// <summary>
    /// Writes one block at the current position, discarding every object at or after it (tape semantics), and
    /// advances. With <paramref name="compress"/> the block is stored zstd-compressed if that makes it smaller.
    /// Ok / EarlyWarning (written, inside the EW zone) / VolumeOverflow (nothing written) / WriteProtected / WormOverwrite.
    /// </summary>
    ValueTask<TapeResult> WriteBlockAsync(ReadOnlyMemory<byte> data, bool compress, CancellationToken ct = default);

    /// <summary>
    /// Writes <paramref name="count"/> filemarks (0 = just synchronise). Unless <paramref name="immediate"/>, every
    /// object written so far is durable when this completes (SSC-4 WRITE FILEMARKS, IMMED=0). VolumeOverflow carries
    /// the number of filemarks not written as residue.
    /// </summary>
    ValueTask<TapeResult> WriteFilemarksAsync(int count, bool immediate, CancellationToken ct = default);

    /// <summary>
    /// Reads the object at the current position into <paramref name="destination"/>. Data block: Ok if it fills the
    /// buffer exactly, else IncorrectLength with the real length (data truncated to the buffer); advances either way.
    /// Filemark: FilemarkDetected, positioned after it. EOD: EndOfData, position unchanged. CRC failure: MediumError,
    /// positioned after the bad block so the next one can still be read.
    /// </summary>
    ValueTask<TapeResult> ReadBlockAsync(Memory<byte> destination, CancellationToken ct = default);

    /// <summary>
    /// As <see cref="ReadBlockAsync(Memory{byte}, CancellationToken)"/>, where <paramref name="owner"/> owns
    /// <paramref name="destination"/>: when the record fills it exactly and the medium already holds the verified bytes
    /// in a pooled buffer of its own (read-ahead), it may give that buffer to <paramref name="owner"/> instead of
    /// copying (<see cref="IDataBufferAdopter.Adopt"/>); <paramref name="destination"/> is then left as it was.
    /// </summary>
    ValueTask<TapeResult> ReadBlockAsync(Memory<byte> destination, IDataBufferAdopter owner, CancellationToken ct = default) =>
        ReadBlockAsync(destination, ct);

    /// <summary>
    /// SPACE over blocks (SSC-4 SPACE(6)/(16), code 0): positive forward, negative reverse. A filemark stops it
    /// (FilemarkDetected; forward after the mark, reverse before it), as do EOD and BOP; residue = blocks not spaced.
    /// </summary>
    ValueTask<TapeResult> SpaceBlocksAsync(long count, CancellationToken ct = default);

    /// <summary>
    /// SPACE over filemarks (code 1): forward ends after the |count|-th filemark, reverse ends on its BOP side.
    /// EndOfData / BeginningOfMedium with residue = filemarks not spaced.
    /// </summary>
    ValueTask<TapeResult> SpaceFilemarksAsync(long count, CancellationToken ct = default);

    /// <summary>SPACE to end of data (code 3): positioned where the next object would be appended.</summary>
    ValueTask<TapeResult> SpaceToEndOfDataAsync(CancellationToken ct = default);

    /// <summary>
    /// LOCATE to a logical object number (SSC-4 LOCATE(10)/(16)). Up to and including EOD: Ok. Beyond EOD:
    /// EndOfData, positioned at EOD.
    /// </summary>
    ValueTask<TapeResult> LocateAsync(long logicalObjectNumber, CancellationToken ct = default);

    /// <summary>REWIND: makes buffered objects durable, then positions at BOP of the active partition.</summary>
    ValueTask<TapeResult> RewindAsync(CancellationToken ct = default);

    /// <summary>READ POSITION data for the current position. In memory only.</summary>
    TapePosition ReadPosition();

    /// <summary>
    /// ERASE from the current position to the end of the partition (short and long erase are the same here: EOD is
    /// the current position afterwards). Durable when it completes. WORM: only at EOD.
    /// </summary>
    ValueTask<TapeResult> EraseAsync(CancellationToken ct = default);

    /// <summary>
    /// SET CAPACITY: every object on the tape is lost, the position is BOP, and the capacity becomes
    /// <paramref name="capacityBytes"/> (from the smaller of 64 KiB and <see cref="NativeCapacityBytes"/> up to
    /// <see cref="NativeCapacityBytes"/>, which restores the full tape). Durable and kept with the cartridge until the
    /// next call. WriteProtected; WormOverwrite on a WORM tape that holds data (nothing changed either way).
    /// </summary>
    ValueTask<TapeResult> SetCapacityAsync(long capacityBytes, CancellationToken ct = default);

    /// <summary>
    /// Partitions on the medium (SSC-4 §4.2.3 partitions within a volume): 1 unless <see cref="FormatPartitionsAsync"/>
    /// made more. Every verb without a partition argument acts on the active partition (<see cref="TapePosition.Partition"/>).
    /// </summary>
    int PartitionCount { get; }

    /// <summary>Capacity and usage of one partition (log page 31h, MAM 0000h/0001h); <paramref name="partition"/> &lt; <see cref="PartitionCount"/>.</summary>
    TapePartitionInfo GetPartition(int partition);

    /// <summary>
    /// LOCATE with CHANGE PARTITION (SSC-4 LOCATE(10)/(16), CP=1): makes buffered objects durable, makes
    /// <paramref name="partition"/> the active partition and positions at <paramref name="logicalObjectNumber"/> in it,
    /// as <see cref="LocateAsync(long, CancellationToken)"/> does within one partition (beyond EOD: EndOfData, at EOD).
    /// </summary>
    ValueTask<TapeResult> LocateAsync(int partition, long logicalObjectNumber, CancellationToken ct = default);

    /// <summary>
    /// FORMAT MEDIUM (SSC-4 §7.2) with a partition layout: every object of every partition is lost, the medium gets
    /// <c>capacities.Count</c> partitions (1 ..<see cref="TapePartitionInfo.MaxPartitions"/>) with
    /// <c>capacities[k]</c> bytes of records each (each ≥ 1, together ≤ <see cref="CapacityBytes"/>), and the position is
    /// BOP of partition 0. Durable and kept with the cartridge. One capacity equal to <see cref="CapacityBytes"/> is the
    /// default single-partition format. WriteProtected; WormOverwrite on a WORM tape that holds data (nothing changed
    /// either way).
    /// </summary>
    ValueTask<TapeResult> FormatPartitionsAsync(IReadOnlyList<long> capacities, CancellationToken ct = default);

    /// <summary>Reads one MAM attribute of <paramref name="partition"/> (&lt; <see cref="PartitionCount"/>, else ArgumentOutOfRange); false if it is not set.</summary>
    bool TryGetAttribute(int partition, ushort id, out ReadOnlyMemory<byte> value);

    /// <summary>Identifiers of the attributes set on <paramref name="partition"/>, ascending.</summary>
    IReadOnlyList<ushort> GetAttributeIds(int partition);

    /// <summary>As <see cref="WriteAttributesAsync(IReadOnlyList{TapeAttribute}, CancellationToken)"/>, for <paramref name="partition"/>.</summary>
    ValueTask<TapeResult> WriteAttributesAsync(int partition, IReadOnlyList<TapeAttribute> attributes, CancellationToken ct = default);

    /// <summary>Makes every object written so far durable (SYNCHRONIZE / WRITE FILEMARKS 0).</summary>
    ValueTask FlushAsync(CancellationToken ct = default);

    /// <summary>The cartridge's write-protect tab (per mount; the catalog persists it).</summary>
    void SetWriteProtected(bool writeProtected);

    /// <summary>Reads one attribute of partition 0 (MAM); false if it is not set.</summary>
    bool TryGetAttribute(ushort id, out ReadOnlyMemory<byte> value);

    /// <summary>Identifiers of the attributes set on partition 0, ascending.</summary>
    IReadOnlyList<ushort> GetAttributeIds();

    /// <summary>
    /// Sets (or, with an empty value, deletes) attributes atomically and durably: all or none survive a crash.
    /// WriteProtected if the cartridge is protected; AttributeSpaceExhausted if they do not fit.
    /// </summary>
    ValueTask<TapeResult> WriteAttributesAsync(IReadOnlyList<TapeAttribute> attributes, CancellationToken ct = default);

    /// <summary>
    /// Device-maintained LOAD COUNT (0x0003, 8-byte big-endian) + 1, durable. Not subject to write protection: the
    /// drive, not the host, maintains it. Returns the new count.
    /// </summary>
    ValueTask<long> IncrementLoadCountAsync(CancellationToken ct = default);

    /// <summary>
    /// The tape leaves the drive: every object is made durable and the end-of-data seal written. The medium cannot
    /// be used afterwards. <see cref="IAsyncDisposable.DisposeAsync"/> does the same.
    /// </summary>
    ValueTask UnloadAsync(CancellationToken ct = default);
}

public enum TapeObjectKind
{
    EndOfData,
    Filemark,
    Block,

    /// <summary>The record fails its integrity checks (a read would report a medium error).</summary>
    Unreadable,
}

/// <summary>
/// The next object on the tape (<see cref="ITapeMedium.DescribeNextObjectAsync"/>). For an encrypted block: the
/// U-KAD and A-KAD recorded with it, and <see cref="KeyOpens"/> — null without a decryption key, else whether that key
/// decrypts it.
/// </summary>
public sealed record TapeObjectInfo(
    TapeObjectKind Kind,
    long ObjectNumber,
    bool Compressed = false,
    bool Encrypted = false,
    byte[]? UnauthenticatedKad = null,
    byte[]? AuthenticatedKad = null,
    bool? KeyOpens = null);


using System.Buffers.Binary;
using System.IO.Hashing;

namespace TapeGateway.Media.Tape;

/// <summary>
/// On-disk layout of a TapeGateway tape image, format 1.2 (see docs/media-format.md). All integers little-endian.
/// Every structure carries a CRC32C so a torn or rotten write is detected, never trusted.
/// </summary>
internal static class TapeFormat
{
    public const ushort MajorVersion = 1;
    public const ushort MinorVersion = 3;

    // Region map. Offsets are fixed so recovery never depends on a pointer that could itself be torn.
    public const int SuperblockSize = 4096;
    public const long MarkSlotOffset = 4096;
    public const int MarkSlotSize = 512;
    public const long AttributeSlotOffset = 8192;
    public const int AttributeSlotSize = 64 * 1024;
    public const long DataStart = AttributeSlotOffset + (2 * AttributeSlotSize); // 139264

    public const int RecordHeaderSize = 32;

    /// <summary>Largest block: SSC's 24-bit transfer length (READ(6)/WRITE(6) variable mode).</summary>
    public const int MaxBlockLength = 0xFF_FFFF;

    public static ReadOnlySpan<byte> SuperblockMagic => "TGWTAPE\u001A"u8;

    public const uint MarkMagic = 0x4D44_4754; // "TGDM"
    public const uint AttributeMagic = 0x5441_4754; // "TGAT"
    public const uint RecordMagic = 0x4352_4754; // "TGRC"

    public const int AttributeSlotHeaderSize = 16;
    public const int AttributeEntryHeaderSize = 6;
    public const int MaxAttributeBytes = AttributeSlotSize - AttributeSlotHeaderSize - 4;

    public const uint SuperblockFlagWorm = 1;

    /// <summary>
    /// Partition byte of attribute entries the image keeps for itself (format 1.1): not MAM, never listed or returned
    /// as an attribute. Readers before 1.1 load them with the rest, list only partition 0 and write them back unchanged.
    /// </summary>
    public const byte InternalAttributePartition = 0xFF;

    /// <summary>
    /// Internal entry: the partition 0 capacity SET CAPACITY selected (int64, bytes of records, less than the superblock
    /// capacity). Absent = the full superblock capacity.
    /// </summary>
    public const int ScaledCapacityKey = (InternalAttributePartition << 16) | 0x0000;

    /// <summary>
    /// Internal entry (format 1.2): the partition layout FORMAT MEDIUM selected: u8 partition count (2..4), then that
    /// many int64 capacities (bytes of records). Absent = one partition with the effective capacity.
    /// </summary>
    public const int PartitionLayoutKey = (InternalAttributePartition << 16) | 0x0001;

    /// <summary>
    /// Internal entry (format 1.2): the volume's lifetime statistics up to its last unload, 4 × int64 little endian:
    /// host bytes written, host bytes read, blocks written, blocks read. Absent = a volume never unloaded since 1.2.
    /// </summary>
    public const int LifetimeStatisticsKey = (InternalAttributePartition << 16) | 0x0002;

    public static uint Crc(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    // ---- Superblock ---------------------------------------------------------------------------------------------

    public static void WriteSuperblock(Span<byte> sb, in SuperblockInfo info)
    {
        sb[..SuperblockSize].Clear();
        SuperblockMagic.CopyTo(sb);
        BinaryPrimitives.WriteUInt16LittleEndian(sb[8..], MajorVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(sb[10..], MinorVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(sb[12..], SuperblockSize);
        BinaryPrimitives.WriteUInt32LittleEndian(sb[16..], info.Worm ? SuperblockFlagWorm : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(sb[20..], 1); // partition count; partition 1 fields reserved below
        BinaryPrimitives.WriteInt64LittleEndian(sb[24..], info.CapacityBytes);
        BinaryPrimitives.WriteInt64LittleEndian(sb[32..], info.EarlyWarningBytes);
        // 40..55: partition 1 capacity / early warning (reserved, zero)
        BinaryPrimitives.WriteInt64LittleEndian(sb[56..], DataStart);
        // 64..71: partition 1 data start (reserved, zero)
        info.MediumId.TryWriteBytes(sb[72..88]);
        BinaryPrimitives.WriteInt64LittleEndian(sb[88..], info.CreatedUnixMs);
        BinaryPrimitives.WriteUInt32LittleEndian(sb[(SuperblockSize - 4)..], Crc(sb[..(SuperblockSize - 4)]));
    }

    public static SuperblockInfo ReadSuperblock(ReadOnlySpan<byte> sb)
    {
        if (sb.Length < SuperblockSize || !sb[..8].SequenceEqual(SuperblockMagic))
        {
            throw new InvalidDataException("Not a TapeGateway tape image (bad superblock magic).");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(sb[(SuperblockSize - 4)..]) != Crc(sb[..(SuperblockSize - 4)]))
        {
            throw new InvalidDataException("Tape image superblock is damaged (CRC mismatch).");
        }

        var major = BinaryPrimitives.ReadUInt16LittleEndian(sb[8..]);
        if (major != MajorVersion)
        {
            throw new InvalidDataException($"Unsupported tape image format version {major} (this build reads {MajorVersion}).");
        }

        var partitions = BinaryPrimitives.ReadUInt32LittleEndian(sb[20..]);
        var dataStart = BinaryPrimitives.ReadInt64LittleEndian(sb[56..]);
        if (partitions != 1 || dataStart != DataStart)
        {
            throw new InvalidDataException($"Unsupported tape image layout (partitions {partitions}, data start {dataStart}).");
        }

        return new SuperblockInfo(
            CapacityBytes: BinaryPrimitives.ReadInt64LittleEndian(sb[24..]),
            EarlyWarningBytes: BinaryPrimitives.ReadInt64LittleEndian(sb[32..]),
            Worm: (BinaryPrimitives.ReadUInt32LittleEndian(sb[16..]) & SuperblockFlagWorm) != 0,
            MediumId: new Guid(sb[72..88]),
            CreatedUnixMs: BinaryPrimitives.ReadInt64LittleEndian(sb[88..]));
    }

    // ---- Durable-end mark (two slots, highest valid sequence wins) ---------------------------------------------

    public static void WriteMark(Span<byte> slot, ulong sequence, long durableEnd)
    {
        slot[..MarkSlotSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(slot, MarkMagic);
        BinaryPrimitives.WriteUInt64LittleEndian(slot[8..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(slot[16..], durableEnd);
        // 24..31: partition 1 durable end (reserved, zero)
        BinaryPrimitives.WriteUInt32LittleEndian(slot[(MarkSlotSize - 4)..], Crc(slot[..(MarkSlotSize - 4)]));
    }

    public static bool TryReadMark(ReadOnlySpan<byte> slot, out ulong sequence, out long durableEnd)
    {
        sequence = 0;
        durableEnd = 0;
        if (slot.Length < MarkSlotSize
            || BinaryPrimitives.ReadUInt32LittleEndian(slot) != MarkMagic
            || BinaryPrimitives.ReadUInt32LittleEndian(slot[(MarkSlotSize - 4)..]) != Crc(slot[..(MarkSlotSize - 4)]))
        {
            return false;
        }

        sequence = BinaryPrimitives.ReadUInt64LittleEndian(slot[8..]);
        durableEnd = BinaryPrimitives.ReadInt64LittleEndian(slot[16..]);
        return true;
    }

    // ---- Record header --------------------------------------------------------------------------------------------

    public static void WriteRecordHeader(Span<byte> h, RecordType type, bool compressed, int storedLength, int logicalLength, long objectNumber, uint payloadCrc, int partition = 0, bool encrypted = false)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(h, RecordMagic);
        h[4] = (byte)type;
        h[5] = (byte)((compressed ? RecordFlagCompressed : 0) | (encrypted ? RecordFlagEncrypted : 0));
        h[6] = (byte)partition; // format 1.2: the partition the record belongs to (0 on single-partition media)
        h[7] = 0; // reserved
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], storedLength);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], logicalLength);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], objectNumber);
        BinaryPrimitives.WriteUInt32LittleEndian(h[24..], payloadCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(h[28..], Crc(h[..28]));
    }

    public const byte RecordFlagCompressed = 1;

    /// <summary>Format 1.3: the payload is an AES-256-GCM envelope (<see cref="TapeCipher"/>) of the stored block.</summary>
    public const byte RecordFlagEncrypted = 2;

    /// <summary>The smallest encrypted payload: envelope head, one byte of ciphertext, tag.</summary>
    private const int MinEncryptedPayload = TapeCipher.HeadLength + 1 + TapeCipher.TagLength;

    /// <summary>
    /// Validates a header in isolation: magic, CRC, known type, sane lengths and the expected partition and logical
    /// object number (which also catches a valid-looking record left at the wrong place).
    /// </summary>
    public static bool TryReadRecordHeader(ReadOnlySpan<byte> h, long expectedObjectNumber, out RecordHeader header) =>
        TryReadRecordHeader(h, 0, expectedObjectNumber, out header);

    /// <inheritdoc cref="TryReadRecordHeader(ReadOnlySpan{byte}, long, out RecordHeader)"/>
    public static bool TryReadRecordHeader(ReadOnlySpan<byte> h, int expectedPartition, long expectedObjectNumber, out RecordHeader header) =>
        TryParseRecordHeader(h, out header) && header.Partition == expectedPartition && header.ObjectNumber == expectedObjectNumber;

    /// <summary>
    /// Validates a header's own consistency (magic, CRC, known type, sane lengths) without placing it: the open-time
    /// scan of a partitioned medium decides from partition and object number whether the record applies.
    /// </summary>
    public static bool TryParseRecordHeader(ReadOnlySpan<byte> h, out RecordHeader header)
    {
        header = default;
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != RecordMagic
            || BinaryPrimitives.ReadUInt32LittleEndian(h[28..]) != Crc(h[..28]))
        {
            return false;
        }

        var type = (RecordType)h[4];
        var flags = h[5];
        var stored = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        var logical = BinaryPrimitives.ReadInt32LittleEndian(h[12..]);
        var lon = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
        var compressed = (flags & RecordFlagCompressed) != 0;
        var encrypted = (flags & RecordFlagEncrypted) != 0;

        // An encrypted payload is an envelope: its size relates to the block only through the KAD lengths inside it,
        // so the header can just bound it (the envelope itself is checked when it is opened).
        var valid = type switch
        {
            RecordType.Data => stored > 0 && logical > 0 && logical <= MaxBlockLength
                && (encrypted ? stored >= MinEncryptedPayload && stored <= MaxBlockLength + MaxEncryptedOverhead
                    : compressed ? stored < logical : stored == logical),
            RecordType.Filemark or RecordType.EndOfData or RecordType.PartitionEnd => stored == 0 && logical == 0 && flags == 0,
            _ => false,
        };
        if (!valid || h[6] >= MaxPartitions || (flags & ~(RecordFlagCompressed | RecordFlagEncrypted)) != 0 || lon < 0)
        {
            return false;
        }

        header = new RecordHeader(type, compressed, stored, logical, BinaryPrimitives.ReadUInt32LittleEndian(h[24..]), h[6], lon, encrypted);
        return true;
    }

    private const int MaxPartitions = TapePartitionInfo.MaxPartitions;

    /// <summary>The largest envelope overhead: head, both KADs at their maximum, tag.</summary>
    public const int MaxEncryptedOverhead = TapeCipher.HeadLength + TapeCipher.MaxUnauthenticatedKadLength + TapeCipher.MaxAuthenticatedKadLength + TapeCipher.TagLength;
}

internal enum RecordType : byte
{
    Data = 1,
    Filemark = 2,

    /// <summary>Seal written when a tape leaves a drive cleanly; marks EOD explicitly. Not a logical object.</summary>
    EndOfData = 3,

    /// <summary>
    /// Partition end (format 1.2): not a logical object. Its partition ends at its object number: an ERASE in a
    /// partition whose records are not at the end of the stream, where the bytes cannot be cut.
    /// </summary>
    PartitionEnd = 4,
}

internal readonly record struct RecordHeader(RecordType Type, bool Compressed, int StoredLength, int LogicalLength, uint PayloadCrc, int Partition = 0, long ObjectNumber = 0, bool Encrypted = false);

internal readonly record struct SuperblockInfo(long CapacityBytes, long EarlyWarningBytes, bool Worm, Guid MediumId, long CreatedUnixMs);

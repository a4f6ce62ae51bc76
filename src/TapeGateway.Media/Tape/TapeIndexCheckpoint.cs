using System.Buffers.Binary;

namespace TapeGateway.Media.Tape;

/// <summary>
/// Layout of the index checkpoint a sealed tape carries after its EOD record (docs/media-format.md, "Index
/// checkpoint"): a header, the record sizes as varints, and a fixed-size trailer at the very end of the image that
/// points back at the header. A mount reads the trailer, the checkpoint and two record headers instead of scanning
/// every header, which for a tape in object storage would mean fetching every segment. It is never the source of
/// truth: any doubt (a CRC, a size, a header that disagrees) and the mount scans as it always did. Version 1 lists one
/// size per object of a single-partition medium; version 2 lists every record of a partitioned medium's stream.
/// </summary>
internal static class TapeIndexCheckpoint
{
    public const uint HeaderMagic = 0x5849_4754; // "TGIX"
    public const ulong TrailerMagic = 0x444E_4558_4958_4754; // "TGXIXEND"
    public const uint Version = 1;
    public const int HeaderSize = 32;
    public const int TrailerSize = 40;

    /// <summary>A tape with more records than this (varints of a few bytes each) is scanned instead: the checkpoint
    /// would cost more memory at unload than the scan costs at mount.</summary>
    public const long MaxPayloadBytes = 512L << 20;

    /// <summary>Smallest image that can hold a checkpoint: metadata, the EOD record, a header and a trailer.</summary>
    public const long MinImageLength = TapeFormat.DataStart + TapeFormat.RecordHeaderSize + HeaderSize + TrailerSize;

    // Everything is written in order (header, payload, trailer) — a store in front of object storage wants appends —
    // so what is known only at the end (the payload's length and hash) lives in the trailer.
    // Header: magic u32 | version u32 | object count i64 | EOD offset i64 | reserved u32 | CRC32C u32 (bytes 0..27)
    public static void WriteHeader(Span<byte> h, long objectCount, long eodOffset) =>
        WriteHeader(h, Version, objectCount, eodOffset, partitions: 0);

    // magic u32 | version u32 | count i64 | EOD offset i64 | partition count u8 (version 2; 0 in version 1) | 0 (3) |
    // CRC32C u32 of bytes 0..27.
    private static void WriteHeader(Span<byte> h, uint version, long count, long eodOffset, int partitions)
    {
        h[..HeaderSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(h, HeaderMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], version);
        BinaryPrimitives.WriteInt64LittleEndian(h[8..], count);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], eodOffset);
        h[24] = (byte)partitions;
        BinaryPrimitives.WriteUInt32LittleEndian(h[28..], TapeFormat.Crc(h[..28]));
    }

    public static bool TryReadHeader(ReadOnlySpan<byte> h, out long objectCount, out long eodOffset) =>
        TryReadHeader(h, out var version, out objectCount, out eodOffset, out _) && version == Version;

    /// <summary>
    /// Reads a header of either version. Version 1: <paramref name="count"/> is the object count and the byte at 24 is
    /// reserved (0). Version 2 (partitioned media): <paramref name="count"/> is the number of entries (records in the
    /// stream, the seal excluded) and byte 24 the partition count. Any other version is refused.
    /// </summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> h, out uint version, out long count, out long eodOffset, out int partitions)
    {
        version = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        count = BinaryPrimitives.ReadInt64LittleEndian(h[8..]);
        eodOffset = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
        partitions = h[24];
        return BinaryPrimitives.ReadUInt32LittleEndian(h) == HeaderMagic
            && version is Version or PartitionedVersion
            && (version == Version || (h[25] | h[26] | h[27]) == 0)
            && BinaryPrimitives.ReadUInt32LittleEndian(h[28..]) == TapeFormat.Crc(h[..28])
            && count >= 0 && eodOffset >= TapeFormat.DataStart;
    }

    // ---- Version 2: partitioned media ------------------------------------------------------------------------------
    // The partitions interleave and supersede each other in the one stream, so the entries are the stream itself: one
    // per record in stream order, garbage and partition ends included. A mount replays them exactly as the header
    // scan replays the headers, which rebuilds every partition's index, the tail run and the end of the stream.

    public const uint PartitionedVersion = 2;

    /// <summary>Head varint and object-number varint of one version-2 entry at most.</summary>
    public const int MaxPartitionedEntryBytes = 5 + 10;

    private const ulong EntryPartitionEnd = 1; // bit 0: a partition-end record (type 4), no payload
    private const ulong EntryExplicitObject = 2; // bit 1: the record's object number follows as a second varint
    private const int EntryPartitionShift = 2; // bits 2-3: the partition
    private const int EntrySizeShift = 4; // bits 4+: stored payload bytes (0: a filemark, or a partition end)

    /// <summary>Version-2 header: as version 1 with the entry count in place of the object count and the partition count in byte 24.</summary>
    public static void WritePartitionedHeader(Span<byte> h, long entryCount, long eodOffset, int partitions) =>
        WriteHeader(h, PartitionedVersion, entryCount, eodOffset, partitions);

    /// <summary>
    /// Encodes one record of a partitioned stream. <paramref name="objectNumber"/> is written only when
    /// <paramref name="explicitObject"/> is set: a record that hid older ones (its object number is below the
    /// partition's EOD at that point of the stream); otherwise the record was appended at the partition's EOD.
    /// </summary>
    public static int WritePartitionedEntry(Span<byte> destination, RecordType type, int partition, int storedLength, bool explicitObject, long objectNumber)
    {
        var head = ((ulong)storedLength << EntrySizeShift) | ((ulong)partition << EntryPartitionShift)
            | (explicitObject ? EntryExplicitObject : 0) | (type == RecordType.PartitionEnd ? EntryPartitionEnd : 0);
        var n = WriteVarint(destination, head);
        if (explicitObject)
        {
            n += WriteVarint(destination[n..], (ulong)objectNumber);
        }

        return n;
    }

    /// <summary>
    /// Decodes one version-2 entry. False when the bytes end inside it or it is malformed (a varint longer than 10
    /// bytes, a payload on a partition end, a size past any block); the caller tells the two apart by how many bytes
    /// it had. <paramref name="objectNumber"/> is -1 when the entry does not carry one.
    /// </summary>
    public static bool TryReadPartitionedEntry(ReadOnlySpan<byte> source, out RecordType type, out int partition, out int storedLength, out long objectNumber, out int consumed)
    {
        type = RecordType.Data;
        partition = 0;
        storedLength = 0;
        objectNumber = -1;
        if (!TryReadVarint(source, out var head, out consumed))
        {
            return false;
        }

        var stored = head >> EntrySizeShift;
        if (stored > TapeFormat.MaxBlockLength || ((head & EntryPartitionEnd) != 0 && stored != 0))
        {
            return false;
        }

        storedLength = (int)stored;
        partition = (int)((head >> EntryPartitionShift) & 3);
        type = (head & EntryPartitionEnd) != 0 ? RecordType.PartitionEnd : stored == 0 ? RecordType.Filemark : RecordType.Data;
        if ((head & EntryExplicitObject) != 0)
        {
            if (!TryReadVarint(source[consumed..], out var lon, out var more) || lon > long.MaxValue)
            {
                consumed = 0;
                return false;
            }

            objectNumber = (long)lon;
            consumed += more;
        }

        return true;
    }

    /// <summary>Stored payload bytes of the head varint that starts <paramref name="entry"/> (the log needs it when it drops entries).</summary>
    public static int StoredLengthOf(ReadOnlySpan<byte> entry)
    {
        TryReadVarint(entry, out var head, out _);
        return (int)(head >> EntrySizeShift);
    }

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        var n = 0;
        while (value >= 0x80)
        {
            destination[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[n++] = (byte)value;
        return n;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> source, out ulong value, out int consumed)
    {
        value = 0;
        for (consumed = 0; consumed < source.Length && consumed < 10; consumed++)
        {
            var b = source[consumed];
            var bits = (ulong)(b & 0x7F);
            if (consumed == 9 && bits > 1)
            {
                return false; // past 64 bits
            }

            value |= bits << (7 * consumed);
            if (b < 0x80)
            {
                consumed++;
                return true;
            }
        }

        return false;
    }

    // Trailer: magic u64 | checkpoint offset i64 | checkpoint length (header + payload) i64 | payload XXH3-64 u64 |
    //          reserved u32 | CRC32C u32 (bytes 0..35). XXH3 for the payload because it hashes chunk by chunk.
    public static void WriteTrailer(Span<byte> t, long checkpointOffset, long checkpointLength, ulong payloadHash)
    {
        t[..TrailerSize].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(t, TrailerMagic);
        BinaryPrimitives.WriteInt64LittleEndian(t[8..], checkpointOffset);
        BinaryPrimitives.WriteInt64LittleEndian(t[16..], checkpointLength);
        BinaryPrimitives.WriteUInt64LittleEndian(t[24..], payloadHash);
        BinaryPrimitives.WriteUInt32LittleEndian(t[36..], TapeFormat.Crc(t[..36]));
    }

    public static bool TryReadTrailer(ReadOnlySpan<byte> t, out long checkpointOffset, out long checkpointLength, out ulong payloadHash)
    {
        checkpointOffset = BinaryPrimitives.ReadInt64LittleEndian(t[8..]);
        checkpointLength = BinaryPrimitives.ReadInt64LittleEndian(t[16..]);
        payloadHash = BinaryPrimitives.ReadUInt64LittleEndian(t[24..]);
        return BinaryPrimitives.ReadUInt64LittleEndian(t) == TrailerMagic
            && BinaryPrimitives.ReadUInt32LittleEndian(t[36..]) == TapeFormat.Crc(t[..36])
            && checkpointLength >= HeaderSize && checkpointLength - HeaderSize <= MaxPayloadBytes;
    }

    /// <summary>Encodes one record: its stored size (header included) shifted left, the low bit set for a filemark.</summary>
    public static int WriteEntry(Span<byte> destination, long recordSize, bool filemark)
    {
        return WriteVarint(destination, ((ulong)recordSize << 1) | (filemark ? 1UL : 0UL));
    }

    /// <summary>Decodes one entry; false when the bytes end inside it or it is longer than any record size can be.</summary>
    public static bool TryReadEntry(ReadOnlySpan<byte> source, out long recordSize, out bool filemark, out int consumed)
    {
        ulong value = 0;
        recordSize = 0;
        filemark = false;
        for (consumed = 0; consumed < source.Length && consumed < 7; consumed++)
        {
            var b = source[consumed];
            value |= (ulong)(b & 0x7F) << (7 * consumed);
            if (b < 0x80)
            {
                consumed++;
                recordSize = (long)(value >> 1);
                filemark = (value & 1) != 0;
                return true;
            }
        }

        return false;
    }

    public const int MaxEntryBytes = 7;
}

using System.Buffers.Binary;

namespace TapeGateway.Media.Tape;

/// <summary>
/// Layout of the index checkpoint a sealed tape carries after its EOD record (docs/media-format.md, "Index
/// checkpoint"): a header, the record sizes as varints, and a fixed-size trailer at the very end of the image that
/// points back at the header. A mount reads the trailer, the checkpoint and two record headers instead of scanning
/// every header, which for a tape in object storage would mean fetching every segment. It is never the source of
/// truth: any doubt (a CRC, a size, a header that disagrees) and the mount scans as it always did.
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
    public static void WriteHeader(Span<byte> h, long objectCount, long eodOffset)
    {
        h[..HeaderSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(h, HeaderMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(h[8..], objectCount);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], eodOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(h[28..], TapeFormat.Crc(h[..28]));
    }

    public static bool TryReadHeader(ReadOnlySpan<byte> h, out long objectCount, out long eodOffset)
    {
        objectCount = BinaryPrimitives.ReadInt64LittleEndian(h[8..]);
        eodOffset = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
        return BinaryPrimitives.ReadUInt32LittleEndian(h) == HeaderMagic
            && BinaryPrimitives.ReadUInt32LittleEndian(h[4..]) == Version
            && BinaryPrimitives.ReadUInt32LittleEndian(h[28..]) == TapeFormat.Crc(h[..28])
            && objectCount >= 0 && eodOffset >= TapeFormat.DataStart;
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
        var value = ((ulong)recordSize << 1) | (filemark ? 1UL : 0UL);
        var n = 0;
        while (value >= 0x80)
        {
            destination[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[n++] = (byte)value;
        return n;
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

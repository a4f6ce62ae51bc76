namespace TapeGateway.Media.Tape;

/// <summary>
/// The record stream of a partitioned medium as version-2 checkpoint entries (docs/media-format.md, "Index
/// checkpoint"), kept while mounted so the unload can write the checkpoint without reading a header. The indexes
/// cannot provide it: they hold only live objects, and the checkpoint must also describe the garbage that superseded
/// records left in the stream and the partition ends, since the mount replays them exactly as the scan would.
/// </summary>
/// <remarks>
/// Bytes in 64 KiB chunks (growth never copies a large array), a few bytes per record. The stream only grows at its
/// end and is only cut at its end, so the log does the same: <see cref="RemoveLast"/> walks back over the varints.
/// </remarks>
internal sealed class TapeRecordLog
{
    private const int ChunkShift = 16;
    private const int ChunkSize = 1 << ChunkShift;
    private const int ChunkMask = ChunkSize - 1;

    private readonly List<byte[]> _chunks = [];

    // Entry numbers of the entries that carry an object number (two varints), ascending: a walk back must skip both.
    // One per logical supersede or partition end, so few.
    private readonly List<long> _explicit = [];
    private readonly byte[] _scratch = new byte[TapeIndexCheckpoint.MaxPartitionedEntryBytes];

    /// <summary>Encoded bytes.</summary>
    public long Length { get; private set; }

    /// <summary>Entries (records of the stream, the seal excluded).</summary>
    public long Count { get; private set; }

    /// <summary>Bytes of the records the entries describe (headers + stored payloads): the stream's length.</summary>
    public long RecordBytes { get; private set; }

    /// <summary>Grew past what a checkpoint may hold; stays so until <see cref="Clear"/> (the next mount scans).</summary>
    public bool Overflowed { get; private set; }

    public void Append(RecordType type, int partition, int storedLength, bool explicitObject, long objectNumber)
    {
        if (Overflowed)
        {
            return;
        }

        var n = TapeIndexCheckpoint.WritePartitionedEntry(_scratch, type, partition, storedLength, explicitObject, objectNumber);
        if (Length + n > TapeIndexCheckpoint.MaxPayloadBytes)
        {
            // Not worth the memory: the checkpoint would not be written anyway.
            Overflowed = true;
            return;
        }

        for (var i = 0; i < n; i++)
        {
            var chunk = (int)(Length >> ChunkShift);
            if (chunk == _chunks.Count)
            {
                _chunks.Add(new byte[ChunkSize]);
            }

            _chunks[chunk][Length & ChunkMask] = _scratch[i];
            Length++;
        }

        if (explicitObject)
        {
            _explicit.Add(Count);
        }

        Count++;
        RecordBytes += TapeFormat.RecordHeaderSize + storedLength;
    }

    /// <summary>Forgets the last <paramref name="entries"/> records (the stream was cut physically before them).</summary>
    public void RemoveLast(long entries)
    {
        if (Overflowed)
        {
            return;
        }

        for (; entries > 0 && Count > 0; entries--)
        {
            Count--;
            var varints = 1;
            if (_explicit.Count > 0 && _explicit[^1] == Count)
            {
                _explicit.RemoveAt(_explicit.Count - 1);
                varints = 2;
            }

            var start = Length;
            for (var v = 0; v < varints; v++)
            {
                // A varint's last byte has the high bit clear, every byte before it has it set.
                start--;
                while (start > 0 && (At(start - 1) & 0x80) != 0)
                {
                    start--;
                }
            }

            var head = Length - start;
            for (var i = 0; i < head; i++)
            {
                _scratch[i] = At(start + i);
            }

            RecordBytes -= TapeFormat.RecordHeaderSize + TapeIndexCheckpoint.StoredLengthOf(_scratch.AsSpan(0, (int)head));
            Length = start;
        }
    }

    public void Clear()
    {
        Length = 0;
        Count = 0;
        RecordBytes = 0;
        Overflowed = false;
        _explicit.Clear();
    }

    /// <summary>Copies encoded bytes from <paramref name="offset"/> into <paramref name="destination"/>; returns how many.</summary>
    public int CopyTo(long offset, Span<byte> destination)
    {
        var n = (int)Math.Min(destination.Length, Length - offset);
        var done = 0;
        while (done < n)
        {
            var at = offset + done;
            var inChunk = (int)Math.Min(n - done, ChunkSize - (at & ChunkMask));
            _chunks[(int)(at >> ChunkShift)].AsSpan((int)(at & ChunkMask), inChunk).CopyTo(destination[done..]);
            done += inChunk;
        }

        return n;
    }

    private byte At(long offset) => _chunks[(int)(offset >> ChunkShift)][offset & ChunkMask];
}

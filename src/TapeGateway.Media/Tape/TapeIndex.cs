namespace TapeGateway.Media.Tape;

/// <summary>
/// In-memory index of one partition: the start offset of every logical object (chunked so growth never copies a
/// large array) and the sorted logical object numbers of the filemarks. LOCATE, SPACE and READ POSITION are answered
/// from this alone: O(1) or O(log filemarks), never a scan of the tape.
/// </summary>
internal sealed class TapeIndex
{
    private const int ChunkShift = 16;
    private const int ChunkSize = 1 << ChunkShift;
    private const int ChunkMask = ChunkSize - 1;

    // Chunks stay allocated when the index is cut (a rewrite from BOP cuts it to zero): the next records land in them
    // again, so rewriting a tape allocates nothing per record. The memory kept is what this mount's longest stream
    // needed, which it may need again.
    private readonly List<long[]> _chunks = [];
    private readonly List<long> _filemarks = [];

    // Partitioned media only (null otherwise, so a single-partition tape costs what it always did): the bytes of
    // records (headers + stored payloads) of objects 0..k, per object k. The partitions share one stream, so a record's
    // size cannot be taken from the next record's offset, and a partition's usage is not an offset difference.
    private readonly List<long[]>? _ends;

    /// <param name="trackSizes">Keep each object's cumulative record bytes (partitioned media).</param>
    public TapeIndex(bool trackSizes = false)
    {
        _ends = trackSizes ? [] : null;
    }

    public bool TracksSizes => _ends is not null;

    /// <summary>Number of logical objects (blocks + filemarks) = logical object number of EOD.</summary>
    public long Count { get; private set; }

    public int FilemarkCount => _filemarks.Count;

    public long OffsetOf(long objectNumber) => _chunks[(int)(objectNumber >> ChunkShift)][objectNumber & ChunkMask];

    public void Append(long offset, bool filemark)
    {
        var chunk = (int)(Count >> ChunkShift);
        if (chunk >= _chunks.Count)
        {
            _chunks.Add(new long[ChunkSize]);
            _ends?.Add(new long[ChunkSize]);
        }

        _chunks[chunk][Count & ChunkMask] = offset;
        if (filemark)
        {
            _filemarks.Add(Count);
        }

        Count++;
    }

    /// <summary>Appends an object of a partitioned medium with the size of its record (header + stored payload).</summary>
    public void Append(long offset, bool filemark, long recordBytes)
    {
        var before = UsedBefore(Count);
        Append(offset, filemark);
        var k = Count - 1;
        _ends![(int)(k >> ChunkShift)][k & ChunkMask] = before + recordBytes;
    }

    /// <summary>Record bytes of the objects before <paramref name="objectNumber"/> (≤ <see cref="Count"/>); sizes tracked.</summary>
    public long UsedBefore(long objectNumber)
    {
        if (objectNumber == 0)
        {
            return 0;
        }

        var k = objectNumber - 1;
        return _ends![(int)(k >> ChunkShift)][k & ChunkMask];
    }

    /// <summary>Size of one object's record (header + stored payload); sizes tracked.</summary>
    public long RecordBytes(long objectNumber) => UsedBefore(objectNumber + 1) - UsedBefore(objectNumber);

    /// <summary>Forgets every object with a logical object number ≥ <paramref name="count"/>.</summary>
    public void TruncateTo(long count)
    {
        if (count >= Count)
        {
            return;
        }

        var keepFm = FilemarksBefore(count);
        _filemarks.RemoveRange(keepFm, _filemarks.Count - keepFm);
        Count = count;
    }

    /// <summary>Number of filemarks with a logical object number &lt; <paramref name="objectNumber"/>.</summary>
    public int FilemarksBefore(long objectNumber)
    {
        var i = _filemarks.BinarySearch(objectNumber);
        return i >= 0 ? i : ~i;
    }

    /// <summary>Logical object number of the k-th filemark (0-based).</summary>
    public long FilemarkAt(int k) => _filemarks[k];

    public bool IsFilemark(long objectNumber) => _filemarks.BinarySearch(objectNumber) >= 0;
}

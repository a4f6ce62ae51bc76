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
        }

        _chunks[chunk][Count & ChunkMask] = offset;
        if (filemark)
        {
            _filemarks.Add(Count);
        }

        Count++;
    }

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

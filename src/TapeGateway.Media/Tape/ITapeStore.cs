namespace TapeGateway.Media.Tape;

/// <summary>
/// The byte container under one tape image: positional reads and writes, length changes and a durability barrier.
/// The image appends records at <see cref="Length"/> and rewrites only its small metadata slots in place (the first
/// <see cref="TapeFormat.DataStart"/> bytes), so an object-store tier can keep the metadata region hot and put the
/// append-only record stream into immutable segments behind a cache. No tape semantics live here.
/// </summary>
/// <remarks>
/// Callers never issue overlapping operations on one store (the image serialises its verbs), so implementations need
/// not be thread-safe.
/// </remarks>
public interface ITapeStore : IAsyncDisposable
{
    /// <summary>Current length in bytes, including writes not yet made durable.</summary>
    long Length { get; }

    /// <summary>
    /// Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/>. Returns fewer only at the end of the
    /// store (0 at or past it).
    /// </summary>
    ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct);

    /// <summary>Writes all of <paramref name="source"/> at <paramref name="offset"/>, extending the store if needed.</summary>
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct);

    /// <summary>Truncates or extends (with zeros) the store to <paramref name="length"/> bytes.</summary>
    ValueTask SetLengthAsync(long length, CancellationToken ct);

    /// <summary>
    /// Makes every completed write and length change durable (fsync). When this completes, a crash cannot lose them.
    /// </summary>
    ValueTask FlushAsync(CancellationToken ct);
}

/// <summary>What a store implementation may rely on about the image layout.</summary>
public static class TapeStoreLayout
{
    /// <summary>
    /// Bytes at the start of every image that are rewritten in place (superblock, durable-end mark, attribute area);
    /// everything after them is the append-only record stream.
    /// </summary>
    public const long MetadataLength = TapeFormat.DataStart;
}

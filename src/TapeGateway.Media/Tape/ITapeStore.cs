using System.Runtime.CompilerServices;

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

    /// <summary>
    /// Writes <paramref name="sources"/> back to back starting at <paramref name="offset"/> — a record's header and
    /// payload — with the contract of <see cref="WriteAsync"/>. A store that can should make this one operation (one
    /// gathered system call, one round trip); the default writes the buffers one after another. The caller keeps the
    /// list and its buffers unchanged until the returned task completes.
    /// </summary>
    ValueTask WriteGatherAsync(long offset, IReadOnlyList<ReadOnlyMemory<byte>> sources, CancellationToken ct) =>
        WriteEachAsync(this, offset, sources, ct);

    /// <summary>
    /// Reads into <paramref name="destinations"/> back to back starting at <paramref name="offset"/> (a record's header
    /// and payload) and returns the bytes read, fewer only at the end of the store. A store that can should make this
    /// one operation; the default reads the buffers one after another.
    /// </summary>
    ValueTask<int> ReadScatterAsync(long offset, IReadOnlyList<Memory<byte>> destinations, CancellationToken ct) =>
        ReadEachAsync(this, offset, destinations, ct);

    /// <summary>
    /// Reads like <see cref="ReadScatterAsync"/>, but only if the store can do it at once without waiting for a disk
    /// or a network (data in the page cache or a local cache); otherwise returns false, possibly having read part of it.
    /// The image uses this to read ahead the next record while the host is busy with the last one, never to delay
    /// anyone: a store without a cheap answer keeps the default, which declines, and gets no read-ahead.
    /// </summary>
    bool TryReadCached(long offset, IReadOnlyList<Memory<byte>> destinations, out int bytesRead)
    {
        bytesRead = 0;
        return false;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask WriteEachAsync(ITapeStore store, long offset, IReadOnlyList<ReadOnlyMemory<byte>> sources, CancellationToken ct)
    {
        for (var i = 0; i < sources.Count; i++)
        {
            await store.WriteAsync(offset, sources[i], ct).ConfigureAwait(false);
            offset += sources[i].Length;
        }
    }

    /// <summary>Reads the buffers one after another with <see cref="ReadAsync"/>, stopping at the end of the store.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<int> ReadEachAsync(ITapeStore store, long offset, IReadOnlyList<Memory<byte>> destinations, CancellationToken ct)
    {
        var total = 0;
        for (var i = 0; i < destinations.Count; i++)
        {
            var n = await store.ReadAsync(offset + total, destinations[i], ct).ConfigureAwait(false);
            total += n;
            if (n < destinations[i].Length)
            {
                break;
            }
        }

        return total;
    }
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

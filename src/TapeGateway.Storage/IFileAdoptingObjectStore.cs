namespace TapeGateway.Storage;

/// <summary>
/// An optional capability of an <see cref="IObjectStore"/> that keeps objects as local files: it can take a local file
/// as an object's content without copying its bytes (the filesystem store hard-links it). Stores that send bytes
/// elsewhere (S3) do not implement it; callers test for it and otherwise use <see cref="IObjectStore.PutAsync"/>.
/// </summary>
public interface IFileAdoptingObjectStore
{
    /// <summary>
    /// Stores the file at <paramref name="path"/> under <paramref name="key"/> as a put would (same metadata, SHA-256
    /// computed from the bytes and checked against <see cref="PutOptions.ExpectedSha256"/>, atomic and durable), but by
    /// making the file itself the object. Returns null — and stores nothing — when it cannot: the file is on another
    /// filesystem, the filesystem or platform has no hard links, or the file is not exactly <paramref name="length"/>
    /// bytes long; the caller then puts the content the ordinary way.
    /// </summary>
    /// <remarks>
    /// The caller promises that the file's bytes never change in place once this is called: after a successful
    /// adoption the object and the file are one inode, so a write into, truncation of, or append to the file would
    /// silently change a committed object. Replacing the file (renaming another over its path) and deleting it are fine.
    /// </remarks>
    Task<PutResult?> TryAdoptFileAsync(string key, string path, long length, PutOptions? options = null, CancellationToken cancellationToken = default);
}

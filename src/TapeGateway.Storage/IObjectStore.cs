namespace TapeGateway.Storage;

/// <summary>
/// The object store port: everything the gateway needs from S3-like storage, and nothing that ties it to one SDK.
/// Keys are opaque UTF-8 strings; '/' has no meaning except for <see cref="ListAsync"/> prefixes.
/// </summary>
/// <remarks>
/// Integrity: every put records the whole object's SHA-256 in the metadata entry <see cref="ObjectMetadataKeys.Sha256"/>;
/// a full read (no range) verifies it and throws <see cref="ObjectCorruptedException"/> at the end of the stream
/// instead of returning bad data. Errors are the typed exceptions derived from <see cref="ObjectStoreException"/>.
/// </remarks>
public interface IObjectStore
{
    /// <summary>
    /// Stores <paramref name="content"/> (read from its current position to its end) under <paramref name="key"/>.
    /// Implementations may split large objects into parts uploaded in parallel; the object becomes visible atomically.
    /// </summary>
    Task<PutResult> PutAsync(string key, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// True when a put needs the content's SHA-256 before its first byte goes out (S3: it travels as object metadata
    /// with the request), so a caller that knows it should pass <see cref="PutOptions.ExpectedSha256"/> or the store
    /// reads the content twice; false when the store computes it while storing and returns it in
    /// <see cref="PutResult.Sha256"/> at no extra cost, and an expected value only adds a comparison.
    /// </summary>
    bool NeedsSha256BeforePut => true;

    /// <summary>
    /// Puts the object's current version under S3 Object Lock retention (PutObjectRetention), so the bucket itself
    /// refuses to delete or overwrite that version before <see cref="ObjectRetention.RetainUntil"/>. Returns false —
    /// and changes nothing — when the store or bucket has no Object Lock (a bucket must be created with it): then the
    /// catalog's retention is the only guard. Extending a retention is always allowed; shortening a governance one
    /// needs the bypass permission and a compliance one is refused by the server.
    /// </summary>
    Task<bool> ApplyRetentionAsync(string key, ObjectRetention retention, CancellationToken cancellationToken = default) =>
        Task.FromResult(false);

    /// <summary>Opens the object, or the byte range of it, for reading. A full read verifies the SHA-256.</summary>
    /// <exception cref="ObjectNotFoundException">No such key.</exception>
    /// <exception cref="InvalidObjectStateException">Archived (GLACIER/DEEP_ARCHIVE) and not restored.</exception>
    /// <exception cref="RangeNotSatisfiableException">The range starts at or beyond the end of the object.</exception>
    Task<ObjectReadResult> GetAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default);

    /// <summary>Size, metadata, storage class and restore status.</summary>
    /// <exception cref="ObjectNotFoundException">No such key.</exception>
    Task<ObjectInfo> HeadAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Every object whose key starts with <paramref name="prefix"/>, in ordinal key order.</summary>
    IAsyncEnumerable<ObjectSummary> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes the object; deleting a key that does not exist is not an error (as in S3).</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Server-side copy, keeping the user metadata (and so the SHA-256), into <see cref="CopyOptions.StorageClass"/>.
    /// The source and destination may be the same key when only the storage class changes (archiving in place).
    /// On S3 this is CopyObject up to 5 GiB and a multipart UploadPartCopy beyond; no data passes through the caller.
    /// The result is checked (size and SHA-256 metadata) before it is returned.
    /// </summary>
    Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CopyOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Asks for a temporary readable copy of an archived object (S3 RestoreObject).</summary>
    /// <exception cref="ObjectStoreNotSupportedException">The store has no restore (Ceph RGW answers 501).</exception>
    Task<RestoreRequestResult> RequestRestoreAsync(string key, RestoreOptions options, CancellationToken cancellationToken = default);
}

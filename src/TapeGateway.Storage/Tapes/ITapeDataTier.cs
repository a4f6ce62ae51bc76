namespace TapeGateway.Storage.Tapes;

/// <summary>
/// What the archive mover and the library need from the tape data tier (local cache + upload buffer in front of the
/// object store), without knowing how the cache works.
/// </summary>
public interface ITapeDataTier
{
    /// <summary>The object store the tier uploads to (the archive mover copies within it, server-side).</summary>
    IObjectStore ObjectStore { get; }

    TapeObjectLayout Layout { get; }

    /// <summary>Bytes of this tape written locally and not yet in the object store (0 when fully uploaded).</summary>
    long PendingUploadBytes(string barcode);

    /// <summary>True while the tape's image is open (mounted in a drive).</summary>
    bool IsOpen(string barcode);

    /// <summary>
    /// Uploads everything left of a tape that is not mounted and publishes a <see cref="TapeManifest.Complete"/>
    /// manifest; returns it. Idempotent: a tape already fully uploaded only has its manifest read back. Retries
    /// transient store errors until <paramref name="ct"/> is cancelled.
    /// </summary>
    Task<TapeManifest> EnsureUploadedAsync(string barcode, CancellationToken ct);

    /// <summary>The published library-tier manifest, or null when the tape has none.</summary>
    Task<TapeManifest?> GetManifestAsync(TapeTier tier, string barcode, CancellationToken ct);

    /// <summary>
    /// Forgets the tape locally (cache files and upload state), e.g. after its library-tier objects were archived and
    /// deleted, or before a retrieved copy replaces it. Refused (InvalidOperationException) while the tape is open.
    /// </summary>
    Task PurgeLocalAsync(string barcode, CancellationToken ct);

    /// <summary>
    /// <see cref="PurgeLocalAsync"/> if the tier is idle for the tape; false, and nothing done, while the tape is open
    /// or has transfers in flight (an upload, a fetch, or the manifest the tier publishes after a tape was closed).
    /// True when the tape was purged or was not cached at all.
    /// </summary>
    Task<bool> TryPurgeLocalAsync(string barcode, CancellationToken ct);

    /// <summary>Deletes every library-tier object of a tape (its manifest first, so no reader sees a partial tape).</summary>
    Task DeleteLibraryObjectsAsync(string barcode, CancellationToken ct);
}

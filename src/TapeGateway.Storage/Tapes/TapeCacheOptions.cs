namespace TapeGateway.Storage.Tapes;

/// <summary>
/// The local side of the tape tier: where the cache lives and how big it and the upload buffer may get (AWS Tape
/// Gateway requires both a cache disk and an upload buffer; here they are two limits over one directory).
/// </summary>
public sealed record TapeCacheOptions
{
    /// <summary>Directory holding one sub-directory per tape (head, segment files, upload state).</summary>
    public required string Directory { get; init; }

    /// <summary>
    /// Read-cache limit: local bytes of uploaded (clean) segments kept for reading. Above it, the least recently used
    /// clean segments of every tape are evicted. Dirty bytes never count against it and are never evicted.
    /// </summary>
    public long CacheBytes { get; init; } = 16L << 30;

    /// <summary>
    /// Upload-buffer limit: bytes written locally and not yet in the object store. Above it, writes wait
    /// (backpressure) up to <see cref="BackpressureTimeout"/>, then fail with a retryable condition.
    /// </summary>
    public long UploadBufferBytes { get; init; } = 8L << 30;

    /// <summary>How long a write may wait for upload-buffer space before it is refused (nothing is written).</summary>
    public TimeSpan BackpressureTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Bytes of record stream per segment object. Immutable once a tape has one (recorded in its state).</summary>
    public long SegmentSize { get; init; } = 64L << 20;

    /// <summary>
    /// Segments uploading at once, each a multipart upload. The requests they send together are bounded by the object
    /// store (S3: MaxPartsInFlight); more segments than that budget needs keep it full while one of them is between
    /// parts (creating its upload, down to its last part, completing it), at a part buffer per queued part.
    /// </summary>
    public int MaxParallelUploads { get; init; } = 4;

    /// <summary>Segments fetched ahead of the one being read, so a restore streams instead of waiting per segment.</summary>
    public int ReadAheadSegments { get; init; } = 2;

    /// <summary>
    /// A mounted tape's upload state is published (head + manifest, not complete) at most this often, so a lost
    /// gateway can be rebuilt from the bucket with what was uploaded.
    /// </summary>
    public TimeSpan PublishInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Delay before an upload that failed with a transient error is tried again (doubles up to <see cref="MaxUploadRetryDelay"/>).</summary>
    public TimeSpan UploadRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Cap of the doubling retry delay, so uploads resume soon after the object store comes back.</summary>
    public TimeSpan MaxUploadRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A segment larger than this is fetched as parallel ranged GETs of this size (4 in flight per segment).</summary>
    public int FetchRangeBytes { get; init; } = 8 << 20;

    /// <summary>
    /// When the object store keeps objects as local files on the cache's filesystem (the embedded
    /// <see cref="FileSystemObjectStore"/>), a full segment's upload hard-links the segment file instead of copying it;
    /// a later rewrite of that segment copies it first (copy-on-write), so the stored object never changes.
    /// </summary>
    public bool AdoptSegmentFiles { get; init; } = true;

    /// <summary>
    /// Where the running SHA-256 of appended segment bytes is computed (a store that needs it before a put, S3): the
    /// background workers, so hashing yields the CPU to the drives; the thread pool when null.
    /// </summary>
    public BackgroundWorkScheduler? Background { get; init; }

    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            return "The tape cache directory is required.";
        }

        if (SegmentSize is < 64 * 1024 or > 5L << 30)
        {
            return "SegmentSize must be 64 KiB – 5 GiB.";
        }

        if (FetchRangeBytes < 4096)
        {
            return "FetchRangeBytes must be at least 4 KiB.";
        }

        if (CacheBytes < SegmentSize || UploadBufferBytes < SegmentSize)
        {
            return "CacheBytes and UploadBufferBytes must each hold at least one segment.";
        }

        return MaxParallelUploads is < 1 or > 64 || ReadAheadSegments is < 0 or > 64
            ? "MaxParallelUploads must be 1–64 and ReadAheadSegments 0–64."
            : null;
    }
}

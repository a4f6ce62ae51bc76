namespace TapeGateway.Storage.S3;

/// <summary>
/// Where and how to reach the bucket. The server binds its own TapeGateway:ObjectStore options and maps them onto this
/// (TapeGateway.Server's ObjectStoreOptions.ToS3Options).
/// </summary>
public sealed class S3ObjectStoreOptions
{
    public const long MiB = 1024 * 1024;
    public const long GiB = 1024 * MiB;

    public string Bucket { get; set; } = string.Empty;

    /// <summary>An S3-compatible endpoint (e.g. http://127.0.0.1:7480 for the test RGW); null means AWS.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>
    /// AWS region. With <see cref="ServiceUrl"/> it only pins the SigV4 signing region (default us-east-1), so an
    /// AWS_REGION or profile in the environment cannot change what we sign; without it, it selects the AWS endpoint.
    /// </summary>
    public string? Region { get; set; }

    /// <summary>Path-style URLs (http://host/bucket/key). Needed for most self-hosted stores: bucket.host rarely resolves.</summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>Static credentials; when both are null the SDK's standard chain is used (env, profile, IMDS, ...).</summary>
    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    /// <summary>Objects up to this size go in one PutObject; larger ones are multipart uploads of parts this size.</summary>
    public long PartSize { get; set; } = 8 * MiB;

    /// <summary>Parts (upload or copy) in flight at once per object; also bounds the memory a put holds (N parts).</summary>
    public int MaxParallelParts { get; set; } = 4;

    /// <summary>
    /// UploadPart requests in flight at once over every put of this store: its upload budget, as TransferUtility's
    /// ConcurrentServiceRequests is for one file. Several objects uploading together share it, so when one of them
    /// is down to its last part (or is between CreateMultipartUpload and Complete) the others' parts, already read
    /// and hashed, take the free requests instead of leaving the link idle.
    /// </summary>
    public int MaxPartsInFlight { get; set; } = 8;

    /// <summary>Send Content-MD5 with every PutObject / UploadPart as well (see the remarks of <see cref="S3ObjectStore"/>).</summary>
    public bool ContentMd5 { get; set; }

    /// <summary>CopyObject limit: S3 (and RGW's rgw_max_put_size) refuse single copies above 5 GiB.</summary>
    public long MaxSingleCopySize { get; set; } = 5 * GiB;

    /// <summary>Range per UploadPartCopy when copying beyond <see cref="MaxSingleCopySize"/> (S3: 5 MiB to 5 GiB).</summary>
    public long CopyPartSize { get; set; } = 512 * MiB;

    /// <summary>
    /// The SDK's own retries. 0 by default because <see cref="Retry"/> already retries with jitter, per part;
    /// stacking both would multiply attempts and hide how often a store misbehaves.
    /// </summary>
    public int SdkMaxErrorRetry { get; set; }

    /// <summary>Per-request HTTP timeout (null: SDK default).</summary>
    public TimeSpan? Timeout { get; set; }

    public RetryPolicy Retry { get; set; } = RetryPolicy.Default;

    /// <summary>
    /// Emulate AWS's archive tier in the client, for S3-compatible stores that keep GLACIER / DEEP_ARCHIVE objects
    /// readable and have no RestoreObject (Ceph RGW 16): reads of archived objects are refused with InvalidObjectState
    /// until a restore, and RestoreObject is answered by the client (see docs/object-storage.md). Restore state is
    /// in memory: a restart forgets it, and callers simply request the restore again. Requires <see cref="ServiceUrl"/>
    /// (AWS has the real thing) and applies to clients made by <see cref="S3ObjectStore.Create"/> /
    /// <see cref="S3ObjectStore.CreateClient"/>. Off by default.
    /// </summary>
    public bool EmulateGlacier { get; set; }

    /// <summary>
    /// <see cref="S3ObjectStore.EnsureBucketAsync"/> creates the bucket with S3 Object Lock enabled (which also turns
    /// versioning on; it cannot be enabled later on most servers). Archive objects of locked pools then get a real,
    /// server-enforced retention. Off by default.
    /// </summary>
    public bool CreateBucketWithObjectLock { get; set; }

    /// <summary>With <see cref="EmulateGlacier"/>: how long an emulated restore runs before the object is readable (0: at once).</summary>
    public TimeSpan GlacierRestoreDelay { get; set; } = TimeSpan.Zero;

    /// <summary>The emulated restores' clock (tests move it instead of waiting hours).</summary>
    internal TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>With <see cref="EmulateGlacier"/>: the handler under the emulation (tests put a fake store there).</summary>
    internal Func<HttpMessageHandler>? GlacierTransport { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Bucket))
        {
            throw new ArgumentException("S3ObjectStoreOptions.Bucket is required");
        }

        if (PartSize < 5 * MiB || CopyPartSize < 5 * MiB || CopyPartSize > 5 * GiB)
        {
            throw new ArgumentException("S3 parts must be between 5 MiB and 5 GiB");
        }

        if (MaxParallelParts < 1 || MaxPartsInFlight < 1)
        {
            throw new ArgumentException("MaxParallelParts and MaxPartsInFlight must be at least 1");
        }

        if ((AccessKey is null) != (SecretKey is null))
        {
            throw new ArgumentException("give both AccessKey and SecretKey, or neither to use the AWS credential chain");
        }

        if (EmulateGlacier && ServiceUrl is null)
        {
            // On AWS the emulation would swallow RestoreObject, so nothing would ever really be restored.
            throw new ArgumentException("EmulateGlacier is for S3-compatible stores (set ServiceUrl); AWS S3 has the real archive tier");
        }

        if (GlacierRestoreDelay < TimeSpan.Zero)
        {
            throw new ArgumentException("GlacierRestoreDelay cannot be negative");
        }
    }
}

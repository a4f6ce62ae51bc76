namespace TapeGateway.Storage;

/// <summary>The S3 storage classes the gateway uses: the library tier and the two archive tiers.</summary>
public enum StorageClass
{
    Standard,
    Glacier,
    DeepArchive,
}

public static class StorageClassNames
{
    /// <summary>The S3 wire name ("STANDARD", "GLACIER", "DEEP_ARCHIVE").</summary>
    public static string ToS3Name(this StorageClass storageClass) => storageClass switch
    {
        StorageClass.Standard => "STANDARD",
        StorageClass.Glacier => "GLACIER",
        StorageClass.DeepArchive => "DEEP_ARCHIVE",
        _ => throw new ArgumentOutOfRangeException(nameof(storageClass), storageClass, null),
    };

    /// <summary>
    /// Parses an S3 storage class name. S3 omits the header for STANDARD objects, so null and empty mean STANDARD.
    /// Other classes (e.g. STANDARD_IA) are reported as STANDARD because they are readable without a restore.
    /// </summary>
    public static StorageClass FromS3Name(string? name) => name switch
    {
        "GLACIER" => StorageClass.Glacier,
        "DEEP_ARCHIVE" => StorageClass.DeepArchive,
        _ => StorageClass.Standard,
    };

    /// <summary>True for the classes whose objects must be restored before they can be read (on AWS).</summary>
    public static bool IsArchive(this StorageClass storageClass) => storageClass is StorageClass.Glacier or StorageClass.DeepArchive;
}

/// <summary>Well-known user metadata names. They travel as x-amz-meta-* on S3, which lower-cases them.</summary>
public static class ObjectMetadataKeys
{
    /// <summary>Lower-case hex SHA-256 of the whole object, written by every put.</summary>
    public const string Sha256 = "tapegw-sha256";
}

/// <summary>A byte range: <see cref="Length"/> null means "to the end of the object".</summary>
public readonly record struct ByteRange
{
    public ByteRange(long offset, long? length = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(l, nameof(length));
        }

        Offset = offset;
        Length = length;
    }

    public long Offset { get; }

    public long? Length { get; }

    /// <summary>The last byte (inclusive) asked for, or null for an open-ended range.</summary>
    public long? LastByte => Length is { } l ? Offset + l - 1 : null;
}

public enum RestoreState
{
    /// <summary>Not an archive class: readable as it is.</summary>
    NotArchived,

    /// <summary>Archived and not restored: a read fails with <see cref="InvalidObjectStateException"/>.</summary>
    Archived,

    /// <summary>A restore was requested and is running.</summary>
    InProgress,

    /// <summary>A temporary copy is readable until <see cref="RestoreStatus.Expiry"/>.</summary>
    Restored,
}

public sealed record RestoreStatus(RestoreState State, DateTimeOffset? Expiry = null)
{
    public static RestoreStatus NotArchived { get; } = new(RestoreState.NotArchived);
}

/// <summary>What HEAD says about an object.</summary>
public sealed record ObjectInfo(
    string Key,
    long Size,
    string? ETag,
    DateTimeOffset LastModified,
    StorageClass StorageClass,
    IReadOnlyDictionary<string, string> Metadata,
    RestoreStatus Restore)
{
    /// <summary>The recorded whole-object SHA-256 (lower-case hex), if the object was written through this port.</summary>
    public string? Sha256 => Metadata.TryGetValue(ObjectMetadataKeys.Sha256, out var v) ? v : null;
}

/// <summary>One entry of a listing.</summary>
public sealed record ObjectSummary(string Key, long Size, string? ETag, DateTimeOffset LastModified, StorageClass StorageClass);

public sealed record PutOptions
{
    /// <summary>User metadata (names are lower-cased by S3, so use lower-case names).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    public StorageClass StorageClass { get; init; } = StorageClass.Standard;

    /// <summary>
    /// When set, the SHA-256 the caller expects (e.g. computed when the data entered the upload buffer). A mismatch with
    /// what was actually read and sent fails the put with <see cref="ObjectCorruptedException"/> and stores nothing.
    /// Required by the S3 store for non-seekable streams above its multipart threshold, because the hash must be in the
    /// metadata given to CreateMultipartUpload before the first part is read.
    /// </summary>
    public string? ExpectedSha256 { get; init; }

    /// <summary>Create only: fail with <see cref="PreconditionFailedException"/> if the key exists (If-None-Match: *).</summary>
    public bool IfNoneMatch { get; init; }
}

public sealed record PutResult(string Key, long Size, string Sha256, string? ETag);

public sealed record CopyOptions
{
    public StorageClass StorageClass { get; init; } = StorageClass.Standard;
}

/// <summary>S3 Glacier retrieval tiers.</summary>
public enum RestoreTier
{
    Expedited,
    Standard,
    Bulk,
}

public sealed record RestoreOptions(int Days, RestoreTier Tier = RestoreTier.Standard);

public enum RestoreRequestResult
{
    /// <summary>The restore started (S3 202).</summary>
    Accepted,

    /// <summary>A restore is already running (S3 409 RestoreAlreadyInProgress).</summary>
    AlreadyInProgress,

    /// <summary>The object is already restored; the expiry was extended (S3 200).</summary>
    AlreadyRestored,
}

/// <summary>An open read. Disposing it releases the connection or file.</summary>
public sealed class ObjectReadResult : IDisposable, IAsyncDisposable
{
    public ObjectReadResult(Stream content, long objectSize, ByteRange? range)
    {
        Content = content;
        ObjectSize = objectSize;
        Range = range;
    }

    /// <summary>The bytes; for a full read it throws <see cref="ObjectCorruptedException"/> at the end on a SHA-256 mismatch.</summary>
    public Stream Content { get; }

    /// <summary>The size of the whole object (not of the range).</summary>
    public long ObjectSize { get; }

    public ByteRange? Range { get; }

    public void Dispose() => Content.Dispose();

    public ValueTask DisposeAsync() => Content.DisposeAsync();
}

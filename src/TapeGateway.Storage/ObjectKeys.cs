namespace TapeGateway.Storage;

internal static class ObjectKeys
{
    /// <summary>S3 limits keys to 1024 UTF-8 bytes; every store enforces the same limit so a key valid locally is valid in S3.</summary>
    public const int MaxKeyBytes = 1024;

    public static void Validate(string key, string paramName = "key")
    {
        ArgumentException.ThrowIfNullOrEmpty(key, paramName);
        if (System.Text.Encoding.UTF8.GetByteCount(key) > MaxKeyBytes)
        {
            throw new ArgumentException($"object keys are limited to {MaxKeyBytes} UTF-8 bytes", paramName);
        }
    }

    /// <summary>The metadata every put records: the caller's entries plus the SHA-256, which the caller cannot override.</summary>
    public static Dictionary<string, string> WithSha256(IReadOnlyDictionary<string, string>? metadata, string sha256)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            foreach (var (name, value) in metadata)
            {
                result[name.ToLowerInvariant()] = value;
            }
        }

        result[ObjectMetadataKeys.Sha256] = sha256;
        return result;
    }

    public static void CheckExpected(string key, string? expectedSha256, string actualSha256)
    {
        if (expectedSha256 is not null && !string.Equals(expectedSha256, actualSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ObjectCorruptedException(
                $"put of '{key}' read data with SHA-256 {actualSha256}, but the caller expected {expectedSha256}; nothing was stored")
            { Key = key };
        }
    }

    /// <summary>Clamps a range to the object the way S3 does: 416 when it starts at or past the end.</summary>
    public static (long Offset, long Count) Resolve(string key, ByteRange? range, long size)
    {
        if (range is not { } r)
        {
            return (0, size);
        }

        if (r.Offset >= size)
        {
            throw new RangeNotSatisfiableException($"range starting at {r.Offset} is past the end of '{key}' ({size} bytes)") { Key = key };
        }

        var count = r.Length is { } l ? Math.Min(l, size - r.Offset) : size - r.Offset;
        return (r.Offset, count);
    }

    public static void EnsureReadable(string key, StorageClass storageClass, RestoreStatus restore)
    {
        if (storageClass.IsArchive() && restore.State != RestoreState.Restored)
        {
            throw new InvalidObjectStateException(
                $"object '{key}' is in {storageClass.ToS3Name()} and not restored; request a restore first")
            { Key = key, StorageClass = storageClass };
        }
    }

    /// <summary>Restore state for the local stores, which simulate a restore as immediate and expiring after N days.</summary>
    public static RestoreStatus LocalRestoreStatus(StorageClass storageClass, DateTimeOffset? restoreExpiry, DateTimeOffset now) =>
        !storageClass.IsArchive() ? RestoreStatus.NotArchived
        : restoreExpiry is { } e && e > now ? new RestoreStatus(RestoreState.Restored, e)
        : new RestoreStatus(RestoreState.Archived);
}

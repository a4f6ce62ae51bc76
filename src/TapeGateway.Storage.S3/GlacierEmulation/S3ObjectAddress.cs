namespace TapeGateway.Storage.S3.GlacierEmulation;

/// <summary>
/// The bucket and (unescaped) key a request is about, as the emulation keys its state: the same object must map to the
/// same address whether it is named by a request URI (GET, HEAD, PUT, POST ?restore) or by an x-amz-copy-source header.
/// </summary>
internal readonly record struct S3ObjectAddress(string Bucket, string Key)
{
    /// <summary>False for bucket-level requests (ListObjectsV2, DeleteObjects, CreateBucket...).</summary>
    public bool IsObject => Key.Length > 0;

    /// <summary>
    /// Parses a request URI in either addressing style: virtual-hosted (<c>bucket.host/key</c>), recognised by the
    /// configured bucket as the first host label, or path style (<c>host/bucket/key</c>), which S3-compatible
    /// endpoints use. Returns null for requests that name no bucket (ListBuckets).
    /// </summary>
    public static S3ObjectAddress? FromUri(Uri uri, string? virtualHostBucket)
    {
        // AbsolutePath is still percent-encoded; the SDK encodes keys the same way for every operation, but unescaping
        // makes the address independent of how a particular character was encoded.
        var path = Uri.UnescapeDataString(uri.AbsolutePath);
        if (virtualHostBucket is { Length: > 0 } && uri.Host.StartsWith(virtualHostBucket + ".", StringComparison.OrdinalIgnoreCase))
        {
            return new S3ObjectAddress(virtualHostBucket, path.TrimStart('/'));
        }

        var rest = path.StartsWith('/') ? path[1..] : path;
        if (rest.Length == 0)
        {
            return null;
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? new S3ObjectAddress(rest, string.Empty) : new S3ObjectAddress(rest[..slash], rest[(slash + 1)..]);
    }

    /// <summary>
    /// Parses <c>x-amz-copy-source</c> (CopyObject, UploadPartCopy): <c>[/]bucket/key[?versionId=...]</c>, URL-encoded.
    /// A literal '?' can only start the version id, because a '?' inside the key is encoded.
    /// </summary>
    public static S3ObjectAddress? FromCopySource(string header)
    {
        var raw = header.Trim();
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            raw = raw[..query];
        }

        var decoded = Uri.UnescapeDataString(raw).TrimStart('/');
        var slash = decoded.IndexOf('/', StringComparison.Ordinal);
        return slash <= 0 || slash == decoded.Length - 1 ? null : new S3ObjectAddress(decoded[..slash], decoded[(slash + 1)..]);
    }

    public override string ToString() => $"{Bucket}/{Key}";
}

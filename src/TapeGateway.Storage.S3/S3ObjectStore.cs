using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using TapeGateway.Storage.S3.GlacierEmulation;

namespace TapeGateway.Storage.S3;

/// <summary>
/// <see cref="IObjectStore"/> on S3 or any S3-compatible store (tested against Ceph RGW 16), through AWSSDK.S3 v4.
/// </summary>
/// <remarks>
/// Every request goes through <see cref="S3ObjectStoreOptions.Retry"/> (per part for multipart), and every SDK error is
/// translated into the port's typed exceptions. Integrity: each PutObject / UploadPart body is signed with its SHA-256
/// (x-amz-content-sha256, unchunked), which S3 and RGW recompute on arrival (400 XAmzContentSHA256Mismatch, retried as
/// transient); Content-MD5 would check the same bytes again with a weaker hash at ~1.4 s of CPU per GB, so it is only
/// sent with <see cref="S3ObjectStoreOptions.ContentMd5"/>, for stores that ignore the payload hash. The whole object's
/// SHA-256 goes into x-amz-meta-tapegw-sha256 and is verified on every full read. Flexible checksums
/// (x-amz-checksum-*) are deliberately not used: RGW 16 ignores them.
/// </remarks>
public sealed partial class S3ObjectStore : IObjectStore, IDisposable
{
    private const string MetaPrefix = "x-amz-meta-";

    private readonly IAmazonS3 _s3;
    private readonly bool _ownsClient;
    private readonly S3ObjectStoreOptions _options;
    private readonly string _bucket;
    private readonly SemaphoreSlim _partsInFlight;

    public S3ObjectStore(IAmazonS3 client, S3ObjectStoreOptions options)
        : this(client, options, ownsClient: false)
    {
    }

    private S3ObjectStore(IAmazonS3 client, S3ObjectStoreOptions options, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _s3 = client;
        _options = options;
        _bucket = options.Bucket;
        _ownsClient = ownsClient;
        _partsInFlight = new SemaphoreSlim(options.MaxPartsInFlight, options.MaxPartsInFlight);
    }

    /// <summary>Creates the store with its own client, configured by <see cref="CreateClient"/>.</summary>
    public static S3ObjectStore Create(S3ObjectStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new S3ObjectStore(CreateClient(options), options, ownsClient: true);
    }

    /// <summary>The SDK client with the settings S3-compatible stores need (see docs/object-storage.md).</summary>
    public static AmazonS3Client CreateClient(S3ObjectStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,

            // SDK v4 defaults to WHEN_SUPPORTED: aws-chunked bodies with a trailing CRC32. RGW 16 rejects them with
            // 400 XAmzContentSHA256Mismatch, and some emulators store the chunk framing inside the object. Our integrity
            // comes from the signed payload hash per request and our own SHA-256, which every store checks or keeps.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,

            // Stores that never return x-amz-checksum-* would make validation a no-op anyway; skip the header and CRC work.
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = options.SdkMaxErrorRetry,
        };
        if (options.ServiceUrl is { } url)
        {
            config.ServiceURL = url;
            config.AuthenticationRegion = options.Region ?? "us-east-1";
        }
        else if (options.Region is { } region)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }

        if (options.Timeout is { } timeout)
        {
            config.Timeout = timeout;
        }

        GlacierEmulationHttpClientFactory? glacier = null;
        if (options.EmulateGlacier)
        {
            glacier = new GlacierEmulationHttpClientFactory(
                new GlacierRestoreLedger(options.GlacierRestoreDelay, options.TimeProvider), options.Bucket, options.GlacierTransport);
            config.HttpClientFactory = glacier;
        }

        var client = options.AccessKey is { } ak && options.SecretKey is { } sk
            ? new PrecomputedPayloadS3Client(new BasicAWSCredentials(ak, sk), config)
            : new PrecomputedPayloadS3Client(config); // the standard AWS credential chain
        glacier?.LookUpThrough(client);
        return client;
    }

    /// <summary>The raw client, for tests that must reach past the port (e.g. to damage an object in the bucket).</summary>
    internal IAmazonS3 Client => _s3;

    public string Bucket => _bucket;

    /// <summary>Creates the bucket if it does not exist yet (setup and tests; production buckets are provisioned).</summary>
    public Task EnsureBucketAsync(CancellationToken cancellationToken = default) =>
        CallAsync(_bucket, async ct =>
        {
            try
            {
                await _s3.PutBucketAsync(new PutBucketRequest { BucketName = _bucket, ObjectLockEnabledForBucket = _options.CreateBucketWithObjectLock }, ct).ConfigureAwait(false);
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
            {
            }

            return true;
        }, cancellationToken);

    public async Task<PutResult> PutAsync(string key, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(content);
        options ??= new PutOptions();
        var partSize = checked((int)_options.PartSize);
        var start = content.CanSeek ? content.Position : -1;

        // Read ahead up to two parts: an object that fits in one part is a single PutObject (one round trip).
        var first = await ReadPartAsync(content, partSize, cancellationToken).ConfigureAwait(false);
        if (first.Length < partSize)
        {
            return await PutSingleAsync(key, first, options, cancellationToken).ConfigureAwait(false);
        }

        var second = await ReadPartAsync(content, partSize, cancellationToken).ConfigureAwait(false);
        if (second.Length == 0)
        {
            second.Dispose();
            return await PutSingleAsync(key, first, options, cancellationToken).ConfigureAwait(false);
        }

        // CreateMultipartUpload carries the metadata, so the SHA-256 must be known before the first part goes out:
        // from the caller, or from a first hashing pass over a seekable stream.
        var sha = options.ExpectedSha256;
        if (sha is null)
        {
            if (start < 0)
            {
                first.Dispose();
                second.Dispose();
                throw new ArgumentException(
                    $"a non-seekable stream larger than one part ({partSize} bytes) needs PutOptions.ExpectedSha256", nameof(options));
            }

            var resume = content.Position;
            content.Position = start;
            using var hashAll = SHA256.Create();
            sha = Convert.ToHexStringLower(await hashAll.ComputeHashAsync(content, cancellationToken).ConfigureAwait(false));
            content.Position = resume;
        }

        return await PutMultipartAsync(key, content, first, second, sha, options, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PutResult> PutSingleAsync(string key, Part part, PutOptions options, CancellationToken cancellationToken)
    {
        using (part)
        {
            var sha = Convert.ToHexStringLower(SHA256.HashData(part.Span));
            ObjectKeys.CheckExpected(key, options.ExpectedSha256, sha);
            var md5 = _options.ContentMd5 ? part.Md5Base64() : null;
            var response = await CallAsync(key, ct =>
            {
                var request = new PutObjectRequest
                {
                    BucketName = _bucket,
                    Key = key,
                    InputStream = part.OpenRead(),
                    MD5Digest = md5,
                    StorageClass = ToS3(options.StorageClass),

                    // A plain body signed with its SHA-256 instead of aws-chunked: measured faster on RGW, and the only
                    // form every S3 emulator stores correctly.
                    UseChunkEncoding = false,
                };
                AddMetadata(request.Metadata, ObjectKeys.WithSha256(options.Metadata, sha));
                if (options.IfNoneMatch)
                {
                    request.IfNoneMatch = "*";
                }

                return _s3.PutObjectAsync(WithPayloadHash(request, sha), ct);
            }, cancellationToken).ConfigureAwait(false);
            return new PutResult(key, part.Length, sha, response.ETag);
        }
    }

    private async Task<PutResult> PutMultipartAsync(
        string key, Stream content, Part first, Part second, string sha, PutOptions options, CancellationToken cancellationToken)
    {
        var partSize = checked((int)_options.PartSize);
        var create = await CallAsync(key, ct =>
        {
            var request = new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key, StorageClass = ToS3(options.StorageClass) };
            AddMetadata(request.Metadata, ObjectKeys.WithSha256(options.Metadata, sha));
            return _s3.InitiateMultipartUploadAsync(request, ct);
        }, cancellationToken).ConfigureAwait(false);
        var uploadId = create.UploadId;

        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(_options.MaxParallelParts);
        using var running = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var uploads = new List<Task<PartETag>>();
        long size = 0;
        var pending = new Queue<Part>([first, second]);
        try
        {
            for (var partNumber = 1; ; partNumber++)
            {
                // Take a slot before reading the next part: at most MaxParallelParts buffers exist at any time.
                await slots.WaitAsync(failFast.Token).ConfigureAwait(false);
                var part = pending.Count > 0 ? pending.Dequeue() : await ReadPartAsync(content, partSize, failFast.Token).ConfigureAwait(false);
                if (part.Length == 0)
                {
                    part.Dispose();
                    slots.Release();
                    break;
                }

                part.Hash(running);
                size += part.Length;
                var number = partNumber;
                uploads.Add(UploadPartAsync(key, uploadId, number, part, slots, failFast));
                if (part.Length < partSize)
                {
                    break;
                }
            }

            var etags = await Task.WhenAll(uploads).ConfigureAwait(false);
            var actual = Convert.ToHexStringLower(running.GetHashAndReset());
            ObjectKeys.CheckExpected(key, sha, actual);
            await CallAsync(key, ct =>
            {
                var request = new CompleteMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId };
                request.AddPartETags(etags);
                if (options.IfNoneMatch)
                {
                    request.IfNoneMatch = "*";
                }

                return _s3.CompleteMultipartUploadAsync(request, ct);
            }, cancellationToken).ConfigureAwait(false);

            // RGW 16 returns an empty ETag from CompleteMultipartUpload; HEAD has the real one, but it is not worth a
            // round trip here, so callers treat a null ETag as "unknown".
            return new PutResult(key, size, actual, null);
        }
        catch
        {
            await failFast.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(uploads).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already failing; the first error is the one the caller sees.
            }

            while (pending.Count > 0)
            {
                pending.Dequeue().Dispose();
            }

            await AbortQuietlyAsync(key, uploadId).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<PartETag> UploadPartAsync(string key, string uploadId, int number, Part part, SemaphoreSlim slots, CancellationTokenSource failFast)
    {
        try
        {
            var md5 = _options.ContentMd5 ? part.Md5Base64() : null;

            // The part is read and hashed before it queues for the store-wide budget, so it leaves the moment a
            // request of any upload finishes.
            await _partsInFlight.WaitAsync(failFast.Token).ConfigureAwait(false);
            try
            {
                var response = await CallAsync(key, ct => _s3.UploadPartAsync(
                    WithPayloadHash(
                        new UploadPartRequest
                        {
                            BucketName = _bucket,
                            Key = key,
                            UploadId = uploadId,
                            PartNumber = number,
                            InputStream = part.OpenRead(),
                            PartSize = part.Length,
                            MD5Digest = md5,
                            UseChunkEncoding = false,
                        },
                        part.PayloadSha256),
                    ct), failFast.Token).ConfigureAwait(false);
                return new PartETag(number, response.ETag);
            }
            finally
            {
                _partsInFlight.Release();
            }
        }
        catch
        {
            // One failed part dooms the upload: stop the others instead of letting them finish for nothing.
            await failFast.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            part.Dispose();
            slots.Release();
        }
    }

    private async Task AbortQuietlyAsync(string key, string uploadId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _s3.AbortMultipartUploadAsync(
                new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Best effort: a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans up what is left.
        }
    }

    public async Task<ObjectReadResult> GetAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var response = await CallAsync(key, ct =>
        {
            var request = new GetObjectRequest { BucketName = _bucket, Key = key };
            if (range is { } r)
            {
                request.ByteRange = r.LastByte is { } last
                    ? new Amazon.S3.Model.ByteRange(r.Offset, last)
                    : new Amazon.S3.Model.ByteRange(string.Create(CultureInfo.InvariantCulture, $"bytes={r.Offset}-"));
            }

            return _s3.GetObjectAsync(request, ct);
        }, cancellationToken).ConfigureAwait(false);

        var objectSize = range is null ? response.ContentLength : TotalFromContentRange(response.ContentRange) ?? -1;
        Stream stream = response.ResponseStream;
        if (range is null)
        {
            var sha = FindMetadata(response.Metadata, ObjectMetadataKeys.Sha256);
            if (sha is not null)
            {
                stream = new Sha256VerifyingStream(stream, sha, response.ContentLength, key);
            }
        }

        return new ObjectReadResult(stream, objectSize, range);
    }

    public async Task<ObjectInfo> HeadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var r = await CallAsync(key, ct => _s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, ct), cancellationToken)
            .ConfigureAwait(false);
        var storageClass = StorageClassNames.FromS3Name(r.StorageClass?.Value);
        RestoreStatus restore = !storageClass.IsArchive() ? RestoreStatus.NotArchived
            : r.RestoreInProgress == true ? new RestoreStatus(RestoreState.InProgress)
            : r.RestoreExpiration is { } expiry ? new RestoreStatus(RestoreState.Restored, new DateTimeOffset(DateTime.SpecifyKind(expiry, DateTimeKind.Utc)))
            : new RestoreStatus(RestoreState.Archived);
        return new ObjectInfo(key, r.ContentLength, r.ETag, ToOffset(r.LastModified), storageClass, ReadMetadata(r.Metadata), restore);
    }

    public async IAsyncEnumerable<ObjectSummary> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        string? token = null;
        do
        {
            var page = await CallAsync(prefix, ct => _s3.ListObjectsV2Async(
                new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, ContinuationToken = token }, ct), cancellationToken).ConfigureAwait(false);

            // SDK v4 returns null, not an empty list, for a page without objects.
            foreach (var o in page.S3Objects ?? [])
            {
                yield return new ObjectSummary(o.Key, o.Size ?? 0, o.ETag, ToOffset(o.LastModified), StorageClassNames.FromS3Name(o.StorageClass?.Value));
            }

            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        try
        {
            await CallAsync(key, ct => _s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = key }, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            // S3 answers 204 for a missing key; some compatible stores say 404. Either way it is gone.
        }
    }

    public async Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CopyOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceKey);
        ArgumentException.ThrowIfNullOrEmpty(destinationKey);
        options ??= new CopyOptions();
        var source = await HeadAsync(sourceKey, cancellationToken).ConfigureAwait(false);
        if (sourceKey == destinationKey && source.StorageClass == options.StorageClass)
        {
            throw new ArgumentException($"copying '{sourceKey}' onto itself without changing the storage class changes nothing");
        }

        if (source.Size <= _options.MaxSingleCopySize)
        {
            await CallAsync(destinationKey, ct => _s3.CopyObjectAsync(
                new CopyObjectRequest
                {
                    SourceBucket = _bucket,
                    SourceKey = sourceKey,
                    DestinationBucket = _bucket,
                    DestinationKey = destinationKey,
                    StorageClass = ToS3(options.StorageClass),

                    // COPY keeps the user metadata (the SHA-256 with it) server-side; AWS and RGW both allow an
                    // in-place copy that changes only the storage class with it.
                    MetadataDirective = S3MetadataDirective.COPY,
                },
                ct), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await CopyMultipartAsync(source, destinationKey, options.StorageClass, cancellationToken).ConfigureAwait(false);
        }

        // Verify before anyone deletes the source: same size, same recorded SHA-256, the class we asked for.
        var copy = await HeadAsync(destinationKey, cancellationToken).ConfigureAwait(false);
        if (copy.Size != source.Size || copy.Sha256 != source.Sha256 || copy.StorageClass != options.StorageClass)
        {
            throw new ObjectCorruptedException(
                $"copy '{sourceKey}' -> '{destinationKey}' does not match: {copy.Size} bytes, SHA-256 {copy.Sha256}, {copy.StorageClass}; "
                + $"expected {source.Size} bytes, SHA-256 {source.Sha256}, {options.StorageClass}")
            { Key = destinationKey };
        }

        return copy;
    }

    private async Task CopyMultipartAsync(ObjectInfo source, string destinationKey, StorageClass storageClass, CancellationToken cancellationToken)
    {
        // A multipart upload does not inherit metadata from a copy source; give it the source's explicitly.
        var create = await CallAsync(destinationKey, ct =>
        {
            var request = new InitiateMultipartUploadRequest { BucketName = _bucket, Key = destinationKey, StorageClass = ToS3(storageClass) };
            AddMetadata(request.Metadata, source.Metadata);
            return _s3.InitiateMultipartUploadAsync(request, ct);
        }, cancellationToken).ConfigureAwait(false);
        var uploadId = create.UploadId;
        try
        {
            using var slots = new SemaphoreSlim(_options.MaxParallelParts);
            var copies = new List<Task<PartETag>>();
            var partNumber = 0;
            for (long offset = 0; offset < source.Size; offset += _options.CopyPartSize)
            {
                var number = ++partNumber;
                var first = offset;
                var last = Math.Min(offset + _options.CopyPartSize, source.Size) - 1;
                copies.Add(Task.Run(
                    async () =>
                    {
                        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                        try
                        {
                            var r = await CallAsync(destinationKey, ct => _s3.CopyPartAsync(
                                new CopyPartRequest
                                {
                                    SourceBucket = _bucket,
                                    SourceKey = source.Key,
                                    DestinationBucket = _bucket,
                                    DestinationKey = destinationKey,
                                    UploadId = uploadId,
                                    PartNumber = number,
                                    FirstByte = first,
                                    LastByte = last,
                                },
                                ct), cancellationToken).ConfigureAwait(false);
                            return new PartETag(number, r.ETag);
                        }
                        finally
                        {
                            slots.Release();
                        }
                    },
                    cancellationToken));
            }

            var etags = await Task.WhenAll(copies).ConfigureAwait(false);
            await CallAsync(destinationKey, ct =>
            {
                var request = new CompleteMultipartUploadRequest { BucketName = _bucket, Key = destinationKey, UploadId = uploadId };
                request.AddPartETags(etags);
                return _s3.CompleteMultipartUploadAsync(request, ct);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await AbortQuietlyAsync(destinationKey, uploadId).ConfigureAwait(false);
            throw;
        }
    }

    public async Task<RestoreRequestResult> RequestRestoreAsync(string key, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            var r = await CallAsync(key, ct => _s3.RestoreObjectAsync(
                new RestoreObjectRequest
                {
                    BucketName = _bucket,
                    Key = key,
                    Days = options.Days,
                    RetrievalTier = options.Tier switch
                    {
                        RestoreTier.Expedited => GlacierJobTier.Expedited,
                        RestoreTier.Bulk => GlacierJobTier.Bulk,
                        _ => GlacierJobTier.Standard,
                    },
                },
                ct), cancellationToken).ConfigureAwait(false);
            return r.HttpStatusCode == HttpStatusCode.OK ? RestoreRequestResult.AlreadyRestored : RestoreRequestResult.Accepted;
        }
        catch (ObjectStoreException ex) when (ex.InnerException is AmazonS3Exception { ErrorCode: "RestoreAlreadyInProgress" })
        {
            return RestoreRequestResult.AlreadyInProgress;
        }
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _s3.Dispose();
        }
    }

    /// <summary>
    /// Lets the signer use the body hash we computed (see <see cref="PrecomputedPayloadS3Client"/>); with any other
    /// client the SDK hashes the body itself.
    /// </summary>
    internal T WithPayloadHash<T>(T request, string? sha256)
        where T : AmazonWebServiceRequest =>
        _s3 is PrecomputedPayloadS3Client client && sha256 is not null ? client.WithPayloadHash(request, sha256) : request;

    /// <summary>One S3 call under the retry policy, with SDK errors translated into the port's exceptions.</summary>
    private Task<T> CallAsync<T>(string key, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        _options.Retry.ExecuteAsync(
            async ct =>
            {
                try
                {
                    return await call(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (Translate(ex, key, ct) is { } translated)
                {
                    throw translated;
                }
            },
            cancellationToken);

    /// <summary>Maps an SDK or transport error to a port exception; null lets it through (our own cancellation).</summary>
    internal static ObjectStoreException? Translate(Exception ex, string key, CancellationToken cancellationToken)
    {
        switch (ex)
        {
            case ObjectStoreException:
                return null;
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                return null;
            case OperationCanceledException:
                // Not our token: the SDK's HTTP timeout.
                return new TransientObjectStoreException($"S3 request for '{key}' timed out", ex) { Key = key };
            case AmazonServiceException s:
                return TranslateService(s, key);
            case HttpRequestException or IOException or SocketException:
                return new TransientObjectStoreException($"S3 connection failed for '{key}': {ex.Message}", ex) { Key = key };
            case AmazonClientException when ex.InnerException is HttpRequestException or IOException or SocketException:
                return new TransientObjectStoreException($"S3 connection failed for '{key}': {ex.Message}", ex) { Key = key };
            default:
                return null;
        }
    }

    private static ObjectStoreException TranslateService(AmazonServiceException ex, string key)
    {
        var code = ex.ErrorCode;
        var status = (int)ex.StatusCode;
        var message = $"S3 {status} {code} for '{key}': {ex.Message}";
        return (status, code) switch
        {
            (_, "NoSuchKey") or (404, "NotFound") or (404, null) or (404, "") => new ObjectNotFoundException(message, ex) { Key = key },
            (412, _) or (_, "PreconditionFailed") => new PreconditionFailedException(message, ex) { Key = key },
            (_, "InvalidObjectState") => new InvalidObjectStateException(message, ex) { Key = key, StorageClass = ArchiveClassOf(ex) },
            (416, _) or (_, "InvalidRange") => new RangeNotSatisfiableException(message, ex) { Key = key },
            (501, _) or (_, "NotImplemented") => new ObjectStoreNotSupportedException(message, ex) { Key = key },
            (_, "SlowDown" or "Throttling" or "ThrottlingException" or "RequestLimitExceeded" or "TooManyRequestsException") or (429, _) or (503, _) =>
                new TransientObjectStoreException(message, ex) { Key = key, IsThrottling = true },

            // BadDigest / XAmzContentSHA256Mismatch: the body did not match its Content-MD5 / signed SHA-256 on arrival,
            // i.e. it was damaged on the way; resend.
            (_, "BadDigest" or "XAmzContentSHA256Mismatch" or "RequestTimeout" or "InternalError" or "ServiceUnavailable") or ( >= 500, _) =>
                new TransientObjectStoreException(message, ex) { Key = key },
            _ => new ObjectStoreException(message, ex) { Key = key },
        };
    }

    /// <summary>The class S3 names in an InvalidObjectState error body (&lt;StorageClass&gt;), which the SDK models for GetObject.</summary>
    private static StorageClass? ArchiveClassOf(AmazonServiceException ex) =>
        ex is Amazon.S3.Model.InvalidObjectStateException { StorageClass.Value: { Length: > 0 } name } ? StorageClassNames.FromS3Name(name) : null;

    private static S3StorageClass ToS3(StorageClass storageClass) => S3StorageClass.FindValue(storageClass.ToS3Name());

    private static void AddMetadata(MetadataCollection target, IReadOnlyDictionary<string, string> metadata)
    {
        foreach (var (name, value) in metadata)
        {
            target.Add(name, value);
        }
    }

    private static Dictionary<string, string> ReadMetadata(MetadataCollection metadata)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in metadata.Keys)
        {
            var bare = name.StartsWith(MetaPrefix, StringComparison.OrdinalIgnoreCase) ? name[MetaPrefix.Length..] : name;
            result[bare.ToLowerInvariant()] = metadata[name];
        }

        return result;
    }

    private static string? FindMetadata(MetadataCollection metadata, string name) => ReadMetadata(metadata).GetValueOrDefault(name);

    private static DateTimeOffset ToOffset(DateTime? time) =>
        time is { } t ? new DateTimeOffset(t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : t.ToUniversalTime()) : default;

    private static long? TotalFromContentRange(string? contentRange)
    {
        // "bytes 0-9/100"
        var slash = contentRange?.LastIndexOf('/') ?? -1;
        return slash >= 0 && long.TryParse(contentRange.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var total) ? total : null;
    }

    private static async Task<Part> ReadPartAsync(Stream content, int size, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var n = await content.ReadAtLeastAsync(buffer.AsMemory(0, size), size, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return new Part(buffer, n);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>One part's bytes in a pooled buffer; each attempt of a request gets its own read-only stream over it.</summary>
    private sealed class Part(byte[] buffer, int length) : IDisposable
    {
        private byte[]? _buffer = buffer;

        public int Length { get; } = length;

        public ReadOnlySpan<byte> Span => (_buffer ?? throw new ObjectDisposedException(nameof(Part))).AsSpan(0, Length);

        public MemoryStream OpenRead() => new(_buffer ?? throw new ObjectDisposedException(nameof(Part)), 0, Length, writable: false);

        /// <summary>Hex SHA-256 of this part alone, the request's signed payload hash; set by <see cref="Hash"/>.</summary>
        public string? PayloadSha256 { get; private set; }

        /// <summary>
        /// Feeds the object's running hash and computes the part's own in the same sweep, block by block while each
        /// block is still in the CPU cache.
        /// </summary>
        public void Hash(IncrementalHash running)
        {
            using var own = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var span = Span;
            for (var offset = 0; offset < span.Length; offset += HashBlock)
            {
                var block = span.Slice(offset, Math.Min(HashBlock, span.Length - offset));
                running.AppendData(block);
                own.AppendData(block);
            }

            PayloadSha256 = Convert.ToHexStringLower(own.GetHashAndReset());
        }

        private const int HashBlock = 256 * 1024;

#pragma warning disable CA5351 // Content-MD5 (optional) is an integrity check S3 makes per request, not security.
        public string Md5Base64() => Convert.ToBase64String(MD5.HashData(Span));
#pragma warning restore CA5351

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _buffer, null) is { } b)
            {
                ArrayPool<byte>.Shared.Return(b);
            }
        }
    }
}

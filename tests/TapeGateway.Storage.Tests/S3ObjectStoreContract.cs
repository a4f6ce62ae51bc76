using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using TapeGateway.Storage.S3;

namespace TapeGateway.Storage.Tests;

/// <summary>
/// One bucket per test run on the S3 endpoint in TAPEGW_S3_ENDPOINT (the RGW from tools/rgw/start.sh); emptied and
/// deleted at the end. Without the variable every S3 test reports skipped.
/// </summary>
/// <remarks>
/// Two stores share the bucket: <see cref="Store"/> emulates AWS's archive tier in the client (Ceph RGW keeps GLACIER
/// objects readable and has no RestoreObject), so the whole contract runs as it would on AWS; <see cref="RawStore"/>
/// talks to RGW as it is, for the tests about RGW itself and to reach past the emulation.
/// </remarks>
public sealed class S3Fixture : IAsyncLifetime
{
    public static string? Endpoint => Environment.GetEnvironmentVariable("TAPEGW_S3_ENDPOINT") is { Length: > 0 } e ? e : null;

    public S3ObjectStore? Store { get; private set; }

    public S3ObjectStore? RawStore { get; private set; }

    /// <summary>The settings of both stores, on <paramref name="bucket"/>; null without an endpoint.</summary>
    public static S3ObjectStoreOptions? Options(string bucket) => Endpoint is not { } endpoint ? null : new S3ObjectStoreOptions
    {
        Bucket = bucket,
        ServiceUrl = endpoint,
        ForcePathStyle = true,
        AccessKey = Environment.GetEnvironmentVariable("TAPEGW_S3_ACCESS_KEY") ?? "TESTKEY",
        SecretKey = Environment.GetEnvironmentVariable("TAPEGW_S3_SECRET_KEY") ?? "TESTSECRET",

        // The smallest sizes S3 allows, so 13 MiB objects exercise multipart put (3 parts) and, with the lowered
        // single-copy limit, multipart UploadPartCopy, without moving gigabytes in a unit test.
        PartSize = 5 * S3ObjectStoreOptions.MiB,
        CopyPartSize = 5 * S3ObjectStoreOptions.MiB,
        MaxSingleCopySize = 6 * S3ObjectStoreOptions.MiB,
        MaxParallelParts = 4,
        Timeout = TimeSpan.FromSeconds(60),

        // Tests must see server errors, not have them hidden by retries; one retry still absorbs a hiccup.
        Retry = new RetryPolicy { MaxAttempts = 2 },
    };

    /// <summary>Empties and deletes a test bucket through a store that does not emulate anything.</summary>
    public static async Task DeleteBucketAsync(S3ObjectStore raw)
    {
        await foreach (var o in raw.ListAsync(""))
        {
            await raw.DeleteAsync(o.Key);
        }

        await raw.Client.DeleteBucketAsync(raw.Bucket);
    }

    public async Task InitializeAsync()
    {
        var bucket = $"tapegw-test-{Guid.NewGuid():N}"[..32];
        if (Options(bucket) is not { } options)
        {
            return;
        }

        RawStore = S3ObjectStore.Create(options);
        await RawStore.EnsureBucketAsync();
        options.EmulateGlacier = true;
        Store = S3ObjectStore.Create(options);
    }

    public async Task DisposeAsync()
    {
        if (RawStore is null)
        {
            return;
        }

        await DeleteBucketAsync(RawStore);
        RawStore.Dispose();
        Store?.Dispose();
    }
}

public sealed class S3ObjectStoreContract(S3Fixture fixture) : ObjectStoreContract, IClassFixture<S3Fixture>
{
    protected override IObjectStore Store
    {
        get
        {
            Skip.If(fixture.Store is null, "TAPEGW_S3_ENDPOINT is not set (start an S3 with tools/rgw/start.sh)");
            return fixture.Store!;
        }
    }

    // The store emulates AWS's archive tier (EmulateGlacier), so RefusesArchivedReads and SupportsRestore keep their
    // AWS defaults and the archive/restore contract runs here too.

    protected override async Task CorruptAsync(string key, long offset)
    {
        // Rewrite the object directly in the bucket with one bit flipped, keeping its recorded SHA-256: what the port
        // must catch is data that changed after it was written, whatever the cause.
        var s3 = fixture.RawStore!.Client;
        var bucket = fixture.RawStore.Bucket;
        using var get = await s3.GetObjectAsync(bucket, key);
        using var buffer = new MemoryStream();
        await get.ResponseStream.CopyToAsync(buffer);
        var data = buffer.ToArray();
        data[offset] ^= 0x01;
        var put = new PutObjectRequest
        {
            BucketName = bucket,
            Key = key,
            InputStream = new MemoryStream(data),
            MD5Digest = Convert.ToBase64String(MD5.HashData(data)),
            UseChunkEncoding = false,
        };
        foreach (var name in get.Metadata.Keys)
        {
            put.Metadata.Add(name, get.Metadata[name]);
        }

        await s3.PutObjectAsync(put);
    }

    [SkippableFact]
    public async Task Without_emulation_rgw_answers_restore_with_not_supported_and_reads_archived_objects()
    {
        _ = Store;
        var store = fixture.RawStore!;
        var data = RandomBytes(100, 40);
        await PutAsync(K("cold"), data, new PutOptions { StorageClass = StorageClass.Glacier });
        Assert.Equal(StorageClass.Glacier, (await store.HeadAsync(K("cold"))).StorageClass);
        Assert.Equal(RestoreState.Archived, (await store.HeadAsync(K("cold"))).Restore.State);
        await Assert.ThrowsAsync<ObjectStoreNotSupportedException>(() => store.RequestRestoreAsync(K("cold"), new RestoreOptions(1)));

        // The reason the emulation exists: RGW hands out archived bytes that AWS would refuse.
        await using var read = await store.GetAsync(K("cold"));
        using var buffer = new MemoryStream();
        await read.Content.CopyToAsync(buffer);
        Assert.Equal(data, buffer.ToArray());
    }

    /// <summary>
    /// A raw request (the SDK's own retries off) that the server must refuse with <paramref name="errorCode"/>, and the
    /// store's reading of that refusal: transient, so the upload is sent again rather than given up.
    /// </summary>
    private static async Task AssertRefusedAsTransientAsync(string errorCode, Func<Task> request)
    {
        var ex = await Assert.ThrowsAsync<AmazonS3Exception>(request);
        Assert.Equal(errorCode, ex.ErrorCode);
        Assert.IsType<TransientObjectStoreException>(S3ObjectStore.Translate(ex, "k", CancellationToken.None));
    }

    [SkippableFact]
    public async Task A_wrong_content_md5_is_rejected_by_the_server()
    {
        // The per-part integrity check is the server's: prove this server enforces Content-MD5.
        _ = Store;
        await AssertRefusedAsTransientAsync("BadDigest", () => fixture.RawStore!.Client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = fixture.RawStore.Bucket,
            Key = K("bad-md5"),
            InputStream = new MemoryStream(RandomBytes(1000, 41)),
            MD5Digest = Convert.ToBase64String(MD5.HashData(RandomBytes(1000, 42))),
            UseChunkEncoding = false,
        }));
    }

    [SkippableFact]
    public async Task Object_lock_retention_is_applied_where_the_bucket_has_it_and_the_server_enforces_it()
    {
        _ = Store;

        // The shared test bucket has no Object Lock: nothing is applied, and the answer is "no", not an error.
        await PutAsync(K("plain"), RandomBytes(100, 43));
        var until = DateTimeOffset.UtcNow.AddDays(1);
        Assert.False(await fixture.RawStore!.ApplyRetentionAsync(K("plain"), new ObjectRetention(ObjectRetentionMode.Governance, until)));

        var options = S3Fixture.Options($"tapegw-lock-{Guid.NewGuid():N}"[..32])!;
        options.CreateBucketWithObjectLock = true;
        using var locked = S3ObjectStore.Create(options);
        await locked.EnsureBucketAsync();
        try
        {
            Assert.True(await locked.IsObjectLockEnabledAsync());
            await locked.PutAsync("tape/seg", new MemoryStream(RandomBytes(1000, 44)));
            Assert.True(await locked.ApplyRetentionAsync("tape/seg", new ObjectRetention(ObjectRetentionMode.Governance, until)));

            var retention = await locked.Client.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = locked.Bucket, Key = "tape/seg" });
            Assert.Equal(ObjectLockRetentionMode.Governance, retention.Retention.Mode);
            Assert.InRange(retention.Retention.RetainUntilDate!.Value, until.UtcDateTime.AddSeconds(-1), until.UtcDateTime.AddSeconds(1));

            // The server refuses to delete the locked version (a plain DELETE only adds a delete marker).
            var version = (await locked.Client.ListVersionsAsync(new ListVersionsRequest { BucketName = locked.Bucket, Prefix = "tape/seg" })).Versions.Single(v => v.Key == "tape/seg");
            var refused = await Assert.ThrowsAsync<AmazonS3Exception>(() =>
                locked.Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = locked.Bucket, Key = "tape/seg", VersionId = version.VersionId }));
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.StatusCode);
        }
        finally
        {
            // Governance can be bypassed by the owner: clean the throw-away bucket up completely.
            var versions = await locked.Client.ListVersionsAsync(new ListVersionsRequest { BucketName = locked.Bucket });
            foreach (var v in versions.Versions)
            {
                await locked.Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = locked.Bucket, Key = v.Key, VersionId = v.VersionId, BypassGovernanceRetention = true });
            }

            await locked.Client.DeleteBucketAsync(locked.Bucket);
        }
    }

    [SkippableFact]
    public async Task A_body_that_differs_from_its_signed_sha256_is_rejected_by_the_server()
    {
        // Without Content-MD5 the per-request check is the SigV4 payload hash (x-amz-content-sha256): prove this server
        // recomputes it. The body changes after the SDK hashed it, as bytes damaged on the way would.
        _ = Store;
        await AssertRefusedAsTransientAsync("XAmzContentSHA256Mismatch", () => fixture.RawStore!.Client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = fixture.RawStore.Bucket,
            Key = K("bad-sha"),
            InputStream = new ChangesAfterFirstReadStream(RandomBytes(1000, 43)),
            UseChunkEncoding = false,
        }));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.HeadAsync(K("bad-sha")));

        // The same for a part of a multipart upload, which is how segments travel.
        var s3 = fixture.RawStore!.Client;
        var upload = await s3.InitiateMultipartUploadAsync(fixture.RawStore.Bucket, K("bad-sha-part"));
        try
        {
            await AssertRefusedAsTransientAsync("XAmzContentSHA256Mismatch", () => s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = fixture.RawStore.Bucket,
                Key = K("bad-sha-part"),
                UploadId = upload.UploadId,
                PartNumber = 1,
                InputStream = new ChangesAfterFirstReadStream(RandomBytes(1000, 44)),
                UseChunkEncoding = false,
            }));
        }
        finally
        {
            await s3.AbortMultipartUploadAsync(fixture.RawStore.Bucket, K("bad-sha-part"), upload.UploadId);
        }
    }

    [SkippableFact]
    public async Task A_precomputed_payload_hash_is_what_gets_signed_and_checked()
    {
        // The store hashes each part before it queues for an upload slot and hands that hash to the signer; prove the
        // signer sends it (a wrong one is refused) rather than silently hashing the body itself.
        _ = Store;
        var store = fixture.RawStore!;
        var data = RandomBytes(1000, 47);
        await store.Client.PutObjectAsync(store.WithPayloadHash(
            new PutObjectRequest { BucketName = store.Bucket, Key = K("presigned-ok"), InputStream = new MemoryStream(data), UseChunkEncoding = false },
            Sha(data)));
        Assert.Equal(data, await ReadAsync(K("presigned-ok")));
        var ex = await Assert.ThrowsAsync<AmazonS3Exception>(() => store.Client.PutObjectAsync(store.WithPayloadHash(
            new PutObjectRequest { BucketName = store.Bucket, Key = K("presigned-wrong"), InputStream = new MemoryStream(data), UseChunkEncoding = false },
            Sha(RandomBytes(1000, 48)))));
        Assert.Equal("XAmzContentSHA256Mismatch", ex.ErrorCode);
    }

    [SkippableFact]
    public async Task With_content_md5_on_puts_still_round_trip()
    {
        _ = Store;
        var options = S3Fixture.Options(fixture.RawStore!.Bucket)!;
        options.ContentMd5 = true;
        using var store = S3ObjectStore.Create(options);
        foreach (var (name, data) in new[] { ("md5-single", RandomBytes(1000, 45)), ("md5-multipart", RandomBytes(MultipartSize, 46)) })
        {
            await store.PutAsync(K(name), new MemoryStream(data));
            await using var read = await store.GetAsync(K(name));
            using var buffer = new MemoryStream();
            await read.Content.CopyToAsync(buffer);
            Assert.Equal(data, buffer.ToArray());
        }
    }

    /// <summary>A seekable body whose bytes flip once it was read to the end and rewound (the SDK hashes, then sends).</summary>
    private sealed class ChangesAfterFirstReadStream(byte[] data) : Stream
    {
        private bool _readToEnd;
        private bool _changed;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get; set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (Position == 0 && _readToEnd && !_changed)
            {
                data[data.Length / 2] ^= 0x01;
                _changed = true;
            }

            var n = (int)Math.Min(count, data.Length - Position);
            Array.Copy(data, Position, buffer, offset, n);
            Position += n;
            _readToEnd |= Position == data.Length;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            _ => data.Length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

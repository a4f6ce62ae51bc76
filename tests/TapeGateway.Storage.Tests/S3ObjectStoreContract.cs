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

    [SkippableFact]
    public async Task A_wrong_content_md5_is_rejected_by_the_server()
    {
        // The per-part integrity check is the server's: prove this server enforces Content-MD5.
        _ = Store;
        var ex = await Assert.ThrowsAsync<AmazonS3Exception>(() => fixture.RawStore!.Client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = fixture.RawStore.Bucket,
            Key = K("bad-md5"),
            InputStream = new MemoryStream(RandomBytes(1000, 41)),
            MD5Digest = Convert.ToBase64String(MD5.HashData(RandomBytes(1000, 42))),
            UseChunkEncoding = false,
        }));
        Assert.Equal("BadDigest", ex.ErrorCode);
        Assert.IsType<TransientObjectStoreException>(S3ObjectStore.Translate(ex, "k", CancellationToken.None));
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
}

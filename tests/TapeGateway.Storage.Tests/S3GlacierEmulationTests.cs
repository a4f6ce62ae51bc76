using Microsoft.Extensions.Time.Testing;
using TapeGateway.Storage.S3;

namespace TapeGateway.Storage.Tests;

/// <summary>A bucket of its own ("glacier-..."), emptied and deleted at the end, for the emulation tests on real RGW.</summary>
public sealed class S3GlacierFixture : IAsyncLifetime
{
    public S3ObjectStore? RawStore { get; private set; }

    public string Bucket { get; } = $"glacier-{Guid.NewGuid():N}"[..32];

    public async Task InitializeAsync()
    {
        if (S3Fixture.Options(Bucket) is { } options)
        {
            RawStore = S3ObjectStore.Create(options);
            await RawStore.EnsureBucketAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (RawStore is not null)
        {
            await S3Fixture.DeleteBucketAsync(RawStore);
            RawStore.Dispose();
        }
    }
}

/// <summary>
/// The Glacier emulation against Ceph RGW itself: RGW must report the class on GET (the emulation reads it from there),
/// signed storage-class lookups must work for restores and copy sources, and the restore cycle must hold with a delay.
/// Each test has its own store and clock, so moving time in one cannot affect another.
/// </summary>
public sealed class S3GlacierEmulationTests(S3GlacierFixture fixture) : IClassFixture<S3GlacierFixture>
{
    private static readonly TimeSpan Delay = TimeSpan.FromHours(3);

    private readonly string _prefix = $"emu-{Guid.NewGuid():N}/";

    [SkippableFact]
    public async Task A_restore_runs_for_the_configured_delay_then_the_object_reads_until_expiry()
    {
        var (store, time) = Create();
        using var _ = store;
        var data = ObjectStoreContractData(40_000, 50);
        await store.PutAsync(_prefix + "cold", new MemoryStream(data), new PutOptions { StorageClass = StorageClass.DeepArchive });

        var refused = await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.GetAsync(_prefix + "cold", new ByteRange(10, 10)));
        Assert.Equal(StorageClass.DeepArchive, refused.StorageClass);

        Assert.Equal(RestoreRequestResult.Accepted, await store.RequestRestoreAsync(_prefix + "cold", new RestoreOptions(1)));
        Assert.Equal(RestoreState.InProgress, (await store.HeadAsync(_prefix + "cold")).Restore.State);
        Assert.Equal(RestoreRequestResult.AlreadyInProgress, await store.RequestRestoreAsync(_prefix + "cold", new RestoreOptions(1)));
        await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.GetAsync(_prefix + "cold"));

        time.Advance(Delay);
        var head = await store.HeadAsync(_prefix + "cold");
        Assert.Equal(RestoreState.Restored, head.Restore.State);
        Assert.True(head.Restore.Expiry > time.GetUtcNow().AddDays(1));
        Assert.Equal(data, await ReadAsync(store, _prefix + "cold"));
        Assert.Equal(data[10..20], await ReadAsync(store, _prefix + "cold", new ByteRange(10, 10)));

        time.Advance(TimeSpan.FromDays(3));
        Assert.Equal(RestoreState.Archived, (await store.HeadAsync(_prefix + "cold")).Restore.State);
        await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.GetAsync(_prefix + "cold"));
    }

    [SkippableFact]
    public async Task A_multipart_archived_object_is_refused_then_restored_and_verified()
    {
        var (store, time) = Create();
        using var _ = store;
        var data = ObjectStoreContractData(11 * 1024 * 1024, 51);
        await store.PutAsync(_prefix + "big", new MemoryStream(data), new PutOptions { StorageClass = StorageClass.Glacier });

        await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.GetAsync(_prefix + "big"));
        await store.RequestRestoreAsync(_prefix + "big", new RestoreOptions(2, RestoreTier.Bulk));
        time.Advance(Delay);
        Assert.Equal(data, await ReadAsync(store, _prefix + "big"));
    }

    [SkippableFact]
    public async Task Retrieval_copies_need_a_restored_source_and_archiving_again_forgets_the_restore()
    {
        var (store, time) = Create();
        using var _ = store;
        var data = ObjectStoreContractData(70_000, 52);
        await store.PutAsync(_prefix + "archive/seg", new MemoryStream(data), new PutOptions { StorageClass = StorageClass.Glacier });

        await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.CopyAsync(_prefix + "archive/seg", _prefix + "library/seg"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.HeadAsync(_prefix + "library/seg"));

        await store.RequestRestoreAsync(_prefix + "archive/seg", new RestoreOptions(1));
        time.Advance(Delay);
        var copy = await store.CopyAsync(_prefix + "archive/seg", _prefix + "library/seg");
        Assert.Equal(StorageClass.Standard, copy.StorageClass);
        Assert.Equal(data, await ReadAsync(store, _prefix + "library/seg"));

        // A copy onto the restored key is a new object: archived, never restored.
        await store.CopyAsync(_prefix + "library/seg", _prefix + "archive/seg", new CopyOptions { StorageClass = StorageClass.DeepArchive });
        Assert.Equal(RestoreState.Archived, (await store.HeadAsync(_prefix + "archive/seg")).Restore.State);
        await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.GetAsync(_prefix + "archive/seg"));

        // And so is a put after a delete.
        await store.RequestRestoreAsync(_prefix + "archive/seg", new RestoreOptions(1));
        time.Advance(Delay);
        await store.DeleteAsync(_prefix + "archive/seg");
        await store.PutAsync(_prefix + "archive/seg", new MemoryStream(data), new PutOptions { StorageClass = StorageClass.Glacier });
        Assert.Equal(RestoreState.Archived, (await store.HeadAsync(_prefix + "archive/seg")).Restore.State);
    }

    [SkippableFact]
    public async Task Restore_of_a_missing_or_standard_object_fails_as_on_aws()
    {
        var (store, _) = Create();
        using var s = store;
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.RequestRestoreAsync(_prefix + "missing", new RestoreOptions(1)));
        await store.PutAsync(_prefix + "warm", new MemoryStream([1, 2, 3]));
        await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.RequestRestoreAsync(_prefix + "warm", new RestoreOptions(1)));
    }

    private (S3ObjectStore Store, FakeTimeProvider Time) Create()
    {
        Skip.If(fixture.RawStore is null, "TAPEGW_S3_ENDPOINT is not set (start an S3 with tools/rgw/start.sh)");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = S3Fixture.Options(fixture.Bucket)!;
        options.EmulateGlacier = true;
        options.GlacierRestoreDelay = Delay;
        options.TimeProvider = time;
        return (S3ObjectStore.Create(options), time);
    }

    private static byte[] ObjectStoreContractData(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static async Task<byte[]> ReadAsync(IObjectStore store, string key, ByteRange? range = null)
    {
        await using var read = await store.GetAsync(key, range);
        using var buffer = new MemoryStream();
        await read.Content.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}

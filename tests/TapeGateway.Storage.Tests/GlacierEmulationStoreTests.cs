using Microsoft.Extensions.Time.Testing;
using TapeGateway.Storage.S3;

namespace TapeGateway.Storage.Tests;

/// <summary>
/// The emulation under the real SDK and <see cref="S3ObjectStore"/>, over a fake RGW: the errors it makes up must reach
/// callers as the port's exceptions, and its headers must parse into the port's restore states.
/// </summary>
public sealed class GlacierEmulationStoreTests : IDisposable
{
    private static readonly TimeSpan Delay = TimeSpan.FromHours(5);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 22, 15, 0, TimeSpan.Zero));
    private readonly FakeS3Handler _rgw = new();
    private readonly S3ObjectStore _store;

    public GlacierEmulationStoreTests()
    {
        _store = S3ObjectStore.Create(new S3ObjectStoreOptions
        {
            Bucket = "glacier-unit",
            ServiceUrl = "http://rgw.test:7480",
            ForcePathStyle = true,
            AccessKey = "TESTKEY",
            SecretKey = "TESTSECRET",
            Retry = new RetryPolicy { MaxAttempts = 1 },
            EmulateGlacier = true,
            GlacierRestoreDelay = Delay,
            TimeProvider = _time,
            GlacierTransport = () => _rgw,
        });
    }

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task An_archived_object_follows_the_aws_restore_cycle_through_the_port()
    {
        var data = new byte[] { 1, 2, 3, 4, 5 };
        await _store.PutAsync("tapes/T1/seg", new MemoryStream(data), new PutOptions { StorageClass = StorageClass.Glacier });

        var refused = await Assert.ThrowsAsync<InvalidObjectStateException>(() => _store.GetAsync("tapes/T1/seg"));
        Assert.Equal("tapes/T1/seg", refused.Key);
        Assert.Equal(StorageClass.Glacier, refused.StorageClass);
        Assert.Equal(RestoreState.Archived, (await _store.HeadAsync("tapes/T1/seg")).Restore.State);

        Assert.Equal(RestoreRequestResult.Accepted, await _store.RequestRestoreAsync("tapes/T1/seg", new RestoreOptions(2, RestoreTier.Bulk)));
        Assert.Equal(RestoreState.InProgress, (await _store.HeadAsync("tapes/T1/seg")).Restore.State);
        Assert.Equal(RestoreRequestResult.AlreadyInProgress, await _store.RequestRestoreAsync("tapes/T1/seg", new RestoreOptions(2)));
        await Assert.ThrowsAsync<InvalidObjectStateException>(() => _store.GetAsync("tapes/T1/seg"));

        _time.Advance(Delay);
        var head = await _store.HeadAsync("tapes/T1/seg");
        Assert.Equal(RestoreState.Restored, head.Restore.State);

        // Done on the 25th at 03:15; + 2 days, rounded up to midnight UTC. The port must not shift it by a time zone.
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero), head.Restore.Expiry);
        await using (var read = await _store.GetAsync("tapes/T1/seg"))
        {
            using var copy = new MemoryStream();
            await read.Content.CopyToAsync(copy);
            Assert.Equal(data, copy.ToArray());
        }

        Assert.Equal(RestoreRequestResult.AlreadyRestored, await _store.RequestRestoreAsync("tapes/T1/seg", new RestoreOptions(2)));
        Assert.Equal(0, _rgw.Count("POST", "/glacier-unit/"));
    }

    [Fact]
    public async Task Retrieving_from_the_archive_tier_needs_a_restore_and_the_copy_is_a_new_unrestored_object()
    {
        var data = new byte[] { 7, 7, 7 };
        await _store.PutAsync("archive/T2/seg", new MemoryStream(data), new PutOptions { StorageClass = StorageClass.DeepArchive });

        await Assert.ThrowsAsync<InvalidObjectStateException>(() =>
            _store.CopyAsync("archive/T2/seg", "library/T2/seg", new CopyOptions { StorageClass = StorageClass.Standard }));
        Assert.False(_rgw.Objects.ContainsKey("glacier-unit/library/T2/seg"));

        await _store.RequestRestoreAsync("archive/T2/seg", new RestoreOptions(1));
        _time.Advance(Delay);
        var copy = await _store.CopyAsync("archive/T2/seg", "library/T2/seg", new CopyOptions { StorageClass = StorageClass.Standard });
        Assert.Equal(StorageClass.Standard, copy.StorageClass);
        Assert.Equal(RestoreState.NotArchived, copy.Restore.State);

        // Archiving in place again makes a new object: the old restore does not carry over.
        await _store.CopyAsync("archive/T2/seg", "archive/T2/seg", new CopyOptions { StorageClass = StorageClass.Glacier });
        Assert.Equal(RestoreState.Archived, (await _store.HeadAsync("archive/T2/seg")).Restore.State);
    }

    [Fact]
    public async Task Deleting_forgets_the_restore_and_missing_or_standard_objects_cannot_be_restored()
    {
        await _store.PutAsync("cold", new MemoryStream([1]), new PutOptions { StorageClass = StorageClass.Glacier });
        await _store.RequestRestoreAsync("cold", new RestoreOptions(1));
        _time.Advance(Delay);
        await _store.DeleteAsync("cold");
        await _store.PutAsync("cold", new MemoryStream([2]), new PutOptions { StorageClass = StorageClass.Glacier });
        Assert.Equal(RestoreState.Archived, (await _store.HeadAsync("cold")).Restore.State);

        await Assert.ThrowsAsync<ObjectNotFoundException>(() => _store.RequestRestoreAsync("missing", new RestoreOptions(1)));
        await _store.PutAsync("warm", new MemoryStream([3]));
        var ex = await Assert.ThrowsAsync<InvalidObjectStateException>(() => _store.RequestRestoreAsync("warm", new RestoreOptions(1)));
        Assert.Equal("warm", ex.Key);
    }

    [Fact]
    public void Emulation_is_refused_against_aws_itself()
    {
        var ex = Assert.Throws<ArgumentException>(() => S3ObjectStore.Create(new S3ObjectStoreOptions { Bucket = "b", Region = "eu-west-1", EmulateGlacier = true }));
        Assert.Contains("ServiceUrl", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => S3ObjectStore.Create(
            new S3ObjectStoreOptions { Bucket = "b", ServiceUrl = "http://h", EmulateGlacier = true, GlacierRestoreDelay = TimeSpan.FromSeconds(-1) }));
    }
}

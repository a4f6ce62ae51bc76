using TapeGateway.Catalog;
using CatalogStorageClass = TapeGateway.Catalog.StorageClass;

namespace TapeGateway.Archive.Tests;

/// <summary>A catalog rebuilt from the bucket keeps what the archive manifests recorded: pool, class and lock.</summary>
public sealed class RecoveryTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_rebuilt_catalog_keeps_an_archived_tapes_custom_pool_its_class_and_when_its_lock_ends()
    {
        await using var lost = await ArchiveHarness.StartAsync();
        var pool = (await lost.Operations.CreatePoolAsync("Vault7", "DEEP_ARCHIVE", "COMPLIANCE", 30, None)).Pool!;
        var archived = await lost.ArchiveTapeAsync("DRA001", slot: 1, pool: pool.Id);
        Assert.NotNull(archived.RetentionStart);

        // Ten days later the gateway is lost; a new one starts on the same bucket and rebuilds its catalog.
        await using var rebuilt = await ArchiveHarness.StartAsync(store: lost.Store);
        rebuilt.Time.Advance(TimeSpan.FromDays(10));
        Assert.Null(await rebuilt.Pools.GetPoolAsync(pool.Id));
        var report = await rebuilt.Library.RecoverFromBucketAsync(null, "test", None);
        Assert.Equal(1, report.Archived);

        var recreated = (await rebuilt.Pools.GetPoolAsync(pool.Id))!;
        Assert.Equal(("Vault7", CatalogStorageClass.DeepArchive, RetentionLockType.Compliance, 30), (recreated.Name, recreated.StorageClass, recreated.RetentionLock, recreated.RetentionDays));
        var tape = await rebuilt.TapeAsync("DRA001");
        Assert.Equal((TapeState.Archived, pool.Id, (CatalogStorageClass?)CatalogStorageClass.DeepArchive), (tape.State, tape.PoolId, tape.ArchiveClass));
        Assert.Equal(archived.RetentionStart, tape.RetentionStart); // the lock ends when it did, not 30 days after the rebuild

        // And it holds: compliance refuses deletion, even with the governance bypass.
        Assert.Equal(DeleteTapeStatus.RetentionLocked, (await rebuilt.Library.DeleteTapeAsync("DRA001", "api", bypassGovernanceRetention: true, None)).Status);
        rebuilt.Time.Advance(TimeSpan.FromDays(21));
        Assert.True((await rebuilt.Library.DeleteTapeAsync("DRA001", "api", bypassGovernanceRetention: false, None)).Succeeded);
    }
}

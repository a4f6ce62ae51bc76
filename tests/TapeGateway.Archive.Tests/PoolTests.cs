using TapeGateway.Catalog;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;
using CatalogStorageClass = TapeGateway.Catalog.StorageClass;
using StorageClass = TapeGateway.Storage.StorageClass;

namespace TapeGateway.Archive.Tests;

public sealed class PoolTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory]
    [InlineData(null, "GLACIER", null, null, "name is required")]
    [InlineData("Tape pool", "STANDARD", null, null, "storageClass must be GLACIER or DEEP_ARCHIVE")]
    [InlineData("Tape pool", "GLACIER", "SOMETIMES", 10, "retentionLock must be NONE, GOVERNANCE or COMPLIANCE")]
    [InlineData("Tape pool", "GLACIER", "NONE", 10, "there is no retention lock")]
    [InlineData("Tape pool", "GLACIER", "GOVERNANCE", 0, "1–36500")]
    [InlineData("Tape pool", "DEEP_ARCHIVE", "COMPLIANCE", 36501, "1–36500")]
    [InlineData("X", "GLACIER", null, null, "2–100 characters")]
    public async Task Invalid_pools_are_refused_with_a_message(string? name, string? storageClass, string? retentionLock, int? days, string expected)
    {
        await using var h = await ArchiveHarness.StartAsync();

        var r = await h.Operations.CreatePoolAsync(name, storageClass, retentionLock, days, None);

        Assert.Equal(ArchiveRequestStatus.Invalid, r.Status);
        Assert.Contains(expected, r.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await h.Operations.ListPoolsAsync(None)).Count);
    }

    [Fact]
    public async Task Custom_pools_are_created_listed_and_deleted_only_when_unused()
    {
        await using var h = await ArchiveHarness.StartAsync();
        var created = await h.Operations.CreatePoolAsync("Seven years", "deep_archive", "governance", 2555, None);
        Assert.True(created.Succeeded, created.Message);
        Assert.Equal((CatalogStorageClass.DeepArchive, RetentionLockType.Governance, 2555), (created.Pool!.StorageClass, created.Pool.RetentionLock, created.Pool.RetentionDays));
        Assert.Equal(ArchiveRequestStatus.Conflict, (await h.Operations.CreatePoolAsync("seven years", "GLACIER", null, null, None)).Status); // names are looked up ignoring case
        Assert.Equal(ArchiveRequestStatus.Conflict, (await h.Operations.CreatePoolAsync("Seven years", "GLACIER", null, null, None)).Status);
        Assert.Contains(await h.Operations.ListPoolsAsync(None), p => p.Name == "Seven years");

        Assert.Equal(ArchiveRequestStatus.Conflict, (await h.Operations.DeletePoolAsync("GLACIER", None)).Status);
        Assert.Equal(ArchiveRequestStatus.Conflict, (await h.Operations.DeletePoolAsync("Deep Archive", None)).Status);
        Assert.Equal(ArchiveRequestStatus.NotFound, (await h.Operations.DeletePoolAsync("nope", None)).Status);

        await h.CreateTapeAsync("POOL01", slot: 1, pool: created.Pool.Id);
        var inUse = await h.Operations.DeletePoolAsync("Seven years", None);
        Assert.Equal(ArchiveRequestStatus.Conflict, inUse.Status);
        Assert.Contains("used by tapes", inUse.Message, StringComparison.Ordinal);

        var spare = await h.Operations.CreatePoolAsync("Spare", "GLACIER", null, null, None);
        Assert.True((await h.Operations.DeletePoolAsync(spare.Pool!.Id, None)).Succeeded);
        Assert.DoesNotContain(await h.Operations.ListPoolsAsync(None), p => p.Name == "Spare");
    }

    [Fact]
    public async Task Governance_retention_blocks_deletion_without_the_bypass_flag_and_the_objects_go_with_the_tape()
    {
        await using var h = await ArchiveHarness.StartAsync();
        var pool = (await h.Operations.CreatePoolAsync("Governed", "DEEP_ARCHIVE", "GOVERNANCE", 30, None)).Pool!;
        var tape = await h.ArchiveTapeAsync("GOV001", slot: 1, pool: pool.Id);

        Assert.Equal(CatalogStorageClass.DeepArchive, tape.ArchiveClass);
        Assert.Equal(h.Time.GetUtcNow(), tape.RetentionStart);
        var manifest = (await h.Tier.GetManifestAsync(TapeTier.Archive, "GOV001", None))!;
        Assert.Equal((StorageClass.DeepArchive, "GOVERNANCE", h.Time.GetUtcNow().AddDays(30)), (manifest.StorageClass, manifest.RetentionLock, manifest.RetainUntil));
        Assert.All(manifest.Objects(), o => Assert.Equal(StorageClass.DeepArchive, h.Store.HeadAsync(o.Key).Result.StorageClass));

        var refused = await h.Library.DeleteTapeAsync("GOV001", "api", bypassGovernanceRetention: false, None);
        Assert.Equal(DeleteTapeStatus.GovernanceBypassRequired, refused.Status);
        Assert.Equal(ArchiveOutcome.Superseded, await h.Archiver.RunAsync("GOV001", None));
        Assert.NotEmpty(await h.ObjectsAsync(TapeTier.Archive, "GOV001"));

        Assert.True((await h.Library.DeleteTapeAsync("GOV001", "api", bypassGovernanceRetention: true, None)).Succeeded);
        Assert.Equal(ArchiveOutcome.ObjectsDeleted, (await h.Archiver.RunPendingAsync(None))["GOV001"]);
        Assert.Empty(await h.ObjectsAsync(TapeTier.Archive, "GOV001"));
        var deleted = await h.TapeAsync("GOV001");
        Assert.Equal((TapeState.Deleted, (CatalogStorageClass?)null), (deleted.State, deleted.ArchiveClass));
        Assert.Contains(await h.Tapes.GetEventsAsync("GOV001"), e => e.Detail == "bypass-governance-retention");
        Assert.Empty(await h.Archiver.RunPendingAsync(None));
    }

    [Theory]
    [InlineData("GOVERNANCE", true)]
    [InlineData("COMPLIANCE", true)]
    [InlineData("GOVERNANCE", false)] // a bucket without Object Lock: the catalog alone keeps the retention
    public async Task A_locked_pool_puts_every_archive_object_under_S3_Object_Lock_where_the_bucket_has_it(string mode, bool bucketLock)
    {
        await using var h = await ArchiveHarness.StartAsync();
        h.Store.ObjectLock = bucketLock;
        var pool = (await h.Operations.CreatePoolAsync("Locked " + mode, "GLACIER", mode, 30, None)).Pool!;
        await h.ArchiveTapeAsync("OLK001", slot: 1, pool: pool.Id);
        await h.ArchiveTapeAsync("OLK002", slot: 2); // the standard Glacier pool has no lock

        var manifest = (await h.Tier.GetManifestAsync(TapeTier.Archive, "OLK001", None))!;
        var expected = manifest.Objects().Select(o => o.Key).Append(h.Layout.ManifestKey(TapeTier.Archive, "OLK001")).Order(StringComparer.Ordinal);
        var archivedEvent = (await h.Tapes.GetEventsAsync("OLK001")).Last(e => e.ToState == TapeState.Archived);
        if (bucketLock)
        {
            Assert.Equal(expected, h.Store.Retentions.Keys.Order(StringComparer.Ordinal));
            var wanted = new ObjectRetention(mode == "COMPLIANCE" ? ObjectRetentionMode.Compliance : ObjectRetentionMode.Governance, h.Time.GetUtcNow().AddDays(30));
            Assert.All(h.Store.Retentions.Values, r => Assert.Equal(wanted, r));
            Assert.Contains("S3 Object Lock " + mode, archivedEvent.Detail, StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(h.Store.Retentions);
            Assert.Contains("retention kept by the catalog", archivedEvent.Detail, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(h.Store.Retentions.Keys, k => k.Contains("OLK002", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Compliance_retention_blocks_deletion_and_pool_moves_until_it_ends()
    {
        await using var h = await ArchiveHarness.StartAsync();
        var pool = (await h.Operations.CreatePoolAsync("Locked", "GLACIER", "COMPLIANCE", 10, None)).Pool!;
        await h.ArchiveTapeAsync("CMP001", slot: 1, pool: pool.Id);

        Assert.Equal(DeleteTapeStatus.RetentionLocked, (await h.Library.DeleteTapeAsync("CMP001", "api", true, None)).Status);
        var move = await h.Operations.AssignPoolAsync("CMP001", "DEEP_ARCHIVE", bypassGovernanceRetention: true, "api", None);
        Assert.Equal(ArchiveRequestStatus.Conflict, move.Status);
        Assert.Contains("Compliance", move.Message, StringComparison.Ordinal);

        h.Time.Advance(TimeSpan.FromDays(10));
        Assert.True((await h.Library.DeleteTapeAsync("CMP001", "api", false, None)).Succeeded);
    }

    [Fact]
    public async Task An_archived_tape_moves_from_glacier_to_deep_archive_in_place_but_never_back()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.ArchiveTapeAsync("MOV001", slot: 1);
        var keys = (await h.ObjectsAsync(TapeTier.Archive, "MOV001")).Select(o => o.Key).ToList();

        var assign = await h.Operations.AssignPoolAsync("MOV001", "Deep Archive", false, "api", None);

        Assert.True(assign.Succeeded, assign.Message);
        Assert.Equal((Pool.DeepArchiveId, CatalogStorageClass.Glacier), (assign.Tape!.PoolId, assign.Tape.ArchiveClass)); // copy pending
        Assert.Equal(2, h.Trigger.ArchiveRuns); // export, then the assignment
        Assert.Equal(ArchiveOutcome.Reclassed, (await h.Archiver.RunPendingAsync(None))["MOV001"]);

        Assert.Equal(CatalogStorageClass.DeepArchive, (await h.TapeAsync("MOV001")).ArchiveClass);
        var manifest = (await h.Tier.GetManifestAsync(TapeTier.Archive, "MOV001", None))!;
        Assert.Equal((StorageClass.DeepArchive, Pool.DeepArchiveId), (manifest.StorageClass, manifest.PoolId));
        Assert.All(manifest.Objects(), o => Assert.Equal(StorageClass.DeepArchive, h.Store.HeadAsync(o.Key).Result.StorageClass));
        Assert.Equal(keys, (await h.ObjectsAsync(TapeTier.Archive, "MOV001")).Select(o => o.Key)); // same keys, new class
        Assert.Contains(await h.Tapes.GetEventsAsync("MOV001"), e => e.Kind == TapeEventKind.PoolAssigned);

        var back = await h.Operations.AssignPoolAsync("MOV001", "GLACIER", false, "api", None);
        Assert.Equal(ArchiveRequestStatus.Conflict, back.Status);
        Assert.Contains("never back", back.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pool_move_on_a_store_that_needs_a_restore_first_waits_for_it()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.ArchiveTapeAsync("MOV002", slot: 1);
        h.Store.RefuseArchivedCopySource = true;
        h.Store.HoldRestores = true;
        Assert.True((await h.Operations.AssignPoolAsync("MOV002", "DEEP_ARCHIVE", false, "api", None)).Succeeded);

        Assert.Equal(ArchiveOutcome.Waiting, (await h.Archiver.RunPendingAsync(None))["MOV002"]);
        Assert.NotEmpty(h.Store.RestoreRequests);
        Assert.Equal(CatalogStorageClass.Glacier, (await h.TapeAsync("MOV002")).ArchiveClass);

        h.Store.HoldRestores = false;
        Assert.Equal(ArchiveOutcome.Reclassed, (await h.Archiver.RunPendingAsync(None))["MOV002"]);
        Assert.Equal(CatalogStorageClass.DeepArchive, (await h.TapeAsync("MOV002")).ArchiveClass);
    }

    [Fact]
    public async Task Pool_assignment_rules_for_available_tapes_governance_and_bad_requests()
    {
        await using var h = await ArchiveHarness.StartAsync();
        var governed = (await h.Operations.CreatePoolAsync("Gov", "GLACIER", "GOVERNANCE", 5, None)).Pool!;

        // Not archived yet: any pool; the export then archives into that pool's class.
        await h.CreateTapeAsync("ASG001", slot: 1);
        Assert.True((await h.Operations.AssignPoolAsync("ASG001", "DEEP_ARCHIVE", false, "api", None)).Succeeded);
        Assert.True((await h.Operations.AssignPoolAsync("ASG001", governed.Name, false, "api", None)).Succeeded);
        await h.ExportAsync(1, ArchiveHarness.FirstImportExport);
        Assert.Equal(ArchiveOutcome.Archived, await h.Archiver.RunAsync("ASG001", None));

        var blocked = await h.Operations.AssignPoolAsync("ASG001", "DEEP_ARCHIVE", false, "api", None);
        Assert.Equal(ArchiveRequestStatus.Conflict, blocked.Status);
        Assert.Contains("bypass", blocked.Message, StringComparison.Ordinal);
        var bypassed = await h.Operations.AssignPoolAsync("ASG001", "DEEP_ARCHIVE", true, "api", None);
        Assert.True(bypassed.Succeeded, bypassed.Message);
        Assert.Null(bypassed.Tape!.RetentionStart); // the standard Deep Archive pool has no lock

        Assert.Equal(ArchiveRequestStatus.NotFound, (await h.Operations.AssignPoolAsync("ASG001", "nope", false, "api", None)).Status);
        Assert.Equal(ArchiveRequestStatus.NotFound, (await h.Operations.AssignPoolAsync("NOPE01", "GLACIER", false, "api", None)).Status);
        Assert.Equal(ArchiveRequestStatus.Invalid, (await h.Operations.AssignPoolAsync("ASG001", " ", false, "api", None)).Status);
        Assert.Equal(ArchiveRequestStatus.Conflict, (await h.Operations.AssignPoolAsync("ASG001", "DEEP_ARCHIVE", false, "api", None)).Status); // same pool

        await h.CreateTapeAsync("ASG002", slot: 2);
        await h.ExportAsync(2, ArchiveHarness.FirstImportExport + 1);
        Assert.Equal(ArchiveRequestStatus.Conflict, (await h.Operations.AssignPoolAsync("ASG002", "DEEP_ARCHIVE", false, "api", None)).Status); // in transit
    }
}

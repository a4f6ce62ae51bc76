using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Catalog;
using TapeGateway.Scsi.Smc;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;
using StorageClass = TapeGateway.Storage.StorageClass;

namespace TapeGateway.Archive.Tests;

public sealed class ArchiveTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Export_goes_in_transit_in_the_IE_slot_then_archives_to_glacier_with_progress_and_leaves_the_library()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("ARC001", slot: 3);
        await h.ExportAsync(3, ArchiveHarness.FirstImportExport);

        // AWS: the ejected tape stays visible in its I/E slot while IN TRANSIT TO VTS; the job was triggered at once.
        var inTransit = await h.TapeAsync("ARC001");
        Assert.Equal((TapeState.InTransitToVts, (int?)ArchiveHarness.FirstImportExport), (inTransit.State, inTransit.ElementAddress));
        Assert.Equal("ARC001", (await h.Library.GetCatalogInventoryAsync(None)).At(ArchiveHarness.FirstImportExport)!.Barcode);
        Assert.Equal(1, h.Trigger.ArchiveRuns);
        var changesBefore = h.InventoryChanges;

        var seen = new List<(TapeState State, double? Progress)>();
        h.Store.BeforeCopy = async _ =>
        {
            var t = await h.TapeAsync("ARC001");
            seen.Add((t.State, t.ArchiveProgress));
        };
        var outcomes = await h.Archiver.RunPendingAsync(None);

        Assert.Equal(ArchiveOutcome.Archived, outcomes["ARC001"]);
        var tape = await h.TapeAsync("ARC001");
        Assert.Equal((TapeState.Archived, TapeLocationKind.Archive, (int?)null), (tape.State, tape.LocationKind, tape.ElementAddress));
        Assert.Equal(100, tape.ArchiveProgress);
        Assert.Equal(Catalog.StorageClass.Glacier, tape.ArchiveClass);
        Assert.Null((await h.Library.GetCatalogInventoryAsync(None)).At(ArchiveHarness.FirstImportExport)!.Barcode);
        Assert.True(h.InventoryChanges > changesBefore, "leaving the I/E slot must raise the changer's unit attention");

        // Progress was recorded per object while ARCHIVING, rising.
        Assert.Equal(6, seen.Count); // head + 5 segments
        Assert.All(seen, s => Assert.Equal(TapeState.Archiving, s.State));
        Assert.Equal(seen.Select(s => s.Progress), seen.Select(s => s.Progress).Order());
        Assert.Contains(seen, s => s.Progress is > 0 and < 100);

        // Every archive object verified by HEAD: class, size, SHA-256; the manifest is STANDARD and describes the archive.
        var manifest = (await h.Tier.GetManifestAsync(TapeTier.Archive, "ARC001", None))!;
        Assert.Equal(StorageClass.Glacier, manifest.StorageClass);
        Assert.Equal(h.Time.GetUtcNow(), manifest.Archived);
        Assert.Equal("NONE", manifest.RetentionLock);
        Assert.Null(manifest.RetainUntil);
        foreach (var o in manifest.Objects())
        {
            Assert.StartsWith(h.Layout.TapePrefix(TapeTier.Archive, "ARC001"), o.Key, StringComparison.Ordinal);
            var info = await h.Store.HeadAsync(o.Key);
            Assert.Equal((StorageClass.Glacier, o.Length, o.Sha256), (info.StorageClass, info.Size, info.Sha256));
        }

        Assert.Equal(StorageClass.Standard, (await h.Store.HeadAsync(h.Layout.ManifestKey(TapeTier.Archive, "ARC001"))).StorageClass);

        // Glacier semantics: no read before a restore.
        await Assert.ThrowsAsync<InvalidObjectStateException>(() => h.Store.GetAsync(manifest.Head.Key));

        // The library tier and the local cache are gone.
        Assert.Empty(await h.ObjectsAsync(TapeTier.Library, "ARC001"));
        Assert.Contains("ARC001", h.Tier.Purged);
        Assert.Empty(await h.Services.GetRequiredService<LibraryRepository>().FindInconsistenciesAsync());
        Assert.Empty(await h.Archiver.RunPendingAsync(None)); // nothing left to do
    }

    [Fact]
    public async Task While_uploads_are_pending_the_tape_stays_in_transit_in_its_slot()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("ARC002", slot: 1);
        await h.ExportAsync(1, ArchiveHarness.FirstImportExport + 1);
        h.Tier.UploadGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = h.Archiver.RunPendingAsync(None);
        await h.Tier.UploadStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var pending = await h.TapeAsync("ARC002");
        Assert.Equal((TapeState.InTransitToVts, (int?)ArchiveHarness.FirstImportExport + 1), (pending.State, pending.ElementAddress));
        Assert.Equal(0, pending.ArchiveProgress); // nothing of it uploaded yet

        // The tier uploads in the background; the archiver samples its progress while it waits.
        h.Tier.PendingOverride = (pending.UsedBytes / 4) + 1;
        h.Time.Advance(TapeArchiver.UploadProgressInterval);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await h.TapeAsync("ARC002")).ArchiveProgress is not > 70 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(75, (await h.TapeAsync("ARC002")).ArchiveProgress!.Value, 0);
        h.Tier.PendingOverride = null;
        h.Tier.UploadGate.SetResult();
        Assert.Equal(ArchiveOutcome.Archived, (await run)["ARC002"]);
    }

    [Fact]
    public async Task Taking_the_tape_back_from_the_IE_slot_before_archiving_cancels_the_export()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("ARC003", slot: 2);
        await h.ExportAsync(2, ArchiveHarness.FirstImportExport);
        Assert.Equal(TapeState.InTransitToVts, (await h.TapeAsync("ARC003")).State);

        // The backup application imports it again (I/E → storage slot): the archive is cancelled, the move happens.
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(ArchiveHarness.FirstImportExport, 5, "scsi:iqn.test", None));

        var tape = await h.TapeAsync("ARC003");
        Assert.Equal((TapeState.Available, (int?)5), (tape.State, tape.ElementAddress));
        Assert.Empty(await h.Archiver.RunPendingAsync(None));
        Assert.Empty(await h.ObjectsAsync(TapeTier.Archive, "ARC003"));
        var events = await h.Tapes.GetEventsAsync("ARC003");
        Assert.Contains(events, e => e.FromState == TapeState.InTransitToVts && e.ToState == TapeState.Available && e.Actor == "scsi:iqn.test");

        // Straight into a drive works the same way.
        await h.ExportAsync(5, ArchiveHarness.FirstImportExport);
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(ArchiveHarness.FirstImportExport, h.Drive(0).ElementAddress, "scsi:iqn.test", None));
        Assert.Equal(TapeState.Available, (await h.TapeAsync("ARC003")).State);
        Assert.Equal("ARC003", h.Drive(0).LoadedBarcode);
    }

    [Fact]
    public async Task Ejecting_straight_from_a_drive_into_the_IE_slot_exports_too()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("DRV001", slot: 2);
        var drive = h.Drive(0).ElementAddress;
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(2, drive, "scsi:iqn.test", None));

        await h.ExportAsync(drive, ArchiveHarness.FirstImportExport + 3);

        Assert.Null(h.Drive(0).LoadedBarcode);
        var tape = await h.TapeAsync("DRV001");
        Assert.Equal((TapeState.InTransitToVts, (int?)ArchiveHarness.FirstImportExport + 3), (tape.State, tape.ElementAddress));
        Assert.Equal(ArchiveOutcome.Archived, await h.Archiver.RunAsync("DRV001", None));
    }

    [Fact]
    public async Task Operator_cancel_works_only_while_in_transit()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("ARC004", slot: 2);
        await h.ExportAsync(2, ArchiveHarness.FirstImportExport);

        var cancel = await h.Operations.CancelArchiveAsync("ARC004", "api", None);
        Assert.True(cancel.Succeeded, cancel.Message);
        Assert.Equal((TapeState.Available, (int?)ArchiveHarness.FirstImportExport), (cancel.Tape!.State, cancel.Tape.ElementAddress));

        var again = await h.Operations.CancelArchiveAsync("ARC004", "api", None);
        Assert.Equal(ArchiveRequestStatus.Conflict, again.Status);
        Assert.Equal(ArchiveRequestStatus.NotFound, (await h.Operations.CancelArchiveAsync("NOPE01", "api", None)).Status);

        // Once ARCHIVING has started, it cannot be cancelled (AWS), nor taken back by the changer: it left the slot.
        await h.ArchiveTapeAsync("ARC005", slot: 4);
        var late = await h.Operations.CancelArchiveAsync("ARC005", "api", None);
        Assert.Equal(ArchiveRequestStatus.Conflict, late.Status);
        Assert.Contains("ARCHIVED", late.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_export_whose_notification_is_still_running_is_not_taken_for_an_interrupted_one()
    {
        // The e2e archive scenario caught it: an archive pass ran between MOVE MEDIUM's commit and its export
        // notification, "resumed" the export and logged a warning. A move and its notification hold the changer lock.
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("RES010", slot: 2);
        var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var notify = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var move = h.Library.RunWhileChangerIdleAsync(
            async ct =>
            {
                Assert.True((await h.Tapes.MoveAsync(h.Library.LibraryId, 2, ArchiveHarness.FirstImportExport, "scsi:iqn.test", ct)).Succeeded);
                committed.SetResult();
                await notify.Task;
                Assert.True((await h.Tapes.TransitionAsync("RES010", TapeState.Available, TapeState.InTransitToVts, "scsi:iqn.test", "exported", ct)).Succeeded);
            },
            None);
        await committed.Task;

        var pass = h.Archiver.RunPendingAsync(None);
        await Task.Delay(300);
        var waited = !pass.IsCompleted; // the pass waits for the changer
        notify.SetResult();
        await move;
        var outcomes = await pass;
        Assert.True(waited);

        Assert.Equal(ArchiveOutcome.Archived, outcomes["RES010"]);
        Assert.DoesNotContain(await h.Tapes.GetEventsAsync("RES010"), e => e.Detail?.Contains("export resumed", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task An_export_whose_transition_a_restart_lost_is_resumed_and_other_tapes_in_IE_slots_are_left_alone()
    {
        await using var h = await ArchiveHarness.StartAsync();

        // The move committed (as MOVE MEDIUM does) but the gateway stopped before the export handler ran: the catalog
        // alone, without the library's export notification.
        await h.CreateTapeAsync("RES001", slot: 2);
        Assert.True((await h.Tapes.MoveAsync(h.Library.LibraryId, 2, ArchiveHarness.FirstImportExport, "scsi:iqn.test")).Succeeded);
        Assert.Equal(TapeState.Available, (await h.TapeAsync("RES001")).State);

        // An export the operator cancelled: AVAILABLE in the I/E slot on purpose.
        await h.CreateTapeAsync("RES002", slot: 3);
        await h.ExportAsync(3, ArchiveHarness.FirstImportExport + 1);
        Assert.True((await h.Operations.CancelArchiveAsync("RES002", "api", None)).Succeeded);

        // A new tape created into an I/E slot (AWS's default placement).
        var created = await h.Library.CreateTapesAsync(
            new CreateTapesRequest { LibraryId = h.Library.LibraryId, Barcodes = ["RES003"], CapacityBytes = 16 * TapeCapacity.MiB, PoolId = Pool.GlacierId },
            None);
        Assert.True(created.Succeeded, created.Message);
        Assert.Equal(Catalog.ElementType.ImportExport, (await h.Library.GetCatalogInventoryAsync(None)).Elements.Single(e => e.Barcode == "RES003").Type);

        var outcomes = await h.Archiver.RunPendingAsync(None);

        Assert.Equal(ArchiveOutcome.Archived, outcomes["RES001"]);
        Assert.Equal(TapeState.Archived, (await h.TapeAsync("RES001")).State);
        Assert.Contains(await h.Tapes.GetEventsAsync("RES001"), e => e.Detail?.Contains("export resumed", StringComparison.Ordinal) == true);
        Assert.Equal((TapeState.Available, (int?)ArchiveHarness.FirstImportExport + 1), ((await h.TapeAsync("RES002")).State, (await h.TapeAsync("RES002")).ElementAddress));
        Assert.Equal(TapeState.Available, (await h.TapeAsync("RES003")).State);
        Assert.False(outcomes.ContainsKey("RES002"));
        Assert.False(outcomes.ContainsKey("RES003"));
    }

    [Fact]
    public async Task Minimum_export_age_holds_the_tape_in_transit_until_it_has_passed()
    {
        await using var h = await ArchiveHarness.StartAsync(new Dictionary<string, string?> { ["TapeGateway:Archive:MinimumExportAge"] = "00:30:00" });
        await h.CreateTapeAsync("AGE001", slot: 1);
        await h.ExportAsync(1, ArchiveHarness.FirstImportExport);

        Assert.Equal(ArchiveOutcome.Waiting, (await h.Archiver.RunPendingAsync(None))["AGE001"]);
        h.Time.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(ArchiveOutcome.Waiting, (await h.Archiver.RunPendingAsync(None))["AGE001"]);
        Assert.Equal(TapeState.InTransitToVts, (await h.TapeAsync("AGE001")).State);

        h.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(ArchiveOutcome.Archived, (await h.Archiver.RunPendingAsync(None))["AGE001"]);
    }

    [Fact]
    public async Task A_crash_mid_copy_is_resumed_by_the_next_run_copying_only_what_is_missing()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("CRASH1", slot: 1);
        await h.ExportAsync(1, ArchiveHarness.FirstImportExport);
        h.Store.FailCopyNumber = 4; // head and two segments make it, the third segment fails

        Assert.Equal(ArchiveOutcome.Failed, (await h.Archiver.RunPendingAsync(None))["CRASH1"]);
        var halfway = await h.TapeAsync("CRASH1");
        Assert.Equal(TapeState.Archiving, halfway.State);
        Assert.InRange(halfway.ArchiveProgress!.Value, 1, 99);
        Assert.Equal(3, (await h.ObjectsAsync(TapeTier.Archive, "CRASH1")).Count);
        Assert.NotEmpty(await h.ObjectsAsync(TapeTier.Library, "CRASH1")); // nothing deleted before verification

        var copiesBefore = h.Store.Copies;
        Assert.Equal(ArchiveOutcome.Archived, (await h.Archiver.RunPendingAsync(None))["CRASH1"]);
        Assert.Equal(3, h.Store.Copies - copiesBefore); // the three objects not yet there

        Assert.Equal(TapeState.Archived, (await h.TapeAsync("CRASH1")).State);
        Assert.Empty(await h.ObjectsAsync(TapeTier.Library, "CRASH1"));
        Assert.Equal(7, (await h.ObjectsAsync(TapeTier.Archive, "CRASH1")).Count); // manifest + head + 5 segments
        Assert.Single(await h.Tapes.GetEventsAsync("CRASH1"), e => e.ToState == TapeState.Archived);
        Assert.Empty(await h.Services.GetRequiredService<LibraryRepository>().FindInconsistenciesAsync());
    }

    [Fact]
    public async Task A_crash_while_deleting_the_library_copy_is_resumed_from_the_published_archive_manifest()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("CRASH2", slot: 1);
        await h.ExportAsync(1, ArchiveHarness.FirstImportExport);
        h.Store.FailDeleteNumber = 3; // manifest and one object deleted, then the "crash"

        Assert.Equal(ArchiveOutcome.Failed, (await h.Archiver.RunPendingAsync(None))["CRASH2"]);
        Assert.Equal(TapeState.Archiving, (await h.TapeAsync("CRASH2")).State);
        Assert.Null(await h.Tier.GetManifestAsync(TapeTier.Library, "CRASH2", None));

        var copiesBefore = h.Store.Copies;
        Assert.Equal(ArchiveOutcome.Archived, (await h.Archiver.RunPendingAsync(None))["CRASH2"]);
        Assert.Equal(copiesBefore, h.Store.Copies); // verified in place, nothing copied again
        Assert.Empty(await h.ObjectsAsync(TapeTier.Library, "CRASH2"));
    }

    [Fact]
    public async Task A_corrupted_archive_object_is_copied_again_before_the_library_copy_goes()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("BADOBJ", slot: 1);
        await h.ExportAsync(1, ArchiveHarness.FirstImportExport);
        var library = (await h.Tier.EnsureUploadedAsync("BADOBJ", None))!;

        // An earlier run left a wrong object under the first segment's archive key.
        var segmentKey = h.Layout.Rebase(library.Segments[0].Key, "BADOBJ", TapeTier.Library, TapeTier.Archive);
        using (var junk = new MemoryStream(new byte[library.Segments[0].Length]))
        {
            await h.Store.PutAsync(segmentKey, junk, new PutOptions { StorageClass = StorageClass.Glacier });
        }

        Assert.Equal(ArchiveOutcome.Archived, (await h.Archiver.RunPendingAsync(None))["BADOBJ"]);
        Assert.Equal(library.Segments[0].Sha256, (await h.Store.HeadAsync(segmentKey)).Sha256);
    }
}

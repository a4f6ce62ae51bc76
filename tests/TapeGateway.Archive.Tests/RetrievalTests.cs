using TapeGateway.Catalog;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;
using StorageClass = TapeGateway.Storage.StorageClass;

namespace TapeGateway.Archive.Tests;

public sealed class RetrievalTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Retrieval_restores_copies_back_and_places_the_tape_read_only_in_an_IE_slot_and_reexport_archives_it_again()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.ArchiveTapeAsync("RET001", slot: 1);
        var archive = (await h.Tier.GetManifestAsync(TapeTier.Archive, "RET001", None))!;

        var request = await h.Operations.RetrieveAsync("RET001", "api", None);
        Assert.True(request.Succeeded, request.Message);
        Assert.Equal(TapeState.Retrieving, request.Tape!.State);
        Assert.Equal(1, h.Trigger.RetrievalRuns);

        // Restores take hours on AWS: the first run asks for them and waits.
        h.Store.HoldRestores = true;
        Assert.Equal(RetrievalOutcome.Waiting, (await h.Retriever.RunPendingAsync(None))["RET001"]);
        Assert.Equal(archive.Objects().Select(o => o.Key).Order(), h.Store.RestoreRequests.Order());
        var waiting = await h.TapeAsync("RET001");
        Assert.Equal((TapeState.Retrieving, (double?)0), (waiting.State, waiting.ArchiveProgress));

        h.Store.HoldRestores = false;
        Assert.Equal(RetrievalOutcome.Retrieved, (await h.Retriever.RunPendingAsync(None))["RET001"]);

        var tape = await h.TapeAsync("RET001");
        Assert.Equal(TapeState.Retrieved, tape.State);
        Assert.True(tape.ReadOnly);
        Assert.Equal(ArchiveHarness.FirstImportExport, tape.ElementAddress);
        Assert.True(h.InventoryChanges > 0);

        // The library tier holds a complete STANDARD copy; the archive copy stays.
        var library = (await h.Tier.GetManifestAsync(TapeTier.Library, "RET001", None))!;
        Assert.True(library.Complete);
        Assert.Null(library.StorageClass);
        foreach (var o in library.Objects())
        {
            var info = await h.Store.HeadAsync(o.Key);
            Assert.Equal((StorageClass.Standard, o.Sha256), (info.StorageClass, info.Sha256));
            await using var read = await h.Store.GetAsync(o.Key); // readable without a restore
        }

        Assert.Equal(archive.Objects().Count() + 1, (await h.ObjectsAsync(TapeTier.Archive, "RET001")).Count);

        // The backup application loads it: write-protected.
        Assert.Equal(Scsi.Smc.ChangerResult.Ok, await h.Library.MoveAsync(ArchiveHarness.FirstImportExport, h.Drive(1).ElementAddress, "scsi:iqn.test", None));
        Assert.True(h.Drive(1).Cartridge!.ReadOnly);
        Assert.Equal(Scsi.Smc.ChangerResult.Ok, await h.Library.MoveAsync(h.Drive(1).ElementAddress, 7, "scsi:iqn.test", None));

        // Ejecting it returns it to ARCHIVED at once; it leaves the slot and the archive job deletes the library copy.
        var changes = h.InventoryChanges;
        await h.ExportAsync(7, ArchiveHarness.FirstImportExport + 2);
        var back = await h.TapeAsync("RET001");
        Assert.Equal((TapeState.Archived, (int?)null, true), (back.State, back.ElementAddress, back.PurgeLibraryCopy));
        Assert.Null((await h.Library.GetCatalogInventoryAsync(None)).At(ArchiveHarness.FirstImportExport + 2)!.Barcode);
        Assert.True(h.InventoryChanges > changes);

        Assert.Equal(ArchiveOutcome.LibraryCopyPurged, (await h.Archiver.RunPendingAsync(None))["RET001"]);
        Assert.Empty(await h.ObjectsAsync(TapeTier.Library, "RET001"));
        Assert.False((await h.TapeAsync("RET001")).PurgeLibraryCopy);
        Assert.Equal(archive.Objects().Count() + 1, (await h.ObjectsAsync(TapeTier.Archive, "RET001")).Count);
        Assert.Empty(await h.Archiver.RunPendingAsync(None));
    }

    [Fact]
    public async Task A_retrieved_tape_ejected_while_the_tier_still_publishes_it_waits_then_its_whole_library_copy_goes()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.ArchiveTapeAsync("RET005", slot: 1);
        Assert.True((await h.Operations.RetrieveAsync("RET005", "api", None)).Succeeded);
        Assert.Equal(RetrievalOutcome.Retrieved, await h.Retriever.RunAsync("RET005", None));
        Assert.Equal(Scsi.Smc.ChangerResult.Ok, await h.Library.MoveAsync(ArchiveHarness.FirstImportExport, h.Drive(1).ElementAddress, "scsi:iqn.test", None));
        Assert.Equal(Scsi.Smc.ChangerResult.Ok, await h.Library.MoveAsync(h.Drive(1).ElementAddress, ArchiveHarness.FirstImportExport, "scsi:iqn.test", None));
        Assert.True((await h.TapeAsync("RET005")).PurgeLibraryCopy);

        // The drive just closed the tape: the real tier now publishes the head with the new MAM load count, so the
        // tape has transfers in flight and a new object lands in the library tier after the eject.
        h.Tier.Busy.Add("RET005");
        var objects = (await h.ObjectsAsync(TapeTier.Library, "RET005")).Count;
        var purges = h.Tier.Purged.Count;
        Assert.True(objects > 0);
        Assert.Equal(ArchiveOutcome.Waiting, (await h.Archiver.RunPendingAsync(None))["RET005"]);
        Assert.True((await h.TapeAsync("RET005")).PurgeLibraryCopy);
        Assert.Equal((objects, purges), ((await h.ObjectsAsync(TapeTier.Library, "RET005")).Count, h.Tier.Purged.Count)); // nothing done yet
        using (var head = new MemoryStream(new byte[64]))
        {
            await h.Store.PutAsync(h.Layout.HeadKey(TapeTier.Library, "RET005", 999), head);
        }

        // The publish is done: the next pass purges the local copy, then deletes every library object, the late one too.
        h.Tier.Busy.Remove("RET005");
        Assert.Equal(ArchiveOutcome.LibraryCopyPurged, (await h.Archiver.RunPendingAsync(None))["RET005"]);
        Assert.Equal(purges + 1, h.Tier.Purged.Count);
        Assert.Empty(await h.ObjectsAsync(TapeTier.Library, "RET005"));
        Assert.False((await h.TapeAsync("RET005")).PurgeLibraryCopy);
        Assert.Empty(await h.Archiver.RunPendingAsync(None));
    }

    [Fact]
    public async Task A_store_without_restore_is_treated_as_readable()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.ArchiveTapeAsync("RET002", slot: 1);
        Assert.True((await h.Operations.RetrieveAsync("RET002", "api", None)).Succeeded);
        h.Store.RestoreNotSupported = true;

        Assert.Equal(RetrievalOutcome.Retrieved, await h.Retriever.RunAsync("RET002", None));
        Assert.Equal(TapeState.Retrieved, (await h.TapeAsync("RET002")).State);
    }

    [Fact]
    public async Task Cancelled_retrieval_returns_to_archived_and_the_partial_copy_is_deleted()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.ArchiveTapeAsync("RET003", slot: 1);
        Assert.True((await h.Operations.RetrieveAsync("RET003", "api", None)).Succeeded);
        h.Store.FailCopyNumber = h.Store.Copies + 3; // two objects copied back, then a failure
        Assert.Equal(RetrievalOutcome.Failed, await h.Retriever.RunAsync("RET003", None));
        Assert.Equal(2, (await h.ObjectsAsync(TapeTier.Library, "RET003")).Count);

        var cancel = await h.Operations.CancelRetrievalAsync("RET003", "api", None);

        Assert.True(cancel.Succeeded, cancel.Message);
        Assert.Equal((TapeState.Archived, true), (cancel.Tape!.State, cancel.Tape.PurgeLibraryCopy));
        Assert.Equal(RetrievalOutcome.Superseded, await h.Retriever.RunAsync("RET003", None));
        Assert.Equal(ArchiveOutcome.LibraryCopyPurged, (await h.Archiver.RunPendingAsync(None))["RET003"]);
        Assert.Empty(await h.ObjectsAsync(TapeTier.Library, "RET003"));
        Assert.Equal(ArchiveRequestStatus.Conflict, (await h.Operations.CancelRetrievalAsync("RET003", "api", None)).Status);
    }

    [Fact]
    public async Task Only_archived_tapes_can_be_retrieved()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("RET004", slot: 1);

        Assert.Equal(ArchiveRequestStatus.Conflict, (await h.Operations.RetrieveAsync("RET004", "api", None)).Status);
        Assert.Equal(ArchiveRequestStatus.NotFound, (await h.Operations.RetrieveAsync("NOPE01", "api", None)).Status);
    }

    [Fact]
    public async Task Without_a_free_IE_slot_the_retrieved_tape_waits_in_retrieving()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.ArchiveTapeAsync("RET005", slot: 1);
        Assert.True((await h.Operations.RetrieveAsync("RET005", "api", None)).Succeeded);
        var fill = await h.Library.CreateTapesAsync(
            new CreateTapesRequest { LibraryId = h.Library.LibraryId, Barcodes = ["FILL01", "FILL02", "FILL03", "FILL04"], CapacityBytes = 16 * TapeCapacity.MiB }, None);
        Assert.True(fill.Succeeded, fill.Message);

        Assert.Equal(RetrievalOutcome.NoFreeSlot, await h.Retriever.RunAsync("RET005", None));
        Assert.Equal(TapeState.Retrieving, (await h.TapeAsync("RET005")).State);

        Assert.True((await h.Library.DeleteTapeAsync("FILL01", "api", false, None)).Succeeded);
        Assert.Equal(RetrievalOutcome.Retrieved, await h.Retriever.RunAsync("RET005", None));
    }
}

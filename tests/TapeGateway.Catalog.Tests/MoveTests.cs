namespace TapeGateway.Catalog.Tests;

public sealed class MoveTests
{
    [Fact]
    public async Task Moving_into_storage_is_an_import_and_updates_both_records()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "MOVE01");

        var result = await ctx.Tapes.MoveAsync(library.Id, 10, 1003, "scsi:iqn.host");

        Assert.Equal(MoveStatus.Ok, result.Status);
        Assert.True(result.IsImport);
        Assert.False(result.IsExport);
        var inventory = (await ctx.Libraries.GetInventoryAsync(library.Id))!;
        Assert.Null(inventory.At(10)!.Barcode);
        Assert.Equal("MOVE01", inventory.At(1003)!.Barcode);
        Assert.Equal(10, inventory.At(1003)!.SourceAddress);
        var tape = (await ctx.Tapes.GetTapeAsync("MOVE01"))!;
        Assert.Equal(1003, tape.ElementAddress);
        var moved = (await ctx.Tapes.GetEventsAsync("MOVE01")).Last();
        Assert.Equal((TapeEventKind.Moved, 10, 1003, "scsi:iqn.host"), (moved.Kind, moved.FromElement!.Value, moved.ToElement!.Value, moved.Actor));

        var back = await ctx.Tapes.MoveAsync(library.Id, 1003, 12, "scsi:iqn.host");
        Assert.True(back.IsExport);
        Assert.Empty(await ctx.Libraries.FindInconsistenciesAsync());
    }

    [Fact]
    public async Task A_new_tape_has_no_source_until_the_robot_moves_it_and_a_drive_keeps_the_slot_it_came_from()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "SRC001");
        Assert.Null((await ctx.Libraries.GetInventoryAsync(library.Id))!.At(10)!.SourceAddress);

        Assert.True((await ctx.Tapes.MoveAsync(library.Id, 10, 500, "scsi:iqn.host")).Succeeded);
        Assert.True((await ctx.Tapes.MoveAsync(library.Id, 500, 10, "scsi:iqn.host")).Succeeded);

        // Back in the mailslot it was created in, but moved there by the robot: its source is that mailslot, which
        // READ ELEMENT STATUS reports (SMC-3: the source "may or may not be the same as this element").
        Assert.Equal(10, (await ctx.Libraries.GetInventoryAsync(library.Id))!.At(10)!.SourceAddress);
    }

    [Fact]
    public async Task Source_empty_destination_full_and_invalid_elements_are_typed()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "MOVE01", "MOVE02");

        Assert.Equal(MoveStatus.SourceEmpty, (await ctx.Tapes.MoveAsync(library.Id, 1000, 1001, "api")).Status);
        Assert.Equal(MoveStatus.DestinationFull, (await ctx.Tapes.MoveAsync(library.Id, 10, 11, "api")).Status);
        Assert.Equal(MoveStatus.InvalidElement, (await ctx.Tapes.MoveAsync(library.Id, 10, 4242, "api")).Status);
        Assert.Equal(MoveStatus.InvalidElement, (await ctx.Tapes.MoveAsync(library.Id, 4242, 1000, "api")).Status);
        Assert.Equal(MoveStatus.InvalidElement, (await ctx.Tapes.MoveAsync(library.Id, 10, 0, "api")).Status); // transport
        Assert.Equal(MoveStatus.LibraryNotFound, (await ctx.Tapes.MoveAsync(999, 10, 1000, "api")).Status);

        // Failed moves change nothing and log nothing.
        Assert.Single(await ctx.Tapes.GetEventsAsync("MOVE01"));
        Assert.Equal(10, (await ctx.Tapes.GetTapeAsync("MOVE01"))!.ElementAddress);
    }

    [Fact]
    public async Task Creating_tapes_cannot_be_moved_or_loaded()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = library.Id,
            Barcodes = ["CRE001"],
            CapacityBytes = TapeCapacity.MinimumBytes,
            InitialState = TapeState.Creating,
        });

        Assert.Equal(MoveStatus.NotAllowedInState, (await ctx.Tapes.MoveAsync(library.Id, 10, 1000, "api")).Status);
        Assert.Equal(MoveStatus.NotAllowedInState, (await ctx.Tapes.LoadIntoDriveAsync(library.Id, "CRE001", 0, "api")).Status);

        Assert.True((await ctx.Tapes.TransitionAsync("CRE001", TapeState.Creating, TapeState.Available, "job:media")).Succeeded);
        Assert.True((await ctx.Tapes.LoadIntoDriveAsync(library.Id, "CRE001", 0, "api")).Succeeded);
    }

    [Fact]
    public async Task Load_and_unload_return_the_tape_to_its_source_slot()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = library.Id,
            Barcodes = ["DRV001"],
            CapacityBytes = TapeCapacity.MinimumBytes,
            Placement = TapePlacement.Storage,
        });

        var load = await ctx.Tapes.LoadIntoDriveAsync(library.Id, "DRV001", 1, "scsi:iqn.host");
        Assert.Equal((MoveStatus.Ok, 1000, 501), (load.Status, load.From!.Value, load.To!.Value));
        var drives = await ctx.Libraries.ListDrivesAsync(library.Id);
        Assert.Equal("DRV001", drives[1].LoadedBarcode);
        Assert.Null(drives[0].LoadedBarcode);
        Assert.NotEqual(drives[0].SerialNumber, drives[1].SerialNumber);
        Assert.Equal(MoveStatus.DestinationFull, (await ctx.Tapes.MoveAsync(library.Id, 501, 501, "api")).Status);

        var unload = await ctx.Tapes.UnloadDriveAsync(library.Id, 1, "scsi:iqn.host");
        Assert.Equal((MoveStatus.Ok, 501, 1000), (unload.Status, unload.From!.Value, unload.To!.Value));
        Assert.Equal(MoveStatus.SourceEmpty, (await ctx.Tapes.UnloadDriveAsync(library.Id, 1, "api")).Status);
        Assert.Equal(MoveStatus.InvalidElement, (await ctx.Tapes.LoadIntoDriveAsync(library.Id, "DRV001", 7, "api")).Status);

        var kinds = (await ctx.Tapes.GetEventsAsync("DRV001")).Select(e => e.Kind);
        Assert.Equal([TapeEventKind.Created, TapeEventKind.Loaded, TapeEventKind.Unloaded], kinds);
    }

    [Fact]
    public async Task Unload_without_destination_falls_back_to_a_free_storage_slot()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = library.Id,
            Barcodes = ["DRV001", "DRV002"],
            CapacityBytes = TapeCapacity.MinimumBytes,
            Placement = TapePlacement.Storage,
        });
        await ctx.Tapes.LoadIntoDriveAsync(library.Id, "DRV001", 0, "api");   // from 1000
        await ctx.Tapes.MoveAsync(library.Id, 1001, 1000, "api");              // DRV002 takes its slot

        var unload = await ctx.Tapes.UnloadDriveAsync(library.Id, 0, "api");

        Assert.Equal(1001, unload.To);
    }

    [Fact]
    public async Task Concurrent_moves_to_one_slot_have_exactly_one_winner()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "RACE01", "RACE02", "RACE03", "RACE04");

        var results = await Task.WhenAll(new[] { 10, 11, 12, 13 }.Select(from =>
            Task.Run(() => ctx.Tapes.MoveAsync(library.Id, from, 1005, $"scsi:{from}"))));

        Assert.Single(results, r => r.Succeeded);
        Assert.All(results.Where(r => !r.Succeeded), r => Assert.Equal(MoveStatus.DestinationFull, r.Status));
        Assert.Empty(await ctx.Libraries.FindInconsistenciesAsync());
    }
}

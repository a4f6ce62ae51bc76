using Dapper;
using Microsoft.Data.Sqlite;

namespace TapeGateway.Catalog.Tests;

public sealed class TapeCreationTests
{
    [Fact]
    public async Task New_tapes_appear_in_import_export_slots_by_default()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;

        var result = await ctx.CreateAsync(library.Id, "TAPE01", "TAPE02");

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal([10, 11], result.Tapes.Select(t => t.ElementAddress));
        var inventory = (await ctx.Libraries.GetInventoryAsync(library.Id))!;
        Assert.Equal("TAPE01", inventory.At(10)!.Barcode);
        Assert.Equal("TAPE02", inventory.At(11)!.Barcode);
        Assert.All(result.Tapes, t => Assert.Equal(TapeState.Available, t.State));
        Assert.Equal(result.Tapes[0], await ctx.Tapes.GetTapeAsync("TAPE01"));
    }

    [Fact]
    public async Task Tapes_can_be_created_straight_into_storage_slots()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;

        var result = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = library.Id,
            Barcodes = ["STOR01"],
            CapacityBytes = TapeCapacity.MinimumBytes,
            Placement = TapePlacement.Storage,
        });

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(1000, result.Tapes[0].ElementAddress);
        Assert.Equal(ElementType.Storage, (await ctx.Libraries.GetInventoryAsync(library.Id))!.At(1000)!.Type);
    }

    [Fact]
    public async Task No_free_slot_means_nothing_is_created()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;

        // 4 I/E slots, 5 tapes: the whole batch must fail.
        var result = await ctx.CreateAsync(library.Id, "FAIL01", "FAIL02", "FAIL03", "FAIL04", "FAIL05");

        Assert.Equal(CreateTapesError.NoFreeSlot, result.Error);
        Assert.Contains("nothing was created", result.Message, StringComparison.Ordinal);
        Assert.Empty(await ctx.Tapes.ListTapesAsync(new TapeFilter { IncludeDeleted = true }));
        Assert.False(await ctx.Tapes.IsBarcodeUsedAsync("FAIL01"));
        Assert.Empty(await ctx.Tapes.GetEventsAsync("FAIL01"));
        Assert.All((await ctx.Libraries.GetInventoryAsync(library.Id))!.Elements, e => Assert.Null(e.Barcode));

        // The same barcodes are still creatable once the batch fits.
        Assert.True((await ctx.CreateAsync(library.Id, "FAIL01", "FAIL02")).Succeeded);
    }

    [Fact]
    public async Task A_batch_with_one_used_barcode_creates_nothing()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        Assert.True((await ctx.CreateAsync(library.Id, "USED01")).Succeeded);

        var result = await ctx.CreateAsync(library.Id, "NEW001", "USED01");

        Assert.Equal(CreateTapesError.BarcodeAlreadyUsed, result.Error);
        Assert.Null(await ctx.Tapes.GetTapeAsync("NEW001"));
        Assert.False(await ctx.Tapes.IsBarcodeUsedAsync("NEW001"));
    }

    [Fact]
    public async Task A_deleted_barcode_is_never_reused()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        Assert.True((await ctx.CreateAsync(library.Id, "ONCE01")).Succeeded);
        Assert.True((await ctx.Tapes.DeleteTapeAsync("ONCE01", "api")).Succeeded);
        Assert.True((await ctx.Tapes.TransitionAsync("ONCE01", TapeState.Deleting, TapeState.Deleted, "job:delete")).Succeeded);

        var again = await ctx.CreateAsync(library.Id, "ONCE01");

        Assert.Equal(CreateTapesError.BarcodeAlreadyUsed, again.Error);
        Assert.True(await ctx.Tapes.IsBarcodeUsedAsync("ONCE01"));

        // Not even by removing the row by hand.
        await using var c = await ctx.Connections.OpenAsync();
        var e = await Assert.ThrowsAsync<SqliteException>(() => c.ExecuteAsync("DELETE FROM barcodes_used WHERE barcode = 'ONCE01';"));
        Assert.Contains("never be reused", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ab123")]
    [InlineData("ABCD")]
    [InlineData("ABCDEFGHIJKLMNOPQ")]
    public async Task Invalid_barcodes_are_rejected(string barcode)
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        Assert.Equal(CreateTapesError.InvalidBarcode, (await ctx.CreateAsync(library.Id, barcode)).Error);
    }

    [Theory]
    [InlineData("WRM001LV", false, false)] // WORM label on a rewritable tape
    [InlineData("DAT001L5", true, false)]  // data label on a WORM tape
    [InlineData("WRM001LV", true, true)]
    [InlineData("DAT001L5", false, true)]
    [InlineData("CLN001CU", false, false)] // cleaning cartridges are not data tapes
    public async Task Media_id_must_agree_with_the_worm_flag(string barcode, bool worm, bool ok)
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        var result = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = library.Id,
            Barcodes = [barcode],
            CapacityBytes = TapeCapacity.MinimumBytes,
            Worm = worm,
        });
        Assert.Equal(ok, result.Succeeded);
    }

    [Fact]
    public async Task Capacity_rules_apply_and_small_tapes_need_the_option()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using (ctx)
        {
            var small = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest { LibraryId = library.Id, Barcodes = ["SMALL1"], CapacityBytes = 16 * TapeCapacity.MiB });
            Assert.Equal(CreateTapesError.InvalidCapacity, small.Error);
            var unaligned = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest { LibraryId = library.Id, Barcodes = ["ODD001"], CapacityBytes = TapeCapacity.MinimumBytes + 1 });
            Assert.Equal(CreateTapesError.InvalidCapacity, unaligned.Error);
        }

        var (smallCtx, smallLibrary) = await CatalogTestContext.CreateWithLibraryAsync(allowSmallTapes: true);
        await using (smallCtx)
        {
            var small = await smallCtx.Tapes.CreateTapesAsync(new CreateTapesRequest { LibraryId = smallLibrary.Id, Barcodes = ["SMALL1"], CapacityBytes = 16 * TapeCapacity.MiB });
            Assert.True(small.Succeeded, small.Message);
            Assert.Equal(16 * TapeCapacity.MiB, small.Tapes[0].CapacityBytes);
        }
    }

    [Fact]
    public async Task Prefix_creation_allocates_sequentially_and_skips_used_barcodes()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        Assert.True((await ctx.CreateAsync(library.Id, "TST002")).Succeeded); // made by hand inside the numbering

        var result = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = library.Id,
            BarcodePrefix = "TST",
            Count = 2,
            CapacityBytes = TapeCapacity.MinimumBytes,
        });
        var more = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = library.Id,
            BarcodePrefix = "TST",
            Count = 1,
            CapacityBytes = TapeCapacity.MinimumBytes,
        });

        Assert.Equal(["TST001", "TST003"], result.Tapes.Select(t => t.Barcode));
        Assert.Equal(["TST004"], more.Tapes.Select(t => t.Barcode));
    }

    [Fact]
    public async Task Unknown_pool_and_library_are_reported()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        var noPool = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest { LibraryId = library.Id, Barcodes = ["POOL01"], CapacityBytes = TapeCapacity.MinimumBytes, PoolId = "nope" });
        var noLibrary = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest { LibraryId = 999, Barcodes = ["LIB001"], CapacityBytes = TapeCapacity.MinimumBytes });
        Assert.Equal(CreateTapesError.PoolNotFound, noPool.Error);
        Assert.Equal(CreateTapesError.LibraryNotFound, noLibrary.Error);
    }

    [Fact]
    public async Task Creation_is_recorded_as_an_event_with_iso_utc_time()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "EVT001");

        var events = await ctx.Tapes.GetEventsAsync("EVT001");

        var created = Assert.Single(events);
        Assert.Equal(TapeEventKind.Created, created.Kind);
        Assert.Equal(TapeState.Available, created.ToState);
        Assert.Equal(10, created.ToElement);
        Assert.Equal("api", created.Actor);
        Assert.Equal(ctx.Time.GetUtcNow(), created.Time);

        await using var c = await ctx.Connections.OpenAsync();
        Assert.Equal("2026-11-02T10:00:00.000Z", await c.ExecuteScalarAsync<string>("SELECT created FROM tapes WHERE barcode = 'EVT001';"));
    }

    [Fact]
    public async Task Foreign_keys_are_enforced()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await using var c = await ctx.Connections.OpenAsync();

        // A tape whose barcode was never registered, in an unknown pool.
        var e = await Assert.ThrowsAsync<SqliteException>(() => c.ExecuteAsync("""
            INSERT INTO tapes (barcode, library_id, capacity_bytes, state, pool_id, worm, location_kind, created, updated)
            VALUES ('GHOST1', NULL, 1, 'AVAILABLE', 'NO_POOL', 0, 'archive', 'x', 'x');
            """));
        Assert.Equal(19, e.SqliteErrorCode); // SQLITE_CONSTRAINT
        Assert.Contains("FOREIGN KEY", e.Message, StringComparison.Ordinal);

        // An element pointing at a tape that does not exist.
        var e2 = await Assert.ThrowsAsync<SqliteException>(() => c.ExecuteAsync(
            "UPDATE elements SET barcode = 'GHOST2' WHERE library_id = @Id AND address = 1000;", new { library.Id }));
        Assert.Contains("FOREIGN KEY", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_and_pools_are_immutable()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "HIST01");
        await using var c = await ctx.Connections.OpenAsync();

        await Assert.ThrowsAsync<SqliteException>(() => c.ExecuteAsync("UPDATE tape_events SET actor = 'forged';"));
        await Assert.ThrowsAsync<SqliteException>(() => c.ExecuteAsync("DELETE FROM tape_events;"));
        await Assert.ThrowsAsync<SqliteException>(() => c.ExecuteAsync("UPDATE pools SET retention_days = 1 WHERE id = 'GLACIER';"));
        Assert.Equal(PoolDeleteStatus.StandardPool, await ctx.Pools.DeletePoolAsync(Pool.GlacierId));
    }
}

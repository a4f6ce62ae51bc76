namespace TapeGateway.Catalog.Tests;

public sealed class DeletionTests
{
    [Fact]
    public async Task Deleting_an_available_tape_frees_its_slot_and_keeps_history()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "DEL001");

        var result = await ctx.Tapes.DeleteTapeAsync("DEL001", "api");

        Assert.Equal(DeleteTapeStatus.Ok, result.Status);
        var tape = (await ctx.Tapes.GetTapeAsync("DEL001"))!;
        Assert.Equal((TapeState.Deleting, TapeLocationKind.None, (int?)null), (tape.State, tape.LocationKind, tape.ElementAddress));
        Assert.Null((await ctx.Libraries.GetInventoryAsync(library.Id))!.At(10)!.Barcode);
        var deleted = (await ctx.Tapes.GetEventsAsync("DEL001")).Last();
        Assert.Equal((TapeEventKind.Deleted, TapeState.Available, TapeState.Deleting, 10), (deleted.Kind, deleted.FromState!.Value, deleted.ToState!.Value, deleted.FromElement!.Value));

        Assert.True((await ctx.Tapes.TransitionAsync("DEL001", TapeState.Deleting, TapeState.Deleted, "job:delete")).Succeeded);
        Assert.Empty(await ctx.Tapes.ListTapesAsync());
        Assert.Single(await ctx.Tapes.ListTapesAsync(new TapeFilter { IncludeDeleted = true }));
        Assert.Single(await ctx.Tapes.ListTapesAsync(new TapeFilter { States = [TapeState.Deleted] }));
    }

    [Fact]
    public async Task Retrieved_and_in_flight_tapes_cannot_be_deleted()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "DEL002");
        await ctx.Tapes.TransitionAsync("DEL002", TapeState.Available, TapeState.InTransitToVts, "api");
        Assert.Equal(DeleteTapeStatus.NotAllowedInState, (await ctx.Tapes.DeleteTapeAsync("DEL002", "api")).Status);

        await ArchiveAsync(ctx, "DEL002", from: TapeState.InTransitToVts);
        await ctx.Tapes.TransitionAsync("DEL002", TapeState.Archived, TapeState.Retrieving, "api");
        await ctx.Tapes.TransitionAsync("DEL002", TapeState.Retrieving, TapeState.Retrieved, "job:retrieve");
        var retrieved = await ctx.Tapes.DeleteTapeAsync("DEL002", "api");
        Assert.Equal(DeleteTapeStatus.NotAllowedInState, retrieved.Status);
        Assert.Contains("Eject", retrieved.Message, StringComparison.Ordinal);

        // Ejecting returns it to ARCHIVED (out of the library), after which it can be deleted.
        Assert.True((await ctx.Tapes.TransitionAsync("DEL002", TapeState.Retrieved, TapeState.Archived, "scsi:iqn.host")).Succeeded);
        Assert.True((await ctx.Tapes.DeleteTapeAsync("DEL002", "api")).Succeeded);
        Assert.Equal(DeleteTapeStatus.TapeNotFound, (await ctx.Tapes.DeleteTapeAsync("NOPE01", "api")).Status);
    }

    [Fact]
    public async Task Compliance_retention_blocks_deletion_until_it_expires()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        var pool = await ctx.Pools.CreatePoolAsync("Legal hold", StorageClass.DeepArchive, RetentionLockType.Compliance, 30);
        await CreateInPoolAsync(ctx, library.Id, "KEEP01", pool.Id);
        await ArchiveAsync(ctx, "KEEP01");
        Assert.Equal(ctx.Time.GetUtcNow(), (await ctx.Tapes.GetTapeAsync("KEEP01"))!.RetentionStart);

        Assert.Equal(DeleteTapeStatus.RetentionLocked, (await ctx.Tapes.DeleteTapeAsync("KEEP01", "api")).Status);
        Assert.Equal(DeleteTapeStatus.RetentionLocked, (await ctx.Tapes.DeleteTapeAsync("KEEP01", "api", bypassGovernanceRetention: true)).Status);

        ctx.Time.Advance(TimeSpan.FromDays(30));
        Assert.True((await ctx.Tapes.DeleteTapeAsync("KEEP01", "api")).Succeeded);
    }

    [Fact]
    public async Task Governance_retention_needs_the_bypass_flag()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        var pool = await ctx.Pools.CreatePoolAsync("Governed", StorageClass.Glacier, RetentionLockType.Governance, 365);
        await CreateInPoolAsync(ctx, library.Id, "GOV001", pool.Id);
        await ArchiveAsync(ctx, "GOV001");

        Assert.Equal(DeleteTapeStatus.GovernanceBypassRequired, (await ctx.Tapes.DeleteTapeAsync("GOV001", "api")).Status);
        Assert.True((await ctx.Tapes.DeleteTapeAsync("GOV001", "api", bypassGovernanceRetention: true)).Succeeded);
        Assert.Equal("bypass-governance-retention", (await ctx.Tapes.GetEventsAsync("GOV001")).Last().Detail);
    }

    [Fact]
    public async Task Pools_validate_retention_and_cannot_be_deleted_while_used()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await Assert.ThrowsAsync<CatalogValidationException>(() => ctx.Pools.CreatePoolAsync("X", StorageClass.Glacier));
        await Assert.ThrowsAsync<CatalogValidationException>(() => ctx.Pools.CreatePoolAsync("Bad", StorageClass.Glacier, RetentionLockType.Compliance, 36501));
        await Assert.ThrowsAsync<CatalogValidationException>(() => ctx.Pools.CreatePoolAsync("Bad", StorageClass.Glacier, RetentionLockType.None, 5));
        var pool = await ctx.Pools.CreatePoolAsync("Century", StorageClass.Glacier, RetentionLockType.Compliance, 36500);
        await Assert.ThrowsAsync<CatalogValidationException>(() => ctx.Pools.CreatePoolAsync("Century", StorageClass.Glacier));
        Assert.Equal(pool, await ctx.Pools.GetPoolAsync(pool.Id));

        await CreateInPoolAsync(ctx, library.Id, "POOL01", pool.Id);
        Assert.Equal(PoolDeleteStatus.InUse, await ctx.Pools.DeletePoolAsync(pool.Id));
        var empty = await ctx.Pools.CreatePoolAsync("Empty", StorageClass.Glacier);
        Assert.Equal(PoolDeleteStatus.Ok, await ctx.Pools.DeletePoolAsync(empty.Id));
        Assert.Equal(PoolDeleteStatus.NotFound, await ctx.Pools.DeletePoolAsync(empty.Id));
    }

    private static async Task CreateInPoolAsync(CatalogTestContext ctx, long libraryId, string barcode, string poolId)
    {
        var result = await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = libraryId,
            Barcodes = [barcode],
            CapacityBytes = TapeCapacity.MinimumBytes,
            PoolId = poolId,
        });
        Assert.True(result.Succeeded, result.Message);
    }

    private static async Task ArchiveAsync(CatalogTestContext ctx, string barcode, TapeState from = TapeState.Available)
    {
        if (from == TapeState.Available)
        {
            Assert.True((await ctx.Tapes.TransitionAsync(barcode, TapeState.Available, TapeState.InTransitToVts, "api")).Succeeded);
        }

        Assert.True((await ctx.Tapes.TransitionAsync(barcode, TapeState.InTransitToVts, TapeState.Archiving, "job:archive")).Succeeded);
        Assert.True((await ctx.Tapes.TransitionAsync(barcode, TapeState.Archiving, TapeState.Archived, "job:archive")).Succeeded);
    }
}

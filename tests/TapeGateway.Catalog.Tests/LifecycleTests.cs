namespace TapeGateway.Catalog.Tests;

public sealed class LifecycleTests
{
    [Fact]
    public async Task Concurrent_identical_transitions_have_exactly_one_winner()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "RACE01");

        // Every task uses its own connection, like separate iSCSI sessions and jobs would.
        using var start = new ManualResetEventSlim();
        var racers = Enumerable.Range(0, 32).Select(i => Task.Run(async () =>
        {
            start.Wait();
            return await ctx.Tapes.TransitionAsync("RACE01", TapeState.Available, TapeState.InTransitToVts, $"racer:{i}");
        })).ToList();
        start.Set();
        var results = await Task.WhenAll(racers);

        Assert.Single(results, r => r.Status == TransitionStatus.Ok);
        Assert.All(results.Where(r => !r.Succeeded), r =>
        {
            Assert.Equal(TransitionStatus.StateMismatch, r.Status);
            Assert.Equal(TapeState.InTransitToVts, r.ActualState);
        });
        var transitions = (await ctx.Tapes.GetEventsAsync("RACE01")).Where(e => e.Kind == TapeEventKind.StateTransition).ToList();
        Assert.Single(transitions);
        Assert.Empty(await ctx.Libraries.FindInconsistenciesAsync());
    }

    [Fact]
    public async Task Concurrent_different_transitions_from_the_same_state_have_one_winner()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "RACE02");
        Assert.True((await ctx.Tapes.TransitionAsync("RACE02", TapeState.Available, TapeState.InTransitToVts, "api")).Succeeded);

        // Upload finishing vs. the operator cancelling archival: only one may happen.
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => i % 2 == 0
            ? ctx.Tapes.TransitionAsync("RACE02", TapeState.InTransitToVts, TapeState.Archiving, "job:archive")
            : ctx.Tapes.TransitionAsync("RACE02", TapeState.InTransitToVts, TapeState.Available, "api"))));

        Assert.Single(results, r => r.Succeeded);
        Assert.Empty(await ctx.Libraries.FindInconsistenciesAsync());
    }

    [Fact]
    public async Task Transitions_outside_the_table_are_refused_without_touching_the_tape()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "RULE01");

        var skip = await ctx.Tapes.TransitionAsync("RULE01", TapeState.Available, TapeState.Archived, "api");
        var wrongFrom = await ctx.Tapes.TransitionAsync("RULE01", TapeState.InTransitToVts, TapeState.Archiving, "api");
        var delete = await ctx.Tapes.TransitionAsync("RULE01", TapeState.Available, TapeState.Deleting, "api");
        var missing = await ctx.Tapes.TransitionAsync("NOPE01", TapeState.Available, TapeState.InTransitToVts, "api");

        Assert.Equal(TransitionStatus.NotAllowed, skip.Status);
        Assert.Equal(TransitionStatus.StateMismatch, wrongFrom.Status);
        Assert.Equal(TapeState.Available, wrongFrom.ActualState);
        Assert.Equal(TransitionStatus.NotAllowed, delete.Status);
        Assert.Equal(TransitionStatus.TapeNotFound, missing.Status);
        Assert.Equal(TapeState.Available, (await ctx.Tapes.GetTapeAsync("RULE01"))!.State);
        Assert.Single(await ctx.Tapes.GetEventsAsync("RULE01"));
    }

    [Fact]
    public async Task Archive_round_trip_moves_the_tape_out_of_and_back_into_the_library()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "ARCH01");

        // AWS keeps an ejected tape visible in its I/E slot while it is IN TRANSIT TO VTS; it leaves when ARCHIVING starts.
        Assert.True((await ctx.Tapes.TransitionAsync("ARCH01", TapeState.Available, TapeState.InTransitToVts, "scsi:iqn.test")).Succeeded);
        var inTransit = (await ctx.Tapes.GetTapeAsync("ARCH01"))!;
        Assert.Equal(TapeLocationKind.Element, inTransit.LocationKind);
        Assert.Equal(10, inTransit.ElementAddress);
        Assert.Equal("ARCH01", (await ctx.Libraries.GetInventoryAsync(library.Id))!.At(10)!.Barcode);

        Assert.True(await ctx.Tapes.SetArchiveProgressAsync("ARCH01", 40));
        Assert.True((await ctx.Tapes.TransitionAsync("ARCH01", TapeState.InTransitToVts, TapeState.Archiving, "job:archive")).Succeeded);
        var archiving = (await ctx.Tapes.GetTapeAsync("ARCH01"))!;
        Assert.Equal(TapeLocationKind.Archive, archiving.LocationKind);
        Assert.Null(archiving.ElementAddress);
        Assert.Null((await ctx.Libraries.GetInventoryAsync(library.Id))!.At(10)!.Barcode);
        ctx.Time.Advance(TimeSpan.FromHours(1));
        Assert.True((await ctx.Tapes.TransitionAsync("ARCH01", TapeState.Archiving, TapeState.Archived, "job:archive")).Succeeded);
        var archived = (await ctx.Tapes.GetTapeAsync("ARCH01"))!;
        Assert.Equal(100, archived.ArchiveProgress);
        Assert.Equal(ctx.Time.GetUtcNow(), archived.PoolEntry);
        Assert.Null(archived.RetentionStart); // Glacier standard pool has no retention lock

        Assert.True((await ctx.Tapes.TransitionAsync("ARCH01", TapeState.Archived, TapeState.Retrieving, "api")).Succeeded);
        Assert.True((await ctx.Tapes.TransitionAsync("ARCH01", TapeState.Retrieving, TapeState.Retrieved, "job:retrieve")).Succeeded);
        var retrieved = (await ctx.Tapes.GetTapeAsync("ARCH01"))!;
        Assert.Equal(TapeLocationKind.Element, retrieved.LocationKind);
        Assert.Equal(10, retrieved.ElementAddress);
        Assert.True(retrieved.ReadOnly);

        var kinds = (await ctx.Tapes.GetEventsAsync("ARCH01")).Select(e => (e.Kind, e.FromState, e.ToState)).ToList();
        Assert.Equal(
            [
                (TapeEventKind.Created, null, TapeState.Available),
                (TapeEventKind.StateTransition, TapeState.Available, TapeState.InTransitToVts),
                (TapeEventKind.StateTransition, TapeState.InTransitToVts, TapeState.Archiving),
                (TapeEventKind.StateTransition, TapeState.Archiving, TapeState.Archived),
                (TapeEventKind.StateTransition, TapeState.Archived, TapeState.Retrieving),
                (TapeEventKind.StateTransition, TapeState.Retrieving, TapeState.Retrieved),
            ],
            kinds.Select(k => (k.Kind, (TapeState?)k.FromState, k.ToState)).ToList());
        Assert.Empty(await ctx.Libraries.FindInconsistenciesAsync());
    }

    [Fact]
    public async Task A_retrieved_tape_put_in_a_mailslot_has_no_source_element()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "BACK01");
        Assert.True((await ctx.Tapes.MoveAsync(library.Id, 10, 1000, "scsi:iqn.test")).Succeeded);
        Assert.True((await ctx.Tapes.MoveAsync(library.Id, 1000, 11, "scsi:iqn.test")).Succeeded);
        foreach (var (from, to) in new[]
        {
            (TapeState.Available, TapeState.InTransitToVts), (TapeState.InTransitToVts, TapeState.Archiving),
            (TapeState.Archiving, TapeState.Archived), (TapeState.Archived, TapeState.Retrieving), (TapeState.Retrieving, TapeState.Retrieved),
        })
        {
            Assert.True((await ctx.Tapes.TransitionAsync("BACK01", from, to, "job")).Succeeded);
        }

        // The gateway put it there, as an operator would: no source (SVALID=0, IMPEXP=1), not the slot it was
        // exported from before it was archived.
        var tape = (await ctx.Tapes.GetTapeAsync("BACK01"))!;
        Assert.Equal(10, tape.ElementAddress);
        Assert.Null(tape.SourceAddress);
    }

    [Fact]
    public async Task Cancelling_archival_in_the_IE_slot_keeps_the_tape_there()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "STAY01");
        Assert.True((await ctx.Tapes.TransitionAsync("STAY01", TapeState.Available, TapeState.InTransitToVts, "scsi:iqn.test")).Succeeded);

        var cancel = await ctx.Tapes.TransitionAsync("STAY01", TapeState.InTransitToVts, TapeState.Available, "api");

        Assert.True(cancel.Succeeded, cancel.Message);
        var tape = (await ctx.Tapes.GetTapeAsync("STAY01"))!;
        Assert.Equal((TapeState.Available, TapeLocationKind.Element, (int?)10), (tape.State, tape.LocationKind, tape.ElementAddress));
        Assert.All((await ctx.Tapes.GetEventsAsync("STAY01")).Skip(1), e => Assert.Null(e.ToElement)); // only the creation placed it
        Assert.Empty(await ctx.Libraries.FindInconsistenciesAsync());
    }

    [Fact]
    public async Task Cancelling_archival_needs_a_free_import_export_slot()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;

        // Exported from a storage slot (not through the changer): nothing to show it in, so it leaves at once.
        Assert.True((await ctx.Tapes.CreateTapesAsync(new CreateTapesRequest
        {
            LibraryId = library.Id,
            Barcodes = ["BACK01"],
            CapacityBytes = TapeCapacity.MinimumBytes,
            Placement = TapePlacement.Storage,
        })).Succeeded);
        await ctx.Tapes.TransitionAsync("BACK01", TapeState.Available, TapeState.InTransitToVts, "api");
        Assert.Equal(TapeLocationKind.Archive, (await ctx.Tapes.GetTapeAsync("BACK01"))!.LocationKind);
        await ctx.CreateAsync(library.Id, "FILL01", "FILL02", "FILL03", "FILL04"); // fills all 4 I/E slots

        var cancel = await ctx.Tapes.TransitionAsync("BACK01", TapeState.InTransitToVts, TapeState.Available, "api");

        Assert.Equal(TransitionStatus.NoFreeSlot, cancel.Status);
        Assert.Equal(TapeState.InTransitToVts, (await ctx.Tapes.GetTapeAsync("BACK01"))!.State); // rolled back
    }

    [Fact]
    public async Task A_loaded_tape_cannot_leave_the_library()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "LOAD01");
        Assert.True((await ctx.Tapes.LoadIntoDriveAsync(library.Id, "LOAD01", 0, "scsi:iqn.test")).Succeeded);

        var result = await ctx.Tapes.TransitionAsync("LOAD01", TapeState.Available, TapeState.InTransitToVts, "api");

        Assert.Equal(TransitionStatus.TapeInDrive, result.Status);
        Assert.Equal(TapeState.Available, (await ctx.Tapes.GetTapeAsync("LOAD01"))!.State);
    }
}

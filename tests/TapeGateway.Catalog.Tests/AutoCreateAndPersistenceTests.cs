using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace TapeGateway.Catalog.Tests;

public sealed class AutoCreateAndPersistenceTests
{
    private static AutoCreatePolicy Policy(long libraryId, string prefix, int minimum, string? suffix = null, bool worm = false) =>
        new(libraryId, prefix, minimum, TapeCapacity.MinimumBytes, Pool.GlacierId, worm, suffix);

    [Fact]
    public async Task Policy_keeps_the_minimum_of_available_tapes_in_import_export_slots()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.Policies.UpsertAsync(Policy(library.Id, "AUT", 2, "L5"));

        var first = Assert.Single(await ctx.Tapes.EnsureAutoCreatedTapesAsync());
        Assert.Equal(["AUT001L5", "AUT002L5"], first.Created);
        Assert.Equal(0, first.AvailableBefore);

        var again = Assert.Single(await ctx.Tapes.EnsureAutoCreatedTapesAsync());
        Assert.Empty(again.Created);
        Assert.Equal(2, again.AvailableBefore);

        // Importing one (I/E → storage) leaves one short: the next run replaces it with the next barcode.
        var import = await ctx.Tapes.MoveAsync(library.Id, 10, 1000, "scsi:iqn.host");
        Assert.True(import.IsImport);
        var after = Assert.Single(await ctx.Tapes.EnsureAutoCreatedTapesAsync(library.Id));
        Assert.Equal(["AUT003L5"], after.Created);
        Assert.Equal("job:auto-create", (await ctx.Tapes.GetEventsAsync("AUT003L5"))[0].Actor);
    }

    [Fact]
    public async Task Policy_prefixes_do_not_count_each_others_tapes_and_skip_used_barcodes()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "AB0001"); // used by hand: inside AB's numbering
        await ctx.Policies.UpsertAsync(Policy(library.Id, "AB", 2));
        await ctx.Policies.UpsertAsync(Policy(library.Id, "ABC", 1));

        var outcomes = await ctx.Tapes.EnsureAutoCreatedTapesAsync();

        var ab = outcomes.Single(o => o.BarcodePrefix == "AB");
        var abc = outcomes.Single(o => o.BarcodePrefix == "ABC");
        Assert.Equal(1, ab.AvailableBefore);           // AB0001 counts for AB …
        Assert.Equal(["AB0002"], ab.Created);
        Assert.Equal(0, abc.AvailableBefore);          // … but ABC's tapes would not
        Assert.Equal(["ABC001"], abc.Created);
    }

    [Fact]
    public async Task Policy_reports_a_shortfall_when_import_export_slots_run_out()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "FULL01", "FULL02", "FULL03");
        await ctx.Policies.UpsertAsync(Policy(library.Id, "AUT", 3));

        var outcome = Assert.Single(await ctx.Tapes.EnsureAutoCreatedTapesAsync());

        Assert.Single(outcome.Created);
        Assert.Equal(2, outcome.Shortfall);
    }

    [Theory]
    [InlineData("ABCDE", 1, null, false)] // prefix too long
    [InlineData("AB1", 1, null, false)]   // prefix not letters
    [InlineData("AUT", 0, null, false)]   // minimum 1–10
    [InlineData("AUT", 11, null, false)]
    [InlineData("AUT", 10, "LV", false)]  // WORM media ID on a non-WORM policy
    [InlineData("AUT", 10, "XX", false)]  // not a media ID
    [InlineData("AUT", 10, "L9", true)]
    public async Task Policies_are_validated(string prefix, int minimum, string? suffix, bool ok)
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        var upsert = () => ctx.Policies.UpsertAsync(Policy(library.Id, prefix, minimum, suffix));
        if (ok)
        {
            await upsert();
            Assert.Single(await ctx.Policies.ListAsync(library.Id));
        }
        else
        {
            await Assert.ThrowsAsync<CatalogValidationException>(upsert);
        }
    }

    [Fact]
    public async Task Reopening_the_database_yields_the_same_inventory()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "KEEP01", "KEEP02", "KEEP03");
        await ctx.Tapes.MoveAsync(library.Id, 10, 1004, "api");
        await ctx.Tapes.LoadIntoDriveAsync(library.Id, "KEEP02", 1, "api");
        await ctx.Tapes.TransitionAsync("KEEP03", TapeState.Available, TapeState.InTransitToVts, "api");
        await ctx.Policies.UpsertAsync(Policy(library.Id, "AUT", 1));
        var inventory = await ctx.Libraries.GetInventoryAsync(library.Id);
        var tapes = await ctx.Tapes.ListTapesAsync();
        var events = await ctx.Tapes.GetEventsAsync("KEEP02");

        ctx.Restart();
        await ctx.Migrator.MigrateAsync(); // what start-up does: a no-op now

        Assert.Equal(inventory!.Elements, (await ctx.Libraries.GetInventoryAsync(library.Id))!.Elements);
        Assert.Equal(inventory.Library, await ctx.Libraries.GetLibraryAsync(library.Id));
        Assert.Equal(tapes, await ctx.Tapes.ListTapesAsync());
        Assert.Equal(events, await ctx.Tapes.GetEventsAsync("KEEP02"));
        Assert.Single(await ctx.Policies.ListAsync(library.Id));
        Assert.Equal(library.Id, (await ctx.Libraries.EnsureLibraryAsync(CatalogTestContext.SmallGeometry)).Id);
    }

    [Fact]
    public async Task Ensure_library_is_idempotent_allows_a_new_changer_but_not_a_new_layout()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;

        var same = await ctx.Libraries.EnsureLibraryAsync(CatalogTestContext.SmallGeometry);
        var stk = await ctx.Libraries.EnsureLibraryAsync(CatalogTestContext.SmallGeometry with { ChangerPersonality = "STK-L700" });

        Assert.Equal(library, same);
        Assert.Equal((library.Id, "STK-L700"), (stk.Id, stk.Geometry.ChangerPersonality));
        await Assert.ThrowsAsync<CatalogValidationException>(() =>
            ctx.Libraries.EnsureLibraryAsync(CatalogTestContext.SmallGeometry with { StorageSlotCount = 20 }));
        await Assert.ThrowsAsync<CatalogValidationException>(() =>
            ctx.Libraries.EnsureLibraryAsync(CatalogTestContext.SmallGeometry with { Name = "overlap", FirstStorageAddress = 500 }));
    }

    [Fact]
    public async Task Aws_geometry_builds_1600_plus_1600_slots_and_10_drives()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync(geometry: LibraryGeometry.AwsGatewayVtl("gw-1"));
        await using var _ = ctx;
        var inventory = (await ctx.Libraries.GetInventoryAsync(library.Id))!;

        Assert.Equal(1600, inventory.OfType(ElementType.Storage).Count());
        Assert.Equal(Enumerable.Range(1601, 1600), inventory.OfType(ElementType.ImportExport).Select(e => e.Address));
        Assert.Equal(10, inventory.OfType(ElementType.Drive).Count());
        Assert.Single(inventory.OfType(ElementType.Transport));

        var created = await ctx.CreateAsync(library.Id, "AWS0001");
        Assert.Equal(1601, created.Tapes[0].ElementAddress);
    }

    [Fact]
    public async Task List_filters_by_state_prefix_and_page()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "AAA001", "AAA002", "BBB001");
        await ctx.Tapes.TransitionAsync("AAA002", TapeState.Available, TapeState.InTransitToVts, "api");

        Assert.Equal(["AAA001", "AAA002"], (await ctx.Tapes.ListTapesAsync(new TapeFilter { BarcodePrefix = "AAA" })).Select(t => t.Barcode));
        Assert.Equal(["AAA002"], (await ctx.Tapes.ListTapesAsync(new TapeFilter { States = [TapeState.InTransitToVts] })).Select(t => t.Barcode));
        Assert.Equal(["AAA002"], (await ctx.Tapes.ListTapesAsync(new TapeFilter { AfterBarcode = "AAA001", Limit = 1 })).Select(t => t.Barcode));
        Assert.Equal(3, (await ctx.Tapes.ListTapesAsync(new TapeFilter { LibraryId = library.Id, PoolId = Pool.GlacierId })).Count);
    }

    [Fact]
    public async Task Usage_is_recorded_only_within_capacity_on_writable_tapes()
    {
        var (ctx, library) = await CatalogTestContext.CreateWithLibraryAsync();
        await using var _ = ctx;
        await ctx.CreateAsync(library.Id, "USE001");

        Assert.True(await ctx.Tapes.RecordUsageAsync("USE001", 4096));
        Assert.False(await ctx.Tapes.RecordUsageAsync("USE001", TapeCapacity.MinimumBytes + 1));
        Assert.Equal(4096, (await ctx.Tapes.GetTapeAsync("USE001"))!.UsedBytes);
    }

    [Fact]
    public async Task AddCatalog_validates_options_at_start_and_migrates()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tg-catalog-di-" + Guid.NewGuid().ToString("N"));
        try
        {
            var bad = BuildProvider(new Dictionary<string, string?> { ["Catalog:DatabasePath"] = "" });
            var e = Assert.Throws<OptionsValidationException>(() => bad.GetRequiredService<IStartupValidator>().Validate());
            Assert.Contains("DatabasePath", e.Message, StringComparison.Ordinal);

            var memory = BuildProvider(new Dictionary<string, string?> { ["Catalog:DatabasePath"] = ":memory:" });
            Assert.Throws<OptionsValidationException>(() => memory.GetRequiredService<IStartupValidator>().Validate());

            var path = Path.Combine(directory, "catalog.db");
            await using var good = BuildProvider(new Dictionary<string, string?> { ["Catalog:DatabasePath"] = path, ["Catalog:AllowSmallTapes"] = "true" });
            good.GetRequiredService<IStartupValidator>().Validate();
            Assert.True(good.GetRequiredService<IOptions<CatalogOptions>>().Value.AllowSmallTapes);
            foreach (var hosted in good.GetServices<IHostedService>())
            {
                await hosted.StartAsync(CancellationToken.None);
            }

            var migrator = good.GetRequiredService<SchemaMigrator>();
            Assert.Equal(migrator.LatestVersion, await migrator.GetCurrentVersionAsync());
            Assert.NotNull(good.GetRequiredService<TapeRepository>());
            foreach (var hosted in good.GetServices<IHostedService>())
            {
                await hosted.StopAsync(CancellationToken.None);
            }
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static ServiceProvider BuildProvider(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddCatalog(configuration).BuildServiceProvider();
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TapeGateway.Catalog;
using TapeGateway.Core.Scsi;
using TapeGateway.Library;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Archive.Tests;

/// <summary>A drive without SCSI, recording what the library loads into it.</summary>
public sealed class FakeDrive(int index, ushort elementAddress, TapeDrivePersonality personality, string serial) : ILibraryDrive
{
    public int Index { get; } = index;

    public ushort ElementAddress { get; } = elementAddress;

    public string SerialNumber { get; } = serial;

    public string VendorId => Personality.VendorId;

    public string ProductId => Personality.ProductId;

    public TapeDrivePersonality Personality { get; } = personality;

    public string TargetName => "iqn.test:tapedrive-" + (Index + 1);

    public Lun Lun => new(0);

    public ITapeMedium? Medium { get; private set; }

    public LoadedCartridge? Cartridge { get; private set; }

    public bool HasMedium => Medium is not null;

    public string? LoadedBarcode => Medium is null ? null : Cartridge?.Barcode;

    public bool IsRemovalPrevented => false;

    public event Action<ILibraryDrive>? Unloaded;

    public ValueTask LoadAsync(ITapeMedium medium, LoadedCartridge cartridge, CancellationToken ct)
    {
        Medium = medium;
        Cartridge = cartridge;
        return ValueTask.CompletedTask;
    }

    public async ValueTask<ITapeMedium?> EjectAsync(bool force, CancellationToken ct)
    {
        var m = Medium;
        if (m is not null)
        {
            await m.RewindAsync(ct);
        }

        Medium = null;
        Cartridge = null;
        Unloaded?.Invoke(this);
        return m;
    }
}

/// <summary>Records trigger requests instead of talking to Quartz (tests run the jobs' work themselves).</summary>
public sealed class RecordingTrigger : IArchiveTrigger
{
    public int ArchiveRuns { get; private set; }

    public int RetrievalRuns { get; private set; }

    public void RequestArchiveRun() => ArchiveRuns++;

    public void RequestRetrievalRun() => RetrievalRuns++;
}

/// <summary>
/// A library (2 drives, storage 1–10, I/E 11–14) on a fresh catalog, with archiving added through the production
/// <c>AddTapeArchive</c>, a <see cref="FakeTapeDataTier"/> over a <see cref="TestObjectStore"/>, and a fake clock.
/// </summary>
public sealed class ArchiveHarness : IAsyncDisposable
{
    public const int FirstStorage = 1;
    public const int FirstImportExport = 11;

    private ArchiveHarness(IServiceProvider services, string directory)
    {
        Services = services;
        Directory = directory;
    }

    public IServiceProvider Services { get; }

    public string Directory { get; }

    public FakeTimeProvider Time => (FakeTimeProvider)Services.GetRequiredService<TimeProvider>();

    public TestObjectStore Store => (TestObjectStore)Services.GetRequiredService<IObjectStore>();

    public FakeTapeDataTier Tier => (FakeTapeDataTier)Services.GetRequiredService<ITapeDataTier>();

    public TapeObjectLayout Layout => Tier.Layout;

    public TapeLibrary Library => Services.GetRequiredService<TapeLibrary>();

    public TapeRepository Tapes => Services.GetRequiredService<TapeRepository>();

    public PoolRepository Pools => Services.GetRequiredService<PoolRepository>();

    public TapeArchiver Archiver => Services.GetRequiredService<TapeArchiver>();

    public TapeRetriever Retriever => Services.GetRequiredService<TapeRetriever>();

    public ArchiveOperations Operations => Services.GetRequiredService<ArchiveOperations>();

    public RecordingTrigger Trigger => (RecordingTrigger)Services.GetRequiredService<IArchiveTrigger>();

    public int InventoryChanges { get; private set; }

    public static Dictionary<string, string?> Settings(string directory) => new()
    {
        ["TapeGateway:DataDirectory"] = directory,
        ["TapeGateway:Library:Drives"] = "2",
        ["TapeGateway:Library:StorageSlots"] = "10",
        ["TapeGateway:Library:ImportExportSlots"] = "4",
        ["TapeGateway:Library:FirstStorageAddress"] = FirstStorage.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["TapeGateway:Library:FirstImportExportAddress"] = FirstImportExport.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["TapeGateway:Library:AllowSmallTapes"] = "true",
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <summary>The registrations a harness (or an API test host) needs, on top of what the production code adds.</summary>
    public static void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.TryAddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero)));
        services.AddSingleton<IObjectStore>(sp => new TestObjectStore(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ITapeDataTier>(sp => new FakeTapeDataTier(sp.GetRequiredService<IObjectStore>()));
        services.AddSingleton<IArchiveTrigger, RecordingTrigger>();
        services.AddSingleton(new Scsi.ScsiTargetRegistry());
        Assert.True(services.AddTapeLibrary(configuration));
        services.AddTapeArchive(configuration);
    }

    /// <summary>Migrates the catalog and brings the library up with fake drives (no SCSI, no Quartz scheduler).</summary>
    public static async Task InitializeAsync(IServiceProvider services)
    {
        await services.GetRequiredService<SchemaMigrator>().MigrateAsync();

        var library = services.GetRequiredService<TapeLibrary>();
        var catalogDrives = await library.OpenCatalogAsync(CancellationToken.None);
        library.AttachDrives([.. catalogDrives.Select(d => new FakeDrive(d.Index, (ushort)d.ElementAddress, library.DrivePersonality, d.SerialNumber))]);
        await library.StartAsync(CancellationToken.None);
    }

    /// <param name="store">A bucket to share (another harness's <see cref="Store"/>: a gateway rebuilt from it).</param>
    public static async Task<ArchiveHarness> StartAsync(IReadOnlyDictionary<string, string?>? extra = null, TestObjectStore? store = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("tg-archive-").FullName;
        var settings = Settings(directory);
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        ConfigureServices(services, configuration);
        if (store is not null)
        {
            services.AddSingleton<IObjectStore>(store);
        }

        var provider = services.BuildServiceProvider();
        await InitializeAsync(provider);
        var harness = new ArchiveHarness(provider, directory);
        harness.Library.InventoryChangedExternally += () => harness.InventoryChanges++;
        return harness;
    }

    public FakeDrive Drive(int index) => (FakeDrive)Library.LibraryDrives[index];

    /// <summary>A tape in storage slot <paramref name="slot"/> with <paramref name="bytes"/> written (not yet uploaded).</summary>
    public async Task<string> CreateTapeAsync(string barcode, int slot, int bytes = 64 + (4 * 1024) + 100, string? pool = null)
    {
        var r = await Library.CreateTapesAsync(
            new CreateTapesRequest
            {
                LibraryId = Library.LibraryId,
                Barcodes = [barcode],
                CapacityBytes = 16 * TapeCapacity.MiB,
                Placement = TapePlacement.Storage,
                PoolId = pool ?? Pool.GlacierId,
            },
            CancellationToken.None);
        Assert.True(r.Succeeded, r.Message);
        if (r.Tapes[0].ElementAddress != slot)
        {
            Assert.True((await Tapes.MoveAsync(Library.LibraryId, r.Tapes[0].ElementAddress!.Value, slot, "test")).Succeeded);
        }

        Tier.WriteLocal(barcode, bytes);
        Assert.True(await Tapes.RecordUsageAsync(barcode, bytes - 64));
        return barcode;
    }

    /// <summary>What the backup application does to eject: MOVE MEDIUM from the slot into an I/E slot.</summary>
    public async Task ExportAsync(int from, int to)
    {
        Assert.Equal(Scsi.Smc.ChangerResult.Ok, await Library.MoveAsync((ushort)from, (ushort)to, "scsi:iqn.test", CancellationToken.None));
    }

    /// <summary>Creates, exports and archives a tape; returns it ARCHIVED.</summary>
    public async Task<Tape> ArchiveTapeAsync(string barcode, int slot, string? pool = null)
    {
        await CreateTapeAsync(barcode, slot, pool: pool);
        var ie = await FreeImportExportAsync();
        await ExportAsync(slot, ie);
        Assert.Equal(ArchiveOutcome.Archived, await Archiver.RunAsync(barcode, CancellationToken.None));
        return (await Tapes.GetTapeAsync(barcode))!;
    }

    public async Task<int> FreeImportExportAsync() =>
        (await Library.GetCatalogInventoryAsync(CancellationToken.None)).OfType(ElementType.ImportExport).First(e => e.Barcode is null).Address;

    public async Task<Tape> TapeAsync(string barcode) => (await Tapes.GetTapeAsync(barcode))!;

    public Task<IReadOnlyList<ObjectSummary>> ObjectsAsync(TapeTier tier, string barcode) => Store.ListAllAsync(Layout.TapePrefix(tier, barcode));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Library.StopAsync(CancellationToken.None);
            Services.GetRequiredService<CatalogConnectionFactory>().ClearPool();
            await ((ServiceProvider)Services).DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

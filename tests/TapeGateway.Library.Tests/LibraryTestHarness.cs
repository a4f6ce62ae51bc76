using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Catalog;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Ssc;

namespace TapeGateway.Library.Tests;

/// <summary>A drive without SCSI: records what the library does to it; tests can make it prevent removal or fail.</summary>
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

    public bool IsRemovalPrevented { get; set; }

    public bool FailNextLoad { get; set; }

    public int Loads { get; private set; }

    public event Action<ILibraryDrive>? Unloaded;

    public ValueTask LoadAsync(ITapeMedium medium, LoadedCartridge cartridge, CancellationToken ct)
    {
        if (FailNextLoad)
        {
            FailNextLoad = false;
            throw new IOException("simulated load failure");
        }

        if (Medium is not null)
        {
            throw new InvalidOperationException("drive already holds a cartridge");
        }

        if (cartridge.ReadOnly)
        {
            medium.SetWriteProtected(true);
        }

        Medium = medium;
        Cartridge = cartridge;
        Loads++;
        return ValueTask.CompletedTask;
    }

    public async ValueTask<ITapeMedium?> EjectAsync(bool force, CancellationToken ct)
    {
        if (Medium is null || (IsRemovalPrevented && !force))
        {
            return null;
        }

        var m = Medium;
        await m.RewindAsync(ct);
        Medium = null;
        Cartridge = null;
        return m;
    }

    public void RaiseUnloaded() => Unloaded?.Invoke(this);
}

/// <summary>
/// A <see cref="TapeLibrary"/> on a fresh catalog in a temp directory, built through <c>AddTapeLibrary</c> (so options
/// binding, validation and the catalog path rules are the production ones), with fake drives attached.
/// </summary>
public sealed class LibraryTestHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private LibraryTestHarness(ServiceProvider services, string directory, TapeLibrary library, IReadOnlyList<FakeDrive> drives)
    {
        _services = services;
        Directory = directory;
        Library = library;
        Drives = drives;
    }

    public string Directory { get; }

    public TapeLibrary Library { get; }

    public IReadOnlyList<FakeDrive> Drives { get; }

    public TapeRepository Tapes => _services.GetRequiredService<TapeRepository>();

    public IServiceProvider Services => _services;

    public RecordingExportHandler Exports => (RecordingExportHandler)_services.GetRequiredService<IExportHandler>();

    public static IReadOnlyDictionary<string, string?> SmallLibrary(string directory) => new Dictionary<string, string?>
    {
        ["TapeGateway:DataDirectory"] = directory,
        ["TapeGateway:Library:Drives"] = "2",
        ["TapeGateway:Library:StorageSlots"] = "10",
        ["TapeGateway:Library:ImportExportSlots"] = "4",
        ["TapeGateway:Library:AllowSmallTapes"] = "true",
    };

    /// <param name="configure">Runs after the harness's registrations, so it can replace them (e.g. a recording logger).</param>
    public static async Task<LibraryTestHarness> StartAsync(
        string? directory = null, IReadOnlyDictionary<string, string?>? extra = null, Action<IServiceCollection>? configure = null)
    {
        directory ??= System.IO.Directory.CreateTempSubdirectory("tg-library-").FullName;
        var settings = new Dictionary<string, string?>(SmallLibrary(directory));
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSingleton<IExportHandler, RecordingExportHandler>();
        services.AddSingleton(new Scsi.ScsiTargetRegistry());
        Assert.True(services.AddTapeLibrary(configuration));
        configure?.Invoke(services);
        var provider = services.BuildServiceProvider();

        // Only the catalog's migration service: the library service would build SCSI units; tests attach fakes instead.
        foreach (var hosted in provider.GetServices<IHostedService>().Where(h => h.GetType().Name == "CatalogMigrationService"))
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        var library = provider.GetRequiredService<TapeLibrary>();
        var catalogDrives = await library.OpenCatalogAsync(CancellationToken.None);
        var drives = catalogDrives.Select(d => new FakeDrive(d.Index, (ushort)d.ElementAddress, library.DrivePersonality, d.SerialNumber)).ToList();
        library.AttachDrives(drives);
        await library.StartAsync(CancellationToken.None);
        return new LibraryTestHarness(provider, directory, library, drives);
    }

    public async Task<string> CreateTapeAsync(string barcode, TapePlacement placement = TapePlacement.Storage, long capacity = 16 * TapeCapacity.MiB, bool worm = false)
    {
        var r = await Library.CreateTapesAsync(
            new CreateTapesRequest { LibraryId = Library.LibraryId, Barcodes = [barcode], CapacityBytes = capacity, Placement = placement, Worm = worm },
            CancellationToken.None);
        Assert.True(r.Succeeded, r.Message);
        return barcode;
    }

    public async Task<int?> WhereIsAsync(string barcode) => (await Tapes.GetTapeAsync(barcode))?.ElementAddress;

    /// <summary>Stops the library (as at shutdown) and drops the catalog's pooled connections, keeping the files.</summary>
    public async Task StopAsync()
    {
        await Library.StopAsync(CancellationToken.None);
        _services.GetRequiredService<CatalogConnectionFactory>().ClearPool();
        await _services.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Library.StopAsync(CancellationToken.None);
            _services.GetRequiredService<CatalogConnectionFactory>().ClearPool();
            await _services.DisposeAsync();
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

public sealed class RecordingExportHandler : IExportHandler
{
    public List<ExportedTape> Exported { get; } = [];

    public ValueTask TapeExportedAsync(ExportedTape tape, CancellationToken ct)
    {
        Exported.Add(tape);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Keeps what was logged through it, for tests that assert a condition is reported.</summary>
public sealed class RecordingLogger<T> : ILogger<T>
{
    private readonly List<(LogLevel Level, EventId Id, string Message, Exception? Exception)> _entries = [];

    public IReadOnlyList<(LogLevel Level, EventId Id, string Message, Exception? Exception)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        lock (_entries)
        {
            _entries.Add((logLevel, eventId, formatter(state, exception), exception));
        }
    }
}

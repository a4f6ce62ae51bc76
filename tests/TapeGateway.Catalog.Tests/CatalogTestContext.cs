using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace TapeGateway.Catalog.Tests;

/// <summary>A fresh catalog in its own temporary directory, on a fake clock. Dispose deletes everything.</summary>
public sealed class CatalogTestContext : IAsyncDisposable
{
    public static readonly LibraryGeometry SmallGeometry =
        new("lib-test", "AWS-Gateway-VTL", "IBM-ULT3580-TD5", DriveCount: 2, StorageSlotCount: 10, ImportExportSlotCount: 4,
            FirstTransportAddress: 0, FirstDriveAddress: 500, FirstStorageAddress: 1000, FirstImportExportAddress: 10);

    private CatalogTestContext(string directory, CatalogOptions options)
    {
        Directory = directory;
        Options = options;
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero));
        Rebuild();
    }

    public string Directory { get; }
    public CatalogOptions Options { get; }
    public FakeTimeProvider Time { get; }
    public string DatabasePath => Options.DatabasePath;
    public CatalogConnectionFactory Connections { get; private set; } = null!;
    public SchemaMigrator Migrator { get; private set; } = null!;
    public LibraryRepository Libraries { get; private set; } = null!;
    public PoolRepository Pools { get; private set; } = null!;
    public TapeRepository Tapes { get; private set; } = null!;
    public AutoCreatePolicyRepository Policies { get; private set; } = null!;

    public static CatalogTestContext Create(bool allowSmallTapes = false)
    {
        var directory = Path.Combine(Path.GetTempPath(), "tg-catalog-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        return new CatalogTestContext(directory, new CatalogOptions
        {
            DatabasePath = Path.Combine(directory, "catalog.db"),
            AllowSmallTapes = allowSmallTapes,
        });
    }

    /// <summary>Migrated catalog with <see cref="SmallGeometry"/>: 2 drives (500, 501), storage 1000–1009, I/E 10–13.</summary>
    public static async Task<(CatalogTestContext Context, Library Library)> CreateWithLibraryAsync(bool allowSmallTapes = false, LibraryGeometry? geometry = null)
    {
        var context = Create(allowSmallTapes);
        await context.Migrator.MigrateAsync();
        var library = await context.Libraries.EnsureLibraryAsync(geometry ?? SmallGeometry);
        return (context, library);
    }

    /// <summary>Simulates a process restart: drop pooled connections and build new objects over the same file.</summary>
    public void Restart()
    {
        Connections.ClearPool();
        Rebuild();
    }

    public Task<CreateTapesResult> CreateAsync(long libraryId, params string[] barcodes) =>
        Tapes.CreateTapesAsync(new CreateTapesRequest { LibraryId = libraryId, Barcodes = barcodes, CapacityBytes = TapeCapacity.MinimumBytes });

    public async ValueTask DisposeAsync()
    {
        Connections.ClearPool();
        await Task.Yield();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless; failing the test over it is not.
        }
    }

    private void Rebuild()
    {
        var options = Microsoft.Extensions.Options.Options.Create(Options);
        Connections = new CatalogConnectionFactory(options);
        Migrator = new SchemaMigrator(Connections, Time, options);
        Libraries = new LibraryRepository(Connections, Time);
        Pools = new PoolRepository(Connections, Time);
        Tapes = new TapeRepository(Connections, Time, options);
        Policies = new AutoCreatePolicyRepository(Connections, Time, options);
    }
}

using Microsoft.Extensions.DependencyInjection.Extensions;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Server;

/// <summary>Settings of the tape data tier (section <c>TapeGateway:TapeCache</c>); sizes in MiB as an admin sizes disks.</summary>
public sealed class TapeCacheSettings
{
    public const string SectionName = "TapeGateway:TapeCache";

    /// <summary>Off: tapes stay local image files under the library's tape directory (no object store).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Cache directory; relative paths are under <c>TapeGateway:DataDirectory</c>.</summary>
    public string Directory { get; set; } = "cache";

    public long CacheSizeMiB { get; set; } = 16 * 1024;

    public long UploadBufferMiB { get; set; } = 8 * 1024;

    public long SegmentSizeMiB { get; set; } = 64;

    public int MaxParallelUploads { get; set; } = 4;

    public int ReadAheadSegments { get; set; } = 2;

    public int BackpressureTimeoutSeconds { get; set; } = 120;

    public int PublishIntervalSeconds { get; set; } = 30;

    /// <summary>
    /// With the embedded filesystem object store on the cache's filesystem, full segments become objects by hard link
    /// (no copy); a segment rewritten later is copied first. Off: every upload copies.
    /// </summary>
    public bool AdoptSegmentFiles { get; set; } = true;

    internal TapeCacheOptions ToOptions(string dataDirectory, BackgroundWorkScheduler? background = null) => new()
    {
        Background = background,
        Directory = Path.IsPathRooted(Directory) ? Directory : Path.GetFullPath(Path.Combine(dataDirectory, Directory)),
        CacheBytes = CacheSizeMiB << 20,
        UploadBufferBytes = UploadBufferMiB << 20,
        SegmentSize = SegmentSizeMiB << 20,
        MaxParallelUploads = MaxParallelUploads,
        ReadAheadSegments = ReadAheadSegments,
        BackpressureTimeout = TimeSpan.FromSeconds(BackpressureTimeoutSeconds),
        PublishInterval = TimeSpan.FromSeconds(PublishIntervalSeconds),
        AdoptSegmentFiles = AdoptSegmentFiles,
    };
}

public static class TapeTierRegistration
{
    /// <summary>
    /// Adds the tape data tier (cache + upload buffer in front of the registered <see cref="IObjectStore"/>) and the
    /// hosted service that starts its uploader. Register it before the library, so the tier starts first and stops
    /// last (after every tape was sealed). Without an object store registration, tapes go to a filesystem object store
    /// under <c>{DataDirectory}/objects</c>, the embedded default.
    /// </summary>
    public static IServiceCollection AddTapeDataTier(this IServiceCollection services, IConfiguration configuration)
    {
        var settings = configuration.GetSection(TapeCacheSettings.SectionName).Get<TapeCacheSettings>() ?? new TapeCacheSettings();
        if (!settings.Enabled)
        {
            return services;
        }

        var dataDirectory = Path.GetFullPath(configuration["TapeGateway:DataDirectory"] is { Length: > 0 } d ? d : "data");
        if (settings.ToOptions(dataDirectory).Validate() is { } error)
        {
            throw new InvalidOperationException($"{TapeCacheSettings.SectionName}: {error}");
        }

        services.AddBackgroundWork(configuration);
        services.TryAddSingleton<IObjectStore>(sp => new FileSystemObjectStore(Path.Combine(dataDirectory, "objects"), background: sp.GetRequiredService<BackgroundWorkScheduler>()));
        services.TryAddSingleton(_ => new TapeObjectLayout(configuration["TapeGateway:Library:Name"] is { Length: > 0 } n ? n : "vtl"));
        services.AddSingleton(sp => new TapeDataTier(
            sp.GetRequiredService<IObjectStore>(),
            sp.GetRequiredService<TapeObjectLayout>(),
            settings.ToOptions(dataDirectory, sp.GetRequiredService<BackgroundWorkScheduler>()),
            sp.GetRequiredService<ILogger<TapeDataTier>>(),
            sp.GetService<TimeProvider>()));
        services.AddSingleton<ITapeDataTier>(sp => sp.GetRequiredService<TapeDataTier>());
        services.AddHostedService<TapeDataTierService>();
        return services;
    }
}

/// <summary>Starts the tier's uploader (pending uploads resume) and stops it after the library has sealed its tapes.</summary>
internal sealed class TapeDataTierService(TapeDataTier tier) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => tier.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => tier.StopAsync(cancellationToken);
}

/// <summary>
/// Settings of the background workers (section <c>TapeGateway:BackgroundWork</c>) that copy and hash tape data on its
/// way to the object store at a lower CPU priority than the drives' command handling.
/// </summary>
public sealed class BackgroundWorkSettings
{
    public const string SectionName = "TapeGateway:BackgroundWork";

    /// <summary>Worker threads; 0 = one per core, at most 8 (uploads run at most MaxParallelUploads at a time anyway).</summary>
    public int Threads { get; set; }

    /// <summary>Linux nice increment of the workers (0–19); 0 runs them like every other thread.</summary>
    public int Nice { get; set; } = 10;
}

public static class BackgroundWorkRegistration
{
    /// <summary>Adds the process's one <see cref="BackgroundWorkScheduler"/> (idempotent).</summary>
    public static IServiceCollection AddBackgroundWork(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(_ =>
        {
            var settings = configuration.GetSection(BackgroundWorkSettings.SectionName).Get<BackgroundWorkSettings>() ?? new BackgroundWorkSettings();
            if (settings.Threads < 0 || settings.Nice is < 0 or > 19)
            {
                throw new InvalidOperationException($"{BackgroundWorkSettings.SectionName}: Threads must be 0 or more and Nice 0–19.");
            }

            return new BackgroundWorkScheduler(settings.Threads == 0 ? Math.Clamp(Environment.ProcessorCount, 1, 8) : settings.Threads, settings.Nice);
        });
        return services;
    }
}

using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Media.Tape;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Benchmarks.Harness;

/// <summary>
/// A <see cref="TapeDriveRig"/> whose tape lives in the object-store tier (<see cref="TapeDataTier"/> with its cache in
/// a temp directory, an in-memory object store behind it), as the server mounts every tape by default.
/// </summary>
/// <remarks>
/// The segment size is larger than what the rig writes between its REWINDs, so the measured commands are the drive's
/// command path into the cache; uploads are the tier's background work (one multipart upload per segment, not per
/// command) and are left out of the per-command count on purpose. REWIND truncates the stream, which drops and
/// re-creates the first segment once every <see cref="TapeDriveRig.RewindEvery"/> commands.
/// </remarks>
public static class TieredTapeRig
{
    public static async Task<TapeDriveRig> CreateDriveAsync(long capacityBytes, bool compression)
    {
        var directory = new TempDirectory();
        var options = new TapeCacheOptions
        {
            Directory = directory.Path,
            SegmentSize = 4L << 30,
            CacheBytes = 8L << 30,
            UploadBufferBytes = 8L << 30,
            PublishInterval = TimeSpan.FromHours(1),
        };
        var tier = new TapeDataTier(new InMemoryObjectStore(), new TapeObjectLayout("bench"), options, NullLogger<TapeDataTier>.Instance);
        await tier.StartAsync(CancellationToken.None);
        var owner = new Owner(tier, directory);
        try
        {
            await tier.CreateAsync("BNC001L5", capacityBytes, worm: false, async store =>
            {
                var formatted = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = capacityBytes });
                await formatted.UnloadAsync();
            }, CancellationToken.None);
            return await TapeDriveRig.CreateAsync(
                async _ => await TapeImage.OpenAsync(await tier.OpenAsync("BNC001L5", CancellationToken.None)),
                capacityBytes,
                compression,
                owner);
        }
        catch
        {
            await owner.DisposeAsync();
            throw;
        }
    }

    private sealed class Owner(TapeDataTier tier, TempDirectory directory) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await tier.StopAsync(CancellationToken.None);
            await tier.DisposeAsync();
            await directory.DisposeAsync();
        }
    }
}

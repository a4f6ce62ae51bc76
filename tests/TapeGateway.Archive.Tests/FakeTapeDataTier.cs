using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Archive.Tests;

/// <summary>
/// Stand-in for the S3 tape tier: a tape's "local" image lives in a dictionary until <see cref="EnsureUploadedAsync"/>
/// stores it as head + segment objects and a complete manifest, with the real <see cref="TapeObjectLayout"/> keys.
/// </summary>
public sealed class FakeTapeDataTier(IObjectStore store, string gatewayId = "gw-test", int headLength = 64, int segmentSize = 1024) : ITapeDataTier
{
    private readonly Dictionary<string, byte[]> _local = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _generations = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public IObjectStore ObjectStore { get; } = store;

    public TapeObjectLayout Layout { get; } = new(gatewayId);

    public HashSet<string> Open { get; } = new(StringComparer.Ordinal);

    public List<string> Purged { get; } = [];

    /// <summary>Tapes with transfers in flight (as the real tier while it publishes a just-closed tape): purges are refused.</summary>
    public HashSet<string> Busy { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, uploads wait for it (the tape stays IN TRANSIT TO VTS meanwhile); <see cref="UploadStarted"/> says one began.</summary>
    public TaskCompletionSource? UploadGate { get; set; }

    public TaskCompletionSource UploadStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Writes a tape image locally (not uploaded yet); returns it.</summary>
    public byte[] WriteLocal(string barcode, int length)
    {
        var image = new byte[length];
        new Random(barcode.GetHashCode(StringComparison.Ordinal)).NextBytes(image);
        lock (_lock)
        {
            _local[barcode] = image;
        }

        return image;
    }

    /// <summary>When set, what <see cref="PendingUploadBytes"/> reports (an upload in progress).</summary>
    public long? PendingOverride { get; set; }

    public long PendingUploadBytes(string barcode)
    {
        if (PendingOverride is { } pending)
        {
            return pending;
        }

        lock (_lock)
        {
            return _local.TryGetValue(barcode, out var image) ? image.Length - headLength : 0;
        }
    }

    public bool IsOpen(string barcode) => Open.Contains(barcode);

    public async Task<TapeManifest> EnsureUploadedAsync(string barcode, CancellationToken ct)
    {
        UploadStarted.TrySetResult();
        if (UploadGate is { } gate)
        {
            await gate.Task.WaitAsync(ct);
        }

        byte[]? image;
        long generation;
        lock (_lock)
        {
            _local.TryGetValue(barcode, out image);
            generation = _generations.GetValueOrDefault(barcode) + 1;
            _generations[barcode] = generation;
        }

        if (image is null)
        {
            return await GetManifestAsync(TapeTier.Library, barcode, ct)
                ?? throw new InvalidOperationException($"Tape {barcode} has no data to upload and no manifest.");
        }

        var head = await PutAsync(Layout.HeadKey(TapeTier.Library, barcode, generation), image.AsMemory(0, headLength), ct);
        var segments = new List<TapeSegmentRef>();
        for (int offset = headLength, index = 0; offset < image.Length; offset += segmentSize, index++)
        {
            var length = Math.Min(segmentSize, image.Length - offset);
            var r = await PutAsync(Layout.SegmentKey(TapeTier.Library, barcode, index, generation), image.AsMemory(offset, length), ct);
            segments.Add(new TapeSegmentRef { Key = r.Key, Length = r.Length, Sha256 = r.Sha256, Index = index });
        }

        var manifest = new TapeManifest
        {
            Barcode = barcode,
            GatewayId = Layout.GatewayId,
            Generation = generation,
            SegmentSize = segmentSize,
            DataStart = headLength,
            Length = image.Length,
            Complete = true,
            CapacityBytes = 16 * 1024 * 1024,
            UsedBytes = image.Length - headLength,
            Head = head,
            Segments = segments,
            Written = DateTimeOffset.UnixEpoch,
        };
        using (var json = new MemoryStream(manifest.ToJsonBytes()))
        {
            await ObjectStore.PutAsync(Layout.ManifestKey(TapeTier.Library, barcode), json, null, ct);
        }

        lock (_lock)
        {
            _local.Remove(barcode);
        }

        return manifest;
    }

    public async Task<TapeManifest?> GetManifestAsync(TapeTier tier, string barcode, CancellationToken ct)
    {
        try
        {
            var read = await ObjectStore.GetAsync(Layout.ManifestKey(tier, barcode), null, ct);
            await using (read)
            {
                using var buffer = new MemoryStream();
                await read.Content.CopyToAsync(buffer, ct);
                return TapeManifest.Parse(buffer.ToArray());
            }
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
    }

    private bool IsBusy(string barcode)
    {
        lock (Busy)
        {
            return Busy.Contains(barcode);
        }
    }

    public Task PurgeLocalAsync(string barcode, CancellationToken ct)
    {
        if (IsOpen(barcode))
        {
            throw new InvalidOperationException($"Tape {barcode} is open.");
        }

        if (IsBusy(barcode))
        {
            throw new InvalidOperationException($"Tape {barcode} has transfers in flight; try again.");
        }

        lock (_lock)
        {
            _local.Remove(barcode);
            Purged.Add(barcode);
        }

        return Task.CompletedTask;
    }

    public async Task<bool> TryPurgeLocalAsync(string barcode, CancellationToken ct)
    {
        if (IsOpen(barcode) || IsBusy(barcode))
        {
            return false;
        }

        await PurgeLocalAsync(barcode, ct);
        return true;
    }

    public async Task DeleteLibraryObjectsAsync(string barcode, CancellationToken ct)
    {
        await ObjectStore.DeleteAsync(Layout.ManifestKey(TapeTier.Library, barcode), ct);
        await foreach (var o in ObjectStore.ListAsync(Layout.TapePrefix(TapeTier.Library, barcode), ct))
        {
            await ObjectStore.DeleteAsync(o.Key, ct);
        }
    }

    private async Task<TapeObjectRef> PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        using var content = new MemoryStream(data.ToArray());
        var r = await ObjectStore.PutAsync(key, content, null, ct);
        return new TapeObjectRef { Key = key, Length = r.Size, Sha256 = r.Sha256 };
    }
}

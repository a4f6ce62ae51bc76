using Microsoft.Extensions.Logging;
using TapeGateway.Catalog;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Library;

/// <summary>What a rebuild from the bucket did, tape by tape.</summary>
public sealed record RecoveryReport(IReadOnlyList<RecoveredTape> Tapes)
{
    public int Available => Tapes.Count(t => t.State == TapeState.Available);

    public int Recovered => Tapes.Count(t => t.State == TapeState.Recovered);

    public int Archived => Tapes.Count(t => t.State == TapeState.Archived);

    public int Skipped => Tapes.Count(t => t.State is null);
}

/// <summary>One tape found in the bucket: the state it was given, or null with the reason it was left alone.</summary>
public sealed record RecoveredTape(string Barcode, TapeState? State, long UsedBytes, string? Detail);

public sealed partial class TapeLibrary
{
    /// <summary>
    /// Disaster recovery (beyond AWS): rebuilds the catalog from the manifests in the bucket. A library-tier tape whose
    /// manifest is complete (closed cleanly, every byte uploaded) comes back AVAILABLE; one that was in use when the
    /// gateway was lost comes back RECOVERED — read-only, with what was uploaded, as AWS's recovery tapes. Archived tapes
    /// come back ARCHIVED. Tapes the catalog already knows are left alone, so the rebuild can be run again.
    /// With <paramref name="sourceGatewayId"/> naming another gateway (the lost one had a different name), its
    /// library-tier objects are first copied server-side under this gateway's prefix.
    /// </summary>
    public async Task<RecoveryReport> RecoverFromBucketAsync(string? sourceGatewayId, string actor, CancellationToken ct)
    {
        var tier = _dataTier ?? throw new InvalidOperationException("Recovery needs the object-store tier (TapeGateway:TapeCache:Enabled).");
        var layout = tier.Layout;
        var source = string.IsNullOrEmpty(sourceGatewayId) || sourceGatewayId == layout.GatewayId ? layout : new TapeObjectLayout(sourceGatewayId, layout.Root);
        var results = new List<RecoveredTape>();

        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var manifests = new List<(TapeTier Tier, string Key, string Barcode)>();
            await foreach (var o in tier.ObjectStore.ListAsync(source.LibraryPrefix, ct).ConfigureAwait(false))
            {
                if (source.BarcodeOfManifest(TapeTier.Library, o.Key) is { } barcode)
                {
                    manifests.Add((TapeTier.Library, o.Key, barcode));
                }
            }

            await foreach (var o in tier.ObjectStore.ListAsync(layout.ArchivePrefix, ct).ConfigureAwait(false))
            {
                if (layout.BarcodeOfManifest(TapeTier.Archive, o.Key) is { } barcode)
                {
                    manifests.Add((TapeTier.Archive, o.Key, barcode));
                }
            }

            // A tape in both tiers (retrieved, or archived while a stale library copy remained) is taken from the library tier.
            foreach (var (tapeTier, key, barcode) in manifests.OrderBy(m => m.Tier))
            {
                results.Add(await RecoverOneAsync(tier, source, tapeTier, key, barcode, actor, results, ct).ConfigureAwait(false));
            }
        }
        finally
        {
            _lock.Release();
        }

        var report = new RecoveryReport(results);
        LogRecovered(_logger, report.Available, report.Recovered, report.Archived, report.Skipped, actor);
        if (report.Tapes.Count > report.Skipped)
        {
            InventoryChangedExternally?.Invoke();
        }

        return report;
    }

    private async Task<RecoveredTape> RecoverOneAsync(
        ITapeDataTier tier, TapeObjectLayout source, TapeTier tapeTier, string key, string barcode, string actor,
        List<RecoveredTape> done, CancellationToken ct)
    {
        if (done.Any(t => t.Barcode == barcode && t.State is not null) || await _tapes.GetTapeAsync(barcode, ct).ConfigureAwait(false) is not null)
        {
            return new RecoveredTape(barcode, null, 0, "already in the catalog");
        }

        TapeManifest? manifest;
        try
        {
            manifest = await TapeManifest.ReadAsync(tier.ObjectStore, key, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidDataException or ObjectStoreException)
        {
            return new RecoveredTape(barcode, null, 0, "unreadable manifest: " + ex.Message);
        }

        if (manifest is null)
        {
            return new RecoveredTape(barcode, null, 0, "the manifest disappeared while recovering");
        }

        if (manifest.Barcode != barcode)
        {
            return new RecoveredTape(barcode, null, 0, $"manifest names {manifest.Barcode}");
        }

        if (tapeTier == TapeTier.Library && !ReferenceEquals(source, tier.Layout))
        {
            manifest = await CopyLibraryTapeAsync(tier, source, manifest, ct).ConfigureAwait(false);
        }

        var archiveClass = manifest.StorageClass == TapeGateway.Storage.StorageClass.DeepArchive ? TapeGateway.Catalog.StorageClass.DeepArchive : TapeGateway.Catalog.StorageClass.Glacier;
        var poolId = manifest.PoolId ?? (archiveClass == TapeGateway.Catalog.StorageClass.DeepArchive ? Pool.DeepArchiveId : Pool.GlacierId);
        var pool = await _pools.GetPoolAsync(poolId, ct).ConfigureAwait(false);
        if (pool is null && tapeTier == TapeTier.Archive && manifest.RetentionLock is { } lockName)
        {
            // A custom pool this catalog never saw: recreate it from the manifest, so the tape keeps its retention lock
            // (in a bucket without S3 Object Lock, the catalog is all that enforces it).
            var lockType = CatalogNames.ParseRetentionLock(lockName);
            var days = manifest.RetentionDays
                ?? (manifest.RetainUntil is { } until ? (int)Math.Ceiling((until - (manifest.Archived ?? manifest.Written)).TotalDays) : 0);
            pool = await _pools.RecreatePoolAsync(poolId, manifest.PoolName ?? "Recovered " + poolId, archiveClass, lockType, days, ct).ConfigureAwait(false);
        }

        poolId = pool?.Id ?? Pool.GlacierId;

        var created = await _tapes.CreateTapesAsync(
            new CreateTapesRequest
            {
                LibraryId = LibraryId,
                Barcodes = [barcode],
                CapacityBytes = manifest.CapacityBytes,
                PoolId = poolId,
                Worm = manifest.Worm,
                Actor = actor,
            },
            ct).ConfigureAwait(false);
        if (!created.Succeeded)
        {
            return new RecoveredTape(barcode, null, 0, created.Message);
        }

        await _tapes.RecordUsageAsync(barcode, Math.Min(manifest.UsedBytes, manifest.CapacityBytes), ct).ConfigureAwait(false);
        TapeState[] path = tapeTier == TapeTier.Archive
            ? [TapeState.InTransitToVts, TapeState.Archiving, TapeState.Archived]
            : manifest.Complete ? [] : [TapeState.Recovered];
        var state = TapeState.Available;
        foreach (var next in path)
        {
            var moved = await _tapes.TransitionAsync(barcode, state, next, actor, "rebuilt from the bucket", ct).ConfigureAwait(false);
            if (!moved.Succeeded)
            {
                return new RecoveredTape(barcode, state, manifest.UsedBytes, moved.Message);
            }

            state = next;
        }

        if (tapeTier == TapeTier.Archive)
        {
            // The retention window ends when the manifest says (retention start = that date minus the pool's days), not
            // a full window after the rebuild; the class is the one the objects are in.
            var locked = pool is { RetentionLock: not RetentionLockType.None };
            DateTimeOffset? start = locked && manifest.RetainUntil is { } retainUntil ? retainUntil.AddDays(-pool!.RetentionDays) : null;
            await _tapes.RestoreArchiveFactsAsync(barcode, archiveClass, start, ct).ConfigureAwait(false);
        }

        return new RecoveredTape(barcode, state, manifest.UsedBytes, manifest.Complete ? null : "was in use when the manifest was written: read-only with what was uploaded");
    }

    /// <summary>Server-side copy of another gateway's library-tier tape under this gateway's prefix, manifest last.</summary>
    private static async Task<TapeManifest> CopyLibraryTapeAsync(ITapeDataTier tier, TapeObjectLayout source, TapeManifest manifest, CancellationToken ct)
    {
        var target = tier.Layout;
        string Rebase(string key) => target.TapePrefix(TapeTier.Library, manifest.Barcode) + key[source.TapePrefix(TapeTier.Library, manifest.Barcode).Length..];
        foreach (var o in manifest.Objects())
        {
            await tier.ObjectStore.CopyAsync(o.Key, Rebase(o.Key), new CopyOptions(), ct).ConfigureAwait(false);
        }

        var copied = manifest with
        {
            GatewayId = target.GatewayId,
            Head = manifest.Head with { Key = Rebase(manifest.Head.Key) },
            Segments = [.. manifest.Segments.Select(s => s with { Key = Rebase(s.Key) })],
        };
        await tier.ObjectStore.PutAsync(target.ManifestKey(TapeTier.Library, manifest.Barcode), new MemoryStream(copied.ToJsonBytes()), new PutOptions(), ct).ConfigureAwait(false);
        return copied;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Catalog rebuilt from the bucket by {Actor}: {Available} available, {Recovered} recovered (read-only), {Archived} archived, {Skipped} skipped")]
    private static partial void LogRecovered(ILogger logger, int available, int recovered, int archived, int skipped, string actor);
}

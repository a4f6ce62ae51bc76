using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Archive;

/// <summary>
/// The object-level steps shared by archiving, retrieval, pool moves and deletion: read and publish manifests, copy a
/// tape's objects between tiers server-side (skipping what is already there and verified), verify by HEAD, delete a
/// tier. Every step is idempotent, which is what makes a crashed run resumable by simply running it again.
/// </summary>
internal sealed class TierCopier(IObjectStore store, TapeObjectLayout layout)
{
    public IObjectStore Store { get; } = store;

    public TapeObjectLayout Layout { get; } = layout;

    /// <summary>The manifest of <paramref name="tier"/>, or null when none is published.</summary>
    public Task<TapeManifest?> ReadManifestAsync(TapeTier tier, string barcode, CancellationToken ct) =>
        TapeManifest.ReadAsync(Store, Layout.ManifestKey(tier, barcode), ct);


    /// <summary>Publishes a manifest. Always STANDARD: it must stay readable without a restore (it says what to restore).</summary>
    public async Task WriteManifestAsync(TapeTier tier, TapeManifest manifest, CancellationToken ct)
    {
        var bytes = manifest.ToJsonBytes();
        using var content = new MemoryStream(bytes, writable: false);
        await Store.PutAsync(
            Layout.ManifestKey(tier, manifest.Barcode),
            content,
            new PutOptions { StorageClass = StorageClass.Standard, ExpectedSha256 = TapeManifest.Sha256Hex(bytes) },
            ct).ConfigureAwait(false);
    }

    /// <summary>The same manifest with every object key moved to <paramref name="to"/>.</summary>
    public TapeManifest Rebase(TapeManifest manifest, TapeTier from, TapeTier to) => manifest with
    {
        Head = manifest.Head with { Key = Layout.Rebase(manifest.Head.Key, manifest.Barcode, from, to) },
        Segments = [.. manifest.Segments.Select(s => s with { Key = Layout.Rebase(s.Key, manifest.Barcode, from, to) })],
    };

    /// <summary>Whether <paramref name="key"/> holds exactly <paramref name="expected"/> in <paramref name="storageClass"/>.</summary>
    public async Task<bool> IsInPlaceAsync(string key, TapeObjectRef expected, StorageClass storageClass, CancellationToken ct)
    {
        try
        {
            var info = await Store.HeadAsync(key, ct).ConfigureAwait(false);
            return Matches(info, expected, storageClass);
        }
        catch (ObjectNotFoundException)
        {
            return false;
        }
    }

    public static bool Matches(ObjectInfo info, TapeObjectRef expected, StorageClass storageClass) =>
        info.Size == expected.Length &&
        string.Equals(info.Sha256, expected.Sha256, StringComparison.OrdinalIgnoreCase) &&
        info.StorageClass == storageClass;

    /// <summary>
    /// Copies every object of <paramref name="source"/> (keys in tier <paramref name="from"/>) to tier <paramref name="to"/>
    /// in <paramref name="storageClass"/>, server-side. Objects already at the destination with the right size, SHA-256
    /// and class are skipped, so a rerun after a crash copies only what is missing. <paramref name="progress"/> gets the
    /// share of bytes in place after each object (0–1).
    /// </summary>
    public async Task CopyAllAsync(
        TapeManifest source, TapeTier from, TapeTier to, StorageClass storageClass, Func<double, Task> progress, CancellationToken ct)
    {
        var objects = source.Objects().ToList();
        var total = Math.Max(1, objects.Sum(o => o.Length));
        long done = 0;
        foreach (var o in objects)
        {
            var destination = Layout.Rebase(o.Key, source.Barcode, from, to);
            if (!await IsInPlaceAsync(destination, o, storageClass, ct).ConfigureAwait(false))
            {
                await Store.CopyAsync(o.Key, destination, new CopyOptions { StorageClass = storageClass }, ct).ConfigureAwait(false);
            }

            done += o.Length;
            await progress((double)done / total).ConfigureAwait(false);
        }
    }

    /// <summary>HEADs every object <paramref name="manifest"/> names; the ones that are missing or differ (size, SHA-256, class).</summary>
    public async Task<IReadOnlyList<TapeObjectRef>> VerifyAsync(TapeManifest manifest, StorageClass storageClass, CancellationToken ct)
    {
        var bad = new List<TapeObjectRef>();
        foreach (var o in manifest.Objects())
        {
            if (!await IsInPlaceAsync(o.Key, o, storageClass, ct).ConfigureAwait(false))
            {
                bad.Add(o);
            }
        }

        return bad;
    }

    /// <summary>
    /// Deletes everything of the tape in <paramref name="tier"/>: the manifest first, so no reader ever finds a manifest
    /// naming deleted objects, then every object under the tape's prefix (stray generations of crashed uploads too).
    /// </summary>
    public async Task<int> DeleteTierAsync(TapeTier tier, string barcode, CancellationToken ct)
    {
        await Store.DeleteAsync(Layout.ManifestKey(tier, barcode), ct).ConfigureAwait(false);
        var keys = new List<string>();
        await foreach (var o in Store.ListAsync(Layout.TapePrefix(tier, barcode), ct).ConfigureAwait(false))
        {
            keys.Add(o.Key);
        }

        foreach (var key in keys)
        {
            await Store.DeleteAsync(key, ct).ConfigureAwait(false);
        }

        return keys.Count;
    }
}

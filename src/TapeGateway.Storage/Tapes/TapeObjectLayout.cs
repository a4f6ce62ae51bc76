using System.Globalization;

namespace TapeGateway.Storage.Tapes;

/// <summary>
/// Where a tape's objects live in the bucket. Two tiers, each listable per tape:
/// <list type="bullet">
/// <item>library tier (AWS: the tape is "in S3", AVAILABLE or RETRIEVED): <c>{root}gateways/{gateway}/tapes/{barcode}/</c>,
/// so a bucket can be listed per gateway and per tape;</item>
/// <item>archive tier (AWS: the tape is in the virtual tape shelf, ARCHIVED): <c>{root}archive/{barcode}/</c>, not tied to
/// a gateway, because an archived tape can be retrieved to any gateway that shares the bucket.</item>
/// </list>
/// Inside a tape's prefix: <c>manifest.json</c> (the commit point: overwritten last), <c>head.{generation}</c> (the
/// image's metadata region) and <c>seg/{index}.{generation}</c> (immutable record-stream segments). A new generation
/// number is taken for every upload, so an object is never overwritten in place and a half-finished upload can never
/// be confused with the published one.
/// </summary>
public sealed record TapeObjectLayout
{
    public const string ManifestName = "manifest.json";

    public TapeObjectLayout(string gatewayId, string root = "")
    {
        ObjectKeys.Validate(gatewayId);
        if (gatewayId.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException("A gateway id cannot contain '/'.", nameof(gatewayId));
        }

        if (root.Length > 0 && !root.EndsWith('/'))
        {
            root += "/";
        }

        GatewayId = gatewayId;
        Root = root;
    }

    public string GatewayId { get; }

    /// <summary>Key prefix shared by everything the gateway writes ("" or ending in '/').</summary>
    public string Root { get; }

    /// <summary>Every library-tier tape of this gateway.</summary>
    public string LibraryPrefix => $"{Root}gateways/{GatewayId}/tapes/";

    /// <summary>Every archived tape (all gateways).</summary>
    public string ArchivePrefix => $"{Root}archive/";

    public string TapePrefix(TapeTier tier, string barcode) => tier switch
    {
        TapeTier.Library => $"{LibraryPrefix}{barcode}/",
        TapeTier.Archive => $"{ArchivePrefix}{barcode}/",
        _ => throw new ArgumentOutOfRangeException(nameof(tier), tier, null),
    };

    public string ManifestKey(TapeTier tier, string barcode) => TapePrefix(tier, barcode) + ManifestName;

    public string HeadKey(TapeTier tier, string barcode, long generation) =>
        TapePrefix(tier, barcode) + "head." + generation.ToString("D10", CultureInfo.InvariantCulture);

    public string SegmentKey(TapeTier tier, string barcode, int index, long generation) =>
        TapePrefix(tier, barcode) + "seg/" + index.ToString("D8", CultureInfo.InvariantCulture) + "." +
        generation.ToString("D10", CultureInfo.InvariantCulture);

    /// <summary>The same object's key in the other tier (archiving and retrieval copy objects under the same relative name).</summary>
    public string Rebase(string key, string barcode, TapeTier from, TapeTier to)
    {
        var source = TapePrefix(from, barcode);
        if (!key.StartsWith(source, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Key '{key}' is not under '{source}'.", nameof(key));
        }

        return TapePrefix(to, barcode) + key[source.Length..];
    }

    /// <summary>The barcode of a library-tier manifest key of this gateway, or null for any other key.</summary>
    public string? BarcodeOfManifest(TapeTier tier, string key)
    {
        var prefix = tier == TapeTier.Library ? LibraryPrefix : ArchivePrefix;
        if (!key.StartsWith(prefix, StringComparison.Ordinal) || !key.EndsWith("/" + ManifestName, StringComparison.Ordinal))
        {
            return null;
        }

        var barcode = key[prefix.Length..^(ManifestName.Length + 1)];
        return barcode.Length > 0 && !barcode.Contains('/', StringComparison.Ordinal) ? barcode : null;
    }
}

public enum TapeTier
{
    /// <summary>The tape is in the library (VTL): readable and writable through the gateway's cache.</summary>
    Library,

    /// <summary>The tape is on the virtual tape shelf, in a GLACIER / DEEP_ARCHIVE storage class.</summary>
    Archive,
}

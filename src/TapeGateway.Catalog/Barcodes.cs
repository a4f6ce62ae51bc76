using System.Globalization;

namespace TapeGateway.Catalog;

/// <summary>What the last two characters of a barcode say about the cartridge (LTO media ID convention).</summary>
public enum LtoMediaKind
{
    /// <summary>No recognised LTO media ID: a plain AWS-style barcode.</summary>
    None,
    Data,
    Worm,
    Cleaning,
}

/// <summary>A parsed barcode. <see cref="Volser"/> is the barcode without its media ID.</summary>
/// <param name="Prefix">The leading 1–4 letters when they are followed by a digit (how the catalog allocates barcodes), else null.</param>
/// <param name="MediaId">The recognised two-character LTO media ID (<c>L5</c>, <c>LV</c>, <c>CU</c> …), else null.</param>
/// <param name="Generation">LTO generation the media ID names (1–10), null for plain barcodes and cleaning cartridges.</param>
public sealed record BarcodeInfo(string Barcode, string Volser, string? Prefix, string? MediaId, LtoMediaKind MediaKind, int? Generation)
{
    public bool IsWorm => MediaKind == LtoMediaKind.Worm;
}

/// <summary>
/// AWS barcode rules plus the LTO label convention that backup software reads.
/// AWS (botocore TapeBarcode / TapeBarcodePrefix): barcode 5–16 characters of A–Z0–9; prefix 1–4 letters A–Z;
/// a barcode is never reusable, even after deletion (enforced by the barcodes_used table, not here).
/// LTO labels (IBM/HPE/Oracle library manuals, Veeam): 6-character volser + 2-character media ID:
/// L1–L9 data generation 1–9; LA data LTO-10 (Veeam's list; less widely attested); LT, LU, LV, LW, LX, LY, LZ WORM
/// generation 3–9 (WORM began with LTO-3); M8 an LTO-7 cartridge initialised as Type M for LTO-8 drives (reported as
/// generation 8 because that is the format it is written in); CU universal cleaning; a CLN volser also means cleaning.
/// We recognise the media ID on any valid barcode (not only 8-character ones) because backup software looks at the last
/// two characters regardless; an LTO-10 WORM ID is not recognised because no primary source confirmed one.
/// </summary>
public static class Barcodes
{
    public const int MinimumLength = 5;
    public const int MaximumLength = 16;
    public const int MaximumPrefixLength = 4;

    /// <summary>Whether <paramref name="barcode"/> satisfies AWS TapeBarcode: 5–16 of A–Z0–9.</summary>
    public static bool IsValid(string? barcode)
    {
        if (barcode is null || barcode.Length is < MinimumLength or > MaximumLength)
        {
            return false;
        }

        foreach (var c in barcode)
        {
            if (c is not ((>= 'A' and <= 'Z') or (>= '0' and <= '9')))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="prefix"/> satisfies AWS TapeBarcodePrefix: 1–4 of A–Z.</summary>
    public static bool IsValidPrefix(string? prefix)
    {
        if (prefix is null || prefix.Length is < 1 or > MaximumPrefixLength)
        {
            return false;
        }

        foreach (var c in prefix)
        {
            if (c is not (>= 'A' and <= 'Z'))
            {
                return false;
            }
        }

        return true;
    }

    public static BarcodeInfo Parse(string barcode) =>
        TryParse(barcode, out var info)
            ? info
            : throw new FormatException($"'{barcode}' is not a valid barcode: 5–16 characters A–Z and 0–9.");

    public static bool TryParse(string? barcode, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BarcodeInfo? info)
    {
        info = null;
        if (!IsValid(barcode))
        {
            return false;
        }

        var (kind, generation) = ClassifyMediaId(barcode![^2..]);
        var mediaId = kind == LtoMediaKind.None ? null : barcode[^2..];
        var volser = mediaId is null ? barcode : barcode[..^2];
        if (kind == LtoMediaKind.None && barcode.StartsWith("CLN", StringComparison.Ordinal))
        {
            kind = LtoMediaKind.Cleaning;
        }
        else if (kind == LtoMediaKind.Data && volser.StartsWith("CLN", StringComparison.Ordinal))
        {
            // CLNxxxL5: a cleaning cartridge labelled with the generation of the drives it cleans.
            kind = LtoMediaKind.Cleaning;
            generation = null;
        }

        info = new BarcodeInfo(barcode, volser, LeadingPrefix(volser), mediaId, kind, generation);
        return true;
    }

    /// <summary>Classifies a two-character LTO media ID; <see cref="LtoMediaKind.None"/> when it is not one.</summary>
    public static (LtoMediaKind Kind, int? Generation) ClassifyMediaId(string mediaId) => mediaId switch
    {
        ['L', >= '1' and <= '9'] => (LtoMediaKind.Data, mediaId[1] - '0'),
        "LA" => (LtoMediaKind.Data, 10),
        "M8" => (LtoMediaKind.Data, 8),
        ['L', >= 'T' and <= 'Z'] => (LtoMediaKind.Worm, mediaId[1] - 'T' + 3),
        "CU" => (LtoMediaKind.Cleaning, null),
        _ => (LtoMediaKind.None, null),
    };

    /// <summary>
    /// Formats the barcode the allocator tries for sequence number <paramref name="value"/>: prefix, the number
    /// zero-padded so prefix + number is 6 characters (a standard LTO volser; at least 1 digit), then the optional
    /// media ID. Longer numbers simply widen the barcode.
    /// </summary>
    public static string Format(string prefix, long value, string? mediaSuffix)
    {
        var width = Math.Max(1, 6 - prefix.Length);
        return prefix + value.ToString("D" + width.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + mediaSuffix;
    }

    private static string? LeadingPrefix(string volser)
    {
        var n = 0;
        while (n < volser.Length && volser[n] is >= 'A' and <= 'Z')
        {
            n++;
        }

        return n is >= 1 and <= MaximumPrefixLength && n < volser.Length ? volser[..n] : null;
    }
}

namespace TapeGateway.Catalog;

/// <summary>AWS tape size rules: 100 GiB – 5 TiB, a whole number of GiB (botocore CreateTapeWithBarcode).</summary>
public static class TapeCapacity
{
    public const long MiB = 1L << 20;
    public const long GiB = 1L << 30;
    public const long TiB = 1L << 40;
    public const long MinimumBytes = 100 * GiB;
    public const long MaximumBytes = 5 * TiB;

    /// <summary>
    /// Null when <paramref name="bytes"/> is an allowed capacity, else why not. <paramref name="allowSmallTapes"/> (the
    /// test-only CatalogOptions.AllowSmallTapes) admits any whole number of MiB from 1 MiB, so tests can reach
    /// end-of-medium without writing 100 GiB.
    /// </summary>
    public static string? Validate(long bytes, bool allowSmallTapes)
    {
        if (bytes > MaximumBytes)
        {
            return $"Tape capacity {bytes} bytes exceeds the 5 TiB maximum.";
        }

        if (allowSmallTapes)
        {
            return bytes >= MiB && bytes % MiB == 0
                ? null
                : $"Tape capacity {bytes} bytes must be a positive whole number of MiB (small tapes allowed).";
        }

        if (bytes < MinimumBytes)
        {
            return $"Tape capacity {bytes} bytes is below the 100 GiB minimum.";
        }

        return bytes % GiB == 0 ? null : $"Tape capacity {bytes} bytes is not a whole number of GiB.";
    }
}

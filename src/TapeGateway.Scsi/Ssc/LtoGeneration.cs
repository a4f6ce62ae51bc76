namespace TapeGateway.Scsi.Ssc;

/// <summary>
/// One LTO (Ultrium) generation as data: the density code SSC-4 §8.3.2 / REPORT DENSITY SUPPORT reports for
/// it, its native (uncompressed) capacity and the medium type codes drives put in REPORT DENSITY SUPPORT with
/// MEDIUM TYPE=1 (IBM LTO SCSI reference: 0xN8 data, 0xNC WORM). Density codes: LTO-1 40h … LTO-4 46h, LTO-5 58h …
/// LTO-9 60h (T10 density code registry).
/// </summary>
/// <param name="Number">Generation number, 1 for LTO-1.</param>
/// <param name="DensityCode">Primary density code (SSC-4 §8.3.2 DENSITY CODE).</param>
/// <param name="NativeCapacityBytes">Native capacity of a full-length cartridge, decimal bytes as marketed.</param>
/// <param name="DataMediumType">Medium type of a rewritable data cartridge.</param>
/// <param name="WormMediumType">Medium type of a WORM cartridge (0 when the generation has none).</param>
/// <param name="BitsPerMm">Linear density for REPORT DENSITY SUPPORT (informational).</param>
/// <param name="Tracks">Number of tracks for REPORT DENSITY SUPPORT (informational).</param>
public sealed record LtoGeneration(int Number, byte DensityCode, long NativeCapacityBytes, byte DataMediumType, byte WormMediumType, int BitsPerMm, int Tracks)
{
    private const long GB = 1_000_000_000;

    public static LtoGeneration Lto1 { get; } = new(1, 0x40, 100 * GB, 0x18, 0x00, 4880, 384);

    public static LtoGeneration Lto2 { get; } = new(2, 0x42, 200 * GB, 0x28, 0x00, 7398, 512);

    public static LtoGeneration Lto3 { get; } = new(3, 0x44, 400 * GB, 0x38, 0x3C, 9638, 704);

    public static LtoGeneration Lto4 { get; } = new(4, 0x46, 800 * GB, 0x48, 0x4C, 13250, 896);

    public static LtoGeneration Lto5 { get; } = new(5, 0x58, 1500 * GB, 0x58, 0x5C, 15142, 1280) { MaxAdditionalPartitions = 1 };

    public static LtoGeneration Lto6 { get; } = new(6, 0x5A, 2500 * GB, 0x68, 0x6C, 15143, 2176) { MaxAdditionalPartitions = 3 };

    public static LtoGeneration Lto7 { get; } = new(7, 0x5C, 6000 * GB, 0x78, 0x7C, 19094, 3584) { MaxAdditionalPartitions = 3 };

    public static LtoGeneration Lto8 { get; } = new(8, 0x5E, 12000 * GB, 0x88, 0x8C, 20668, 6656) { MaxAdditionalPartitions = 3 };

    public static LtoGeneration Lto9 { get; } = new(9, 0x60, 18000 * GB, 0x98, 0x9C, 21030, 8960) { MaxAdditionalPartitions = 3 };

    /// <summary>
    /// Partitions beyond partition 0 the format allows (SSC-4 §8.3.4 MAXIMUM ADDITIONAL PARTITIONS): LTO-5 introduced
    /// two partitions, LTO-6 raised it to four; LTO-4 and earlier media have one (IBM LTO SCSI reference, Medium
    /// Partition page). Both what a drive of that generation reports and what a cartridge of it can be formatted to.
    /// </summary>
    public int MaxAdditionalPartitions { get; init; }

    /// <summary>All generations, oldest first.</summary>
    public static IReadOnlyList<LtoGeneration> All { get; } = [Lto1, Lto2, Lto3, Lto4, Lto5, Lto6, Lto7, Lto8, Lto9];

    /// <summary>Medium type value of the MAM MEDIUM TYPE attribute 0408h (SPC-4 medium type attributes): 00h data, 01h cleaning, 80h WORM.</summary>
    public const byte MamMediumTypeData = 0x00;

    public const byte MamMediumTypeCleaning = 0x01;

    public const byte MamMediumTypeWorm = 0x80;

    public static LtoGeneration? FromNumber(int number) => number >= 1 && number <= All.Count ? All[number - 1] : null;

    public static LtoGeneration? FromDensityCode(byte density)
    {
        foreach (var g in All)
        {
            if (g.DensityCode == density)
            {
                return g;
            }
        }

        return null;
    }

    /// <summary>"LTO-5" and so on, as REPORT DENSITY SUPPORT's DENSITY NAME.</summary>
    public string Name => "LTO-" + Number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public override string ToString() => Name;
}

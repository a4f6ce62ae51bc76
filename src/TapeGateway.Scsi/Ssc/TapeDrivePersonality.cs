using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TapeGateway.Scsi.Ssc;

/// <summary>
/// Who a virtual tape drive says it is and what it can do, as immutable data (SPC-4 INQUIRY strings, SSC-4
/// REPORT DENSITY SUPPORT and READ BLOCK LIMITS). LTO compatibility follows the Ultrium rule of thumb: up to LTO-7 a
/// drive reads two generations back and writes one back; LTO-8 and LTO-9 read and write one generation back.
/// </summary>
public sealed record TapeDrivePersonality
{
    /// <summary>IBM ULT3580-TD5 (LTO-5 full height): reads LTO-3..5, writes LTO-4..5. The default personality.</summary>
    public static TapeDrivePersonality IbmUlt3580Td5 { get; } = new()
    {
        VendorId = "IBM",
        ProductId = "ULT3580-TD5",
        ProductRevision = "H6T0",
        Generation = LtoGeneration.Lto5,
        ReadableGenerations = [LtoGeneration.Lto3, LtoGeneration.Lto4, LtoGeneration.Lto5],
        WritableGenerations = [LtoGeneration.Lto4, LtoGeneration.Lto5],
    };

    public static TapeDrivePersonality IbmUlt3580Td6 { get; } = IbmUlt3580Td5 with
    {
        ProductId = "ULT3580-TD6",
        ProductRevision = "J451",
        Generation = LtoGeneration.Lto6,
        ReadableGenerations = [LtoGeneration.Lto4, LtoGeneration.Lto5, LtoGeneration.Lto6],
        WritableGenerations = [LtoGeneration.Lto5, LtoGeneration.Lto6],
    };

    public static TapeDrivePersonality IbmUlt3580Td7 { get; } = IbmUlt3580Td5 with
    {
        ProductId = "ULT3580-TD7",
        ProductRevision = "G9Q1",
        Generation = LtoGeneration.Lto7,
        ReadableGenerations = [LtoGeneration.Lto5, LtoGeneration.Lto6, LtoGeneration.Lto7],
        WritableGenerations = [LtoGeneration.Lto6, LtoGeneration.Lto7],
        LogicalBlockProtectionMethods = [LogicalBlockProtection.ReedSolomonCrc, LogicalBlockProtection.Crc32C],
    };

    public static TapeDrivePersonality IbmUlt3580Td8 { get; } = IbmUlt3580Td5 with
    {
        ProductId = "ULT3580-TD8",
        ProductRevision = "N9M1",
        Generation = LtoGeneration.Lto8,
        ReadableGenerations = [LtoGeneration.Lto7, LtoGeneration.Lto8],
        WritableGenerations = [LtoGeneration.Lto7, LtoGeneration.Lto8],
        LogicalBlockProtectionMethods = [LogicalBlockProtection.ReedSolomonCrc, LogicalBlockProtection.Crc32C],
    };

    /// <summary>HP (HPE) Ultrium 5-SCSI: same generation rules as the IBM LTO-5 drive.</summary>
    public static TapeDrivePersonality HpUltrium5 { get; } = IbmUlt3580Td5 with
    {
        VendorId = "HP",
        ProductId = "Ultrium 5-SCSI",
        ProductRevision = "Z6ED",

        // The IBM vendor pages C0h/C1h are IBM's layout; HP's C0h-C6h pages have another one we do not emulate.
        IbmVpd = null,
        ReportsCartridgeMediumType = false,

        // Not claimed for the HP personality: we have no HP reference for its Control Data Protection page.
        LogicalBlockProtectionMethods = [],
    };

    public static TapeDrivePersonality Default => IbmUlt3580Td5;

    /// <summary>T10 vendor identification, at most 8 ASCII characters.</summary>
    public string VendorId { get; init; } = "IBM";

    /// <summary>Product identification, at most 16 ASCII characters.</summary>
    public string ProductId { get; init; } = "ULT3580-TD5";

    /// <summary>Product revision level (firmware), at most 4 ASCII characters.</summary>
    public string ProductRevision { get; init; } = "H6T0";

    /// <summary>The drive's own generation: its default (write) density.</summary>
    public LtoGeneration Generation { get; init; } = LtoGeneration.Lto5;

    /// <summary>Generations whose cartridges this drive can read, oldest first.</summary>
    public IReadOnlyList<LtoGeneration> ReadableGenerations { get; init; } = [LtoGeneration.Lto3, LtoGeneration.Lto4, LtoGeneration.Lto5];

    /// <summary>Generations whose cartridges this drive can write, oldest first.</summary>
    public IReadOnlyList<LtoGeneration> WritableGenerations { get; init; } = [LtoGeneration.Lto4, LtoGeneration.Lto5];

    /// <summary>READ BLOCK LIMITS MAXIMUM BLOCK LENGTH LIMIT (SSC-4 READ BLOCK LIMITS): 8 MiB, as LTO drives report.</summary>
    public int MaxBlockLength { get; init; } = 8 * 1024 * 1024;

    /// <summary>READ BLOCK LIMITS MINIMUM BLOCK LENGTH LIMIT: 1 byte.</summary>
    public int MinBlockLength { get; init; } = 1;

    /// <summary>READ BLOCK LIMITS GRANULARITY: block lengths are multiples of 2^n bytes (0: any length).</summary>
    public byte Granularity { get; init; }

    /// <summary>WORM cartridges are supported (SSC-4 WORM model; VPD B0h WORM bit).</summary>
    public bool SupportsWorm { get; init; } = true;

    /// <summary>
    /// SET CAPACITY (SSC-4 §7.11, opcode 0Bh) is accepted. Quantum (LTO-3/LTO-4), HP (LTO-3/LTO-4) and Seagate (LTO-1)
    /// drive references document it; the IBM LTO SCSI references we could read do not list it, so for the IBM
    /// personalities it is a TapeGateway addition, on by default. Off: INVALID COMMAND OPERATION CODE, and REPORT
    /// SUPPORTED OPERATION CODES leaves it out.
    /// </summary>
    public bool SupportsSetCapacity { get; init; } = true;

    /// <summary>
    /// The smallest CAPACITY PROPORTION VALUE SET CAPACITY applies (of 65535); a smaller one is rounded up to it and the
    /// command ends with RECOVERED ERROR 37/00 ROUNDED PARAMETER. 13107 = 20 % of native, the minimum the Quantum LTO-3
    /// and LTO-4 SCSI references state (e.g. 80 GB of a 400 GB cartridge).
    /// </summary>
    public ushort MinimumCapacityProportion { get; init; } = 13107;

    /// <summary>The Data Compression mode page's DCC bit (SSC-4 Data Compression mode page): the drive can compress.</summary>
    public bool SupportsCompression { get; init; } = true;

    /// <summary>DCE after power on, reset and load (IBM drives ship with compression enabled).</summary>
    public bool CompressionEnabledByDefault { get; init; } = true;

    /// <summary>
    /// The IBM vendor VPD pages (IBM LTO SCSI Reference GA32-0928, INQUIRY): C0h Drive Component Revision Levels and
    /// C1h Drive Serial Numbers. Null: the personality answers neither (non-IBM personalities).
    /// </summary>
    public IbmDriveVpd? IbmVpd { get; init; } = new();

    /// <summary>
    /// The MODE SENSE header's MEDIUM TYPE names the loaded cartridge, as IBM LTO drives report it (IBM LTO SCSI
    /// Reference, Mode Parameter Header: the cartridge type codes of REPORT DENSITY SUPPORT, e.g. 58h LTO-5 data,
    /// 5Ch LTO-5 WORM; 00h without a cartridge). IBM's LTFS reads its cartridge type from there. Off: always 00h.
    /// </summary>
    public bool ReportsCartridgeMediumType { get; init; } = true;

    /// <summary>
    /// Logical block protection methods the drive accepts in the Control Data Protection mode page (SSC-4, page
    /// 0Ah/F0h): IBM LTO-5 and LTO-6 drives protect blocks with the ECMA-319 Reed-Solomon CRC (01h), LTO-7 and later
    /// also with CRC32C (02h) (IBM LTO SCSI Reference, logical block protection; LTFS picks the method by generation
    /// the same way). Empty: no protection, the page is reported but nothing in it can be changed.
    /// </summary>
    public IReadOnlyList<byte> LogicalBlockProtectionMethods { get; init; } = [LogicalBlockProtection.ReedSolomonCrc];

    public bool CanRead(LtoGeneration generation) => Includes(ReadableGenerations, generation);

    public bool CanWrite(LtoGeneration generation) => Includes(WritableGenerations, generation);

    /// <summary>Indexed loop, not LINQ: this runs on every READ/WRITE and must not allocate.</summary>
    private static bool Includes(IReadOnlyList<LtoGeneration> list, LtoGeneration generation)
    {
        ArgumentNullException.ThrowIfNull(generation);
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Number == generation.Number)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The identity for a drive whose serial number is <paramref name="serialNumber"/> (SPC-4 §7.8.15; the changer's
    /// DVCID must report the same string). The NAA 5 designator derives from the SHA-256 of the serial.
    /// </summary>
    public LogicalUnitIdentity CreateIdentity(string serialNumber)
    {
        ArgumentException.ThrowIfNullOrEmpty(serialNumber);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes("tape:" + serialNumber), hash);
        return new LogicalUnitIdentity(VendorId, ProductId, ProductRevision, serialNumber, LogicalUnitIdentity.Naa5(BinaryPrimitives.ReadUInt64BigEndian(hash)));
    }
}

/// <summary>
/// What an IBM LTO personality reports in VPD C0h (Drive Component Revision Levels): the firmware code name (the
/// product revision level of standard INQUIRY), its build time and date, and the platform. The values are
/// TapeGateway's own, not those of a real IBM firmware build.
/// </summary>
public sealed record IbmDriveVpd
{
    /// <summary>Build time, "hhmmss" (C0h bytes 16-22, 7 ASCII bytes, space padded).</summary>
    public string BuildTime { get; init; } = "000000";

    /// <summary>Build date, "yyyymmdd" (C0h bytes 23-30).</summary>
    public string BuildDate { get; init; } = "20250101";

    /// <summary>Platform (C0h bytes 31-42, 12 ASCII bytes, space padded).</summary>
    public string Platform { get; init; } = "TapeGateway";
}

/// <summary>
/// What the library knows about the cartridge it puts into a drive (from its catalog; the image itself only knows
/// WORM and capacity).
/// </summary>
/// <param name="Barcode">Volume tag, e.g. "HRN001L5".</param>
/// <param name="Generation">LTO generation of the cartridge (decides read/write compatibility and density).</param>
/// <param name="Worm">WORM cartridge.</param>
/// <param name="ReadOnly">Write-protect tab set (or the catalog keeps the volume read-only).</param>
/// <param name="Cleaning">Cleaning cartridge: the drive "cleans" and reports NOT READY 30/03 until unloaded.</param>
/// <param name="CapacityBytes">Nominal capacity the library assigned to the volume.</param>
/// <param name="MediumSerialNumber">Cartridge serial (READ MEDIA SERIAL NUMBER, MAM 0401h).</param>
public sealed record LoadedCartridge(string Barcode, LtoGeneration Generation, bool Worm, bool ReadOnly, bool Cleaning, long CapacityBytes, string MediumSerialNumber);

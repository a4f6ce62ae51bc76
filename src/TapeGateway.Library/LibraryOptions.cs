using System.Globalization;
using Microsoft.Extensions.Options;
using TapeGateway.Catalog;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Ssc;

namespace TapeGateway.Library;

/// <summary>How the library's devices are spread over iSCSI target names.</summary>
public enum LibraryLayout
{
    /// <summary>
    /// AWS Tape Gateway style: one IQN per drive (<c>…:tapedrive-01</c> …) and one for the changer
    /// (<c>…:mediachanger</c>), each device at LUN 0. Backup servers log in to every target.
    /// </summary>
    TargetPerDevice,

    /// <summary>
    /// One IQN (<c>…:vtl</c>) with the changer and the drives as LUNs (<see cref="LibraryOptions.ChangerLun"/>,
    /// <see cref="LibraryOptions.FirstDriveLun"/>…), like tgt's or a physical library's single SCSI ID.
    /// </summary>
    SingleTarget,
}

/// <summary>Bound from <c>TapeGateway:Library</c>. Validated at start (<see cref="LibraryOptionsValidator"/>).</summary>
public sealed class LibraryOptions
{
    public const string SectionName = "TapeGateway:Library";

    /// <summary>Whether the gateway presents a tape library at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Catalog name of the library; drive serial numbers derive from it, so changing it changes them.</summary>
    public string Name { get; set; } = "vtl";

    /// <summary>Changer personality name (<see cref="Scsi.Smc.ChangerPersonality.All"/>): AWS-Gateway-VTL, STK-L700, IBM-03584L32-0402.</summary>
    public string ChangerPersonality { get; set; } = "AWS-Gateway-VTL";

    /// <summary>Drive personality name (<see cref="DrivePersonalities"/>), e.g. IBM-ULT3580-TD5.</summary>
    public string DrivePersonality { get; set; } = DrivePersonalities.DefaultName;

    public int Drives { get; set; } = 10;

    public int StorageSlots { get; set; } = 1600;

    public int ImportExportSlots { get; set; } = 1600;

    /// <summary>First element addresses; null takes the changer personality's layout (AWS: storage 1, I/E 1601, drives 10001).</summary>
    public int? FirstStorageAddress { get; set; }

    public int? FirstImportExportAddress { get; set; }

    public int? FirstDriveAddress { get; set; }

    public int? TransportAddress { get; set; }

    public LibraryLayout Layout { get; set; } = LibraryLayout.TargetPerDevice;

    /// <summary>Prefix of every library IQN (RFC 7143 §4.2.7.2): <c>{prefix}tapedrive-01</c>, <c>{prefix}mediachanger</c>, <c>{prefix}vtl</c>.</summary>
    public string TargetPrefix { get; set; } = "iqn.2026-11.org.tapegateway:";

    /// <summary>SingleTarget layout: LUN of the changer.</summary>
    public int ChangerLun { get; set; }

    /// <summary>SingleTarget layout: LUN of the first drive; the others follow consecutively.</summary>
    public int FirstDriveLun { get; set; } = 1;

    /// <summary>Test/demo option: allow tapes smaller than AWS's 100 GiB minimum (any whole MiB); sets Catalog:AllowSmallTapes.</summary>
    public bool AllowSmallTapes { get; set; }

    /// <summary>
    /// zstd level of the drives' data compression (applied while DCE is 1, the default after every load as on LTO
    /// drives; the backup application turns it off with MODE SELECT). −7…9: lower levels compress faster and store
    /// more, higher ones store less at a much higher CPU cost per byte (docs/benchmarks.md measures them). Records of
    /// any level read back with any other: the format does not depend on it.
    /// </summary>
    public int CompressionLevel { get; set; } = 1;

    /// <summary>Where tape images live, relative to the data directory: <c>{TapeDirectory}/{BARCODE}.tape</c>.</summary>
    public string TapeDirectory { get; set; } = "tapes";

    /// <summary>Tapes to ensure at startup (demos, the VM harness). A barcode that was ever used is left alone.</summary>
    public List<InitialTapeOptions> Tapes { get; set; } = [];

    /// <summary>
    /// AWS automatic tape creation policies stored at every start (configuration wins over API changes to the same
    /// prefix). Policies set through the API live in the catalog and need no entry here.
    /// </summary>
    public List<AutoCreatePolicyOptions> AutoCreatePolicies { get; set; } = [];

    /// <summary>Resolved from <c>TapeGateway:DataDirectory</c> by <see cref="LibraryServiceCollectionExtensions.AddTapeLibrary"/>.</summary>
    public string DataDirectory { get; set; } = "data";

    internal string TapeDirectoryPath =>
        Path.IsPathRooted(TapeDirectory) ? TapeDirectory : Path.GetFullPath(Path.Combine(DataDirectory, TapeDirectory));

    internal ChangerPersonality ResolveChanger() =>
        Scsi.Smc.ChangerPersonality.All.FirstOrDefault(p => string.Equals(p.Name, ChangerPersonality, StringComparison.OrdinalIgnoreCase))
        ?? throw new OptionsValidationException(SectionName, typeof(LibraryOptions), [$"Unknown changer personality '{ChangerPersonality}'."]);

    internal TapeDrivePersonality ResolveDrive() =>
        DrivePersonalities.Find(DrivePersonality)
        ?? throw new OptionsValidationException(SectionName, typeof(LibraryOptions), [$"Unknown drive personality '{DrivePersonality}'."]);

    /// <summary>
    /// The element map: the personality's layout for the configured counts, with any configured first address
    /// overriding it. The result is checked for overlap by <see cref="LibraryGeometry.Validate"/>.
    /// </summary>
    internal ChangerGeometry ResolveGeometry()
    {
        var layout = ResolveChanger().LayoutGeometry(StorageSlots, ImportExportSlots, Drives);
        return new ChangerGeometry(
            Range(TransportAddress ?? layout.Transport.FirstAddress, 1),
            Range(FirstStorageAddress ?? layout.Storage.FirstAddress, StorageSlots),
            Range(FirstImportExportAddress ?? layout.ImportExport.FirstAddress, ImportExportSlots),
            Range(FirstDriveAddress ?? layout.DataTransfer.FirstAddress, Drives));

        static ElementRange Range(int first, int count) => new((ushort)first, (ushort)count);
    }

    internal LibraryGeometry ToCatalogGeometry(ChangerGeometry g) => new(
        Name,
        ResolveChanger().Name,
        DrivePersonalities.NameOf(ResolveDrive()),
        Drives,
        StorageSlots,
        ImportExportSlots,
        g.Transport.FirstAddress,
        g.DataTransfer.FirstAddress,
        g.Storage.FirstAddress,
        g.ImportExport.FirstAddress);
}

/// <summary>One startup tape (or a comma-separated list placed in consecutive slots from <see cref="Slot"/>).</summary>
public sealed class InitialTapeOptions
{
    /// <summary>A barcode, or several separated by commas or spaces.</summary>
    public string Barcode { get; set; } = "";

    /// <summary>Element address of the (first) slot: storage or import/export. Null: the first free storage slot.</summary>
    public int? Slot { get; set; }

    public int CapacityGiB { get; set; } = 100;

    /// <summary>Overrides <see cref="CapacityGiB"/>; below 100 GiB needs <see cref="LibraryOptions.AllowSmallTapes"/>.</summary>
    public int? CapacityMiB { get; set; }

    public string Pool { get; set; } = Catalog.Pool.GlacierId;

    public bool Worm { get; set; }

    internal IReadOnlyList<string> SplitBarcodes() =>
        Barcode.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    internal long CapacityBytes => CapacityMiB is int mib ? mib * TapeCapacity.MiB : CapacityGiB * TapeCapacity.GiB;
}

/// <summary>One automatic tape creation policy (AWS AutomaticTapeCreationRule) from configuration.</summary>
public sealed class AutoCreatePolicyOptions
{
    /// <summary>Barcode prefix, 1–4 letters A–Z; barcodes are allocated sequentially (TST001, TST002…).</summary>
    public string Prefix { get; set; } = "";

    /// <summary>AVAILABLE tapes with the prefix to keep in the I/E slots: 1–10.</summary>
    public int MinimumAvailable { get; set; } = 1;

    public int CapacityGiB { get; set; } = 100;

    /// <summary>Overrides <see cref="CapacityGiB"/>; below 100 GiB needs <see cref="LibraryOptions.AllowSmallTapes"/>.</summary>
    public int? CapacityMiB { get; set; }

    /// <summary>Pool id or name; default GLACIER.</summary>
    public string Pool { get; set; } = Catalog.Pool.GlacierId;

    public bool Worm { get; set; }

    /// <summary>Optional LTO media ID appended to generated barcodes (L5; LV… for WORM).</summary>
    public string? MediaSuffix { get; set; }

    internal long CapacityBytes => CapacityMiB is int mib ? mib * TapeCapacity.MiB : CapacityGiB * TapeCapacity.GiB;
}

/// <summary>Drive personality names as configuration spells them.</summary>
public static class DrivePersonalities
{
    public const string DefaultName = "IBM-ULT3580-TD5";

    private static readonly (string Name, TapeDrivePersonality Personality)[] s_known =
    [
        ("IBM-ULT3580-TD5", TapeDrivePersonality.IbmUlt3580Td5),
        ("IBM-ULT3580-TD6", TapeDrivePersonality.IbmUlt3580Td6),
        ("IBM-ULT3580-TD7", TapeDrivePersonality.IbmUlt3580Td7),
        ("IBM-ULT3580-TD8", TapeDrivePersonality.IbmUlt3580Td8),
        ("HP-Ultrium-5", TapeDrivePersonality.HpUltrium5),
    ];

    public static IEnumerable<string> Names => s_known.Select(k => k.Name);

    public static TapeDrivePersonality? Find(string? name)
    {
        if (name is null)
        {
            return null;
        }

        // Also accept the INQUIRY product id alone ("ULT3580-TD5"), which is how AWS names its drive type.
        foreach (var (n, p) in s_known)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase) ||
                string.Equals(p.ProductId, name, StringComparison.OrdinalIgnoreCase))
            {
                return p;
            }
        }

        return null;
    }

    public static string NameOf(TapeDrivePersonality personality) =>
        s_known.FirstOrDefault(k => ReferenceEquals(k.Personality, personality)).Name ?? personality.ProductId;
}

/// <summary>Start-up validation with messages that name the key to fix.</summary>
internal sealed class LibraryOptionsValidator : IValidateOptions<LibraryOptions>
{
    public ValidateOptionsResult Validate(string? name, LibraryOptions o)
    {
        if (!o.Enabled)
        {
            return ValidateOptionsResult.Success;
        }

        var failures = new List<string>();
        const string P = "TapeGateway:Library:";
        var changer = Scsi.Smc.ChangerPersonality.All.FirstOrDefault(p => string.Equals(p.Name, o.ChangerPersonality, StringComparison.OrdinalIgnoreCase));
        if (changer is null)
        {
            failures.Add($"{P}ChangerPersonality '{o.ChangerPersonality}' is unknown; use one of {string.Join(", ", Scsi.Smc.ChangerPersonality.All.Select(p => p.Name))}.");
        }

        if (DrivePersonalities.Find(o.DrivePersonality) is null)
        {
            failures.Add($"{P}DrivePersonality '{o.DrivePersonality}' is unknown; use one of {string.Join(", ", DrivePersonalities.Names)}.");
        }

        if (o.Drives is < 1 or > 256)
        {
            failures.Add($"{P}Drives must be 1–256 (is {o.Drives}).");
        }

        if (o.StorageSlots is < 1 or > 60000)
        {
            failures.Add($"{P}StorageSlots must be 1–60000 (is {o.StorageSlots}).");
        }

        if (o.ImportExportSlots is < 0 or > 4096)
        {
            failures.Add($"{P}ImportExportSlots must be 0–4096 (is {o.ImportExportSlots}).");
        }

        if (o.CompressionLevel is < -7 or > 9)
        {
            failures.Add($"{P}CompressionLevel must be -7–9 (is {o.CompressionLevel}); 1 is the default.");
        }

        if (string.IsNullOrWhiteSpace(o.Name) || o.Name.Length > 100)
        {
            failures.Add($"{P}Name must be 1–100 characters.");
        }

        if (!(o.TargetPrefix.StartsWith("iqn.", StringComparison.Ordinal) || o.TargetPrefix.StartsWith("eui.", StringComparison.Ordinal)) ||
            o.TargetPrefix.Length > 200 || o.TargetPrefix.Any(c => char.IsWhiteSpace(c) || char.IsUpper(c)))
        {
            failures.Add($"{P}TargetPrefix '{o.TargetPrefix}' must be the start of a lower-case iSCSI name, e.g. iqn.2026-11.org.tapegateway: (RFC 7143 §4.2.7).");
        }

        if (o.Layout == LibraryLayout.SingleTarget)
        {
            if (o.ChangerLun is < 0 or > 16383 || o.FirstDriveLun < 0 || o.FirstDriveLun + o.Drives - 1 > 16383)
            {
                failures.Add($"{P}ChangerLun and FirstDriveLun..FirstDriveLun+Drives-1 must be within 0–16383.");
            }
            else if (o.ChangerLun >= o.FirstDriveLun && o.ChangerLun < o.FirstDriveLun + o.Drives)
            {
                failures.Add($"{P}ChangerLun {o.ChangerLun} collides with the drive LUNs {o.FirstDriveLun}–{o.FirstDriveLun + o.Drives - 1}.");
            }
        }

        foreach (var (key, first, count) in new[]
        {
            ("TransportAddress", o.TransportAddress, 1),
            ("FirstStorageAddress", o.FirstStorageAddress, o.StorageSlots),
            ("FirstImportExportAddress", o.FirstImportExportAddress, o.ImportExportSlots),
            ("FirstDriveAddress", o.FirstDriveAddress, o.Drives),
        })
        {
            if (first is int f && (f < 0 || f + Math.Max(count, 1) - 1 > ushort.MaxValue))
            {
                failures.Add($"{P}{key} {f}: the addresses {f}..{f + count - 1} must fit in 0–65535 (SMC element addresses are 16 bits).");
            }
        }

        if (failures.Count == 0 && changer is not null)
        {
            try
            {
                var g = o.ResolveGeometry();
                var problem = o.ToCatalogGeometry(g).Validate();
                if (problem is not null)
                {
                    failures.Add($"{P}element addresses: {problem}");
                }
                else
                {
                    ValidateTapes(o, g, failures);
                }
            }
            catch (ArgumentException ex)
            {
                failures.Add($"{P}element addresses: {ex.Message}");
            }
            catch (InvalidOperationException ex)
            {
                failures.Add($"{P}element addresses: {ex.Message}");
            }
        }

        if (changer is not null)
        {
            ValidatePolicies(o, changer, failures);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// What can be judged without the catalog. The pool's existence and WORM/media-ID agreement are checked when the
    /// library stores the policies at start, which then fails with the same kind of message.
    /// </summary>
    private static void ValidatePolicies(LibraryOptions o, ChangerPersonality changer, List<string> failures)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < o.AutoCreatePolicies.Count; i++)
        {
            var p = o.AutoCreatePolicies[i];
            var key = $"TapeGateway:Library:AutoCreatePolicies:{i.ToString(CultureInfo.InvariantCulture)}";
            if (!Barcodes.IsValidPrefix(p.Prefix))
            {
                failures.Add($"{key}:Prefix '{p.Prefix}' is not a valid barcode prefix (1–4 letters A–Z).");
            }
            else
            {
                if (!seen.Add(p.Prefix))
                {
                    failures.Add($"{key}:Prefix '{p.Prefix}' is listed twice.");
                }

                var first = Barcodes.Format(p.Prefix, 1, p.MediaSuffix);
                if (first.Length > changer.MaxBarcodeLength)
                {
                    failures.Add($"{key}: generated barcodes such as {first} are longer than the {changer.MaxBarcodeLength} characters the {changer.Name} changer allows.");
                }
            }

            if (p.MinimumAvailable is < 1 or > 10)
            {
                failures.Add($"{key}:MinimumAvailable must be 1–10 (is {p.MinimumAvailable}).");
            }

            if (p.MediaSuffix is not null && Barcodes.ClassifyMediaId(p.MediaSuffix).Kind is not (LtoMediaKind.Data or LtoMediaKind.Worm))
            {
                failures.Add($"{key}:MediaSuffix '{p.MediaSuffix}' is not an LTO data or WORM media ID (L1–L9, LA, M8, LT–LZ).");
            }

            if (string.IsNullOrWhiteSpace(p.Pool))
            {
                failures.Add($"{key}:Pool is empty; use GLACIER, DEEP_ARCHIVE or a custom pool.");
            }

            var capacityProblem = TapeCapacity.Validate(p.CapacityBytes, o.AllowSmallTapes);
            if (capacityProblem is not null)
            {
                failures.Add($"{key}: {capacityProblem}");
            }
        }
    }

    private static void ValidateTapes(LibraryOptions o, ChangerGeometry g, List<string> failures)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < o.Tapes.Count; i++)
        {
            var t = o.Tapes[i];
            var key = $"TapeGateway:Library:Tapes:{i.ToString(CultureInfo.InvariantCulture)}";
            var barcodes = t.SplitBarcodes();
            if (barcodes.Count == 0)
            {
                failures.Add($"{key}:Barcode is empty.");
            }

            foreach (var b in barcodes)
            {
                if (!Barcodes.IsValid(b))
                {
                    failures.Add($"{key}:Barcode '{b}' is not a valid barcode (5–16 characters A–Z, 0–9).");
                }
                else if (!seen.Add(b))
                {
                    failures.Add($"{key}:Barcode '{b}' is listed twice.");
                }
            }

            if (t.Slot is int slot)
            {
                var last = slot + barcodes.Count - 1;
                var inStorage = slot >= g.Storage.FirstAddress && last <= g.Storage.LastAddress && g.Storage.Count > 0;
                var inIe = g.ImportExport.Count > 0 && slot >= g.ImportExport.FirstAddress && last <= g.ImportExport.LastAddress;
                if (!inStorage && !inIe)
                {
                    failures.Add($"{key}:Slot {slot}..{last} is not within the storage slots {g.Storage.FirstAddress}–{g.Storage.LastAddress} or the I/E slots {g.ImportExport.FirstAddress}–{g.ImportExport.LastAddress}.");
                }
            }

            var capacityProblem = TapeCapacity.Validate(t.CapacityBytes, o.AllowSmallTapes);
            if (capacityProblem is not null)
            {
                failures.Add($"{key}: {capacityProblem}");
            }
        }
    }
}

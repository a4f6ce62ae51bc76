using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TapeGateway.Scsi.Smc;

/// <summary>
/// Movement capabilities between element types, as the Device Capabilities mode page (1Fh, SMC-3 §7.3) reports them.
/// Each byte is indexed by the source type (MT, ST, IE, DT) and holds one bit per destination type:
/// bit 0 MT, bit 1 ST, bit 2 I/E, bit 3 DT — the page's own bit layout.
/// </summary>
public readonly record struct ElementCapabilities(byte FromTransport, byte FromStorage, byte FromImportExport, byte FromDataTransfer)
{
    public const byte ToTransport = 0x01;
    public const byte ToStorage = 0x02;
    public const byte ToImportExport = 0x04;
    public const byte ToDataTransfer = 0x08;

    public static ElementCapabilities None => default;

    /// <summary>True when a medium may go from an element of type <paramref name="from"/> to one of type <paramref name="to"/>.</summary>
    public bool Allows(ElementType from, ElementType to)
    {
        var row = from switch
        {
            ElementType.MediumTransport => FromTransport,
            ElementType.Storage => FromStorage,
            ElementType.ImportExport => FromImportExport,
            ElementType.DataTransfer => FromDataTransfer,
            _ => (byte)0,
        };
        var bit = to switch
        {
            ElementType.MediumTransport => ToTransport,
            ElementType.Storage => ToStorage,
            ElementType.ImportExport => ToImportExport,
            ElementType.DataTransfer => ToDataTransfer,
            _ => (byte)0,
        };
        return (row & bit) != 0;
    }
}

/// <summary>How a personality lays out element addresses: where each type starts (SMC-3 §7.3 page 1Dh).</summary>
public enum AddressLayout
{
    /// <summary>AWS Gateway-VTL: transport 0, storage 1…, I/E right after storage, drives from 10001.</summary>
    AwsGatewayVtl,

    /// <summary>StorageTek L-series: transport 0, CAP (I/E) from 10, drives from 500, storage cells from 1000.</summary>
    StorageTekL700,

    /// <summary>IBM 3584: transport 0, drives from 257 (101h), I/O station from 769 (301h), storage from 1025 (401h).</summary>
    Ibm3584,
}

/// <summary>
/// Who a virtual medium changer says it is and what it can do: INQUIRY strings (SPC-4 §6.6.2), the default element
/// address map, the Device Capabilities page (1Fh) and barcode limits. Immutable data, like <c>DiskPersonality</c>.
/// The library service builds its <see cref="ChangerGeometry"/> from <see cref="LayoutGeometry"/>; from then on the
/// backend's geometry is authoritative and the changer only reports it.
/// </summary>
public sealed record ChangerPersonality
{
    /// <summary>
    /// AWS's own changer type. INQUIRY strings: AWS does not document them; "AWS" / "Gateway-VTL" / "0100" is our
    /// choice, matching the type name AWS shows in its console [uncertain: not confirmed from a captured INQUIRY].
    /// I/E→I/E moves are refused: on this personality a move into an I/E element is an export (archive), so shuffling
    /// between mailslots would archive a freshly imported tape. Exchanges are offered only between storage and data
    /// transfer elements, for the same reason (an exchange touching I/E would be an export plus an import in one).
    /// </summary>
    public static ChangerPersonality AwsGatewayVtl { get; } = new()
    {
        Name = "AWS-Gateway-VTL",
        VendorId = "AWS",
        ProductId = "Gateway-VTL",
        ProductRevision = "0100",
        Layout = AddressLayout.AwsGatewayVtl,
        MaxBarcodeLength = 16,
        MoveCapabilities = new(
            0,
            ElementCapabilities.ToStorage | ElementCapabilities.ToImportExport | ElementCapabilities.ToDataTransfer,
            ElementCapabilities.ToStorage | ElementCapabilities.ToDataTransfer,
            ElementCapabilities.ToStorage | ElementCapabilities.ToImportExport | ElementCapabilities.ToDataTransfer),
        ExchangeCapabilities = new(
            0,
            ElementCapabilities.ToStorage | ElementCapabilities.ToDataTransfer,
            0,
            ElementCapabilities.ToStorage | ElementCapabilities.ToDataTransfer),
        DvcidSerialLength = 10,
    };

    /// <summary>
    /// StorageTek L700 as AWS presents it. The StorageTek SCSI reference publishes a Device Capabilities page with
    /// every move between storage, CAP and drive allowed and no exchange at all, so EXCHANGE MEDIUM is refused as an
    /// unsupported opcode, as on the hardware.
    /// </summary>
    public static ChangerPersonality StkL700 { get; } = new()
    {
        Name = "STK-L700",
        VendorId = "STK",
        ProductId = "L700",
        ProductRevision = "0108",
        Layout = AddressLayout.StorageTekL700,
        MaxBarcodeLength = 16,
        MoveCapabilities = AllMovesExceptTransport,
        ExchangeCapabilities = ElementCapabilities.None,
        DvcidSerialLength = 10,
    };

    /// <summary>
    /// IBM TS3500 (3584) "L32" frame, revision 0402, for IBM Spectrum Protect. IBM documents no exchange between
    /// element types on its Device Capabilities page. Spectrum Protect refuses volume tags longer than 8 characters
    /// ("Tape barcode is too long for media changer", AWS backup-tsm.md): <see cref="MaxBarcodeLength"/> is 8 so the
    /// library service refuses to create such tapes for this personality. The changer itself reports a longer tag in
    /// full rather than truncating it: two tapes must never share a truncated label, and the application's own error
    /// is clearer than a silently different barcode (this is what AWS does when the changer type is switched later).
    /// </summary>
    public static ChangerPersonality Ibm03584L32 { get; } = new()
    {
        Name = "IBM-03584L32-0402",
        VendorId = "IBM",
        ProductId = "03584L32",
        ProductRevision = "0402",
        Layout = AddressLayout.Ibm3584,
        MaxBarcodeLength = 8,
        MoveCapabilities = AllMovesExceptTransport,
        ExchangeCapabilities = ElementCapabilities.None,
        DvcidSerialLength = 10,
    };

    public static IReadOnlyList<ChangerPersonality> All { get; } = [AwsGatewayVtl, StkL700, Ibm03584L32];

    /// <summary>The name AWS uses for this changer type (console, DescribeVTLDevices).</summary>
    public string Name { get; init; } = "AWS-Gateway-VTL";

    /// <summary>T10 vendor identification, at most 8 ASCII characters.</summary>
    public string VendorId { get; init; } = "AWS";

    /// <summary>Product identification, at most 16 ASCII characters.</summary>
    public string ProductId { get; init; } = "Gateway-VTL";

    /// <summary>Product revision level, at most 4 ASCII characters.</summary>
    public string ProductRevision { get; init; } = "0100";

    public AddressLayout Layout { get; init; } = AddressLayout.AwsGatewayVtl;

    /// <summary>
    /// Longest barcode the emulated hardware and its applications accept. Advisory: the library service validates new
    /// tapes against it; READ ELEMENT STATUS reports any barcode in full (up to the 32 bytes of a volume tag).
    /// </summary>
    public int MaxBarcodeLength { get; init; } = 16;

    /// <summary>Device Capabilities page bytes 4–7 (SMC-3 §7.3): which moves MOVE MEDIUM accepts.</summary>
    public ElementCapabilities MoveCapabilities { get; init; } = AllMovesExceptTransport;

    /// <summary>Device Capabilities page bytes 12–15: which exchanges EXCHANGE MEDIUM accepts (none: opcode refused).</summary>
    public ElementCapabilities ExchangeCapabilities { get; init; }

    /// <summary>True when any exchange is possible; otherwise EXCHANGE MEDIUM is not offered at all.</summary>
    public bool SupportsExchange =>
        (ExchangeCapabilities.FromTransport | ExchangeCapabilities.FromStorage
            | ExchangeCapabilities.FromImportExport | ExchangeCapabilities.FromDataTransfer) != 0;

    /// <summary>
    /// Minimum width of the serial number in the DVCID identifier (READ ELEMENT STATUS, T10 vendor ID form: vendor 8
    /// + product 16 + serial). IBM LTO libraries use 10 (identifier length 34, descriptor length 32h without VOLTAG);
    /// longer drive serials widen the field so it always equals the drive's VPD 80h serial.
    /// </summary>
    public int DvcidSerialLength { get; init; } = 10;

    /// <summary>Fixed serial number instead of the derived one.</summary>
    public string? SerialNumberOverride { get; init; }

    private static ElementCapabilities AllMovesExceptTransport => new(
        0,
        ElementCapabilities.ToStorage | ElementCapabilities.ToImportExport | ElementCapabilities.ToDataTransfer,
        ElementCapabilities.ToStorage | ElementCapabilities.ToImportExport | ElementCapabilities.ToDataTransfer,
        ElementCapabilities.ToStorage | ElementCapabilities.ToImportExport | ElementCapabilities.ToDataTransfer);

    /// <summary>AWS's library: 1600 storage slots, 1600 I/E slots, 10 drives, one transport.</summary>
    public ChangerGeometry DefaultGeometry => LayoutGeometry(1600, 1600, 10);

    /// <summary>
    /// The element address map this personality's hardware would use for the given counts (one transport element).
    /// Types keep the hardware's start addresses where the counts fit; where a type would run into the next one (AWS's
    /// 1600 I/E slots do not fit below an L700's drives at 500), it moves past the highest address used so far, to the
    /// next multiple of 1000, so ranges never overlap. Throws when the map does not fit in 16-bit addresses.
    /// </summary>
    public ChangerGeometry LayoutGeometry(int storage, int importExport, int drives)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(importExport);
        ArgumentOutOfRangeException.ThrowIfNegative(drives);
        var transport = new ElementRange(0, 1);
        ElementRange st, ie, dt;
        switch (Layout)
        {
            case AddressLayout.StorageTekL700:
                dt = Range(500, drives);
                st = Range(1000, storage);
                ie = 10 + importExport <= 500 ? Range(10, importExport) : Range(NextThousand(st), importExport);
                break;
            case AddressLayout.Ibm3584:
                dt = Range(0x101, drives);
                ie = 0x301 + importExport <= 0x401 ? Range(0x301, importExport) : Range(0, 0);
                st = Range(0x401, storage);
                if (ie.Count == 0 && importExport > 0)
                {
                    ie = Range(NextThousand(st), importExport);
                }

                if (0x101 + drives > 0x301)
                {
                    dt = Range(NextThousand(ie.Count > 0 ? ie : st), drives);
                }

                break;
            default:
                st = Range(1, storage);
                ie = Range(1 + storage, importExport);
                var end = 1 + storage + importExport;
                dt = Range(end <= 10001 ? 10001 : NextThousand(ie.Count > 0 ? ie : st), drives);
                break;
        }

        var geometry = new ChangerGeometry(transport, st, ie, dt);
        MediumChangerLogicalUnit.ValidateGeometry(geometry);
        return geometry;
    }

    /// <summary>
    /// Identity for a changer with unit serial number <paramref name="serialNumber"/> (VPD 80h, unless
    /// <see cref="SerialNumberOverride"/> is set); the NAA 5 designator (VPD 83h) derives from the SHA-256 of the
    /// serial, as <c>DiskPersonality</c> derives disk identities, so it is stable across restarts.
    /// </summary>
    public LogicalUnitIdentity CreateIdentity(string serialNumber)
    {
        ArgumentException.ThrowIfNullOrEmpty(serialNumber);
        var serial = SerialNumberOverride ?? serialNumber;
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes("changer:" + serial), hash);
        var seed = BinaryPrimitives.ReadUInt64BigEndian(hash);
        return new LogicalUnitIdentity(VendorId, ProductId, ProductRevision, serial, LogicalUnitIdentity.Naa5(seed));
    }

    private static ElementRange Range(int first, int count)
    {
        if (count == 0)
        {
            return new ElementRange(0, 0);
        }

        if (first < 0 || first + count - 1 > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(count), "element addresses must fit in 16 bits");
        }

        return new ElementRange((ushort)first, (ushort)count);
    }

    private static int NextThousand(ElementRange after) => ((after.FirstAddress + after.Count) / 1000 + 1) * 1000;
}

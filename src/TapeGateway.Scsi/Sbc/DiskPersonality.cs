using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TapeGateway.Scsi.Sbc;

/// <summary>
/// Who a virtual disk says it is: standard INQUIRY strings (SPC-4 §6.6.2) plus optional fixed serial / NAA values.
/// Immutable data; <see cref="CreateIdentity"/> derives the unit serial number (SPC-4 §7.8.15) and the NAA 5
/// designator (§7.8.6.6.3) from a stable volume id, so a volume keeps its identity across restarts and initiators
/// (multipath, VMware datastore signatures) recognise it.
/// </summary>
public sealed record DiskPersonality
{
    public static DiskPersonality Default { get; } = new();

    /// <summary>T10 vendor identification, at most 8 ASCII characters.</summary>
    public string VendorId { get; init; } = "TAPEGW";

    /// <summary>Product identification, at most 16 ASCII characters.</summary>
    public string ProductId { get; init; } = "VIRTUAL-DISK";

    /// <summary>Product revision level, at most 4 ASCII characters.</summary>
    public string ProductRevision { get; init; } = "0100";

    /// <summary>Fixed serial number instead of the derived one (e.g. to keep a migrated volume's identity).</summary>
    public string? SerialNumberOverride { get; init; }

    /// <summary>Fixed NAA identifier instead of the derived NAA 5 value.</summary>
    public ulong? NaaIdentifierOverride { get; init; }

    /// <summary>
    /// Builds the identity for the volume <paramref name="volumeId"/>. The serial is "TGD" plus 13 hex digits of the
    /// SHA-256 of the id; the NAA 5 vendor-specific part uses the low 36 bits of the same hash.
    /// </summary>
    public LogicalUnitIdentity CreateIdentity(string volumeId)
    {
        ArgumentException.ThrowIfNullOrEmpty(volumeId);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(volumeId), hash);
        var seed = BinaryPrimitives.ReadUInt64BigEndian(hash);
        var serial = SerialNumberOverride ?? "TGD" + (seed & 0xF_FFFF_FFFF_FFFFUL).ToString("X13", System.Globalization.CultureInfo.InvariantCulture);
        var naa = NaaIdentifierOverride ?? LogicalUnitIdentity.Naa5(seed);
        return new LogicalUnitIdentity(VendorId, ProductId, ProductRevision, serial, naa);
    }
}

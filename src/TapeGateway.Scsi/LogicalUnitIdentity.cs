namespace TapeGateway.Scsi;

/// <summary>
/// Who a logical unit says it is (SPC-4 §6.6.2 standard INQUIRY, §7.8.15 unit serial number, §7.8.6 device
/// identification). Immutable: personalities are data.
/// </summary>
public sealed record LogicalUnitIdentity(
    string VendorId,
    string ProductId,
    string ProductRevision,
    string SerialNumber,
    ulong NaaIdentifier)
{
    /// <summary>IEEE company id used in our NAA type 6 identifiers (locally administered range).</summary>
    public const uint CompanyId = 0x00_140D;

    /// <summary>Builds an NAA 5 (IEEE registered) identifier from a stable 36-bit seed (SPC-4 §7.8.6.6.3).</summary>
    public static ulong Naa5(ulong seed) => (0x5UL << 60) | ((ulong)CompanyId << 36) | (seed & 0xF_FFFF_FFFFUL);
}

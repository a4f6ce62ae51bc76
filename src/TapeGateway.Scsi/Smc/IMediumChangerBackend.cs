using TapeGateway.Core.Scsi;

namespace TapeGateway.Scsi.Smc;

/// <summary>SMC-3 element type codes (READ ELEMENT STATUS ELEMENT TYPE CODE field, element status page byte 0).</summary>
public enum ElementType : byte
{
    All = 0,
    MediumTransport = 1,
    Storage = 2,
    ImportExport = 3,
    DataTransfer = 4,
}

/// <summary>First address and count of one element type (MODE SENSE page 1Dh, SMC-3 §7.3.4).</summary>
public readonly record struct ElementRange(ushort FirstAddress, ushort Count)
{
    public bool Contains(ushort address) => address >= FirstAddress && address < FirstAddress + Count;

    public ushort LastAddress => (ushort)(FirstAddress + Count - 1);
}

/// <summary>The element address map of a library; immutable, built from the changer personality and configuration.</summary>
public sealed record ChangerGeometry(
    ElementRange Transport,
    ElementRange Storage,
    ElementRange ImportExport,
    ElementRange DataTransfer)
{
    public ElementType? TypeOf(ushort address) =>
        Transport.Contains(address) ? ElementType.MediumTransport
        : Storage.Contains(address) ? ElementType.Storage
        : ImportExport.Contains(address) ? ElementType.ImportExport
        : DataTransfer.Contains(address) ? ElementType.DataTransfer
        : null;
}

/// <summary>
/// One element as READ ELEMENT STATUS reports it (SMC-3 §6.10). <see cref="SourceAddress"/> is where the medium
/// came from (SVALID); <see cref="PlacedByOperator"/> sets IMPEXP on an import/export element (tape inserted by
/// an operator / created there, not by a MOVE MEDIUM).
/// </summary>
public sealed record ElementStatus(
    ushort Address,
    ElementType Type,
    bool Full,
    string? VolumeTag,
    ushort? SourceAddress = null,
    bool Accessible = true,
    bool Exception = false,
    byte AdditionalSenseCode = 0,
    byte AdditionalSenseQualifier = 0,
    bool PlacedByOperator = false);

/// <summary>Identity of the drive behind a data transfer element, for DVCID (SMC-3 §6.10.5): must match its VPD 80h.</summary>
public sealed record DriveDescriptor(ushort ElementAddress, string VendorId, string ProductId, string SerialNumber, Lun? Lun = null);

/// <summary>Outcomes of a medium move; the changer maps each to the sense a real library returns.</summary>
public enum ChangerResult
{
    Ok,

    /// <summary>3B/0E MEDIUM SOURCE ELEMENT EMPTY.</summary>
    SourceEmpty,

    /// <summary>3B/0D MEDIUM DESTINATION ELEMENT FULL.</summary>
    DestinationFull,

    /// <summary>21/01 INVALID ELEMENT ADDRESS (address outside the map, or a move the element type forbids).</summary>
    InvalidElement,

    /// <summary>53/02 MEDIUM REMOVAL PREVENTED: the drive holds the tape (PREVENT ALLOW MEDIUM REMOVAL on the drive).</summary>
    MediumRemovalPrevented,

    /// <summary>30/00 INCOMPATIBLE MEDIUM INSTALLED (e.g. a cleaning or foreign-generation cartridge into a drive).</summary>
    IncompatibleMedium,

    /// <summary>04/01 the library is busy with this element (e.g. a tape being archived); retry later.</summary>
    Busy,

    /// <summary>The tape's state forbids the move (archived, in transit…): ILLEGAL REQUEST 3B/0E-like refusal.</summary>
    NotAllowed,

    /// <summary>44/00 an internal failure (I/O on the tape image, catalog).</summary>
    InternalError,
}

/// <summary>
/// What the SMC command layer needs from the library: the map, the state of every element, and moves. The SMC layer
/// never sees the catalog or tape files; the library never sees a CDB.
/// </summary>
public interface IMediumChangerBackend
{
    ChangerGeometry Geometry { get; }

    /// <summary>Drives in data-transfer-element order.</summary>
    IReadOnlyList<DriveDescriptor> Drives { get; }

    /// <summary>Every element of the library, in address order within each type.</summary>
    ValueTask<IReadOnlyList<ElementStatus>> GetElementsAsync(CancellationToken ct);

    /// <summary>MOVE MEDIUM (SMC-3 §6.7): source → destination, through the given transport element.</summary>
    ValueTask<ChangerResult> MoveAsync(ushort source, ushort destination, string actor, CancellationToken ct);

    /// <summary>
    /// EXCHANGE MEDIUM (SMC-3 §6.3): source → first destination, and the medium of the first destination → second
    /// destination, as one operation (all or nothing).
    /// </summary>
    ValueTask<ChangerResult> ExchangeAsync(ushort source, ushort firstDestination, ushort secondDestination, string actor, CancellationToken ct);

    /// <summary>
    /// Raised when the inventory changes without an initiator's MOVE (a tape created, archived, retrieved, deleted
    /// by the operator); the changer then reports a unit attention to every nexus.
    /// </summary>
    event Action? InventoryChangedExternally;

    /// <summary>
    /// INITIALIZE ELEMENT STATUS (WITH RANGE) (SMC-3): re-check the inventory of <paramref name="count"/> elements from
    /// <paramref name="firstAddress"/>; (0, FFFFh) when the initiator gave no range (the whole library). A virtual library has
    /// nothing to scan, so the default does nothing; a backend may use it to re-read its catalog. Added after the first
    /// draft of this contract with a default body, so existing implementations keep compiling.
    /// </summary>
    ValueTask InitializeElementStatusAsync(ushort firstAddress, ushort count, CancellationToken ct) => ValueTask.CompletedTask;
}

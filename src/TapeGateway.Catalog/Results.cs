namespace TapeGateway.Catalog;

public enum CreateTapesError
{
    None,
    InvalidRequest,
    InvalidBarcode,
    InvalidCapacity,
    BarcodeAlreadyUsed,
    PoolNotFound,
    LibraryNotFound,
    NoFreeSlot,
}

/// <summary>Outcome of a (batch) tape creation. On any error nothing was created.</summary>
public sealed record CreateTapesResult(CreateTapesError Error, string? Message, IReadOnlyList<Tape> Tapes)
{
    public bool Succeeded => Error == CreateTapesError.None;

    internal static CreateTapesResult Fail(CreateTapesError error, string message) => new(error, message, []);
}

public enum TransitionStatus
{
    Ok,
    TapeNotFound,

    /// <summary>The tape was not in the expected state (someone else changed it first); nothing was changed.</summary>
    StateMismatch,

    /// <summary>The lifecycle does not allow this transition, or it must go through a dedicated method.</summary>
    NotAllowed,

    /// <summary>The tape must come back into the library but no import/export slot is free.</summary>
    NoFreeSlot,

    /// <summary>The tape is loaded in a drive; it must be unloaded before it can leave the library.</summary>
    TapeInDrive,
}

public sealed record TransitionResult(TransitionStatus Status, TapeState? ActualState = null, string? Message = null)
{
    public bool Succeeded => Status == TransitionStatus.Ok;
}

/// <summary>
/// Outcome of a medium move. The SMC layer maps these to sense data (SourceEmpty → MEDIUM SOURCE ELEMENT EMPTY,
/// DestinationFull → MEDIUM DESTINATION ELEMENT FULL, InvalidElement → INVALID ELEMENT ADDRESS, …).
/// </summary>
public enum MoveStatus
{
    Ok,
    SourceEmpty,
    DestinationFull,
    InvalidElement,
    NotAllowedInState,
    TapeNotFound,
    LibraryNotFound,
}

/// <param name="IsImport">The tape left an I/E slot for a storage slot or drive (AWS: triggers automatic tape creation).</param>
/// <param name="IsExport">The tape went into an I/E slot from inside the library (AWS: the backup application ejected it; archive).</param>
public sealed record MoveResult(
    MoveStatus Status,
    string? Barcode = null,
    int? From = null,
    int? To = null,
    bool IsImport = false,
    bool IsExport = false,
    string? Message = null)
{
    public bool Succeeded => Status == MoveStatus.Ok;
}

public enum DeleteTapeStatus
{
    Ok,
    TapeNotFound,

    /// <summary>AWS allows deleting only AVAILABLE, ARCHIVED, RECOVERED, IRRECOVERABLE (and CREATING) tapes; a RETRIEVED
    /// tape must be ejected first (it then returns to ARCHIVED).</summary>
    NotAllowedInState,

    /// <summary>Archived in a compliance-locked pool and still within retention: nobody can delete it.</summary>
    RetentionLocked,

    /// <summary>Archived in a governance-locked pool within retention: needs the bypass flag.</summary>
    GovernanceBypassRequired,

    TapeInDrive,

    /// <summary>Someone else changed the tape between our read and our guarded update.</summary>
    StateMismatch,
}

public sealed record DeleteTapeResult(DeleteTapeStatus Status, TapeState? ActualState = null, string? Message = null)
{
    public bool Succeeded => Status == DeleteTapeStatus.Ok;
}

/// <summary>What <see cref="TapeRepository.EnsureAutoCreatedTapesAsync"/> did for one policy.</summary>
/// <param name="Shortfall">Tapes still missing because no I/E slot was free.</param>
public sealed record AutoCreateOutcome(long LibraryId, string BarcodePrefix, int AvailableBefore, IReadOnlyList<string> Created, int Shortfall);

public enum PoolDeleteStatus
{
    Ok,
    NotFound,
    StandardPool,

    /// <summary>Tapes (in any state, including deleted ones kept as history) or auto-create policies reference it.</summary>
    InUse,
}

/// <summary>Thrown for requests that are malformed regardless of catalog contents (bad geometry, bad policy).</summary>
public sealed class CatalogValidationException : Exception
{
    public CatalogValidationException()
    {
    }

    public CatalogValidationException(string message)
        : base(message)
    {
    }

    public CatalogValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

public enum AssignPoolStatus
{
    Ok,
    TapeNotFound,
    PoolNotFound,

    /// <summary>Only AVAILABLE tapes (not archived yet) and ARCHIVED tapes can change pool.</summary>
    NotAllowedInState,

    /// <summary>The tape is already in that pool.</summary>
    SamePool,

    /// <summary>An archived tape can move from Glacier to Deep Archive, never back (AWS).</summary>
    StorageClassDowngrade,

    /// <summary>Compliance retention of the current pool still holds the archived tape.</summary>
    RetentionLocked,

    /// <summary>Governance retention of the current pool still holds it; the bypass flag is needed.</summary>
    GovernanceBypassRequired,

    /// <summary>Someone else changed the tape between our read and our guarded update.</summary>
    StateMismatch,
}

public sealed record AssignPoolResult(AssignPoolStatus Status, Tape? Tape = null, string? Message = null)
{
    public bool Succeeded => Status == AssignPoolStatus.Ok;
}

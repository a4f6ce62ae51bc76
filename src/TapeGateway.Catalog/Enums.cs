namespace TapeGateway.Catalog;

/// <summary>SMC element types (SMC-3 §6.11). Stored as lower-case text; see <see cref="CatalogNames"/>.</summary>
public enum ElementType
{
    Transport,
    Drive,
    Storage,
    ImportExport,
}

/// <summary>Where newly created tapes go. AWS puts new tapes in the import/export slots.</summary>
public enum TapePlacement
{
    ImportExport,
    Storage,
}

/// <summary>AWS <c>TapeStorageClass</c>.</summary>
public enum StorageClass
{
    Glacier,
    DeepArchive,
}

/// <summary>AWS <c>RetentionLockType</c>.</summary>
public enum RetentionLockType
{
    None,
    Governance,
    Compliance,
}

/// <summary>Where a tape is: in an element of its library, on the archive (VTS) side, or nowhere (deleting/deleted).</summary>
public enum TapeLocationKind
{
    Element,
    Archive,
    None,
}

/// <summary>Kinds of <c>tape_events</c> rows.</summary>
public enum TapeEventKind
{
    Created,
    StateTransition,
    Moved,
    Loaded,
    Unloaded,
    Deleted,

    /// <summary>An archived tape was assigned to another pool (AWS AssignTapePool).</summary>
    PoolAssigned,
}

/// <summary>The text stored for each enum value; one place so SQL literals and C# cannot drift apart.</summary>
public static class CatalogNames
{
    public static string ToDb(this ElementType type) => type switch
    {
        ElementType.Transport => "transport",
        ElementType.Drive => "drive",
        ElementType.Storage => "storage",
        ElementType.ImportExport => "import-export",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static ElementType ParseElementType(string value) => value switch
    {
        "transport" => ElementType.Transport,
        "drive" => ElementType.Drive,
        "storage" => ElementType.Storage,
        "import-export" => ElementType.ImportExport,
        _ => throw new FormatException($"Unknown element type '{value}'."),
    };

    public static string ToDb(this StorageClass storageClass) => storageClass switch
    {
        StorageClass.Glacier => "GLACIER",
        StorageClass.DeepArchive => "DEEP_ARCHIVE",
        _ => throw new ArgumentOutOfRangeException(nameof(storageClass), storageClass, null),
    };

    public static StorageClass ParseStorageClass(string value) => value switch
    {
        "GLACIER" => StorageClass.Glacier,
        "DEEP_ARCHIVE" => StorageClass.DeepArchive,
        _ => throw new FormatException($"Unknown storage class '{value}'."),
    };

    public static string ToDb(this RetentionLockType lockType) => lockType switch
    {
        RetentionLockType.None => "NONE",
        RetentionLockType.Governance => "GOVERNANCE",
        RetentionLockType.Compliance => "COMPLIANCE",
        _ => throw new ArgumentOutOfRangeException(nameof(lockType), lockType, null),
    };

    public static RetentionLockType ParseRetentionLock(string value) => value switch
    {
        "NONE" => RetentionLockType.None,
        "GOVERNANCE" => RetentionLockType.Governance,
        "COMPLIANCE" => RetentionLockType.Compliance,
        _ => throw new FormatException($"Unknown retention lock type '{value}'."),
    };

    public static string ToDb(this TapeLocationKind kind) => kind switch
    {
        TapeLocationKind.Element => "element",
        TapeLocationKind.Archive => "archive",
        TapeLocationKind.None => "none",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static TapeLocationKind ParseLocationKind(string value) => value switch
    {
        "element" => TapeLocationKind.Element,
        "archive" => TapeLocationKind.Archive,
        "none" => TapeLocationKind.None,
        _ => throw new FormatException($"Unknown location kind '{value}'."),
    };

    public static string ToDb(this TapeEventKind kind) => kind switch
    {
        TapeEventKind.Created => "created",
        TapeEventKind.StateTransition => "state-transition",
        TapeEventKind.Moved => "moved",
        TapeEventKind.Loaded => "loaded",
        TapeEventKind.Unloaded => "unloaded",
        TapeEventKind.Deleted => "deleted",
        TapeEventKind.PoolAssigned => "pool-assigned",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static TapeEventKind ParseEventKind(string value) => value switch
    {
        "created" => TapeEventKind.Created,
        "state-transition" => TapeEventKind.StateTransition,
        "moved" => TapeEventKind.Moved,
        "loaded" => TapeEventKind.Loaded,
        "unloaded" => TapeEventKind.Unloaded,
        "deleted" => TapeEventKind.Deleted,
        "pool-assigned" => TapeEventKind.PoolAssigned,
        _ => throw new FormatException($"Unknown event kind '{value}'."),
    };
}

namespace TapeGateway.Catalog;

// Dapper targets: one property per column, in SQLite's storage types (INTEGER → long, REAL → double, TEXT → string),
// so no implicit conversion can go wrong. They are converted to the public records right after reading.
// Instantiated by Dapper through reflection, hence no constructor calls in our code.
#pragma warning disable CA1812

internal sealed class TapeRow
{
    public const string Columns =
        "barcode AS Barcode, library_id AS LibraryId, capacity_bytes AS CapacityBytes, used_bytes AS UsedBytes, " +
        "state AS State, pool_id AS PoolId, worm AS Worm, read_only AS ReadOnly, location_kind AS LocationKind, " +
        "element_address AS ElementAddress, source_address AS SourceAddress, retention_start AS RetentionStart, " +
        "pool_entry AS PoolEntry, archive_progress AS ArchiveProgress, created AS Created, updated AS Updated, " +
        "archive_class AS ArchiveClass, purge_library_copy AS PurgeLibraryCopy";

    public string Barcode { get; set; } = "";
    public long? LibraryId { get; set; }
    public long CapacityBytes { get; set; }
    public long UsedBytes { get; set; }
    public string State { get; set; } = "";
    public string PoolId { get; set; } = "";
    public long Worm { get; set; }
    public long ReadOnly { get; set; }
    public string LocationKind { get; set; } = "";
    public long? ElementAddress { get; set; }
    public long? SourceAddress { get; set; }
    public DateTimeOffset? RetentionStart { get; set; }
    public DateTimeOffset? PoolEntry { get; set; }
    public double? ArchiveProgress { get; set; }
    public DateTimeOffset Created { get; set; }
    public DateTimeOffset Updated { get; set; }
    public string? ArchiveClass { get; set; }
    public long PurgeLibraryCopy { get; set; }

    public TapeState ParsedState => TapeStates.ParseAws(State);

    public Tape ToModel() => new(
        Barcode, LibraryId, CapacityBytes, UsedBytes, ParsedState, PoolId, Worm != 0, ReadOnly != 0,
        CatalogNames.ParseLocationKind(LocationKind), (int?)ElementAddress, (int?)SourceAddress, RetentionStart, PoolEntry,
        ArchiveProgress, Created, Updated,
        ArchiveClass is null ? null : CatalogNames.ParseStorageClass(ArchiveClass), PurgeLibraryCopy != 0);
}

internal sealed class ElementRow
{
    public long LibraryId { get; set; }
    public long Address { get; set; }
    public string ElementType { get; set; } = "";
    public string? Barcode { get; set; }

    public ElementType Type => CatalogNames.ParseElementType(ElementType);
}

internal sealed class PoolRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string StorageClass { get; set; } = "";
    public string RetentionLock { get; set; } = "";
    public long RetentionDays { get; set; }
    public long IsStandard { get; set; }
    public DateTimeOffset Created { get; set; }

    public Pool ToModel() => new(
        Id, Name, CatalogNames.ParseStorageClass(StorageClass), CatalogNames.ParseRetentionLock(RetentionLock),
        (int)RetentionDays, IsStandard != 0, Created);
}

internal sealed class LibraryRow
{
    public long Id { get; set; }
    public string Name { get; set; } = "";
    public string ChangerPersonality { get; set; } = "";
    public string DrivePersonality { get; set; } = "";
    public long DriveCount { get; set; }
    public long StorageSlotCount { get; set; }
    public long IeSlotCount { get; set; }
    public long FirstTransportAddress { get; set; }
    public long FirstDriveAddress { get; set; }
    public long FirstStorageAddress { get; set; }
    public long FirstIeAddress { get; set; }
    public DateTimeOffset Created { get; set; }
    public DateTimeOffset Updated { get; set; }

    public Library ToModel() => new(
        Id,
        new LibraryGeometry(
            Name, ChangerPersonality, DrivePersonality, (int)DriveCount, (int)StorageSlotCount, (int)IeSlotCount,
            (int)FirstTransportAddress, (int)FirstDriveAddress, (int)FirstStorageAddress, (int)FirstIeAddress),
        Created,
        Updated);
}

internal sealed class InventoryRow
{
    public long Address { get; set; }
    public string ElementType { get; set; } = "";
    public string? Barcode { get; set; }
    public string? State { get; set; }
    public long? SourceAddress { get; set; }
    public long? Worm { get; set; }
    public long? ReadOnly { get; set; }
    public long? DriveIndex { get; set; }
    public string? SerialNumber { get; set; }
}

internal sealed class DriveRow
{
    public long LibraryId { get; set; }
    public long DriveIndex { get; set; }
    public long ElementAddress { get; set; }
    public string SerialNumber { get; set; } = "";
    public string Personality { get; set; } = "";
    public string? Barcode { get; set; }
}

internal sealed class EventRow
{
    public long Id { get; set; }
    public string Barcode { get; set; } = "";
    public DateTimeOffset Time { get; set; }
    public string Kind { get; set; } = "";
    public long? LibraryId { get; set; }
    public string? FromState { get; set; }
    public string? ToState { get; set; }
    public long? FromElement { get; set; }
    public long? ToElement { get; set; }
    public string Actor { get; set; } = "";
    public string? Detail { get; set; }

    public TapeEvent ToModel() => new(
        Id, Barcode, Time, CatalogNames.ParseEventKind(Kind), LibraryId,
        FromState is null ? null : TapeStates.ParseAws(FromState),
        ToState is null ? null : TapeStates.ParseAws(ToState),
        (int?)FromElement, (int?)ToElement, Actor, Detail);
}

internal sealed class PolicyRow
{
    public long LibraryId { get; set; }
    public string BarcodePrefix { get; set; } = "";
    public long MinimumAvailable { get; set; }
    public long CapacityBytes { get; set; }
    public string PoolId { get; set; } = "";
    public long Worm { get; set; }
    public string? MediaSuffix { get; set; }

    public AutoCreatePolicy ToModel() =>
        new(LibraryId, BarcodePrefix, (int)MinimumAvailable, CapacityBytes, PoolId, Worm != 0, MediaSuffix);
}

#pragma warning restore CA1812

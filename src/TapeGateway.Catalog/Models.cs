namespace TapeGateway.Catalog;

/// <summary>
/// Shape of a virtual library: personalities, counts and the first element address of each element type. Each type
/// occupies a contiguous address range; the ranges must not overlap.
/// </summary>
public sealed record LibraryGeometry(
    string Name,
    string ChangerPersonality,
    string DrivePersonality,
    int DriveCount,
    int StorageSlotCount,
    int ImportExportSlotCount,
    int FirstTransportAddress,
    int FirstDriveAddress,
    int FirstStorageAddress,
    int FirstImportExportAddress)
{
    /// <summary>
    /// AWS Tape Gateway layout: 10 IBM-ULT3580-TD5 drives, storage slots 1–1600, I/E slots 1601–3200 (where new tapes
    /// appear). AWS does not document its transport and drive addresses; 0 and 10001–10010 are our choice, outside the
    /// slot ranges that Bacula scripts hard-code.
    /// </summary>
    public static LibraryGeometry AwsGatewayVtl(string name, string changerPersonality = "AWS-Gateway-VTL") =>
        new(name, changerPersonality, "IBM-ULT3580-TD5", 10, 1600, 1600, 0, 10001, 1, 1601);

    /// <summary>Null when the geometry is usable, else why not.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 100)
        {
            return "Library name must be 1–100 characters.";
        }

        if (string.IsNullOrWhiteSpace(ChangerPersonality) || ChangerPersonality.Length > 64 ||
            string.IsNullOrWhiteSpace(DrivePersonality) || DrivePersonality.Length > 64)
        {
            return "Personalities must be 1–64 characters.";
        }

        if (DriveCount is < 1 or > 256 || StorageSlotCount is < 1 or > 60000 || ImportExportSlotCount is < 0 or > 4096)
        {
            return "Counts out of range: drives 1–256, storage slots 1–60000, I/E slots 0–4096.";
        }

        var ranges = Ranges().ToList();
        foreach (var (type, first, count) in ranges)
        {
            if (first < 0 || first + count - 1 > ushort.MaxValue)
            {
                return $"{type} addresses {first}..{first + count - 1} do not fit in 0..65535.";
            }
        }

        for (var i = 0; i < ranges.Count; i++)
        {
            for (var j = i + 1; j < ranges.Count; j++)
            {
                var (ta, fa, ca) = ranges[i];
                var (tb, fb, cb) = ranges[j];
                if (ca > 0 && cb > 0 && fa < fb + cb && fb < fa + ca)
                {
                    return $"{ta} and {tb} address ranges overlap.";
                }
            }
        }

        return null;
    }

    /// <summary>Every element this geometry defines, in address order within each type.</summary>
    public IEnumerable<(ElementType Type, int Address)> Elements()
    {
        foreach (var (type, first, count) in Ranges())
        {
            for (var i = 0; i < count; i++)
            {
                yield return (type, first + i);
            }
        }
    }

    internal bool SameLayout(LibraryGeometry other) =>
        DriveCount == other.DriveCount && StorageSlotCount == other.StorageSlotCount &&
        ImportExportSlotCount == other.ImportExportSlotCount && FirstTransportAddress == other.FirstTransportAddress &&
        FirstDriveAddress == other.FirstDriveAddress && FirstStorageAddress == other.FirstStorageAddress &&
        FirstImportExportAddress == other.FirstImportExportAddress;

    private IEnumerable<(ElementType Type, int First, int Count)> Ranges()
    {
        yield return (ElementType.Transport, FirstTransportAddress, 1);
        yield return (ElementType.Drive, FirstDriveAddress, DriveCount);
        yield return (ElementType.Storage, FirstStorageAddress, StorageSlotCount);
        yield return (ElementType.ImportExport, FirstImportExportAddress, ImportExportSlotCount);
    }
}

public sealed record Library(long Id, LibraryGeometry Geometry, DateTimeOffset Created, DateTimeOffset Updated);

public sealed record Drive(long LibraryId, int Index, int ElementAddress, string SerialNumber, string Personality, string? LoadedBarcode);

/// <summary>One element as READ ELEMENT STATUS needs it.</summary>
public sealed record ElementStatus(
    int Address,
    ElementType Type,
    string? Barcode,
    TapeState? TapeState,
    int? SourceAddress,
    bool Worm,
    bool ReadOnly,
    int? DriveIndex,
    string? DriveSerialNumber)
{
    public bool IsFull => Barcode is not null;
}

public sealed record LibraryInventory(Library Library, IReadOnlyList<ElementStatus> Elements)
{
    public IEnumerable<ElementStatus> OfType(ElementType type) => Elements.Where(e => e.Type == type);

    public ElementStatus? At(int address) => Elements.FirstOrDefault(e => e.Address == address);
}

public sealed record Pool(
    string Id,
    string Name,
    StorageClass StorageClass,
    RetentionLockType RetentionLock,
    int RetentionDays,
    bool IsStandard,
    DateTimeOffset Created)
{
    /// <summary>AWS standard pool ids.</summary>
    public const string GlacierId = "GLACIER";
    public const string DeepArchiveId = "DEEP_ARCHIVE";
}

public sealed record Tape(
    string Barcode,
    long? LibraryId,
    long CapacityBytes,
    long UsedBytes,
    TapeState State,
    string PoolId,
    bool Worm,
    bool ReadOnly,
    TapeLocationKind LocationKind,
    int? ElementAddress,
    int? SourceAddress,
    DateTimeOffset? RetentionStart,
    DateTimeOffset? PoolEntry,
    double? ArchiveProgress,
    DateTimeOffset Created,
    DateTimeOffset Updated,
    StorageClass? ArchiveClass = null,
    bool PurgeLibraryCopy = false)
{
    /// <summary>
    /// AWS ArchivedTape.RetentionStartDate + the pool's retention days: until when a retention-locked archived tape
    /// cannot be deleted (or moved out of its pool). Null when the tape is not under retention.
    /// </summary>
    public DateTimeOffset? RetainUntil(Pool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return RetentionStart is { } start && pool.RetentionLock != RetentionLockType.None ? start.AddDays(pool.RetentionDays) : null;
    }
}

public sealed record TapeEvent(
    long Id,
    string Barcode,
    DateTimeOffset Time,
    TapeEventKind Kind,
    long? LibraryId,
    TapeState? FromState,
    TapeState? ToState,
    int? FromElement,
    int? ToElement,
    string Actor,
    string? Detail);

/// <summary>AWS AutomaticTapeCreationRule, per library and barcode prefix.</summary>
/// <param name="MediaSuffix">Optional LTO media ID appended to generated barcodes (e.g. L5, or LV for WORM).</param>
public sealed record AutoCreatePolicy(
    long LibraryId,
    string BarcodePrefix,
    int MinimumAvailable,
    long CapacityBytes,
    string PoolId,
    bool Worm,
    string? MediaSuffix = null);

/// <summary>Filter for <see cref="TapeRepository.ListTapesAsync"/>; null members do not filter.</summary>
public sealed record TapeFilter
{
    public long? LibraryId { get; init; }
    public IReadOnlyCollection<TapeState>? States { get; init; }
    public string? BarcodePrefix { get; init; }
    public string? PoolId { get; init; }

    /// <summary>DELETED tapes are history; they are listed only when asked for (or named in <see cref="States"/>).</summary>
    public bool IncludeDeleted { get; init; }

    /// <summary>Keyset paging: only barcodes after this one.</summary>
    public string? AfterBarcode { get; init; }

    /// <summary>Page size; the AWS console lists 1,000 at a time.</summary>
    public int Limit { get; init; } = 1000;
}

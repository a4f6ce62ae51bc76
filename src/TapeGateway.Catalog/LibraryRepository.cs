using System.Security.Cryptography;
using System.Text;
using Dapper;

namespace TapeGateway.Catalog;

/// <summary>Libraries (one per gateway), their elements and drives, and the inventory READ ELEMENT STATUS reports.</summary>
public sealed class LibraryRepository
{
    private readonly CatalogConnectionFactory _connections;
    private readonly TimeProvider _time;

    public LibraryRepository(CatalogConnectionFactory connections, TimeProvider time)
    {
        _connections = connections;
        _time = time;
    }

    private const string LibraryColumns = """
        id AS Id, name AS Name, changer_personality AS ChangerPersonality, drive_personality AS DrivePersonality,
        drive_count AS DriveCount, storage_slot_count AS StorageSlotCount, ie_slot_count AS IeSlotCount,
        first_transport_address AS FirstTransportAddress, first_drive_address AS FirstDriveAddress,
        first_storage_address AS FirstStorageAddress, first_ie_address AS FirstIeAddress, created AS Created, updated AS Updated
        """;

    private const string FindByNameSql = "SELECT " + LibraryColumns + " FROM libraries WHERE name = @Name;";
    private const string GetByIdSql = "SELECT " + LibraryColumns + " FROM libraries WHERE id = @Id;";

    private const string InsertLibrarySql = """
        INSERT INTO libraries (name, changer_personality, drive_personality, drive_count, storage_slot_count, ie_slot_count,
                               first_transport_address, first_drive_address, first_storage_address, first_ie_address, created, updated)
        VALUES (@Name, @ChangerPersonality, @DrivePersonality, @DriveCount, @StorageSlotCount, @ImportExportSlotCount,
                @FirstTransportAddress, @FirstDriveAddress, @FirstStorageAddress, @FirstImportExportAddress, @Now, @Now)
        RETURNING id;
        """;

    private const string InsertElementSql = """
        INSERT INTO elements (library_id, address, element_type, barcode) VALUES (@LibraryId, @Address, @ElementType, NULL);
        """;

    private const string InsertDriveSql = """
        INSERT INTO drives (library_id, drive_index, element_address, serial_number, personality)
        VALUES (@LibraryId, @DriveIndex, @ElementAddress, @SerialNumber, @Personality);
        """;

    // AWS lets the changer type change after activation ("Change Media Changer"); the element layout cannot change here.
    private const string UpdatePersonalitySql = """
        UPDATE libraries SET changer_personality = @ChangerPersonality, drive_personality = @DrivePersonality, updated = @Now
        WHERE id = @Id;
        """;

    private const string UpdateDrivePersonalitySql = "UPDATE drives SET personality = @Personality WHERE library_id = @Id;";

    /// <summary>
    /// Creates the library with all its elements and drives, or returns the existing one of that name. Personalities of an
    /// existing library are updated (AWS allows changing the changer type); a different element layout is refused,
    /// because tapes may sit in elements the new layout would drop.
    /// </summary>
    public async Task<Library> EnsureLibraryAsync(LibraryGeometry geometry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        var problem = geometry.Validate();
        if (problem is not null)
        {
            throw new CatalogValidationException(problem);
        }

        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();
        var now = CatalogTime.Truncate(_time.GetUtcNow());
        var existing = await c.QuerySingleOrDefaultAsync<LibraryRow>(new CommandDefinition(FindByNameSql, new { geometry.Name }, tx, cancellationToken: cancellationToken));
        if (existing is not null)
        {
            var library = existing.ToModel();
            if (!library.Geometry.SameLayout(geometry))
            {
                throw new CatalogValidationException(
                    $"Library '{geometry.Name}' exists with a different element layout; changing the layout is not supported.");
            }

            if (library.Geometry == geometry)
            {
                return library;
            }

            await c.ExecuteAsync(new CommandDefinition(
                UpdatePersonalitySql, new { existing.Id, geometry.ChangerPersonality, geometry.DrivePersonality, Now = now }, tx, cancellationToken: cancellationToken));
            await c.ExecuteAsync(new CommandDefinition(
                UpdateDrivePersonalitySql, new { existing.Id, Personality = geometry.DrivePersonality }, tx, cancellationToken: cancellationToken));
            await tx.CommitAsync(cancellationToken);
            return library with { Geometry = geometry, Updated = now };
        }

        var id = await c.ExecuteScalarAsync<long>(new CommandDefinition(
            InsertLibrarySql,
            new
            {
                geometry.Name,
                geometry.ChangerPersonality,
                geometry.DrivePersonality,
                geometry.DriveCount,
                geometry.StorageSlotCount,
                geometry.ImportExportSlotCount,
                geometry.FirstTransportAddress,
                geometry.FirstDriveAddress,
                geometry.FirstStorageAddress,
                geometry.FirstImportExportAddress,
                Now = now,
            },
            tx,
            cancellationToken: cancellationToken));

        await c.ExecuteAsync(new CommandDefinition(
            InsertElementSql,
            geometry.Elements().Select(e => new { LibraryId = id, e.Address, ElementType = e.Type.ToDb() }),
            tx,
            cancellationToken: cancellationToken));

        var serialStem = SerialStem(geometry.Name);
        await c.ExecuteAsync(new CommandDefinition(
            InsertDriveSql,
            Enumerable.Range(0, geometry.DriveCount).Select(i => new
            {
                LibraryId = id,
                DriveIndex = i,
                ElementAddress = geometry.FirstDriveAddress + i,
                SerialNumber = serialStem + (i + 1).ToString("D2", System.Globalization.CultureInfo.InvariantCulture),
                Personality = geometry.DrivePersonality,
            }),
            tx,
            cancellationToken: cancellationToken));

        await tx.CommitAsync(cancellationToken);
        return new Library(id, geometry, now, now);
    }

    public async Task<Library?> GetLibraryAsync(long id, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var row = await c.QuerySingleOrDefaultAsync<LibraryRow>(new CommandDefinition(GetByIdSql, new { Id = id }, cancellationToken: cancellationToken));
        return row?.ToModel();
    }

    public async Task<Library?> FindLibraryAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var row = await c.QuerySingleOrDefaultAsync<LibraryRow>(new CommandDefinition(FindByNameSql, new { Name = name }, cancellationToken: cancellationToken));
        return row?.ToModel();
    }

    private const string InventorySql = """
        SELECT e.address AS Address, e.element_type AS ElementType, e.barcode AS Barcode, t.state AS State,
               t.source_address AS SourceAddress, t.worm AS Worm, t.read_only AS ReadOnly,
               d.drive_index AS DriveIndex, d.serial_number AS SerialNumber
        FROM elements e
        LEFT JOIN tapes t ON t.barcode = e.barcode
        LEFT JOIN drives d ON d.library_id = e.library_id AND d.element_address = e.address
        WHERE e.library_id = @LibraryId
        ORDER BY e.address;
        """;

    /// <summary>
    /// Every element of the library with its tape, read in one transaction so the picture is consistent
    /// (WAL gives the reader a snapshot while writers continue).
    /// </summary>
    public async Task<LibraryInventory?> GetInventoryAsync(long libraryId, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction(deferred: true);
        var library = await c.QuerySingleOrDefaultAsync<LibraryRow>(new CommandDefinition(GetByIdSql, new { Id = libraryId }, tx, cancellationToken: cancellationToken));
        if (library is null)
        {
            return null;
        }

        var rows = await c.QueryAsync<InventoryRow>(new CommandDefinition(InventorySql, new { LibraryId = libraryId }, tx, cancellationToken: cancellationToken));
        var elements = rows.Select(r => new ElementStatus(
            (int)r.Address,
            CatalogNames.ParseElementType(r.ElementType),
            r.Barcode,
            r.State is null ? null : TapeStates.ParseAws(r.State),
            (int?)r.SourceAddress,
            r.Worm == 1,
            r.ReadOnly == 1,
            (int?)r.DriveIndex,
            r.SerialNumber)).ToList();
        return new LibraryInventory(library.ToModel(), elements);
    }

    private const string DrivesSql = """
        SELECT d.library_id AS LibraryId, d.drive_index AS DriveIndex, d.element_address AS ElementAddress,
               d.serial_number AS SerialNumber, d.personality AS Personality, e.barcode AS Barcode
        FROM drives d JOIN elements e ON e.library_id = d.library_id AND e.address = d.element_address
        WHERE d.library_id = @LibraryId ORDER BY d.drive_index;
        """;

    public async Task<IReadOnlyList<Drive>> ListDrivesAsync(long libraryId, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var rows = await c.QueryAsync<DriveRow>(new CommandDefinition(DrivesSql, new { LibraryId = libraryId }, cancellationToken: cancellationToken));
        return rows.Select(r => new Drive(r.LibraryId, (int)r.DriveIndex, (int)r.ElementAddress, r.SerialNumber, r.Personality, r.Barcode)).ToList();
    }

    // The two records of "where is the tape" (elements.barcode and tapes.element_address) must agree; any row here is a bug.
    private const string InconsistenciesSql = """
        SELECT 'element ' || e.library_id || ':' || e.address || ' holds ' || e.barcode || ' but the tape says '
               || coalesce(t.library_id || ':' || t.element_address, 'nowhere')
        FROM elements e LEFT JOIN tapes t ON t.barcode = e.barcode
        WHERE e.barcode IS NOT NULL
          AND (t.barcode IS NULL OR t.library_id IS NOT e.library_id OR t.element_address IS NOT e.address)
        UNION ALL
        SELECT 'tape ' || t.barcode || ' says ' || t.library_id || ':' || t.element_address || ' but that element holds '
               || coalesce(e.barcode, 'nothing')
        FROM tapes t LEFT JOIN elements e ON e.library_id = t.library_id AND e.address = t.element_address
        WHERE t.location_kind = 'element' AND (e.barcode IS NULL OR e.barcode <> t.barcode);
        """;

    /// <summary>Descriptions of any disagreement between element occupancy and tape locations (empty when consistent).</summary>
    public async Task<IReadOnlyList<string>> FindInconsistenciesAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return (await c.QueryAsync<string>(new CommandDefinition(InconsistenciesSql, cancellationToken: cancellationToken))).ToList();
    }

    /// <summary>
    /// Drive serial numbers must be stable across restarts and unique across libraries (NetBackup maps drives to robot
    /// positions by serial); derive them from the library name rather than storing a random value.
    /// </summary>
    private static string SerialStem(string libraryName)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(libraryName));
        return "TG" + Convert.ToHexString(hash, 0, 3);
    }
}

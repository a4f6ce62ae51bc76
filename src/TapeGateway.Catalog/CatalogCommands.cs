using Dapper;
using Microsoft.Data.Sqlite;

namespace TapeGateway.Catalog;

/// <summary>Statements shared by the repositories; every one runs inside the caller's transaction.</summary>
internal static class CatalogCommands
{
    private const string SelectTapeSql = "SELECT " + TapeRow.Columns + " FROM tapes WHERE barcode = @Barcode;";

    private const string InsertEventSql = """
        INSERT INTO tape_events (barcode, time, kind, library_id, from_state, to_state, from_element, to_element, actor, detail)
        VALUES (@Barcode, @Time, @Kind, @LibraryId, @FromState, @ToState, @FromElement, @ToElement, @Actor, @Detail);
        """;

    // Guarded: the element must still hold exactly this tape.
    private const string VacateElementSql = """
        UPDATE elements SET barcode = NULL
        WHERE library_id = @LibraryId AND address = @Address AND barcode = @Barcode;
        """;

    // Guarded: the element must still be empty.
    private const string OccupyElementSql = """
        UPDATE elements SET barcode = @Barcode
        WHERE library_id = @LibraryId AND address = @Address AND barcode IS NULL;
        """;

    private const string SelectFreeElementsSql = """
        SELECT address FROM elements
        WHERE library_id = @LibraryId AND element_type = @ElementType AND barcode IS NULL
        ORDER BY address LIMIT @Count;
        """;

    private const string SelectElementSql = """
        SELECT library_id AS LibraryId, address AS Address, element_type AS ElementType, barcode AS Barcode
        FROM elements WHERE library_id = @LibraryId AND address = @Address;
        """;

    public static Task<TapeRow?> GetTapeAsync(SqliteConnection c, SqliteTransaction? tx, string barcode, CancellationToken ct) =>
        c.QuerySingleOrDefaultAsync<TapeRow>(new CommandDefinition(SelectTapeSql, new { Barcode = barcode }, tx, cancellationToken: ct));

    public static Task<ElementRow?> GetElementAsync(SqliteConnection c, SqliteTransaction tx, long libraryId, long address, CancellationToken ct) =>
        c.QuerySingleOrDefaultAsync<ElementRow>(
            new CommandDefinition(SelectElementSql, new { LibraryId = libraryId, Address = address }, tx, cancellationToken: ct));

    public static async Task<IReadOnlyList<int>> FreeElementsAsync(
        SqliteConnection c, SqliteTransaction tx, long libraryId, ElementType type, int count, CancellationToken ct)
    {
        var rows = await c.QueryAsync<long>(new CommandDefinition(
            SelectFreeElementsSql, new { LibraryId = libraryId, ElementType = type.ToDb(), Count = count }, tx, cancellationToken: ct));
        return rows.Select(a => (int)a).ToList();
    }

    public static async Task<bool> VacateAsync(SqliteConnection c, SqliteTransaction tx, long libraryId, long address, string barcode, CancellationToken ct) =>
        await c.ExecuteAsync(new CommandDefinition(
            VacateElementSql, new { LibraryId = libraryId, Address = address, Barcode = barcode }, tx, cancellationToken: ct)) == 1;

    public static async Task<bool> OccupyAsync(SqliteConnection c, SqliteTransaction tx, long libraryId, long address, string barcode, CancellationToken ct) =>
        await c.ExecuteAsync(new CommandDefinition(
            OccupyElementSql, new { LibraryId = libraryId, Address = address, Barcode = barcode }, tx, cancellationToken: ct)) == 1;

    public static Task AppendEventAsync(
        SqliteConnection c,
        SqliteTransaction tx,
        string barcode,
        DateTimeOffset time,
        TapeEventKind kind,
        long? libraryId,
        TapeState? fromState,
        TapeState? toState,
        int? fromElement,
        int? toElement,
        string actor,
        string? detail,
        CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            InsertEventSql,
            new
            {
                Barcode = barcode,
                Time = time,
                Kind = kind.ToDb(),
                LibraryId = libraryId,
                FromState = fromState?.ToAwsString(),
                ToState = toState?.ToAwsString(),
                FromElement = fromElement,
                ToElement = toElement,
                Actor = actor,
                Detail = detail,
            },
            tx,
            cancellationToken: ct));

    /// <summary>Actors name who acted ("scsi:iqn…", "api", "job:archive"); the event log is useless without one.</summary>
    public static void CheckActor(string actor)
    {
        if (string.IsNullOrWhiteSpace(actor) || actor.Length > 256)
        {
            throw new ArgumentException("Actor must be 1–256 characters, e.g. \"api\" or \"scsi:iqn…\".", nameof(actor));
        }
    }
}

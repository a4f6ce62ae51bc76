using Dapper;
using Microsoft.Extensions.Options;

namespace TapeGateway.Catalog;

/// <summary>
/// Tapes: creation, lifecycle transitions, moves between elements, deletion, queries. Every mutation is one IMMEDIATE
/// transaction that holds its guarded updates and the matching tape_events row, so a change and its history commit or
/// vanish together. IMMEDIATE takes the write lock up front: a read-then-write in a deferred transaction could fail with
/// SQLITE_BUSY on lock upgrade, which busy_timeout cannot resolve.
/// </summary>
public sealed partial class TapeRepository
{
    private readonly CatalogConnectionFactory _connections;
    private readonly TimeProvider _time;
    private readonly bool _allowSmallTapes;

    public TapeRepository(CatalogConnectionFactory connections, TimeProvider time, IOptions<CatalogOptions> options)
    {
        _connections = connections;
        _time = time;
        _allowSmallTapes = options.Value.AllowSmallTapes;
    }

    // Stored times have millisecond precision; truncating here keeps what we return equal to what a re-read returns.
    private DateTimeOffset Now() => CatalogTime.Truncate(_time.GetUtcNow());

    public async Task<Tape?> GetTapeAsync(string barcode, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var row = await CatalogCommands.GetTapeAsync(c, null, barcode, cancellationToken);
        return row?.ToModel();
    }

    private const string ListTapesSql = "SELECT " + TapeRow.Columns + """
         FROM tapes
        WHERE (@LibraryId IS NULL OR library_id = @LibraryId)
          AND (@AnyState = 1 OR state IN @States)
          AND (@IncludeDeleted = 1 OR state <> 'DELETED')
          AND (@Prefix IS NULL OR substr(barcode, 1, length(@Prefix)) = @Prefix)
          AND (@PoolId IS NULL OR pool_id = @PoolId)
          AND (@AfterBarcode IS NULL OR barcode > @AfterBarcode)
        ORDER BY barcode
        LIMIT @Limit;
        """;

    public async Task<IReadOnlyList<Tape>> ListTapesAsync(TapeFilter? filter = null, CancellationToken cancellationToken = default)
    {
        filter ??= new TapeFilter();
        var states = filter.States?.Select(s => s.ToAwsString()).ToArray() ?? [];
        await using var c = await _connections.OpenAsync(cancellationToken);
        var rows = await c.QueryAsync<TapeRow>(new CommandDefinition(
            ListTapesSql,
            new
            {
                filter.LibraryId,
                AnyState = states.Length == 0 ? 1 : 0,
                States = states,
                // Naming DELETED in States is asking for deleted tapes.
                IncludeDeleted = filter.IncludeDeleted || states.Contains("DELETED") ? 1 : 0,
                Prefix = filter.BarcodePrefix,
                filter.PoolId,
                filter.AfterBarcode,
                Limit = Math.Clamp(filter.Limit, 1, 100_000),
            },
            cancellationToken: cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    private const string ListEventsSql = """
        SELECT id AS Id, barcode AS Barcode, time AS Time, kind AS Kind, library_id AS LibraryId, from_state AS FromState,
               to_state AS ToState, from_element AS FromElement, to_element AS ToElement, actor AS Actor, detail AS Detail
        FROM tape_events WHERE barcode = @Barcode ORDER BY id;
        """;

    /// <summary>The tape's history, oldest first.</summary>
    public async Task<IReadOnlyList<TapeEvent>> GetEventsAsync(string barcode, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var rows = await c.QueryAsync<EventRow>(new CommandDefinition(ListEventsSql, new { Barcode = barcode }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    private const string IsBarcodeUsedSql = "SELECT EXISTS (SELECT 1 FROM barcodes_used WHERE barcode = @Barcode);";

    /// <summary>Whether the barcode was ever created (it stays used after the tape is deleted).</summary>
    public async Task<bool> IsBarcodeUsedAsync(string barcode, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(IsBarcodeUsedSql, new { Barcode = barcode }, cancellationToken: cancellationToken)) == 1;
    }

    // Only a writable tape accumulates data; used bytes are not an event (they change on every write).
    private const string RecordUsageSql = """
        UPDATE tapes SET used_bytes = @UsedBytes, updated = @Now
        WHERE barcode = @Barcode AND state = 'AVAILABLE' AND read_only = 0 AND @UsedBytes <= capacity_bytes;
        """;

    /// <summary>Records the bytes written on the tape (AWS TapeUsedInBytes). False if the tape is not writable or too small.</summary>
    public async Task<bool> RecordUsageAsync(string barcode, long usedBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(usedBytes);
        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.ExecuteAsync(new CommandDefinition(
            RecordUsageSql, new { Barcode = barcode, UsedBytes = usedBytes, Now = Now() }, cancellationToken: cancellationToken)) == 1;
    }

    private const string SetArchiveProgressSql = """
        UPDATE tapes SET archive_progress = @Progress, updated = @Now
        WHERE barcode = @Barcode AND state IN ('IN TRANSIT TO VTS', 'ARCHIVING', 'RETRIEVING');
        """;

    /// <summary>
    /// Records archive or retrieval progress (AWS Tape.Progress, 0–100). False unless the tape is being archived or
    /// retrieved, so a late progress report never overwrites the state that followed.
    /// </summary>
    public async Task<bool> SetArchiveProgressAsync(string barcode, double percent, CancellationToken cancellationToken = default)
    {
        if (double.IsNaN(percent) || percent is < 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "Progress is a percentage 0–100.");
        }

        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.ExecuteAsync(new CommandDefinition(
            SetArchiveProgressSql, new { Barcode = barcode, Progress = percent, Now = Now() }, cancellationToken: cancellationToken)) == 1;
    }
}

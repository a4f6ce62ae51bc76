using Dapper;
using Microsoft.Data.Sqlite;

namespace TapeGateway.Catalog;

public sealed partial class TapeRepository
{
    // The whole concurrency story of the lifecycle: the row changes only if it is still in the state the caller saw.
    // Two racers both pass the transition table; only one of them finds state = @Expected.
    private const string TransitionSql = """
        UPDATE tapes SET state = @To, updated = @Now WHERE barcode = @Barcode AND state = @Expected;
        """;

    private const string CurrentStateSql = "SELECT state FROM tapes WHERE barcode = @Barcode;";

    // A tape the gateway puts back into an I/E slot (retrieved, recovered) was placed there as by an operator: it has
    // no source element (SVALID=0, IMPEXP=1), whatever slot it left before it was archived.
    private const string UpdateAfterTransitionSql = """
        UPDATE tapes
        SET location_kind = @LocationKind, element_address = @ElementAddress, read_only = @ReadOnly,
            source_address = CASE WHEN @Placed = 1 THEN NULL ELSE source_address END,
            archive_progress = @ArchiveProgress, pool_entry = @PoolEntry, retention_start = @RetentionStart,
            purge_library_copy = @PurgeLibraryCopy
        WHERE barcode = @Barcode;
        """;

    private const string PoolLockSql = "SELECT retention_lock FROM pools WHERE id = @PoolId;";

    /// <summary>
    /// Moves a tape from <paramref name="from"/> to <paramref name="to"/> if the lifecycle allows it and the tape is still
    /// in <paramref name="from"/>. Side effects, in the same transaction as the state change and its event:
    /// leaving the library (ARCHIVING, ARCHIVED, RETRIEVING, DELETED; IN TRANSIT TO VTS unless the tape sits in an I/E
    /// slot, where AWS keeps it visible until archiving starts) frees the tape's element;
    /// coming back (AVAILABLE after a cancelled archival, RETRIEVED, RECOVERED) places it in the first free I/E slot
    /// unless it is still in one; RETRIEVED and RECOVERED make it read-only; ARCHIVED records the pool entry and
    /// retention start dates, and flags a library-tier copy left by a retrieval for the archive mover to delete.
    /// Deletion goes through <see cref="DeleteTapeAsync"/> because it has retention rules.
    /// </summary>
    public async Task<TransitionResult> TransitionAsync(
        string barcode,
        TapeState from,
        TapeState to,
        string actor,
        string? detail = null,
        CancellationToken cancellationToken = default)
    {
        CatalogCommands.CheckActor(actor);
        if (!TapeStates.CanTransition(from, to))
        {
            return new TransitionResult(TransitionStatus.NotAllowed, null, $"{from.ToAwsString()} → {to.ToAwsString()} is not a tape lifecycle transition.");
        }

        if (to == TapeState.Deleting)
        {
            return new TransitionResult(TransitionStatus.NotAllowed, null, "Use DeleteTapeAsync: deletion honours pool retention.");
        }

        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();
        var now = Now();

        var changed = await c.ExecuteAsync(new CommandDefinition(
            TransitionSql,
            new { Barcode = barcode, To = to.ToAwsString(), Expected = from.ToAwsString(), Now = now },
            tx,
            cancellationToken: cancellationToken));
        if (changed != 1)
        {
            return await MismatchAsync(c, tx, barcode, cancellationToken);
        }

        var tape = (await CatalogCommands.GetTapeAsync(c, tx, barcode, cancellationToken))!;
        var outcome = await ApplyLocationRulesAsync(
            c, tx, tape, from, to, now, TapeEventKind.StateTransition, actor, detail, cancellationToken);
        if (outcome is not null)
        {
            return outcome;
        }

        await tx.CommitAsync(cancellationToken);
        return new TransitionResult(TransitionStatus.Ok, to);
    }

    private static async Task<TransitionResult> MismatchAsync(SqliteConnection c, SqliteTransaction tx, string barcode, CancellationToken ct)
    {
        var actual = await c.ExecuteScalarAsync<string?>(new CommandDefinition(CurrentStateSql, new { Barcode = barcode }, tx, cancellationToken: ct));
        return actual is null
            ? new TransitionResult(TransitionStatus.TapeNotFound, null, $"Tape {barcode} does not exist.")
            : new TransitionResult(TransitionStatus.StateMismatch, TapeStates.ParseAws(actual), $"Tape {barcode} is {actual}.");
    }

    /// <summary>
    /// Location/flag side effects of <paramref name="from"/> → <paramref name="to"/> (the state column is already updated),
    /// plus the event row. Null on success; otherwise the caller must not commit.
    /// </summary>
    private static async Task<TransitionResult?> ApplyLocationRulesAsync(
        SqliteConnection c,
        SqliteTransaction tx,
        TapeRow tape,
        TapeState from,
        TapeState to,
        DateTimeOffset now,
        TapeEventKind eventKind,
        string actor,
        string? detail,
        CancellationToken ct)
    {
        var locationKind = CatalogNames.ParseLocationKind(tape.LocationKind);
        var elementAddress = (int?)tape.ElementAddress;
        var fromElement = elementAddress;
        var leaves = TapeStates.IsOutsideLibrary(to) || to is TapeState.InTransitToVts or TapeState.Deleting or TapeState.Deleted;
        var placed = false;

        if (leaves && elementAddress is int address)
        {
            var element = await CatalogCommands.GetElementAsync(c, tx, tape.LibraryId!.Value, address, ct);
            if (element?.Type == ElementType.Drive)
            {
                return new TransitionResult(TransitionStatus.TapeInDrive, null, $"Tape {tape.Barcode} is loaded in drive element {address}; unload it first.");
            }

            if (element is not null && TapeStates.StaysInElement(to, element.Type))
            {
                leaves = false;
            }
            else
            {
                if (!await CatalogCommands.VacateAsync(c, tx, tape.LibraryId.Value, address, tape.Barcode, ct))
                {
                    throw new InvalidOperationException($"Catalog inconsistency: element {address} does not hold {tape.Barcode}.");
                }

                elementAddress = null;
            }
        }

        if (leaves)
        {
            locationKind = to is TapeState.Deleting or TapeState.Deleted ? TapeLocationKind.None : TapeLocationKind.Archive;
        }
        else if (TapeStates.NeedsElement(to) && locationKind != TapeLocationKind.Element)
        {
            if (tape.LibraryId is not long libraryId)
            {
                return new TransitionResult(TransitionStatus.NoFreeSlot, null, $"Tape {tape.Barcode} has no library to return to.");
            }

            var free = await CatalogCommands.FreeElementsAsync(c, tx, libraryId, ElementType.ImportExport, 1, ct);
            if (free.Count == 0 || !await CatalogCommands.OccupyAsync(c, tx, libraryId, free[0], tape.Barcode, ct))
            {
                return new TransitionResult(TransitionStatus.NoFreeSlot, null, $"No free import/export slot in library {libraryId} for {tape.Barcode}.");
            }

            elementAddress = free[0];
            locationKind = TapeLocationKind.Element;
            placed = true;
        }

        var poolEntry = tape.PoolEntry;
        var retentionStart = tape.RetentionStart;
        if (to == TapeState.Archived)
        {
            // First arrival in the pool starts retention; re-archiving after a retrieval must not restart the clock.
            poolEntry ??= now;
            var lockType = await c.ExecuteScalarAsync<string>(new CommandDefinition(PoolLockSql, new { tape.PoolId }, tx, cancellationToken: ct));
            if (lockType != RetentionLockType.None.ToDb())
            {
                retentionStart ??= now;
            }
        }

        // AWS Tape.Progress: the upload while IN TRANSIT, the copy to the archive class while ARCHIVING, the restore and
        // copy back while RETRIEVING; each phase reports its own percentage.
        double? progress = to switch
        {
            TapeState.InTransitToVts or TapeState.Archiving or TapeState.Retrieving => 0,
            TapeState.Archived or TapeState.Retrieved => 100,
            _ => null,
        };

        // A retrieval copied the tape back to the library tier (or began to); once the tape is only archived again that
        // copy must go, and the flag is how a restarted gateway still knows.
        var purgeLibraryCopy = tape.PurgeLibraryCopy != 0 || (to == TapeState.Archived && from is TapeState.Retrieved or TapeState.Retrieving);

        await c.ExecuteAsync(new CommandDefinition(
            UpdateAfterTransitionSql,
            new
            {
                tape.Barcode,
                LocationKind = locationKind.ToDb(),
                ElementAddress = elementAddress,
                ReadOnly = tape.ReadOnly != 0 || TapeStates.IsReadOnlyState(to),
                ArchiveProgress = progress,
                PoolEntry = poolEntry,
                RetentionStart = retentionStart,
                PurgeLibraryCopy = purgeLibraryCopy ? 1 : 0,
                Placed = placed ? 1 : 0,
            },
            tx,
            cancellationToken: ct));

        // Elements are recorded only when the transition moved the tape.
        var moved = fromElement != elementAddress;
        await CatalogCommands.AppendEventAsync(
            c, tx, tape.Barcode, now, eventKind, tape.LibraryId, from, to,
            moved ? fromElement : null, moved ? elementAddress : null, actor, detail, ct);
        return null;
    }
}

using Dapper;

namespace TapeGateway.Catalog;

/// <summary>
/// What the archive mover records besides state transitions: which storage class a tape's archive copy is in, whether a
/// library-tier copy still has to be deleted, and pool assignment. Everything the mover must resume after a restart is
/// derived from these columns and the state, never from memory.
/// </summary>
public sealed partial class TapeRepository
{
    // The mover's whole to-do list. ARCHIVED tapes qualify only when a retrieval left a library copy or their archive
    // copy is not yet in their pool's class; DELETED ones while their archive copy still exists.
    private const string ArchiveWorkSql = "SELECT " + TapeRow.Columns + """
         FROM tapes
        WHERE state IN ('IN TRANSIT TO VTS', 'ARCHIVING')
           OR (state = 'ARCHIVED' AND (purge_library_copy = 1
               OR archive_class <> (SELECT storage_class FROM pools WHERE pools.id = tapes.pool_id)))
           OR (state = 'DELETED' AND (archive_class IS NOT NULL OR purge_library_copy = 1))
        ORDER BY updated, barcode;
        """;

    /// <summary>
    /// Tapes with archive work left: exports to upload and copy (IN TRANSIT TO VTS, ARCHIVING), archived tapes with a
    /// library-tier copy to delete or a pending storage class change, deleted tapes whose archive objects remain.
    /// Oldest change first, so one stuck tape does not starve the others.
    /// </summary>
    public async Task<IReadOnlyList<Tape>> ListArchiveWorkAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var rows = await c.QueryAsync<TapeRow>(new CommandDefinition(ArchiveWorkSql, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    // The last move or state change of the tape: a 'moved' into the I/E element it still sits in, with no state change
    // after it, is an export whose IN TRANSIT transition never happened (a crash between the move's commit and it).
    // A tape created into an I/E slot (last event 'created') or whose export was cancelled there ('state-transition'
    // back to AVAILABLE) does not qualify.
    private const string InterruptedExportsSql = """
        SELECT t.barcode FROM tapes t
        JOIN elements e ON e.library_id = t.library_id AND e.address = t.element_address
        WHERE t.state = 'AVAILABLE' AND t.location_kind = 'element' AND e.element_type = 'import-export'
          AND EXISTS (
            SELECT 1 FROM tape_events ev
            WHERE ev.id = (SELECT max(id) FROM tape_events
                           WHERE barcode = t.barcode AND kind IN ('created', 'state-transition', 'moved'))
              AND ev.kind = 'moved' AND ev.to_element = t.element_address AND ev.from_element IS NOT NULL)
        ORDER BY t.barcode;
        """;

    /// <summary>
    /// AVAILABLE tapes sitting in an I/E element because a MOVE MEDIUM put them there, whose export transition was
    /// lost (the gateway stopped between committing the move and marking the tape IN TRANSIT TO VTS).
    /// </summary>
    public async Task<IReadOnlyList<string>> ListInterruptedExportsAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return (await c.QueryAsync<string>(new CommandDefinition(InterruptedExportsSql, cancellationToken: cancellationToken))).ToList();
    }

    private const string StateEnteredSql = """
        SELECT time FROM tape_events
        WHERE barcode = @Barcode AND to_state = @State AND kind IN ('state-transition', 'created')
        ORDER BY id DESC LIMIT 1;
        """;

    /// <summary>When the tape last entered <paramref name="state"/> (from the event history), or null if it never did.</summary>
    public async Task<DateTimeOffset?> GetStateEnteredAsync(string barcode, TapeState state, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.QuerySingleOrDefaultAsync<DateTimeOffset?>(new CommandDefinition(
            StateEnteredSql, new { Barcode = barcode, State = state.ToAwsString() }, cancellationToken: cancellationToken));
    }

    private const string SetArchiveClassSql = """
        UPDATE tapes SET archive_class = @ArchiveClass, updated = @Now
        WHERE barcode = @Barcode AND state IN ('ARCHIVING', 'ARCHIVED', 'RETRIEVING', 'RETRIEVED');
        """;

    /// <summary>
    /// Records the storage class the tape's archive-tier objects are now in (after they were copied and verified).
    /// False unless the tape has an archive copy by its state.
    /// </summary>
    public async Task<bool> SetArchiveClassAsync(string barcode, StorageClass archiveClass, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.ExecuteAsync(new CommandDefinition(
            SetArchiveClassSql,
            new { Barcode = barcode, ArchiveClass = archiveClass.ToDb(), Now = Now() },
            cancellationToken: cancellationToken)) == 1;
    }

    private const string RestoreArchiveFactsSql = """
        UPDATE tapes SET archive_class = @ArchiveClass, retention_start = COALESCE(@RetentionStart, retention_start), updated = @Now
        WHERE barcode = @Barcode AND state = 'ARCHIVED';
        """;

    /// <summary>
    /// Disaster recovery: an ARCHIVED tape rebuilt from its archive manifest gets the storage class its objects are in
    /// and, when the manifest says until when it is retained, the retention start that ends its lock then (not the
    /// rebuild's time). False unless the tape is ARCHIVED.
    /// </summary>
    public async Task<bool> RestoreArchiveFactsAsync(string barcode, StorageClass archiveClass, DateTimeOffset? retentionStart, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.ExecuteAsync(new CommandDefinition(
            RestoreArchiveFactsSql,
            new { Barcode = barcode, ArchiveClass = archiveClass.ToDb(), RetentionStart = retentionStart, Now = Now() },
            cancellationToken: cancellationToken)) == 1;
    }

    private const string ClearDeletedArchiveSql = """
        UPDATE tapes SET archive_class = NULL, purge_library_copy = 0, updated = @Now
        WHERE barcode = @Barcode AND state = 'DELETED';
        """;

    /// <summary>The archive (and any library-tier) objects of a DELETED tape are gone: nothing is left to remove.</summary>
    public async Task<bool> ClearDeletedTapeObjectsAsync(string barcode, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.ExecuteAsync(new CommandDefinition(
            ClearDeletedArchiveSql, new { Barcode = barcode, Now = Now() }, cancellationToken: cancellationToken)) == 1;
    }

    // Guarded on ARCHIVED: if a retrieval started meanwhile, the flag stays, and the copy that retrieval makes is purged
    // when the tape is archived again.
    private const string ClearPurgeSql = """
        UPDATE tapes SET purge_library_copy = 0, updated = @Now WHERE barcode = @Barcode AND state = 'ARCHIVED';
        """;

    /// <summary>The library-tier copy left by a retrieval was deleted. False if the tape is no longer ARCHIVED.</summary>
    public async Task<bool> ClearLibraryCopyPurgeAsync(string barcode, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.ExecuteAsync(new CommandDefinition(
            ClearPurgeSql, new { Barcode = barcode, Now = Now() }, cancellationToken: cancellationToken)) == 1;
    }

    private const string GetPoolByIdSql = """
        SELECT id AS Id, name AS Name, storage_class AS StorageClass, retention_lock AS RetentionLock,
               retention_days AS RetentionDays, is_standard AS IsStandard, created AS Created
        FROM pools WHERE id = @Id;
        """;

    private const string AssignPoolSql = """
        UPDATE tapes SET pool_id = @PoolId, pool_entry = @PoolEntry, retention_start = @RetentionStart, updated = @Now
        WHERE barcode = @Barcode AND state = @State AND pool_id = @OldPoolId;
        """;

    /// <summary>
    /// AWS AssignTapePool. An AVAILABLE tape (not archived yet) may go to any pool: it is archived into that pool's
    /// class when ejected. An ARCHIVED tape may move from a Glacier pool to a Deep Archive pool (or between pools of the
    /// same class), never back; its current pool's retention lock holds it (compliance: nobody; governance: only with
    /// <paramref name="bypassGovernanceRetention"/>). The new pool's entry date is now, and so is its retention start
    /// when the new pool has a lock. The archive objects are re-classed afterwards by the archive mover: the tape's
    /// <see cref="Tape.ArchiveClass"/> then differs from the new pool's class until the copy is done.
    /// </summary>
    public async Task<AssignPoolResult> AssignPoolAsync(
        string barcode, string poolId, string actor, bool bypassGovernanceRetention = false, CancellationToken cancellationToken = default)
    {
        CatalogCommands.CheckActor(actor);
        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();
        var now = Now();

        var tape = await CatalogCommands.GetTapeAsync(c, tx, barcode, cancellationToken);
        if (tape is null)
        {
            return new AssignPoolResult(AssignPoolStatus.TapeNotFound, null, $"Tape {barcode} does not exist.");
        }

        var target = (await c.QuerySingleOrDefaultAsync<PoolRow>(new CommandDefinition(GetPoolByIdSql, new { Id = poolId }, tx, cancellationToken: cancellationToken)))?.ToModel();
        if (target is null)
        {
            return new AssignPoolResult(AssignPoolStatus.PoolNotFound, null, $"Pool {poolId} does not exist.");
        }

        if (tape.PoolId == target.Id)
        {
            return new AssignPoolResult(AssignPoolStatus.SamePool, tape.ToModel(), $"Tape {barcode} is already in pool {target.Name}.");
        }

        var state = tape.ParsedState;
        if (state is not (TapeState.Available or TapeState.Archived))
        {
            return new AssignPoolResult(AssignPoolStatus.NotAllowedInState, tape.ToModel(), $"A {tape.State} tape cannot change pool; only AVAILABLE and ARCHIVED tapes can.");
        }

        var current = (await c.QuerySingleAsync<PoolRow>(new CommandDefinition(GetPoolByIdSql, new { Id = tape.PoolId }, tx, cancellationToken: cancellationToken))).ToModel();
        DateTimeOffset? poolEntry = tape.PoolEntry;
        DateTimeOffset? retentionStart = tape.RetentionStart;
        var detail = $"{current.Id} ({current.StorageClass.ToDb()}) -> {target.Id} ({target.StorageClass.ToDb()})";
        if (state == TapeState.Archived)
        {
            if (current.StorageClass == StorageClass.DeepArchive && target.StorageClass == StorageClass.Glacier)
            {
                return new AssignPoolResult(
                    AssignPoolStatus.StorageClassDowngrade, tape.ToModel(), $"Tape {barcode} is archived in DEEP_ARCHIVE; it can move to another Deep Archive pool but never back to GLACIER.");
            }

            if (tape.ToModel().RetainUntil(current) is { } until && now < until)
            {
                if (current.RetentionLock == RetentionLockType.Compliance)
                {
                    return new AssignPoolResult(AssignPoolStatus.RetentionLocked, tape.ToModel(), $"Compliance retention of pool {current.Name} holds {barcode} until {CatalogTime.Format(until)}.");
                }

                if (!bypassGovernanceRetention)
                {
                    return new AssignPoolResult(
                        AssignPoolStatus.GovernanceBypassRequired, tape.ToModel(), $"Governance retention of pool {current.Name} holds {barcode} until {CatalogTime.Format(until)}; set the bypass flag.");
                }

                detail += "; bypass-governance-retention";
            }

            poolEntry = now;
            retentionStart = target.RetentionLock == RetentionLockType.None ? null : now;
        }

        var changed = await c.ExecuteAsync(new CommandDefinition(
            AssignPoolSql,
            new { Barcode = barcode, PoolId = target.Id, PoolEntry = poolEntry, RetentionStart = retentionStart, Now = now, State = tape.State, OldPoolId = tape.PoolId },
            tx,
            cancellationToken: cancellationToken));
        if (changed != 1)
        {
            return new AssignPoolResult(AssignPoolStatus.StateMismatch, null, $"Tape {barcode} changed concurrently.");
        }

        await CatalogCommands.AppendEventAsync(
            c, tx, barcode, now, TapeEventKind.PoolAssigned, tape.LibraryId, state, state, null, null, actor, detail, cancellationToken);
        var updated = (await CatalogCommands.GetTapeAsync(c, tx, barcode, cancellationToken))!.ToModel();
        await tx.CommitAsync(cancellationToken);
        return new AssignPoolResult(AssignPoolStatus.Ok, updated);
    }
}

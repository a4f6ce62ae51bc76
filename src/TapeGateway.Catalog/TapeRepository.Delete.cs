using Dapper;

namespace TapeGateway.Catalog;

public sealed partial class TapeRepository
{
    private const string RetentionSql = "SELECT retention_lock AS RetentionLock, retention_days AS RetentionDays FROM pools WHERE id = @PoolId;";

    /// <summary>
    /// AWS DeleteTape / DeleteTapeArchive: moves the tape to DELETING (the media layer removes the data, then transitions
    /// DELETING → DELETED) and frees its slot. Allowed from AVAILABLE, ARCHIVED, RECOVERED, IRRECOVERABLE and CREATING;
    /// a RETRIEVED tape must be ejected first. An ARCHIVED tape in a retention-locked pool cannot be deleted before its
    /// retention ends: compliance never, governance only with <paramref name="bypassGovernanceRetention"/>.
    /// The barcode stays in barcodes_used, so it can never be created again.
    /// </summary>
    public async Task<DeleteTapeResult> DeleteTapeAsync(
        string barcode, string actor, bool bypassGovernanceRetention = false, CancellationToken cancellationToken = default)
    {
        CatalogCommands.CheckActor(actor);
        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();
        var now = Now();

        var tape = await CatalogCommands.GetTapeAsync(c, tx, barcode, cancellationToken);
        if (tape is null)
        {
            return new DeleteTapeResult(DeleteTapeStatus.TapeNotFound, null, $"Tape {barcode} does not exist.");
        }

        var state = tape.ParsedState;
        if (state == TapeState.Retrieved)
        {
            return new DeleteTapeResult(DeleteTapeStatus.NotAllowedInState, state, "Eject the RETRIEVED tape first; it then returns to ARCHIVED and can be deleted.");
        }

        if (state is not (TapeState.Available or TapeState.Archived or TapeState.Recovered or TapeState.Irrecoverable or TapeState.Creating))
        {
            return new DeleteTapeResult(DeleteTapeStatus.NotAllowedInState, state, $"A {tape.State} tape cannot be deleted.");
        }

        if (state == TapeState.Archived && tape.RetentionStart is DateTimeOffset start)
        {
            var pool = await c.QuerySingleAsync<PoolRow>(new CommandDefinition(RetentionSql, new { tape.PoolId }, tx, cancellationToken: cancellationToken));
            var lockType = CatalogNames.ParseRetentionLock(pool.RetentionLock);
            var until = start.AddDays(pool.RetentionDays);
            if (lockType != RetentionLockType.None && now < until)
            {
                if (lockType == RetentionLockType.Compliance)
                {
                    return new DeleteTapeResult(DeleteTapeStatus.RetentionLocked, state, $"Compliance retention holds {barcode} until {CatalogTime.Format(until)}.");
                }

                if (!bypassGovernanceRetention)
                {
                    return new DeleteTapeResult(DeleteTapeStatus.GovernanceBypassRequired, state, $"Governance retention holds {barcode} until {CatalogTime.Format(until)}; set the bypass flag.");
                }
            }
        }

        var changed = await c.ExecuteAsync(new CommandDefinition(
            TransitionSql,
            new { Barcode = barcode, To = TapeState.Deleting.ToAwsString(), Expected = tape.State, Now = now },
            tx,
            cancellationToken: cancellationToken));
        if (changed != 1)
        {
            return new DeleteTapeResult(DeleteTapeStatus.StateMismatch, null, $"Tape {barcode} changed concurrently.");
        }

        var failure = await ApplyLocationRulesAsync(
            c, tx, tape, state, TapeState.Deleting, now, TapeEventKind.Deleted, actor,
            bypassGovernanceRetention ? "bypass-governance-retention" : null, cancellationToken);
        if (failure is not null)
        {
            return new DeleteTapeResult(
                failure.Status == TransitionStatus.TapeInDrive ? DeleteTapeStatus.TapeInDrive : DeleteTapeStatus.NotAllowedInState,
                state,
                failure.Message);
        }

        await tx.CommitAsync(cancellationToken);
        return new DeleteTapeResult(DeleteTapeStatus.Ok, TapeState.Deleting);
    }
}

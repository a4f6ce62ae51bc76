using Dapper;

namespace TapeGateway.Catalog;

public sealed partial class TapeRepository
{
    private const string PoliciesSql = """
        SELECT library_id AS LibraryId, barcode_prefix AS BarcodePrefix, minimum_available AS MinimumAvailable,
               capacity_bytes AS CapacityBytes, pool_id AS PoolId, worm AS Worm, media_suffix AS MediaSuffix
        FROM auto_create_policies
        WHERE (@LibraryId IS NULL OR library_id = @LibraryId)
        ORDER BY library_id, barcode_prefix;
        """;

    // AWS counts only AVAILABLE tapes with the prefix that sit in I/E slots. "Prefix followed by a digit" keeps policy
    // AB from counting tapes of policy ABC (ABC000001 starts with AB but continues with a letter).
    private const string AvailableInIeSql = """
        SELECT COUNT(*) FROM elements e JOIN tapes t ON t.barcode = e.barcode
        WHERE e.library_id = @LibraryId AND e.element_type = 'import-export' AND t.state = 'AVAILABLE'
          AND t.barcode GLOB @Pattern;
        """;

    /// <summary>
    /// Applies every automatic tape creation policy (of one library, or all): tops the I/E slots up to the policy's
    /// minimum of AVAILABLE tapes with its prefix. Each policy is one transaction, so concurrent callers never overshoot.
    /// Unlike a requested batch, a policy creates as many as there are free I/E slots and reports the shortfall: a partly
    /// satisfied policy is better than none, and the next import frees a slot and triggers another run.
    /// </summary>
    public async Task<IReadOnlyList<AutoCreateOutcome>> EnsureAutoCreatedTapesAsync(
        long? libraryId = null, string actor = "job:auto-create", CancellationToken cancellationToken = default)
    {
        CatalogCommands.CheckActor(actor);
        List<AutoCreatePolicy> policies;
        await using (var c = await _connections.OpenAsync(cancellationToken))
        {
            policies = (await c.QueryAsync<PolicyRow>(new CommandDefinition(PoliciesSql, new { LibraryId = libraryId }, cancellationToken: cancellationToken)))
                .Select(r => r.ToModel()).ToList();
        }

        var outcomes = new List<AutoCreateOutcome>(policies.Count);
        foreach (var policy in policies)
        {
            outcomes.Add(await EnsurePolicyAsync(policy, actor, cancellationToken));
        }

        return outcomes;
    }

    private async Task<AutoCreateOutcome> EnsurePolicyAsync(AutoCreatePolicy policy, string actor, CancellationToken ct)
    {
        await using var c = await _connections.OpenAsync(ct);
        using var tx = c.BeginTransaction();
        var available = (int)await c.ExecuteScalarAsync<long>(new CommandDefinition(
            AvailableInIeSql, new { policy.LibraryId, Pattern = policy.BarcodePrefix + "[0-9]*" }, tx, cancellationToken: ct));
        var missing = policy.MinimumAvailable - available;
        if (missing <= 0)
        {
            return new AutoCreateOutcome(policy.LibraryId, policy.BarcodePrefix, available, [], 0);
        }

        var free = await CatalogCommands.FreeElementsAsync(c, tx, policy.LibraryId, ElementType.ImportExport, missing, ct);
        var toCreate = free.Count;
        if (toCreate == 0)
        {
            return new AutoCreateOutcome(policy.LibraryId, policy.BarcodePrefix, available, [], missing);
        }

        var barcodes = await AllocateBarcodesAsync(c, tx, policy.BarcodePrefix, policy.MediaSuffix, toCreate, ct);
        if (barcodes is null)
        {
            return new AutoCreateOutcome(policy.LibraryId, policy.BarcodePrefix, available, [], missing);
        }

        var tapes = await InsertTapesAsync(
            c, tx, policy.LibraryId, barcodes, policy.CapacityBytes, policy.PoolId, policy.Worm,
            ElementType.ImportExport, TapeState.Available, actor, ct);
        await tx.CommitAsync(ct);
        return new AutoCreateOutcome(policy.LibraryId, policy.BarcodePrefix, available, tapes!.Select(t => t.Barcode).ToList(), missing - toCreate);
    }
}

using System.Globalization;
using Microsoft.Extensions.Logging;
using TapeGateway.Catalog;

namespace TapeGateway.Library;

/// <summary>Why a policy was refused by <see cref="TapeLibrary.SetAutoCreatePolicyAsync"/>.</summary>
public enum AutoCreatePolicyError
{
    None,

    /// <summary>Prefix, minimum, capacity, media suffix or WORM flag break the AWS rules (or the changer's barcode length).</summary>
    Invalid,

    PoolNotFound,
}

/// <summary>What an operator asks for: an AWS AutomaticTapeCreationRule for this library.</summary>
/// <param name="BarcodePrefix">1–4 letters A–Z; generated barcodes are the prefix, a sequence number and the suffix.</param>
/// <param name="MinimumAvailable">AVAILABLE tapes with the prefix to keep in the I/E slots (1–10).</param>
/// <param name="PoolId">Catalog pool id (not a display name: callers resolve names with <see cref="TapeLibrary.FindPoolAsync"/>).</param>
public sealed record AutoCreatePolicyRequest(
    string BarcodePrefix,
    int MinimumAvailable,
    long CapacityBytes,
    string PoolId,
    bool Worm,
    string? MediaSuffix = null);

/// <summary>Outcome of <see cref="TapeLibrary.SetAutoCreatePolicyAsync"/>: the stored policy and what applying it did.</summary>
/// <param name="Outcome">The immediate run of the policy; null when the policy was refused or the run failed (logged).</param>
public sealed record SetAutoCreatePolicyResult(
    AutoCreatePolicyError Error,
    string? Message,
    AutoCreatePolicy? Policy,
    AutoCreateOutcome? Outcome)
{
    public bool Succeeded => Error == AutoCreatePolicyError.None;

    internal static SetAutoCreatePolicyResult Fail(AutoCreatePolicyError error, string message) => new(error, message, null, null);
}

/// <summary>A policy with how many of its tapes currently wait in the I/E slots (what AWS counts as "available").</summary>
public sealed record AutoCreatePolicyStatus(AutoCreatePolicy Policy, int AvailableInImportExport);

/// <summary>
/// AWS automatic tape creation: every policy keeps at least its minimum of AVAILABLE tapes with its barcode prefix in
/// the I/E slots. The catalog does the counting and creating (<see cref="TapeRepository.EnsureAutoCreatedTapesAsync"/>);
/// the library decides when to run it: at start, after an import (a tape left an I/E slot for a storage slot or a drive,
/// the AWS trigger), after a policy is set, and after the operator created or deleted tapes (which can free I/E slots).
/// Exports never trigger it, as on AWS.
/// </summary>
public sealed partial class TapeLibrary
{
    private const string AutoCreateActor = "job:auto-create";

    /// <summary>Pool by id, or by display name (case-insensitive, spaces as underscores), as operators spell it.</summary>
    public async Task<Pool?> FindPoolAsync(string idOrName, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idOrName);
        return await _pools.GetPoolAsync(idOrName, ct).ConfigureAwait(false)
            ?? await _pools.GetPoolAsync(idOrName.ToUpperInvariant().Replace(' ', '_'), ct).ConfigureAwait(false)
            ?? (await _pools.ListPoolsAsync(ct).ConfigureAwait(false)).FirstOrDefault(p => string.Equals(p.Name, idOrName, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The library's policies, each with its current count of AVAILABLE tapes in the I/E slots.</summary>
    public async Task<IReadOnlyList<AutoCreatePolicyStatus>> ListAutoCreatePoliciesAsync(CancellationToken ct)
    {
        var policies = await _policies.ListAsync(LibraryId, ct).ConfigureAwait(false);
        if (policies.Count == 0)
        {
            return [];
        }

        var inventory = await GetCatalogInventoryAsync(ct).ConfigureAwait(false);
        var waiting = inventory.OfType(ElementType.ImportExport)
            .Where(e => e.Barcode is not null && e.TapeState == TapeState.Available)
            .Select(e => e.Barcode!)
            .ToList();
        return [.. policies.Select(p => new AutoCreatePolicyStatus(p, waiting.Count(b => BelongsTo(b, p.BarcodePrefix))))];
    }

    /// <summary>
    /// Creates or replaces the policy for its prefix and applies it at once (AWS creates the tapes when the policy is
    /// saved). A refused policy changes nothing; a policy that cannot be fully satisfied (no free I/E slot) is still
    /// stored, and the result's <see cref="AutoCreateOutcome.Shortfall"/> says how many tapes are missing.
    /// </summary>
    public async Task<SetAutoCreatePolicyResult> SetAutoCreatePolicyAsync(AutoCreatePolicyRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (CheckPolicy(request) is { } invalid)
        {
            // Before the pool lookup: a malformed request is a 400 whatever pool it names.
            return SetAutoCreatePolicyResult.Fail(AutoCreatePolicyError.Invalid, invalid);
        }

        if (await _pools.GetPoolAsync(request.PoolId, ct).ConfigureAwait(false) is null)
        {
            return SetAutoCreatePolicyResult.Fail(AutoCreatePolicyError.PoolNotFound, $"Pool '{request.PoolId}' does not exist (standard pools: GLACIER, DEEP_ARCHIVE).");
        }

        var problem = await StorePolicyAsync(request, ct).ConfigureAwait(false);
        if (problem is not null)
        {
            return SetAutoCreatePolicyResult.Fail(AutoCreatePolicyError.Invalid, problem);
        }

        var policy = new AutoCreatePolicy(LibraryId, request.BarcodePrefix, request.MinimumAvailable, request.CapacityBytes, request.PoolId, request.Worm, request.MediaSuffix);
        LogPolicySet(_logger, policy.BarcodePrefix, policy.MinimumAvailable, policy.CapacityBytes, policy.PoolId, policy.Worm);
        var outcomes = await RunAutoCreateAsync("policy " + policy.BarcodePrefix + " set", ct).ConfigureAwait(false);
        return new SetAutoCreatePolicyResult(
            AutoCreatePolicyError.None,
            null,
            policy,
            outcomes?.FirstOrDefault(o => o.BarcodePrefix == policy.BarcodePrefix));
    }

    /// <summary>Removes the policy of <paramref name="barcodePrefix"/>; false when there is none. Its tapes stay.</summary>
    public async Task<bool> DeleteAutoCreatePolicyAsync(string barcodePrefix, CancellationToken ct)
    {
        var deleted = await _policies.DeleteAsync(LibraryId, barcodePrefix, ct).ConfigureAwait(false);
        if (deleted)
        {
            LogPolicyDeleted(_logger, barcodePrefix);
        }

        return deleted;
    }

    /// <summary>Runs every policy of the library under the library lock, then tells initiators if tapes appeared.</summary>
    /// <returns>What each policy did, or null when the run failed (logged).</returns>
    public async Task<IReadOnlyList<AutoCreateOutcome>?> RunAutoCreateAsync(string trigger, CancellationToken ct)
    {
        IReadOnlyList<AutoCreateOutcome>? outcomes;
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            outcomes = await AutoCreateLockedAsync(trigger).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }

        RaiseIfCreated(outcomes);
        return outcomes;
    }

    /// <summary>
    /// The policy run itself; the caller holds <see cref="_lock"/>, because the run fills I/E slots and must not slip
    /// between a move's checks and its commit. It never throws: it follows a move the initiator has already been told
    /// succeeded (or an operator action that did), so a failure here is logged and the next trigger tries again. It
    /// ignores the caller's cancellation for the same reason: a cancelled SCSI task must not leave the import without
    /// its replacement tape when the move itself went through.
    /// </summary>
    private async Task<IReadOnlyList<AutoCreateOutcome>?> AutoCreateLockedAsync(string trigger)
    {
        IReadOnlyList<AutoCreateOutcome> outcomes;
        try
        {
            outcomes = await _tapes.EnsureAutoCreatedTapesAsync(LibraryId, AutoCreateActor, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAutoCreateFailed(_logger, trigger, ex);
            return null;
        }

        foreach (var o in outcomes)
        {
            if (o.Created.Count > 0)
            {
                LogAutoCreated(_logger, o.BarcodePrefix, o.Created.Count, string.Join(",", o.Created), trigger);
            }

            if (o.Shortfall > 0)
            {
                LogAutoCreateShortfall(_logger, o.BarcodePrefix, o.Shortfall, o.AvailableBefore + o.Created.Count, trigger);
            }
        }

        return outcomes;
    }

    /// <summary>New tapes in the I/E slots: the changer reports UNIT ATTENTION so initiators re-read the inventory.</summary>
    private void RaiseIfCreated(IReadOnlyList<AutoCreateOutcome>? outcomes)
    {
        if (outcomes is not null && outcomes.Any(o => o.Created.Count > 0))
        {
            InventoryChangedExternally?.Invoke();
        }
    }

    /// <summary>
    /// Stores the policies from <c>TapeGateway:Library:AutoCreatePolicies</c>. Configuration owns those prefixes: a value
    /// changed through the API is put back at the next start. What only the catalog can judge (the pool exists; WORM
    /// and media ID agree) stops the start with a message naming the key, like every other bad library setting.
    /// </summary>
    private async Task EnsureConfiguredPoliciesAsync(CancellationToken ct)
    {
        for (var i = 0; i < Options.AutoCreatePolicies.Count; i++)
        {
            var spec = Options.AutoCreatePolicies[i];
            var key = $"{LibraryOptions.SectionName}:AutoCreatePolicies:{i.ToString(CultureInfo.InvariantCulture)}";
            var pool = await FindPoolAsync(spec.Pool, ct).ConfigureAwait(false);
            if (pool is null)
            {
                throw new InvalidOperationException($"{key}:Pool '{spec.Pool}' does not exist (standard pools: GLACIER, DEEP_ARCHIVE).");
            }

            var result = await StorePolicyAsync(
                new AutoCreatePolicyRequest(spec.Prefix, spec.MinimumAvailable, spec.CapacityBytes, pool.Id, spec.Worm, spec.MediaSuffix), ct).ConfigureAwait(false);
            if (result is not null)
            {
                throw new InvalidOperationException($"{key}: {result}");
            }
        }
    }

    /// <summary>Validates and stores a policy; null on success, else why not.</summary>
    private async Task<string?> StorePolicyAsync(AutoCreatePolicyRequest request, CancellationToken ct)
    {
        var problem = CheckPolicy(request);
        if (problem is not null)
        {
            return problem;
        }

        try
        {
            await _policies.UpsertAsync(
                new AutoCreatePolicy(LibraryId, request.BarcodePrefix, request.MinimumAvailable, request.CapacityBytes, request.PoolId, request.Worm, request.MediaSuffix),
                ct).ConfigureAwait(false);
            return null;
        }
        catch (CatalogValidationException ex)
        {
            // The catalog's rules (capacity, WORM vs media ID, cleaning labels) are the authority; pass its words on.
            return ex.Message;
        }
    }

    /// <summary>
    /// Checks made here rather than by the catalog: the changer personality's barcode length (TSM accepts 8 characters),
    /// which the catalog knows nothing about, and prefix and minimum so the message quotes the value that was given.
    /// </summary>
    private string? CheckPolicy(AutoCreatePolicyRequest request)
    {
        if (!Barcodes.IsValidPrefix(request.BarcodePrefix))
        {
            return $"'{request.BarcodePrefix}' is not a valid barcode prefix: 1–4 letters A–Z.";
        }

        if (request.MinimumAvailable is < 1 or > 10)
        {
            return $"Minimum available tapes must be 1–10 (is {request.MinimumAvailable}).";
        }

        var first = Barcodes.Format(request.BarcodePrefix, 1, request.MediaSuffix);
        return first.Length > Personality.MaxBarcodeLength
            ? $"Generated barcodes such as {first} are longer than the {Personality.MaxBarcodeLength} characters the {Personality.Name} changer's applications accept."
            : null;
    }

    /// <summary>The catalog's rule: the prefix followed by a digit (so policy AB does not count ABC000001).</summary>
    private static bool BelongsTo(string barcode, string prefix) =>
        barcode.Length > prefix.Length && barcode.StartsWith(prefix, StringComparison.Ordinal) && char.IsAsciiDigit(barcode[prefix.Length]);

    [LoggerMessage(EventId = 115, Level = LogLevel.Information, Message = "Auto-create policy {Prefix} created {Count} tape(s) {Barcodes} in the I/E slots (after {Trigger})")]
    private static partial void LogAutoCreated(ILogger logger, string prefix, int count, string barcodes, string trigger);

    [LoggerMessage(EventId = 116, Level = LogLevel.Warning, Message = "Auto-create policy {Prefix} is {Shortfall} tape(s) short of its minimum ({Available} available in the I/E slots, after {Trigger}): no free I/E slot or no barcode left; the next import retries")]
    private static partial void LogAutoCreateShortfall(ILogger logger, string prefix, int shortfall, int available, string trigger);

    [LoggerMessage(EventId = 117, Level = LogLevel.Error, Message = "Automatic tape creation after {Trigger} failed; what triggered it stands and the next trigger retries")]
    private static partial void LogAutoCreateFailed(ILogger logger, string trigger, Exception exception);

    [LoggerMessage(EventId = 118, Level = LogLevel.Information, Message = "Auto-create policy {Prefix} set: minimum {Minimum}, {Capacity} bytes, pool {Pool}, WORM {Worm}")]
    private static partial void LogPolicySet(ILogger logger, string prefix, int minimum, long capacity, string pool, bool worm);

    [LoggerMessage(EventId = 119, Level = LogLevel.Information, Message = "Auto-create policy {Prefix} deleted")]
    private static partial void LogPolicyDeleted(ILogger logger, string prefix);
}

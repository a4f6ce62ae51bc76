using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TapeGateway.Catalog;
using TapeGateway.Library;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Archive;

/// <summary>How an operator request ended; the management API maps it to an HTTP status.</summary>
public enum ArchiveRequestStatus
{
    Ok,

    /// <summary>Malformed request (400).</summary>
    Invalid,

    /// <summary>No such tape or pool (404).</summary>
    NotFound,

    /// <summary>The catalog's rules refuse it now: state, retention, pool in use (409).</summary>
    Conflict,

    /// <summary>Archiving is off or there is no data tier (503).</summary>
    Unavailable,
}

public sealed record ArchiveRequestResult(ArchiveRequestStatus Status, string? Message = null, Tape? Tape = null, Pool? Pool = null)
{
    public bool Succeeded => Status == ArchiveRequestStatus.Ok;

    internal static ArchiveRequestResult Fail(ArchiveRequestStatus status, string message) => new(status, message);
}

/// <summary>A tape on the archive side with its pool, for the export-status listing.</summary>
public sealed record ArchiveTapeStatus(Tape Tape, Pool Pool)
{
    /// <summary>Archive work the catalog still lists for the tape (a pool move, deleting a retrieval's library copy).</summary>
    public bool PoolMovePending => Tape.State == TapeState.Archived && Tape.ArchiveClass is { } c && c != Pool.StorageClass;
}

/// <summary>
/// The operator's archive verbs (management API, <c>tapegw</c>): export status, cancel archival, retrieve, cancel
/// retrieval, assign to pool, and the pools. They only change the catalog (guarded, one transaction each) and trigger
/// the jobs, which do the object work; so they answer at once and never race the jobs' copies.
/// </summary>
public sealed class ArchiveOperations
{
    public const string DefaultActor = "api";

    private readonly TapeRepository _tapes;
    private readonly PoolRepository _pools;
    private readonly IArchiveTrigger _trigger;
    private readonly IServiceProvider _services;
    private readonly ArchiveOptions _options;

    public ArchiveOperations(TapeRepository tapes, PoolRepository pools, IArchiveTrigger trigger, IServiceProvider services, IOptions<ArchiveOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _tapes = tapes;
        _pools = pools;
        _trigger = trigger;
        _services = services;
        _options = options.Value;
    }

    /// <summary>Archiving is on and a tape data tier exists to archive from and retrieve to.</summary>
    public bool IsActive => _options.Enabled && _services.GetService<ITapeDataTier>() is not null;

    private static readonly TapeState[] s_inFlight = [TapeState.InTransitToVts, TapeState.Archiving, TapeState.Retrieving];
    private static readonly TapeState[] s_archiveSide = [.. s_inFlight, TapeState.Archived, TapeState.Retrieved];

    /// <summary>
    /// Tapes being archived or retrieved, with their progress (AWS Tape.Progress); with <paramref name="all"/> also
    /// the ARCHIVED and RETRIEVED ones. <paramref name="barcode"/> narrows it to one tape in any of those states.
    /// </summary>
    public async Task<IReadOnlyList<ArchiveTapeStatus>> ListStatusAsync(bool all, string? barcode, CancellationToken ct)
    {
        IReadOnlyList<Tape> tapes;
        if (barcode is not null)
        {
            var tape = await _tapes.GetTapeAsync(barcode, ct).ConfigureAwait(false);
            tapes = tape is not null && s_archiveSide.Contains(tape.State) ? [tape] : [];
        }
        else
        {
            tapes = await _tapes.ListTapesAsync(new TapeFilter { States = all ? s_archiveSide : s_inFlight, Limit = 100_000 }, ct).ConfigureAwait(false);
        }

        var pools = (await _pools.ListPoolsAsync(ct).ConfigureAwait(false)).ToDictionary(p => p.Id, StringComparer.Ordinal);
        return [.. tapes.Select(t => new ArchiveTapeStatus(t, pools[t.PoolId]))];
    }

    /// <summary>AWS CancelArchival: only while IN TRANSIT TO VTS. The tape is AVAILABLE again, in its I/E slot.</summary>
    public async Task<ArchiveRequestResult> CancelArchiveAsync(string barcode, string actor, CancellationToken ct)
    {
        var r = await _tapes.TransitionAsync(barcode, TapeState.InTransitToVts, TapeState.Available, actor, "archive cancelled by the operator", ct).ConfigureAwait(false);
        switch (r.Status)
        {
            case TransitionStatus.Ok:
                // A tape that had already left (exported outside the changer) is back in an I/E slot.
                _services.GetService<TapeLibrary>()?.NotifyInventoryChanged();
                return new(ArchiveRequestStatus.Ok, null, await _tapes.GetTapeAsync(barcode, ct).ConfigureAwait(false));
            case TransitionStatus.TapeNotFound:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.NotFound, $"Tape {barcode} does not exist.");
            case TransitionStatus.StateMismatch when r.ActualState is TapeState.Archiving:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, $"Tape {barcode} is already ARCHIVING; archival can be cancelled only while IN TRANSIT TO VTS.");
            case TransitionStatus.StateMismatch:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, $"Tape {barcode} is {r.ActualState?.ToAwsString()}, not IN TRANSIT TO VTS; there is no archival to cancel.");
            default:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, r.Message ?? r.Status.ToString());
        }
    }

    /// <summary>AWS RetrieveTapeArchive: ARCHIVED → RETRIEVING; the retrieval job restores and copies it back.</summary>
    public async Task<ArchiveRequestResult> RetrieveAsync(string barcode, string actor, CancellationToken ct)
    {
        if (!IsActive)
        {
            return ArchiveRequestResult.Fail(ArchiveRequestStatus.Unavailable, "Archiving is not available on this gateway (TapeGateway:Archive:Enabled is false or no S3 tape tier is configured).");
        }

        var r = await _tapes.TransitionAsync(barcode, TapeState.Archived, TapeState.Retrieving, actor, "retrieval requested", ct).ConfigureAwait(false);
        switch (r.Status)
        {
            case TransitionStatus.Ok:
                _trigger.RequestRetrievalRun();
                return new(ArchiveRequestStatus.Ok, null, await _tapes.GetTapeAsync(barcode, ct).ConfigureAwait(false));
            case TransitionStatus.TapeNotFound:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.NotFound, $"Tape {barcode} does not exist.");
            default:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, $"Tape {barcode} is {r.ActualState?.ToAwsString() ?? "not ARCHIVED"}; only an ARCHIVED tape can be retrieved.");
        }
    }

    /// <summary>RETRIEVING → ARCHIVED; the archive job deletes whatever was already copied back.</summary>
    public async Task<ArchiveRequestResult> CancelRetrievalAsync(string barcode, string actor, CancellationToken ct)
    {
        var r = await _tapes.TransitionAsync(barcode, TapeState.Retrieving, TapeState.Archived, actor, "retrieval cancelled by the operator", ct).ConfigureAwait(false);
        switch (r.Status)
        {
            case TransitionStatus.Ok:
                _trigger.RequestArchiveRun();
                return new(ArchiveRequestStatus.Ok, null, await _tapes.GetTapeAsync(barcode, ct).ConfigureAwait(false));
            case TransitionStatus.TapeNotFound:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.NotFound, $"Tape {barcode} does not exist.");
            default:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, $"Tape {barcode} is {r.ActualState?.ToAwsString()}, not RETRIEVING; there is no retrieval to cancel.");
        }
    }

    /// <summary>AWS AssignTapePool; see <see cref="TapeRepository.AssignPoolAsync"/> for the rules.</summary>
    public async Task<ArchiveRequestResult> AssignPoolAsync(string barcode, string pool, bool bypassGovernanceRetention, string actor, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(pool))
        {
            return ArchiveRequestResult.Fail(ArchiveRequestStatus.Invalid, "A pool (id or name) is required.");
        }

        if (await FindPoolAsync(pool, ct).ConfigureAwait(false) is not { } target)
        {
            return ArchiveRequestResult.Fail(ArchiveRequestStatus.NotFound, $"Pool '{pool}' does not exist (standard pools: GLACIER, DEEP_ARCHIVE).");
        }

        var r = await _tapes.AssignPoolAsync(barcode, target.Id, actor, bypassGovernanceRetention, ct).ConfigureAwait(false);
        switch (r.Status)
        {
            case AssignPoolStatus.Ok:
                if (r.Tape?.State == TapeState.Archived)
                {
                    _trigger.RequestArchiveRun();
                }

                return new(ArchiveRequestStatus.Ok, null, r.Tape, target);
            case AssignPoolStatus.TapeNotFound:
            case AssignPoolStatus.PoolNotFound:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.NotFound, r.Message ?? r.Status.ToString());
            default:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, r.Message ?? r.Status.ToString());
        }
    }

    // ---- pools ------------------------------------------------------------------------------------------------------

    public Task<IReadOnlyList<Pool>> ListPoolsAsync(CancellationToken ct) => _pools.ListPoolsAsync(ct);

    /// <summary>By id (GLACIER, pool-…), by id spelled like a name ("Deep Archive"), or by name, ignoring case.</summary>
    public async Task<Pool?> FindPoolAsync(string idOrName, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idOrName);
        return await _pools.GetPoolAsync(idOrName, ct).ConfigureAwait(false)
            ?? await _pools.GetPoolAsync(idOrName.Trim().ToUpperInvariant().Replace(' ', '_'), ct).ConfigureAwait(false)
            ?? (await _pools.ListPoolsAsync(ct).ConfigureAwait(false)).FirstOrDefault(p => string.Equals(p.Name, idOrName.Trim(), StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// AWS CreateTapePool. <paramref name="storageClass"/> GLACIER or DEEP_ARCHIVE; <paramref name="retentionLock"/> NONE,
    /// GOVERNANCE or COMPLIANCE (case-insensitive); days 1–36500 with a lock, 0 (or omitted) without. Immutable once made.
    /// </summary>
    public async Task<ArchiveRequestResult> CreatePoolAsync(string? name, string? storageClass, string? retentionLock, int? retentionDays, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return ArchiveRequestResult.Fail(ArchiveRequestStatus.Invalid, "name is required (2–100 characters).");
        }

        StorageClass parsedClass;
        switch (storageClass?.Trim().ToUpperInvariant().Replace(' ', '_'))
        {
            case "GLACIER":
                parsedClass = StorageClass.Glacier;
                break;
            case "DEEP_ARCHIVE":
                parsedClass = StorageClass.DeepArchive;
                break;
            default:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.Invalid, $"storageClass must be GLACIER or DEEP_ARCHIVE, not '{storageClass}'.");
        }

        RetentionLockType parsedLock;
        switch (retentionLock?.Trim().ToUpperInvariant())
        {
            case null or "" or "NONE":
                parsedLock = RetentionLockType.None;
                break;
            case "GOVERNANCE":
                parsedLock = RetentionLockType.Governance;
                break;
            case "COMPLIANCE":
                parsedLock = RetentionLockType.Compliance;
                break;
            default:
                return ArchiveRequestResult.Fail(ArchiveRequestStatus.Invalid, $"retentionLock must be NONE, GOVERNANCE or COMPLIANCE, not '{retentionLock}'.");
        }

        var days = retentionDays ?? 0;
        if (parsedLock == RetentionLockType.None ? days != 0 : days is < 1 or > 36500)
        {
            return ArchiveRequestResult.Fail(
                ArchiveRequestStatus.Invalid,
                parsedLock == RetentionLockType.None
                    ? $"retentionDays is {days} but there is no retention lock; give a lock (GOVERNANCE or COMPLIANCE) or leave the days out."
                    : $"retentionDays must be 1–36500 with a {parsedLock.ToDb()} lock (got {days}).");
        }

        // Names must not differ by case alone: the API and CLI find pools by name ignoring case.
        if ((await _pools.ListPoolsAsync(ct).ConfigureAwait(false)).FirstOrDefault(p => string.Equals(p.Name, name.Trim(), StringComparison.OrdinalIgnoreCase)) is { } same)
        {
            return ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, $"A pool named '{same.Name}' already exists ({same.Id}).");
        }

        try
        {
            var pool = await _pools.CreatePoolAsync(name.Trim(), parsedClass, parsedLock, days, ct).ConfigureAwait(false);
            return new(ArchiveRequestStatus.Ok, null, null, pool);
        }
        catch (CatalogValidationException ex)
        {
            return ArchiveRequestResult.Fail(
                ex.Message.Contains("already exists", StringComparison.Ordinal) ? ArchiveRequestStatus.Conflict : ArchiveRequestStatus.Invalid, ex.Message);
        }
    }

    /// <summary>AWS DeleteTapePool: custom pools only, and only when no tape (even a deleted one) or policy uses them.</summary>
    public async Task<ArchiveRequestResult> DeletePoolAsync(string idOrName, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(idOrName) || await FindPoolAsync(idOrName, ct).ConfigureAwait(false) is not { } pool)
        {
            return ArchiveRequestResult.Fail(ArchiveRequestStatus.NotFound, $"Pool '{idOrName}' does not exist.");
        }

        return await _pools.DeletePoolAsync(pool.Id, ct).ConfigureAwait(false) switch
        {
            PoolDeleteStatus.Ok => new(ArchiveRequestStatus.Ok, null, null, pool),
            PoolDeleteStatus.StandardPool => ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, $"{pool.Name} is a standard pool; only custom pools can be deleted."),
            PoolDeleteStatus.InUse => ArchiveRequestResult.Fail(ArchiveRequestStatus.Conflict, $"Pool {pool.Name} is used by tapes (deleted tapes count: they keep their history) or an auto-create policy."),
            _ => ArchiveRequestResult.Fail(ArchiveRequestStatus.NotFound, $"Pool '{idOrName}' does not exist."),
        };
    }
}

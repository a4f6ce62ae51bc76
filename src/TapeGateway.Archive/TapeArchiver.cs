using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TapeGateway.Catalog;
using TapeGateway.Library;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;
using CatalogStorageClass = TapeGateway.Catalog.StorageClass;
using StorageClass = TapeGateway.Storage.StorageClass;

namespace TapeGateway.Archive;

/// <summary>What one step of archive work did for a tape.</summary>
public enum ArchiveOutcome
{
    /// <summary>Nothing to do yet (grace period, tape still mounted, restore of a pool move pending); try again later.</summary>
    Waiting,

    /// <summary>The tape reached ARCHIVED: archive copy verified, library-tier copy and local cache gone.</summary>
    Archived,

    /// <summary>Someone changed the tape first (the export was cancelled, the tape was taken back); nothing to do.</summary>
    Superseded,

    /// <summary>The library-tier copy left by a retrieval was deleted.</summary>
    LibraryCopyPurged,

    /// <summary>The archive copy was moved to its (new) pool's storage class.</summary>
    Reclassed,

    /// <summary>The objects of a deleted tape were removed.</summary>
    ObjectsDeleted,

    /// <summary>Neither the library copy nor a usable archive copy exists: the tape was marked IRRECOVERABLE.</summary>
    Irrecoverable,

    /// <summary>An error; the catalog still says what is left, so the next run resumes.</summary>
    Failed,
}

/// <summary>
/// Moves exported tapes from the library tier (S3 STANDARD, where the data tier uploads them) to the archive tier in
/// their pool's storage class, AWS Tape Gateway style: IN TRANSIT TO VTS (uploads finish) → ARCHIVING (server-side copy
/// of every object, progress in the catalog) → archive manifest → verify → delete the library copy → ARCHIVED.
/// It also finishes the archive side of other changes: deletes the library copy a retrieval left once the tape is
/// archived again, moves archive copies to a new pool's class, and removes the objects of deleted tapes.
/// </summary>
/// <remarks>
/// Restart-safe by construction: nothing is kept in memory between steps. Each run asks the catalog for the tapes with
/// work left (<see cref="TapeRepository.ListArchiveWorkAsync"/>) and re-derives the next step from the tape's state and
/// what the bucket holds; copies whose destination is already there and verified are skipped, deletions of missing
/// keys are no-ops, and every state change is a guarded transition, so racing an operator's cancel is safe.
/// Retention is enforced by the catalog (governance bypass flag, compliance never before RetainUntil) and, where the
/// bucket has S3 Object Lock, by the bucket too (<see cref="IObjectStore.ApplyRetentionAsync"/> on every archive
/// object). The retention lock and date are written into the archive manifest so that a disaster-recovery rebuild
/// knows them.
/// </remarks>
public sealed partial class TapeArchiver
{
    public const string Actor = "job:archive";

    /// <summary>How often Tape.Progress is refreshed while the data tier uploads an ejected tape.</summary>
    public static readonly TimeSpan UploadProgressInterval = TimeSpan.FromSeconds(5);

    private readonly TapeRepository _tapes;
    private readonly PoolRepository _pools;
    private readonly ITapeDataTier _tier;
    private readonly TierCopier _copier;
    private readonly ArchiveCoordinator _coordinator;
    private readonly TapeLibrary? _library;
    private readonly ArchiveOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<TapeArchiver> _logger;

    public TapeArchiver(
        TapeRepository tapes,
        PoolRepository pools,
        ITapeDataTier tier,
        ArchiveCoordinator coordinator,
        IOptions<ArchiveOptions> options,
        TimeProvider time,
        ILogger<TapeArchiver> logger,
        TapeLibrary? library = null)
    {
        ArgumentNullException.ThrowIfNull(tier);
        ArgumentNullException.ThrowIfNull(options);
        _tapes = tapes;
        _pools = pools;
        _tier = tier;
        _copier = new TierCopier(tier.ObjectStore, tier.Layout);
        _coordinator = coordinator;
        _library = library;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Runs every piece of pending archive work once; returns each tape's outcome. Never throws for one tape's failure.</summary>
    public async Task<IReadOnlyDictionary<string, ArchiveOutcome>> RunPendingAsync(CancellationToken ct)
    {
        using var _ = await _coordinator.EnterAsync(ct).ConfigureAwait(false);
        await ResumeInterruptedExportsAsync(ct).ConfigureAwait(false);
        var outcomes = new Dictionary<string, ArchiveOutcome>(StringComparer.Ordinal);
        foreach (var tape in await _tapes.ListArchiveWorkAsync(ct).ConfigureAwait(false))
        {
            outcomes[tape.Barcode] = await StepAsync(tape.Barcode, ct).ConfigureAwait(false);
        }

        return outcomes;
    }

    /// <summary>Does the pending archive work of one tape (the same step <see cref="RunPendingAsync"/> would).</summary>
    public async Task<ArchiveOutcome> RunAsync(string barcode, CancellationToken ct)
    {
        using var _ = await _coordinator.EnterAsync(ct).ConfigureAwait(false);
        return await StepAsync(barcode, ct).ConfigureAwait(false);
    }

    private async Task<ArchiveOutcome> StepAsync(string barcode, CancellationToken ct)
    {
        try
        {
            // Re-read: the list is a snapshot, and operators act on tapes while the job runs.
            var tape = await _tapes.GetTapeAsync(barcode, ct).ConfigureAwait(false);
            if (tape is null)
            {
                return ArchiveOutcome.Superseded;
            }

            var pool = await _pools.GetPoolAsync(tape.PoolId, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Pool {tape.PoolId} of tape {barcode} vanished from the catalog.");
            return tape.State switch
            {
                TapeState.InTransitToVts => await UploadAsync(tape, pool, ct).ConfigureAwait(false),
                TapeState.Archiving => await CopyToArchiveAsync(tape, pool, ct).ConfigureAwait(false),
                TapeState.Archived when tape.PurgeLibraryCopy => await PurgeLibraryCopyAsync(tape, ct).ConfigureAwait(false),
                TapeState.Archived when tape.ArchiveClass is { } current && current != pool.StorageClass => await ReclassAsync(tape, pool, ct).ConfigureAwait(false),
                TapeState.Deleted when tape.ArchiveClass is not null || tape.PurgeLibraryCopy => await DeleteObjectsAsync(tape, ct).ConfigureAwait(false),
                _ => ArchiveOutcome.Superseded,
            };
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is ObjectStoreException or IOException or InvalidDataException or InvalidOperationException or TimeoutException or Microsoft.Data.Sqlite.SqliteException)
        {
            LogStepFailed(_logger, barcode, ex.Message, ex);
            return ArchiveOutcome.Failed;
        }
    }

    /// <summary>
    /// Finishes exports a stop interrupted: the changer committed a tape's move into an I/E element, the initiator was
    /// told GOOD, and the gateway went down before the tape became IN TRANSIT TO VTS. The backup application has
    /// exported that tape, so it is exported now (the export grace period counts from this transition).
    /// </summary>
    private Task ResumeInterruptedExportsAsync(CancellationToken ct) =>
        // Under the changer lock: a MOVE MEDIUM into an I/E slot whose export notification is still running looks just
        // like an interrupted one in the catalog, and resuming it would race the notification.
        _library is { } library ? library.RunWhileChangerIdleAsync(ResumeInterruptedExportsCoreAsync, ct) : ResumeInterruptedExportsCoreAsync(ct);

    private async Task ResumeInterruptedExportsCoreAsync(CancellationToken ct)
    {
        foreach (var barcode in await _tapes.ListInterruptedExportsAsync(ct).ConfigureAwait(false))
        {
            var resumed = await _tapes.TransitionAsync(
                barcode, TapeState.Available, TapeState.InTransitToVts, Actor, "export resumed: moved into an I/E element before a restart", ct).ConfigureAwait(false);
            if (resumed.Succeeded)
            {
                LogExportResumed(_logger, barcode);
            }
        }
    }

    // ---- IN TRANSIT TO VTS -----------------------------------------------------------------------------------------

    private async Task<ArchiveOutcome> UploadAsync(Tape tape, Pool pool, CancellationToken ct)
    {
        var exported = await _tapes.GetStateEnteredAsync(tape.Barcode, TapeState.InTransitToVts, ct).ConfigureAwait(false) ?? tape.Updated;
        if (_time.GetUtcNow() - exported < _options.MinimumExportAge || _tier.IsOpen(tape.Barcode))
        {
            return ArchiveOutcome.Waiting;
        }

        // AWS Tape.Progress while IN TRANSIT is the share uploaded, sampled while the (possibly long) upload runs.
        await ReportUploadProgressAsync(tape, ct).ConfigureAwait(false);
        TapeManifest manifest;
        using (var reporting = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            var reporter = ReportUploadProgressUntilCancelledAsync(tape, reporting.Token);
            try
            {
                manifest = await _tier.EnsureUploadedAsync(tape.Barcode, ct).ConfigureAwait(false);
            }
            finally
            {
                await reporting.CancelAsync().ConfigureAwait(false);
                await reporter.ConfigureAwait(false);
            }
        }

        var problem = manifest.Complete ? manifest.Validate() : "it is not complete";
        if (problem is not null)
        {
            throw new InvalidDataException($"The data tier returned an unusable manifest for {tape.Barcode}: {problem}.");
        }

        await _tapes.SetArchiveProgressAsync(tape.Barcode, 100, ct).ConfigureAwait(false);
        var started = await _tapes.TransitionAsync(tape.Barcode, TapeState.InTransitToVts, TapeState.Archiving, Actor, $"generation {manifest.Generation} uploaded", ct).ConfigureAwait(false);
        if (!started.Succeeded)
        {
            // Taken back out of the I/E slot (or cancelled through the API) while uploading: the upload stands, the
            // tape is AVAILABLE again.
            LogSuperseded(_logger, tape.Barcode, started.Message ?? started.Status.ToString());
            return ArchiveOutcome.Superseded;
        }

        if (tape.ElementAddress is not null)
        {
            // It just left its I/E slot: initiators must re-read the inventory.
            _library?.NotifyInventoryChanged();
        }

        LogArchivingStarted(_logger, tape.Barcode, pool.Name, pool.StorageClass.ToDb());
        var archiving = (await _tapes.GetTapeAsync(tape.Barcode, ct).ConfigureAwait(false))!;
        return await CopyToArchiveAsync(archiving, pool, ct).ConfigureAwait(false);
    }

    private async Task ReportUploadProgressAsync(Tape tape, CancellationToken ct)
    {
        if (tape.UsedBytes > 0)
        {
            var pending = Math.Clamp(_tier.PendingUploadBytes(tape.Barcode), 0, tape.UsedBytes);
            await _tapes.SetArchiveProgressAsync(tape.Barcode, Percent(tape.UsedBytes - pending, tape.UsedBytes), ct).ConfigureAwait(false);
        }
    }

    private async Task ReportUploadProgressUntilCancelledAsync(Tape tape, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(UploadProgressInterval, _time, ct).ConfigureAwait(false);
                await ReportUploadProgressAsync(tape, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The upload finished (or the pass is stopping): the next progress comes from the copy.
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
        {
            // Progress is informational; losing it must not fail the upload.
            LogProgressFailed(_logger, tape.Barcode, ex.Message);
        }
    }

    // ---- ARCHIVING ---------------------------------------------------------------------------------------------------

    private async Task<ArchiveOutcome> CopyToArchiveAsync(Tape tape, Pool pool, CancellationToken ct)
    {
        var barcode = tape.Barcode;
        var targetClass = pool.StorageClass.ToObjectClass();
        var library = await _tier.GetManifestAsync(TapeTier.Library, barcode, ct).ConfigureAwait(false);
        var archived = await _copier.ReadManifestAsync(TapeTier.Archive, barcode, ct).ConfigureAwait(false);

        // An archive manifest of this very upload means a previous run got past the copy: it only has to be verified.
        // One from another generation (or class) is stale and is rewritten.
        var resumed = archived is not null && archived.StorageClass == targetClass && (library is null || archived.Generation == library.Generation);
        if (!resumed)
        {
            if (library is null)
            {
                return await GiveUpAsync(tape, "the library-tier manifest is missing and there is no archive copy", ct).ConfigureAwait(false);
            }

            await _copier.CopyAllAsync(
                library, TapeTier.Library, TapeTier.Archive, targetClass,
                share => _tapes.SetArchiveProgressAsync(barcode, Percent(share), ct),
                ct).ConfigureAwait(false);
            archived = ArchiveManifest(library, tape, pool);
            await _copier.WriteManifestAsync(TapeTier.Archive, archived, ct).ConfigureAwait(false);
        }

        // Only a verified archive copy allows deleting the library one. A bad object is copied again while the library
        // copy exists; without it the archive copy is all there is.
        var bad = await _copier.VerifyAsync(archived!, targetClass, ct).ConfigureAwait(false);
        if (bad.Count > 0 && library is not null)
        {
            foreach (var o in bad)
            {
                var source = _copier.Layout.Rebase(o.Key, barcode, TapeTier.Archive, TapeTier.Library);
                await _copier.Store.CopyAsync(source, o.Key, new CopyOptions { StorageClass = targetClass }, ct).ConfigureAwait(false);
            }

            bad = await _copier.VerifyAsync(archived!, targetClass, ct).ConfigureAwait(false);
        }

        if (bad.Count > 0)
        {
            if (library is null)
            {
                return await GiveUpAsync(tape, $"{bad.Count} archive object(s) fail verification (first: {bad[0].Key}) and the library copy is gone", ct).ConfigureAwait(false);
            }

            throw new InvalidDataException($"{bad.Count} archive object(s) of {barcode} fail verification after a second copy (first: {bad[0].Key}).");
        }

        // Before the library copy goes: the archive copy is then all there is, and a locked pool wants it locked.
        var lockNote = await ApplyObjectLockAsync(barcode, archived!, pool, ct).ConfigureAwait(false);
        await _tapes.SetArchiveProgressAsync(barcode, 100, ct).ConfigureAwait(false);
        var deleted = await _copier.DeleteTierAsync(TapeTier.Library, barcode, ct).ConfigureAwait(false);
        await _tier.PurgeLocalAsync(barcode, ct).ConfigureAwait(false);
        await _tapes.SetArchiveClassAsync(barcode, pool.StorageClass, ct).ConfigureAwait(false);
        var done = await _tapes.TransitionAsync(barcode, TapeState.Archiving, TapeState.Archived, Actor, $"{archived!.Objects().Count()} object(s) in {targetClass.ToS3Name()}{lockNote}", ct).ConfigureAwait(false);
        if (!done.Succeeded)
        {
            LogSuperseded(_logger, barcode, done.Message ?? done.Status.ToString());
            return ArchiveOutcome.Superseded;
        }

        LogArchived(_logger, barcode, archived.Objects().Count(), targetClass.ToS3Name(), deleted);
        return ArchiveOutcome.Archived;
    }

    private TapeManifest ArchiveManifest(TapeManifest library, Tape tape, Pool pool)
    {
        var now = _time.GetUtcNow();
        var locked = pool.RetentionLock != RetentionLockType.None;
        return _copier.Rebase(library, TapeTier.Library, TapeTier.Archive) with
        {
            PoolId = pool.Id,
            PoolName = pool.Name,
            RetentionDays = pool.RetentionDays,
            StorageClass = pool.StorageClass.ToObjectClass(),
            Archived = now,
            Written = now,
            RetentionLock = pool.RetentionLock.ToDb(),

            // The catalog starts retention when the tape reaches ARCHIVED (moments from now) and is what enforces it;
            // this date is the record a rebuilt catalog would start from.
            RetainUntil = locked ? (tape.RetentionStart ?? now).AddDays(pool.RetentionDays) : null,
        };
    }

    private async Task<ArchiveOutcome> GiveUpAsync(Tape tape, string reason, CancellationToken ct)
    {
        LogIrrecoverable(_logger, tape.Barcode, reason);
        var r = await _tapes.TransitionAsync(tape.Barcode, tape.State, TapeState.Irrecoverable, Actor, reason, ct).ConfigureAwait(false);
        return r.Succeeded ? ArchiveOutcome.Irrecoverable : ArchiveOutcome.Superseded;
    }

    // ---- ARCHIVED: leftovers of a retrieval, pool moves ---------------------------------------------------------------

    private async Task<ArchiveOutcome> PurgeLibraryCopyAsync(Tape tape, CancellationToken ct)
    {
        // A retrieved tape is usually ejected right after a drive read it: the load wrote its MAM load count, and the
        // tier publishes that (head object, manifest) once the tape is closed, while the eject already triggered this
        // job. So the local copy goes first, and only when the tier is idle for the tape (else the next pass does it):
        // once it is gone nothing writes into the library tier any more, and the objects deleted next stay deleted.
        if (!await _tier.TryPurgeLocalAsync(tape.Barcode, ct).ConfigureAwait(false))
        {
            return ArchiveOutcome.Waiting;
        }

        var deleted = await _copier.DeleteTierAsync(TapeTier.Library, tape.Barcode, ct).ConfigureAwait(false);
        await _tapes.ClearLibraryCopyPurgeAsync(tape.Barcode, ct).ConfigureAwait(false);
        LogLibraryCopyPurged(_logger, tape.Barcode, deleted);
        return ArchiveOutcome.LibraryCopyPurged;
    }

    /// <summary>
    /// AWS "assign to pool" (GLACIER → DEEP_ARCHIVE): each archive object is copied onto itself in the new class. On AWS
    /// a GLACIER object must be restored before it can be copied (403 InvalidObjectState); then a Bulk restore is asked
    /// for and the move waits for it, object by object, over the following runs.
    /// </summary>
    private async Task<ArchiveOutcome> ReclassAsync(Tape tape, Pool pool, CancellationToken ct)
    {
        var barcode = tape.Barcode;
        var target = pool.StorageClass.ToObjectClass();
        var manifest = await _copier.ReadManifestAsync(TapeTier.Archive, barcode, ct).ConfigureAwait(false)
            ?? throw new InvalidDataException($"Archived tape {barcode} has no archive manifest.");
        var waiting = 0;
        foreach (var o in manifest.Objects())
        {
            if (await _copier.IsInPlaceAsync(o.Key, o, target, ct).ConfigureAwait(false))
            {
                continue;
            }

            try
            {
                await _copier.Store.CopyAsync(o.Key, o.Key, new CopyOptions { StorageClass = target }, ct).ConfigureAwait(false);
            }
            catch (InvalidObjectStateException)
            {
                await _copier.Store.RequestRestoreAsync(o.Key, new RestoreOptions(_options.RestoreDays, RestoreTier.Bulk), ct).ConfigureAwait(false);
                waiting++;
            }
        }

        if (waiting > 0)
        {
            LogReclassWaiting(_logger, barcode, waiting);
            return ArchiveOutcome.Waiting;
        }

        var locked = pool.RetentionLock != RetentionLockType.None;
        var moved = manifest with
        {
            PoolId = pool.Id,
            PoolName = pool.Name,
            RetentionDays = pool.RetentionDays,
            StorageClass = target,
            Written = _time.GetUtcNow(),
            RetentionLock = pool.RetentionLock.ToDb(),
            RetainUntil = locked && tape.RetentionStart is { } start ? start.AddDays(pool.RetentionDays) : null,
        };
        await _copier.WriteManifestAsync(TapeTier.Archive, moved, ct).ConfigureAwait(false);

        // An in-place copy writes new object versions: they need the new pool's retention (the old versions keep theirs).
        await ApplyObjectLockAsync(barcode, moved, pool, ct).ConfigureAwait(false);
        await _tapes.SetArchiveClassAsync(barcode, pool.StorageClass, ct).ConfigureAwait(false);
        LogReclassed(_logger, barcode, target.ToS3Name(), pool.Name);
        return ArchiveOutcome.Reclassed;
    }

    /// <summary>
    /// S3 Object Lock (PutObjectRetention) on every archive object and the archive manifest of a tape in a locked pool,
    /// until the manifest's RetainUntil, in the pool's mode, so the bucket itself refuses to delete those versions
    /// (pools: governance can be bypassed by who holds the permission, compliance by nobody). Where the bucket has no
    /// Object Lock the catalog alone enforces the retention (docs/archive.md). Returns a note for the event log.
    /// </summary>
    private async Task<string> ApplyObjectLockAsync(string barcode, TapeManifest archived, Pool pool, CancellationToken ct)
    {
        if (pool.RetentionLock == RetentionLockType.None || archived.RetainUntil is not { } until)
        {
            return string.Empty;
        }

        var mode = pool.RetentionLock == RetentionLockType.Compliance ? ObjectRetentionMode.Compliance : ObjectRetentionMode.Governance;
        var retention = new ObjectRetention(mode, until);
        var keys = archived.Objects().Select(o => o.Key).Append(_copier.Layout.ManifestKey(TapeTier.Archive, barcode)).ToList();
        foreach (var key in keys)
        {
            if (!await _copier.Store.ApplyRetentionAsync(key, retention, ct).ConfigureAwait(false))
            {
                LogObjectLockUnavailable(_logger, barcode, pool.Name);
                return "; retention kept by the catalog (the bucket has no S3 Object Lock)";
            }
        }

        var note = $"; S3 Object Lock {mode.ToString().ToUpperInvariant()} until {until:yyyy-MM-dd} on {keys.Count} object(s)";
        LogObjectLockApplied(_logger, barcode, note[2..]);
        return note;
    }

    // ---- DELETED ----------------------------------------------------------------------------------------------------

    /// <summary>
    /// The catalog allowed the deletion (retention checked there); the objects go now. Both tiers: a deleted archived
    /// tape may still have had a retrieval's library copy.
    /// </summary>
    private async Task<ArchiveOutcome> DeleteObjectsAsync(Tape tape, CancellationToken ct)
    {
        var archived = await _copier.DeleteTierAsync(TapeTier.Archive, tape.Barcode, ct).ConfigureAwait(false);
        var library = await _copier.DeleteTierAsync(TapeTier.Library, tape.Barcode, ct).ConfigureAwait(false);
        if (!_tier.IsOpen(tape.Barcode))
        {
            await _tier.PurgeLocalAsync(tape.Barcode, ct).ConfigureAwait(false);
        }

        await _tapes.ClearDeletedTapeObjectsAsync(tape.Barcode, ct).ConfigureAwait(false);
        LogObjectsDeleted(_logger, tape.Barcode, archived, library);
        return ArchiveOutcome.ObjectsDeleted;
    }

    private static double Percent(double share) => Math.Round(Math.Clamp(share, 0, 1) * 100, 1);

    private static double Percent(long part, long whole) => whole <= 0 ? 100 : Percent((double)part / whole);

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Tape {Barcode} uploaded; archiving to pool {Pool} ({StorageClass})")]
    private static partial void LogArchivingStarted(ILogger logger, string barcode, string pool, string storageClass);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Tape {Barcode} ARCHIVED: {Objects} object(s) in {StorageClass}, {Deleted} library-tier object(s) deleted")]
    private static partial void LogArchived(ILogger logger, string barcode, int objects, string storageClass, int deleted);

    [LoggerMessage(EventId = 502, Level = LogLevel.Information, Message = "Tape {Barcode} changed under the archive job ({Reason}); nothing more to do for it")]
    private static partial void LogSuperseded(ILogger logger, string barcode, string reason);

    [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "Archive work for tape {Barcode} failed: {Reason}; the next run resumes it")]
    private static partial void LogStepFailed(ILogger logger, string barcode, string reason, Exception exception);

    [LoggerMessage(EventId = 504, Level = LogLevel.Critical, Message = "Tape {Barcode} is IRRECOVERABLE: {Reason}")]
    private static partial void LogIrrecoverable(ILogger logger, string barcode, string reason);

    [LoggerMessage(EventId = 505, Level = LogLevel.Information, Message = "Tape {Barcode}: library-tier copy of the retrieval deleted ({Deleted} object(s))")]
    private static partial void LogLibraryCopyPurged(ILogger logger, string barcode, int deleted);

    [LoggerMessage(EventId = 506, Level = LogLevel.Information, Message = "Tape {Barcode}: pool move waits for the restore of {Count} object(s) before they can be copied")]
    private static partial void LogReclassWaiting(ILogger logger, string barcode, int count);

    [LoggerMessage(EventId = 507, Level = LogLevel.Information, Message = "Tape {Barcode}: archive copy moved to {StorageClass} (pool {Pool})")]
    private static partial void LogReclassed(ILogger logger, string barcode, string storageClass, string pool);

    [LoggerMessage(EventId = 509, Level = LogLevel.Debug, Message = "Recording upload progress of tape {Barcode} failed: {Reason}")]
    private static partial void LogProgressFailed(ILogger logger, string barcode, string reason);

    [LoggerMessage(EventId = 508, Level = LogLevel.Information, Message = "Deleted tape {Barcode}: {Archive} archive and {Library} library-tier object(s) removed")]
    private static partial void LogObjectsDeleted(ILogger logger, string barcode, int archive, int library);

    [LoggerMessage(EventId = 513, Level = LogLevel.Information, Message = "Tape {Barcode}: {What}")]
    private static partial void LogObjectLockApplied(ILogger logger, string barcode, string what);

    [LoggerMessage(EventId = 514, Level = LogLevel.Information, Message = "Tape {Barcode} (pool {Pool}, retention locked): the bucket has no S3 Object Lock, the catalog enforces the retention")]
    private static partial void LogObjectLockUnavailable(ILogger logger, string barcode, string pool);

    [LoggerMessage(EventId = 512, Level = LogLevel.Warning, Message = "Tape {Barcode} was moved into an I/E slot before a restart but never marked exported: IN TRANSIT TO VTS now")]
    private static partial void LogExportResumed(ILogger logger, string barcode);
}

internal static class StorageClassMapping
{
    /// <summary>The object store's storage class of an archive pool's class (the catalog's enum has only the two archive classes).</summary>
    public static StorageClass ToObjectClass(this CatalogStorageClass storageClass) => storageClass switch
    {
        CatalogStorageClass.Glacier => StorageClass.Glacier,
        CatalogStorageClass.DeepArchive => StorageClass.DeepArchive,
        _ => throw new ArgumentOutOfRangeException(nameof(storageClass), storageClass, null),
    };
}

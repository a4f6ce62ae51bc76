using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TapeGateway.Catalog;
using TapeGateway.Library;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;
using StorageClass = TapeGateway.Storage.StorageClass;

namespace TapeGateway.Archive;

/// <summary>What one retrieval step did for a tape.</summary>
public enum RetrievalOutcome
{
    /// <summary>Restores are running (or were just requested); the next run looks again.</summary>
    Waiting,

    /// <summary>The tape is RETRIEVED: read-only, in an I/E slot, its library-tier copy complete.</summary>
    Retrieved,

    /// <summary>The retrieval was cancelled (or the tape changed) meanwhile; the archive job deletes what was copied.</summary>
    Superseded,

    /// <summary>Copied back, but no I/E slot is free to put the tape in; it stays RETRIEVING until one is.</summary>
    NoFreeSlot,

    /// <summary>An error; the next run resumes from the catalog state.</summary>
    Failed,
}

/// <summary>
/// AWS RetrieveTapeArchive: an ARCHIVED tape becomes RETRIEVING (operator call), every archive object is restored
/// (S3 RestoreObject; a store without restore, such as Ceph RGW, is treated as readable), then copied back to the
/// library tier in STANDARD, a complete library-tier manifest is published, and the tape becomes RETRIEVED — read-only,
/// placed by the catalog in a free I/E slot. The archive copy stays: ejecting the tape returns it to ARCHIVED at once,
/// and the archive job deletes the library copy.
/// </summary>
/// <remarks>
/// Progress (AWS Tape.Progress) is the share of objects restored for the first half and the share of bytes copied back
/// for the second. Like <see cref="TapeArchiver"/>, each run re-derives its work from the catalog (RETRIEVING tapes)
/// and from HEAD answers, so a restart loses nothing but time.
/// </remarks>
public sealed partial class TapeRetriever
{
    public const string Actor = "job:retrieve";

    private readonly TapeRepository _tapes;
    private readonly ITapeDataTier _tier;
    private readonly TierCopier _copier;
    private readonly ArchiveCoordinator _coordinator;
    private readonly TapeLibrary? _library;
    private readonly ArchiveOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<TapeRetriever> _logger;

    public TapeRetriever(
        TapeRepository tapes,
        ITapeDataTier tier,
        ArchiveCoordinator coordinator,
        IOptions<ArchiveOptions> options,
        TimeProvider time,
        ILogger<TapeRetriever> logger,
        TapeLibrary? library = null)
    {
        ArgumentNullException.ThrowIfNull(tier);
        ArgumentNullException.ThrowIfNull(options);
        _tapes = tapes;
        _tier = tier;
        _copier = new TierCopier(tier.ObjectStore, tier.Layout);
        _coordinator = coordinator;
        _library = library;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>One step for every RETRIEVING tape.</summary>
    public async Task<IReadOnlyDictionary<string, RetrievalOutcome>> RunPendingAsync(CancellationToken ct)
    {
        using var _ = await _coordinator.EnterAsync(ct).ConfigureAwait(false);
        var outcomes = new Dictionary<string, RetrievalOutcome>(StringComparer.Ordinal);
        var retrieving = await _tapes.ListTapesAsync(new TapeFilter { States = [TapeState.Retrieving], Limit = 100_000 }, ct).ConfigureAwait(false);
        foreach (var tape in retrieving)
        {
            outcomes[tape.Barcode] = await StepAsync(tape.Barcode, ct).ConfigureAwait(false);
        }

        return outcomes;
    }

    /// <summary>One step for one tape (what <see cref="RunPendingAsync"/> does for each).</summary>
    public async Task<RetrievalOutcome> RunAsync(string barcode, CancellationToken ct)
    {
        using var _ = await _coordinator.EnterAsync(ct).ConfigureAwait(false);
        return await StepAsync(barcode, ct).ConfigureAwait(false);
    }

    private async Task<RetrievalOutcome> StepAsync(string barcode, CancellationToken ct)
    {
        try
        {
            var tape = await _tapes.GetTapeAsync(barcode, ct).ConfigureAwait(false);
            return tape?.State == TapeState.Retrieving ? await RetrieveAsync(tape, ct).ConfigureAwait(false) : RetrievalOutcome.Superseded;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is ObjectStoreException or IOException or InvalidDataException or InvalidOperationException or TimeoutException or Microsoft.Data.Sqlite.SqliteException)
        {
            LogStepFailed(_logger, barcode, ex.Message, ex);
            return RetrievalOutcome.Failed;
        }
    }

    private async Task<RetrievalOutcome> RetrieveAsync(Tape tape, CancellationToken ct)
    {
        var barcode = tape.Barcode;
        var archived = await _copier.ReadManifestAsync(TapeTier.Archive, barcode, ct).ConfigureAwait(false)
            ?? throw new InvalidDataException($"Tape {barcode} has no archive manifest to retrieve from.");

        // 1. Every object readable: restored, restoring, or asked for now.
        var objects = archived.Objects().ToList();
        var ready = 0;
        foreach (var o in objects)
        {
            if (await EnsureRestoringAsync(o.Key, ct).ConfigureAwait(false))
            {
                ready++;
            }
        }

        if (ready < objects.Count)
        {
            await _tapes.SetArchiveProgressAsync(barcode, Math.Round(50.0 * ready / objects.Count, 1), ct).ConfigureAwait(false);
            return RetrievalOutcome.Waiting;
        }

        // 2. Copy back in STANDARD. The tier forgets whatever it cached of an earlier life of this tape first: the
        // retrieved copy replaces it.
        if (!_tier.IsOpen(barcode))
        {
            await _tier.PurgeLocalAsync(barcode, ct).ConfigureAwait(false);
        }

        await _copier.CopyAllAsync(
            archived, TapeTier.Archive, TapeTier.Library, StorageClass.Standard,
            share => _tapes.SetArchiveProgressAsync(barcode, Math.Round(50 + (50 * share), 1), ct),
            ct).ConfigureAwait(false);

        // 3. The library-tier manifest is the commit point of the copy: the tape is whole in the library tier.
        var library = _copier.Rebase(archived, TapeTier.Archive, TapeTier.Library) with
        {
            GatewayId = _copier.Layout.GatewayId,
            Complete = true,
            Written = _time.GetUtcNow(),
            StorageClass = null,
            Archived = null,
            RetentionLock = null,
            RetainUntil = null,
        };
        await _copier.WriteManifestAsync(TapeTier.Library, library, ct).ConfigureAwait(false);

        var done = await _tapes.TransitionAsync(barcode, TapeState.Retrieving, TapeState.Retrieved, Actor, $"{objects.Count} object(s) copied back", ct).ConfigureAwait(false);
        switch (done.Status)
        {
            case TransitionStatus.Ok:
                _library?.NotifyInventoryChanged();
                LogRetrieved(_logger, barcode, objects.Count);
                return RetrievalOutcome.Retrieved;
            case TransitionStatus.NoFreeSlot:
                LogNoFreeSlot(_logger, barcode);
                return RetrievalOutcome.NoFreeSlot;
            default:
                // Cancelled meanwhile: the catalog flagged the copy for the archive job to delete.
                return RetrievalOutcome.Superseded;
        }
    }

    /// <summary>True when the object can be read now; otherwise makes sure a restore is running.</summary>
    private async Task<bool> EnsureRestoringAsync(string key, CancellationToken ct)
    {
        var info = await _copier.Store.HeadAsync(key, ct).ConfigureAwait(false);
        switch (info.Restore.State)
        {
            case RestoreState.NotArchived or RestoreState.Restored:
                return true;
            case RestoreState.InProgress:
                return false;
        }

        RestoreRequestResult result;
        try
        {
            result = await _copier.Store.RequestRestoreAsync(key, new RestoreOptions(_options.RestoreDays, _options.RestoreTier), ct).ConfigureAwait(false);
        }
        catch (ObjectStoreNotSupportedException)
        {
            // Ceph RGW answers 501 and keeps archive classes readable: nothing to wait for.
            return true;
        }

        if (result == RestoreRequestResult.AlreadyRestored)
        {
            return true;
        }

        // Some stores restore at once (the local ones); look again rather than wait a whole run for nothing.
        return (await _copier.Store.HeadAsync(key, ct).ConfigureAwait(false)).Restore.State is RestoreState.Restored or RestoreState.NotArchived;
    }

    [LoggerMessage(EventId = 520, Level = LogLevel.Information, Message = "Tape {Barcode} RETRIEVED: {Objects} object(s) copied back; it is read-only in an I/E slot")]
    private static partial void LogRetrieved(ILogger logger, string barcode, int objects);

    [LoggerMessage(EventId = 521, Level = LogLevel.Warning, Message = "Tape {Barcode} is copied back but no I/E slot is free; it stays RETRIEVING until one is")]
    private static partial void LogNoFreeSlot(ILogger logger, string barcode);

    [LoggerMessage(EventId = 522, Level = LogLevel.Warning, Message = "Retrieval of tape {Barcode} failed: {Reason}; the next run resumes it")]
    private static partial void LogStepFailed(ILogger logger, string barcode, string reason, Exception exception);
}

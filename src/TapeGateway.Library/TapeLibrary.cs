using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TapeGateway.Catalog;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;
using CatalogElementType = TapeGateway.Catalog.ElementType;
using SmcElementStatus = TapeGateway.Scsi.Smc.ElementStatus;
using SmcElementType = TapeGateway.Scsi.Smc.ElementType;

namespace TapeGateway.Library;

/// <summary>
/// The virtual tape library: the SMC changer's backend (<see cref="IMediumChangerBackend"/>), the owner of the drives'
/// cartridges (tape image files), and the operator's entry point for creating and deleting tapes.
/// </summary>
/// <remarks>
/// <para>The catalog is the source of truth for where every tape is; nothing is mirrored in memory except which
/// <see cref="ITapeMedium"/> the library opened for each drive. Every mutation (MOVE/EXCHANGE MEDIUM, tape creation and
/// deletion) runs under one async lock, so a move's pre-checks (source full, destination empty) cannot be invalidated by
/// a concurrent creation before the move commits, and two drives never race for one image file.</para>
/// <para>Life cycle: <see cref="OpenCatalogAsync"/> (library row, drive serials) → <see cref="AttachDrives"/> (the SSC
/// units built with those serials) → <see cref="StartAsync"/> (startup tapes and auto-create policies, reload tapes the
/// catalog says are in drives)
/// → … → <see cref="StopAsync"/> (every cartridge made durable and closed; the catalog keeps it in its drive so the
/// next start reloads it).</para>
/// </remarks>
public sealed partial class TapeLibrary : IMediumChangerBackend
{
    private const string SystemActor = "library";

    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly TapeRepository _tapes;
    private readonly LibraryRepository _libraries;
    private readonly AutoCreatePolicyRepository _policies;
    private readonly PoolRepository _pools;
    private readonly IExportHandler _exportHandler;
    private readonly ILogger<TapeLibrary> _logger;
    private readonly TapeDataTier? _tier;

    /// <summary>The tier port: the tier itself in the gateway, a fake where tests compose the library without one.</summary>
    private readonly ITapeDataTier? _dataTier;
    private ILibraryDrive[] _drives = [];
    private ITapeMedium?[] _media = [];
    private long? _libraryId;

    public TapeLibrary(
        IOptions<LibraryOptions> options,
        TapeRepository tapes,
        LibraryRepository libraries,
        AutoCreatePolicyRepository policies,
        PoolRepository pools,
        IExportHandler exportHandler,
        ILogger<TapeLibrary> logger,
        TapeDataTier? tier = null,
        ITapeDataTier? dataTier = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        _tapes = tapes;
        _libraries = libraries;
        _policies = policies;
        _pools = pools;
        _exportHandler = exportHandler;
        _logger = logger;
        _tier = tier;
        _dataTier = dataTier ?? tier;
        Personality = Options.ResolveChanger();
        DrivePersonality = Options.ResolveDrive();
        Geometry = Options.ResolveGeometry();
    }

    public LibraryOptions Options { get; }

    public ChangerPersonality Personality { get; }

    public TapeDrivePersonality DrivePersonality { get; }

    public ChangerGeometry Geometry { get; }

    public long LibraryId => _libraryId ?? throw new InvalidOperationException("The library has not been opened.");

    public IReadOnlyList<ILibraryDrive> LibraryDrives => _drives;

    public IReadOnlyList<DriveDescriptor> Drives { get; private set; } = [];

    public event Action? InventoryChangedExternally;

    /// <summary>
    /// For work outside the changer that changes what READ ELEMENT STATUS shows (a tape leaving its I/E slot for the
    /// archive, a retrieved tape appearing): the changer queues a UNIT ATTENTION so initiators re-read the inventory.
    /// </summary>
    public void NotifyInventoryChanged() => InventoryChangedExternally?.Invoke();

    // ---- life cycle -----------------------------------------------------------------------------------------------

    /// <summary>Creates (or finds) the library in the catalog and returns its drives, whose serials the SSC units must use.</summary>
    public async Task<IReadOnlyList<Drive>> OpenCatalogAsync(CancellationToken ct)
    {
        var library = await _libraries.EnsureLibraryAsync(Options.ToCatalogGeometry(Geometry), ct).ConfigureAwait(false);
        _libraryId = library.Id;
        var drives = await _libraries.ListDrivesAsync(library.Id, ct).ConfigureAwait(false);
        LogOpened(_logger, library.Geometry.Name, library.Id, Personality.Name, drives.Count, Geometry.Storage.Count, Geometry.ImportExport.Count);
        return drives;
    }

    /// <summary>Hands the library its drives, in drive-index order.</summary>
    public void AttachDrives(IReadOnlyList<ILibraryDrive> drives)
    {
        ArgumentNullException.ThrowIfNull(drives);
        if (drives.Count != Geometry.DataTransfer.Count)
        {
            throw new ArgumentException($"The library has {Geometry.DataTransfer.Count} drives; {drives.Count} were attached.", nameof(drives));
        }

        _drives = [.. drives.OrderBy(d => d.Index)];
        _media = new ITapeMedium?[_drives.Length];
        for (var i = 0; i < _drives.Length; i++)
        {
            if (_drives[i].Index != i || _drives[i].ElementAddress != Geometry.DataTransfer.FirstAddress + i)
            {
                throw new ArgumentException($"Drive {i} must sit at element {Geometry.DataTransfer.FirstAddress + i}.", nameof(drives));
            }

            _drives[i].Unloaded += OnDriveUnloaded;
        }

        Drives = [.. _drives.Select(d => new DriveDescriptor(d.ElementAddress, d.VendorId, d.ProductId, d.SerialNumber, d.Lun))];
    }

    /// <summary>
    /// Ensures the configured startup tapes and auto-create policies, tops the I/E slots up to every policy's minimum
    /// (tapes may have been imported, or policies changed, while the gateway was down), then re-loads every tape the
    /// catalog says is in a drive.
    /// </summary>
    public async Task StartAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(Options.TapeDirectoryPath);
        await EnsureStartupTapesAsync(ct).ConfigureAwait(false);
        await FinishPendingDeletionsAsync(ct).ConfigureAwait(false);
        await EnsureConfiguredPoliciesAsync(ct).ConfigureAwait(false);
        await RunAutoCreateAsync("start", ct).ConfigureAwait(false);

        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var inventory = await GetCatalogInventoryAsync(ct).ConfigureAwait(false);
            foreach (var element in inventory.OfType(CatalogElementType.Drive).Where(e => e.Barcode is not null))
            {
                var drive = DriveAt((ushort)element.Address);
                var tape = await _tapes.GetTapeAsync(element.Barcode!, ct).ConfigureAwait(false);
                if (drive is null || tape is null)
                {
                    continue;
                }

                try
                {
                    // The drive positions at BOP on load: an initiator that had the tape mid-way rewinds cleanly, as after
                    // a power cycle of a real library (the UNIT ATTENTION tells it the medium may have changed).
                    var (cartridge, problem) = DescribeCartridge(tape, drive.Personality);
                    if (cartridge is null)
                    {
                        LogReloadFailed(_logger, tape.Barcode, drive.Index, problem ?? "incompatible");
                        continue;
                    }

                    await LoadMediumAsync(drive, tape, cartridge, ct).ConfigureAwait(false);
                    LogReloaded(_logger, tape.Barcode, drive.Index);
                }
                catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
                {
                    // Leave the catalog as it is: the tape is still "in" the drive, the drive reports no medium, and a MOVE
                    // takes it back to a slot. Losing track of the tape would be worse than an empty drive.
                    LogReloadFailed(_logger, tape.Barcode, drive.Index, ex.Message);
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Makes every loaded cartridge durable and closes its image. The catalog still places the tape in its drive, so the
    /// next start loads it again ("a tape loaded in a drive stays loaded"). Runs after the iSCSI listener has drained.
    /// </summary>
    public async Task StopAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            foreach (var drive in _drives)
            {
                try
                {
                    var barcode = drive.LoadedBarcode;
                    var medium = drive.HasMedium ? await drive.EjectAsync(force: true, CancellationToken.None).ConfigureAwait(false) : null;
                    await CloseMediaAsync(drive, medium, barcode, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
                {
                    LogCloseFailed(_logger, drive.LoadedBarcode ?? "?", drive.Index, ex.Message);
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    // ---- IMediumChangerBackend ------------------------------------------------------------------------------------

    public async ValueTask<IReadOnlyList<SmcElementStatus>> GetElementsAsync(CancellationToken ct)
    {
        var inventory = await GetCatalogInventoryAsync(ct).ConfigureAwait(false);
        var result = new List<SmcElementStatus>(inventory.Elements.Count);
        foreach (var type in (ReadOnlySpan<SmcElementType>)[SmcElementType.MediumTransport, SmcElementType.Storage, SmcElementType.ImportExport, SmcElementType.DataTransfer])
        {
            foreach (var e in inventory.Elements.Where(e => ToSmc(e.Type) == type).OrderBy(e => e.Address))
            {
                result.Add(ToSmcStatus(e));
            }
        }

        return result;
    }

    public async ValueTask<ChangerResult> MoveAsync(ushort source, ushort destination, string actor, CancellationToken ct)
    {
        IReadOnlyList<AutoCreateOutcome>? created = null;
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var outcome = await MoveCoreAsync(source, destination, actor, Personality.MoveCapabilities, ct).ConfigureAwait(false);
            if (outcome.Result == ChangerResult.Ok && outcome.Move is { IsExport: true } move)
            {
                await NotifyExportAsync(move, actor, ct).ConfigureAwait(false);
            }

            if (outcome.Result == ChangerResult.Ok && outcome.Move is { IsImport: true } import)
            {
                // AWS spawns a replacement when a tape is imported from an I/E slot; still under the lock, so the next
                // MOVE already sees the new tape. Never fails the move (see AutoCreateLockedAsync).
                created = await AutoCreateLockedAsync("import of " + import.Barcode).ConfigureAwait(false);
            }

            return outcome.Result;
        }
        catch (Exception ex) when (ex is IOException or Microsoft.Data.Sqlite.SqliteException or InvalidDataException or UnauthorizedAccessException)
        {
            LogMoveFailed(_logger, source, destination, ex.Message);
            return ChangerResult.InternalError;
        }
        finally
        {
            _lock.Release();
            RaiseIfCreated(created);
        }
    }

    /// <summary>
    /// SMC-3 §6.3 EXCHANGE MEDIUM, all or nothing: the medium of <paramref name="firstDestination"/> goes to
    /// <paramref name="secondDestination"/>, then the source medium to <paramref name="firstDestination"/>. When the second
    /// destination is the source (a swap) the first medium parks in a free storage slot meanwhile. On a failure the
    /// completed steps are undone in reverse order.
    /// </summary>
    public async ValueTask<ChangerResult> ExchangeAsync(ushort source, ushort firstDestination, ushort secondDestination, string actor, CancellationToken ct)
    {
        IReadOnlyList<AutoCreateOutcome>? created = null;
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var (result, imported) = await ExchangeCoreAsync(source, firstDestination, secondDestination, actor, ct).ConfigureAwait(false);
            if (result == ChangerResult.Ok && imported is not null)
            {
                created = await AutoCreateLockedAsync("import of " + imported).ConfigureAwait(false);
            }

            return result;
        }
        catch (Exception ex) when (ex is IOException or Microsoft.Data.Sqlite.SqliteException or InvalidDataException or UnauthorizedAccessException)
        {
            LogMoveFailed(_logger, source, firstDestination, ex.Message);
            return ChangerResult.InternalError;
        }
        finally
        {
            _lock.Release();
            RaiseIfCreated(created);
        }
    }

    /// <summary>INITIALIZE ELEMENT STATUS: the catalog is always current, so there is nothing to re-scan.</summary>
    public ValueTask InitializeElementStatusAsync(ushort firstAddress, ushort count, CancellationToken ct) => ValueTask.CompletedTask;

    // ---- operator API ---------------------------------------------------------------------------------------------

    /// <summary>Creates tapes (all or nothing) in this library; the changer then reports a unit attention.</summary>
    public Task<CreateTapesResult> CreateTapesAsync(CreateTapesRequest request, CancellationToken ct) =>
        CreateTapesCoreAsync(request, runPolicies: true, ct);

    /// <param name="runPolicies">
    /// False for the startup tapes: they are created one by one and then moved to their configured slots, and a policy
    /// run in between could take the very I/E slot the next one is meant for; <see cref="StartAsync"/> runs the policies
    /// once afterwards instead.
    /// </param>
    private async Task<CreateTapesResult> CreateTapesCoreAsync(CreateTapesRequest request, bool runPolicies, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        request = request with { LibraryId = LibraryId };
        var tooLong = request.Barcodes?.FirstOrDefault(b => b.Length > Personality.MaxBarcodeLength)
            ?? (request.BarcodePrefix is not null && Barcodes.IsValidPrefix(request.BarcodePrefix) &&
                Barcodes.Format(request.BarcodePrefix, Math.Max(1, request.Count), request.MediaSuffix).Length > Personality.MaxBarcodeLength
                    ? Barcodes.Format(request.BarcodePrefix, Math.Max(1, request.Count), request.MediaSuffix)
                    : null);
        if (tooLong is not null)
        {
            // Spectrum Protect rejects volume tags over 8 characters (AWS backup-tsm.md); refuse before the application does.
            return new CreateTapesResult(
                CreateTapesError.InvalidBarcode,
                $"Barcode {tooLong} is longer than the {Personality.MaxBarcodeLength} characters the {Personality.Name} changer's applications accept.",
                []);
        }

        CreateTapesResult result;
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            result = await _tapes.CreateTapesAsync(request, ct).ConfigureAwait(false);
            if (result.Succeeded && runPolicies)
            {
                // Operator-created tapes may carry a policy's prefix or take the I/E slots a policy was short of; the
                // policies are re-run so the I/E slots match them again.
                await AutoCreateLockedAsync("tape creation").ConfigureAwait(false);
            }
        }
        finally
        {
            _lock.Release();
        }

        if (result.Succeeded)
        {
            LogCreated(_logger, result.Tapes.Count, string.Join(",", result.Tapes.Select(t => t.Barcode)), request.Actor);
            InventoryChangedExternally?.Invoke();
        }

        return result;
    }

    /// <summary>
    /// Deletes a tape by the AWS rules (catalog: AVAILABLE/RETRIEVED/… → DELETING), then its data (image file, cached
    /// copy, library-tier objects), then DELETING → DELETED. The data goes outside the library lock: a tape unloaded a
    /// moment ago may still be publishing, and the changer must not wait for that. If the data cannot go now, the tape
    /// stays DELETING and the next start finishes it (<see cref="FinishPendingDeletionsAsync"/>).
    /// </summary>
    public async Task<DeleteTapeResult> DeleteTapeAsync(string barcode, string actor, bool bypassGovernanceRetention, CancellationToken ct)
    {
        DeleteTapeResult result;
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            result = await _tapes.DeleteTapeAsync(barcode, actor, bypassGovernanceRetention, ct).ConfigureAwait(false);
            if (result.Succeeded)
            {
                // Deleting a tape waiting in an I/E slot lowers its policy's count (or frees a slot a policy was short of).
                await AutoCreateLockedAsync("deletion of " + barcode).ConfigureAwait(false);
            }
        }
        finally
        {
            _lock.Release();
        }

        if (result.Succeeded)
        {
            InventoryChangedExternally?.Invoke();
            if (result.ActualState == TapeState.Deleting)
            {
                try
                {
                    await RemoveTapeDataAsync(barcode, actor, ct).ConfigureAwait(false);
                    result = result with { ActualState = TapeState.Deleted };
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ObjectStoreException)
                {
                    LogDeletionNotFinished(_logger, barcode, ex.Message);
                    return result;
                }
            }

            LogDeleted(_logger, barcode, actor);
        }

        return result;
    }

    /// <summary>
    /// Removes a DELETING tape's data — image file, cached copy, library-tier objects — and completes DELETING →
    /// DELETED. AWS: deleting a tape deletes its data; the catalog already refused a tape in a drive or in the archive.
    /// </summary>
    private async Task RemoveTapeDataAsync(string barcode, string actor, CancellationToken ct)
    {
        var path = ImagePath(barcode);
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        if (_dataTier is { } tier)
        {
            // A tape unloaded a moment ago may still be publishing its manifest or uploading its tail: wait for that
            // (it is short) instead of failing the delete and leaving the tape DELETING.
            for (var attempt = 0; !await tier.TryPurgeLocalAsync(barcode, ct).ConfigureAwait(false); attempt++)
            {
                if (attempt == DeleteWaitAttempts)
                {
                    await tier.PurgeLocalAsync(barcode, ct).ConfigureAwait(false); // throws why, for the caller and the log
                }

                await Task.Delay(DeleteWaitStep, ct).ConfigureAwait(false);
            }

            await tier.DeleteLibraryObjectsAsync(barcode, ct).ConfigureAwait(false);
        }

        await _tapes.TransitionAsync(barcode, TapeState.Deleting, TapeState.Deleted, actor, "image removed", ct).ConfigureAwait(false);
    }

    private const int DeleteWaitAttempts = 300;
    private static readonly TimeSpan DeleteWaitStep = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Finishes deletions a stop or an error interrupted (catalog DELETING, data maybe still there), so no tape stays
    /// DELETING for ever. Runs at start; errors are logged and the tape is retried at the next start.
    /// </summary>
    public async Task FinishPendingDeletionsAsync(CancellationToken ct)
    {
        var pending = await _tapes.ListTapesAsync(new TapeFilter { States = [TapeState.Deleting] }, ct).ConfigureAwait(false);
        foreach (var tape in pending)
        {
            try
            {
                await RemoveTapeDataAsync(tape.Barcode, "gateway:start", ct).ConfigureAwait(false);
                LogDeleted(_logger, tape.Barcode, "gateway:start");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ObjectStoreException)
            {
                LogDeletionNotFinished(_logger, tape.Barcode, ex.Message);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> while no changer command runs. A MOVE MEDIUM commits its move and notifies the
    /// export handler under this lock, so a catalog read made here never sees a move caught between the two (the archive
    /// job's resumption of exports a restart interrupted relies on it).
    /// </summary>
    public async Task RunWhileChangerIdleAsync(Func<CancellationToken, Task> action, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(action);
        await _lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await action(ct).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task<LibraryInventory> GetCatalogInventoryAsync(CancellationToken ct) =>
        await _libraries.GetInventoryAsync(LibraryId, ct).ConfigureAwait(false)
        ?? throw new InvalidOperationException($"Library {LibraryId} vanished from the catalog.");

    public Task<IReadOnlyList<Tape>> ListTapesAsync(TapeFilter? filter, CancellationToken ct) =>
        _tapes.ListTapesAsync((filter ?? new TapeFilter()) with { LibraryId = LibraryId }, ct);

    /// <summary>The current position of the cartridge in a drive, if one is open there (cheap: in memory).</summary>
    /// <summary>
    /// The loaded tape's figures since it was loaded (what log pages 0Ch and 1Bh report), or null when the drive is
    /// empty. Counters only: safe to read while a verb runs on the medium.
    /// </summary>
    public TapeStatistics? TryGetStatistics(int driveIndex) =>
        driveIndex >= 0 && driveIndex < _media.Length ? (Volatile.Read(ref _media[driveIndex]) as TapeImage)?.Statistics : null;

    public TapePosition? TryGetPosition(int driveIndex)
    {
        var medium = driveIndex >= 0 && driveIndex < _media.Length ? Volatile.Read(ref _media[driveIndex]) : null;
        if (medium is null)
        {
            return null;
        }

        try
        {
            return medium.ReadPosition();
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // A verb is in progress on the medium (one at a time): no position right now.
            return null;
        }
    }

    internal string ImagePath(string barcode) => Path.Combine(Options.TapeDirectoryPath, barcode + ".tape");

    // ---- moves ----------------------------------------------------------------------------------------------------

    private readonly record struct MoveOutcome(ChangerResult Result, MoveResult? Move = null);

    private async Task<MoveOutcome> MoveCoreAsync(ushort source, ushort destination, string actor, ElementCapabilities capabilities, CancellationToken ct)
    {
        var sourceType = Geometry.TypeOf(source);
        var destinationType = Geometry.TypeOf(destination);
        if (sourceType is null or SmcElementType.MediumTransport || destinationType is null or SmcElementType.MediumTransport)
        {
            return new(ChangerResult.InvalidElement);
        }

        var inventory = await GetCatalogInventoryAsync(ct).ConfigureAwait(false);
        var from = inventory.At(source);
        var to = inventory.At(destination);
        if (from?.Barcode is null)
        {
            return new(ChangerResult.SourceEmpty);
        }

        if (source == destination)
        {
            // SMC-3 does not forbid it; a physical picker puts the cartridge back where it was.
            return new(ChangerResult.Ok);
        }

        if (!capabilities.Allows(sourceType.Value, destinationType.Value))
        {
            return new(ChangerResult.InvalidElement);
        }

        if (to is null)
        {
            return new(ChangerResult.InvalidElement);
        }

        if (to.Barcode is not null)
        {
            return new(ChangerResult.DestinationFull);
        }

        var tape = await _tapes.GetTapeAsync(from.Barcode, ct).ConfigureAwait(false);
        if (tape is null)
        {
            return new(ChangerResult.InternalError);
        }

        // AWS: an ejected tape still IN TRANSIT TO VTS sits in its I/E slot, and taking it back into the library cancels
        // the archive. Judged as the AVAILABLE tape it becomes; the cancellation itself waits for the checks below.
        var cancelsExport = tape.State == TapeState.InTransitToVts && sourceType == SmcElementType.ImportExport && destinationType != SmcElementType.ImportExport;
        if (cancelsExport)
        {
            tape = tape with { State = TapeState.Available };
        }

        if (!TapeStates.IsMovable(tape.State))
        {
            return new(ChangerResult.NotAllowed);
        }

        var targetDrive = destinationType == SmcElementType.DataTransfer ? DriveAt(destination) : null;
        LoadedCartridge? cartridge = null;
        if (targetDrive is not null)
        {
            if (!TapeStates.IsLoadable(tape.State))
            {
                return new(ChangerResult.NotAllowed);
            }

            (cartridge, var problem) = DescribeCartridge(tape, targetDrive.Personality);
            if (cartridge is null)
            {
                LogIncompatible(_logger, tape.Barcode, targetDrive.Index, problem ?? "incompatible");
                return new(ChangerResult.IncompatibleMedium);
            }

            if (targetDrive.HasMedium)
            {
                // The catalog says empty but the unit holds a cartridge: never overwrite it.
                return new(ChangerResult.DestinationFull);
            }
        }

        // 1. Take the cartridge out of its drive (SMC-3 §6.7: MEDIUM REMOVAL PREVENTED if the drive holds it).
        var sourceDrive = sourceType == SmcElementType.DataTransfer ? DriveAt(source) : null;
        ITapeMedium? ejected = null;
        if (sourceDrive is not null && sourceDrive.HasMedium)
        {
            ejected = await sourceDrive.EjectAsync(force: false, ct).ConfigureAwait(false);
            if (ejected is null && sourceDrive.HasMedium)
            {
                return new(ChangerResult.MediumRemovalPrevented);
            }
        }

        // 2. The catalog move (the commit point). A guarded transition first: if the archive mover started ARCHIVING
        // meanwhile, the tape is no longer the initiator's to take.
        if (cancelsExport && !(await _tapes.TransitionAsync(tape.Barcode, TapeState.InTransitToVts, TapeState.Available, actor, "archive cancelled: taken back from the I/E slot", ct).ConfigureAwait(false)).Succeeded)
        {
            return new(ChangerResult.NotAllowed);
        }

        var move = await _tapes.MoveAsync(LibraryId, source, destination, actor, ct).ConfigureAwait(false);
        if (!move.Succeeded)
        {
            if (ejected is not null && sourceDrive is not null)
            {
                await ReloadAfterFailedMoveAsync(sourceDrive, tape, ejected, ct).ConfigureAwait(false);
            }

            return new(Map(move.Status));
        }

        // 3. The cartridge left its drive: durable, sealed, usage recorded.
        if (sourceDrive is not null)
        {
            await CloseMediaAsync(sourceDrive, ejected, tape.Barcode, ct).ConfigureAwait(false);
        }

        // 4. Into the destination drive; if it cannot be mounted the catalog move is undone.
        if (targetDrive is not null)
        {
            try
            {
                await LoadMediumAsync(targetDrive, tape, cartridge!, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
            {
                LogLoadFailed(_logger, tape.Barcode, targetDrive.Index, ex.Message);
                var back = await _tapes.MoveAsync(LibraryId, destination, source, SystemActor + ":rollback", CancellationToken.None).ConfigureAwait(false);
                if (!back.Succeeded)
                {
                    LogRollbackFailed(_logger, tape.Barcode, destination, source, back.Message ?? back.Status.ToString());
                }
                else if (sourceDrive is not null)
                {
                    await TryLoadAsync(sourceDrive, tape, CancellationToken.None).ConfigureAwait(false);
                }

                return new(ChangerResult.InternalError);
            }
        }

        LogMoved(_logger, tape.Barcode, source, destination, actor);
        return new(ChangerResult.Ok, move);
    }

    /// <returns>The result and, when it imported a tape (I/E → storage or drive), that tape's barcode.</returns>
    private async Task<(ChangerResult Result, string? Imported)> ExchangeCoreAsync(ushort source, ushort first, ushort second, string actor, CancellationToken ct)
    {
        var types = new[] { Geometry.TypeOf(source), Geometry.TypeOf(first), Geometry.TypeOf(second) };
        if (types.Any(t => t is null or SmcElementType.MediumTransport))
        {
            return (ChangerResult.InvalidElement, null);
        }

        var xc = Personality.ExchangeCapabilities;
        if (!xc.Allows(types[0]!.Value, types[1]!.Value) || !xc.Allows(types[1]!.Value, types[2]!.Value))
        {
            return (ChangerResult.InvalidElement, null);
        }

        var inventory = await GetCatalogInventoryAsync(ct).ConfigureAwait(false);
        if (inventory.At(source)?.Barcode is null || inventory.At(first)?.Barcode is null)
        {
            return (ChangerResult.SourceEmpty, null);
        }

        var moving = inventory.At(source)!;
        var displaced = inventory.At(first)!;

        if (source == first)
        {
            return (ChangerResult.InvalidElement, null);
        }

        if (second != source && inventory.At(second)?.Barcode is not null)
        {
            return (ChangerResult.DestinationFull, null);
        }

        // The exchange's own legality was checked against the exchange capabilities; the steps may go anywhere.
        var anyMove = new ElementCapabilities(0x0F, 0x0F, 0x0F, 0x0F);
        var steps = new List<(ushort From, ushort To)>();
        if (second == source)
        {
            var park = inventory.OfType(CatalogElementType.Storage).FirstOrDefault(e => e.Barcode is null);
            if (park is null)
            {
                return (ChangerResult.DestinationFull, null);
            }

            steps.Add((first, (ushort)park.Address));
            steps.Add((source, first));
            steps.Add(((ushort)park.Address, source));
        }
        else
        {
            steps.Add((first, second));
            steps.Add((source, first));
        }

        var done = new List<(ushort From, ushort To)>();
        var moves = new List<MoveResult>();
        foreach (var step in steps)
        {
            var outcome = await MoveCoreAsync(step.From, step.To, actor, anyMove, ct).ConfigureAwait(false);
            if (outcome.Result != ChangerResult.Ok)
            {
                for (var i = done.Count - 1; i >= 0; i--)
                {
                    var undo = await MoveCoreAsync(done[i].To, done[i].From, SystemActor + ":rollback", anyMove, CancellationToken.None).ConfigureAwait(false);
                    if (undo.Result != ChangerResult.Ok)
                    {
                        LogRollbackFailed(_logger, "?", done[i].To, done[i].From, undo.Result.ToString());
                    }
                }

                // All or nothing, SOURCE STORAGE ELEMENT ADDRESS included: the moves there and back are not the
                // initiator's.
                if (done.Count > 0)
                {
                    await _tapes.SetSourceAddressAsync(moving.Barcode!, moving.SourceAddress, CancellationToken.None).ConfigureAwait(false);
                    await _tapes.SetSourceAddressAsync(displaced.Barcode!, displaced.SourceAddress, CancellationToken.None).ConfigureAwait(false);
                }

                return (outcome.Result, null);
            }

            done.Add(step);
            if (outcome.Move is not null)
            {
                moves.Add(outcome.Move);
            }
        }

        if (second == source)
        {
            // The parking slot is the robot's business: the displaced medium came from the first destination (SMC-3
            // SOURCE STORAGE ELEMENT ADDRESS), or out of a drive, from the slot it had been loaded from.
            var from = types[1] is SmcElementType.Storage or SmcElementType.ImportExport ? first : displaced.SourceAddress;
            await _tapes.SetSourceAddressAsync(displaced.Barcode!, from, ct).ConfigureAwait(false);
        }

        // Exports are judged on where each tape started and ended, not on the parking step.
        if (types[1] == SmcElementType.ImportExport && types[0] != SmcElementType.ImportExport)
        {
            await NotifyExportAsync(new MoveResult(MoveStatus.Ok, moving.Barcode, source, first, IsExport: true), actor, ct).ConfigureAwait(false);
        }

        if (types[2] == SmcElementType.ImportExport && types[1] != SmcElementType.ImportExport)
        {
            await NotifyExportAsync(new MoveResult(MoveStatus.Ok, displaced.Barcode, first, second, IsExport: true), actor, ct).ConfigureAwait(false);
        }

        // Imports likewise: a tape that started in an I/E slot and ended outside one (the parking step alone is none).
        var imported = types[0] == SmcElementType.ImportExport && types[1] != SmcElementType.ImportExport ? moving.Barcode
            : types[1] == SmcElementType.ImportExport && types[2] != SmcElementType.ImportExport ? displaced.Barcode
            : null;
        return (ChangerResult.Ok, imported);
    }

    private async Task NotifyExportAsync(MoveResult move, string actor, CancellationToken ct)
    {
        try
        {
            await _exportHandler.TapeExportedAsync(new ExportedTape(move.Barcode!, move.From ?? 0, move.To ?? 0, actor), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogExportHandlerFailed(_logger, move.Barcode ?? "?", ex);
        }
    }

    // ---- media ----------------------------------------------------------------------------------------------------

    /// <summary>
    /// What the drive is told about a cartridge, or why it cannot go into a drive of <paramref name="drive"/>'s kind.
    /// Generation comes from the LTO media ID of the barcode (L5, LV…); plain AWS barcodes are LTO-5 (the AWS drive's
    /// own generation) unless the drive cannot write LTO-5, then they are the drive's generation. A generation the
    /// drive can read but not write loads write-protected, as on real Ultrium drives.
    /// </summary>
    internal static (LoadedCartridge? Cartridge, string? Problem) DescribeCartridge(Tape tape, TapeDrivePersonality drive)
    {
        Barcodes.TryParse(tape.Barcode, out var info);
        if (info is { MediaKind: LtoMediaKind.Cleaning })
        {
            return (null, "cleaning cartridge");
        }

        var generation = info?.Generation is int n
            ? LtoGeneration.FromNumber(n)
            : drive.CanWrite(LtoGeneration.Lto5) ? LtoGeneration.Lto5 : drive.Generation;
        if (generation is null || !drive.CanRead(generation))
        {
            return (null, $"{(generation?.Name ?? "LTO-" + info?.Generation)} media in a {drive.ProductId}");
        }

        if (tape.Worm && !drive.SupportsWorm)
        {
            return (null, "WORM media in a drive without WORM support");
        }

        var readOnly = tape.ReadOnly || TapeStates.IsReadOnlyState(tape.State) || !drive.CanWrite(generation);
        return (new LoadedCartridge(tape.Barcode, generation, tape.Worm, readOnly, false, tape.CapacityBytes, ""), null);
    }

    private async Task LoadMediumAsync(ILibraryDrive drive, Tape tape, LoadedCartridge cartridge, CancellationToken ct)
    {
        var medium = await OpenOrCreateImageAsync(tape, cartridge.ReadOnly, ct).ConfigureAwait(false);
        try
        {
            // The cartridge serial is the image's medium id: stable for the life of the tape, unique across tapes.
            var withSerial = cartridge with { MediumSerialNumber = medium.MediumId.ToString("N").ToUpperInvariant() };
            await drive.LoadAsync(medium, withSerial, ct).ConfigureAwait(false);
        }
        catch
        {
            await medium.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        Volatile.Write(ref _media[drive.Index], medium);
    }

    private async Task TryLoadAsync(ILibraryDrive drive, Tape tape, CancellationToken ct)
    {
        var (cartridge, _) = DescribeCartridge(tape, drive.Personality);
        if (cartridge is null)
        {
            return;
        }

        try
        {
            await LoadMediumAsync(drive, tape, cartridge, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or InvalidOperationException)
        {
            LogLoadFailed(_logger, tape.Barcode, drive.Index, ex.Message);
        }
    }

    /// <summary>The catalog refused the move after the drive let go: put the cartridge back as it was.</summary>
    private async Task ReloadAfterFailedMoveAsync(ILibraryDrive drive, Tape tape, ITapeMedium medium, CancellationToken ct)
    {
        var (cartridge, _) = DescribeCartridge(tape, drive.Personality);
        try
        {
            if (cartridge is not null)
            {
                await drive.LoadAsync(medium, cartridge with { MediumSerialNumber = medium.MediumId.ToString("N").ToUpperInvariant() }, ct).ConfigureAwait(false);
                return;
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            LogLoadFailed(_logger, tape.Barcode, drive.Index, ex.Message);
        }

        await CloseMediaAsync(drive, medium, tape.Barcode, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens the tape's image, creating it on first use. Creation writes a temporary file and renames it into place, so a
    /// crash never leaves a half-formatted image under the real name. The image is thin: only written records take space.
    /// </summary>
    private async Task<ITapeMedium> OpenOrCreateImageAsync(Tape tape, bool readOnly, CancellationToken ct)
    {
        var path = ImagePath(tape.Barcode);
        var mount = new TapeMountOptions { ReadOnly = readOnly, CompressionLevel = Options.CompressionLevel };
        if (_tier is not null)
        {
            return await OpenOrCreateTieredAsync(tape, path, mount, ct).ConfigureAwait(false);
        }

        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Options.TapeDirectoryPath);
            var temporary = path + ".new";
            File.Delete(temporary);
            var created = await TapeImage.CreateFileAsync(temporary, new TapeImageOptions { CapacityBytes = tape.CapacityBytes, Worm = tape.Worm }, ct: ct).ConfigureAwait(false);
            await created.DisposeAsync().ConfigureAwait(false);
            File.Move(temporary, path);
            LogImageCreated(_logger, tape.Barcode, path, tape.CapacityBytes);
        }

        return await TapeImage.OpenFileAsync(path, mount, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The object-store tier: the tape is in the local cache or in the bucket (AWS: an AVAILABLE tape is in S3). A tape
    /// that still has an image file from before the tier was enabled is copied into the tier once (the file is renamed
    /// to <c>.imported</c>, never deleted, so no data can be lost by the migration).
    /// </summary>
    private async Task<ITapeMedium> OpenOrCreateTieredAsync(Tape tape, string legacyPath, TapeMountOptions mount, CancellationToken ct)
    {
        var tier = _tier!;
        if (!await tier.ExistsAsync(tape.Barcode, ct).ConfigureAwait(false))
        {
            if (File.Exists(legacyPath))
            {
                await tier.ImportImageFileAsync(tape.Barcode, legacyPath, tape.CapacityBytes, tape.Worm, ct).ConfigureAwait(false);
                File.Move(legacyPath, legacyPath + ".imported", overwrite: true);
            }
            else
            {
                var options = new TapeImageOptions { CapacityBytes = tape.CapacityBytes, Worm = tape.Worm };
                await tier.CreateAsync(tape.Barcode, tape.CapacityBytes, tape.Worm, async store =>
                {
                    var created = await TapeImage.CreateAsync(store, options, ct: ct).ConfigureAwait(false);
                    await created.DisposeAsync().ConfigureAwait(false);
                }, ct).ConfigureAwait(false);
                LogImageCreated(_logger, tape.Barcode, "object store", tape.CapacityBytes);
            }
        }

        var opened = await tier.OpenAsync(tape.Barcode, ct).ConfigureAwait(false);
        try
        {
            return await TapeImage.OpenAsync(opened, mount, ct).ConfigureAwait(false);
        }
        catch
        {
            await opened.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Closes what the drive handed back and what the library opened for it (normally the same object): the image is
    /// made durable and sealed, and the bytes used go to the catalog (AWS TapeUsedInBytes).
    /// </summary>
    private async Task CloseMediaAsync(ILibraryDrive drive, ITapeMedium? returned, string? barcode, CancellationToken ct)
    {
        var opened = Interlocked.Exchange(ref _media[drive.Index], null);
        ITapeMedium?[] media = returned is not null && !ReferenceEquals(returned, opened) ? [returned, opened] : [opened];
        foreach (var medium in media)
        {
            if (medium is null)
            {
                continue;
            }

            long? used = null;
            try
            {
                used = medium.ReadPosition().BytesUsed;
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
                // Closed already, or a verb in flight: the usage update waits for the next unload.
            }

            await medium.UnloadAsync(ct).ConfigureAwait(false);
            if (used is long bytes && barcode is not null)
            {
                await _tapes.RecordUsageAsync(barcode, bytes, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The initiator unloaded the drive (LOAD UNLOAD, LOAD=0): the tape stays in the drive element until a MOVE MEDIUM,
    /// the image stays open (LOAD=1 may thread it again), but its usage is recorded now so the API shows it.
    /// </summary>
    private void OnDriveUnloaded(ILibraryDrive drive) => _ = RecordUsageAfterUnloadAsync(drive);

    private async Task RecordUsageAfterUnloadAsync(ILibraryDrive drive)
    {
        try
        {
            if (TryGetPosition(drive.Index) is { } position && drive.LoadedBarcode is { } barcode)
            {
                await _tapes.RecordUsageAsync(barcode, position.BytesUsed, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
        {
            LogUsageFailed(_logger, drive.Index, ex.Message);
        }
    }

    // ---- startup tapes --------------------------------------------------------------------------------------------

    private async Task EnsureStartupTapesAsync(CancellationToken ct)
    {
        foreach (var spec in Options.Tapes)
        {
            var barcodes = spec.SplitBarcodes();
            for (var i = 0; i < barcodes.Count; i++)
            {
                var barcode = barcodes[i];
                if (await _tapes.IsBarcodeUsedAsync(barcode, ct).ConfigureAwait(false))
                {
                    // Created on an earlier start (or deleted since: barcodes are never reused). Leave it wherever it is.
                    continue;
                }

                var slot = spec.Slot is int first ? first + i : (int?)null;
                var placement = slot is int s && Geometry.TypeOf((ushort)s) == SmcElementType.ImportExport ? TapePlacement.ImportExport : TapePlacement.Storage;
                var result = await CreateTapesCoreAsync(
                    new CreateTapesRequest
                    {
                        LibraryId = LibraryId,
                        Barcodes = [barcode],
                        CapacityBytes = spec.CapacityBytes,
                        PoolId = spec.Pool,
                        Worm = spec.Worm,
                        Placement = placement,
                        Actor = "config",
                    },
                    runPolicies: false,
                    ct).ConfigureAwait(false);
                if (!result.Succeeded)
                {
                    LogStartupTapeFailed(_logger, barcode, result.Message ?? result.Error.ToString());
                    continue;
                }

                var created = result.Tapes[0];
                if (slot is int target && created.ElementAddress != target)
                {
                    var move = await _tapes.MoveAsync(LibraryId, created.ElementAddress!.Value, target, "config", ct).ConfigureAwait(false);
                    if (!move.Succeeded)
                    {
                        LogStartupTapeFailed(_logger, barcode, $"created in slot {created.ElementAddress} but not moved to {target}: {move.Message}");
                    }
                    else
                    {
                        // Configured into that slot, not moved there by the robot: no source, IMPEXP=1 in a mailslot.
                        await _tapes.SetSourceAddressAsync(barcode, null, ct).ConfigureAwait(false);
                    }
                }
            }
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private ILibraryDrive? DriveAt(ushort address) =>
        Geometry.DataTransfer.Contains(address) && address - Geometry.DataTransfer.FirstAddress < _drives.Length
            ? _drives[address - Geometry.DataTransfer.FirstAddress]
            : null;

    private static SmcElementType ToSmc(CatalogElementType type) => type switch
    {
        CatalogElementType.Transport => SmcElementType.MediumTransport,
        CatalogElementType.Storage => SmcElementType.Storage,
        CatalogElementType.ImportExport => SmcElementType.ImportExport,
        CatalogElementType.Drive => SmcElementType.DataTransfer,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static SmcElementStatus ToSmcStatus(Catalog.ElementStatus e)
    {
        var type = ToSmc(e.Type);
        var full = e.Barcode is not null;

        // SVALID: the last storage element the medium was moved from, which "may or may not be the same as this
        // element" (SCSI-2 §17.2.5.4, carried into SMC): a tape loaded from its slot and put back there reports that
        // slot. The catalog keeps no source until the robot first moves a tape.
        ushort? source = full && e.SourceAddress is int s ? (ushort)s : null;

        // IMPEXP: one when an operator put the cartridge in the I/E element (we create new tapes there, AWS style), zero
        // when the medium transport did (an export, even of a tape that had come from this very mailslot).
        var byOperator = type == SmcElementType.ImportExport && full && source is null;
        return new SmcElementStatus((ushort)e.Address, type, full, e.Barcode, source, PlacedByOperator: byOperator);
    }

    private static ChangerResult Map(MoveStatus status) => status switch
    {
        MoveStatus.Ok => ChangerResult.Ok,
        MoveStatus.SourceEmpty => ChangerResult.SourceEmpty,
        MoveStatus.DestinationFull => ChangerResult.DestinationFull,
        MoveStatus.InvalidElement => ChangerResult.InvalidElement,
        MoveStatus.NotAllowedInState => ChangerResult.NotAllowed,
        MoveStatus.TapeNotFound => ChangerResult.SourceEmpty,
        _ => ChangerResult.InternalError,
    };

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Library {Name} (id {Id}, {Changer}): {Drives} drives, {Storage} storage slots, {ImportExport} I/E slots")]
    private static partial void LogOpened(ILogger logger, string name, long id, string changer, int drives, int storage, int importExport);

    [LoggerMessage(EventId = 122, Level = LogLevel.Warning, Message = "Tape {Barcode} stays DELETING: its data could not be removed yet ({Reason}); retried at the next start")]
    private static partial void LogDeletionNotFinished(ILogger logger, string barcode, string reason);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Tape {Barcode} reloaded into drive {Drive} after restart")]
    private static partial void LogReloaded(ILogger logger, string barcode, int drive);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "Tape {Barcode} could not be reloaded into drive {Drive}: {Reason}; it stays in the drive element, MOVE MEDIUM takes it out")]
    private static partial void LogReloadFailed(ILogger logger, string barcode, int drive, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "Closing tape {Barcode} in drive {Drive} failed: {Reason}")]
    private static partial void LogCloseFailed(ILogger logger, string barcode, int drive, string reason);

    [LoggerMessage(EventId = 104, Level = LogLevel.Error, Message = "Move {Source} -> {Destination} failed: {Reason}")]
    private static partial void LogMoveFailed(ILogger logger, int source, int destination, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Created {Count} tape(s) {Barcodes} ({Actor})")]
    private static partial void LogCreated(ILogger logger, int count, string barcodes, string actor);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "Deleted tape {Barcode} ({Actor})")]
    private static partial void LogDeleted(ILogger logger, string barcode, string actor);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "Tape {Barcode} cannot go into drive {Drive}: {Reason}")]
    private static partial void LogIncompatible(ILogger logger, string barcode, int drive, string reason);

    [LoggerMessage(EventId = 108, Level = LogLevel.Error, Message = "Loading tape {Barcode} into drive {Drive} failed: {Reason}")]
    private static partial void LogLoadFailed(ILogger logger, string barcode, int drive, string reason);

    [LoggerMessage(EventId = 109, Level = LogLevel.Critical, Message = "Rolling back tape {Barcode} from {From} to {To} failed: {Reason}; the catalog and the drives disagree")]
    private static partial void LogRollbackFailed(ILogger logger, string barcode, int from, int to, string reason);

    [LoggerMessage(EventId = 110, Level = LogLevel.Debug, Message = "Tape {Barcode} moved {Source} -> {Destination} ({Actor})")]
    private static partial void LogMoved(ILogger logger, string barcode, int source, int destination, string actor);

    [LoggerMessage(EventId = 111, Level = LogLevel.Error, Message = "Export handler failed for tape {Barcode}; the move stands")]
    private static partial void LogExportHandlerFailed(ILogger logger, string barcode, Exception exception);

    [LoggerMessage(EventId = 112, Level = LogLevel.Information, Message = "Tape image for {Barcode} created at {Path} ({Capacity} bytes, thin)")]
    private static partial void LogImageCreated(ILogger logger, string barcode, string path, long capacity);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "Recording usage of drive {Drive} failed: {Reason}")]
    private static partial void LogUsageFailed(ILogger logger, int drive, string reason);

    [LoggerMessage(EventId = 114, Level = LogLevel.Warning, Message = "Startup tape {Barcode} not created: {Reason}")]
    private static partial void LogStartupTapeFailed(ILogger logger, string barcode, string reason);
}

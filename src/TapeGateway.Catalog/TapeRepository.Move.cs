using Dapper;
using Microsoft.Data.Sqlite;

namespace TapeGateway.Catalog;

public sealed partial class TapeRepository
{
    // Guarded on barcode, library, element and state: the tape must still be where and what we read.
    // source_address remembers the last slot (storage or I/E) so an unload without a destination can return it there.
    private const string MoveTapeSql = """
        UPDATE tapes
        SET element_address = @To,
            source_address = CASE WHEN @FromIsSlot = 1 THEN @From ELSE source_address END,
            updated = @Now
        WHERE barcode = @Barcode AND library_id = @LibraryId AND element_address = @From AND state = @State;
        """;

    private const string SetSourceSql = "UPDATE tapes SET source_address = @Source, updated = @Now WHERE barcode = @Barcode;";

    private const string DriveAddressSql = """
        SELECT element_address FROM drives WHERE library_id = @LibraryId AND drive_index = @DriveIndex;
        """;

    /// <summary>
    /// SMC MOVE MEDIUM: moves whatever tape is in <paramref name="fromAddress"/> to <paramref name="toAddress"/> in one
    /// transaction (guarded source and destination updates, tape location, event). A move into a drive is a load and
    /// needs a loadable state. The result's IsImport/IsExport tell the caller when AWS semantics apply (auto-create on
    /// import, archive on export); this method itself changes only positions.
    /// </summary>
    public async Task<MoveResult> MoveAsync(long libraryId, int fromAddress, int toAddress, string actor, CancellationToken cancellationToken = default)
    {
        CatalogCommands.CheckActor(actor);
        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();
        var result = await MoveInTransactionAsync(c, tx, libraryId, fromAddress, toAddress, actor, cancellationToken);
        if (result.Succeeded)
        {
            await tx.CommitAsync(cancellationToken);
        }

        return result;
    }

    /// <summary>
    /// Sets the element the tape last came from (READ ELEMENT STATUS SOURCE STORAGE ELEMENT ADDRESS; null: the robot has
    /// not moved it since an operator placed it). For a caller whose one medium movement took several catalog moves
    /// (a swap parked in a free slot, an exchange rolled back, a startup tape moved to its configured slot): the slots
    /// used in between are the robot's business and must not show.
    /// </summary>
    public async Task SetSourceAddressAsync(string barcode, int? source, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        await c.ExecuteAsync(new CommandDefinition(SetSourceSql, new { Barcode = barcode, Source = source, Now = Now() }, cancellationToken: cancellationToken));
    }

    /// <summary>Loads <paramref name="barcode"/> from wherever it sits in the library into drive <paramref name="driveIndex"/>.</summary>
    public async Task<MoveResult> LoadIntoDriveAsync(long libraryId, string barcode, int driveIndex, string actor, CancellationToken cancellationToken = default)
    {
        CatalogCommands.CheckActor(actor);
        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();
        var driveAddress = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            DriveAddressSql, new { LibraryId = libraryId, DriveIndex = driveIndex }, tx, cancellationToken: cancellationToken));
        if (driveAddress is null)
        {
            return new MoveResult(MoveStatus.InvalidElement, barcode, Message: $"Library {libraryId} has no drive {driveIndex}.");
        }

        var tape = await CatalogCommands.GetTapeAsync(c, tx, barcode, cancellationToken);
        if (tape is null)
        {
            return new MoveResult(MoveStatus.TapeNotFound, barcode, Message: $"Tape {barcode} does not exist.");
        }

        if (tape.LibraryId != libraryId || tape.ElementAddress is null)
        {
            return new MoveResult(MoveStatus.NotAllowedInState, barcode, Message: $"Tape {barcode} ({tape.State}) is not in library {libraryId}.");
        }

        var result = await MoveInTransactionAsync(c, tx, libraryId, (int)tape.ElementAddress.Value, (int)driveAddress.Value, actor, cancellationToken);
        if (result.Succeeded)
        {
            await tx.CommitAsync(cancellationToken);
        }

        return result;
    }

    /// <summary>
    /// Unloads drive <paramref name="driveIndex"/> to <paramref name="destination"/>, or when none is given to the slot the
    /// tape came from if it is still free, else the first free storage slot.
    /// </summary>
    public async Task<MoveResult> UnloadDriveAsync(long libraryId, int driveIndex, string actor, int? destination = null, CancellationToken cancellationToken = default)
    {
        CatalogCommands.CheckActor(actor);
        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();
        var driveAddress = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            DriveAddressSql, new { LibraryId = libraryId, DriveIndex = driveIndex }, tx, cancellationToken: cancellationToken));
        if (driveAddress is null)
        {
            return new MoveResult(MoveStatus.InvalidElement, Message: $"Library {libraryId} has no drive {driveIndex}.");
        }

        var drive = (await CatalogCommands.GetElementAsync(c, tx, libraryId, driveAddress.Value, cancellationToken))!;
        if (drive.Barcode is null)
        {
            return new MoveResult(MoveStatus.SourceEmpty, From: (int)driveAddress.Value, Message: $"Drive {driveIndex} is empty.");
        }

        if (destination is null)
        {
            var tape = (await CatalogCommands.GetTapeAsync(c, tx, drive.Barcode, cancellationToken))!;
            if (tape.SourceAddress is long source &&
                (await CatalogCommands.GetElementAsync(c, tx, libraryId, source, cancellationToken)) is { Barcode: null } sourceElement &&
                sourceElement.Type is ElementType.Storage or ElementType.ImportExport)
            {
                destination = (int)source;
            }
            else
            {
                var free = await CatalogCommands.FreeElementsAsync(c, tx, libraryId, ElementType.Storage, 1, cancellationToken);
                if (free.Count == 0)
                {
                    return new MoveResult(MoveStatus.DestinationFull, drive.Barcode, (int)driveAddress.Value, Message: "No free storage slot to unload into.");
                }

                destination = free[0];
            }
        }

        var result = await MoveInTransactionAsync(c, tx, libraryId, (int)driveAddress.Value, destination.Value, actor, cancellationToken);
        if (result.Succeeded)
        {
            await tx.CommitAsync(cancellationToken);
        }

        return result;
    }

    private async Task<MoveResult> MoveInTransactionAsync(
        SqliteConnection c, SqliteTransaction tx, long libraryId, int from, int to, string actor, CancellationToken ct)
    {
        var source = await CatalogCommands.GetElementAsync(c, tx, libraryId, from, ct);
        var target = await CatalogCommands.GetElementAsync(c, tx, libraryId, to, ct);
        if (source is null || target is null)
        {
            var libraryExists = await c.ExecuteScalarAsync<long>(new CommandDefinition(LibraryExistsSql, new { LibraryId = libraryId }, tx, cancellationToken: ct)) == 1;
            return libraryExists
                ? new MoveResult(MoveStatus.InvalidElement, null, from, to, Message: $"Element {(source is null ? from : to)} does not exist in library {libraryId}.")
                : new MoveResult(MoveStatus.LibraryNotFound, null, from, to, Message: $"Library {libraryId} does not exist.");
        }

        if (source.Type == ElementType.Transport || target.Type == ElementType.Transport)
        {
            return new MoveResult(MoveStatus.InvalidElement, null, from, to, Message: "The medium transport is not a source or destination; moves are atomic.");
        }

        if (source.Barcode is null)
        {
            return new MoveResult(MoveStatus.SourceEmpty, null, from, to, Message: $"Element {from} is empty.");
        }

        var barcode = source.Barcode;
        if (target.Barcode is not null)
        {
            return new MoveResult(MoveStatus.DestinationFull, barcode, from, to, Message: $"Element {to} holds {target.Barcode}.");
        }

        var tape = (await CatalogCommands.GetTapeAsync(c, tx, barcode, ct))!;
        var state = tape.ParsedState;
        if (!TapeStates.IsMovable(state) || (target.Type == ElementType.Drive && !TapeStates.IsLoadable(state)))
        {
            return new MoveResult(MoveStatus.NotAllowedInState, barcode, from, to, Message: $"Tape {barcode} is {tape.State}.");
        }

        var now = Now();
        if (!await CatalogCommands.VacateAsync(c, tx, libraryId, from, barcode, ct))
        {
            return new MoveResult(MoveStatus.SourceEmpty, null, from, to, Message: $"Element {from} no longer holds {barcode}.");
        }

        if (!await CatalogCommands.OccupyAsync(c, tx, libraryId, to, barcode, ct))
        {
            return new MoveResult(MoveStatus.DestinationFull, barcode, from, to, Message: $"Element {to} is no longer empty.");
        }

        var fromIsSlot = source.Type is ElementType.Storage or ElementType.ImportExport;
        var updated = await c.ExecuteAsync(new CommandDefinition(
            MoveTapeSql,
            new { Barcode = barcode, LibraryId = libraryId, From = from, To = to, FromIsSlot = fromIsSlot ? 1 : 0, State = tape.State, Now = now },
            tx,
            cancellationToken: ct));
        if (updated != 1)
        {
            throw new InvalidOperationException($"Catalog inconsistency: tape {barcode} does not record element {from}.");
        }

        var kind = target.Type == ElementType.Drive ? TapeEventKind.Loaded
            : source.Type == ElementType.Drive ? TapeEventKind.Unloaded
            : TapeEventKind.Moved;
        await CatalogCommands.AppendEventAsync(c, tx, barcode, now, kind, libraryId, null, null, from, to, actor, null, ct);

        var isImport = source.Type == ElementType.ImportExport && target.Type != ElementType.ImportExport;
        var isExport = target.Type == ElementType.ImportExport && source.Type != ElementType.ImportExport;
        return new MoveResult(MoveStatus.Ok, barcode, from, to, isImport, isExport);
    }
}

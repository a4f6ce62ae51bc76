using Dapper;
using Microsoft.Data.Sqlite;

namespace TapeGateway.Catalog;

/// <summary>
/// A tape-creation request: either explicit <see cref="Barcodes"/> (AWS CreateTapeWithBarcode, batched) or a
/// <see cref="BarcodePrefix"/> and <see cref="Count"/> (AWS CreateTapes; barcodes allocated sequentially per prefix).
/// </summary>
public sealed record CreateTapesRequest
{
    public required long LibraryId { get; init; }
    public IReadOnlyList<string>? Barcodes { get; init; }
    public string? BarcodePrefix { get; init; }
    public int Count { get; init; }

    /// <summary>Optional LTO media ID appended to generated barcodes (prefix mode only).</summary>
    public string? MediaSuffix { get; init; }

    public required long CapacityBytes { get; init; }
    public string PoolId { get; init; } = Pool.GlacierId;
    public bool Worm { get; init; }

    /// <summary>AWS puts new tapes in the I/E slots; <see cref="TapePlacement.Storage"/> puts them straight into storage slots.</summary>
    public TapePlacement Placement { get; init; } = TapePlacement.ImportExport;

    /// <summary>
    /// AVAILABLE (default: our tapes are usable as soon as the row exists) or CREATING, for a two-phase creation in which
    /// the media layer allocates backing storage and then moves the tape to AVAILABLE.
    /// </summary>
    public TapeState InitialState { get; init; } = TapeState.Available;

    public string Actor { get; init; } = "api";
}

public sealed partial class TapeRepository
{
    private const string LibraryExistsSql = "SELECT EXISTS (SELECT 1 FROM libraries WHERE id = @LibraryId);";
    private const string PoolExistsSql = "SELECT EXISTS (SELECT 1 FROM pools WHERE id = @PoolId);";
    private const string UsedBarcodesSql = "SELECT barcode FROM barcodes_used WHERE barcode IN @Barcodes;";
    private const string InsertBarcodeUsedSql = "INSERT INTO barcodes_used (barcode, first_used) VALUES (@Barcode, @Now);";

    // source_address stays NULL until the robot moves the tape: a new tape was put in its slot by the operator, not by
    // the medium transport (READ ELEMENT STATUS: SVALID=0, and IMPEXP=1 in an I/E slot).
    private const string InsertTapeSql = """
        INSERT INTO tapes (barcode, library_id, capacity_bytes, used_bytes, state, pool_id, worm, read_only, location_kind,
                           element_address, source_address, created, updated)
        VALUES (@Barcode, @LibraryId, @CapacityBytes, 0, @State, @PoolId, @Worm, 0, 'element',
                @ElementAddress, NULL, @Now, @Now);
        """;

    private const string NextSequenceSql = "SELECT next_value FROM barcode_sequences WHERE prefix = @Prefix;";

    private const string SaveSequenceSql = """
        INSERT INTO barcode_sequences (prefix, next_value) VALUES (@Prefix, @Next)
        ON CONFLICT (prefix) DO UPDATE SET next_value = excluded.next_value;
        """;

    private const string BarcodeUsedSql = "SELECT EXISTS (SELECT 1 FROM barcodes_used WHERE barcode = @Barcode);";

    /// <summary>
    /// Creates tapes all-or-nothing: if any barcode is invalid or used, or there are not enough free slots of the requested
    /// kind, nothing is created and the result says why.
    /// </summary>
    public async Task<CreateTapesResult> CreateTapesAsync(CreateTapesRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        CatalogCommands.CheckActor(request.Actor);

        var explicitMode = request.Barcodes is { Count: > 0 };
        var prefixMode = request.BarcodePrefix is not null;
        if (explicitMode == prefixMode)
        {
            return CreateTapesResult.Fail(CreateTapesError.InvalidRequest, "Give either Barcodes or BarcodePrefix with Count.");
        }

        if (request.InitialState is not (TapeState.Available or TapeState.Creating))
        {
            return CreateTapesResult.Fail(CreateTapesError.InvalidRequest, "New tapes start CREATING or AVAILABLE.");
        }

        if (prefixMode)
        {
            var problem = CheckPrefixAndSuffix(request.BarcodePrefix!, request.MediaSuffix, request.Worm);
            if (problem is not null)
            {
                return CreateTapesResult.Fail(CreateTapesError.InvalidBarcode, problem);
            }

            if (request.Count is < 1 or > 4096)
            {
                return CreateTapesResult.Fail(CreateTapesError.InvalidRequest, "Count must be 1–4096.");
            }
        }
        else
        {
            if (request.MediaSuffix is not null)
            {
                return CreateTapesResult.Fail(CreateTapesError.InvalidRequest, "MediaSuffix applies only to generated barcodes.");
            }

            foreach (var barcode in request.Barcodes!)
            {
                var problem = CheckBarcode(barcode, request.Worm);
                if (problem is not null)
                {
                    return CreateTapesResult.Fail(CreateTapesError.InvalidBarcode, problem);
                }
            }

            var duplicate = request.Barcodes!.GroupBy(b => b, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                return CreateTapesResult.Fail(CreateTapesError.InvalidBarcode, $"Barcode {duplicate.Key} appears twice in the request.");
            }
        }

        var capacityProblem = TapeCapacity.Validate(request.CapacityBytes, _allowSmallTapes);
        if (capacityProblem is not null)
        {
            return CreateTapesResult.Fail(CreateTapesError.InvalidCapacity, capacityProblem);
        }

        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();

        if (await c.ExecuteScalarAsync<long>(new CommandDefinition(LibraryExistsSql, new { request.LibraryId }, tx, cancellationToken: cancellationToken)) == 0)
        {
            return CreateTapesResult.Fail(CreateTapesError.LibraryNotFound, $"Library {request.LibraryId} does not exist.");
        }

        if (await c.ExecuteScalarAsync<long>(new CommandDefinition(PoolExistsSql, new { request.PoolId }, tx, cancellationToken: cancellationToken)) == 0)
        {
            return CreateTapesResult.Fail(CreateTapesError.PoolNotFound, $"Pool {request.PoolId} does not exist.");
        }

        IReadOnlyList<string> barcodes;
        if (prefixMode)
        {
            var allocated = await AllocateBarcodesAsync(c, tx, request.BarcodePrefix!, request.MediaSuffix, request.Count, cancellationToken);
            if (allocated is null)
            {
                return CreateTapesResult.Fail(CreateTapesError.InvalidBarcode, $"Prefix {request.BarcodePrefix} has no barcodes left within 16 characters.");
            }

            barcodes = allocated;
        }
        else
        {
            barcodes = request.Barcodes!;
            var used = (await c.QueryAsync<string>(new CommandDefinition(UsedBarcodesSql, new { Barcodes = barcodes }, tx, cancellationToken: cancellationToken))).ToList();
            if (used.Count > 0)
            {
                return CreateTapesResult.Fail(
                    CreateTapesError.BarcodeAlreadyUsed,
                    $"Barcode(s) {string.Join(", ", used.Order(StringComparer.Ordinal))} were already used; barcodes are never reused, even after deletion.");
            }
        }

        var placement = request.Placement == TapePlacement.Storage ? ElementType.Storage : ElementType.ImportExport;
        var tapes = await InsertTapesAsync(
            c, tx, request.LibraryId, barcodes, request.CapacityBytes, request.PoolId, request.Worm, placement,
            request.InitialState, request.Actor, cancellationToken);
        if (tapes is null)
        {
            // The transaction is disposed without commit: no barcode, tape, slot or event from this batch survives.
            return CreateTapesResult.Fail(
                CreateTapesError.NoFreeSlot,
                $"Not enough free {placement.ToDb()} slots in library {request.LibraryId} for {barcodes.Count} tape(s); nothing was created.");
        }

        await tx.CommitAsync(cancellationToken);
        return new CreateTapesResult(CreateTapesError.None, null, tapes);
    }

    /// <summary>Inserts the tapes into free elements of <paramref name="placement"/>; null (nothing written) if too few are free.</summary>
    private async Task<IReadOnlyList<Tape>?> InsertTapesAsync(
        SqliteConnection c,
        SqliteTransaction tx,
        long libraryId,
        IReadOnlyList<string> barcodes,
        long capacityBytes,
        string poolId,
        bool worm,
        ElementType placement,
        TapeState initialState,
        string actor,
        CancellationToken ct)
    {
        var free = await CatalogCommands.FreeElementsAsync(c, tx, libraryId, placement, barcodes.Count, ct);
        if (free.Count < barcodes.Count)
        {
            return null;
        }

        var now = Now();
        var tapes = new List<Tape>(barcodes.Count);
        for (var i = 0; i < barcodes.Count; i++)
        {
            var barcode = barcodes[i];
            var address = free[i];
            await c.ExecuteAsync(new CommandDefinition(InsertBarcodeUsedSql, new { Barcode = barcode, Now = now }, tx, cancellationToken: ct));
            await c.ExecuteAsync(new CommandDefinition(
                InsertTapeSql,
                new
                {
                    Barcode = barcode,
                    LibraryId = libraryId,
                    CapacityBytes = capacityBytes,
                    State = initialState.ToAwsString(),
                    PoolId = poolId,
                    Worm = worm,
                    ElementAddress = address,
                    Now = now,
                },
                tx,
                cancellationToken: ct));
            if (!await CatalogCommands.OccupyAsync(c, tx, libraryId, address, barcode, ct))
            {
                throw new InvalidOperationException($"Element {address} was free a moment ago in the same transaction.");
            }

            await CatalogCommands.AppendEventAsync(
                c, tx, barcode, now, TapeEventKind.Created, libraryId, null, initialState, null, address, actor,
                $"capacity={capacityBytes} pool={poolId} worm={(worm ? 1 : 0)}", ct);
            tapes.Add(new Tape(
                barcode, libraryId, capacityBytes, 0, initialState, poolId, worm, false, TapeLocationKind.Element,
                address, null, null, null, null, now, now));
        }

        return tapes;
    }

    /// <summary>Next <paramref name="count"/> unused barcodes for the prefix; null if they would exceed 16 characters.</summary>
    private static async Task<IReadOnlyList<string>?> AllocateBarcodesAsync(
        SqliteConnection c, SqliteTransaction tx, string prefix, string? suffix, int count, CancellationToken ct)
    {
        var next = await c.ExecuteScalarAsync<long?>(new CommandDefinition(NextSequenceSql, new { Prefix = prefix }, tx, cancellationToken: ct)) ?? 1;
        var result = new List<string>(count);
        while (result.Count < count)
        {
            var candidate = Barcodes.Format(prefix, next++, suffix);
            if (!Barcodes.IsValid(candidate))
            {
                return null;
            }

            // Skip barcodes someone created by hand (CreateTapeWithBarcode) inside our numbering.
            if (await c.ExecuteScalarAsync<long>(new CommandDefinition(BarcodeUsedSql, new { Barcode = candidate }, tx, cancellationToken: ct)) == 0)
            {
                result.Add(candidate);
            }
        }

        await c.ExecuteAsync(new CommandDefinition(SaveSequenceSql, new { Prefix = prefix, Next = next }, tx, cancellationToken: ct));
        return result;
    }

    /// <summary>Null when the barcode may be created with this WORM flag, else why not.</summary>
    internal static string? CheckBarcode(string barcode, bool worm)
    {
        if (!Barcodes.TryParse(barcode, out var info))
        {
            return $"'{barcode}' is not a valid barcode: 5–16 characters A–Z and 0–9.";
        }

        return info.MediaKind switch
        {
            // Backup software believes the label: a WORM label on a rewritable tape (or the reverse) would mislead it.
            LtoMediaKind.Worm when !worm => $"{barcode} carries a WORM media ID ({info.MediaId}) but the tape is not WORM.",
            LtoMediaKind.Data when worm => $"{barcode} carries a data media ID ({info.MediaId}) but the tape is WORM.",
            LtoMediaKind.Cleaning => $"{barcode} is a cleaning-cartridge label; the catalog holds data tapes only.",
            _ => null,
        };
    }

    internal static string? CheckPrefixAndSuffix(string prefix, string? suffix, bool worm)
    {
        if (!Barcodes.IsValidPrefix(prefix))
        {
            return $"'{prefix}' is not a valid barcode prefix: 1–4 letters A–Z.";
        }

        if (suffix is not null && Barcodes.ClassifyMediaId(suffix).Kind is not (LtoMediaKind.Data or LtoMediaKind.Worm))
        {
            return $"'{suffix}' is not an LTO data or WORM media ID (L1–L9, LA, M8, LT–LZ).";
        }

        // Check the first generated barcode: catches a prefix such as CLN that would produce cleaning labels.
        return CheckBarcode(Barcodes.Format(prefix, 1, suffix), worm);
    }
}

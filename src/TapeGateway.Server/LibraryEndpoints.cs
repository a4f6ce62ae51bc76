using System.Text.Json;
using TapeGateway.Catalog;
using TapeGateway.Library;
using TapeGateway.Scsi.Ssc;

namespace TapeGateway.Server;

/// <summary>Body of POST /api/tapes. Either <see cref="Barcodes"/> or <see cref="BarcodePrefix"/> + <see cref="Count"/>.</summary>
public sealed record CreateTapesBody
{
    public int? Count { get; init; }

    public long? CapacityGiB { get; init; }

    public long? CapacityBytes { get; init; }

    public string? BarcodePrefix { get; init; }

    /// <summary>Optional LTO media ID appended to generated barcodes (L5, LV…), as AWS-compatible backup software expects.</summary>
    public string? MediaSuffix { get; init; }

    public IReadOnlyList<string>? Barcodes { get; init; }

    /// <summary>Pool id or name (GLACIER, DEEP_ARCHIVE, or a custom pool); default GLACIER.</summary>
    public string? Pool { get; init; }

    public bool Worm { get; init; }

    /// <summary>"import-export" (default: AWS puts new tapes in the I/E slots) or "storage".</summary>
    public string? Into { get; init; }
}

/// <summary>
/// Body of PUT /api/auto-create-policies/{prefix} (AWS AutomaticTapeCreationRule): <see cref="MinimumAvailable"/> and one
/// of <see cref="CapacityGiB"/> / <see cref="CapacityBytes"/> are required.
/// </summary>
public sealed record AutoCreatePolicyBody
{
    /// <summary>AVAILABLE tapes with the prefix to keep in the I/E slots: 1–10.</summary>
    public int? MinimumAvailable { get; init; }

    public long? CapacityGiB { get; init; }

    public long? CapacityBytes { get; init; }

    /// <summary>Pool id or name; default GLACIER.</summary>
    public string? Pool { get; init; }

    public bool Worm { get; init; }

    /// <summary>Optional LTO media ID appended to generated barcodes (L5; LV… for WORM).</summary>
    public string? MediaSuffix { get; init; }
}

/// <summary>
/// The library part of the management API: tapes (create, list, delete), automatic tape creation policies, the
/// inventory and the drives. User errors are
/// problem+json responses (RFC 9457) with a message that says what to change: 400 bad input, 404 unknown tape or pool,
/// 409 the catalog's rules refuse (state, retention, barcode already used, no free slot).
/// </summary>
internal static class LibraryEndpoints
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public static void Map(WebApplication app)
    {
        app.MapPost("/api/tapes", CreateAsync);
        app.MapGet("/api/tapes", ListAsync);
        app.MapGet("/api/tapes/{barcode}", GetAsync);
        app.MapDelete("/api/tapes/{barcode}", DeleteAsync);
        app.MapGet("/api/library", InventoryAsync);
        app.MapGet("/api/drives", DrivesAsync);
        app.MapGet("/api/auto-create-policies", ListPoliciesAsync);
        app.MapPut("/api/auto-create-policies/{prefix}", SetPolicyAsync);
        app.MapDelete("/api/auto-create-policies/{prefix}", DeletePolicyAsync);
    }

    private static IResult Disabled() =>
        Results.Problem("The tape library is disabled (TapeGateway:Library:Enabled=false).", statusCode: StatusCodes.Status404NotFound, title: "No library");

    private static IResult Bad(string detail, int status = StatusCodes.Status400BadRequest) =>
        Results.Problem(detail, statusCode: status, title: status switch
        {
            StatusCodes.Status404NotFound => "Not found",
            StatusCodes.Status409Conflict => "Conflict",
            _ => "Bad request",
        });

    internal static async Task<IResult> CreateAsync(HttpRequest request, IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        CreateTapesBody? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<CreateTapesBody>(request.Body, s_json, ct);
        }
        catch (JsonException ex)
        {
            return Bad($"The request body is not valid JSON for a tape request: {ex.Message}");
        }

        if (body is null)
        {
            return Bad("A JSON body is required, e.g. {\"count\": 5, \"capacityGiB\": 100, \"barcodePrefix\": \"TST\"}.");
        }

        var hasBarcodes = body.Barcodes is { Count: > 0 };
        if (hasBarcodes == (body.BarcodePrefix is not null))
        {
            return Bad("Give either barcodes (a list) or barcodePrefix with count, not both and not neither.");
        }

        if (hasBarcodes && body.Count is int n && n != body.Barcodes!.Count)
        {
            return Bad($"count is {n} but {body.Barcodes!.Count} barcodes were given; leave count out with explicit barcodes.");
        }

        if (!hasBarcodes && body.Count is null or < 1)
        {
            return Bad("count (1–4096) is required with barcodePrefix.");
        }

        if (body.CapacityGiB is not null && body.CapacityBytes is not null)
        {
            return Bad("Give capacityGiB or capacityBytes, not both.");
        }

        if (body.CapacityGiB is < 1 or > 5 * 1024)
        {
            return Bad($"capacityGiB {body.CapacityGiB} is outside 1–5120.");
        }

        var capacity = body.CapacityBytes ?? (body.CapacityGiB ?? 100) * TapeCapacity.GiB;
        TapePlacement placement;
        switch (body.Into?.ToLowerInvariant())
        {
            case null or "import-export" or "ie" or "mailslot":
                placement = TapePlacement.ImportExport;
                break;
            case "storage":
                placement = TapePlacement.Storage;
                break;
            default:
                return Bad($"into must be \"import-export\" or \"storage\", not \"{body.Into}\".");
        }

        var poolId = Pool.GlacierId;
        if (!string.IsNullOrWhiteSpace(body.Pool))
        {
            if (await library.FindPoolAsync(body.Pool, ct) is not { } pool)
            {
                return Bad($"Pool '{body.Pool}' does not exist (standard pools: GLACIER, DEEP_ARCHIVE).", StatusCodes.Status404NotFound);
            }

            poolId = pool.Id;
        }

        var result = await library.CreateTapesAsync(
            new CreateTapesRequest
            {
                LibraryId = library.LibraryId,
                Barcodes = hasBarcodes ? body.Barcodes : null,
                BarcodePrefix = hasBarcodes ? null : body.BarcodePrefix,
                Count = hasBarcodes ? 0 : body.Count!.Value,
                MediaSuffix = body.MediaSuffix,
                CapacityBytes = capacity,
                PoolId = poolId,
                Worm = body.Worm,
                Placement = placement,
                Actor = "api",
            },
            ct);
        if (!result.Succeeded)
        {
            return Bad(result.Message ?? result.Error.ToString(), result.Error switch
            {
                CreateTapesError.BarcodeAlreadyUsed or CreateTapesError.NoFreeSlot => StatusCodes.Status409Conflict,
                CreateTapesError.PoolNotFound or CreateTapesError.LibraryNotFound => StatusCodes.Status404NotFound,
                _ => StatusCodes.Status400BadRequest,
            });
        }

        return Results.Created("/api/tapes", new
        {
            barcodes = result.Tapes.Select(t => t.Barcode),
            tapes = result.Tapes.Select(t => Describe(library, t)),
        });
    }

    internal static async Task<IResult> ListAsync(IServiceProvider services, string? state, string? prefix, bool? includeDeleted, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        TapeState[]? states = null;
        if (!string.IsNullOrWhiteSpace(state))
        {
            var parsed = new List<TapeState>();
            foreach (var s in state.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!TapeStates.TryParseAws(s.ToUpperInvariant().Replace('_', ' '), out var ts))
                {
                    return Bad($"state '{s}' is not a tape status; use one of {string.Join(", ", TapeStates.All.Select(t => t.ToAwsString()))}.");
                }

                parsed.Add(ts);
            }

            states = [.. parsed];
        }

        var tapes = await library.ListTapesAsync(new TapeFilter { States = states, BarcodePrefix = prefix, IncludeDeleted = includeDeleted ?? false, Limit = 100_000 }, ct);
        return Results.Ok(tapes.Select(t => Describe(library, t)));
    }

    internal static async Task<IResult> GetAsync(IServiceProvider services, string barcode, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        var tape = await services.GetRequiredService<TapeRepository>().GetTapeAsync(barcode, ct);
        return tape is null || tape.LibraryId is long id && id != library.LibraryId
            ? Bad($"Tape {barcode} does not exist.", StatusCodes.Status404NotFound)
            : Results.Ok(Describe(library, tape));
    }

    internal static async Task<IResult> DeleteAsync(IServiceProvider services, string barcode, bool? bypassGovernanceRetention, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        var result = await library.DeleteTapeAsync(barcode, "api", bypassGovernanceRetention ?? false, ct);
        return result.Status switch
        {
            DeleteTapeStatus.Ok => Results.Ok(new { barcode, state = TapeState.Deleted.ToAwsString() }),
            DeleteTapeStatus.TapeNotFound => Bad($"Tape {barcode} does not exist.", StatusCodes.Status404NotFound),
            DeleteTapeStatus.TapeInDrive => Bad(result.Message ?? $"Tape {barcode} is in a drive; move it to a slot first.", StatusCodes.Status409Conflict),
            _ => Bad(result.Message ?? $"Tape {barcode} cannot be deleted ({result.Status}).", StatusCodes.Status409Conflict),
        };
    }

    internal static async Task<IResult> InventoryAsync(IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        var service = services.GetRequiredService<TapeLibraryService>();
        var inventory = await library.GetCatalogInventoryAsync(ct);
        var g = library.Geometry;
        return Results.Ok(new
        {
            name = library.Options.Name,
            changer = new
            {
                personality = library.Personality.Name,
                vendor = library.Personality.VendorId,
                product = library.Personality.ProductId,
                target = service.ChangerTargetName,
                lun = service.Changer?.Lun.Value,
                serial = service.Changer?.Identity.SerialNumber,
            },
            geometry = new
            {
                transport = new { first = g.Transport.FirstAddress, count = g.Transport.Count },
                storage = new { first = g.Storage.FirstAddress, count = g.Storage.Count },
                importExport = new { first = g.ImportExport.FirstAddress, count = g.ImportExport.Count },
                drives = new { first = g.DataTransfer.FirstAddress, count = g.DataTransfer.Count },
            },
            elements = inventory.Elements.Select(e => new
            {
                address = e.Address,
                type = e.Type.ToDb(),
                barcode = e.Barcode,
                state = e.TapeState?.ToAwsString(),
                source = e.Barcode is not null ? e.SourceAddress : null,
                drive = e.DriveIndex,
            }),
        });
    }

    internal static async Task<IResult> DrivesAsync(IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        var inventory = await library.GetCatalogInventoryAsync(ct);
        return Results.Ok(library.LibraryDrives.Select(d =>
        {
            var position = library.TryGetPosition(d.Index);
            var load = library.TryGetStatistics(d.Index);
            return new
            {
                index = d.Index,
                elementAddress = d.ElementAddress,
                target = d.TargetName,
                lun = d.Lun.Value,
                serial = d.SerialNumber,
                vendor = d.VendorId,
                product = d.ProductId,
                barcode = inventory.At(d.ElementAddress)?.Barcode,
                mediumLoaded = d.HasMedium,
                removalPrevented = d.IsRemovalPrevented,
                position = position is { } p
                    ? new { objectNumber = p.LogicalObjectNumber, fileNumber = p.FileNumber, blockInFile = p.BlockNumberInFile, bytesUsed = p.BytesUsed }
                    : null,

                // Since the tape was loaded, as log pages 0Ch and 1Bh report it: host bytes against the bytes the medium
                // holds for them (compressed; with encryption, the sealed blocks), and their ratio (null before any data).
                thisLoad = load is { } s
                    ? new
                    {
                        blocksWritten = s.BlocksWritten,
                        bytesFromHost = s.HostBytesWritten,
                        bytesToMedium = s.MediumBytesWritten,
                        writeCompressionRatio = Ratio(s.HostBytesWritten, s.MediumBytesWritten),
                        blocksRead = s.BlocksRead,
                        bytesToHost = s.HostBytesRead,
                        bytesFromMedium = s.MediumBytesRead,
                        readCompressionRatio = Ratio(s.HostBytesRead, s.MediumBytesRead),
                    }
                    : null,

                // What the backup application has set through MODE SELECT (reset at every load, as on the drive).
                mode = d.Mode is { } m
                    ? new
                    {
                        blockLength = m.BlockLength,
                        compression = m.Compression,
                        logicalBlockProtection = new
                        {
                            method = LogicalBlockProtection.Name(m.ProtectionMethod),
                            write = m.ProtectsWrites,
                            read = m.ProtectsReads,
                        },

                        // SSC-4 data encryption set with SECURITY PROTOCOL OUT (never the key); null when off.
                        encryption = m.Encryption is { } e
                            ? new { encrypt = e.Encrypt, decrypt = e.Decrypt, scope = e.Scope, localSets = e.LocalSets }
                            : null,
                    }
                    : null,
            };
        }));
    }

    private static double? Ratio(long host, long medium) => medium > 0 ? Math.Round((double)host / medium, 2) : null;

    internal static async Task<IResult> ListPoliciesAsync(IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        var policies = await library.ListAutoCreatePoliciesAsync(ct);
        return Results.Ok(policies.Select(p => Describe(p.Policy, p.AvailableInImportExport)));
    }

    /// <summary>
    /// Creates or replaces the policy of <paramref name="prefix"/> and applies it at once: the response lists the tapes
    /// it created and how many are still missing because no I/E slot was free (the policy is stored all the same).
    /// </summary>
    internal static async Task<IResult> SetPolicyAsync(HttpRequest request, IServiceProvider services, string prefix, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        AutoCreatePolicyBody? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<AutoCreatePolicyBody>(request.Body, s_json, ct);
        }
        catch (JsonException ex)
        {
            return Bad($"The request body is not valid JSON for an auto-create policy: {ex.Message}");
        }

        if (body is null)
        {
            return Bad("A JSON body is required, e.g. {\"minimumAvailable\": 2, \"capacityGiB\": 100, \"pool\": \"GLACIER\"}.");
        }

        if (body.MinimumAvailable is not int minimum)
        {
            return Bad("minimumAvailable (1–10) is required: the number of AVAILABLE tapes to keep in the I/E slots.");
        }

        if (minimum is < 1 or > 10)
        {
            return Bad($"minimumAvailable must be 1–10 (got {minimum}).");
        }

        if (body.CapacityGiB is not null && body.CapacityBytes is not null)
        {
            return Bad("Give capacityGiB or capacityBytes, not both.");
        }

        if (body.CapacityGiB is null && body.CapacityBytes is null)
        {
            return Bad("capacityGiB (or capacityBytes) is required: the size of the tapes the policy creates.");
        }

        if (body.CapacityGiB is < 1 or > 5 * 1024)
        {
            return Bad($"capacityGiB {body.CapacityGiB} is outside 1–5120.");
        }

        var poolId = Pool.GlacierId;
        if (!string.IsNullOrWhiteSpace(body.Pool))
        {
            if (await library.FindPoolAsync(body.Pool, ct) is not { } pool)
            {
                return Bad($"Pool '{body.Pool}' does not exist (standard pools: GLACIER, DEEP_ARCHIVE).", StatusCodes.Status404NotFound);
            }

            poolId = pool.Id;
        }

        var capacity = body.CapacityBytes ?? body.CapacityGiB!.Value * TapeCapacity.GiB;
        var result = await library.SetAutoCreatePolicyAsync(
            new AutoCreatePolicyRequest(prefix, minimum, capacity, poolId, body.Worm, string.IsNullOrEmpty(body.MediaSuffix) ? null : body.MediaSuffix),
            ct);
        if (!result.Succeeded)
        {
            return Bad(result.Message ?? result.Error.ToString(), result.Error == AutoCreatePolicyError.PoolNotFound ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest);
        }

        var outcome = result.Outcome;
        return Results.Ok(new
        {
            policy = Describe(result.Policy!, outcome is null ? null : outcome.AvailableBefore + outcome.Created.Count),

            // False when running the policy failed (logged by the gateway); the policy is stored and runs at the next import.
            applied = outcome is not null,
            created = outcome?.Created ?? [],
            shortfall = outcome?.Shortfall ?? 0,
        });
    }

    internal static async Task<IResult> DeletePolicyAsync(IServiceProvider services, string prefix, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library)
        {
            return Disabled();
        }

        if (!Barcodes.IsValidPrefix(prefix))
        {
            return Bad($"'{prefix}' is not a valid barcode prefix: 1–4 letters A–Z.");
        }

        return await library.DeleteAutoCreatePolicyAsync(prefix, ct)
            ? Results.Ok(new { prefix, deleted = true })
            : Bad($"There is no auto-create policy for prefix {prefix}.", StatusCodes.Status404NotFound);
    }

    private static object Describe(AutoCreatePolicy p, int? available) => new
    {
        prefix = p.BarcodePrefix,
        minimumAvailable = p.MinimumAvailable,
        capacityBytes = p.CapacityBytes,
        pool = p.PoolId,
        worm = p.Worm,
        mediaSuffix = p.MediaSuffix,
        available,
    };

    private static object Describe(TapeLibrary library, Tape t) => new
    {
        barcode = t.Barcode,
        state = t.State.ToAwsString(),
        capacityBytes = t.CapacityBytes,
        usedBytes = t.UsedBytes,
        pool = t.PoolId,
        worm = t.Worm,
        readOnly = t.ReadOnly,
        location = t.LocationKind.ToDb(),
        element = t.ElementAddress,
        elementType = t.ElementAddress is int a ? ElementTypeName(library, a) : null,
        created = t.Created,
    };

    private static string? ElementTypeName(TapeLibrary library, int address) => library.Geometry.TypeOf((ushort)address) switch
    {
        Scsi.Smc.ElementType.Storage => "storage",
        Scsi.Smc.ElementType.ImportExport => "import-export",
        Scsi.Smc.ElementType.DataTransfer => "drive",
        _ => null,
    };
}

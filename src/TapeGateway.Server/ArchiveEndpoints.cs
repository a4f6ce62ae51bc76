using System.Text.Json;
using TapeGateway.Archive;
using TapeGateway.Catalog;

namespace TapeGateway.Server;

/// <summary>Body of POST /api/pools (AWS CreateTapePool).</summary>
public sealed record CreatePoolBody
{
    public string? Name { get; init; }

    /// <summary>GLACIER or DEEP_ARCHIVE.</summary>
    public string? StorageClass { get; init; }

    /// <summary>NONE (default), GOVERNANCE or COMPLIANCE.</summary>
    public string? RetentionLock { get; init; }

    /// <summary>1–36500 with a lock; leave out (or 0) without.</summary>
    public int? RetentionDays { get; init; }
}

/// <summary>Body of POST /api/tapes/{barcode}/assign-pool (AWS AssignTapePool).</summary>
public sealed record AssignPoolBody
{
    /// <summary>Pool id or name.</summary>
    public string? Pool { get; init; }

    public bool BypassGovernanceRetention { get; init; }
}

/// <summary>
/// The archive part of the management API: pools, export status with progress, cancel archival, retrieve, cancel
/// retrieval, assign to pool. Errors are problem+json with a message: 400 bad input, 404 unknown tape or pool, 409 the
/// catalog's rules refuse (state, retention, pool in use), 503 archiving unavailable (no S3 tape tier).
/// Deleting a tape stays DELETE /api/tapes/{barcode}?bypassGovernanceRetention=true; the archive job removes its objects.
/// </summary>
internal static class ArchiveEndpoints
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public static void Map(WebApplication app)
    {
        app.MapGet("/api/pools", ListPoolsAsync);
        app.MapPost("/api/pools", CreatePoolAsync);
        app.MapDelete("/api/pools/{pool}", DeletePoolAsync);
        app.MapGet("/api/archive/status", StatusAsync);
        app.MapPost("/api/tapes/{barcode}/cancel-archive", CancelArchiveAsync);
        app.MapPost("/api/tapes/{barcode}/retrieve", RetrieveAsync);
        app.MapPost("/api/tapes/{barcode}/cancel-retrieval", CancelRetrievalAsync);
        app.MapPost("/api/tapes/{barcode}/assign-pool", AssignPoolAsync);
    }

    private static IResult Problem(string detail, int status) =>
        Results.Problem(detail, statusCode: status, title: status switch
        {
            StatusCodes.Status404NotFound => "Not found",
            StatusCodes.Status409Conflict => "Conflict",
            StatusCodes.Status503ServiceUnavailable => "Unavailable",
            _ => "Bad request",
        });

    private static IResult Disabled() =>
        Problem("Archiving is not configured (the tape library is disabled).", StatusCodes.Status404NotFound);

    private static IResult Refused(ArchiveRequestResult r) => Problem(r.Message ?? r.Status.ToString(), r.Status switch
    {
        ArchiveRequestStatus.NotFound => StatusCodes.Status404NotFound,
        ArchiveRequestStatus.Conflict => StatusCodes.Status409Conflict,
        ArchiveRequestStatus.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    });

    private static async Task<(T? Body, IResult? Error)> ReadAsync<T>(HttpRequest request, string example, CancellationToken ct)
        where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(request.Body, s_json, ct);
            return body is null ? (null, Problem($"A JSON body is required, e.g. {example}.", StatusCodes.Status400BadRequest)) : (body, null);
        }
        catch (JsonException ex)
        {
            return (null, Problem($"The request body is not valid JSON ({ex.Message}); expected e.g. {example}.", StatusCodes.Status400BadRequest));
        }
    }

    internal static async Task<IResult> ListPoolsAsync(IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<ArchiveOperations>() is not { } archive)
        {
            return Disabled();
        }

        return Results.Ok((await archive.ListPoolsAsync(ct)).Select(Describe));
    }

    internal static async Task<IResult> CreatePoolAsync(HttpRequest request, IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<ArchiveOperations>() is not { } archive)
        {
            return Disabled();
        }

        var (body, error) = await ReadAsync<CreatePoolBody>(
            request, "{\"name\": \"Seven years\", \"storageClass\": \"DEEP_ARCHIVE\", \"retentionLock\": \"GOVERNANCE\", \"retentionDays\": 2555}", ct);
        if (body is null)
        {
            return error!;
        }

        var r = await archive.CreatePoolAsync(body.Name, body.StorageClass, body.RetentionLock, body.RetentionDays, ct);
        return r.Succeeded ? Results.Created($"/api/pools/{r.Pool!.Id}", Describe(r.Pool)) : Refused(r);
    }

    internal static async Task<IResult> DeletePoolAsync(IServiceProvider services, string pool, CancellationToken ct)
    {
        if (services.GetService<ArchiveOperations>() is not { } archive)
        {
            return Disabled();
        }

        var r = await archive.DeletePoolAsync(pool, ct);
        return r.Succeeded ? Results.Ok(new { id = r.Pool!.Id, name = r.Pool.Name, deleted = true }) : Refused(r);
    }

    internal static async Task<IResult> StatusAsync(IServiceProvider services, bool? all, string? barcode, CancellationToken ct)
    {
        if (services.GetService<ArchiveOperations>() is not { } archive)
        {
            return Disabled();
        }

        var list = await archive.ListStatusAsync(all ?? false, string.IsNullOrWhiteSpace(barcode) ? null : barcode.Trim().ToUpperInvariant(), ct);
        return Results.Ok(new { active = archive.IsActive, tapes = list.Select(Describe) });
    }

    internal static async Task<IResult> CancelArchiveAsync(IServiceProvider services, string barcode, CancellationToken ct)
    {
        if (services.GetService<ArchiveOperations>() is not { } archive)
        {
            return Disabled();
        }

        var r = await archive.CancelArchiveAsync(barcode.ToUpperInvariant(), ArchiveOperations.DefaultActor, ct);
        return r.Succeeded ? Results.Ok(Describe(r.Tape!)) : Refused(r);
    }

    internal static async Task<IResult> RetrieveAsync(IServiceProvider services, string barcode, CancellationToken ct)
    {
        if (services.GetService<ArchiveOperations>() is not { } archive)
        {
            return Disabled();
        }

        var r = await archive.RetrieveAsync(barcode.ToUpperInvariant(), ArchiveOperations.DefaultActor, ct);
        return r.Succeeded ? Results.Accepted($"/api/archive/status?barcode={r.Tape!.Barcode}", Describe(r.Tape)) : Refused(r);
    }

    internal static async Task<IResult> CancelRetrievalAsync(IServiceProvider services, string barcode, CancellationToken ct)
    {
        if (services.GetService<ArchiveOperations>() is not { } archive)
        {
            return Disabled();
        }

        var r = await archive.CancelRetrievalAsync(barcode.ToUpperInvariant(), ArchiveOperations.DefaultActor, ct);
        return r.Succeeded ? Results.Ok(Describe(r.Tape!)) : Refused(r);
    }

    internal static async Task<IResult> AssignPoolAsync(HttpRequest request, IServiceProvider services, string barcode, CancellationToken ct)
    {
        if (services.GetService<ArchiveOperations>() is not { } archive)
        {
            return Disabled();
        }

        var (body, error) = await ReadAsync<AssignPoolBody>(request, "{\"pool\": \"DEEP_ARCHIVE\"}", ct);
        if (body is null)
        {
            return error!;
        }

        var r = await archive.AssignPoolAsync(barcode.ToUpperInvariant(), body.Pool ?? "", body.BypassGovernanceRetention, ArchiveOperations.DefaultActor, ct);
        return r.Succeeded
            ? Results.Accepted($"/api/archive/status?barcode={r.Tape!.Barcode}", new { barcode = r.Tape.Barcode, pool = Describe(r.Pool!), state = r.Tape.State.ToAwsString() })
            : Refused(r);
    }

    private static object Describe(Pool p) => new
    {
        id = p.Id,
        name = p.Name,
        storageClass = p.StorageClass.ToDb(),
        retentionLock = p.RetentionLock.ToDb(),
        retentionDays = p.RetentionDays,
        standard = p.IsStandard,
        created = p.Created,
    };

    private static object Describe(Tape t) => new
    {
        barcode = t.Barcode,
        state = t.State.ToAwsString(),
        progress = t.ArchiveProgress,
        pool = t.PoolId,
        element = t.ElementAddress,
        archiveClass = t.ArchiveClass?.ToDb(),
        readOnly = t.ReadOnly,
    };

    private static object Describe(ArchiveTapeStatus s) => new
    {
        barcode = s.Tape.Barcode,
        state = s.Tape.State.ToAwsString(),
        progress = s.Tape.ArchiveProgress,
        pool = s.Pool.Id,
        poolName = s.Pool.Name,
        storageClass = s.Pool.StorageClass.ToDb(),
        archiveClass = s.Tape.ArchiveClass?.ToDb(),
        poolMovePending = s.PoolMovePending,
        libraryCopyPendingDeletion = s.Tape.PurgeLibraryCopy,
        element = s.Tape.ElementAddress,
        usedBytes = s.Tape.UsedBytes,
        poolEntry = s.Tape.PoolEntry,
        retentionLock = s.Pool.RetentionLock.ToDb(),
        retentionStart = s.Tape.RetentionStart,
        retainUntil = s.Tape.RetainUntil(s.Pool),
    };
}

using System.Text.Json;
using TapeGateway.Catalog;
using TapeGateway.Library;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Server;

/// <summary>Body of POST /api/recovery: rebuild the catalog from the bucket, optionally from another gateway's prefix.</summary>
public sealed record RecoveryBody
{
    public string? SourceGatewayId { get; init; }
}

/// <summary>
/// The tape data tier in the management API: GET /api/cache (upload buffer and read cache fill, like AWS's
/// UploadBufferUsedInBytes / CacheUsedPercentage) and POST /api/recovery (disaster recovery from the bucket).
/// </summary>
internal static class TierEndpoints
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public static void Map(WebApplication app)
    {
        app.MapGet("/api/cache", Cache);
        app.MapPost("/api/recovery", RecoverAsync);
    }

    private static IResult Cache(IServiceProvider services)
    {
        if (services.GetService<TapeDataTier>() is not { } tier)
        {
            return Results.Problem("The object-store tier is disabled (TapeGateway:TapeCache:Enabled=false).", statusCode: StatusCodes.Status404NotFound, title: "No tier");
        }

        return Results.Ok(new
        {
            uploadBufferUsedBytes = tier.DirtyBytes,
            uploadBufferBytes = tier.Options.UploadBufferBytes,
            cacheUsedBytes = tier.CachedBytes,
            cacheBytes = tier.Options.CacheBytes,
            segmentSize = tier.Options.SegmentSize,
            uploadFailures = tier.UploadFailures,
            adoptedSegments = tier.AdoptedSegments,
            copiedOnWriteSegments = tier.CopiedOnWriteSegments,
            backgroundThreads = tier.Options.Background?.Threads ?? 0,
            backgroundNice = tier.Options.Background?.Nice ?? 0,
            backgroundThreadsLowered = tier.Options.Background?.LoweredThreads ?? 0,
            gatewayId = tier.Layout.GatewayId,
        });
    }

    private static async Task<IResult> RecoverAsync(HttpRequest request, IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<TapeLibrary>() is not { } library || services.GetService<TapeDataTier>() is null)
        {
            return Results.Problem("Recovery needs the tape library and the object-store tier.", statusCode: StatusCodes.Status404NotFound, title: "Not available");
        }

        RecoveryBody? body = null;
        if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            try
            {
                body = await JsonSerializer.DeserializeAsync<RecoveryBody>(request.Body, s_json, ct);
            }
            catch (JsonException ex)
            {
                return Results.Problem($"The request body is not valid JSON: {ex.Message}", statusCode: StatusCodes.Status400BadRequest, title: "Bad request");
            }
        }

        if (body?.SourceGatewayId is { } source && (source.Length is 0 or > 100 || source.Contains('/', StringComparison.Ordinal)))
        {
            return Results.Problem("sourceGatewayId must be 1–100 characters without '/'.", statusCode: StatusCodes.Status400BadRequest, title: "Bad request");
        }

        var report = await library.RecoverFromBucketAsync(body?.SourceGatewayId, "api:recovery", ct);
        return Results.Ok(new
        {
            available = report.Available,
            recovered = report.Recovered,
            archived = report.Archived,
            skipped = report.Skipped,
            tapes = report.Tapes.Select(t => new { barcode = t.Barcode, state = t.State?.ToAwsString(), usedBytes = t.UsedBytes, detail = t.Detail }),
        });
    }
}

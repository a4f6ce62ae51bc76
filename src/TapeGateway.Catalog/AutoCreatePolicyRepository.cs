using Dapper;
using Microsoft.Extensions.Options;

namespace TapeGateway.Catalog;

/// <summary>Automatic tape creation policies (AWS AutomaticTapeCreationRule), one per library and barcode prefix.</summary>
public sealed class AutoCreatePolicyRepository
{
    private readonly CatalogConnectionFactory _connections;
    private readonly TimeProvider _time;
    private readonly bool _allowSmallTapes;

    public AutoCreatePolicyRepository(CatalogConnectionFactory connections, TimeProvider time, IOptions<CatalogOptions> options)
    {
        _connections = connections;
        _time = time;
        _allowSmallTapes = options.Value.AllowSmallTapes;
    }

    private const string UpsertSql = """
        INSERT INTO auto_create_policies (library_id, barcode_prefix, minimum_available, capacity_bytes, pool_id, worm, media_suffix, created)
        VALUES (@LibraryId, @BarcodePrefix, @MinimumAvailable, @CapacityBytes, @PoolId, @Worm, @MediaSuffix, @Now)
        ON CONFLICT (library_id, barcode_prefix) DO UPDATE SET
            minimum_available = excluded.minimum_available, capacity_bytes = excluded.capacity_bytes,
            pool_id = excluded.pool_id, worm = excluded.worm, media_suffix = excluded.media_suffix;
        """;

    /// <summary>Creates or replaces the policy for its prefix. Throws <see cref="CatalogValidationException"/> if invalid.</summary>
    public async Task UpsertAsync(AutoCreatePolicy policy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var problem = TapeRepository.CheckPrefixAndSuffix(policy.BarcodePrefix, policy.MediaSuffix, policy.Worm)
            ?? (policy.MinimumAvailable is < 1 or > 10 ? "Minimum available tapes must be 1–10." : null)
            ?? TapeCapacity.Validate(policy.CapacityBytes, _allowSmallTapes);
        if (problem is not null)
        {
            throw new CatalogValidationException(problem);
        }

        await using var c = await _connections.OpenAsync(cancellationToken);
        await c.ExecuteAsync(new CommandDefinition(
            UpsertSql,
            new
            {
                policy.LibraryId,
                policy.BarcodePrefix,
                policy.MinimumAvailable,
                policy.CapacityBytes,
                policy.PoolId,
                policy.Worm,
                policy.MediaSuffix,
                Now = _time.GetUtcNow(),
            },
            cancellationToken: cancellationToken));
    }

    private const string ListSql = """
        SELECT library_id AS LibraryId, barcode_prefix AS BarcodePrefix, minimum_available AS MinimumAvailable,
               capacity_bytes AS CapacityBytes, pool_id AS PoolId, worm AS Worm, media_suffix AS MediaSuffix
        FROM auto_create_policies WHERE library_id = @LibraryId ORDER BY barcode_prefix;
        """;

    public async Task<IReadOnlyList<AutoCreatePolicy>> ListAsync(long libraryId, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var rows = await c.QueryAsync<PolicyRow>(new CommandDefinition(ListSql, new { LibraryId = libraryId }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    private const string DeleteSql = "DELETE FROM auto_create_policies WHERE library_id = @LibraryId AND barcode_prefix = @BarcodePrefix;";

    public async Task<bool> DeleteAsync(long libraryId, string barcodePrefix, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        return await c.ExecuteAsync(new CommandDefinition(
            DeleteSql, new { LibraryId = libraryId, BarcodePrefix = barcodePrefix }, cancellationToken: cancellationToken)) == 1;
    }
}

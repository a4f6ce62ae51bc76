using Dapper;
using Microsoft.Data.Sqlite;

namespace TapeGateway.Catalog;

/// <summary>Archive pools. The standard pools (Glacier, Deep Archive) are seeded by migration 0001; pools are immutable.</summary>
public sealed class PoolRepository
{
    private readonly CatalogConnectionFactory _connections;
    private readonly TimeProvider _time;

    public PoolRepository(CatalogConnectionFactory connections, TimeProvider time)
    {
        _connections = connections;
        _time = time;
    }

    private const string Columns =
        "id AS Id, name AS Name, storage_class AS StorageClass, retention_lock AS RetentionLock, " +
        "retention_days AS RetentionDays, is_standard AS IsStandard, created AS Created";

    private const string InsertSql = """
        INSERT INTO pools (id, name, storage_class, retention_lock, retention_days, is_standard, created)
        VALUES (@Id, @Name, @StorageClass, @RetentionLock, @RetentionDays, 0, @Now);
        """;

    /// <summary>
    /// Creates a custom pool (AWS CreateTapePool): name 2–100 characters, retention 1–36,500 days when locked, 0 when not.
    /// Throws <see cref="CatalogValidationException"/> for invalid settings or a duplicate name.
    /// </summary>
    public async Task<Pool> CreatePoolAsync(
        string name, StorageClass storageClass, RetentionLockType retentionLock = RetentionLockType.None, int retentionDays = 0,
        CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length is < 2 or > 100)
        {
            throw new CatalogValidationException("Pool name must be 2–100 characters.");
        }

        if (retentionLock == RetentionLockType.None ? retentionDays != 0 : retentionDays is < 1 or > 36500)
        {
            throw new CatalogValidationException("Retention days must be 1–36500 with a retention lock, and 0 without one.");
        }

        var pool = new Pool(
            "pool-" + Guid.NewGuid().ToString("N")[..12], name, storageClass, retentionLock, retentionDays, false,
            CatalogTime.Truncate(_time.GetUtcNow()));
        await using var c = await _connections.OpenAsync(cancellationToken);
        try
        {
            await InsertAsync(c, pool, cancellationToken);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SQLitePCL.raw.SQLITE_CONSTRAINT)
        {
            throw new CatalogValidationException($"A pool named '{name}' already exists.", e);
        }

        return pool;
    }

    /// <summary>
    /// Disaster recovery: recreates a custom pool a rebuilt catalog never saw, under its original id (the bucket's
    /// manifests name it), so its tapes keep their pool and its retention lock. Returns the pool already there when the
    /// id is known. A name another pool holds gets the id appended. Settings out of range are brought into it (a lock
    /// keeps at least one day) rather than refused: the alternative is losing the lock.
    /// </summary>
    public async Task<Pool> RecreatePoolAsync(
        string id, string name, StorageClass storageClass, RetentionLockType retentionLock, int retentionDays,
        CancellationToken cancellationToken = default)
    {
        if (await GetPoolAsync(id, cancellationToken) is { } existing)
        {
            return existing;
        }

        var days = retentionLock == RetentionLockType.None ? 0 : Math.Clamp(retentionDays, 1, 36500);
        var created = CatalogTime.Truncate(_time.GetUtcNow());
        await using var c = await _connections.OpenAsync(cancellationToken);
        foreach (var candidate in new[] { name, $"{name} ({id})" })
        {
            var pool = new Pool(id, candidate.Length > 100 ? candidate[..100] : candidate, storageClass, retentionLock, days, false, created);
            try
            {
                await InsertAsync(c, pool, cancellationToken);
                return pool;
            }
            catch (SqliteException e) when (e.SqliteErrorCode == SQLitePCL.raw.SQLITE_CONSTRAINT)
            {
                // the name is taken (or the id appeared meanwhile): try the next candidate, then read it back
            }
        }

        return await GetPoolAsync(id, cancellationToken)
            ?? throw new CatalogValidationException($"Pool {id} could not be recreated: its name and '{name} ({id})' are taken.");
    }

    private static Task InsertAsync(SqliteConnection c, Pool pool, CancellationToken cancellationToken) =>
        c.ExecuteAsync(new CommandDefinition(
            InsertSql,
            new
            {
                pool.Id,
                pool.Name,
                StorageClass = pool.StorageClass.ToDb(),
                RetentionLock = pool.RetentionLock.ToDb(),
                pool.RetentionDays,
                Now = pool.Created,
            },
            cancellationToken: cancellationToken));

    private const string GetPoolSql = "SELECT " + Columns + " FROM pools WHERE id = @Id;";

    public async Task<Pool?> GetPoolAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var row = await c.QuerySingleOrDefaultAsync<PoolRow>(new CommandDefinition(
            GetPoolSql, new { Id = id }, cancellationToken: cancellationToken));
        return row?.ToModel();
    }

    private const string ListPoolsSql = "SELECT " + Columns + " FROM pools ORDER BY is_standard DESC, name;";

    public async Task<IReadOnlyList<Pool>> ListPoolsAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        var rows = await c.QueryAsync<PoolRow>(new CommandDefinition(
            ListPoolsSql, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToModel()).ToList();
    }

    private const string PoolInUseSql = """
        SELECT EXISTS (SELECT 1 FROM tapes WHERE pool_id = @Id) OR EXISTS (SELECT 1 FROM auto_create_policies WHERE pool_id = @Id);
        """;

    private const string DeletePoolSql = "DELETE FROM pools WHERE id = @Id;";

    /// <summary>AWS DeleteTapePool: only when no tape and no auto-create policy references the pool.</summary>
    public async Task<PoolDeleteStatus> DeletePoolAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var c = await _connections.OpenAsync(cancellationToken);
        using var tx = c.BeginTransaction();
        var row = await c.QuerySingleOrDefaultAsync<PoolRow>(new CommandDefinition(
            GetPoolSql, new { Id = id }, tx, cancellationToken: cancellationToken));
        if (row is null)
        {
            return PoolDeleteStatus.NotFound;
        }

        if (row.IsStandard != 0)
        {
            return PoolDeleteStatus.StandardPool;
        }

        if (await c.ExecuteScalarAsync<long>(new CommandDefinition(PoolInUseSql, new { Id = id }, tx, cancellationToken: cancellationToken)) == 1)
        {
            return PoolDeleteStatus.InUse;
        }

        await c.ExecuteAsync(new CommandDefinition(DeletePoolSql, new { Id = id }, tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
        return PoolDeleteStatus.Ok;
    }
}

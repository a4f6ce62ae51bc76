using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace TapeGateway.Catalog;

/// <summary>One numbered migration script (embedded resource <c>Migrations/NNNN_name.sql</c>).</summary>
public sealed record Migration(int Version, string Name, string Script);

/// <summary>What <see cref="SchemaMigrator.MigrateAsync"/> did.</summary>
public sealed record MigrationReport(int FromVersion, int ToVersion, IReadOnlyList<int> Applied, string? BackupPath);

/// <summary>
/// Brings the database to the newest schema. The schema version is <c>PRAGMA user_version</c>; migration N runs as
/// <c>BEGIN; script; PRAGMA user_version = N; COMMIT;</c>, so a failing script leaves the previous version intact.
/// Before touching an existing database it is copied with <c>VACUUM INTO '&lt;file&gt;.bak-v&lt;N&gt;-&lt;timestamp&gt;'</c>.
/// Scripts run with foreign keys on; one that rebuilds a table must use <c>PRAGMA defer_foreign_keys = ON</c>
/// (foreign_keys itself cannot change inside a transaction), and <c>PRAGMA foreign_key_check</c> runs before COMMIT.
/// </summary>
public sealed partial class SchemaMigrator
{
    private const string ResourcePrefix = "TapeGateway.Catalog.Migrations.";

    private readonly CatalogConnectionFactory _connections;
    private readonly TimeProvider _time;
    private readonly ILogger<SchemaMigrator> _logger;
    private readonly bool _backupBeforeUpgrade;

    public SchemaMigrator(
        CatalogConnectionFactory connections,
        TimeProvider time,
        IOptions<CatalogOptions> options,
        ILogger<SchemaMigrator>? logger = null)
        : this(connections, time, options, LoadEmbeddedMigrations(), logger)
    {
    }

    internal SchemaMigrator(
        CatalogConnectionFactory connections,
        TimeProvider time,
        IOptions<CatalogOptions> options,
        IReadOnlyList<Migration> migrations,
        ILogger<SchemaMigrator>? logger = null)
    {
        _connections = connections;
        _time = time;
        _logger = logger ?? NullLogger<SchemaMigrator>.Instance;
        _backupBeforeUpgrade = options.Value.BackupBeforeUpgrade;
        Migrations = Validate(migrations);
    }

    public IReadOnlyList<Migration> Migrations { get; }

    public int LatestVersion => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    /// <summary>The migrations compiled into this assembly, in version order.</summary>
    public static IReadOnlyList<Migration> LoadEmbeddedMigrations()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var list = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) ||
                !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var fileName = resource[ResourcePrefix.Length..^".sql".Length];
            var match = MigrationName().Match(fileName);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Migration resource '{resource}' is not named NNNN_name.sql.");
            }

            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Missing resource {resource}.");
            using var reader = new StreamReader(stream);
            list.Add(new Migration(
                int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), fileName, reader.ReadToEnd()));
        }

        return Validate(list);
    }

    public async Task<int> GetCurrentVersionAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _connections.OpenAsync(cancellationToken);
        return await ReadVersionAsync(connection, cancellationToken);
    }

    /// <summary>Applies every migration above the current version, up to <paramref name="targetVersion"/> (default: all).</summary>
    public async Task<MigrationReport> MigrateAsync(int? targetVersion = null, CancellationToken cancellationToken = default)
    {
        var target = targetVersion ?? LatestVersion;
        if (target < 0 || target > LatestVersion)
        {
            throw new ArgumentOutOfRangeException(nameof(targetVersion), target, $"Known versions are 0..{LatestVersion}.");
        }

        var existedBefore = File.Exists(_connections.DatabasePath) && new FileInfo(_connections.DatabasePath).Length > 0;
        await using var connection = await _connections.OpenAsync(cancellationToken);

        // WAL lets readers (inventory for READ ELEMENT STATUS) run while a writer commits; the mode is stored in the file.
        var mode = await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode = WAL;");
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Could not switch the catalog to WAL mode (got '{mode}').");
        }

        var current = await ReadVersionAsync(connection, cancellationToken);
        if (current > LatestVersion)
        {
            throw new InvalidOperationException(
                $"Catalog schema version {current} is newer than this build knows ({LatestVersion}); refusing to run an older binary against it.");
        }

        var pending = Migrations.Where(m => m.Version > current && m.Version <= target).ToList();
        if (pending.Count == 0)
        {
            return new MigrationReport(current, current, [], null);
        }

        string? backupPath = null;
        if (_backupBeforeUpgrade && existedBefore && current > 0)
        {
            backupPath = await BackupAsync(connection, current, cancellationToken);
        }

        var applied = new List<int>();
        foreach (var migration in pending)
        {
            await ApplyAsync(connection, migration, cancellationToken);
            applied.Add(migration.Version);
            LogApplied(_logger, migration.Version, migration.Name);
        }

        return new MigrationReport(current, applied[^1], applied, backupPath);
    }

    private async Task<string> BackupAsync(SqliteConnection connection, int version, CancellationToken cancellationToken)
    {
        var stamp = _time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        var path = string.Create(CultureInfo.InvariantCulture, $"{_connections.DatabasePath}.bak-v{version}-{stamp}");

        // VACUUM INTO writes a consistent, compacted copy even while other connections read; a bound parameter avoids
        // quoting the path into SQL.
        await connection.ExecuteAsync(new CommandDefinition("VACUUM INTO @Path;", new { Path = path }, cancellationToken: cancellationToken));
        LogBackup(_logger, version, path);
        return path;
    }

    private static async Task ApplyAsync(SqliteConnection connection, Migration migration, CancellationToken cancellationToken)
    {
        var sql = string.Create(
            CultureInfo.InvariantCulture,
            $"BEGIN IMMEDIATE;\n{migration.Script}\n;PRAGMA user_version = {migration.Version};");
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(sql, cancellationToken: cancellationToken));
            var violations = (await connection.QueryAsync("PRAGMA foreign_key_check;")).Count();
            if (violations > 0)
            {
                throw new InvalidOperationException(
                    $"Migration {migration.Name} left {violations} foreign key violation(s); rolled back.");
            }

            await connection.ExecuteAsync("COMMIT;");
        }
        catch
        {
            // The script may have failed half-way with the transaction still open: undo all of it. SQLite itself may
            // already have rolled back (e.g. on SQLITE_FULL), which sqlite3_get_autocommit tells us.
            if (SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) == 0)
            {
                await connection.ExecuteAsync("ROLLBACK;");
            }

            throw;
        }
    }

    private static async Task<int> ReadVersionAsync(SqliteConnection connection, CancellationToken cancellationToken) =>
        (int)await connection.ExecuteScalarAsync<long>(new CommandDefinition("PRAGMA user_version;", cancellationToken: cancellationToken));

    private static List<Migration> Validate(IReadOnlyList<Migration> migrations)
    {
        var ordered = migrations.OrderBy(m => m.Version).ToList();
        for (var i = 0; i < ordered.Count; i++)
        {
            if (ordered[i].Version != i + 1)
            {
                throw new InvalidOperationException(
                    $"Migrations must be numbered 1..N without gaps or duplicates; found {ordered[i].Name} at position {i + 1}.");
            }
        }

        return ordered;
    }

    [GeneratedRegex(@"^(\d{4})_[a-z0-9_]+$")]
    private static partial Regex MigrationName();

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Catalog migration {Version} ({Name}) applied")]
    private static partial void LogApplied(ILogger logger, int version, string name);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Catalog v{Version} backed up to {Path} before upgrade")]
    private static partial void LogBackup(ILogger logger, int version, string path);
}

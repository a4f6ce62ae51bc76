using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace TapeGateway.Catalog;

/// <summary>
/// Opens catalog connections. Every connection gets <c>PRAGMA foreign_keys = ON</c> (SQLite defaults it to off per
/// connection, so a connection opened any other way would silently skip referential checks), a busy timeout (so
/// concurrent writers queue instead of failing) and <c>synchronous = FULL</c> (a committed move must survive power loss:
/// the backup application has already been told it happened).
/// </summary>
public sealed class CatalogConnectionFactory
{
    private readonly string _connectionString;
    private readonly string _pragmas;

    static CatalogConnectionFactory()
    {
        // Dapper maps DateTimeOffset to DbType.DateTimeOffset before it looks at type handlers, so without removing the
        // built-in mapping the handler is used for reading but never for parameters, and Microsoft.Data.Sqlite would
        // store "2026-11-02 10:15:30+00:00" instead of our fixed ISO format. Registered once, here, for the process.
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset?));
        SqlMapper.AddTypeHandler(new DateTimeOffsetHandler());
    }

    public CatalogConnectionFactory(IOptions<CatalogOptions> options)
    {
        var o = options.Value;
        DatabasePath = Path.GetFullPath(o.DatabasePath);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = Math.Max(1, o.BusyTimeoutMilliseconds / 1000),
        }.ToString();
        _pragmas = string.Create(
            CultureInfo.InvariantCulture,
            $"PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {o.BusyTimeoutMilliseconds}; PRAGMA synchronous = FULL;");
    }

    /// <summary>Absolute path of the database file.</summary>
    public string DatabasePath { get; }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var directory = Path.GetDirectoryName(DatabasePath);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            using var command = connection.CreateCommand();
            command.CommandText = _pragmas;
            await command.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Closes this database's pooled connections so the file can be moved, deleted or reopened cleanly (tests, shutdown);
    /// other SQLite databases in the process keep theirs.
    /// </summary>
    public void ClearPool()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }
}

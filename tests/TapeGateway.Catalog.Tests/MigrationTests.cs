using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace TapeGateway.Catalog.Tests;

public sealed partial class MigrationTests
{
    [Fact]
    public void Embedded_migrations_are_numbered_one_to_n()
    {
        var migrations = SchemaMigrator.LoadEmbeddedMigrations();
        Assert.True(migrations.Count >= 2);
        Assert.Equal(Enumerable.Range(1, migrations.Count), migrations.Select(m => m.Version));
        Assert.Equal("0001_initial", migrations[0].Name);
    }

    [Fact]
    public async Task Empty_database_is_built_from_all_migrations_in_wal_mode()
    {
        await using var ctx = CatalogTestContext.Create();
        var report = await ctx.Migrator.MigrateAsync();

        Assert.Equal(0, report.FromVersion);
        Assert.Equal(ctx.Migrator.LatestVersion, report.ToVersion);
        Assert.Equal(Enumerable.Range(1, ctx.Migrator.LatestVersion), report.Applied);
        Assert.Null(report.BackupPath);
        Assert.Equal(ctx.Migrator.LatestVersion, await ctx.Migrator.GetCurrentVersionAsync());

        await using var c = await ctx.Connections.OpenAsync();
        Assert.Equal("wal", await c.ExecuteScalarAsync<string>("PRAGMA journal_mode;"));
        var pools = await ctx.Pools.ListPoolsAsync();
        Assert.Contains(pools, p => p is { Id: "GLACIER", Name: "Glacier", StorageClass: StorageClass.Glacier, IsStandard: true });
        Assert.Contains(pools, p => p is { Id: "DEEP_ARCHIVE", Name: "Deep Archive", StorageClass: StorageClass.DeepArchive, IsStandard: true });
    }

    [Fact]
    public async Task Rerunning_migrations_is_a_no_op()
    {
        await using var ctx = CatalogTestContext.Create();
        await ctx.Migrator.MigrateAsync();
        var before = await ReadSchemaAsync(ctx.Connections);

        var again = await ctx.Migrator.MigrateAsync();

        Assert.Empty(again.Applied);
        Assert.Null(again.BackupPath);
        Assert.Equal(again.FromVersion, again.ToVersion);
        Assert.Equal(before, await ReadSchemaAsync(ctx.Connections));
        Assert.Empty(System.IO.Directory.GetFiles(ctx.Directory, "*.bak-*"));
    }

    [Fact]
    public async Task Migration_3_rebuilds_the_event_log_keeping_ids_history_and_append_only_rules()
    {
        await using var ctx = CatalogTestContext.Create();
        await ctx.Migrator.MigrateAsync(targetVersion: 2);
        var library = await ctx.Libraries.EnsureLibraryAsync(CatalogTestContext.SmallGeometry);
        Assert.True((await ctx.CreateAsync(library.Id, "EVT001", "EVT002")).Succeeded);
        List<(long Id, string Barcode, string Kind)> before;
        await using (var c = await ctx.Connections.OpenAsync())
        {
            before = [.. await c.QueryAsync<(long, string, string)>("SELECT id, barcode, kind FROM tape_events ORDER BY id;")];
        }

        ctx.Restart();
        await ctx.Migrator.MigrateAsync();

        var after = (await ctx.Tapes.GetEventsAsync("EVT001")).Concat(await ctx.Tapes.GetEventsAsync("EVT002")).OrderBy(e => e.Id).ToList();
        Assert.Equal(before, after.Select(e => (e.Id, e.Barcode, "created")).ToList());
        var tape = (await ctx.Tapes.GetTapeAsync("EVT001"))!;
        Assert.Equal((null, false), (tape.ArchiveClass, tape.PurgeLibraryCopy));

        Assert.True((await ctx.Tapes.TransitionAsync("EVT001", TapeState.Available, TapeState.InTransitToVts, "api")).Succeeded);
        var next = (await ctx.Tapes.GetEventsAsync("EVT001"))[^1];
        Assert.True(next.Id > before.Max(e => e.Id)); // AUTOINCREMENT carried over: ids are never reused

        await using var check = await ctx.Connections.OpenAsync();
        await Assert.ThrowsAsync<SqliteException>(() => check.ExecuteAsync("UPDATE tape_events SET actor = 'x';"));
        await Assert.ThrowsAsync<SqliteException>(() => check.ExecuteAsync("DELETE FROM tape_events;"));
        Assert.Equal(0L, await check.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'tape_events_0%';"));
    }

    [Fact]
    public async Task Upgrading_from_v1_backs_up_the_database_first()
    {
        await using var ctx = CatalogTestContext.Create();
        await ctx.Migrator.MigrateAsync(targetVersion: 1);
        var library = await ctx.Libraries.EnsureLibraryAsync(CatalogTestContext.SmallGeometry);
        Assert.True((await ctx.CreateAsync(library.Id, "OLD001")).Succeeded);
        ctx.Restart();

        var report = await ctx.Migrator.MigrateAsync();

        Assert.Equal(1, report.FromVersion);
        Assert.Equal(Enumerable.Range(2, ctx.Migrator.LatestVersion - 1), report.Applied);
        Assert.NotNull(report.BackupPath);
        Assert.Equal($"{ctx.DatabasePath}.bak-v1-20261102T100000000Z", report.BackupPath);
        Assert.True(File.Exists(report.BackupPath));

        // The backup is the v1 database, with its data.
        await using var backup = new SqliteConnection($"Data Source={report.BackupPath};Pooling=False");
        await backup.OpenAsync();
        Assert.Equal(1L, await backup.ExecuteScalarAsync<long>("PRAGMA user_version;"));
        Assert.Equal("OLD001", await backup.ExecuteScalarAsync<string>("SELECT barcode FROM tapes;"));
        Assert.Equal(0L, await backup.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE name = 'barcode_sequences';"));

        // And the upgraded database kept the data.
        Assert.NotNull(await ctx.Tapes.GetTapeAsync("OLD001"));
    }

    [Fact]
    public async Task Version_4_forgets_sources_that_only_repeat_the_tapes_own_element()
    {
        await using var ctx = CatalogTestContext.Create();
        await ctx.Migrator.MigrateAsync(targetVersion: 3);
        var library = await ctx.Libraries.EnsureLibraryAsync(CatalogTestContext.SmallGeometry);
        Assert.True((await ctx.CreateAsync(library.Id, "OLD001", "OLD002")).Succeeded);
        Assert.True((await ctx.Tapes.MoveAsync(library.Id, 11, 1000, "api")).Succeeded);
        await using (var c = await ctx.Connections.OpenAsync())
        {
            // How versions before 4 recorded a new tape: its own element as source.
            await c.ExecuteAsync("UPDATE tapes SET source_address = element_address WHERE barcode = 'OLD001';");
        }

        await ctx.Migrator.MigrateAsync();

        Assert.Null((await ctx.Tapes.GetTapeAsync("OLD001"))!.SourceAddress);
        Assert.Equal(11, (await ctx.Tapes.GetTapeAsync("OLD002"))!.SourceAddress);
    }

    [Fact]
    public async Task A_failing_migration_is_rolled_back_completely()
    {
        await using var ctx = CatalogTestContext.Create();
        var good = SchemaMigrator.LoadEmbeddedMigrations()[0];
        var broken = new Migration(2, "0002_broken", "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);");
        var migrator = new SchemaMigrator(ctx.Connections, ctx.Time, Options.Create(ctx.Options), [good, broken]);

        await Assert.ThrowsAsync<SqliteException>(() => migrator.MigrateAsync());

        Assert.Equal(1, await migrator.GetCurrentVersionAsync());
        await using var c = await ctx.Connections.OpenAsync();
        Assert.Equal(0L, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done';"));
        // The connection is usable afterwards (no transaction left open).
        Assert.Equal(1L, await c.ExecuteScalarAsync<long>("SELECT 1;"));
    }

    [Fact]
    public async Task A_database_newer_than_the_binary_is_refused()
    {
        await using var ctx = CatalogTestContext.Create();
        await ctx.Migrator.MigrateAsync();
        await using (var c = await ctx.Connections.OpenAsync())
        {
            await c.ExecuteAsync("PRAGMA user_version = 999;");
        }

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ctx.Migrator.MigrateAsync());
        Assert.Contains("newer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Migrations_with_gaps_are_rejected()
    {
        var options = Options.Create(new CatalogOptions { DatabasePath = "unused.db" });
        var factory = new CatalogConnectionFactory(options);
        Assert.Throws<InvalidOperationException>(() => new SchemaMigrator(
            factory, TimeProvider.System, options, [new Migration(1, "0001_a", ""), new Migration(3, "0003_c", "")]));
    }

    /// <summary>
    /// The schema built from all migrations must equal the checked-in snapshot. When a migration is added on purpose,
    /// regenerate it: UPDATE_SCHEMA_SNAPSHOT=1 dotnet test … and review the diff.
    /// </summary>
    [Fact]
    public async Task Schema_matches_checked_in_snapshot()
    {
        await using var ctx = CatalogTestContext.Create();
        await ctx.Migrator.MigrateAsync();
        var actual = await ReadSchemaAsync(ctx.Connections);

        if (Environment.GetEnvironmentVariable("UPDATE_SCHEMA_SNAPSHOT") == "1")
        {
            await File.WriteAllTextAsync(Path.Combine(SourceDirectory(), "schema.snapshot.sql"), actual);
        }

        var expected = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "schema.snapshot.sql"));
        Assert.Equal(expected.ReplaceLineEndings("\n"), actual);
    }

    [Fact]
    public async Task Every_connection_has_foreign_keys_and_busy_timeout()
    {
        await using var ctx = CatalogTestContext.Create();
        for (var i = 0; i < 3; i++)
        {
            await using var c = await ctx.Connections.OpenAsync();
            Assert.Equal(1L, await c.ExecuteScalarAsync<long>("PRAGMA foreign_keys;"));
            Assert.Equal(5000L, await c.ExecuteScalarAsync<long>("PRAGMA busy_timeout;"));
        }
    }

    /// <summary>Normalised schema: one statement per line, comments dropped, whitespace collapsed, ordered by type and name.</summary>
    internal static async Task<string> ReadSchemaAsync(CatalogConnectionFactory connections)
    {
        await using var c = await connections.OpenAsync();
        var rows = await c.QueryAsync<(string Type, string Name, string Sql)>(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type, name;");
        var sb = new StringBuilder();
        sb.Append("-- user_version ").Append(await c.ExecuteScalarAsync<long>("PRAGMA user_version;")).Append('\n');
        foreach (var (type, name, sql) in rows)
        {
            sb.Append("-- ").Append(type).Append(' ').Append(name).Append('\n');
            // Comments inside CREATE TABLE are kept by SQLite; drop them so collapsing lines cannot comment out SQL.
            sb.Append(Whitespace().Replace(LineComment().Replace(sql, " "), " ").Trim()).Append(";\n");
        }

        return sb.ToString();
    }

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") =>
        Path.GetDirectoryName(path)!;

    [GeneratedRegex(@"--[^\n]*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}

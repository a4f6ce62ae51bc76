using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Cli;
using TapeGateway.Server;

namespace TapeGateway.Archive.Tests;

/// <summary>
/// The production host in-process (ports 0, temp data directory): proves AddTapeArchive and the Quartz scheduler start
/// with the rest, and exercises the archive endpoints' input handling. No S3 tape tier is registered there, so archiving
/// is inactive: exports stay moves and a retrieval is 503 (the flow itself is covered with the fake tier elsewhere).
/// </summary>
public sealed class ArchiveHostFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public string DataDirectory { get; } = Directory.CreateTempSubdirectory("tg-archive-api-").FullName;

    public HttpClient Client { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public IServiceProvider Services => _app!.Services;

    public async Task InitializeAsync()
    {
        _app = GatewayHost.Build([], new Dictionary<string, string?>
        {
            ["TapeGateway:DataDirectory"] = DataDirectory,
            // This host has no object-store tier (tapes stay local files), so the archive verbs report "not available".
            ["TapeGateway:TapeCache:Enabled"] = "false",
            ["TapeGateway:Iscsi:Port"] = "0",
            ["TapeGateway:Iscsi:ShutdownLogoutWaitSeconds"] = "0",
            ["TapeGateway:Targets:0:Luns:0:SizeMiB"] = "16",
            ["TapeGateway:Library:Drives"] = "1",
            ["TapeGateway:Library:StorageSlots"] = "10",
            ["TapeGateway:Library:ImportExportSlots"] = "5",
            ["TapeGateway:Library:AllowSmallTapes"] = "true",
            ["TapeGateway:Library:Tapes:0:Barcode"] = "API001,API002,API003",
            ["TapeGateway:Library:Tapes:0:Slot"] = "1",
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Client = new HttpClient { BaseAddress = BaseAddress };
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[Collection(QuartzCollection.Name)]
public sealed class ApiTests(ArchiveHostFixture fixture) : IClassFixture<ArchiveHostFixture>
{
    private HttpClient Http => fixture.Client;

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private async Task<(HttpStatusCode Status, string Detail)> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        var detail = text.Length > 0 && JsonDocument.Parse(text).RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "";
        return (response.StatusCode, detail);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("null", "A JSON body is required")]
    [InlineData("{\"storageClass\": \"GLACIER\"}", "name is required")]
    [InlineData("{\"name\": \"P1\", \"storageClass\": \"ONEZONE_IA\"}", "storageClass must be GLACIER or DEEP_ARCHIVE")]
    [InlineData("{\"name\": \"P1\", \"storageClass\": \"GLACIER\", \"retentionDays\": 5}", "there is no retention lock")]
    [InlineData("{\"name\": \"P1\", \"storageClass\": \"GLACIER\", \"retentionLock\": \"COMPLIANCE\", \"retentionDays\": 40000}", "1–36500")]
    [InlineData("{\"name\": \"P1\", \"storageClass\": \"GLACIER\", \"retentionLock\": \"FOREVER\"}", "retentionLock must be")]
    public async Task Bad_pool_requests_are_400_with_a_message(string body, string expected)
    {
        var (status, detail) = await PostAsync("/api/pools", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(expected, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pools_are_created_listed_and_deleted_with_conflicts_for_standard_duplicate_and_unknown()
    {
        using var created = await Http.PostAsJsonAsync("/api/pools", new { name = "Api pool", storageClass = "DEEP_ARCHIVE", retentionLock = "GOVERNANCE", retentionDays = 7 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var pool = await JsonAsync(created);
        Assert.Equal(("DEEP_ARCHIVE", "GOVERNANCE", 7), (pool.GetProperty("storageClass").GetString(), pool.GetProperty("retentionLock").GetString(), pool.GetProperty("retentionDays").GetInt32()));

        Assert.Equal(HttpStatusCode.Conflict, (await PostAsync("/api/pools", "{\"name\": \"Api pool\", \"storageClass\": \"GLACIER\"}")).Status);
        var list = await JsonAsync(await Http.GetAsync("/api/pools"));
        Assert.Contains(list.EnumerateArray(), p => p.GetProperty("name").GetString() == "Api pool");

        using (var standard = await Http.DeleteAsync("/api/pools/GLACIER"))
        {
            Assert.Equal(HttpStatusCode.Conflict, standard.StatusCode);
        }

        using (var unknown = await Http.DeleteAsync("/api/pools/nope"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        using var deleted = await Http.DeleteAsync("/api/pools/" + pool.GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
    }

    [Fact]
    public async Task Tape_archive_verbs_refuse_bad_input_and_wrong_states()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync("/api/tapes/NOPE01/cancel-archive", "")).Status);
        var notInTransit = await PostAsync("/api/tapes/API001/cancel-archive", "");
        Assert.Equal(HttpStatusCode.Conflict, notInTransit.Status);
        Assert.Contains("not IN TRANSIT TO VTS", notInTransit.Detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, (await PostAsync("/api/tapes/API001/cancel-retrieval", "")).Status);

        // No S3 tape tier in this host: retrieval cannot work, and says so.
        var retrieve = await PostAsync("/api/tapes/API001/retrieve", "");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, retrieve.Status);
        Assert.Contains("not available", retrieve.Detail, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync("/api/tapes/API001/assign-pool", "{")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync("/api/tapes/API001/assign-pool", "{}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync("/api/tapes/API001/assign-pool", "{\"pool\": \"nope\"}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync("/api/tapes/NOPE01/assign-pool", "{\"pool\": \"GLACIER\"}")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync("/api/tapes/API001/assign-pool", "{\"pool\": \"Deep Archive\"}")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await PostAsync("/api/tapes/API001/assign-pool", "{\"pool\": \"DEEP_ARCHIVE\"}")).Status);

        var status = await JsonAsync(await Http.GetAsync("/api/archive/status"));
        Assert.False(status.GetProperty("active").GetBoolean());
        Assert.Empty(status.GetProperty("tapes").EnumerateArray());
    }

    [Fact]
    public async Task Cli_pool_commands_and_exit_codes()
    {
        var (code, output, _) = await RunCliAsync("pools", "create", "--name", "Cli pool", "--storage-class", "glacier", "--retention-lock", "compliance", "--retention-days", "30");
        Assert.Equal(TapeGatewayCli.ExitOk, code);
        Assert.Contains("Created pool Cli pool", output, StringComparison.Ordinal);

        (code, output, _) = await RunCliAsync("pools", "list");
        Assert.Equal(TapeGatewayCli.ExitOk, code);
        Assert.Contains("Cli pool", output, StringComparison.Ordinal);
        Assert.Contains("COMPLIANCE", output, StringComparison.Ordinal);

        string error;
        (code, _, error) = await RunCliAsync("pools", "create", "--name", "Cli pool", "--storage-class", "GLACIER");
        Assert.Equal(TapeGatewayCli.ExitRefused, code);
        Assert.Contains("already exists", error, StringComparison.Ordinal);

        (code, _, error) = await RunCliAsync("pools", "create", "--name", "X2", "--storage-class", "GLACIER", "--retention-lock", "governance");
        Assert.Equal(TapeGatewayCli.ExitUsage, code);
        Assert.Contains("--retention-days", error, StringComparison.Ordinal);

        (code, _, error) = await RunCliAsync("pools", "create", "--name", "X2", "--storage-class", "STANDARD");
        Assert.Equal(TapeGatewayCli.ExitUsage, code);

        (code, _, error) = await RunCliAsync("pools", "delete", "GLACIER");
        Assert.Equal(TapeGatewayCli.ExitRefused, code);
        Assert.Contains("standard pool", error, StringComparison.Ordinal);

        (code, output, _) = await RunCliAsync("pools", "delete", "cli pool");
        Assert.Equal(TapeGatewayCli.ExitOk, code);
        Assert.Contains("Deleted pool Cli pool", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_tape_archive_commands_and_exit_codes()
    {
        var (code, output, error) = await RunCliAsync("tapes", "assign-pool", "API002", "--pool", "deep archive");
        Assert.Equal(TapeGatewayCli.ExitOk, code);
        Assert.Contains("API002: pool Deep Archive (DEEP_ARCHIVE), AVAILABLE", output, StringComparison.Ordinal);

        (code, _, error) = await RunCliAsync("tapes", "assign-pool", "API002");
        Assert.Equal(TapeGatewayCli.ExitUsage, code);
        Assert.Contains("--pool is required", error, StringComparison.Ordinal);

        (code, _, error) = await RunCliAsync("tapes", "cancel-archive", "API002");
        Assert.Equal(TapeGatewayCli.ExitRefused, code);
        Assert.Contains("no archival to cancel", error, StringComparison.Ordinal);

        (code, _, error) = await RunCliAsync("tapes", "retrieve", "API002");
        Assert.Equal(TapeGatewayCli.ExitUnavailable, code);

        (code, _, error) = await RunCliAsync("tapes", "retrieve", "API002", "--wait", "--poll-seconds", "0");
        Assert.Equal(TapeGatewayCli.ExitUsage, code);

        (code, output, _) = await RunCliAsync("tapes", "export-status");
        Assert.Equal(TapeGatewayCli.ExitOk, code);
        Assert.Contains("0 tape(s)", output, StringComparison.Ordinal);
        Assert.Contains("archiving is not active", output, StringComparison.Ordinal);
    }

    private async Task<(int ExitCode, string Output, string Error)> RunCliAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await TapeGatewayCli.RunAsync([.. args, "--url", fixture.BaseAddress.ToString()], output, error);
        return (code, output.ToString(), error.ToString());
    }
}

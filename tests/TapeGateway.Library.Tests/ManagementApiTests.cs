using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Cli;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Smc;
using TapeGateway.Server;

namespace TapeGateway.Library.Tests;

/// <summary>The production host in-process (ports 0, temp data directory) with a small library.</summary>
public sealed class GatewayHostFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public string DataDirectory { get; } = Directory.CreateTempSubdirectory("tg-api-").FullName;

    public WebApplication App => _app ?? throw new InvalidOperationException("not started");

    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public TapeLibrary Library => App.Services.GetRequiredService<TapeLibrary>();

    public async Task InitializeAsync()
    {
        _app = GatewayHost.Build([], new Dictionary<string, string?>
        {
            ["TapeGateway:DataDirectory"] = DataDirectory,
            ["TapeGateway:Iscsi:Port"] = "0",
            ["TapeGateway:Iscsi:ShutdownLogoutWaitSeconds"] = "0",
            ["TapeGateway:Targets:0:Luns:0:SizeMiB"] = "16",
            ["TapeGateway:Library:Drives"] = "2",
            ["TapeGateway:Library:StorageSlots"] = "20",
            ["TapeGateway:Library:ImportExportSlots"] = "5",
            ["TapeGateway:Library:AllowSmallTapes"] = "true",
            ["TapeGateway:Library:Tapes:0:Barcode"] = "FIX001L5,FIX002L5",
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
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

public sealed class ManagementApiTests(GatewayHostFixture fixture) : IClassFixture<GatewayHostFixture>
{
    private HttpClient Http => fixture.Client;

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Fact]
    public async Task Post_tapes_with_a_prefix_creates_them_in_the_mailslots_and_returns_201_with_barcodes()
    {
        using var response = await Http.PostAsJsonAsync("/api/tapes", new { count = 2, barcodePrefix = "APIA", capacityGiB = 100 });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var json = await JsonAsync(response);
        Assert.Equal(["APIA01", "APIA02"], json.GetProperty("barcodes").EnumerateArray().Select(b => b.GetString()));
        Assert.All(json.GetProperty("tapes").EnumerateArray(), t => Assert.Equal("import-export", t.GetProperty("elementType").GetString()));
    }

    [Fact]
    public async Task Post_tapes_is_all_or_nothing_and_a_used_barcode_is_409()
    {
        using var first = await Http.PostAsJsonAsync("/api/tapes", new { barcodes = new[] { "DUP001" }, capacityBytes = 16L << 20, into = "storage" });
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        using var again = await Http.PostAsJsonAsync("/api/tapes", new { barcodes = new[] { "NEW999", "DUP001" }, capacityBytes = 16L << 20, into = "storage" });

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("DUP001", (await JsonAsync(again)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var missing = await Http.GetAsync("/api/tapes/NEW999");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Theory]
    [InlineData("{\"count\": 2", "not valid JSON")]
    [InlineData("{\"count\": 2, \"capacityGiB\": 100}", "either barcodes")]
    [InlineData("{\"barcodePrefix\": \"ABC\"}", "count")]
    [InlineData("{\"barcodePrefix\": \"ab1\", \"count\": 1}", "prefix")]
    [InlineData("{\"barcodePrefix\": \"ABC\", \"count\": 1, \"into\": \"roof\"}", "into must be")]
    [InlineData("{\"barcodePrefix\": \"ABC\", \"count\": 1, \"capacityGiB\": 1, \"capacityBytes\": 5}", "not both")]
    [InlineData("{\"barcodes\": [\"BAD\"]}", "not a valid barcode")]
    public async Task Bad_create_requests_are_400_with_a_message(string body, string expected)
    {
        using var response = await Http.PostAsync("/api/tapes", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (await JsonAsync(response)).GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Unknown_pool_is_404()
    {
        using var response = await Http.PostAsJsonAsync("/api/tapes", new { barcodePrefix = "POOL", count = 1, pool = "Nowhere" });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("Nowhere", (await JsonAsync(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_tapes_lists_state_location_and_used_bytes_and_filters_by_state()
    {
        var list = await JsonAsync(await Http.GetAsync("/api/tapes?prefix=FIX"));

        var fix = list.EnumerateArray().First(t => t.GetProperty("barcode").GetString() == "FIX001L5");
        Assert.Equal("AVAILABLE", fix.GetProperty("state").GetString());
        Assert.Equal("storage", fix.GetProperty("elementType").GetString());
        Assert.Equal(0, fix.GetProperty("usedBytes").GetInt64());
        using var bad = await Http.GetAsync("/api/tapes?state=LOST");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Delete_is_404_for_unknown_409_in_a_drive_and_200_otherwise()
    {
        using var created = await Http.PostAsJsonAsync("/api/tapes", new { barcodes = new[] { "DLT001", "DLT002" }, capacityBytes = 16L << 20, into = "storage" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var slot = (ushort)(await fixture.Library.ListTapesAsync(new Catalog.TapeFilter { BarcodePrefix = "DLT002" }, CancellationToken.None))[0].ElementAddress!.Value;
        Assert.Equal(ChangerResult.Ok, await fixture.Library.MoveAsync(slot, fixture.Library.Geometry.DataTransfer.LastAddress, "test", CancellationToken.None));

        using var unknown = await Http.DeleteAsync("/api/tapes/NOSUCH1");
        using var inDrive = await Http.DeleteAsync("/api/tapes/DLT002");
        using var ok = await Http.DeleteAsync("/api/tapes/DLT001");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, inDrive.StatusCode);
        Assert.Contains("drive", (await JsonAsync(inDrive)).GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(ChangerResult.Ok, await fixture.Library.MoveAsync(fixture.Library.Geometry.DataTransfer.LastAddress, slot, "test", CancellationToken.None));
    }

    [Fact]
    public async Task Library_lists_every_element_and_drives_list_targets_and_serials()
    {
        var library = await JsonAsync(await Http.GetAsync("/api/library"));
        var drives = await JsonAsync(await Http.GetAsync("/api/drives"));

        Assert.Equal(1 + 20 + 5 + 2, library.GetProperty("elements").GetArrayLength());
        Assert.Equal("iqn.2026-11.org.tapegateway:mediachanger", library.GetProperty("changer").GetProperty("target").GetString());
        Assert.Equal(2, drives.GetArrayLength());
        var d0 = drives[0];
        Assert.Equal("iqn.2026-11.org.tapegateway:tapedrive-01", d0.GetProperty("target").GetString());
        Assert.Equal(0, d0.GetProperty("lun").GetInt32());
        Assert.Equal(fixture.Library.Drives[0].SerialNumber, d0.GetProperty("serial").GetString());

        // The drive's mode as MODE SELECT leaves it: variable blocks, compression on (IBM default), no protection.
        var mode = d0.GetProperty("mode");
        Assert.Equal(0u, mode.GetProperty("blockLength").GetUInt32());
        Assert.True(mode.GetProperty("compression").GetBoolean());
        Assert.Equal("none", mode.GetProperty("logicalBlockProtection").GetProperty("method").GetString());
        Assert.False(mode.GetProperty("logicalBlockProtection").GetProperty("write").GetBoolean());
    }

    /// <summary>One command to a drive's logical unit from <paramref name="nexus"/>, with Data-Out when given.</summary>
    private static async Task<ScsiTask> ExecuteAsync(ScsiLibraryDrive drive, ItNexus nexus, byte[] cdb, byte[]? dataOut = null)
    {
        var task = new ScsiTask();
        task.SetCdb(cdb);
        task.Nexus = nexus;
        task.Lun = drive.Lun;
        if (dataOut is not null)
        {
            task.Direction = DataDirection.Write;
            task.ExpectedDataTransferLength = (uint)dataOut.Length;
            dataOut.CopyTo(task.PrepareDataOut(dataOut.Length));
            task.CompleteDataOut(dataOut.Length);
        }

        await drive.Unit.ExecuteAsync(task);
        return task;
    }

    [Fact]
    public async Task Drives_show_what_the_loaded_tape_took_in_since_its_load_and_how_it_compressed()
    {
        using var created = await Http.PostAsJsonAsync("/api/tapes", new { barcodes = new[] { "CMP001" }, capacityBytes = 16L << 20, into = "storage" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var slot = (ushort)(await fixture.Library.ListTapesAsync(new Catalog.TapeFilter { BarcodePrefix = "CMP001" }, CancellationToken.None))[0].ElementAddress!.Value;
        var driveAddress = fixture.Library.Geometry.DataTransfer.FirstAddress;
        Assert.Equal(ChangerResult.Ok, await fixture.Library.MoveAsync(slot, driveAddress, "test", CancellationToken.None));
        try
        {
            var drive = (ScsiLibraryDrive)fixture.Library.LibraryDrives[0];
            var nexus = new ItNexus("iqn.1994-05.com.example:load", 0x23D000000043, drive.TargetName, 1);
            Task<ScsiTask> RunAsync(byte[] cdb, byte[]? data = null) => ExecuteAsync(drive, nexus, cdb, data);

            await RunAsync(new byte[6]); // TEST UNIT READY takes the load's UNIT ATTENTION
            var record = new byte[65536];
            var words = "tape drive record filemark changer slot barcode backup restore "u8.ToArray();
            for (var i = 0; i < record.Length; i++)
            {
                record[i] = words[(i * 7 + (i / 100)) % words.Length];
            }

            for (var n = 0; n < 2; n++)
            {
                // WRITE(6), variable: compression is on after the load (DCE=1), as on the drive
                Assert.Equal(ScsiStatus.Good, (await RunAsync([0x0A, 0x00, 0x01, 0x00, 0x00, 0x00], record)).Status);
            }

            var d0 = (await JsonAsync(await Http.GetAsync("/api/drives")))[0];
            var load = d0.GetProperty("thisLoad");
            Assert.Equal(2, load.GetProperty("blocksWritten").GetInt64());
            Assert.Equal(2L * record.Length, load.GetProperty("bytesFromHost").GetInt64());
            Assert.InRange(load.GetProperty("bytesToMedium").GetInt64(), 1, record.Length);
            Assert.True(load.GetProperty("writeCompressionRatio").GetDouble() > 2);
            Assert.Equal(0, load.GetProperty("bytesToHost").GetInt64());
            Assert.Equal(JsonValueKind.Null, load.GetProperty("readCompressionRatio").ValueKind);
            Assert.Equal(JsonValueKind.Null, (await JsonAsync(await Http.GetAsync("/api/drives")))[1].GetProperty("thisLoad").ValueKind);

            var (rc, output, _) = await RunCliAsync("drives");
            Assert.Equal(0, rc);
            Assert.Matches(@"wrote 0\.1 MiB at \d+\.\d\d:1", output);
        }
        finally
        {
            Assert.Equal(ChangerResult.Ok, await fixture.Library.MoveAsync(driveAddress, slot, "test", CancellationToken.None));
        }
    }

    [Fact]
    public async Task Drive_mode_shows_the_encryption_an_application_set_never_the_key()
    {
        var drive = (ScsiLibraryDrive)fixture.Library.LibraryDrives[1];
        var nexus = new ItNexus("iqn.1994-05.com.example:crypto", 0x23D000000042, drive.TargetName, 1);
        var key = Enumerable.Range(0x40, 32).Select(i => (byte)i).ToArray();

        // SECURITY PROTOCOL OUT, tape data encryption, Set Data Encryption (as Bareos' scsicrypto sends it: ALL I_T
        // NEXUS, ENCRYPT, MIXED, algorithm 1, a 32-byte key).
        async Task<ScsiTask> SetAsync(byte encryption, byte decryption)
        {
            var page = new byte[52];
            page[1] = 0x10;
            page[3] = 48;
            page[4] = 2 << 5;
            page[6] = encryption;
            page[7] = decryption;
            page[8] = 1;
            page[19] = 32;
            key.CopyTo(page, 20);
            var cdb = new byte[16];
            cdb[0] = 0xB5;
            cdb[1] = 0x20;
            cdb[3] = 0x10;
            cdb[9] = (byte)page.Length;
            return await ExecuteAsync(drive, nexus, cdb, page);
        }

        Assert.Equal(ScsiStatus.Good, (await SetAsync(2, 3)).Status);
        try
        {
            var raw = await (await Http.GetAsync("/api/drives")).Content.ReadAsStringAsync();
            var encryption = JsonDocument.Parse(raw).RootElement[1].GetProperty("mode").GetProperty("encryption");
            Assert.True(encryption.GetProperty("encrypt").GetBoolean());
            Assert.Equal("mixed", encryption.GetProperty("decrypt").GetString());
            Assert.Equal("all-it-nexus", encryption.GetProperty("scope").GetString());
            Assert.DoesNotContain(Convert.ToBase64String(key), raw, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToHexString(key), raw, StringComparison.OrdinalIgnoreCase);

            var (rc, output, _) = await RunCliAsync("drives");
            Assert.Equal(0, rc);
            Assert.Contains("encrypting, decrypt mixed", output, StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(ScsiStatus.Good, (await SetAsync(0, 0)).Status);
        }

        var cleared = await JsonAsync(await Http.GetAsync("/api/drives"));
        Assert.False(cleared[1].GetProperty("mode").TryGetProperty("encryption", out var off) && off.ValueKind != JsonValueKind.Null);
    }

    [Fact]
    public async Task Cli_creates_lists_and_deletes_through_the_api()
    {
        var (rc, output, error) = await RunCliAsync("tapes", "create", "--count", "1", "--prefix", "CLI", "--capacity-gib", "100", "--into", "storage");
        Assert.True(rc == 0, error);
        Assert.Contains("Created 1 tape(s): CLI001", output, StringComparison.Ordinal);

        (rc, output, _) = await RunCliAsync("tapes", "list", "--prefix", "CLI");
        Assert.Equal(0, rc);
        Assert.Matches(@"CLI001\s+AVAILABLE\s+storage \d+\s+100 GiB", output);

        (rc, output, _) = await RunCliAsync("drives");
        Assert.Equal(0, rc);
        Assert.Contains("tapedrive-02", output, StringComparison.Ordinal);
        Assert.Contains("variable, compression", output, StringComparison.Ordinal);

        (rc, output, _) = await RunCliAsync("library", "show");
        Assert.Equal(0, rc);
        Assert.Contains("changer AWS-Gateway-VTL", output, StringComparison.Ordinal);

        (rc, output, _) = await RunCliAsync("tapes", "delete", "cli001");
        Assert.Equal(0, rc);
        Assert.Contains("Deleted CLI001", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_reports_api_refusals_and_usage_errors_with_exit_codes()
    {
        var (rc, _, error) = await RunCliAsync("tapes", "delete", "NOSUCH2");
        Assert.Equal(TapeGatewayCli.ExitRefused, rc);
        Assert.Contains("error: Tape NOSUCH2 does not exist. (HTTP 404)", error, StringComparison.Ordinal);

        (rc, _, error) = await RunCliAsync("tapes", "create", "--prefix", "ABC");
        Assert.Equal(TapeGatewayCli.ExitUsage, rc);
        Assert.Contains("--count is required", error, StringComparison.Ordinal);

        (rc, _, error) = await RunCliAsync("tapes", "create", "--barcode", "BAD");
        Assert.Equal(TapeGatewayCli.ExitRefused, rc);
        Assert.Contains("not a valid barcode", error, StringComparison.Ordinal);

        var unreachable = new StringWriter();
        rc = await TapeGatewayCli.RunAsync(["--url", "http://127.0.0.1:1", "drives"], TextWriter.Null, unreachable);
        Assert.Equal(TapeGatewayCli.ExitUnavailable, rc);
        Assert.Contains("cannot reach the gateway", unreachable.ToString(), StringComparison.Ordinal);
    }

    private async Task<(int ExitCode, string Output, string Error)> RunCliAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var rc = await TapeGatewayCli.RunAsync(["--url", fixture.BaseAddress.ToString(), .. args], output, error);
        return (rc, output.ToString(), error.ToString());
    }
}

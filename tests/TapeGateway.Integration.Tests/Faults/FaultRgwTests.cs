using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Initiator;
using TapeGateway.Integration.Tests.Library;
using TapeGateway.Storage;
using TapeGateway.Storage.S3;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Integration.Tests.Faults;

/// <summary>These tests stop radosgw or kill gateways: they must not overlap with other tests that use RGW.</summary>
[CollectionDefinition("rgw-faults", DisableParallelization = true)]
public sealed class RgwFaultCollection;

/// <summary>
/// Faults against the real Ceph RGW (TAPEGW_S3_ENDPOINT; skipped without it), with the gateway as its own process:
/// radosgw stopped in the middle of a backup, the gateway SIGKILLed during uploads and during an archive copy.
/// </summary>
[Collection("rgw-faults")]
public sealed class FaultRgwTests : IAsyncLifetime
{
    private const string Changer = "iqn.2026-11.org.tapegateway:mediachanger";
    private const string Drive1 = "iqn.2026-11.org.tapegateway:tapedrive-01";
    private const ushort FirstDrive = 10001;
    private const ushort Mailslot = 11;

    private static string? Endpoint => Environment.GetEnvironmentVariable("TAPEGW_S3_ENDPOINT") is { Length: > 0 } e ? e : null;

    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("tapegateway-fault-it-").FullName;
    private readonly string _bucket = $"fault-{Guid.NewGuid():N}"[..24];

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        if (Environment.GetEnvironmentVariable("TAPEGW_KEEP_TEST_DATA") is { Length: > 0 })
        {
            return Task.CompletedTask; // the gateway logs (gateway-N.log) stay for a post-mortem
        }

        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    private Dictionary<string, string> Settings(string exportAge = "00:00:00") => new()
    {
        ["TapeGateway:ObjectStore:Kind"] = "S3",
        ["TapeGateway:ObjectStore:ServiceUrl"] = Endpoint!,
        ["TapeGateway:ObjectStore:Bucket"] = _bucket,
        ["TapeGateway:ObjectStore:ForcePathStyle"] = "true",
        ["TapeGateway:ObjectStore:AccessKey"] = Environment.GetEnvironmentVariable("TAPEGW_S3_ACCESS_KEY") ?? "TESTKEY",
        ["TapeGateway:ObjectStore:SecretKey"] = Environment.GetEnvironmentVariable("TAPEGW_S3_SECRET_KEY") ?? "TESTSECRET",
        ["TapeGateway:ObjectStore:PartSize"] = (5 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["TapeGateway:ObjectStore:EmulateGlacier"] = "true",
        ["TapeGateway:ObjectStore:CreateBucket"] = "true",
        ["TapeGateway:TapeCache:SegmentSizeMiB"] = "1",
        ["TapeGateway:TapeCache:PublishIntervalSeconds"] = "1",
        ["TapeGateway:Archive:Schedule"] = "0/1 * * * * ?",
        ["TapeGateway:Archive:MinimumExportAge"] = exportAge,
        ["TapeGateway:Targets:0:Luns:0:SizeMiB"] = "16",
        ["TapeGateway:Library:Drives"] = "2",
        ["TapeGateway:Library:StorageSlots"] = "10",
        ["TapeGateway:Library:ImportExportSlots"] = "2",
        ["TapeGateway:Library:AllowSmallTapes"] = "true",
        ["TapeGateway:Library:Tapes:0:Barcode"] = "FLT001L5,FLT002L5",
        ["TapeGateway:Library:Tapes:0:Slot"] = "1",
        ["TapeGateway:Library:Tapes:0:CapacityMiB"] = "256",
        ["Logging:LogLevel:Default"] = "Information",
    };

    private static byte[][] Records(int count, int seed) =>
        [.. Enumerable.Range(seed, count).Select(i =>
        {
            var data = new byte[256 * 1024];
            new Random(i).NextBytes(data);
            return data;
        })];

    [SkippableFact]
    public async Task Radosgw_stopped_mid_backup_writes_go_on_into_the_upload_buffer_and_uploads_resume()
    {
        Skip.If(Endpoint is null, "TAPEGW_S3_ENDPOINT is not set (start an S3 with tools/rgw/start.sh)");
        await using var gateway = new GatewayProcess(_dataDirectory, Settings());
        await gateway.StartAsync();
        var records = Records(40, 100); // 10 MiB: ten 1 MiB segments

        await using (var changer = await gateway.ConnectAsync(Changer))
        await using (var drive = await gateway.ConnectAsync(Drive1))
        {
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(1, FirstDrive))).Status);
            await drive.ClearUnitAttentionsAsync();
            await WriteAsync(drive, records[..10]);

            Radosgw.Stop();
            try
            {
                // The bucket is gone: the backup goes on, acknowledged from the upload buffer (8 GiB by default).
                await WriteAsync(drive, records[10..]);
                Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.WriteFilemarks(1))).Status);
                using var http = new HttpClient { BaseAddress = gateway.ApiBase };
                var cache = await http.GetFromJsonAsync<JsonElement>("api/cache");
                Assert.True(cache.GetProperty("uploadBufferUsedBytes").GetInt64() > 0, cache.ToString());
            }
            finally
            {
                Radosgw.Start();
            }

            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.Unload())).Status);
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive, 1))).Status);
        }

        await WaitForCompleteManifestAsync("FLT001L5", records);
        await gateway.StopAsync();
        await ReadBackFromBucketOnlyAsync(gateway, 1, records);
    }

    [SkippableFact]
    public async Task Gateway_killed_during_uploads_resumes_them_after_restart_and_loses_nothing_durable()
    {
        Skip.If(Endpoint is null, "TAPEGW_S3_ENDPOINT is not set (start an S3 with tools/rgw/start.sh)");
        await using var gateway = new GatewayProcess(_dataDirectory, Settings());
        await gateway.StartAsync();
        var records = Records(48, 200); // 12 MiB

        await using (var changer = await gateway.ConnectAsync(Changer))
        await using (var drive = await gateway.ConnectAsync(Drive1))
        {
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(2, FirstDrive))).Status);
            await drive.ClearUnitAttentionsAsync();
            await WriteAsync(drive, records);

            // WRITE FILEMARKS makes every record durable (SSC-4 §4.2.9); the uploads are still running.
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.WriteFilemarks(1))).Status);
        }

        await gateway.KillAsync();
        await gateway.StartAsync();

        // The catalog says the tape is in the drive, so the restart mounts it again (image recovery runs) and the tier
        // resumes its uploads; unloading it publishes the complete manifest.
        await using (var changer = await gateway.ConnectAsync(Changer))
        {
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive, 2))).Status);
        }

        await WaitForCompleteManifestAsync("FLT002L5", records);
        await gateway.StopAsync();
        await ReadBackFromBucketOnlyAsync(gateway, 2, records);
    }

    [SkippableFact]
    public async Task Gateway_killed_while_exporting_finishes_the_archive_after_restart_with_a_consistent_catalog()
    {
        Skip.If(Endpoint is null, "TAPEGW_S3_ENDPOINT is not set (start an S3 with tools/rgw/start.sh)");
        await using var gateway = new GatewayProcess(_dataDirectory, Settings());
        await gateway.StartAsync();
        var records = Records(64, 300); // 16 MiB: sixteen segments to copy

        await using (var changer = await gateway.ConnectAsync(Changer))
        await using (var drive = await gateway.ConnectAsync(Drive1))
        {
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(1, FirstDrive))).Status);
            await drive.ClearUnitAttentionsAsync();
            await WriteAsync(drive, records);
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.WriteFilemarks(1))).Status);
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.Unload())).Status);
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive, Mailslot))).Status);
        }

        // Kill it in the middle of the export: IN TRANSIT TO VTS (uploading) or ARCHIVING (copying to GLACIER).
        using var http = new HttpClient { BaseAddress = gateway.ApiBase };
        string state;
        var seen = new HashSet<string>();
        do
        {
            state = (await http.GetFromJsonAsync<JsonElement>("api/tapes/FLT001L5")).GetProperty("state").GetString()!;
            seen.Add(state);
        }
        while (state == "AVAILABLE");

        await gateway.KillAsync();
        Assert.Contains(state, new[] { "IN TRANSIT TO VTS", "ARCHIVING" }); // killed in the middle, not after
        await gateway.StartAsync();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        JsonElement tape;
        do
        {
            await Task.Delay(250);
            tape = await http.GetFromJsonAsync<JsonElement>("api/tapes/FLT001L5");
            Assert.True(DateTime.UtcNow < deadline, $"still {tape}");
        }
        while (tape.GetProperty("state").GetString() != "ARCHIVED");

        // Consistent: out of the library (no element), in GLACIER, every object verified, no library-tier copy left.
        Assert.Equal("archive", tape.GetProperty("location").GetString());
        Assert.Equal(JsonValueKind.Null, tape.GetProperty("element").ValueKind);
        var (store, layout) = OpenBucket();
        var manifest = TapeManifest.Parse(await ReadAllAsync(store, layout.ManifestKey(TapeTier.Archive, "FLT001L5")));
        Assert.True(manifest.UsedBytes >= records.Sum(r => r.Length));
        foreach (var o in manifest.Objects())
        {
            var head = await store.HeadAsync(o.Key);
            Assert.Equal(StorageClass.Glacier, head.StorageClass);
            Assert.Equal(o.Sha256, head.Sha256);
        }

        await foreach (var leftover in store.ListAsync(layout.TapePrefix(TapeTier.Library, "FLT001L5")))
        {
            Assert.Fail($"library-tier object left after archiving: {leftover.Key}");
        }

        Assert.False(Directory.Exists(Path.Combine(_dataDirectory, "cache", "FLT001L5")), "the local cache copy was purged");
    }

    private static async Task WriteAsync(TestInitiator drive, IEnumerable<byte[]> records)
    {
        foreach (var record in records)
        {
            var w = await drive.ExecuteAsync(0, TapeCdb.Write6(record.Length), record);
            Assert.True(w.Status == ScsiStatus.Good, $"WRITE(6): {w}");
        }
    }

    private (IObjectStore Store, TapeObjectLayout Layout) OpenBucket() =>
        (S3ObjectStore.Create(new S3ObjectStoreOptions
        {
            Bucket = _bucket,
            ServiceUrl = Endpoint,
            ForcePathStyle = true,
            AccessKey = Environment.GetEnvironmentVariable("TAPEGW_S3_ACCESS_KEY") ?? "TESTKEY",
            SecretKey = Environment.GetEnvironmentVariable("TAPEGW_S3_SECRET_KEY") ?? "TESTSECRET",
        }), new TapeObjectLayout("vtl"));

    private static async Task<byte[]> ReadAllAsync(IObjectStore store, string key)
    {
        await using var read = await store.GetAsync(key);
        using var buffer = new MemoryStream();
        await read.Content.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private async Task WaitForCompleteManifestAsync(string barcode, byte[][] records)
    {
        var (store, layout) = OpenBucket();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        var wanted = records.Sum(r => r.Length + 32L) + 32;
        while (true)
        {
            try
            {
                var manifest = TapeManifest.Parse(await ReadAllAsync(store, layout.ManifestKey(TapeTier.Library, barcode)));
                if (manifest.Complete && manifest.UsedBytes >= wanted)
                {
                    return;
                }
            }
            catch (ObjectNotFoundException)
            {
            }

            Assert.True(DateTime.UtcNow < deadline, $"{barcode}: no complete manifest with {wanted} bytes in the bucket");
            await Task.Delay(250);
        }
    }

    /// <summary>Deletes the local cache, starts the gateway again and reads every record: the bucket alone must hold them.</summary>
    private async Task ReadBackFromBucketOnlyAsync(GatewayProcess gateway, ushort slot, byte[][] records)
    {
        Directory.Delete(Path.Combine(_dataDirectory, "cache"), recursive: true);
        await gateway.StartAsync();
        await using var changer = await gateway.ConnectAsync(Changer);
        await using var drive = await gateway.ConnectAsync(Drive1);
        Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(slot, FirstDrive))).Status);
        await drive.ClearUnitAttentionsAsync();
        foreach (var record in records)
        {
            var r = await drive.ExecuteAsync(0, TapeCdb.Read6(record.Length), expectedDataIn: record.Length);
            Assert.True(r.Status == ScsiStatus.Good, $"READ(6): {r}");
            Assert.Equal(record, r.Data);
        }

        await gateway.StopAsync();
    }
}

/// <summary>Stops and starts only the radosgw daemon of the test cluster (mon and OSD keep the data).</summary>
internal static class Radosgw
{
    private static string Directory => Environment.GetEnvironmentVariable("TAPEGW_RGW_DIR") ?? Path.Combine(Path.GetTempPath(), "tapegw-rgw");

    public static void Stop()
    {
        var pid = int.Parse(File.ReadAllText(Path.Combine(Directory, "rgw.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
            process.WaitForExit(10_000);
        }
        catch (ArgumentException)
        {
            // already gone
        }
    }

    public static void Start()
    {
        var start = new ProcessStartInfo("radosgw") { UseShellExecute = false, RedirectStandardOutput = false, RedirectStandardError = false };
        foreach (var a in new[] { "-c", Path.Combine(Directory, "ceph.conf"), "-n", "client.rgw", "-f" })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("radosgw did not start");

        // tools/rgw/stop.sh stops the daemons by their recorded PIDs.
        File.WriteAllText(Path.Combine(Directory, "rgw.pid"), process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = http.GetAsync(Environment.GetEnvironmentVariable("TAPEGW_S3_ENDPOINT")).GetAwaiter().GetResult();
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Thread.Sleep(200);
            }
        }

        throw new TimeoutException("radosgw did not answer again");
    }
}

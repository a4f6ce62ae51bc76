using System.Diagnostics;
using System.Globalization;
using Amazon.S3.Transfer;
using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Catalog;
using TapeGateway.Library;
using TapeGateway.Media.Tape;
using TapeGateway.Server;
using TapeGateway.Storage.S3;
using TapeGateway.Storage.Tapes;

// Tape tier upload throughput against a raw AWS SDK multipart upload of the same bytes to the same S3, and the bytes
// that pass through the gateway process while it archives the tape (GLACIER, server-side copies).
//
//   bash tools/rgw/start.sh && source /tmp/tapegw-rgw/env.sh
//   dotnet run -c Release --project tools/TapeGateway.S3Bench -- [size-MiB (default 2048)] [rounds (default 2)]
var sizeMiB = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2048;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
var endpoint = Environment.GetEnvironmentVariable("TAPEGW_S3_ENDPOINT") ?? throw new InvalidOperationException("Set TAPEGW_S3_ENDPOINT (tools/rgw/start.sh).");
var accessKey = Environment.GetEnvironmentVariable("TAPEGW_S3_ACCESS_KEY") ?? "TESTKEY";
var secretKey = Environment.GetEnvironmentVariable("TAPEGW_S3_SECRET_KEY") ?? "TESTSECRET";
var bucket = $"bench-{Guid.NewGuid():N}"[..24];
var work = Directory.CreateTempSubdirectory("tapegw-s3bench-").FullName;
const int PartSize = 8 << 20;
const int Block = 256 * 1024;

Console.WriteLine($"S3 bench: {sizeMiB} MiB, {rounds} round(s), endpoint {endpoint}, bucket {bucket}, work {work}");
var dataPath = Path.Combine(work, "data.bin");
await using (var file = File.Create(dataPath))
{
    var buffer = new byte[1 << 20];
    for (var i = 0; i < sizeMiB; i++)
    {
        Random.Shared.NextBytes(buffer); // incompressible, like backup data after the application's own compression
        await file.WriteAsync(buffer);
    }
}

var s3Options = new S3ObjectStoreOptions { Bucket = bucket, ServiceUrl = endpoint, ForcePathStyle = true, AccessKey = accessKey, SecretKey = secretKey, PartSize = PartSize, MaxParallelParts = 4 };
using var raw = S3ObjectStore.CreateClient(s3Options);
await raw.PutBucketAsync(bucket);

var app = GatewayHost.Build([], new Dictionary<string, string?>
{
    ["TapeGateway:DataDirectory"] = Path.Combine(work, "gw"),
    ["TapeGateway:Iscsi:Port"] = "0",
    ["TapeGateway:Targets:0:Luns:0:SizeMiB"] = "16",
    ["Urls"] = "http://127.0.0.1:0",
    ["Logging:LogLevel:Default"] = "Warning",
    ["TapeGateway:ObjectStore:Kind"] = "S3",
    ["TapeGateway:ObjectStore:ServiceUrl"] = endpoint,
    ["TapeGateway:ObjectStore:Bucket"] = bucket,
    ["TapeGateway:ObjectStore:ForcePathStyle"] = "true",
    ["TapeGateway:ObjectStore:AccessKey"] = accessKey,
    ["TapeGateway:ObjectStore:SecretKey"] = secretKey,
    ["TapeGateway:ObjectStore:PartSize"] = PartSize.ToString(CultureInfo.InvariantCulture),
    ["TapeGateway:ObjectStore:MaxParallelParts"] = "4",
    ["TapeGateway:TapeCache:MaxParallelUploads"] = "2", // 2 segments x 4 parts = 8 requests in flight, as the raw upload
    ["TapeGateway:Library:Drives"] = "1",
    ["TapeGateway:Library:StorageSlots"] = "10",
    ["TapeGateway:Library:ImportExportSlots"] = "10",
    ["TapeGateway:Library:AllowSmallTapes"] = "true",
    ["TapeGateway:Library:Tapes:0:Barcode"] = string.Join(',', Enumerable.Range(1, rounds).Select(i => $"BNC{i:D3}L5")),
    ["TapeGateway:Library:Tapes:0:Slot"] = "1",
    ["TapeGateway:Library:Tapes:0:CapacityMiB"] = (sizeMiB + 1024).ToString(CultureInfo.InvariantCulture),
    ["TapeGateway:Archive:MinimumExportAge"] = "00:00:00",
    ["TapeGateway:Archive:Schedule"] = "0/1 * * * * ?",
});
await app.StartAsync();
var tier = app.Services.GetRequiredService<TapeDataTier>();
var library = app.Services.GetRequiredService<TapeLibrary>();
var tapes = app.Services.GetRequiredService<TapeRepository>();
var bytes = new FileInfo(dataPath).Length;

var results = new List<(double Raw, double Tier, long Read, long Written, double ArchiveSeconds)>();
for (var round = 1; round <= rounds; round++)
{
    // Raw SDK: TransferUtility multipart upload of the file, 8 MiB parts, 8 in flight.
    using var transfer = new TransferUtility(raw, new TransferUtilityConfig { ConcurrentServiceRequests = 8 });
    var sw = Stopwatch.StartNew();
    await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = bucket, Key = $"raw/{round}", FilePath = dataPath, PartSize = PartSize });
    var rawSeconds = sw.Elapsed.TotalSeconds;
    await raw.DeleteObjectAsync(bucket, $"raw/{round}");

    // Tier: the same bytes written as 256 KiB records into a tape image in the cache (what the drive does below SSC),
    // then the time from closing the tape until its complete manifest is in the bucket.
    var barcode = $"BNC{round:D3}L5";
    await tier.CreateAsync(barcode, bytes + (1L << 30), worm: false, async store =>
    {
        var image = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = bytes + (1L << 30) });
        using var source = File.OpenHandle(dataPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        var record = new byte[Block];
        for (long offset = 0; offset < bytes; offset += Block)
        {
            var n = await RandomAccess.ReadAsync(source, record, offset);
            await image.WriteBlockAsync(record.AsMemory(0, n), compress: false);
        }

        await image.WriteFilemarksAsync(1, immediate: false);
        await image.UnloadAsync();
    }, CancellationToken.None);
    sw.Restart();
    var manifest = await tier.EnsureUploadedAsync(barcode, CancellationToken.None);
    var tierSeconds = sw.Elapsed.TotalSeconds;

    // Archive: export the tape to the mailslot and let the job copy it to GLACIER; count what the process reads and
    // writes meanwhile (/proc/self/io rchar/wchar: every read/write system call, sockets and files alike).
    var (read0, written0) = ProcIo();
    sw.Restart();
    var tape = (await tapes.GetTapeAsync(barcode))!;
    var mailslot = (ushort)library.Geometry.ImportExport.FirstAddress;
    var moved = await library.MoveAsync((ushort)tape.ElementAddress!.Value, (ushort)(mailslot + round - 1), "bench", CancellationToken.None);
    if (moved != TapeGateway.Scsi.Smc.ChangerResult.Ok)
    {
        throw new InvalidOperationException($"export failed: {moved}");
    }

    while ((await tapes.GetTapeAsync(barcode))!.State != TapeState.Archived)
    {
        await Task.Delay(100);
    }

    var archiveSeconds = sw.Elapsed.TotalSeconds;
    var (read1, written1) = ProcIo();

    // The test RGW is a 20 GiB sparse OSD: drop the archived copy so the next round has room.
    await foreach (var o in tier.ObjectStore.ListAsync(tier.Layout.TapePrefix(TapeTier.Archive, barcode)))
    {
        await tier.ObjectStore.DeleteAsync(o.Key);
    }

    results.Add((bytes / rawSeconds, manifest.Length / tierSeconds, read1 - read0, written1 - written0, archiveSeconds));
    Console.WriteLine(
        $"round {round}: raw SDK {bytes / rawSeconds / 1e6:F1} MB/s, tier {manifest.Length / tierSeconds / 1e6:F1} MB/s " +
        $"(ratio {manifest.Length / tierSeconds / (bytes / rawSeconds):P0}); archive of {manifest.Length / 1e6:F0} MB in {archiveSeconds:F1} s " +
        $"moved {read1 - read0} bytes read, {written1 - written0} bytes written through the gateway process");
}

await app.StopAsync();
var ratios = results.Select(r => r.Tier / r.Raw).Order().ToList();
Console.WriteLine($"median upload ratio tier/raw: {ratios[ratios.Count / 2]:P0} (min {ratios[0]:P0}, max {ratios[^1]:P0}); " +
    $"archive bytes through the gateway: max read {results.Max(r => r.Read)}, max written {results.Max(r => r.Written)} for {bytes} bytes of tape");
Directory.Delete(work, recursive: true);

static (long Read, long Written) ProcIo()
{
    long read = 0, written = 0;
    foreach (var line in File.ReadLines("/proc/self/io"))
    {
        if (line.StartsWith("rchar:", StringComparison.Ordinal))
        {
            read = long.Parse(line.AsSpan(6).Trim(), CultureInfo.InvariantCulture);
        }
        else if (line.StartsWith("wchar:", StringComparison.Ordinal))
        {
            written = long.Parse(line.AsSpan(6).Trim(), CultureInfo.InvariantCulture);
        }
    }

    return (read, written);
}

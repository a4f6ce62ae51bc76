using System.Diagnostics;
using System.Globalization;
using Amazon.Runtime;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Catalog;
using TapeGateway.Library;
using TapeGateway.Media.Tape;
using TapeGateway.Server;
using TapeGateway.Storage.S3;
using TapeGateway.Storage.Tapes;

// Tape tier upload throughput against a raw AWS SDK multipart upload of the same bytes to the same S3, and the bytes
// that pass through the gateway process while it archives the tape (GLACIER, server-side copies). See
// docs/benchmarks.md, "Object-store benchmarks".
//
//   bash tools/rgw/start.sh && source /tmp/tapegw-rgw/env.sh
//   dotnet run -c Release --project tools/TapeGateway.S3Bench -- [size-MiB (default 2048)] [rounds (default 3)]
//
// Knobs (environment): BENCH_PART_MIB (part size of both contenders, default: the gateway's), BENCH_TIER_UPLOADS
// (TapeCache:MaxParallelUploads, default: the gateway's), BENCH_TIER_PARTS (ObjectStore:MaxParallelParts, default: the
// gateway's), BENCH_TIER_INFLIGHT (ObjectStore:MaxPartsInFlight, default: the gateway's), BENCH_RAW_CONCURRENCY
// (TransferUtility's ConcurrentServiceRequests, default: the tier's request budget),
// BENCH_ARCHIVE=0 (skip the archive measurement), BENCH_SWAP=0 (raw first in every round; by default the tier goes first
// in even rounds, so neither contender always follows the other).
var sizeMiB = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2048;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var endpoint = Environment.GetEnvironmentVariable("TAPEGW_S3_ENDPOINT") ?? throw new InvalidOperationException("Set TAPEGW_S3_ENDPOINT (tools/rgw/start.sh).");
var accessKey = Environment.GetEnvironmentVariable("TAPEGW_S3_ACCESS_KEY") ?? "TESTKEY";
var secretKey = Environment.GetEnvironmentVariable("TAPEGW_S3_SECRET_KEY") ?? "TESTSECRET";
var rgwDir = Environment.GetEnvironmentVariable("TAPEGW_RGW_DIR") ?? Path.Combine(Path.GetTempPath(), "tapegw-rgw");
var gatewayDefaults = new ObjectStoreOptionsDefaults();
var partSize = (Knob("BENCH_PART_MIB") ?? (int)(gatewayDefaults.PartSize >> 20)) << 20;
var tierUploads = Knob("BENCH_TIER_UPLOADS") ?? new TapeCacheSettings().MaxParallelUploads;
var tierParts = Knob("BENCH_TIER_PARTS") ?? gatewayDefaults.MaxParallelParts;
var tierInFlight = Knob("BENCH_TIER_INFLIGHT") ?? gatewayDefaults.MaxPartsInFlight;
var tierBudget = Math.Min(tierUploads * tierParts, tierInFlight);
var rawConcurrency = Knob("BENCH_RAW_CONCURRENCY") ?? tierBudget;
var archive = Knob("BENCH_ARCHIVE") != 0;
var swap = Knob("BENCH_SWAP") != 0;
var bucket = $"bench-{Guid.NewGuid():N}"[..24];
var work = Directory.CreateTempSubdirectory("tapegw-s3bench-").FullName;
const int Block = 256 * 1024;
const int MaxAttempts = 3;
const string WarmUpBarcode = "BNC000L5";

Console.WriteLine(
    $"S3 bench: {sizeMiB} MiB x {rounds} round(s), endpoint {endpoint}, bucket {bucket}, work {work}; part {partSize >> 20} MiB; " +
    $"raw TransferUtility {rawConcurrency} requests in flight; tier {tierUploads} segment(s) x up to {tierParts} part(s), at most {tierInFlight} parts in flight in all = {tierBudget}; " +
    $"archive {(archive ? "on" : "off")}; order {(swap ? "raw,tier / tier,raw alternating" : "raw,tier every round")}");
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

var s3Options = new S3ObjectStoreOptions { Bucket = bucket, ServiceUrl = endpoint, ForcePathStyle = true, AccessKey = accessKey, SecretKey = secretKey, PartSize = partSize };
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
    ["TapeGateway:ObjectStore:PartSize"] = partSize.ToString(CultureInfo.InvariantCulture),
    ["TapeGateway:ObjectStore:MaxParallelParts"] = tierParts.ToString(CultureInfo.InvariantCulture),
    ["TapeGateway:ObjectStore:MaxPartsInFlight"] = tierInFlight.ToString(CultureInfo.InvariantCulture),
    ["TapeGateway:TapeCache:MaxParallelUploads"] = tierUploads.ToString(CultureInfo.InvariantCulture),
    ["TapeGateway:Library:Drives"] = "1",
    ["TapeGateway:Library:StorageSlots"] = ((rounds * MaxAttempts) + 1).ToString(CultureInfo.InvariantCulture),
    ["TapeGateway:Library:ImportExportSlots"] = (rounds * MaxAttempts).ToString(CultureInfo.InvariantCulture),
    ["TapeGateway:Library:AllowSmallTapes"] = "true",
    ["TapeGateway:Library:Tapes:0:Barcode"] = string.Join(',', Enumerable.Range(1, rounds * MaxAttempts).Select(i => $"BNC{i:D3}L5").Prepend(WarmUpBarcode)),
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

var results = new List<Round>();
var tapesUsed = 0;
var archived = 0;
try
{
    // Untimed warm-up of both paths (JIT, connection pools, thread pool growth): without it the first round's
    // contenders pay different one-off costs.
    await WarmUpAsync();
    for (var round = 1; round <= rounds; round++)
    {
        for (var attempt = 1; ; attempt++)
        {
            var barcode = $"BNC{++tapesUsed:D3}L5";
            await CollectGarbageAsync();
            try
            {
                var r = await RunRoundAsync(round, barcode);
                results.Add(r);
                Console.WriteLine(
                    $"round {round}{(r.TierFirst ? " (tier first)" : string.Empty)}: raw SDK {r.Raw.MBps:F1} MB/s, tier {r.Tier.MBps:F1} MB/s, ratio {r.Ratio:F2}; " +
                    $"CPU s/GB bench {r.Raw.OwnCpuPerGB:F2} / {r.Tier.OwnCpuPerGB:F2}, RGW {r.Raw.RgwCpuPerGB:F2} / {r.Tier.RgwCpuPerGB:F2}; " +
                    $"other CPU {r.Raw.OtherCpuPercent:F0} / {r.Tier.OtherCpuPercent:F0} % of 200; load {r.Raw.Load:F1} / {r.Tier.Load:F1}" +
                    (archive ? $"; archive of {r.Tier.Bytes / 1e6:F0} MB in {r.ArchiveSeconds:F1} s moved {r.Read} bytes read, {r.Written} bytes written through the gateway process" : string.Empty));
                break;
            }
            catch (Exception ex) when (attempt < MaxAttempts)
            {
                // Other engineers' fault tests restart the shared radosgw now and then: such a round says nothing about
                // either contender, so it is run again with a fresh tape once the endpoint answers.
                Console.WriteLine($"round {round}, attempt {attempt} discarded: {ex.GetType().Name}: {ex.Message}");
                await RecoverAsync(barcode);
            }
        }
    }
}
finally
{
    await app.StopAsync();
    await EmptyBucketAsync();
    Directory.Delete(work, recursive: true);
}

var ratios = results.Select(r => r.Ratio).Order().ToList();
var median = ratios.Count % 2 == 1 ? ratios[ratios.Count / 2] : (ratios[(ratios.Count / 2) - 1] + ratios[ratios.Count / 2]) / 2;
Console.WriteLine();
Console.WriteLine("| round | raw SDK MB/s | tier MB/s | tier / raw | CPU s/GB bench raw / tier | CPU s/GB RGW raw / tier | other CPU % raw / tier | load raw / tier |");
Console.WriteLine("|---|---|---|---|---|---|---|---|");
foreach (var r in results)
{
    Console.WriteLine(
        $"| {r.Number}{(r.TierFirst ? "*" : string.Empty)} | {r.Raw.MBps:F1} | {r.Tier.MBps:F1} | {r.Ratio:F2} | {r.Raw.OwnCpuPerGB:F2} / {r.Tier.OwnCpuPerGB:F2} | " +
        $"{r.Raw.RgwCpuPerGB:F2} / {r.Tier.RgwCpuPerGB:F2} | {r.Raw.OtherCpuPercent:F0} / {r.Tier.OtherCpuPercent:F0} | {r.Raw.Load:F1} / {r.Tier.Load:F1} |");
}

Console.WriteLine();
Console.WriteLine($"upload ratio tier/raw per round: {string.Join(" ", results.Select(r => r.Ratio.ToString("F2", CultureInfo.InvariantCulture)))}; " +
    $"median {median:F2} (min {ratios[0]:F2}, max {ratios[^1]:F2})");
if (archive)
{
    Console.WriteLine($"archive bytes through the gateway: max read {results.Max(r => r.Read)}, max written {results.Max(r => r.Written)} for {bytes} bytes of tape");
}

await Task.Delay(TimeSpan.FromSeconds(31));
await CollectGarbageAsync();

async Task<Round> RunRoundAsync(int round, string barcode)
{
    Measured rawRun = default, tierRun = default;
    var tierFirst = swap && round % 2 == 0;
    for (var turn = 0; turn < 2; turn++)
    {
        if ((turn == 0) != tierFirst)
        {
            rawRun = await MeasureAsync(async () =>
            {
                // Raw SDK: TransferUtility multipart upload of the file, same part size, same number of requests in flight.
                using var transfer = new TransferUtility(raw, new TransferUtilityConfig { ConcurrentServiceRequests = rawConcurrency });
                await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = bucket, Key = $"raw/{round}", FilePath = dataPath, PartSize = partSize });
                return bytes;
            });
            await raw.DeleteObjectAsync(bucket, $"raw/{round}");
        }
        else
        {
            // Tier: from the tape's close (every segment dirty, fsynced) until its complete manifest is in the bucket.
            // The uploader starts on its own once the tape exists, so the clock starts right after the write.
            await WriteTapeAsync(barcode);
            var failures = tier.UploadFailures;
            tierRun = await MeasureAsync(async () => (await tier.EnsureUploadedAsync(barcode, CancellationToken.None)).Length);
            if (tier.UploadFailures != failures)
            {
                throw new IOException($"the tier retried {tier.UploadFailures - failures} segment upload(s): the endpoint failed meanwhile");
            }
        }
    }

    long read = 0, written = 0;
    double archiveSeconds = 0;
    if (archive)
    {
        (read, written, archiveSeconds) = await ArchiveAsync(barcode);
    }
    else
    {
        await tier.DeleteLibraryObjectsAsync(barcode, CancellationToken.None);
        await tier.PurgeLocalAsync(barcode, CancellationToken.None);
    }

    return new Round(round, rawRun, tierRun, tierFirst, read, written, archiveSeconds);
}

async Task WarmUpAsync()
{
    var small = Path.Combine(work, "warmup.bin");
    await using (var file = File.Create(small))
    {
        await using var source = File.OpenRead(dataPath);
        var buffer = new byte[1 << 20];
        for (var i = 0; i < Math.Min(sizeMiB, 3 * (partSize >> 20)); i++)
        {
            await source.ReadExactlyAsync(buffer);
            await file.WriteAsync(buffer);
        }
    }

    using (var transfer = new TransferUtility(raw, new TransferUtilityConfig { ConcurrentServiceRequests = rawConcurrency }))
    {
        await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = bucket, Key = "raw/warmup", FilePath = small, PartSize = partSize });
    }

    await raw.DeleteObjectAsync(bucket, "raw/warmup");
    await WriteTapeAsync(WarmUpBarcode, small);
    await tier.EnsureUploadedAsync(WarmUpBarcode, CancellationToken.None);
    await tier.DeleteLibraryObjectsAsync(WarmUpBarcode, CancellationToken.None);
    await tier.PurgeLocalAsync(WarmUpBarcode, CancellationToken.None);
    File.Delete(small);
}

async Task RecoverAsync(string barcode)
{
    for (var i = 0; i < 60; i++)
    {
        try
        {
            await raw.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, MaxKeys = 1 });
            break;
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException)
        {
            await Task.Delay(TimeSpan.FromSeconds(5));
        }
    }

    try
    {
        // Let the tier finish what it started, so it does not upload in the background of the next attempt.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await tier.EnsureUploadedAsync(barcode, timeout.Token);
        await tier.DeleteLibraryObjectsAsync(barcode, CancellationToken.None);
        await tier.PurgeLocalAsync(barcode, CancellationToken.None);
    }
    catch (Exception ex)
    {
        Console.WriteLine($"cleanup of {barcode}: {ex.Message}");
    }
}

async Task EmptyBucketAsync()
{
    try
    {
        var uploads = await raw.ListMultipartUploadsAsync(bucket);
        foreach (var u in uploads.MultipartUploads ?? [])
        {
            await raw.AbortMultipartUploadAsync(bucket, u.Key, u.UploadId);
        }

        var objects = new List<string>();
        await foreach (var o in raw.Paginators.ListObjectsV2(new ListObjectsV2Request { BucketName = bucket }).S3Objects)
        {
            objects.Add(o.Key);
        }

        foreach (var key in objects)
        {
            await raw.DeleteObjectAsync(bucket, key);
        }

        await raw.DeleteBucketAsync(bucket);
    }
    catch (Exception ex)
    {
        Console.WriteLine($"could not empty and delete bucket {bucket}: {ex.Message}");
    }
}

async Task CollectGarbageAsync()
{
    // RGW frees deleted objects only when its garbage collector runs (hourly by default), and each round writes and
    // deletes several times its size: on the test RGW's 20 GiB OSD a few rounds would fill it and block every writer
    // on the machine. Process the entries whose wait (rgw gc obj min wait, 30 s on the test RGW) is over.
    var conf = Path.Combine(rgwDir, "ceph.conf");
    if (!File.Exists(conf))
    {
        return;
    }

    Process? gc = null;
    try
    {
        gc = Process.Start("radosgw-admin", ["-c", conf, "gc", "process"]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await gc.WaitForExitAsync(timeout.Token);
    }
    catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or OperationCanceledException)
    {
        Console.WriteLine($"radosgw-admin gc process: {ex.Message}");
        gc?.Kill();
    }
    finally
    {
        gc?.Dispose();
    }
}

async Task WriteTapeAsync(string barcode, string? path = null)
{
    path ??= dataPath;
    var length = new FileInfo(path).Length;
    // The same bytes written as 256 KiB records into a tape image in the cache (what the drive does below SSC). While a
    // tape is being created nothing of it is uploaded, so all of it is pending when the tier's clock starts.
    await tier.CreateAsync(barcode, bytes + (1L << 30), worm: false, async store =>
    {
        var image = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = bytes + (1L << 30) });
        using var source = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        var record = new byte[Block];
        for (long offset = 0; offset < length; offset += Block)
        {
            var n = await RandomAccess.ReadAsync(source, record, offset);
            await image.WriteBlockAsync(record.AsMemory(0, n), compress: false);
        }

        await image.WriteFilemarksAsync(1, immediate: false);
        await image.UnloadAsync();
    }, CancellationToken.None);
}

async Task<(long Read, long Written, double Seconds)> ArchiveAsync(string barcode)
{
    // Export the tape to the mailslot and let the job copy it to GLACIER; count what the process reads and writes
    // meanwhile (/proc/self/io rchar/wchar: every read/write system call, sockets and files alike).
    var (read0, written0) = ProcIo();
    var sw = Stopwatch.StartNew();
    var tape = (await tapes.GetTapeAsync(barcode))!;
    var mailslot = (ushort)library.Geometry.ImportExport.FirstAddress;
    var moved = await library.MoveAsync((ushort)tape.ElementAddress!.Value, (ushort)(mailslot + archived++), "bench", CancellationToken.None);
    if (moved != TapeGateway.Scsi.Smc.ChangerResult.Ok)
    {
        throw new InvalidOperationException($"export failed: {moved}");
    }

    while ((await tapes.GetTapeAsync(barcode))!.State != TapeState.Archived)
    {
        await Task.Delay(100);
    }

    var seconds = sw.Elapsed.TotalSeconds;
    var (read1, written1) = ProcIo();

    // The test RGW is a 20 GiB sparse OSD: drop the archived copy so the next round has room.
    await foreach (var o in tier.ObjectStore.ListAsync(tier.Layout.TapePrefix(TapeTier.Archive, barcode)))
    {
        await tier.ObjectStore.DeleteAsync(o.Key);
    }

    return (read1 - read0, written1 - written0, seconds);
}

async Task<Measured> MeasureAsync(Func<Task<long>> run)
{
    var own0 = Process.GetCurrentProcess().TotalProcessorTime;
    var rgw0 = RgwCpu(rgwDir);
    var (busy0, total0) = MachineCpu();
    var sw = Stopwatch.StartNew();
    var moved = await run();
    var seconds = sw.Elapsed.TotalSeconds;
    var own = (Process.GetCurrentProcess().TotalProcessorTime - own0).TotalSeconds;
    var rgw = RgwCpu(rgwDir) - rgw0;
    var (busy1, total1) = MachineCpu();

    // Whole-machine busy time over the window, in CPU-seconds, minus ours and the RGW daemons': what everybody else burnt.
    var machine = (busy1 - busy0) / (double)(total1 - total0) * Environment.ProcessorCount * seconds;
    var other = Math.Max(0, machine - own - rgw) / seconds * 100;
    return new Measured(moved, seconds, own, rgw, other, LoadAverage());
}

static int? Knob(string name) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? int.Parse(v, CultureInfo.InvariantCulture) : null;

static double RgwCpu(string rgwDir)
{
    // radosgw and the OSD do the server side of every upload; the monitor is idle. utime + stime, in clock ticks (USER_HZ = 100).
    double seconds = 0;
    foreach (var daemon in new[] { "rgw", "osd" })
    {
        try
        {
            var pid = File.ReadAllText(Path.Combine(rgwDir, daemon + ".pid")).Trim();
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            seconds += (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            // Not our RGW, or restarted by someone else: the round reports what it could see.
        }
    }

    return seconds;
}

static (long Busy, long Total) MachineCpu()
{
    var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
        .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
    var total = fields.Sum();
    return (total - fields[3] - fields[4], total); // idle and iowait are not busy
}

static double LoadAverage() =>
    double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

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

internal readonly record struct Measured(long Bytes, double Seconds, double OwnCpu, double RgwCpu, double OtherCpuPercent, double Load)
{
    public double MBps => Bytes / Seconds / 1e6;

    public double OwnCpuPerGB => OwnCpu / (Bytes / 1e9);

    public double RgwCpuPerGB => RgwCpu / (Bytes / 1e9);
}

internal sealed record Round(int Number, Measured Raw, Measured Tier, bool TierFirst, long Read, long Written, double ArchiveSeconds)
{
    public double Ratio => Tier.MBps / Raw.MBps;
}

/// <summary>The gateway's own defaults for the object store, so the bench measures what ships unless told otherwise.</summary>
internal sealed class ObjectStoreOptionsDefaults
{
    private readonly TapeGateway.Server.Configuration.ObjectStoreOptions _defaults = new();

    public long PartSize => _defaults.PartSize;

    public int MaxParallelParts => _defaults.MaxParallelParts;

    public int MaxPartsInFlight => _defaults.MaxPartsInFlight;
}

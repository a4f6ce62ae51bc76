using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Archive;
using TapeGateway.Catalog;
using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Initiator;
using TapeGateway.Library;
using TapeGateway.Storage;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Integration.Tests.Library;

/// <summary>
/// A whole tape life against the real Ceph RGW from tools/rgw/start.sh (TAPEGW_S3_ENDPOINT), through real iSCSI:
/// write, export via MOVE MEDIUM into the I/E slot, the archive job, the storage class checked with HEAD on RGW,
/// retrieval (AWS Glacier behaviour emulated under the SDK: RGW has no RestoreObject), read back byte for byte.
/// </summary>
public sealed class TapeLifeRgwTests
{
    private const ushort FirstDrive = 10001;
    private const ushort Mailslot = 11;

    private static string? Endpoint => Environment.GetEnvironmentVariable("TAPEGW_S3_ENDPOINT") is { Length: > 0 } e ? e : null;

    [SkippableFact]
    public async Task Tape_is_written_archived_to_glacier_retrieved_and_read_back_on_rgw()
    {
        Skip.If(Endpoint is null, "TAPEGW_S3_ENDPOINT is not set (start an S3 with tools/rgw/start.sh)");
        const string S = "TapeGateway:ObjectStore:";
        await RunTapeLifeAsync(new Dictionary<string, string?>
        {
            [S + "Kind"] = "S3",
            [S + "ServiceUrl"] = Endpoint,
            [S + "Bucket"] = $"life-{Guid.NewGuid():N}"[..24],
            [S + "ForcePathStyle"] = "true",
            [S + "AccessKey"] = Environment.GetEnvironmentVariable("TAPEGW_S3_ACCESS_KEY") ?? "TESTKEY",
            [S + "SecretKey"] = Environment.GetEnvironmentVariable("TAPEGW_S3_SECRET_KEY") ?? "TESTSECRET",
            [S + "PartSize"] = (5 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
            [S + "EmulateGlacier"] = "true",
            [S + "GlacierRestoreDelaySeconds"] = "2",
            [S + "CreateBucket"] = "true",
        });
    }

    internal static async Task RunTapeLifeAsync(Dictionary<string, string?> store)
    {
        var settings = new Dictionary<string, string?>(store)
        {
            ["TapeGateway:TapeCache:SegmentSizeMiB"] = "1",
            ["TapeGateway:Archive:Schedule"] = "0/1 * * * * ?",
            ["TapeGateway:Archive:MinimumExportAge"] = "00:00:00",
        };
        await using var gateway = new LibraryGateway(settings);
        await gateway.StartAsync();
        var records = Enumerable.Range(0, 10).Select(i => Pattern(i, 256 * 1024)).ToArray();

        await using (var changer = await gateway.ConnectAsync(LibraryGateway.Changer))
        await using (var drive = await gateway.ConnectAsync(LibraryGateway.Drive1))
        {
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(1, FirstDrive))).Status);
            await drive.ClearUnitAttentionsAsync();
            foreach (var record in records)
            {
                var w = await drive.ExecuteAsync(0, TapeCdb.Write6(record.Length), record);
                Assert.True(w.Status == ScsiStatus.Good, $"WRITE(6): {w}");
            }

            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.WriteFilemarks(1))).Status);
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.Unload())).Status);

            // The backup application exports the tape: AVAILABLE → IN TRANSIT TO VTS → ARCHIVING → ARCHIVED.
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive, Mailslot))).Status);
        }

        var tapes = gateway.App.Services.GetRequiredService<TapeRepository>();
        var archived = await WaitForStateAsync(tapes, "ITT001L5", TapeState.Archived);
        Assert.Equal(100, archived.ArchiveProgress);
        Assert.Null(archived.ElementAddress);

        // The storage class as RGW reports it, for every object of the archived tape; the library-tier copy is gone.
        var tier = gateway.App.Services.GetRequiredService<TapeDataTier>();
        var manifest = await tier.GetManifestAsync(TapeTier.Archive, "ITT001L5", CancellationToken.None);
        Assert.NotNull(manifest);
        Assert.True(manifest.UsedBytes >= records.Sum(r => r.Length));
        foreach (var o in manifest.Objects())
        {
            var head = await tier.ObjectStore.HeadAsync(o.Key);
            Assert.Equal(TapeGateway.Storage.StorageClass.Glacier, head.StorageClass);
            Assert.Equal(o.Sha256, head.Sha256);
        }

        Assert.Null(await tier.GetManifestAsync(TapeTier.Library, "ITT001L5", CancellationToken.None));
        await Assert.ThrowsAsync<InvalidObjectStateException>(() => tier.ObjectStore.GetAsync(manifest.Segments[0].Key));

        // Retrieval: RestoreObject on every object, RETRIEVING until restored, copied back, RETRIEVED read-only in an I/E slot.
        var operations = gateway.App.Services.GetRequiredService<ArchiveOperations>();
        var requested = await operations.RetrieveAsync("ITT001L5", "test", CancellationToken.None);
        Assert.True(requested.Status == ArchiveRequestStatus.Ok, requested.Message);
        var retrieved = await WaitForStateAsync(tapes, "ITT001L5", TapeState.Retrieved);
        Assert.True(retrieved.ReadOnly);
        Assert.NotNull(retrieved.ElementAddress);

        await using (var changer = await gateway.ConnectAsync(LibraryGateway.Changer))
        await using (var drive = await gateway.ConnectAsync(LibraryGateway.Drive1))
        {
            // The retrieval changed the inventory behind the initiator's back: the changer may report UNIT ATTENTION
            // (SMC-3 / SPC-4 §5.13: 28/00 or 3F/03) once, as a real library does; an application retries the command.
            var load = await changer.ExecuteAsync(0, TapeCdb.MoveMedium((ushort)retrieved.ElementAddress!.Value, FirstDrive));
            for (var attempt = 0; attempt < 3 && load.SenseCode is { Key: SenseCode.UnitAttention }; attempt++)
            {
                load = await changer.ExecuteAsync(0, TapeCdb.MoveMedium((ushort)retrieved.ElementAddress!.Value, FirstDrive));
            }

            Assert.True(load.Status == ScsiStatus.Good, $"MOVE MEDIUM {retrieved.ElementAddress} → drive: {load}");
            await drive.ClearUnitAttentionsAsync();
            foreach (var record in records)
            {
                var r = await drive.ExecuteAsync(0, TapeCdb.Read6(record.Length), expectedDataIn: record.Length);
                Assert.True(r.Status == ScsiStatus.Good, $"READ(6): {r}");
                Assert.Equal(record, r.Data);
            }

            var write = await drive.ExecuteAsync(0, TapeCdb.Write6(1024), new byte[1024]);
            Assert.Equal(new SenseCode(0x07, 0x27, 0x00), write.SenseCode); // DATA PROTECT: retrieved tapes are read-only
        }
    }

    private static async Task<Tape> WaitForStateAsync(TapeRepository tapes, string barcode, TapeState state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var tape = await tapes.GetTapeAsync(barcode);
            if (tape?.State == state)
            {
                return tape;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{barcode} is {tape?.State}, still waiting for {state}");
            await Task.Delay(250);
        }
    }

    private static byte[] Pattern(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}

/// <summary>The same tape life with the README's default `run`: the embedded filesystem object store, no S3 at all.</summary>
public sealed class TapeLifeTests
{
    [Fact]
    public Task Tape_life_works_with_the_default_filesystem_store_and_no_s3() => TapeLifeRgwTests.RunTapeLifeAsync([]);
}

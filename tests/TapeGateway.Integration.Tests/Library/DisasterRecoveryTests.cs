using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Catalog;
using TapeGateway.Cli;
using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Initiator;
using TapeGateway.Library;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Integration.Tests.Library;

/// <summary>The bucket alone is enough to rebuild a lost gateway (issue: tapes in S3, disaster recovery).</summary>
public sealed class DisasterRecoveryTests
{
    private const ushort FirstDrive = 10001;

    private static readonly Dictionary<string, string?> s_smallSegments = new()
    {
        ["TapeGateway:TapeCache:SegmentSizeMiB"] = "1",
        ["TapeGateway:TapeCache:PublishIntervalSeconds"] = "1",
    };

    [Fact]
    public async Task A_new_gateway_rebuilds_its_catalog_from_the_bucket_of_a_lost_one()
    {
        var records = Enumerable.Range(0, 12).Select(i => Pattern(i, 256 * 1024)).ToArray();
        await using var lost = new LibraryGateway(s_smallSegments);
        await lost.StartAsync();
        await using (var changer = await lost.ConnectAsync(LibraryGateway.Changer))
        await using (var drive1 = await lost.ConnectAsync(LibraryGateway.Drive1))
        await using (var drive2 = await lost.ConnectAsync(LibraryGateway.Drive2))
        {
            // ITT002L5: written, unloaded and put away (its manifest is complete).
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(2, FirstDrive))).Status);
            await drive1.ClearUnitAttentionsAsync();
            await WriteAllAsync(drive1, records);
            Assert.Equal(ScsiStatus.Good, (await drive1.ExecuteAsync(0, TapeCdb.Unload())).Status);
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive, 2))).Status);

            // ITT003L5: written and still in its drive when the gateway is lost (its manifest is a snapshot).
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(3, FirstDrive + 1))).Status);
            await drive2.ClearUnitAttentionsAsync();
            await WriteAllAsync(drive2, records);
        }

        var tier = lost.App.Services.GetRequiredService<TapeDataTier>();
        Assert.True((await tier.EnsureUploadedAsync("ITT002L5", CancellationToken.None)).Complete);
        var snapshot = await WaitAsync(async () =>
        {
            var m = await tier.GetManifestAsync(TapeTier.Library, "ITT003L5", CancellationToken.None);
            // Every record (32-byte header + payload) and the filemark must be in the snapshot before the bucket is copied.
            var written = records.Sum(r => r.Length + 32L) + 32;
            return m is { Complete: false } && m.UsedBytes >= written ? m : null;
        });
        Assert.False(snapshot.Complete);

        // The gateway is lost; all that is left is its bucket, copied to a brand-new gateway's data directory.
        var fresh = Directory.CreateTempSubdirectory("tapegateway-dr-it-").FullName;
        CopyDirectory(Path.Combine(lost.DataDirectory, "objects"), Path.Combine(fresh, "objects"));
        await lost.StopAsync();

        var extra = new Dictionary<string, string?>(s_smallSegments) { ["TapeGateway:Library:Tapes:0:Barcode"] = "NEW001L5" };
        await using var rebuilt = new LibraryGateway(extra, fresh);
        await rebuilt.StartAsync();
        var library = rebuilt.App.Services.GetRequiredService<TapeLibrary>();

        // The operator runs `tapegw recover` against the new gateway's management API.
        var api = rebuilt.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using (var output = new StringWriter())
        using (var error = new StringWriter())
        {
            var code = await TapeGatewayCli.RunAsync(["recover", "--url", api], output, error);
            Assert.True(code == TapeGatewayCli.ExitOk, error.ToString());
            Assert.Contains("1 available, 1 recovered (read-only), 0 archived, 0 skipped", output.ToString(), StringComparison.Ordinal);
            Assert.Matches(@"ITT003L5\s+RECOVERED", output.ToString());
        }

        // Bad input is a 400 with a message, never a crash.
        using (var http = new HttpClient { BaseAddress = new Uri(api) })
        {
            using var garbage = await http.PostAsync("/api/recovery", new StringContent("{", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, garbage.StatusCode);
            using var slash = await http.PostAsync("/api/recovery", new StringContent("{\"sourceGatewayId\": \"a/b\"}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, slash.StatusCode);
            Assert.Contains("sourceGatewayId", await slash.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var output = new StringWriter())
        using (var error = new StringWriter())
        {
            Assert.Equal(TapeGatewayCli.ExitOk, await TapeGatewayCli.RunAsync(["cache", "--url", api], output, error));
            Assert.Contains("upload buffer", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("gateway id vtl", output.ToString(), StringComparison.Ordinal);
        }

        // Running it again changes nothing.
        var again = await library.RecoverFromBucketAsync(null, "test", CancellationToken.None);
        Assert.Equal(again.Tapes.Count, again.Skipped);

        var tapes = await library.ListTapesAsync(null, CancellationToken.None);
        var complete = Assert.Single(tapes, t => t.Barcode == "ITT002L5");
        var recovered = Assert.Single(tapes, t => t.Barcode == "ITT003L5");
        Assert.False(complete.ReadOnly);
        Assert.True(recovered.ReadOnly);

        await using var changer2 = await rebuilt.ConnectAsync(LibraryGateway.Changer);
        await using var drive = await rebuilt.ConnectAsync(LibraryGateway.Drive1);
        foreach (var tape in new[] { complete, recovered })
        {
            Assert.Equal(ScsiStatus.Good, (await changer2.ExecuteAsync(0, TapeCdb.MoveMedium((ushort)tape.ElementAddress!.Value, FirstDrive))).Status);
            await drive.ClearUnitAttentionsAsync();
            foreach (var record in records)
            {
                var r = await drive.ExecuteAsync(0, TapeCdb.Read6(record.Length), expectedDataIn: record.Length);
                Assert.True(r.Status == ScsiStatus.Good, $"{tape.Barcode} READ(6): {r}");
                Assert.Equal(record, r.Data);
            }

            if (tape.ReadOnly)
            {
                // AWS: recovered tapes are read-only. DATA PROTECT / WRITE PROTECTED (SSC-4 §4.2.14).
                var w = await drive.ExecuteAsync(0, TapeCdb.Write6(1024), new byte[1024]);
                Assert.Equal(new SenseCode(0x07, 0x27, 0x00), w.SenseCode);
            }

            Assert.Equal(ScsiStatus.Good, (await changer2.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive, (ushort)tape.ElementAddress!.Value))).Status);
        }
    }

    private static async Task WriteAllAsync(TestInitiator drive, byte[][] records)
    {
        foreach (var record in records)
        {
            var w = await drive.ExecuteAsync(0, TapeCdb.Write6(record.Length), record);
            Assert.True(w.Status == ScsiStatus.Good, $"WRITE(6): {w}");
        }

        Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.WriteFilemarks(1))).Status);
    }

    private static async Task<T> WaitAsync<T>(Func<Task<T?>> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the tier");
            await Task.Delay(100);
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static byte[] Pattern(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}

using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Initiator;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Integration.Tests.Library;

/// <summary>Tape data lives in the object store: the local cache is only a cache (issue: tapes in S3).</summary>
public sealed class TapeTierTests
{
    private const ushort FirstDrive = 10001;

    [Fact]
    public async Task Written_tape_is_in_the_object_store_and_reads_back_after_the_local_cache_is_lost()
    {
        await using var gateway = new LibraryGateway();
        await gateway.StartAsync();
        var records = Enumerable.Range(0, 12).Select(i => Pattern(i, 256 * 1024)).ToArray();

        await using (var changer = await gateway.ConnectAsync(LibraryGateway.Changer))
        await using (var drive = await gateway.ConnectAsync(LibraryGateway.Drive1))
        {
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(2, FirstDrive))).Status);
            await drive.ClearUnitAttentionsAsync();
            foreach (var record in records)
            {
                var w = await drive.ExecuteAsync(0, TapeCdb.Write6(record.Length), record);
                Assert.True(w.Status == ScsiStatus.Good, $"WRITE(6): {w}");
            }

            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.WriteFilemarks(1))).Status);
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.Unload())).Status);
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive, 2))).Status);
        }

        // The unload closed the image: the uploader publishes a complete manifest naming every byte.
        var tier = gateway.App.Services.GetRequiredService<TapeDataTier>();
        var manifest = await tier.EnsureUploadedAsync("ITT002L5", CancellationToken.None);
        Assert.True(manifest.Complete);
        Assert.True(manifest.UsedBytes >= records.Sum(r => r.Length), $"manifest covers {manifest.UsedBytes} bytes");
        Assert.Equal(0, tier.PendingUploadBytes("ITT002L5"));

        // The host's uploads ran on its background workers, at lowered priority on Linux, and the upload buffer empties
        // completely once every tape is uploaded (the library's tapes created at start included).
        var background = tier.Options.Background;
        Assert.NotNull(background);
        Assert.True(background.Threads >= 1);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(background.Threads, background.LoweredThreads);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (tier.DirtyBytes != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, tier.DirtyBytes);

        // Lose the whole local cache: the next mount must come entirely from the object store.
        await gateway.StopAsync();
        Directory.Delete(Path.Combine(gateway.DataDirectory, "cache"), recursive: true);
        await gateway.StartAsync();

        await using (var changer = await gateway.ConnectAsync(LibraryGateway.Changer))
        await using (var drive = await gateway.ConnectAsync(LibraryGateway.Drive1))
        {
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(2, FirstDrive))).Status);
            await drive.ClearUnitAttentionsAsync();
            foreach (var record in records)
            {
                var r = await drive.ExecuteAsync(0, TapeCdb.Read6(record.Length), expectedDataIn: record.Length);
                Assert.True(r.Status == ScsiStatus.Good, $"READ(6): {r}");
                Assert.Equal(record, r.Data);
            }

            var fm = await drive.ExecuteAsync(0, TapeCdb.Read6(1024), expectedDataIn: 1024);
            Assert.Equal(new SenseCode(0x00, 0x00, 0x01), fm.SenseCode); // FILEMARK DETECTED
        }
    }

    private static byte[] Pattern(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}

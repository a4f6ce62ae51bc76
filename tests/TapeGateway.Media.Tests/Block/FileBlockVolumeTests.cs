using TapeGateway.Media.Block;

namespace TapeGateway.Media.Tests.Block;

public sealed class FileBlockVolumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tgw-fbv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string NewPath() => Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".img");

    private static byte[] Pattern(int length, byte seed)
    {
        var data = new byte[length];
        for (var i = 0; i < length; i++)
        {
            data[i] = (byte)(seed + (i * 7));
        }

        return data;
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Create_IsSparseAndReadsZeros(int blockSize)
    {
        var path = NewPath();
        await using var volume = FileBlockVolume.Create(path, 1024, blockSize);
        Assert.Equal(1024, volume.BlockCount);
        Assert.Equal(blockSize, volume.BlockSize);
        Assert.Equal(1024L * blockSize, new FileInfo(path).Length);

        var buffer = new byte[4 * blockSize];
        buffer.AsSpan().Fill(0xEE);
        await volume.ReadAsync(10, buffer, default);
        Assert.All(buffer, b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task WriteRead_RoundTrip(int blockSize)
    {
        await using var volume = FileBlockVolume.Create(NewPath(), 256, blockSize);
        var data = Pattern(3 * blockSize, 1);
        await volume.WriteAsync(5, data, forceUnitAccess: false, default);
        var back = new byte[3 * blockSize];
        await volume.ReadAsync(5, back, default);
        Assert.Equal(data, back);

        // Last block of the volume.
        var last = Pattern(blockSize, 9);
        await volume.WriteAsync(255, last, forceUnitAccess: true, default);
        var lastBack = new byte[blockSize];
        await volume.ReadAsync(255, lastBack, default);
        Assert.Equal(last, lastBack);
    }

    [Fact]
    public async Task FuaWriteAndFlush_AreDurableAndVisibleToANewHandle()
    {
        var path = NewPath();
        var data = Pattern(512, 3);
        await using (var volume = FileBlockVolume.Create(path, 64))
        {
            await volume.WriteAsync(7, data, forceUnitAccess: true, default);
            await volume.FlushAsync(default);
        }

        await using var reopened = FileBlockVolume.Open(path);
        var back = new byte[512];
        await reopened.ReadAsync(7, back, default);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task OutOfRange_Throws()
    {
        await using var volume = FileBlockVolume.Create(NewPath(), 16);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await volume.ReadAsync(16, new byte[512], default));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await volume.WriteAsync(15, new byte[1024], false, default));
        await Assert.ThrowsAsync<ArgumentException>(async () => await volume.ReadAsync(0, new byte[100], default));
    }

    [Fact]
    public async Task ReadOnly_RejectsWritesAndUnmap()
    {
        var path = NewPath();
        await using (var create = FileBlockVolume.Create(path, 16))
        {
            await create.WriteAsync(0, Pattern(512, 5), false, default);
        }

        await using var volume = FileBlockVolume.Open(path, readOnly: true);
        Assert.True(volume.IsReadOnly);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await volume.WriteAsync(0, new byte[512], false, default));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await volume.UnmapAsync(0, 1, default));
        await volume.FlushAsync(default); // a no-op, not an error
        var back = new byte[512];
        await volume.ReadAsync(0, back, default);
        Assert.Equal(Pattern(512, 5), back);
    }

    [Fact]
    public void InvalidBlockSize_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FileBlockVolume.Create(NewPath(), 16, 1024));
    }

    [Fact]
    public async Task Open_ComputesBlockCountFromLength()
    {
        var path = NewPath();
        await File.WriteAllBytesAsync(path, new byte[(8 * 4096) + 100]);
        await using var volume = FileBlockVolume.Open(path, 4096);
        Assert.Equal(8, volume.BlockCount);
    }

    [Fact]
    public async Task OpenOrCreate_CreatesThenOpens()
    {
        var path = NewPath();
        await using (var first = FileBlockVolume.OpenOrCreate(path, 32, 4096))
        {
            await first.WriteAsync(1, Pattern(4096, 2), false, default);
        }

        await using var second = FileBlockVolume.OpenOrCreate(path, 9999, 4096);
        Assert.Equal(32, second.BlockCount);
        var back = new byte[4096];
        await second.ReadAsync(1, back, default);
        Assert.Equal(Pattern(4096, 2), back);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Unmap_PunchesHoles_ReadsZeros_AndFreesSpace(int blockSize)
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // hole punching and SEEK_DATA/SEEK_HOLE are Linux only
        }

        var path = NewPath();
        var blocks = (4 << 20) / blockSize; // 4 MiB
        await using var volume = FileBlockVolume.Create(path, blocks, blockSize);
        Assert.True(volume.SupportsUnmap);
        var data = Pattern(4 << 20, 11);
        await volume.WriteAsync(0, data, forceUnitAccess: true, default);
        var before = AllocatedBytes(path);

        await volume.UnmapAsync(0, blocks, default);
        await volume.FlushAsync(default);
        var back = new byte[4 << 20];
        await volume.ReadAsync(0, back, default);
        Assert.All(back, b => Assert.Equal(0, b));
        Assert.True(AllocatedBytes(path) < before, "punching holes should release allocated space");
        var (mapped, count) = await volume.GetProvisioningStatusAsync(0, default);
        Assert.False(mapped);
        Assert.Equal(blocks, count);
    }

    [Fact]
    public async Task Unmap_UnalignedEdges_ZeroOnlyTheRequestedBlocks()
    {
        await using var volume = FileBlockVolume.Create(NewPath(), 64, 512);
        var data = Pattern(64 * 512, 21);
        await volume.WriteAsync(0, data, false, default);

        // Blocks 3..20: partial allocation units at both ends, whole units in the middle.
        await volume.UnmapAsync(3, 18, default);
        var back = new byte[64 * 512];
        await volume.ReadAsync(0, back, default);
        Assert.Equal(data.AsSpan(0, 3 * 512).ToArray(), back.AsSpan(0, 3 * 512).ToArray());
        Assert.All(back.AsSpan(3 * 512, 18 * 512).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(data.AsSpan(21 * 512).ToArray(), back.AsSpan(21 * 512).ToArray());
    }

    [Fact]
    public async Task ProvisioningStatus_FollowsSeekDataAndSeekHole()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // hole punching and SEEK_DATA/SEEK_HOLE are Linux only
        }

        const int bs = 4096;
        await using var volume = FileBlockVolume.Create(NewPath(), 1024, bs);

        // Fresh file: one hole over the whole volume.
        Assert.Equal((false, 1024L), await volume.GetProvisioningStatusAsync(0, default));

        // Map blocks 100..109 and 500.
        await volume.WriteAsync(100, Pattern(10 * bs, 1), false, default);
        await volume.WriteAsync(500, Pattern(bs, 2), false, default);
        await volume.FlushAsync(default);

        Assert.Equal((false, 100L), await volume.GetProvisioningStatusAsync(0, default));
        Assert.Equal((false, 50L), await volume.GetProvisioningStatusAsync(50, default));
        Assert.Equal((true, 10L), await volume.GetProvisioningStatusAsync(100, default));
        Assert.Equal((true, 5L), await volume.GetProvisioningStatusAsync(105, default));
        Assert.Equal((false, 390L), await volume.GetProvisioningStatusAsync(110, default));
        Assert.Equal((true, 1L), await volume.GetProvisioningStatusAsync(500, default));
        Assert.Equal((false, 523L), await volume.GetProvisioningStatusAsync(501, default));
        Assert.Equal((false, 1L), await volume.GetProvisioningStatusAsync(1023, default));

        // Deallocate the middle of the first extent.
        await volume.UnmapAsync(103, 4, default);
        Assert.Equal((true, 3L), await volume.GetProvisioningStatusAsync(100, default));
        Assert.Equal((false, 4L), await volume.GetProvisioningStatusAsync(103, default));
        Assert.Equal((true, 3L), await volume.GetProvisioningStatusAsync(107, default));
    }

    [Fact]
    public async Task ProvisioningStatus_ThickVolume_AlwaysMapped()
    {
        await using var volume = FileBlockVolume.Create(NewPath(), 128, 512, thin: false);
        Assert.False(volume.SupportsUnmap);
        Assert.Equal((true, 118L), await volume.GetProvisioningStatusAsync(10, default));

        // Unmap still zeroes (written as zeros) so LBPRZ-style reads stay correct.
        await volume.WriteAsync(10, Pattern(512, 4), false, default);
        await volume.UnmapAsync(10, 1, default);
        var back = new byte[512];
        await volume.ReadAsync(10, back, default);
        Assert.All(back, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task ConcurrentWrites_ToDistinctBlocks_AllLand()
    {
        await using var volume = FileBlockVolume.Create(NewPath(), 256, 512);
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i =>
            volume.WriteAsync(i * 4, Pattern(4 * 512, (byte)i), i % 8 == 0, default).AsTask()));
        for (var i = 0; i < 64; i++)
        {
            var back = new byte[4 * 512];
            await volume.ReadAsync(i * 4, back, default);
            Assert.Equal(Pattern(4 * 512, (byte)i), back);
        }
    }

    /// <summary>st_blocks * 512 via `stat`; avoids another P/Invoke in the tests.</summary>
    private static long AllocatedBytes(string path)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b %B", path])
        {
            RedirectStandardOutput = true,
        })!;
        var output = process.StandardOutput.ReadToEnd().Trim().Split(' ');
        process.WaitForExit();
        return long.Parse(output[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(output[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}

using TapeGateway.Media.Block;

namespace TapeGateway.Media.Tests.Block;

public sealed class InMemoryBlockVolumeTests
{
    [Fact]
    public async Task HugeSparseVolume_CostsNothingUntilWritten()
    {
        var volume = new InMemoryBlockVolume(1L << 33);
        Assert.Equal(0, volume.MappedBlockCount);
        var data = new byte[512];
        data.AsSpan().Fill(0x5A);
        await volume.WriteAsync((1L << 33) - 1, data, forceUnitAccess: true, default);
        var back = new byte[1024];
        await volume.ReadAsync((1L << 33) - 2, back, default);
        Assert.All(back.AsSpan(0, 512).ToArray(), b => Assert.Equal(0, b));
        Assert.All(back.AsSpan(512).ToArray(), b => Assert.Equal(0x5A, b));
        Assert.Equal(1, volume.ForceUnitAccessWrites);
        Assert.Equal(1, volume.MappedBlockCount);
    }

    [Fact]
    public async Task ProvisioningStatus_ReportsRuns()
    {
        var volume = new InMemoryBlockVolume(100);
        await volume.WriteAsync(10, new byte[5 * 512], false, default);
        Assert.Equal((false, 10L), await volume.GetProvisioningStatusAsync(0, default));
        Assert.Equal((true, 5L), await volume.GetProvisioningStatusAsync(10, default));
        Assert.Equal((false, 85L), await volume.GetProvisioningStatusAsync(15, default));
        await volume.UnmapAsync(12, 1, default);
        Assert.Equal((true, 2L), await volume.GetProvisioningStatusAsync(10, default));
        Assert.Equal((false, 1L), await volume.GetProvisioningStatusAsync(12, default));
    }

    [Fact]
    public async Task ReadOnly_RejectsWrites()
    {
        var volume = new InMemoryBlockVolume(16, 4096, readOnly: true);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await volume.WriteAsync(0, new byte[4096], false, default));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await volume.UnmapAsync(0, 1, default));
    }
}

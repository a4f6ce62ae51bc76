using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// The volume's lifetime counters (LOG SENSE 17h 0002h/0007h/0010h/0011h, MAM 0220h/0221h) survive unloads in the
/// image's attribute area, as a drive keeps them in cartridge memory; a read-only mount reports but never stores them.
/// </summary>
public sealed class TapeLifetimeStatisticsTests
{
    [Fact]
    public async Task Lifetime_totals_add_up_over_mounts_and_this_mount_starts_from_zero()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store))
        {
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(Pattern(3000, 1), compress: false)).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(Pattern(5000, 2), compress: false)).Condition);
            Assert.Equal(8000, tape.Statistics.LifetimeHostBytesWritten);
        }

        await using (var second = await ReopenAsync(store))
        {
            Assert.Equal(0, second.Statistics.HostBytesWritten);
            Assert.Equal(8000, second.Statistics.LifetimeHostBytesWritten);
            Assert.Equal(2, second.Statistics.LifetimeBlocksWritten);
            var buffer = new byte[3000];
            Assert.Equal(TapeCondition.Ok, (await second.ReadBlockAsync(buffer)).Condition);
            Assert.Equal(TapeCondition.Ok, (await second.SpaceToEndOfDataAsync()).Condition);
            Assert.Equal(TapeCondition.Ok, (await second.WriteBlockAsync(Pattern(1000, 3), compress: false)).Condition);
            Assert.Equal(3000, second.Statistics.LifetimeHostBytesRead);
        }

        await using (var readOnly = await ReopenAsync(store, new TapeMountOptions { ReadOnly = true }))
        {
            Assert.Equal(9000, readOnly.Statistics.LifetimeHostBytesWritten);
            Assert.Equal(3, readOnly.Statistics.LifetimeBlocksWritten);
            Assert.Equal(3000, readOnly.Statistics.LifetimeHostBytesRead);
            Assert.Equal(1, readOnly.Statistics.LifetimeBlocksRead);
            var buffer = new byte[3000];
            Assert.Equal(TapeCondition.Ok, (await readOnly.ReadBlockAsync(buffer)).Condition);
            Assert.Equal(6000, readOnly.Statistics.LifetimeHostBytesRead); // reported for this mount...
        }

        await using var fourth = await ReopenAsync(store);
        Assert.Equal(3000, fourth.Statistics.LifetimeHostBytesRead); // ...but a read-only mount stores nothing
        Assert.Equal(9000, fourth.Statistics.LifetimeHostBytesWritten);
    }

    [Fact]
    public async Task A_mount_that_moves_no_data_leaves_the_attribute_area_untouched()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store))
        {
            await tape.WriteBlockAsync(Pattern(100, 1), compress: false);
        }

        var before = store.ToArray();
        await using (var idle = await ReopenAsync(store))
        {
            Assert.Equal(TapeCondition.Ok, (await idle.RewindAsync()).Condition);
        }

        Assert.Equal(before, store.ToArray());
    }

    [Fact]
    public void A_malformed_lifetime_entry_is_ignored()
    {
        var statistics = new TapeStatistics();
        Assert.False(statistics.TryLoadPrior(new byte[31]));
        var negative = new byte[32];
        negative[7] = 0x80; // bytes written < 0
        Assert.False(statistics.TryLoadPrior(negative));
        Assert.Equal(0, statistics.LifetimeHostBytesWritten);
        var good = new TapeStatistics();
        good.OnWrite(10, 10, compressed: false);
        Assert.True(statistics.TryLoadPrior(good.EncodeLifetime()));
        Assert.Equal(10, statistics.LifetimeHostBytesWritten);
        Assert.Equal(1, statistics.LifetimeBlocksWritten);
    }

    [Fact]
    public async Task Volume_change_reference_advances_once_per_mount_that_changes_data_and_never_on_a_read_only_one()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store))
        {
            Assert.Equal(-1, Vcr(tape)); // never written
            await tape.WriteBlockAsync(Pattern(100, 1), compress: false);
            await tape.WriteBlockAsync(Pattern(100, 2), compress: false);
            await tape.WriteFilemarksAsync(1, immediate: false);
            Assert.Equal(1, Vcr(tape)); // once for the whole mount
        }

        // Durable before the data changed: the value is there even if the mount then crashed.
        await using (var crashed = await ReopenAsync(new MemoryTapeStore(store.ToArray())))
        {
            Assert.Equal(1, Vcr(crashed));
        }

        await using (var reader = await ReopenAsync(store))
        {
            var buffer = new byte[100];
            await reader.ReadBlockAsync(buffer);
            Assert.Equal(1, Vcr(reader)); // reading changes nothing
        }

        await using (var readOnly = await ReopenAsync(store, new TapeMountOptions { ReadOnly = true }))
        {
            Assert.Equal(1, Vcr(readOnly));
        }

        await using (var writer = await ReopenAsync(store))
        {
            Assert.Equal(TapeCondition.Ok, (await writer.EraseAsync()).Condition);
            Assert.Equal(2, Vcr(writer));
            await writer.WriteBlockAsync(Pattern(10, 3), compress: false);
            Assert.Equal(2, Vcr(writer));
        }

        await using var formatted = await ReopenAsync(store);
        Assert.Equal(TapeCondition.Ok, (await formatted.SetCapacityAsync(formatted.NativeCapacityBytes)).Condition);
        Assert.Equal(3, Vcr(formatted));
    }

    private static long Vcr(TapeImage tape) =>
        tape.TryGetAttribute(MamAttributeId.VolumeChangeReference, out var v) && v.Length == 4
            ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(v.Span)
            : -1;

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}

using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// Partitions (SSC-4 §4.2.3) in one log-structured record stream (format 1.2): FORMAT MEDIUM with a layout, LOCATE with
/// a partition change, per-partition EOD, capacity and MAM, physical versus logical supersede, and recovery.
/// </summary>
public sealed class TapePartitionTests
{
    private const int BlockSize = 4096;
    private const int RecordSize = BlockSize + 32;

    private static async Task<TapeImage> PartitionedAsync(MemoryTapeStore store, params long[] capacities)
    {
        var tape = await NewTapeAsync(store, 16 * MiB);
        Assert.Equal(TapeCondition.Ok, (await tape.FormatPartitionsAsync(capacities)).Condition);
        return tape;
    }

    private static byte[] Block(int partition, int n, int length = BlockSize) => RandomBlock(length, (partition * 10_000) + n);

    private static async Task WriteAsync(ITapeMedium tape, byte[] block) =>
        Assert.True((await tape.WriteBlockAsync(block, compress: false)).Condition is TapeCondition.Ok or TapeCondition.EarlyWarning);

    private static async Task FilemarkAsync(ITapeMedium tape, bool immediate = false) =>
        Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate)).Condition);

    /// <summary>Reads the whole partition from BOP: blocks as their bytes, filemarks as null.</summary>
    private static async Task<List<byte[]?>> ReadPartitionAsync(ITapeMedium tape, int partition)
    {
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(partition, 0)).Condition);
        var objects = new List<byte[]?>();
        while (true)
        {
            var buffer = new byte[64 * 1024];
            var r = await tape.ReadBlockAsync(buffer);
            switch (r.Condition)
            {
                case TapeCondition.Ok or TapeCondition.IncorrectLength:
                    objects.Add(buffer.AsSpan(0, r.BlockLength).ToArray());
                    break;
                case TapeCondition.FilemarkDetected:
                    objects.Add(null);
                    break;
                case TapeCondition.EndOfData:
                    return objects;
                default:
                    Assert.Fail($"unexpected {r.Condition} in partition {partition}");
                    return objects;
            }
        }
    }

    private static async Task<List<byte[]?>[]> ReadAllAsync(ITapeMedium tape)
    {
        var all = new List<byte[]?>[tape.PartitionCount];
        for (var p = 0; p < all.Length; p++)
        {
            all[p] = await ReadPartitionAsync(tape, p);
        }

        return all;
    }

    private static void SameContent(IReadOnlyList<List<byte[]?>> expected, IReadOnlyList<List<byte[]?>> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var p = 0; p < expected.Count; p++)
        {
            Assert.Equal(expected[p].Count, actual[p].Count);
            for (var i = 0; i < expected[p].Count; i++)
            {
                Assert.Equal(expected[p][i], actual[p][i]);
            }
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Each_partition_is_a_tape_of_its_own(int count)
    {
        var store = new MemoryTapeStore();
        var capacities = Enumerable.Repeat(2 * MiB, count).ToArray();
        await using var tape = await PartitionedAsync(store, capacities);
        Assert.Equal(count, tape.PartitionCount);
        Assert.Equal(16 * MiB, tape.CapacityBytes); // the whole medium's
        var p0 = tape.ReadPosition();
        Assert.Equal((0, 0L, true, 2 * MiB, 0L), (p0.Partition, p0.LogicalObjectNumber, p0.AtBeginningOfPartition, p0.CapacityBytes, p0.EndOfDataObjectNumber));
        Assert.Equal(MiB / 2, p0.EarlyWarningBytes); // 4 MiB of 16 MiB: the same quarter of 2 MiB

        // Interleave: partition p gets p + 2 blocks, a filemark, one more block, written round-robin.
        for (var round = 0; round < 4; round++)
        {
            for (var p = 0; p < count; p++)
            {
                var objects = p + 4;
                Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(p, Math.Min(round * 2, tape.GetPartition(p).EndOfDataObjectNumber))).Condition);
                Assert.Equal(TapeCondition.Ok, (await tape.SpaceToEndOfDataAsync()).Condition);
                for (var i = 0; i < 2 && tape.ReadPosition().LogicalObjectNumber < objects; i++)
                {
                    var lon = (int)tape.ReadPosition().LogicalObjectNumber;
                    if (lon == p + 2)
                    {
                        await FilemarkAsync(tape);
                    }
                    else
                    {
                        await WriteAsync(tape, Block(p, lon));
                    }
                }
            }
        }

        for (var p = 0; p < count; p++)
        {
            var info = tape.GetPartition(p);
            Assert.Equal((p, 2 * MiB, (long)p + 4), (info.Partition, info.CapacityBytes, info.EndOfDataObjectNumber));
            Assert.Equal(((p + 3) * (long)RecordSize) + 32, info.BytesUsed);

            // READ POSITION reports the active partition's figures.
            Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(p, p + 3)).Condition);
            var pos = tape.ReadPosition();
            Assert.Equal((p, (long)p + 3, 1L, 0L, false, (long)p + 4, info.BytesUsed), (pos.Partition, pos.LogicalObjectNumber, pos.FileNumber, pos.BlockNumberInFile, pos.AtBeginningOfPartition, pos.EndOfDataObjectNumber, pos.BytesUsed));
            Assert.Equal(2 * MiB, pos.CapacityBytes);
            await ExpectBlockAsync(tape, Block(p, p + 3));
            await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);

            // Space within the partition stops at its own filemark, BOP and EOD.
            Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(p, 0)).Condition);
            Assert.Equal(TapeCondition.FilemarkDetected, (await tape.SpaceBlocksAsync(10)).Condition);
            Assert.Equal((long)p + 3, tape.ReadPosition().LogicalObjectNumber);
            Assert.Equal(TapeCondition.EndOfData, (await tape.SpaceFilemarksAsync(1)).Condition);
            Assert.Equal(TapeCondition.BeginningOfMedium, (await tape.SpaceFilemarksAsync(-2)).Condition);
            Assert.Equal(TapeCondition.EndOfData, (await tape.LocateAsync(p, 100)).Condition);
            Assert.Equal((long)p + 4, tape.ReadPosition().LogicalObjectNumber);
        }

        var before = await ReadAllAsync(tape);
        Assert.Equal(TapeCondition.Ok, (await tape.RewindAsync()).Condition);
        Assert.Equal((0, 0L), (tape.ReadPosition().Partition, tape.ReadPosition().LogicalObjectNumber));
        await tape.UnloadAsync();

        await using var again = await ReopenAsync(store);
        Assert.Equal(count, again.PartitionCount);
        Assert.False(again.Recovery.FromCheckpoint);
        Assert.True(again.Recovery.WasSealed);
        Assert.Equal(0, again.ReadPosition().Partition);
        SameContent(before, await ReadAllAsync(again));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await again.LocateAsync(count, 0));
    }

    [Fact]
    public async Task Overwrite_in_the_tail_run_cuts_and_elsewhere_appends()
    {
        var store = new MemoryTapeStore();
        await using var tape = await PartitionedAsync(store, 4 * MiB, 4 * MiB);
        for (var i = 0; i < 4; i++)
        {
            await WriteAsync(tape, Block(0, i));
        }

        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, 0)).Condition);
        for (var i = 0; i < 4; i++)
        {
            await WriteAsync(tape, Block(1, i));
        }

        // Partition 1 is the tail run: overwriting its object 2 cuts the store there.
        var length = store.Length;
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, 2)).Condition);
        await WriteAsync(tape, Block(1, 12));
        Assert.Equal(length - RecordSize, store.Length);

        // Partition 0 is not: overwriting its object 1 appends, the old records stay as garbage.
        length = store.Length;
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 1)).Condition);
        await WriteAsync(tape, Block(0, 11));
        Assert.Equal(length + RecordSize, store.Length);
        Assert.Equal((2L, 2L * RecordSize), (tape.GetPartition(0).EndOfDataObjectNumber, tape.GetPartition(0).BytesUsed));

        // Now partition 0 is the tail run, but its object 1 hid older records: cutting it would bring them back.
        length = store.Length;
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 1)).Condition);
        await WriteAsync(tape, Block(0, 21));
        Assert.Equal(length + RecordSize, store.Length);

        // Past the hiding record a cut is safe again.
        await WriteAsync(tape, Block(0, 22));
        length = store.Length;
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 2)).Condition);
        await WriteAsync(tape, Block(0, 32));
        Assert.Equal(length, store.Length);

        var expected = new[]
        {
            new List<byte[]?> { Block(0, 0), Block(0, 21), Block(0, 32) },
            new List<byte[]?> { Block(1, 0), Block(1, 1), Block(1, 12) },
        };
        SameContent(expected, await ReadAllAsync(tape));
        await tape.FlushAsync();
        await using var crashed = await ReopenAsync(new MemoryTapeStore(store.ToArray()));
        SameContent(expected, await ReadAllAsync(crashed));
    }

    [Fact]
    public async Task Erase_outside_the_tail_run_is_a_partition_end_record_that_survives_a_remount()
    {
        var store = new MemoryTapeStore();
        await using var tape = await PartitionedAsync(store, 4 * MiB, 4 * MiB);
        for (var i = 0; i < 4; i++)
        {
            await WriteAsync(tape, Block(0, i));
        }

        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, 0)).Condition);
        for (var i = 0; i < 4; i++)
        {
            await WriteAsync(tape, Block(1, i));
        }

        // In the tail run (partition 1) ERASE is a physical cut.
        var length = store.Length;
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, 3)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition);
        Assert.Equal(length - RecordSize, store.Length);

        // Elsewhere it appends a partition-end record.
        length = store.Length;
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 2)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition);
        Assert.Equal(length + 32, store.Length);
        Assert.Equal((2L, 2L * RecordSize), (tape.GetPartition(0).EndOfDataObjectNumber, tape.GetPartition(0).BytesUsed));
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(Block(0, 9), compress: false)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 2)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition);
        Assert.Equal(length + 32, store.Length); // after the partition-end record: a physical cut again
        var expected = new[]
        {
            new List<byte[]?> { Block(0, 0), Block(0, 1) },
            new List<byte[]?> { Block(1, 0), Block(1, 1), Block(1, 2) },
        };
        SameContent(expected, await ReadAllAsync(tape));

        // ERASE is durable: a crash right after it keeps it.
        await using var crashed = await ReopenAsync(new MemoryTapeStore(store.ToArray()));
        SameContent(expected, await ReadAllAsync(crashed));
    }
}

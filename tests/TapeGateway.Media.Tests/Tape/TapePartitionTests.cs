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

        // REWIND goes to BOP of the active partition, not to partition 0.
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(count - 1, 2)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.RewindAsync()).Condition);
        Assert.Equal((count - 1, 0L), (tape.ReadPosition().Partition, tape.ReadPosition().LogicalObjectNumber));
        Assert.True(tape.ReadPosition().AtBeginningOfPartition);
        await tape.UnloadAsync();

        await using var again = await ReopenAsync(store);
        Assert.Equal(count, again.PartitionCount);
        Assert.True(again.Recovery.FromCheckpoint); // the version-2 checkpoint (TapePartitionCheckpointTests)
        Assert.True(again.Recovery.WasSealed);
        Assert.Equal(0, again.ReadPosition().Partition);
        SameContent(before, await ReadAllAsync(again));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await again.LocateAsync(count, 0));
    }

    /// <summary>Two 4 MiB partitions with blocks 0-3 in each, written partition 0 first: partition 1 is the tail run.</summary>
    private static async Task<TapeImage> FourBlocksInEachOfTwoPartitionsAsync(MemoryTapeStore store)
    {
        var tape = await PartitionedAsync(store, 4 * MiB, 4 * MiB);
        for (var i = 0; i < 4; i++)
        {
            await WriteAsync(tape, Block(0, i));
        }

        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, 0)).Condition);
        for (var i = 0; i < 4; i++)
        {
            await WriteAsync(tape, Block(1, i));
        }

        return tape;
    }

    [Fact]
    public async Task Overwrite_in_the_tail_run_cuts_and_elsewhere_appends()
    {
        var store = new MemoryTapeStore();
        await using var tape = await FourBlocksInEachOfTwoPartitionsAsync(store);

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
        await using var tape = await FourBlocksInEachOfTwoPartitionsAsync(store);

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

    /// <summary>
    /// The LTFS pattern (index partition 0, data partition 1): labels, indexes, then rounds of "append data and an
    /// index to partition 1, rewrite partition 0's index in place". Every round is read back live and after a remount,
    /// and the garbage the rewrites leave never exceeds what they superseded.
    /// </summary>
    [Fact]
    public async Task Ltfs_pattern_keeps_both_partitions_and_bounded_garbage_across_remounts()
    {
        var store = new MemoryTapeStore();
        var tape = await PartitionedAsync(store, 2 * MiB, 12 * MiB);
        var model = new[] { new List<byte[]?>(), new List<byte[]?>() };
        async Task PutAsync(int partition, long lon, params byte[]?[] objects)
        {
            Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(partition, lon)).Condition);
            model[partition].RemoveRange((int)lon, model[partition].Count - (int)lon);
            foreach (var o in objects)
            {
                if (o is null)
                {
                    await FilemarkAsync(tape);
                }
                else
                {
                    await WriteAsync(tape, o);
                }

                model[partition].Add(o);
            }
        }

        await PutAsync(0, 0, Block(0, 0, 80), null); // VOL1 label + FM
        await PutAsync(1, 0, Block(1, 0, 80), null);
        await PutAsync(1, 2, Block(1, 1, 3000), null); // index + FM
        await PutAsync(0, 2, Block(0, 1, 3000), null);
        long superseded = 0;
        for (var round = 0; round < 6; round++)
        {
            // Append a file and a new index to the data partition.
            await PutAsync(1, model[1].Count, Block(1, 100 + round, 20_000), Block(1, 200 + round, 3000), null);

            // LOCATE to partition 0 after label + FM (object 2) and overwrite its index and trailing filemark.
            superseded += tape.GetPartition(0).BytesUsed - (2 * 32) - 80;
            await PutAsync(0, 2, Block(0, 300 + round, 3000 + round), null);
            SameContent(model, await ReadAllAsync(tape));

            var live = tape.GetPartition(0).BytesUsed + tape.GetPartition(1).BytesUsed;
            var garbage = store.Length - TapeFormat.DataStart - live;
            Assert.InRange(garbage, 0, superseded);

            if (round % 2 == 1)
            {
                await tape.UnloadAsync();
                tape = await ReopenAsync(store);
                Assert.Equal(2, tape.PartitionCount);
                Assert.True(tape.Recovery.WasSealed);
                SameContent(model, await ReadAllAsync(tape));
            }
            else
            {
                // A crash: no seal, no unload.
                await using var crashed = await ReopenAsync(new MemoryTapeStore(store.ToArray()));
                SameContent(model, await ReadAllAsync(crashed));
            }
        }

        await tape.DisposeAsync();
    }

    /// <summary>
    /// Crash safety: a sequence of operations over two partitions (appends, logical and physical supersedes, ERASE,
    /// immediate and durable filemarks), with a crash after every store operation and in the middle of every write.
    /// Every crash image must come back as the state after some prefix of the operations — before or after the one in
    /// progress, or, for an overwrite, with the superseded objects gone and the new one not yet written (as on one
    /// partition): never superseded data brought back. Then the final image is cut at every record boundary and
    /// inside every record: each prefix of the stream is a state the tape passed through.
    /// </summary>
    [Fact]
    public async Task A_crash_anywhere_leaves_a_state_the_operations_passed_through()
    {
        var inner = new MemoryTapeStore();
        await using (var fresh = await PartitionedAsync(inner, 4 * MiB, 4 * MiB))
        {
            await fresh.UnloadAsync();
        }

        var recorder = new SnapshotTapeStore(new MemoryTapeStore(inner.ToArray()), tornWrites: true);
        var tape = await TapeImage.OpenAsync(recorder);
        var model = new[] { new List<byte[]?>(), new List<byte[]?>() };
        var states = new List<string> { Describe(model) };
        var allowed = new List<HashSet<string>>(); // per op: states a crash during it may leave
        var snapshotsBefore = new List<int>();
        var ops = new (int Partition, int Lon, string Kind)[]
        {
            (0, 0, "block"), (0, 1, "block"), (0, 2, "fm"), (1, 0, "block"), (1, 1, "fmi"), (1, 2, "block"),
            (0, 1, "block"), (0, 2, "block"), (0, 1, "block"), (1, 1, "block"), (1, 0, "erase"), (1, 0, "block"),
            (0, 1, "erase"), (0, 1, "fm"), (1, 1, "block"), (1, 2, "block"), (1, 1, "block"), (0, 2, "block"),
            (1, 2, "erase"), (0, 0, "block"),
        };
        recorder.Snapshots.Clear();
        for (var k = 0; k < ops.Length; k++)
        {
            var (p, lon, kind) = ops[k];
            snapshotsBefore.Add(recorder.Snapshots.Count);
            var pos = tape.ReadPosition();
            if (pos.Partition != p || pos.LogicalObjectNumber != lon)
            {
                Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(p, lon)).Condition);
            }

            var before = Describe(model);
            model[p].RemoveRange(lon, model[p].Count - lon);
            var truncated = Describe(model);
            byte[]? added = null;
            switch (kind)
            {
                case "block":
                    added = Block(p, k, 500 + (k * 37));
                    await WriteAsync(tape, added);
                    model[p].Add(added);
                    break;
                case "fm" or "fmi":
                    await FilemarkAsync(tape, immediate: kind == "fmi");
                    model[p].Add(null);
                    break;
                default:
                    Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition);
                    break;
            }

            var after = Describe(model);
            states.Add(after);
            allowed.Add([before, truncated, after]);
        }

        await tape.FlushAsync();
        snapshotsBefore.Add(recorder.Snapshots.Count);
        var final = recorder.Snapshots[^1];

        // (1) A crash after any store operation, or with any write torn in half.
        for (var k = 0; k < ops.Length; k++)
        {
            for (var i = snapshotsBefore[k]; i < snapshotsBefore[k + 1]; i++)
            {
                await using var crashed = await ReopenAsync(new MemoryTapeStore(recorder.Snapshots[i]));
                var state = Describe(await ReadAllAsync(crashed));
                Assert.True(allowed[k].Contains(state), $"op {k} ({ops[k]}), snapshot {i}: {state}");
            }
        }

        // (2) The final stream cut at every record boundary and in the middle of every record.
        var passed = new HashSet<string>(states);
        var offset = TapeFormat.DataStart;
        var cuts = new List<long>();
        while (offset + 32 <= final.Length)
        {
            var stored = BitConverter.ToInt32(final, (int)offset + 8);
            cuts.Add(offset);
            cuts.Add(offset + 16);
            cuts.Add(offset + 32 + (stored / 2));
            offset += 32 + stored;
        }

        cuts.Add(final.Length);
        foreach (var cut in cuts.Where(c => c <= final.Length))
        {
            await using var crashed = await ReopenAsync(new MemoryTapeStore(final.AsSpan(0, (int)cut)));
            var state = Describe(await ReadAllAsync(crashed));
            Assert.True(passed.Contains(state), $"cut at {cut}: {state}");
        }

        Assert.Equal(states[^1], Describe(await ReadAllAsync(tape)));
        await tape.DisposeAsync();
    }

    private static string Describe(IReadOnlyList<List<byte[]?>> partitions) =>
        string.Join(" | ", partitions.Select(p => string.Join(",", p.Select(o => o is null ? "FM" : $"{o.Length}:{o[0]:X2}{o[^1]:X2}"))));

    [Fact]
    public async Task Each_partition_warns_and_overflows_at_its_own_capacity()
    {
        var store = new MemoryTapeStore();
        await using var tape = await PartitionedAsync(store, 64 * RecordSize, 8 * MiB);
        var ew = tape.GetPartition(0).EarlyWarningBytes;
        Assert.Equal(64 * RecordSize / 4, ew);
        var fitting = 64;
        for (var n = 1; n <= fitting; n++)
        {
            var expected = (n * (long)RecordSize) > (64 * RecordSize) - ew ? TapeCondition.EarlyWarning : TapeCondition.Ok;
            Assert.Equal(expected, (await tape.WriteBlockAsync(Block(0, n), compress: false)).Condition);
        }

        Assert.True(tape.ReadPosition().BeyondEarlyWarning);
        Assert.Equal(TapeCondition.VolumeOverflow, (await tape.WriteBlockAsync(Block(0, 99), compress: false)).Condition);
        var residue = await tape.WriteFilemarksAsync(2, immediate: false);
        Assert.Equal((TapeCondition.VolumeOverflow, 2L), (residue.Condition, residue.Residue));

        // The other partition still has room and is not past early warning.
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, 0)).Condition);
        Assert.False(tape.ReadPosition().BeyondEarlyWarning);
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(Block(1, 0), compress: false)).Condition);

        // Superseding in partition 0 frees its bytes (though the old records stay in the stream as garbage).
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 10)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(Block(0, 100), compress: false)).Condition);
        Assert.Equal(11L * RecordSize, tape.GetPartition(0).BytesUsed);
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 5)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition);
        Assert.Equal(5L * RecordSize, tape.GetPartition(0).BytesUsed);
        Assert.Equal(5L * RecordSize, tape.ReadPosition().BytesUsed);
    }

    [Fact]
    public async Task Worm_partitions_are_append_only_and_formatted_only_while_blank()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store, 16 * MiB, worm: true);
        Assert.Equal(TapeCondition.Ok, (await tape.FormatPartitionsAsync([4 * MiB, 4 * MiB])).Condition);
        await WriteAsync(tape, Block(0, 0));
        await WriteAsync(tape, Block(0, 1));
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, 0)).Condition);
        await WriteAsync(tape, Block(1, 0));
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 1)).Condition);
        Assert.Equal(TapeCondition.WormOverwrite, (await tape.WriteBlockAsync(Block(0, 9), compress: false)).Condition);
        Assert.Equal(TapeCondition.WormOverwrite, (await tape.EraseAsync()).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, 2)).Condition);
        await WriteAsync(tape, Block(0, 2)); // at EOD of partition 0: allowed although partition 1 is the tail

        Assert.Equal(TapeCondition.WormOverwrite, (await tape.FormatPartitionsAsync([16 * MiB])).Condition);
        Assert.Equal((2, 3L, 1L), (tape.PartitionCount, tape.GetPartition(0).EndOfDataObjectNumber, tape.GetPartition(1).EndOfDataObjectNumber));
    }

    [Fact]
    public async Task Format_back_to_one_partition_and_set_capacity_undo_the_layout()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await PartitionedAsync(store, 4 * MiB, 4 * MiB, 4 * MiB))
        {
            await WriteAsync(tape, Block(0, 0));
            Assert.Equal(TapeCondition.Ok, (await tape.FormatPartitionsAsync([16 * MiB])).Condition);
            Assert.Equal((1, 0L, 16 * MiB), (tape.PartitionCount, tape.ReadPosition().EndOfDataObjectNumber, tape.ReadPosition().CapacityBytes));
            await WriteAsync(tape, Block(0, 1));
        }

        // One partition again: a plain single-partition image, with its index checkpoint.
        await using (var tape = await ReopenAsync(store))
        {
            Assert.Equal(1, tape.PartitionCount);
            Assert.True(tape.Recovery.FromCheckpoint);
            await ExpectBlockAsync(tape, Block(0, 1));
            Assert.Equal(TapeCondition.Ok, (await tape.FormatPartitionsAsync([8 * MiB, 8 * MiB])).Condition);
            await WriteAsync(tape, Block(0, 2));
            Assert.Equal(TapeCondition.Ok, (await tape.SetCapacityAsync(8 * MiB)).Condition);
            Assert.Equal((1, 8 * MiB, 0L), (tape.PartitionCount, tape.CapacityBytes, tape.ReadPosition().EndOfDataObjectNumber));
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal((1, 8 * MiB), (again.PartitionCount, again.CapacityBytes));
    }

    [Fact]
    public async Task Bad_layouts_and_refusals_change_nothing()
    {
        var store = new MemoryTapeStore();
        await using var tape = await PartitionedAsync(store, 4 * MiB, 4 * MiB);
        await WriteAsync(tape, Block(0, 0));
        foreach (var bad in new long[][] { [], [MiB, MiB, MiB, MiB, MiB], [0, MiB], [8 * MiB, (8 * MiB) + 1], [-1, MiB], [MiB] })
        {
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tape.FormatPartitionsAsync(bad));
        }

        tape.SetWriteProtected(true);
        Assert.Equal(TapeCondition.WriteProtected, (await tape.FormatPartitionsAsync([MiB, MiB, MiB])).Condition);
        tape.SetWriteProtected(false);
        Assert.Equal((2, 1L), (tape.PartitionCount, tape.GetPartition(0).EndOfDataObjectNumber));
        Assert.Throws<ArgumentOutOfRangeException>(() => tape.GetPartition(2));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tape.WriteAttributesAsync(2, [new TapeAttribute(0x0800, "X"u8.ToArray())]));
    }

    [Fact]
    public async Task Attributes_are_per_partition_and_format_drops_the_new_partitions_ones()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await PartitionedAsync(store, 4 * MiB, 4 * MiB))
        {
            await tape.IncrementLoadCountAsync();
            Assert.Equal(TapeCondition.Ok, (await tape.WriteAttributesAsync(0, [new TapeAttribute(0x0800, "P0"u8.ToArray())])).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteAttributesAsync(1, [new TapeAttribute(0x0800, "P1"u8.ToArray()), new TapeAttribute(0x0801, "N1"u8.ToArray())])).Condition);
        }

        await using (var tape = await ReopenAsync(store))
        {
            Assert.Equal([0x0003, MamAttributeId.VolumeChangeReference, 0x0800], tape.GetAttributeIds(0));
            Assert.Equal([0x0800, 0x0801], tape.GetAttributeIds(1));
            Assert.True(tape.TryGetAttribute(1, 0x0800, out var v));
            Assert.Equal("P1"u8.ToArray(), v.ToArray());
            Assert.True(tape.TryGetAttribute(0x0800, out v));
            Assert.Equal("P0"u8.ToArray(), v.ToArray());

            Assert.Equal(TapeCondition.Ok, (await tape.FormatPartitionsAsync([2 * MiB, 2 * MiB, 2 * MiB])).Condition);
            Assert.Empty(tape.GetAttributeIds(1));
            Assert.Empty(tape.GetAttributeIds(2));
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal(3, again.PartitionCount);
        Assert.Equal([0x0003, MamAttributeId.VolumeChangeReference, 0x0800], again.GetAttributeIds(0));
        Assert.Empty(again.GetAttributeIds(1));
    }

    [Fact]
    public async Task A_crash_between_the_two_format_steps_leaves_an_empty_tape_with_its_old_layout()
    {
        var inner = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(inner, 16 * MiB))
        {
            await WriteAsync(tape, Block(0, 0));
        }

        var snapshots = new SnapshotTapeStore(new MemoryTapeStore(inner.ToArray()));
        await using (var tape = await TapeImage.OpenAsync(snapshots))
        {
            snapshots.Snapshots.Clear();
            Assert.Equal(TapeCondition.Ok, (await tape.FormatPartitionsAsync([4 * MiB, 4 * MiB])).Condition);
        }

        var outcomes = new HashSet<(int, long)>();
        foreach (var snapshot in snapshots.Snapshots)
        {
            await using var crashed = await ReopenAsync(new MemoryTapeStore(snapshot));
            var state = (crashed.PartitionCount, crashed.GetPartition(0).EndOfDataObjectNumber);
            Assert.Contains(state, new[] { (1, 1L), (1, 0L), (2, 0L) });
            outcomes.Add(state);
        }

        Assert.Contains((1, 0L), outcomes);
        Assert.Contains((2, 0L), outcomes);
    }

    [Fact]
    public async Task A_garbled_layout_entry_is_ignored()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store, 16 * MiB))
        {
            await WriteAsync(tape, Block(0, 0));
        }

        foreach (var entry in new byte[][] { [2], [5, 0, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 16, 0, 0, 0, 0, 0], LayoutEntry(8 * MiB, 0), LayoutEntry(8 * MiB, (8 * MiB) + 1) })
        {
            var image = WithInternalEntry(store.ToArray(), entry);
            await using var tape = await ReopenAsync(new MemoryTapeStore(image));
            Assert.Equal((1, 16 * MiB, 1L), (tape.PartitionCount, tape.ReadPosition().CapacityBytes, tape.ReadPosition().EndOfDataObjectNumber));
        }

        await using var good = await ReopenAsync(new MemoryTapeStore(WithInternalEntry(store.ToArray(), LayoutEntry(8 * MiB, 8 * MiB))));
        Assert.Equal(2, good.PartitionCount); // the well-formed entry is taken (the block is partition 0's)
        Assert.Equal(1L, good.GetPartition(0).EndOfDataObjectNumber);
    }

    [Fact]
    public async Task Read_ahead_takes_the_record_size_from_the_partition_index()
    {
        var store = new MemoryTapeStore();
        await using var tape = await PartitionedAsync(store, 4 * MiB, 4 * MiB);
        for (var i = 0; i < 4; i++)
        {
            // Interleaved records of different sizes: the next record in the stream is the other partition's.
            Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0, i)).Condition);
            await WriteAsync(tape, Block(0, i, 1000 + i));
            Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, i)).Condition);
            await WriteAsync(tape, Block(1, i, 7000 + i));
        }

        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1, 0)).Condition);
        for (var i = 0; i < 4; i++)
        {
            if (i > 0)
            {
                var deadline = DateTime.UtcNow.AddSeconds(5);
                while (tape.ReadAheadObject != i && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(1);
                }

                Assert.Equal(i, tape.ReadAheadObject);
            }

            await ExpectBlockAsync(tape, Block(1, i, 7000 + i));
        }
    }

    [Fact]
    public async Task A_single_partition_image_is_written_as_before()
    {
        var store = new MemoryTapeStore();
        long second;
        await using (var tape = await NewTapeAsync(store))
        {
            await WriteAsync(tape, Block(0, 0));
            await WriteAsync(tape, Block(0, 1));
            second = tape.RecordOffset(1);
            Assert.Equal(TapeFormat.DataStart + RecordSize, second); // contiguous records, nothing in between
        }

        var image = store.ToArray();
        Assert.Equal(3, BitConverter.ToUInt16(image, 10)); // minor version 1.3 (encrypted records)
        Assert.Equal(0, image[second + 6]); // partition byte
        Assert.True(CheckpointBytes(image) > 0);
        await using var again = await ReopenAsync(store);
        Assert.True(again.Recovery.FromCheckpoint);
        Assert.Equal(1, again.PartitionCount);
    }

    private static byte[] LayoutEntry(params long[] capacities)
    {
        var entry = new byte[1 + (8 * capacities.Length)];
        entry[0] = (byte)capacities.Length;
        for (var k = 0; k < capacities.Length; k++)
        {
            BitConverter.TryWriteBytes(entry.AsSpan(1 + (8 * k)), capacities[k]);
        }

        return entry;
    }

    /// <summary>The image with the newest attribute slot rewritten to hold only the layout entry (as a forger would).</summary>
    private static byte[] WithInternalEntry(byte[] image, byte[] layout)
    {
        var area = new TapeAttributeArea();
        area.SetEntry(TapeFormat.PartitionLayoutKey, layout);
        var slot = new byte[TapeFormat.AttributeSlotSize];
        area.Encode(slot, 1000);
        slot.CopyTo(image.AsSpan((int)TapeFormat.AttributeSlotOffset));
        return image;
    }
}

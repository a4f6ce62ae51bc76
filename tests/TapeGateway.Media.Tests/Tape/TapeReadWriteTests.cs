using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

public sealed class TapeReadWriteTests
{
    [Fact]
    public async Task Blocks_and_filemarks_read_back_in_order_then_EOD()
    {
        var store = new MemoryTapeStore();
        var b0 = RandomBlock(1000, 1);
        var b1 = RandomBlock(65536, 2);
        var b2 = RandomBlock(1, 3);
        await using (var tape = await NewTapeAsync(store))
        {
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(b0, compress: false)).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(b1, compress: false)).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(b2, compress: false)).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(2, immediate: true)).Condition);

            await tape.RewindAsync();
            await ExpectBlockAsync(tape, b0);
            await ExpectBlockAsync(tape, b1);
            await ExpectConditionOnReadAsync(tape, TapeCondition.FilemarkDetected);
            Assert.Equal(3, tape.ReadPosition().LogicalObjectNumber); // after the filemark (EOP side)
            await ExpectBlockAsync(tape, b2);
            await ExpectConditionOnReadAsync(tape, TapeCondition.FilemarkDetected);
            await ExpectConditionOnReadAsync(tape, TapeCondition.FilemarkDetected);
            await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
            await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
            Assert.Equal(6, tape.ReadPosition().LogicalObjectNumber); // EOD does not move the position
        }

        // Restart: everything intact, positioned at BOT.
        await using var reopened = await ReopenAsync(store);
        Assert.True(reopened.Recovery.WasSealed);
        Assert.Equal(0, reopened.Recovery.DiscardedBytes);
        var pos = reopened.ReadPosition();
        Assert.Equal(0, pos.LogicalObjectNumber);
        Assert.True(pos.AtBeginningOfPartition);
        Assert.Equal(6, pos.EndOfDataObjectNumber);
        await ExpectBlockAsync(reopened, b0);
        await ExpectBlockAsync(reopened, b1);
    }

    [Fact]
    public async Task Block_longer_than_buffer_reports_actual_length_and_truncates()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        var block = RandomBlock(4096, 7);
        await tape.WriteBlockAsync(block, compress: false);
        await tape.WriteBlockAsync(RandomBlock(10, 8), compress: false);
        await tape.RewindAsync();

        var buffer = new byte[1000];
        var r = await tape.ReadBlockAsync(buffer);
        Assert.Equal(TapeCondition.IncorrectLength, r.Condition);
        Assert.Equal(4096, r.BlockLength);
        Assert.Equal(1000, r.BytesTransferred);
        Assert.Equal(block.AsSpan(0, 1000).ToArray(), buffer);

        // SSC: after an incorrect-length read the position is past the block.
        Assert.Equal(1, tape.ReadPosition().LogicalObjectNumber);
    }

    [Fact]
    public async Task Block_shorter_than_buffer_is_incorrect_length_with_full_data()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        var block = RandomBlock(300, 9);
        await tape.WriteBlockAsync(block, compress: false);
        await tape.RewindAsync();

        var buffer = new byte[1024];
        var r = await tape.ReadBlockAsync(buffer);
        Assert.Equal(TapeCondition.IncorrectLength, r.Condition);
        Assert.Equal(300, r.BlockLength);
        Assert.Equal(300, r.BytesTransferred);
        Assert.Equal(block, buffer.AsSpan(0, 300).ToArray());
    }

    [Fact]
    public async Task Compressed_block_round_trips_and_is_flagged()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        var compressible = CompressibleBlock(256 * 1024, 1);
        var r = await tape.WriteBlockAsync(compressible, compress: true);
        Assert.Equal(TapeCondition.Ok, r.Condition);
        Assert.Equal(1, tape.Statistics.CompressedBlocksWritten);
        Assert.True(tape.ReadPosition().BytesUsed < compressible.Length / 10);

        var header = store.ToArray().AsSpan((int)tape.RecordOffset(0), 32);
        Assert.Equal(1, header[5] & 1); // compressed flag

        await tape.RewindAsync();
        await ExpectBlockAsync(tape, compressible);
    }

    [Fact]
    public async Task Incompressible_block_is_stored_raw_even_when_compression_is_on()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        var random = RandomBlock(64 * 1024, 2);
        await tape.WriteBlockAsync(random, compress: true);
        Assert.Equal(0, tape.Statistics.CompressedBlocksWritten);
        Assert.Equal(32 + random.Length, tape.ReadPosition().BytesUsed);
        var header = store.ToArray().AsSpan((int)tape.RecordOffset(0), 32);
        Assert.Equal(0, header[5] & 1);
        await tape.RewindAsync();
        await ExpectBlockAsync(tape, random);
    }

    [Fact]
    public async Task Compressed_block_into_small_and_large_buffers()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        var block = CompressibleBlock(100_000, 3);
        await tape.WriteBlockAsync(block, compress: true);
        await tape.WriteBlockAsync(block, compress: true);
        await tape.RewindAsync();

        var small = new byte[5000];
        var r = await tape.ReadBlockAsync(small);
        Assert.Equal(TapeCondition.IncorrectLength, r.Condition);
        Assert.Equal(100_000, r.BlockLength);
        Assert.Equal(5000, r.BytesTransferred);
        Assert.Equal(block.AsSpan(0, 5000).ToArray(), small);

        var large = new byte[200_000];
        r = await tape.ReadBlockAsync(large);
        Assert.Equal(TapeCondition.IncorrectLength, r.Condition);
        Assert.Equal(100_000, r.BlockLength);
        Assert.Equal(block, large.AsSpan(0, 100_000).ToArray());
    }

    [Fact]
    public async Task Compressed_blocks_survive_reopen()
    {
        var store = new MemoryTapeStore();
        var blocks = Enumerable.Range(0, 20).Select(i => i % 2 == 0 ? CompressibleBlock(30_000 + i, i) : RandomBlock(30_000 + i, i)).ToArray();
        await using (var tape = await NewTapeAsync(store))
        {
            foreach (var b in blocks)
            {
                await tape.WriteBlockAsync(b, compress: true);
            }
        }

        await using var again = await ReopenAsync(store);
        foreach (var b in blocks)
        {
            await ExpectBlockAsync(again, b);
        }

        await ExpectConditionOnReadAsync(again, TapeCondition.EndOfData);
    }

    [Fact]
    public async Task Write_filemarks_zero_only_synchronises()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        await tape.WriteBlockAsync(RandomBlock(100, 1), compress: false);
        var flushes = store.FlushCount;
        Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(0, immediate: false)).Condition);
        Assert.True(store.FlushCount > flushes);
        Assert.Equal(1, tape.ReadPosition().EndOfDataObjectNumber);
    }

    [Fact]
    public async Task Durability_points_fsync_and_immediate_filemarks_do_not()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        await tape.WriteBlockAsync(RandomBlock(100, 1), compress: false);
        var before = store.FlushCount;
        await tape.WriteBlockAsync(RandomBlock(100, 2), compress: false);
        await tape.WriteFilemarksAsync(1, immediate: true);
        Assert.Equal(before, store.FlushCount); // WRITE and immediate WRITE FILEMARKS: no fsync
        await tape.WriteFilemarksAsync(1, immediate: false);
        Assert.True(store.FlushCount > before);
        before = store.FlushCount;
        await tape.WriteBlockAsync(RandomBlock(100, 3), compress: false);
        await tape.FlushAsync();
        Assert.True(store.FlushCount > before);
    }

    [Fact]
    public async Task Empty_or_oversized_block_is_a_caller_bug()
    {
        await using var tape = await NewTapeAsync(new MemoryTapeStore());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tape.WriteBlockAsync(ReadOnlyMemory<byte>.Empty, compress: false));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tape.WriteBlockAsync(new byte[0x100_0000], compress: false));
    }

    [Fact]
    public async Task Unloaded_tape_cannot_be_used()
    {
        var tape = await NewTapeAsync(new MemoryTapeStore());
        await tape.UnloadAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await tape.RewindAsync());
        await tape.DisposeAsync(); // idempotent
    }
}

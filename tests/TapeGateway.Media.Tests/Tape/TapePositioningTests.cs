using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// SPACE / LOCATE / READ POSITION on a fixed layout (logical object numbers):
/// <c>0:B 1:B 2:B 3:FM 4:B 5:B 6:FM 7:FM 8:B | EOD=9</c>.
/// </summary>
public sealed class TapePositioningTests
{
    private static async Task<TapeImage> LayoutAsync()
    {
        var tape = await NewTapeAsync(new MemoryTapeStore());
        foreach (var kind in "BBBFBBFFB")
        {
            var r = kind == 'B'
                ? await tape.WriteBlockAsync(RandomBlock(512, tape.ReadPosition().EndOfDataObjectNumber.GetHashCode()), compress: false)
                : await tape.WriteFilemarksAsync(1, immediate: true);
            Assert.Equal(TapeCondition.Ok, r.Condition);
        }

        await tape.RewindAsync();
        return tape;
    }

    [Theory]
    [InlineData(0, 0, TapeCondition.Ok, 0, 0)]
    [InlineData(0, 2, TapeCondition.Ok, 0, 2)]
    [InlineData(0, 3, TapeCondition.Ok, 0, 3)] // lands just before the filemark: no filemark crossed
    [InlineData(0, 5, TapeCondition.FilemarkDetected, 2, 4)] // 3 blocks spaced, stopped after FM 3
    [InlineData(4, 1, TapeCondition.Ok, 0, 5)]
    [InlineData(6, 1, TapeCondition.FilemarkDetected, 1, 7)] // on a filemark: crosses it, 0 blocks spaced
    [InlineData(8, 2, TapeCondition.EndOfData, 1, 9)]
    [InlineData(9, 1, TapeCondition.EndOfData, 1, 9)]
    [InlineData(3, -2, TapeCondition.Ok, 0, 1)]
    [InlineData(5, -3, TapeCondition.FilemarkDetected, 2, 3)] // 1 block spaced, stopped on BOP side of FM 3
    [InlineData(4, -1, TapeCondition.FilemarkDetected, 1, 3)]
    [InlineData(2, -5, TapeCondition.BeginningOfMedium, 3, 0)]
    [InlineData(0, -1, TapeCondition.BeginningOfMedium, 1, 0)]
    [InlineData(9, -1, TapeCondition.Ok, 0, 8)]
    [InlineData(9, -2, TapeCondition.FilemarkDetected, 1, 7)]
    public async Task Space_blocks(long from, long count, TapeCondition condition, long residue, long finalPosition)
    {
        await using var tape = await LayoutAsync();
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(from)).Condition);
        var r = await tape.SpaceBlocksAsync(count);
        Assert.Equal(condition, r.Condition);
        Assert.Equal(residue, r.Residue);
        Assert.Equal(finalPosition, tape.ReadPosition().LogicalObjectNumber);
    }

    [Theory]
    [InlineData(0, 1, TapeCondition.Ok, 0, 4)]
    [InlineData(0, 2, TapeCondition.Ok, 0, 7)]
    [InlineData(0, 3, TapeCondition.Ok, 0, 8)]
    [InlineData(0, 4, TapeCondition.EndOfData, 1, 9)]
    [InlineData(0, 10, TapeCondition.EndOfData, 7, 9)]
    [InlineData(4, 1, TapeCondition.Ok, 0, 7)]
    [InlineData(3, 1, TapeCondition.Ok, 0, 4)] // positioned on the BOP side of FM 3: crossing it is one filemark
    [InlineData(7, 1, TapeCondition.Ok, 0, 8)]
    [InlineData(9, 1, TapeCondition.EndOfData, 1, 9)]
    [InlineData(9, -1, TapeCondition.Ok, 0, 7)] // reverse ends on the BOP side of the filemark
    [InlineData(9, -2, TapeCondition.Ok, 0, 6)]
    [InlineData(9, -3, TapeCondition.Ok, 0, 3)]
    [InlineData(9, -4, TapeCondition.BeginningOfMedium, 1, 0)]
    [InlineData(7, -1, TapeCondition.Ok, 0, 6)]
    [InlineData(4, -1, TapeCondition.Ok, 0, 3)]
    [InlineData(3, -1, TapeCondition.BeginningOfMedium, 1, 0)]
    [InlineData(5, 0, TapeCondition.Ok, 0, 5)]
    public async Task Space_filemarks(long from, long count, TapeCondition condition, long residue, long finalPosition)
    {
        await using var tape = await LayoutAsync();
        await tape.LocateAsync(from);
        var r = await tape.SpaceFilemarksAsync(count);
        Assert.Equal(condition, r.Condition);
        Assert.Equal(residue, r.Residue);
        Assert.Equal(finalPosition, tape.ReadPosition().LogicalObjectNumber);
    }

    [Fact]
    public async Task Space_to_end_of_data_then_append_continues_the_last_file()
    {
        await using var tape = await LayoutAsync();
        Assert.Equal(TapeCondition.Ok, (await tape.SpaceToEndOfDataAsync()).Condition);
        var pos = tape.ReadPosition();
        Assert.Equal(9, pos.LogicalObjectNumber);
        Assert.True(pos.AtEndOfData);
        Assert.Equal(3, pos.FileNumber);
        await tape.WriteBlockAsync(RandomBlock(10, 1), compress: false);
        Assert.Equal(10, tape.ReadPosition().EndOfDataObjectNumber);
    }

    [Theory]
    [InlineData(0, 0, 0, true)]
    [InlineData(2, 0, 2, false)]
    [InlineData(3, 0, 3, false)] // before FM 3: still file 0
    [InlineData(4, 1, 0, false)]
    [InlineData(5, 1, 1, false)]
    [InlineData(7, 2, 0, false)]
    [InlineData(8, 3, 0, false)]
    [InlineData(9, 3, 1, false)]
    public async Task Read_position_numbers(long lon, long file, long blockInFile, bool bop)
    {
        await using var tape = await LayoutAsync();
        await tape.LocateAsync(lon);
        var pos = tape.ReadPosition();
        Assert.Equal(0, pos.Partition);
        Assert.Equal(lon, pos.LogicalObjectNumber);
        Assert.Equal(file, pos.FileNumber);
        Assert.Equal(blockInFile, pos.BlockNumberInFile);
        Assert.Equal(bop, pos.AtBeginningOfPartition);
        Assert.False(pos.BeyondEarlyWarning);
        Assert.False(pos.BeyondProgrammableEarlyWarning);
        Assert.Equal(9, pos.EndOfDataObjectNumber);
        Assert.Equal((6 * (32 + 512)) + (3 * 32), pos.BytesUsed);
        Assert.Equal(16 * MiB, pos.CapacityBytes);
    }

    [Fact]
    public async Task Locate_to_objects_eod_and_beyond()
    {
        await using var tape = await LayoutAsync();
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(3)).Condition);
        await ExpectConditionOnReadAsync(tape, TapeCondition.FilemarkDetected);
        Assert.Equal(4, tape.ReadPosition().LogicalObjectNumber);

        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(9)).Condition); // EOD itself is where appends go
        Assert.True(tape.ReadPosition().AtEndOfData);

        var r = await tape.LocateAsync(12);
        Assert.Equal(TapeCondition.EndOfData, r.Condition);
        Assert.Equal(9, tape.ReadPosition().LogicalObjectNumber);

        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(0)).Condition);
        Assert.True(tape.ReadPosition().AtBeginningOfPartition);
    }

    [Fact]
    public async Task Locate_then_read_returns_that_block()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        var blocks = Enumerable.Range(0, 50).Select(i => RandomBlock(100 + i, i)).ToArray();
        foreach (var b in blocks)
        {
            await tape.WriteBlockAsync(b, compress: false);
        }

        foreach (var i in new[] { 49, 0, 25, 26, 3 })
        {
            await tape.LocateAsync(i);
            await ExpectBlockAsync(tape, blocks[i]);
        }
    }

    [Fact]
    public async Task Reverse_space_then_reread_block_like_btape()
    {
        await using var tape = await LayoutAsync();
        await tape.LocateAsync(5);
        var first = new byte[512];
        await tape.ReadBlockAsync(first);
        Assert.Equal(TapeCondition.Ok, (await tape.SpaceBlocksAsync(-1)).Condition);
        var again = new byte[512];
        await tape.ReadBlockAsync(again);
        Assert.Equal(first, again);
    }

    [Fact]
    public async Task Many_filemarks_are_indexed_not_scanned()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store, capacity: 64 * MiB);
        for (var f = 0; f < 2000; f++)
        {
            await tape.WriteBlockAsync(RandomBlock(16, f), compress: false);
            await tape.WriteFilemarksAsync(1, immediate: true);
        }

        await tape.RewindAsync();
        Assert.Equal(TapeCondition.Ok, (await tape.SpaceFilemarksAsync(1500)).Condition);
        var pos = tape.ReadPosition();
        Assert.Equal(1500, pos.FileNumber);
        Assert.Equal(3000, pos.LogicalObjectNumber);
        await ExpectBlockAsync(tape, RandomBlock(16, 1500));
    }
}

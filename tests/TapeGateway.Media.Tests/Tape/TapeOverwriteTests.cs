using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

public sealed class TapeOverwriteTests
{
    private static async Task<(MemoryTapeStore Store, TapeImage Tape, byte[][] Blocks)> FiveBlocksAndFilemarkAsync(bool worm = false)
    {
        var store = new MemoryTapeStore();
        var tape = await NewTapeAsync(store, worm: worm);
        var blocks = Enumerable.Range(0, 5).Select(i => RandomBlock(1000, i)).ToArray();
        foreach (var b in blocks[..3])
        {
            await tape.WriteBlockAsync(b, compress: false);
        }

        await tape.WriteFilemarksAsync(1, immediate: false); // lon 3
        foreach (var b in blocks[3..])
        {
            await tape.WriteBlockAsync(b, compress: false); // lon 4, 5
        }

        return (store, tape, blocks);
    }

    [Fact]
    public async Task Write_in_the_middle_discards_everything_after()
    {
        var (store, tape, blocks) = await FiveBlocksAndFilemarkAsync();
        await using (tape)
        {
            await tape.LocateAsync(2);
            var replacement = RandomBlock(777, 99);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(replacement, compress: false)).Condition);

            var pos = tape.ReadPosition();
            Assert.Equal(3, pos.LogicalObjectNumber);
            Assert.True(pos.AtEndOfData);
            Assert.Equal(0, pos.FileNumber); // the filemark at 3 is gone
            Assert.Equal(TapeFormat.DataStart + pos.BytesUsed, store.Length);

            await tape.RewindAsync();
            await ExpectBlockAsync(tape, blocks[0]);
            await ExpectBlockAsync(tape, blocks[1]);
            await ExpectBlockAsync(tape, replacement);
            await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
            Assert.Equal(TapeCondition.EndOfData, (await tape.SpaceFilemarksAsync(1)).Condition);
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal(3, again.Recovery.ObjectCount);
        await again.LocateAsync(2);
        await ExpectBlockAsync(again, RandomBlock(777, 99));
        await ExpectConditionOnReadAsync(again, TapeCondition.EndOfData);
    }

    [Fact]
    public async Task Filemark_in_the_middle_truncates_too()
    {
        var (store, tape, blocks) = await FiveBlocksAndFilemarkAsync();
        await using (tape)
        {
            await tape.LocateAsync(1);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
            Assert.Equal(2, tape.ReadPosition().EndOfDataObjectNumber);
            await tape.RewindAsync();
            await ExpectBlockAsync(tape, blocks[0]);
            await ExpectConditionOnReadAsync(tape, TapeCondition.FilemarkDetected);
            await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal(2, again.Recovery.ObjectCount);
    }

    [Fact]
    public async Task Erase_from_position_to_end()
    {
        var (store, tape, blocks) = await FiveBlocksAndFilemarkAsync();
        await using (tape)
        {
            await tape.LocateAsync(4);
            Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition);
            var pos = tape.ReadPosition();
            Assert.Equal(4, pos.EndOfDataObjectNumber);
            Assert.Equal(4, pos.LogicalObjectNumber);
            await tape.RewindAsync();
            Assert.Equal(TapeCondition.Ok, (await tape.SpaceFilemarksAsync(1)).Condition);
            await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal(4, again.Recovery.ObjectCount);
    }

    [Fact]
    public async Task Erase_at_bot_blanks_the_tape()
    {
        var (store, tape, _) = await FiveBlocksAndFilemarkAsync();
        await using (tape)
        {
            await tape.RewindAsync();
            await tape.EraseAsync();
            Assert.Equal(0, tape.ReadPosition().EndOfDataObjectNumber);
            Assert.Equal(0, tape.ReadPosition().BytesUsed);
            await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal(0, again.Recovery.ObjectCount);
    }

    [Fact]
    public async Task Worm_refuses_overwrite_and_erase_but_appends_at_eod()
    {
        var (store, tape, blocks) = await FiveBlocksAndFilemarkAsync(worm: true);
        await using (tape)
        {
            Assert.True(tape.IsWorm);
            await tape.LocateAsync(2);
            Assert.Equal(TapeCondition.WormOverwrite, (await tape.WriteBlockAsync(RandomBlock(10, 1), compress: false)).Condition);
            Assert.Equal(TapeCondition.WormOverwrite, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
            Assert.Equal(TapeCondition.WormOverwrite, (await tape.EraseAsync()).Condition);
            await tape.RewindAsync();
            Assert.Equal(TapeCondition.WormOverwrite, (await tape.WriteBlockAsync(RandomBlock(10, 1), compress: false)).Condition);
            Assert.Equal(6, tape.ReadPosition().EndOfDataObjectNumber); // nothing changed

            await tape.SpaceToEndOfDataAsync();
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(10, 2), compress: false)).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition); // at EOD nothing is erased
            Assert.Equal(8, tape.ReadPosition().EndOfDataObjectNumber);
        }

        // WORM is a property of the cartridge: it survives remount, and appending after the EOD seal works.
        await using var again = await ReopenAsync(store);
        Assert.True(again.IsWorm);
        await again.LocateAsync(5);
        Assert.Equal(TapeCondition.WormOverwrite, (await again.WriteBlockAsync(RandomBlock(10, 3), compress: false)).Condition);
        await again.SpaceToEndOfDataAsync();
        Assert.Equal(TapeCondition.Ok, (await again.WriteBlockAsync(RandomBlock(10, 3), compress: false)).Condition);
        await again.RewindAsync();
        await ExpectBlockAsync(again, blocks[0]);
    }

    [Fact]
    public async Task Worm_filemarks_before_eod_can_be_overwritten_except_the_first_of_the_run()
    {
        // SSC-4 Medium Configuration page, WORM MODE FILEMARK RESTRICTIONS 02h: the filemarks immediately preceding EOD
        // may be overwritten, all but the one closest to BOP. Layout: blocks 0-2, FM 3, blocks 4-5, FMs 6-8, EOD 9.
        var (store, tape, blocks) = await FiveBlocksAndFilemarkAsync(worm: true);
        await using (tape)
        {
            await tape.SpaceToEndOfDataAsync();
            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(3, immediate: false)).Condition);

            await tape.LocateAsync(6); // the run's first filemark closes file 1: never overwritten
            Assert.Equal(TapeCondition.WormOverwrite, (await tape.WriteBlockAsync(RandomBlock(10, 1), compress: false)).Condition);
            Assert.Equal(TapeCondition.WormOverwrite, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
            await tape.LocateAsync(8);
            Assert.Equal(TapeCondition.WormOverwrite, (await tape.EraseAsync()).Condition); // ERASE: only at EOD
            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
            Assert.Equal(9, tape.ReadPosition().EndOfDataObjectNumber);

            await tape.LocateAsync(7);
            var appended = RandomBlock(700, 9);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(appended, compress: false)).Condition);
            Assert.Equal(8, tape.ReadPosition().EndOfDataObjectNumber);

            // Inside data: still refused; the block written over the filemark reads back.
            await tape.LocateAsync(5);
            Assert.Equal(TapeCondition.WormOverwrite, (await tape.WriteBlockAsync(RandomBlock(10, 1), compress: false)).Condition);
            await tape.LocateAsync(7);
            await ExpectBlockAsync(tape, appended);
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal(8, again.Recovery.ObjectCount);
        await ExpectBlockAsync(again, blocks[0]);
    }

    [Fact]
    public async Task Write_protected_refuses_every_change_but_reads()
    {
        var (store, tape, blocks) = await FiveBlocksAndFilemarkAsync();
        await using (tape)
        {
            tape.SetWriteProtected(true);
            Assert.True(tape.IsWriteProtected);
            await tape.SpaceToEndOfDataAsync();
            Assert.Equal(TapeCondition.WriteProtected, (await tape.WriteBlockAsync(RandomBlock(10, 1), compress: false)).Condition);
            Assert.Equal(TapeCondition.WriteProtected, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
            await tape.RewindAsync();
            Assert.Equal(TapeCondition.WriteProtected, (await tape.EraseAsync()).Condition);
            Assert.Equal(TapeCondition.WriteProtected, (await tape.WriteAttributesAsync([new TapeAttribute(MamAttributeId.Barcode, "X"u8.ToArray())])).Condition);
            await ExpectBlockAsync(tape, blocks[0]);
            Assert.Equal(6, tape.ReadPosition().EndOfDataObjectNumber);

            tape.SetWriteProtected(false);
            await tape.SpaceToEndOfDataAsync();
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(10, 1), compress: false)).Condition);
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal(7, again.Recovery.ObjectCount);
    }

    [Fact]
    public async Task Read_only_mount_never_modifies_the_image()
    {
        var (store, tape, _) = await FiveBlocksAndFilemarkAsync();
        await tape.UnloadAsync();
        var before = store.ToArray();

        // A torn tail would normally be cut at open; read-only leaves it alone.
        var image = before.Concat(new byte[] { 1, 2, 3, 4, 5 }).ToArray();
        var roStore = new MemoryTapeStore(image);
        await using (var ro = await TapeImage.OpenAsync(roStore, new TapeMountOptions { ReadOnly = true }))
        {
            Assert.True(ro.IsWriteProtected);
            ro.SetWriteProtected(false); // cannot lift a read-only mount
            Assert.True(ro.IsWriteProtected);
            await ro.SpaceToEndOfDataAsync();
            Assert.Equal(TapeCondition.WriteProtected, (await ro.WriteBlockAsync(RandomBlock(10, 1), compress: false)).Condition);
            await ro.IncrementLoadCountAsync();
            await ro.FlushAsync();
        }

        Assert.Equal(image, roStore.ToArray());
    }
}

using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

public sealed class TapeCapacityTests
{
    private const int BlockSize = 64 * 1024;
    private const int RecordSize = BlockSize + 32;

    [Fact]
    public void Default_early_warning_is_one_percent_or_4_MiB_capped_at_half()
    {
        Assert.Equal(4 * MiB, TapeImageOptions.DefaultEarlyWarningBytes(16 * MiB));
        Assert.Equal(3 * MiB, TapeImageOptions.DefaultEarlyWarningBytes(6 * MiB));
        Assert.Equal(10L * 1024 * MiB / 100, TapeImageOptions.DefaultEarlyWarningBytes(10L * 1024 * MiB));
    }

    [Fact]
    public async Task Programmable_early_warning_is_reported_by_the_write_that_crosses_it_and_again_after_a_rewrite_before_it()
    {
        var store = new MemoryTapeStore();
        var capacity = 16 * MiB;
        var ewStart = capacity - (4 * MiB); // record-area offsets
        var pewStart = ewStart - (3 * MiB);
        await using var tape = await NewTapeAsync(store, capacity);
        tape.ProgrammableEarlyWarningBytes = 3 * MiB;

        var conditions = new List<TapeCondition>();
        for (var i = 0; i < (int)(ewStart / RecordSize) + 2; i++)
        {
            conditions.Add((await tape.WriteBlockAsync(RandomBlock(BlockSize, i), compress: false)).Condition);
            Assert.Equal((i + 1) * (long)RecordSize > pewStart, tape.ReadPosition().BeyondProgrammableEarlyWarning);
        }

        // Exactly one write reports it: the one whose record ends past PEW; then nothing until early warning.
        var crossing = (int)(pewStart / RecordSize);
        Assert.Equal(TapeCondition.ProgrammableEarlyWarning, conditions[crossing]);
        Assert.Single(conditions, c => c == TapeCondition.ProgrammableEarlyWarning);
        Assert.All(conditions[..crossing], c => Assert.Equal(TapeCondition.Ok, c));
        Assert.Equal(TapeCondition.EarlyWarning, conditions[^1]);

        // Rewriting from before PEW crosses it again: reported again. Filemarks cross it too.
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(crossing - 1)).Condition);
        Assert.False(tape.ReadPosition().BeyondProgrammableEarlyWarning);
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 1), compress: false)).Condition);
        Assert.Equal(TapeCondition.ProgrammableEarlyWarning, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 2), compress: false)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);

        // Off again (PEWS 0): nothing reported, BPEW false.
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(crossing - 1)).Condition);
        tape.ProgrammableEarlyWarningBytes = 0;
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 1), compress: false)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 2), compress: false)).Condition);
        Assert.False(tape.ReadPosition().BeyondProgrammableEarlyWarning);

        // A size past the record area is clamped: PEW at BOP, crossed by the first write.
        tape.ProgrammableEarlyWarningBytes = long.MaxValue;
        Assert.Equal(ewStart, tape.ProgrammableEarlyWarningBytes);
        Assert.Equal(TapeCondition.Ok, (await tape.RewindAsync()).Condition);
        Assert.Equal(TapeCondition.ProgrammableEarlyWarning, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 3), compress: false)).Condition);
    }

    [Fact]
    public async Task Programmable_early_warning_comes_before_early_warning_and_after_a_locate_into_its_zone()
    {
        // SSC-4 programmable early warning (IBM LTO SCSI Reference §4.8 has the same text): "If early-warning is crossed
        // prior to the PROGRAMMABLE EARLY WARNING DETECTED additional sense being reported, [it] shall be reported before
        // the early-warning CHECK CONDITION", and if it "was not reported, the next write in PEWZ or beyond
        // early-warning that would otherwise complete with GOOD status, shall return" it instead.
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store, 16 * MiB);
        tape.ProgrammableEarlyWarningBytes = 3 * MiB; // PEW at 9 MiB, early warning at 12 MiB of records
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 1), compress: false)).Condition);

        // One record from before PEW to past early warning.
        Assert.Equal(TapeCondition.ProgrammableEarlyWarning, (await tape.WriteBlockAsync(RandomBlock((int)(12 * MiB), 2), compress: false)).Condition);
        Assert.Equal(TapeCondition.EarlyWarning, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 3), compress: false)).Condition);
        Assert.Equal(TapeCondition.EarlyWarning, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);

        // Back before PEW, then straight to EOD (past early warning) without writing: the next write reports PEW first.
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(1)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.SpaceToEndOfDataAsync()).Condition);
        Assert.Equal(TapeCondition.ProgrammableEarlyWarning, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
        Assert.Equal(TapeCondition.EarlyWarning, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);

        // A new PEWS is a new zone: reported by the next write in it.
        tape.ProgrammableEarlyWarningBytes = 2 * MiB;
        Assert.Equal(TapeCondition.ProgrammableEarlyWarning, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
    }

    [Fact]
    public async Task Sixteen_MiB_tape_reports_early_warning_then_volume_overflow()
    {
        var store = new MemoryTapeStore();
        var capacity = 16 * MiB;
        var ewStart = capacity - (4 * MiB);
        await using var tape = await NewTapeAsync(store, capacity);
        Assert.Equal(4 * MiB, tape.EarlyWarningBytes);

        var written = 0;
        var firstWarning = -1;
        TapeResult r;
        while (true)
        {
            r = await tape.WriteBlockAsync(RandomBlock(BlockSize, written), compress: false);
            if (r.Condition == TapeCondition.VolumeOverflow)
            {
                break;
            }

            if (r.Condition == TapeCondition.EarlyWarning && firstWarning < 0)
            {
                firstWarning = written;
            }

            Assert.Equal(firstWarning < 0 ? TapeCondition.Ok : TapeCondition.EarlyWarning, r.Condition);
            written++;
        }

        // Early warning starts with the first block whose end lies inside the zone.
        Assert.Equal((int)(ewStart / RecordSize), firstWarning);
        Assert.Equal((int)(capacity / RecordSize), written);

        // The refused block left nothing behind.
        var pos = tape.ReadPosition();
        Assert.Equal(written, pos.EndOfDataObjectNumber);
        Assert.Equal((long)written * RecordSize, pos.BytesUsed);
        Assert.Equal(TapeFormat.DataStart + pos.BytesUsed, store.Length);
        Assert.True(pos.BeyondEarlyWarning);
        Assert.True(pos.RemainingBytes < RecordSize);

        // Filemarks still fit in what is left (the application closes its file at EOM), until they do not.
        Assert.Equal(TapeCondition.EarlyWarning, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
        var remainingMarks = tape.ReadPosition().RemainingBytes / 32;
        r = await tape.WriteFilemarksAsync((int)remainingMarks + 5, immediate: false);
        Assert.Equal(TapeCondition.VolumeOverflow, r.Condition);
        Assert.Equal(5, r.Residue);
        Assert.True(tape.ReadPosition().RemainingBytes < 32);

        // Everything that was accepted reads back.
        await tape.RewindAsync();
        await ExpectBlockAsync(tape, RandomBlock(BlockSize, 0));
        await tape.LocateAsync(written - 1);
        await ExpectBlockAsync(tape, RandomBlock(BlockSize, written - 1));
        await ExpectConditionOnReadAsync(tape, TapeCondition.FilemarkDetected);

        // Rewriting from BOT reclaims the space: no early warning any more.
        await tape.RewindAsync();
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 1), compress: false)).Condition);
        Assert.False(tape.ReadPosition().BeyondEarlyWarning);
        Assert.Equal(RecordSize, tape.ReadPosition().BytesUsed);
    }

    [Fact]
    public async Task Block_larger_than_the_remaining_space_overflows_and_a_smaller_one_still_fits()
    {
        await using var tape = await NewTapeAsync(new MemoryTapeStore(), capacity: 1 * MiB, earlyWarning: 256 * 1024);
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(new byte[700 * 1024], compress: false)).Condition);
        Assert.Equal(TapeCondition.VolumeOverflow, (await tape.WriteBlockAsync(new byte[400 * 1024], compress: false)).Condition);
        Assert.Equal(TapeCondition.EarlyWarning, (await tape.WriteBlockAsync(new byte[300 * 1024], compress: false)).Condition);
    }

    [Fact]
    public async Task Compression_stretches_a_small_tape()
    {
        await using var tape = await NewTapeAsync(new MemoryTapeStore(), capacity: 1 * MiB, earlyWarning: 128 * 1024);
        for (var i = 0; i < 64; i++)
        {
            // 4 MiB of host data on a 1 MiB tape.
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(CompressibleBlock(BlockSize, i), compress: true)).Condition);
        }

        Assert.Equal(64L * BlockSize, tape.Statistics.HostBytesWritten);
        Assert.True(tape.Statistics.MediumBytesWritten < MiB / 4);
    }

    [Fact]
    public async Task Capacity_and_worm_survive_reopen()
    {
        var store = new MemoryTapeStore();
        await (await NewTapeAsync(store, capacity: 32 * MiB, worm: true, earlyWarning: 5 * MiB)).DisposeAsync();
        await using var again = await ReopenAsync(store);
        Assert.Equal(32 * MiB, again.CapacityBytes);
        Assert.Equal(5 * MiB, again.EarlyWarningBytes);
        Assert.True(again.IsWorm);
    }
}

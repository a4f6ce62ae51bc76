using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// The SET CAPACITY verb (SSC-4 §7.11): data lost, BOP, a smaller effective capacity that early warning and VOLUME
/// OVERFLOW follow, persisted in the shadow-paged attribute area (format 1.1) across unload, crash and remount.
/// </summary>
public sealed class TapeSetCapacityTests
{
    private const int BlockSize = 64 * 1024;
    private const int RecordSize = BlockSize + 32;
    private const ushort HostAttribute = 0x0800;

    private static async Task<TapeImage> WrittenTapeAsync(MemoryTapeStore store, bool worm = false)
    {
        var tape = await NewTapeAsync(store, 16 * MiB, worm, attributes: [new TapeAttribute(HostAttribute, "VENDOR01"u8.ToArray())]);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(BlockSize, i), compress: false)).Condition);
        }

        Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.RewindAsync()).Condition);
        return tape;
    }

    [Fact]
    public async Task Scaled_tape_loses_its_data_and_warns_and_overflows_at_the_new_capacity()
    {
        var store = new MemoryTapeStore();
        await using var tape = await WrittenTapeAsync(store);
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(3)).Condition); // the verb itself does not need BOP

        Assert.Equal(TapeCondition.Ok, (await tape.SetCapacityAsync(8 * MiB)).Condition);
        Assert.Equal(16 * MiB, tape.NativeCapacityBytes);
        Assert.Equal(8 * MiB, tape.CapacityBytes);
        Assert.Equal(2 * MiB, tape.EarlyWarningBytes); // 4 MiB of 16 MiB: the same quarter of 8 MiB
        var p = tape.ReadPosition();
        Assert.Equal((0L, 0L, true, 0L), (p.LogicalObjectNumber, p.EndOfDataObjectNumber, p.AtBeginningOfPartition, p.BytesUsed));
        Assert.Equal((8 * MiB, 2 * MiB, 8 * MiB), (p.CapacityBytes, p.EarlyWarningBytes, p.RemainingBytes));
        await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);

        // Records end at n x RecordSize: early warning once past 6 MiB, overflow for the one that would pass 8 MiB.
        var firstWarning = (int)((6 * MiB) / RecordSize) + 1;
        var fitting = (int)((8 * MiB) / RecordSize);
        for (var n = 1; n <= fitting; n++)
        {
            var expected = n >= firstWarning ? TapeCondition.EarlyWarning : TapeCondition.Ok;
            Assert.Equal(expected, (await tape.WriteBlockAsync(RandomBlock(BlockSize, n), compress: false)).Condition);
        }

        Assert.True(tape.ReadPosition().BeyondEarlyWarning);
        Assert.Equal(TapeCondition.VolumeOverflow, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 0), compress: false)).Condition);
        Assert.Equal(fitting, tape.ReadPosition().EndOfDataObjectNumber);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Scaled_capacity_survives_unload_and_crash_and_stays_out_of_the_mam(bool crash)
    {
        var store = new MemoryTapeStore();
        var tape = await WrittenTapeAsync(store);
        Assert.Equal(TapeCondition.Ok, (await tape.SetCapacityAsync(5 * MiB)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(BlockSize, 42), compress: false)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(0, immediate: false)).Condition);
        byte[] image;
        if (crash)
        {
            image = store.ToArray(); // no unload: no seal, no checkpoint
        }
        else
        {
            await tape.UnloadAsync();
            image = store.ToArray();
        }

        await using var again = await ReopenAsync(new MemoryTapeStore(image));
        Assert.Equal(!crash, again.Recovery.WasSealed);
        Assert.Equal((5 * MiB, 16 * MiB), (again.CapacityBytes, again.NativeCapacityBytes));
        Assert.Equal(5 * MiB / 4, again.EarlyWarningBytes);
        Assert.Equal(1L, again.ReadPosition().EndOfDataObjectNumber);
        await ExpectBlockAsync(again, RandomBlock(BlockSize, 42));

        // The MAM keeps the host attribute and the volume change reference (SET CAPACITY changed the data); the
        // capacity entry is no attribute.
        Assert.Equal([MamAttributeId.VolumeChangeReference, HostAttribute], again.GetAttributeIds());
        Assert.True(again.TryGetAttribute(HostAttribute, out var vendor));
        Assert.Equal("VENDOR01"u8.ToArray(), vendor.ToArray());
        Assert.False(again.TryGetAttribute(0x0000, out _));
        if (crash)
        {
            await tape.DisposeAsync();
        }
    }

    [Fact]
    public async Task Full_capacity_restores_the_tape_as_it_was_made()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await WrittenTapeAsync(store))
        {
            Assert.Equal(TapeCondition.Ok, (await tape.SetCapacityAsync(4 * MiB)).Condition);
            Assert.Equal(TapeCondition.Ok, (await tape.SetCapacityAsync(16 * MiB)).Condition);
            Assert.Equal((16 * MiB, 4 * MiB), (tape.CapacityBytes, tape.EarlyWarningBytes));
        }

        await using var again = await ReopenAsync(store);
        Assert.Equal((16 * MiB, 4 * MiB), (again.CapacityBytes, again.EarlyWarningBytes));
    }

    [Fact]
    public async Task Refusals_change_nothing()
    {
        var store = new MemoryTapeStore();
        await using var tape = await WrittenTapeAsync(store);
        tape.SetWriteProtected(true);
        Assert.Equal(TapeCondition.WriteProtected, (await tape.SetCapacityAsync(8 * MiB)).Condition);
        tape.SetWriteProtected(false);
        Assert.Equal((16 * MiB, 6L), (tape.CapacityBytes, tape.ReadPosition().EndOfDataObjectNumber));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tape.SetCapacityAsync(TapeImageOptions.MinimumCapacityBytes - 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tape.SetCapacityAsync((16 * MiB) + 1));
        Assert.Equal((16 * MiB, 6L), (tape.CapacityBytes, tape.ReadPosition().EndOfDataObjectNumber));

        var readOnlyStore = new MemoryTapeStore(store.ToArray());
        await using var readOnly = await ReopenAsync(readOnlyStore, new TapeMountOptions { ReadOnly = true });
        Assert.Equal(TapeCondition.WriteProtected, (await readOnly.SetCapacityAsync(8 * MiB)).Condition);
    }

    [Fact]
    public async Task Worm_is_scaled_only_while_blank()
    {
        var store = new MemoryTapeStore();
        await using (var written = await WrittenTapeAsync(store, worm: true))
        {
            Assert.Equal(TapeCondition.WormOverwrite, (await written.SetCapacityAsync(8 * MiB)).Condition);
            Assert.Equal((16 * MiB, 6L), (written.CapacityBytes, written.ReadPosition().EndOfDataObjectNumber));
            await ExpectBlockAsync(written, RandomBlock(BlockSize, 0));
        }

        await using var blank = await NewTapeAsync(new MemoryTapeStore(), 16 * MiB, worm: true);
        Assert.Equal(TapeCondition.Ok, (await blank.SetCapacityAsync(8 * MiB)).Condition);
        Assert.Equal(8 * MiB, blank.CapacityBytes);
    }

    /// <summary>
    /// A crash after any store operation of SET CAPACITY leaves either the old tape, or an erased tape at its old
    /// capacity (the command had not completed), or the finished result: never old data under the smaller capacity.
    /// </summary>
    [Fact]
    public async Task A_crash_at_any_point_never_keeps_old_data_under_the_new_capacity()
    {
        var inner = new MemoryTapeStore();
        await using (var tape = await WrittenTapeAsync(inner))
        {
            await tape.UnloadAsync();
        }

        var snapshots = new SnapshotTapeStore(new MemoryTapeStore(inner.ToArray()));
        await using (var tape = await TapeImage.OpenAsync(snapshots))
        {
            snapshots.Snapshots.Clear();
            Assert.Equal(TapeCondition.Ok, (await tape.SetCapacityAsync(8 * MiB)).Condition);
        }

        Assert.NotEmpty(snapshots.Snapshots);
        var outcomes = new HashSet<(long Capacity, long Objects)>();
        foreach (var snapshot in snapshots.Snapshots)
        {
            await using var crashed = await ReopenAsync(new MemoryTapeStore(snapshot));
            var state = (crashed.CapacityBytes, crashed.ReadPosition().EndOfDataObjectNumber);
            Assert.Contains(state, new[] { (16 * MiB, 6L), (16 * MiB, 0L), (8 * MiB, 0L) });
            outcomes.Add(state);
        }

        Assert.Contains((8 * MiB, 0L), outcomes);
        Assert.Contains((16 * MiB, 0L), outcomes); // erased first, scaled second
    }
}

/// <summary>
/// Keeps a copy of the store's bytes after every write, truncation and flush: each is a possible crash point. With
/// <paramref name="tornWrites"/>, each write also leaves a copy with only its first half written (a torn write).
/// </summary>
internal sealed class SnapshotTapeStore(MemoryTapeStore inner, bool tornWrites = false) : ITapeStore
{
    public List<byte[]> Snapshots { get; } = [];

    public long Length => inner.Length;

    public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct) => inner.ReadAsync(offset, destination, ct);

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        if (tornWrites && source.Length > 1)
        {
            var torn = new MemoryTapeStore(inner.ToArray());
            await torn.WriteAsync(offset, source[..(source.Length / 2)], ct);
            Snapshots.Add(torn.ToArray());
        }

        await inner.WriteAsync(offset, source, ct);
        Snapshots.Add(inner.ToArray());
    }

    public async ValueTask SetLengthAsync(long length, CancellationToken ct)
    {
        await inner.SetLengthAsync(length, ct);
        Snapshots.Add(inner.ToArray());
    }

    public async ValueTask FlushAsync(CancellationToken ct)
    {
        await inner.FlushAsync(ct);
        Snapshots.Add(inner.ToArray());
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

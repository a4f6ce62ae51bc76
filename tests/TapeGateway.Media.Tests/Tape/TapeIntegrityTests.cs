using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

public sealed class TapeIntegrityTests
{
    [Fact]
    public async Task Flipped_payload_byte_is_a_medium_error_for_that_block_only()
    {
        var store = new MemoryTapeStore();
        var blocks = Enumerable.Range(0, 5).Select(i => RandomBlock(2000, i)).ToArray();
        long victim;
        await using (var tape = await NewTapeAsync(store))
        {
            foreach (var b in blocks)
            {
                await tape.WriteBlockAsync(b, compress: false);
            }

            victim = tape.RecordOffset(2);
        }

        var image = store.ToArray();
        image[victim + 32 + 1234] ^= 0x10;
        await using var damaged = await ReopenAsync(new MemoryTapeStore(image));
        Assert.Equal(5, damaged.Recovery.ObjectCount); // durable region: trusted at open, checked on read

        await ExpectBlockAsync(damaged, blocks[0]);
        await ExpectBlockAsync(damaged, blocks[1]);
        var r = await damaged.ReadBlockAsync(new byte[2000]);
        Assert.Equal(TapeCondition.MediumError, r.Condition);
        Assert.Equal(3, damaged.ReadPosition().LogicalObjectNumber);
        await ExpectBlockAsync(damaged, blocks[3]);
        await ExpectBlockAsync(damaged, blocks[4]);

        // Re-reading the bad block fails every time; neighbours are fine.
        await damaged.LocateAsync(2);
        Assert.Equal(TapeCondition.MediumError, (await damaged.ReadBlockAsync(new byte[2000])).Condition);
        await damaged.LocateAsync(1);
        await ExpectBlockAsync(damaged, blocks[1]);
    }

    [Fact]
    public async Task Flipped_byte_in_a_compressed_block_is_a_medium_error()
    {
        var store = new MemoryTapeStore();
        long victim;
        await using (var tape = await NewTapeAsync(store))
        {
            await tape.WriteBlockAsync(CompressibleBlock(100_000, 1), compress: true);
            await tape.WriteBlockAsync(CompressibleBlock(100_000, 2), compress: true);
            victim = tape.RecordOffset(0);
        }

        var image = store.ToArray();
        image[victim + 40] ^= 0xFF;
        await using var damaged = await ReopenAsync(new MemoryTapeStore(image));
        Assert.Equal(TapeCondition.MediumError, (await damaged.ReadBlockAsync(new byte[100_000])).Condition);
        await ExpectBlockAsync(damaged, CompressibleBlock(100_000, 2));
    }

    [Fact]
    public async Task Damaged_header_inside_the_durable_region_ends_the_tape_with_a_medium_error_not_blank()
    {
        var store = new MemoryTapeStore();
        var blocks = Enumerable.Range(0, 5).Select(i => RandomBlock(500, i)).ToArray();
        long victim;
        await using (var tape = await NewTapeAsync(store))
        {
            foreach (var b in blocks)
            {
                await tape.WriteBlockAsync(b, compress: false);
            }

            victim = tape.RecordOffset(2);
        }

        // Without its index checkpoint (a tape sealed before checkpoints existed), so the mount must walk the headers.
        var image = StripCheckpoint(store.ToArray());
        image[victim + 9] ^= 0x01; // the stored-length field: the rest of the tape can no longer be walked
        var damagedStore = new MemoryTapeStore(image);
        await using (var damaged = await ReopenAsync(damagedStore))
        {
            Assert.Equal(victim, damaged.Recovery.DamagedAt);
            Assert.Equal(2, damaged.Recovery.ObjectCount);
            Assert.Equal(image.Length, damagedStore.Length); // media damage is not cut at open

            await ExpectBlockAsync(damaged, blocks[0]);
            await ExpectBlockAsync(damaged, blocks[1]);
            Assert.Equal(TapeCondition.MediumError, (await damaged.ReadBlockAsync(new byte[500])).Condition);

            // Writing there replaces the unreadable rest, like appending on a real damaged tape.
            Assert.Equal(TapeCondition.Ok, (await damaged.WriteBlockAsync(blocks[4], compress: false)).Condition);
        }

        await using var again = await ReopenAsync(damagedStore);
        Assert.Null(again.Recovery.DamagedAt);
        Assert.Equal(3, again.Recovery.ObjectCount);
    }

    /// <summary>
    /// Crash simulation: a tape with mixed records, cut at every byte offset of its record region. Sealed: unloaded
    /// cleanly, so the mark trusts every record. Unsealed: the process died after a durability point in the middle,
    /// so records past the mark are verified by payload CRC. Whatever the cut, the tape must come back as exactly the
    /// complete records before it, readable, with the torn rest gone.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Cut_at_every_offset_keeps_exactly_the_complete_records(bool sealedTape)
    {
        var store = new MemoryTapeStore();
        var kinds = new List<(bool Filemark, byte[] Data)>();
        var ends = new List<long>();
        var tape0 = await NewTapeAsync(store);
        for (var i = 0; i < 14; i++)
        {
            if (i % 4 == 3)
            {
                await tape0.WriteFilemarksAsync(1, immediate: i % 8 == 3);
                kinds.Add((true, []));
            }
            else
            {
                var data = i == 5 ? CompressibleBlock(300, i) : RandomBlock(1 + (i * 37), i);
                await tape0.WriteBlockAsync(data, compress: i == 5);
                kinds.Add((false, data));
            }

            ends.Add(TapeFormat.DataStart + tape0.ReadPosition().BytesUsed);
        }

        if (sealedTape)
        {
            await tape0.UnloadAsync();
        }

        var full = store.ToArray();
        var sealEnd = ends[^1] + (sealedTape ? 32 : 0); // + the EOD seal
        // Sealed: the index checkpoint follows the seal (header, one varint per record, trailer).
        Assert.Equal(sealedTape, CheckpointBytes(full) > TapeIndexCheckpoint.HeaderSize + TapeIndexCheckpoint.TrailerSize);
        Assert.Equal(sealEnd + CheckpointBytes(full), full.Length);

        for (var cut = TapeFormat.DataStart; cut <= full.Length; cut++)
        {
            var crashed = new MemoryTapeStore(full.AsSpan(0, (int)cut));
            await using var tape = await ReopenAsync(crashed);
            var expected = ends.Count(e => e <= cut);
            var boundary = expected == 0 ? TapeFormat.DataStart : ends[expected - 1];
            Assert.Equal(expected, tape.Recovery.ObjectCount);
            Assert.Equal(sealedTape && cut >= sealEnd, tape.Recovery.WasSealed);

            // A checkpoint cut anywhere is ignored (the scan finds the seal); only the whole one is used.
            Assert.Equal(sealedTape && cut == full.Length, tape.Recovery.FromCheckpoint);
            Assert.Null(tape.Recovery.DamagedAt);
            if (cut < sealEnd || !sealedTape)
            {
                Assert.Equal(cut - boundary, tape.Recovery.DiscardedBytes);
                Assert.Equal(boundary, crashed.Length); // torn bytes physically cut at open
            }
            else
            {
                Assert.Equal(0, tape.Recovery.DiscardedBytes);
            }

            if (cut == boundary || cut == full.Length || cut % 7 == 0)
            {
                // Reading everything back is the expensive part: do it on boundaries and a sample of offsets.
                for (var i = 0; i < expected; i++)
                {
                    if (kinds[i].Filemark)
                    {
                        await ExpectConditionOnReadAsync(tape, TapeCondition.FilemarkDetected);
                    }
                    else
                    {
                        await ExpectBlockAsync(tape, kinds[i].Data);
                    }
                }

                await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
            }

            // Unsealed: records 8.. were never made durable (the last durability point is filemark 7), so a torn
            // payload byte in the last one must cut it, while the same damage inside the durable prefix would not.
            if (!sealedTape && cut == boundary && expected > 8 && !kinds[expected - 1].Filemark)
            {
                var image = full.AsSpan(0, (int)cut).ToArray();
                image[^1] ^= 0x5A;
                await using var torn = await ReopenAsync(new MemoryTapeStore(image));
                Assert.Equal(expected - 1, torn.Recovery.ObjectCount);
            }

            // And the recovered tape is writable at its end: append and read back after another remount.
            if (cut == boundary && expected % 3 == 0)
            {
                await tape.SpaceToEndOfDataAsync();
                Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(RandomBlock(64, 4242), compress: false)).Condition);
                await tape.UnloadAsync();
                await using var again = await ReopenAsync(crashed);
                Assert.Equal(expected + 1, again.Recovery.ObjectCount);
                await again.LocateAsync(expected);
                await ExpectBlockAsync(again, RandomBlock(64, 4242));
            }
        }
    }

    /// <summary>
    /// Crash without unload: durable records (flushed by a filemark) must survive whatever happens to the
    /// not-yet-durable tail; a tail record whose payload never reached the disk is cut together with everything
    /// after it, even records that look intact.
    /// </summary>
    [Fact]
    public async Task Lost_page_in_the_undurable_tail_cuts_there_and_nothing_after_survives()
    {
        var store = new MemoryTapeStore();
        var durable = Enumerable.Range(0, 3).Select(i => RandomBlock(3000, i)).ToArray();
        var tail = Enumerable.Range(10, 4).Select(i => RandomBlock(3000, i)).ToArray();
        var tape = await NewTapeAsync(store);
        foreach (var b in durable)
        {
            await tape.WriteBlockAsync(b, compress: false);
        }

        await tape.WriteFilemarksAsync(1, immediate: false); // durability point: lon 0..3
        foreach (var b in tail)
        {
            await tape.WriteBlockAsync(b, compress: false); // lon 4..7, never flushed
        }

        var tornAt = tape.RecordOffset(5);
        var crashImage = store.ToArray(); // the process dies here: no unload
        crashImage.AsSpan((int)tornAt + 32 + 1024, 512).Clear(); // a page of record 5 never reached the disk

        var crashed = new MemoryTapeStore(crashImage);
        await using var recovered = await ReopenAsync(crashed);
        Assert.False(recovered.Recovery.WasSealed);
        Assert.Equal(5, recovered.Recovery.ObjectCount); // 3 blocks + filemark + tail record 4 (intact)
        Assert.Equal(tornAt, crashed.Length);
        foreach (var b in durable)
        {
            await ExpectBlockAsync(recovered, b);
        }

        await ExpectConditionOnReadAsync(recovered, TapeCondition.FilemarkDetected);
        await ExpectBlockAsync(recovered, tail[0]);
        await ExpectConditionOnReadAsync(recovered, TapeCondition.EndOfData);
    }

    [Fact]
    public async Task Garbage_after_the_last_record_is_cut()
    {
        var store = new MemoryTapeStore();
        var tape = await NewTapeAsync(store);
        await tape.WriteBlockAsync(RandomBlock(100, 1), compress: false);
        await tape.WriteFilemarksAsync(1, immediate: false);
        var image = store.ToArray().Concat(RandomBlock(5000, 2)).ToArray();

        var crashed = new MemoryTapeStore(image);
        await using var recovered = await ReopenAsync(crashed);
        Assert.Equal(2, recovered.Recovery.ObjectCount);
        Assert.Equal(5000, recovered.Recovery.DiscardedBytes);
    }

    [Fact]
    public async Task Zero_filled_tail_from_a_crash_is_cut()
    {
        var store = new MemoryTapeStore();
        var tape = await NewTapeAsync(store);
        await tape.WriteBlockAsync(RandomBlock(100, 1), compress: false);
        await tape.FlushAsync();
        var image = store.ToArray().Concat(new byte[8192]).ToArray(); // file grew, pages never written

        await using var recovered = await ReopenAsync(new MemoryTapeStore(image));
        Assert.Equal(1, recovered.Recovery.ObjectCount);
        Assert.Equal(8192, recovered.Recovery.DiscardedBytes);
    }

    /// <summary>
    /// Overwrite in the middle, then a crash before the new data is durable: the old records past the overwrite
    /// point must not come back, and the new ones are only kept if intact.
    /// </summary>
    [Fact]
    public async Task Overwrite_then_crash_never_resurrects_old_records()
    {
        var store = new MemoryTapeStore();
        var tape = await NewTapeAsync(store);
        for (var i = 0; i < 6; i++)
        {
            await tape.WriteBlockAsync(RandomBlock(1000, i), compress: false);
        }

        await tape.WriteFilemarksAsync(1, immediate: false);
        await tape.LocateAsync(2);
        await tape.WriteBlockAsync(RandomBlock(400, 100), compress: false); // shorter: old bytes would follow it
        var crashImage = store.ToArray();

        await using var recovered = await ReopenAsync(new MemoryTapeStore(crashImage));
        Assert.Equal(3, recovered.Recovery.ObjectCount);
        await recovered.LocateAsync(2);
        await ExpectBlockAsync(recovered, RandomBlock(400, 100));
        await ExpectConditionOnReadAsync(recovered, TapeCondition.EndOfData);
    }

    [Fact]
    public async Task Not_a_tape_image_is_rejected()
    {
        await Assert.ThrowsAsync<InvalidDataException>(async () => await TapeImage.OpenAsync(new MemoryTapeStore(new byte[200_000])));
        await Assert.ThrowsAsync<InvalidDataException>(async () => await TapeImage.OpenAsync(new MemoryTapeStore(new byte[100])));

        var store = new MemoryTapeStore();
        await (await NewTapeAsync(store)).DisposeAsync();
        var image = store.ToArray();
        image[100] ^= 1; // superblock CRC
        await Assert.ThrowsAsync<InvalidDataException>(async () => await TapeImage.OpenAsync(new MemoryTapeStore(image)));
    }

    [Fact]
    public async Task Creating_over_an_existing_store_is_refused()
    {
        var store = new MemoryTapeStore();
        await (await NewTapeAsync(store)).DisposeAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await NewTapeAsync(store));
    }
}

using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// The index checkpoint behind the EOD seal: a mount uses it instead of reading every record header, it is never
/// trusted over the records (any doubt and the mount scans), and it can only be current or absent.
/// </summary>
public sealed class TapeIndexCheckpointTests
{
    /// <summary>A tape of files: blocks of varied sizes (some compressed) and filemarks, 300 objects in all.</summary>
    private static async Task<(MemoryTapeStore Store, List<byte[]?> Objects)> WrittenTapeAsync()
    {
        var store = new MemoryTapeStore();
        var objects = new List<byte[]?>();
        await using var tape = await NewTapeAsync(store);
        for (var i = 0; objects.Count < 300; i++)
        {
            if (i % 23 == 22)
            {
                Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(i % 2 == 0 ? 1 : 2, immediate: false)).Condition);
                objects.Add(null);
                if (i % 2 == 1)
                {
                    objects.Add(null);
                }

                continue;
            }

            var block = i % 7 == 0 ? CompressibleBlock(9000, i) : RandomBlock(1 + ((i * 97) % 5000), i);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(block, compress: i % 7 == 0)).Condition);
            objects.Add(block);
        }

        return (store, objects);
    }

    /// <summary>Reads from <paramref name="objectNumber"/> to EOD, checking blocks, filemarks and positions.</summary>
    private static async Task ExpectObjectsAsync(ITapeMedium tape, List<byte[]?> objects, long objectNumber)
    {
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(objectNumber)).Condition);
        for (var lon = (int)objectNumber; lon < objects.Count; lon++)
        {
            var position = tape.ReadPosition();
            Assert.Equal(lon, position.LogicalObjectNumber);
            Assert.Equal(objects.Take(lon).Count(o => o is null), position.FileNumber);
            if (objects[lon] is { } block)
            {
                await ExpectBlockAsync(tape, block);
            }
            else
            {
                await ExpectConditionOnReadAsync(tape, TapeCondition.FilemarkDetected);
            }
        }

        await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
    }

    [Fact]
    public async Task A_sealed_tape_mounts_from_its_checkpoint_without_reading_the_records_before_the_last()
    {
        var (store, objects) = await WrittenTapeAsync();
        var image = store.ToArray();
        var recording = new RecordingTapeStore(new MemoryTapeStore(image));
        await using var tape = await TapeImage.OpenAsync(recording);

        Assert.True(tape.Recovery.FromCheckpoint);
        Assert.True(tape.Recovery.WasSealed);
        Assert.Equal(objects.Count, tape.Recovery.ObjectCount);
        var lastRecord = tape.RecordOffset(objects.Count - 1);
        var middle = recording.Reads.Where(r => r.Offset + r.Length > TapeFormat.DataStart && r.Offset < lastRecord).ToList();
        Assert.True(middle.Count == 0, $"the mount read the record region: {string.Join(", ", middle)}");

        // Positions, file numbers, SPACE over filemarks and every byte agree with what was written.
        await ExpectObjectsAsync(tape, objects, 0);
        await ExpectObjectsAsync(tape, objects, 150);
        Assert.Equal(TapeCondition.Ok, (await tape.RewindAsync()).Condition);
        var filemarks = objects.Count(o => o is null);
        var spaced = await tape.SpaceFilemarksAsync(filemarks + 1);
        Assert.Equal(TapeCondition.EndOfData, spaced.Condition);
        Assert.Equal(1, spaced.Residue);
        Assert.Equal(TapeCondition.Ok, (await tape.SpaceToEndOfDataAsync()).Condition);
        Assert.Equal(objects.Count, tape.ReadPosition().LogicalObjectNumber);
    }

    [Fact]
    public async Task A_scanned_mount_and_a_checkpoint_mount_build_the_same_index()
    {
        var (store, objects) = await WrittenTapeAsync();
        var image = store.ToArray();
        await using var fromCheckpoint = await ReopenAsync(new MemoryTapeStore(image));
        await using var scanned = await ReopenAsync(new MemoryTapeStore(StripCheckpoint(image)), new TapeMountOptions { ReadOnly = true });
        Assert.True(fromCheckpoint.Recovery.FromCheckpoint);
        Assert.False(scanned.Recovery.FromCheckpoint);
        Assert.Equal(scanned.Recovery.ObjectCount, fromCheckpoint.Recovery.ObjectCount);
        for (var lon = 0; lon <= objects.Count; lon++)
        {
            Assert.Equal(scanned.RecordOffset(lon), fromCheckpoint.RecordOffset(lon));
            Assert.Equal(TapeCondition.Ok, (await scanned.LocateAsync(lon)).Condition);
            Assert.Equal(TapeCondition.Ok, (await fromCheckpoint.LocateAsync(lon)).Condition);
            Assert.Equal(scanned.ReadPosition(), fromCheckpoint.ReadPosition());
        }
    }

    [Fact]
    public async Task A_write_after_the_seal_cuts_the_checkpoint_and_the_next_unload_writes_the_new_one()
    {
        var (store, objects) = await WrittenTapeAsync();
        await using (var tape = await ReopenAsync(store))
        {
            Assert.True(tape.Recovery.FromCheckpoint);
            Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(120)).Condition);
            var replacement = RandomBlock(777, 4242);
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(replacement, compress: false)).Condition);

            // The old seal and checkpoint went with everything after object 120, before the new record landed.
            Assert.Equal(0, CheckpointBytes(store.ToArray()));
            objects.RemoveRange(120, objects.Count - 120);
            objects.Add(replacement);
        }

        Assert.True(CheckpointBytes(store.ToArray()) > 0);
        await using var again = await ReopenAsync(store);
        Assert.True(again.Recovery.FromCheckpoint);
        Assert.Equal(121, again.Recovery.ObjectCount);
        await ExpectObjectsAsync(again, objects, 100);
    }

    [Theory]
    [InlineData("trailer")]
    [InlineData("header")]
    [InlineData("entries")]
    public async Task A_damaged_checkpoint_is_ignored_the_mount_scans_and_the_unload_writes_a_good_one(string where)
    {
        var (store, objects) = await WrittenTapeAsync();
        var image = store.ToArray();
        var checkpoint = image.Length - CheckpointBytes(image);
        var victim = where switch
        {
            "trailer" => image.Length - 20,
            "header" => checkpoint + 9,
            _ => checkpoint + TapeIndexCheckpoint.HeaderSize + 50,
        };
        image[victim] ^= 0x04;
        var damaged = new MemoryTapeStore(image);
        await using (var tape = await ReopenAsync(damaged))
        {
            Assert.False(tape.Recovery.FromCheckpoint);
            Assert.True(tape.Recovery.WasSealed);
            Assert.Equal(objects.Count, tape.Recovery.ObjectCount);
            await ExpectObjectsAsync(tape, objects, 0);
        }

        await using var repaired = await ReopenAsync(damaged);
        Assert.True(repaired.Recovery.FromCheckpoint);
        Assert.Equal(image.Length, damaged.Length);
        await ExpectObjectsAsync(repaired, objects, 200);
    }

    [Fact]
    public async Task A_checkpoint_whose_sizes_disagree_with_the_records_never_yields_another_records_bytes()
    {
        // Swap two records' entries (a 1-byte and a 2-byte varint cannot be swapped in place, so pick equal widths)
        // and fix the payload hash: every checksum is right, only the records say otherwise.
        var (store, objects) = await WrittenTapeAsync();
        var image = store.ToArray();
        var at = image.Length - CheckpointBytes(image);
        await using (var probe = await ReopenAsync(new MemoryTapeStore(image), new TapeMountOptions { ReadOnly = true }))
        {
            var sizes = Enumerable.Range(0, objects.Count).Select(i => probe.RecordOffset(i + 1) - probe.RecordOffset(i)).ToArray();
            var (a, b) = FindSwappable(sizes);
            var entries = new List<byte[]>();
            for (var i = 0; i < sizes.Length; i++)
            {
                var size = i == a ? sizes[b] : i == b ? sizes[a] : sizes[i];
                var buffer = new byte[TapeIndexCheckpoint.MaxEntryBytes];
                var n = TapeIndexCheckpoint.WriteEntry(buffer, size, objects[i] is null);
                entries.Add(buffer[..n]);
            }

            var payload = entries.SelectMany(e => e).ToArray();
            Assert.Equal(CheckpointBytes(image) - TapeIndexCheckpoint.HeaderSize - TapeIndexCheckpoint.TrailerSize, payload.Length);
            payload.CopyTo(image, at + TapeIndexCheckpoint.HeaderSize);
            TapeIndexCheckpoint.WriteTrailer(image.AsSpan(image.Length - TapeIndexCheckpoint.TrailerSize), at, TapeIndexCheckpoint.HeaderSize + payload.Length, System.IO.Hashing.XxHash3.HashToUInt64(payload));
        }

        // The swapped sizes still add up to the EOD offset and the last record's header is where it was, so the mount
        // may accept the checkpoint; the records then decide: a header is authoritative over the index (the first of
        // the pair reads right), a misplaced one is a MEDIUM ERROR (the second) — never another record's bytes.
        await using var tape = await ReopenAsync(new MemoryTapeStore(image), new TapeMountOptions { ReadOnly = true });
        var errors = 0;
        for (var lon = 0; lon < objects.Count; lon++)
        {
            Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(lon)).Condition);
            var expected = objects[lon];
            var buffer = new byte[expected?.Length ?? 1];
            var result = await tape.ReadBlockAsync(buffer);
            if (result.Condition == TapeCondition.MediumError)
            {
                errors++;
            }
            else if (expected is null)
            {
                Assert.Equal(TapeCondition.FilemarkDetected, result.Condition);
            }
            else
            {
                Assert.Equal(TapeCondition.Ok, result.Condition);
                Assert.Equal(expected, buffer);
            }
        }

        Assert.True(tape.Recovery.FromCheckpoint ? errors > 0 : errors == 0);
    }

    /// <summary>Two adjacent data records of different sizes whose entries have the same width (swappable in place).</summary>
    private static (int A, int B) FindSwappable(long[] sizes)
    {
        static int Width(long size) => TapeIndexCheckpoint.WriteEntry(new byte[TapeIndexCheckpoint.MaxEntryBytes], size, false);
        for (var i = 0; i + 1 < sizes.Length; i++)
        {
            if (sizes[i] > 32 && sizes[i + 1] > 32 && sizes[i] != sizes[i + 1] && Width(sizes[i]) == Width(sizes[i + 1]))
            {
                return (i, i + 1);
            }
        }

        throw new InvalidOperationException("no two adjacent data records of different sizes");
    }

    [Fact]
    public async Task A_tape_sealed_without_a_checkpoint_gets_one_at_its_next_unload_but_not_when_mounted_read_only()
    {
        var (store, objects) = await WrittenTapeAsync();
        var old = new MemoryTapeStore(StripCheckpoint(store.ToArray()));
        await using (var readOnly = await ReopenAsync(old, new TapeMountOptions { ReadOnly = true }))
        {
            Assert.False(readOnly.Recovery.FromCheckpoint);
            await ExpectObjectsAsync(readOnly, objects, 290);
        }

        Assert.Equal(0, CheckpointBytes(old.ToArray()));
        await using (var tape = await ReopenAsync(old))
        {
            Assert.False(tape.Recovery.FromCheckpoint);
        }

        await using var upgraded = await ReopenAsync(old);
        Assert.True(upgraded.Recovery.FromCheckpoint);
        await ExpectObjectsAsync(upgraded, objects, 0);
    }

    [Fact]
    public async Task A_header_damaged_after_the_seal_is_a_medium_error_and_the_records_after_it_stay_reachable()
    {
        var (store, objects) = await WrittenTapeAsync();
        var image = store.ToArray();
        long victim;
        await using (var probe = await ReopenAsync(new MemoryTapeStore(image), new TapeMountOptions { ReadOnly = true }))
        {
            victim = probe.RecordOffset(40);
        }

        Assert.NotNull(objects[40]);
        image[victim + 9] ^= 0x01; // its stored-length field
        await using var tape = await ReopenAsync(new MemoryTapeStore(image));
        Assert.True(tape.Recovery.FromCheckpoint);
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(40)).Condition);
        Assert.Equal(TapeCondition.MediumError, (await tape.ReadBlockAsync(new byte[16 << 10])).Condition);
        await ExpectObjectsAsync(tape, objects, 41);
    }
}

/// <summary>Records every read of the store under it (offset and length).</summary>
internal sealed class RecordingTapeStore(ITapeStore inner) : ITapeStore
{
    public List<(long Offset, int Length)> Reads { get; } = [];

    public long Length => inner.Length;

    public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        Reads.Add((offset, destination.Length));
        return inner.ReadAsync(offset, destination, ct);
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct) => inner.WriteAsync(offset, source, ct);

    public ValueTask SetLengthAsync(long length, CancellationToken ct) => inner.SetLengthAsync(length, ct);

    public ValueTask FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

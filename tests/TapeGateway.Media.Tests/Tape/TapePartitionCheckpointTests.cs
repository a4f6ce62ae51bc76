using System.Buffers.Binary;
using System.IO.Hashing;
using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// The version-2 index checkpoint of a partitioned medium: one entry per record of the stream (garbage and partition
/// ends included), replayed at mount with the scan's own rule. A mount from it must be indistinguishable from a
/// scanned mount of the same image — contents, positions, usage, and where the next overwrite cuts — and anything
/// doubtful is refused for the scan.
/// </summary>
public sealed class TapePartitionCheckpointTests
{
    private static byte[] Block(int partition, int n, int length) => RandomBlock(length, (partition * 10_000) + n);

    private static async Task WriteAsync(ITapeMedium tape, byte[] block, bool compress = false) =>
        Assert.True((await tape.WriteBlockAsync(block, compress)).Condition is TapeCondition.Ok or TapeCondition.EarlyWarning);

    private static async Task LocateAsync(ITapeMedium tape, int partition, long lon) =>
        Assert.Equal(TapeCondition.Ok, (await tape.LocateAsync(partition, lon)).Condition);

    /// <summary>
    /// Three partitions with interleaved writes, filemarks (durable and immediate), a compressed block, a logical
    /// supersede (garbage), an ERASE outside the tail run (a partition-end record), a physical cut in the tail run
    /// after that partition end, and a tail run that starts with a hiding record: overwrites in it before the hiding
    /// record's end must append, after it must cut. Unloaded: sealed with a checkpoint.
    /// </summary>
    private static async Task<byte[]> InterleavedImageAsync()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store, 16 * MiB))
        {
            Assert.Equal(TapeCondition.Ok, (await tape.FormatPartitionsAsync([4 * MiB, 4 * MiB, 4 * MiB])).Condition);
            for (var i = 0; i < 4; i++)
            {
                await WriteAsync(tape, Block(0, i, 300 + (i * 50)));
            }

            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
            await WriteAsync(tape, Block(0, 5, 2000));

            await LocateAsync(tape, 1, 0);
            for (var i = 0; i < 5; i++)
            {
                await WriteAsync(tape, Block(1, i, 7000 + i));
            }

            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: true)).Condition);
            await LocateAsync(tape, 2, 0);
            for (var i = 0; i < 3; i++)
            {
                await WriteAsync(tape, Block(2, i, 100 + i));
            }

            await LocateAsync(tape, 0, 2);
            await WriteAsync(tape, Block(0, 20, 900)); // logical supersede: p0's objects 2..5 become garbage
            await LocateAsync(tape, 1, 3);
            Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition); // partition-end record
            await WriteAsync(tape, Block(1, 30, 5000));
            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(2, immediate: false)).Condition);
            await WriteAsync(tape, Block(1, 31, 6000));
            await LocateAsync(tape, 1, 4);
            await WriteAsync(tape, Block(1, 40, 4500)); // in the tail run after the partition end: a physical cut
            await LocateAsync(tape, 2, 3);
            await WriteAsync(tape, CompressibleBlock(20_000, 7), compress: true);
            await WriteAsync(tape, Block(2, 4, 3000));
            await LocateAsync(tape, 2, 1);
            await WriteAsync(tape, Block(2, 50, 1234)); // p2 is not the tail run: logical, the new run starts hiding
            await WriteAsync(tape, Block(2, 51, 4321));
            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: true)).Condition);
            await WriteAsync(tape, Block(2, 52, 10));
        }

        var image = store.ToArray();
        Assert.True(CheckpointBytes(image) > 0);
        return image;
    }

    /// <summary>The same image with its checkpoint made useless (stripped): a mount must scan it.</summary>
    private static MemoryTapeStore ScanTwin(byte[] image) => new(StripCheckpoint(image));

    private static async Task<TapeImage> MountAsync(MemoryTapeStore store, bool expectCheckpoint, TapeMountOptions? mount = null)
    {
        var tape = await ReopenAsync(store, mount);
        Assert.Equal(expectCheckpoint, tape.Recovery.FromCheckpoint);
        Assert.True(tape.Recovery.WasSealed);
        return tape;
    }

    /// <summary>Every partition's figures, every object's offset and READ POSITION, and every byte agree.</summary>
    private static async Task AssertSameStateAsync(TapeImage expected, TapeImage actual)
    {
        Assert.Equal(expected.PartitionCount, actual.PartitionCount);
        Assert.Equal(expected.Recovery.ObjectCount, actual.Recovery.ObjectCount);
        for (var p = 0; p < expected.PartitionCount; p++)
        {
            var info = expected.GetPartition(p);
            Assert.Equal(info, actual.GetPartition(p));
            for (var lon = 0L; lon <= info.EndOfDataObjectNumber; lon++)
            {
                await LocateAsync(expected, p, lon);
                await LocateAsync(actual, p, lon);
                Assert.Equal(expected.ReadPosition(), actual.ReadPosition());
                Assert.Equal(expected.RecordOffset(lon), actual.RecordOffset(lon));
            }

            await LocateAsync(expected, p, 0);
            await LocateAsync(actual, p, 0);
            while (true)
            {
                var a = new byte[64 * 1024];
                var b = new byte[64 * 1024];
                var ra = await expected.ReadBlockAsync(a);
                var rb = await actual.ReadBlockAsync(b);
                Assert.Equal(ra, rb);
                Assert.Equal(a, b);
                Assert.Equal(expected.ReadPosition(), actual.ReadPosition());
                if (ra.Condition is not (TapeCondition.Ok or TapeCondition.IncorrectLength or TapeCondition.FilemarkDetected))
                {
                    Assert.Equal(TapeCondition.EndOfData, ra.Condition);
                    break;
                }
            }
        }
    }

    [Fact]
    public async Task A_partitioned_tape_mounts_from_its_checkpoint_into_the_state_a_scan_builds()
    {
        var image = await InterleavedImageAsync();
        await using var fromCheckpoint = await MountAsync(new MemoryTapeStore(image), expectCheckpoint: true, new TapeMountOptions { ReadOnly = true });
        await using var scanned = await MountAsync(ScanTwin(image), expectCheckpoint: false, new TapeMountOptions { ReadOnly = true });
        Assert.Equal((3, 3L, 5L, 5L), (fromCheckpoint.PartitionCount, fromCheckpoint.GetPartition(0).EndOfDataObjectNumber, fromCheckpoint.GetPartition(1).EndOfDataObjectNumber, fromCheckpoint.GetPartition(2).EndOfDataObjectNumber));
        await AssertSameStateAsync(scanned, fromCheckpoint);
    }

    /// <summary>
    /// The tail run is rebuilt too: an overwrite at every object of every partition (and an ERASE) after a checkpoint
    /// mount cuts or appends exactly where it does after a scan — same store length — and, after a checkpoint mount,
    /// the first write finds the seal and the checkpoint gone (every record write is a pure append). The tape then
    /// unloads with a new checkpoint that again agrees with a scan.
    /// </summary>
    [Theory]
    [InlineData("block")]
    [InlineData("filemark")]
    [InlineData("erase")]
    public async Task A_write_after_a_checkpoint_mount_cuts_or_appends_as_after_a_scan(string kind)
    {
        var image = await InterleavedImageAsync();
        var eod = CheckpointOffset(image) - 32;
        int cuts = 0, appends = 0;
        for (var p = 0; p < 3; p++)
        {
            long count;
            await using (var probe = await MountAsync(new MemoryTapeStore(image), expectCheckpoint: true, new TapeMountOptions { ReadOnly = true }))
            {
                count = probe.GetPartition(p).EndOfDataObjectNumber;
            }

            for (var lon = 0; lon <= count; lon++)
            {
                var twins = new List<(long Length, byte[] Image)>();
                foreach (var checkpoint in new[] { true, false })
                {
                    var inner = checkpoint ? new MemoryTapeStore(image) : ScanTwin(image);
                    var store = new AppendOnlyCheckStore(inner);
                    await using (var tape = await TapeImage.OpenAsync(store))
                    {
                        Assert.Equal(checkpoint, tape.Recovery.FromCheckpoint);
                        await LocateAsync(tape, p, lon);
                        store.Checking = true;
                        switch (kind)
                        {
                            case "block":
                                await WriteAsync(tape, Block(p, 900 + lon, 777));
                                break;
                            case "filemark":
                                Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: true)).Condition);
                                break;
                            default:
                                Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition);
                                break;
                        }

                        store.Checking = false;
                    }

                    twins.Add((store.LowestLength, inner.ToArray()));
                }

                Assert.Equal(twins[1].Image, twins[0].Image); // the log a checkpoint mount rebuilt is the one a scan builds
                Assert.Equal(twins[1].Length, twins[0].Length);
                if (twins[0].Length < eod)
                {
                    cuts++;
                }
                else
                {
                    appends++;
                }

                // Both unloaded with a checkpoint; each mounts from it into what a scan of it builds.
                await using var again = await MountAsync(new MemoryTapeStore(twins[0].Image), expectCheckpoint: true);
                await using var scanned = await MountAsync(ScanTwin(twins[0].Image), expectCheckpoint: false, new TapeMountOptions { ReadOnly = true });
                await using var twin = await MountAsync(new MemoryTapeStore(twins[1].Image), expectCheckpoint: true, new TapeMountOptions { ReadOnly = true });
                await AssertSameStateAsync(scanned, again);
                await AssertSameStateAsync(scanned, twin);
            }
        }

        // p2's run starts with the record that hid its old objects 1..5: before its end overwrites append, after it they cut.
        Assert.True(cuts >= 3, $"cuts {cuts}");
        Assert.True(appends >= 10, $"appends {appends}");
    }

    [Fact]
    public async Task The_mount_reads_the_metadata_the_checkpoint_and_the_last_record_header_only()
    {
        var image = await InterleavedImageAsync();
        var entries = DecodeEntries(image);
        var eod = CheckpointOffset(image) - 32;
        var lastRecord = eod - 32 - entries[^1].Stored;
        var recording = new RecordingTapeStore(new MemoryTapeStore(image));
        await using var tape = await TapeImage.OpenAsync(recording);
        Assert.True(tape.Recovery.FromCheckpoint);
        var stray = recording.Reads.Where(r => r.Offset + r.Length > TapeFormat.DataStart && r.Offset < lastRecord).ToList();
        Assert.True(stray.Count == 0, $"the mount read the record region: {string.Join(", ", stray)}");
        Assert.Contains(recording.Reads, r => r.Offset == lastRecord && r.Length == 32);
    }

    public static TheoryData<string> Forgeries() =>
    [
        "flip-entry", "swap-entries", "wrong-partition", "wrong-lon-last", "lon-past-eod", "size-plus-one",
        "extra-entry", "missing-entry", "payload-on-partition-end", "truncated-trailer", "no-trailer", "version-1",
        "partition-count", "mark-below-seal",
    ];

    /// <summary>
    /// Forged or damaged checkpoints: some break a checksum, the others keep every checksum right (entries re-hashed,
    /// header and trailer rewritten) and break one trust rule. Each is refused, the mount scans into the same state.
    /// </summary>
    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_forged_checkpoint_is_refused_and_the_scan_builds_the_same_state(string forgery)
    {
        var image = await InterleavedImageAsync();
        var entries = DecodeEntries(image);
        byte[] forged;
        switch (forgery)
        {
            case "flip-entry":
                forged = (byte[])image.Clone();
                forged[CheckpointOffset(image) + TapeIndexCheckpoint.HeaderSize + 5] ^= 0x08;
                break;
            case "swap-entries":
                {
                    // Two adjacent entries of different partitions and equal widths swapped in place; the trailer (and
                    // its hash) left as it was.
                    var k = FindAdjacent(entries, (a, b) => a.Width == b.Width && a.Partition != b.Partition);
                    var swapped = entries.ToList();
                    (swapped[k], swapped[k + 1]) = (swapped[k + 1], swapped[k]);
                    forged = WithEntries(image, swapped);
                    image.AsSpan(image.Length - TapeIndexCheckpoint.TrailerSize).CopyTo(forged.AsSpan(forged.Length - TapeIndexCheckpoint.TrailerSize));
                    break;
                }

            case "wrong-partition":
                // A partition 0 record moved to partition 1: partition 0 ends one object short of the seal's number.
                forged = WithEntries(image, entries.Select((e, i) => i == entries.FindLastIndex(x => x.Partition == 0 && x.Type == 1) ? e with { Partition = 1, Lon = -1 } : e).ToList());
                break;
            case "wrong-lon-last":
                forged = WithEntries(image, [.. entries.SkipLast(1), entries[^1] with { Lon = 0 }]);
                break;
            case "lon-past-eod":
                forged = WithEntries(image, entries.Select((e, i) => i == entries.FindIndex(x => x.Lon >= 0) ? e with { Lon = 99 } : e).ToList());
                break;
            case "size-plus-one":
                forged = WithEntries(image, entries.Select((e, i) => i == 3 ? e with { Stored = e.Stored + 1 } : e).ToList());
                break;
            case "extra-entry":
                forged = WithEntries(image, [.. entries, new Entry(2, 2, 0, -1, 0)]);
                break;
            case "missing-entry":
                forged = WithEntries(image, [.. entries.SkipLast(1)]);
                break;
            case "payload-on-partition-end":
                {
                    // A partition end with a payload cannot be encoded by the writer; forge the head varint by hand.
                    var k = entries.FindIndex(e => e.Type == 4);
                    var pe = entries[k];
                    var raw = entries.Select(e => Encode(e)).ToList();
                    var head = (1 << 4) | (pe.Partition << 2) | 2 | 1; // size 1, partition, explicit object, partition end
                    Assert.InRange(pe.Lon, 0, 127);
                    raw[k] = [(byte)head, (byte)pe.Lon];
                    forged = WithPayload(image, raw.SelectMany(r => r).ToArray(), entries.Count);
                    break;
                }

            case "truncated-trailer":
                forged = image.AsSpan(0, image.Length - 1).ToArray();
                break;
            case "no-trailer":
                forged = image.AsSpan(0, image.Length - TapeIndexCheckpoint.TrailerSize).ToArray();
                break;
            case "version-1":
                forged = WithHeader(image, h => BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 1));
                break;
            case "partition-count":
                forged = WithHeader(image, h => h[24] = 2);
                break;
            default:
                {
                    // The durable mark lowered below the seal (as if the unload had crashed before setting it).
                    forged = (byte[])image.Clone();
                    var eod = CheckpointOffset(image) - 32;
                    for (var slot = 0; slot < 2; slot++)
                    {
                        var span = forged.AsSpan((int)TapeFormat.MarkSlotOffset + (slot * TapeFormat.MarkSlotSize), TapeFormat.MarkSlotSize);
                        if (TapeFormat.TryReadMark(span, out var seq, out _))
                        {
                            TapeFormat.WriteMark(span, seq, eod);
                        }
                    }

                    break;
                }
        }

        Assert.NotEqual(image, forged);
        await using var refused = await ReopenAsync(new MemoryTapeStore(forged), new TapeMountOptions { ReadOnly = true });
        Assert.False(refused.Recovery.FromCheckpoint);
        Assert.True(refused.Recovery.WasSealed);
        await using var scanned = await MountAsync(ScanTwin(image), expectCheckpoint: false, new TapeMountOptions { ReadOnly = true });
        await AssertSameStateAsync(scanned, refused);

        // Mounted read-write, the refused checkpoint is replaced at unload by a good one.
        var store = new MemoryTapeStore(forged);
        await (await ReopenAsync(store)).DisposeAsync();
        await using var repaired = await MountAsync(store, expectCheckpoint: true, new TapeMountOptions { ReadOnly = true });
        await AssertSameStateAsync(scanned, repaired);
    }

    /// <summary>
    /// Two data entries of different partitions swapped with every checksum fixed: the sizes still add up and the last
    /// record is untouched, so the mount may take the checkpoint — but a READ checks the header it finds (partition,
    /// object number, CRC), so it returns the right bytes or a MEDIUM ERROR, never another record's.
    /// </summary>
    [Fact]
    public async Task Swapped_entries_with_consistent_checksums_never_yield_another_records_bytes()
    {
        var image = await InterleavedImageAsync();
        var entries = DecodeEntries(image);
        var k = FindAdjacent(entries, (a, b) => a.Type == 1 && b.Type == 1 && a.Partition != b.Partition && a.Stored != b.Stored && a.Lon < 0 && b.Lon < 0);
        var swapped = entries.ToList();
        (swapped[k], swapped[k + 1]) = (swapped[k + 1], swapped[k]);
        var forged = WithEntries(image, swapped);

        await using var truth = await MountAsync(ScanTwin(image), expectCheckpoint: false, new TapeMountOptions { ReadOnly = true });
        await using var tape = await ReopenAsync(new MemoryTapeStore(forged), new TapeMountOptions { ReadOnly = true });
        var errors = 0;
        for (var p = 0; p < 3; p++)
        {
            for (var lon = 0L; lon < truth.GetPartition(p).EndOfDataObjectNumber; lon++)
            {
                await LocateAsync(truth, p, lon);
                var expected = new byte[64 * 1024];
                var want = await truth.ReadBlockAsync(expected);
                if (lon >= tape.GetPartition(p).EndOfDataObjectNumber)
                {
                    continue;
                }

                await LocateAsync(tape, p, lon);
                var buffer = new byte[64 * 1024];
                var got = await tape.ReadBlockAsync(buffer);
                if (got.Condition == TapeCondition.MediumError)
                {
                    errors++;
                }
                else if (got.Condition == TapeCondition.Ok)
                {
                    Assert.Equal(want, got);
                    Assert.Equal(expected, buffer);
                }
            }
        }

        Assert.True(!tape.Recovery.FromCheckpoint || errors > 0);
    }

    [Fact]
    public async Task A_version_2_checkpoint_on_a_single_partition_tape_is_refused()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store))
        {
            for (var i = 0; i < 5; i++)
            {
                await WriteAsync(tape, Block(0, i, 1000 + i));
            }
        }

        // Replace the version-1 checkpoint by a well-formed version-2 one describing the same records.
        var image = StripCheckpoint(store.ToArray());
        var eod = image.Length - 32;
        var payload = Enumerable.Range(0, 5).SelectMany(i => Encode(new Entry(0, 1, 1000 + i, -1, 0))).ToArray();
        var checkpoint = new byte[TapeIndexCheckpoint.HeaderSize + payload.Length + TapeIndexCheckpoint.TrailerSize];
        TapeIndexCheckpoint.WritePartitionedHeader(checkpoint, 5, eod, 1);
        payload.CopyTo(checkpoint, TapeIndexCheckpoint.HeaderSize);
        TapeIndexCheckpoint.WriteTrailer(checkpoint.AsSpan(TapeIndexCheckpoint.HeaderSize + payload.Length), image.Length, TapeIndexCheckpoint.HeaderSize + payload.Length, XxHash3.HashToUInt64(payload));
        await using var mounted = await ReopenAsync(new MemoryTapeStore([.. image, .. checkpoint]), new TapeMountOptions { ReadOnly = true });
        Assert.False(mounted.Recovery.FromCheckpoint);
        Assert.Equal(5, mounted.Recovery.ObjectCount);
    }

    /// <summary>
    /// A crash after every store operation of the unload (seal, checkpoint header, entries, trailer, fsync, mark,
    /// fsync), and with every write torn in half: the next mount is from a valid checkpoint or a scan, with the same
    /// state either way; only the finished unload mounts from the checkpoint.
    /// </summary>
    [Fact]
    public async Task A_crash_while_the_checkpoint_is_written_leaves_a_checkpoint_mount_or_a_scan_of_the_same_state()
    {
        var image = await InterleavedImageAsync();
        var recorder = new SnapshotTapeStore(new MemoryTapeStore(image), tornWrites: true);
        var tape = await TapeImage.OpenAsync(recorder);
        Assert.True(tape.Recovery.FromCheckpoint);
        await LocateAsync(tape, 0, 1);
        await WriteAsync(tape, Block(0, 77, 3333)); // logical supersede: garbage and an explicit object number
        await LocateAsync(tape, 2, 5);
        await WriteAsync(tape, Block(2, 78, 100));
        await tape.FlushAsync();
        recorder.Snapshots.Clear();
        await tape.UnloadAsync();
        var final = recorder.Snapshots[^1];

        await using var truth = await MountAsync(ScanTwin(final), expectCheckpoint: false, new TapeMountOptions { ReadOnly = true });
        int fromCheckpoint = 0, scans = 0;
        foreach (var snapshot in recorder.Snapshots)
        {
            await using var crashed = await ReopenAsync(new MemoryTapeStore(snapshot), new TapeMountOptions { ReadOnly = true });
            if (crashed.Recovery.FromCheckpoint)
            {
                fromCheckpoint++;
            }
            else
            {
                scans++;
            }

            await AssertSameStateAsync(truth, crashed);
        }

        Assert.True(fromCheckpoint >= 1 && scans >= 5, $"{fromCheckpoint} checkpoint mounts, {scans} scans");
    }

    /// <summary>
    /// Random operations on three partitions with an unload after each batch: every checkpoint mount agrees with a scan
    /// of the same image, and the log the checkpoint mount rebuilt writes the next checkpoint correctly.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Random_sessions_always_mount_from_the_checkpoint_into_the_scanned_state(int seed)
    {
        var rng = new Random(seed);
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store, 16 * MiB))
        {
            Assert.Equal(TapeCondition.Ok, (await tape.FormatPartitionsAsync([4 * MiB, 4 * MiB, 4 * MiB])).Condition);
        }

        for (var session = 0; session < 8; session++)
        {
            await using (var tape = await TapeImage.OpenAsync(store))
            {
                Assert.True(tape.Recovery.FromCheckpoint);
                for (var op = 0; op < 12; op++)
                {
                    var p = rng.Next(3);
                    var eod = tape.GetPartition(p).EndOfDataObjectNumber;
                    await LocateAsync(tape, p, rng.Next(3) == 0 ? eod : rng.NextInt64(eod + 1));
                    switch (rng.Next(6))
                    {
                        case 0:
                            Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1 + rng.Next(2), immediate: rng.Next(2) == 0)).Condition);
                            break;
                        case 1:
                            Assert.Equal(TapeCondition.Ok, (await tape.EraseAsync()).Condition);
                            break;
                        case 2:
                            await WriteAsync(tape, CompressibleBlock(1000 + rng.Next(5000), rng.Next(100)), compress: true);
                            break;
                        default:
                            for (var n = rng.Next(1, 4); n > 0; n--)
                            {
                                await WriteAsync(tape, RandomBlock(1 + rng.Next(3000), rng.Next()));
                            }

                            break;
                    }
                }
            }

            var image = store.ToArray();
            await using var fromCheckpoint = await MountAsync(new MemoryTapeStore(image), expectCheckpoint: true, new TapeMountOptions { ReadOnly = true });
            await using var scanned = await MountAsync(ScanTwin(image), expectCheckpoint: false, new TapeMountOptions { ReadOnly = true });
            await AssertSameStateAsync(scanned, fromCheckpoint);
        }
    }

    // ---- Checkpoint surgery -------------------------------------------------------------------------------------

    /// <summary>One version-2 entry as the tests see it: type 1/2/4, Lon -1 when the entry carries none.</summary>
    private sealed record Entry(int Partition, int Type, int Stored, long Lon, int Width);

    private static long CheckpointOffset(byte[] image)
    {
        Assert.True(TapeIndexCheckpoint.TryReadTrailer(image.AsSpan(image.Length - TapeIndexCheckpoint.TrailerSize), out var at, out _, out _));
        return at;
    }

    private static List<Entry> DecodeEntries(byte[] image)
    {
        var at = CheckpointOffset(image);
        var header = image.AsSpan((int)at, TapeIndexCheckpoint.HeaderSize);
        Assert.True(TapeIndexCheckpoint.TryReadHeader(header, out var version, out var count, out _, out _));
        Assert.Equal(TapeIndexCheckpoint.PartitionedVersion, version);
        var payload = image.AsSpan((int)at + TapeIndexCheckpoint.HeaderSize, image.Length - (int)at - TapeIndexCheckpoint.HeaderSize - TapeIndexCheckpoint.TrailerSize);
        var entries = new List<Entry>();
        while (!payload.IsEmpty)
        {
            Assert.True(TapeIndexCheckpoint.TryReadPartitionedEntry(payload, out var type, out var partition, out var stored, out var lon, out var used));
            entries.Add(new Entry(partition, (int)type, stored, lon, used));
            payload = payload[used..];
        }

        Assert.Equal(count, entries.Count);
        return entries;
    }

    private static byte[] Encode(Entry e)
    {
        var buffer = new byte[TapeIndexCheckpoint.MaxPartitionedEntryBytes];
        var n = TapeIndexCheckpoint.WritePartitionedEntry(buffer, (RecordType)e.Type, e.Partition, e.Stored, e.Lon >= 0, e.Lon);
        return buffer[..n];
    }

    private static byte[] WithEntries(byte[] image, List<Entry> entries) =>
        WithPayload(image, entries.SelectMany(Encode).ToArray(), entries.Count);

    /// <summary>The image with a new checkpoint payload, its header (count), hash and trailer made consistent.</summary>
    private static byte[] WithPayload(byte[] image, byte[] payload, long count)
    {
        var at = CheckpointOffset(image);
        var header = image.AsSpan((int)at, TapeIndexCheckpoint.HeaderSize);
        Assert.True(TapeIndexCheckpoint.TryReadHeader(header, out _, out _, out var eod, out var partitions));
        var result = new byte[at + TapeIndexCheckpoint.HeaderSize + payload.Length + TapeIndexCheckpoint.TrailerSize];
        image.AsSpan(0, (int)at).CopyTo(result);
        TapeIndexCheckpoint.WritePartitionedHeader(result.AsSpan((int)at), count, eod, partitions);
        payload.CopyTo(result, at + TapeIndexCheckpoint.HeaderSize);
        TapeIndexCheckpoint.WriteTrailer(result.AsSpan(result.Length - TapeIndexCheckpoint.TrailerSize), at, TapeIndexCheckpoint.HeaderSize + payload.Length, XxHash3.HashToUInt64(payload));
        return result;
    }

    /// <summary>The image with its checkpoint header edited and its CRC fixed.</summary>
    private static byte[] WithHeader(byte[] image, SpanAction edit)
    {
        var forged = (byte[])image.Clone();
        var header = forged.AsSpan((int)CheckpointOffset(image), TapeIndexCheckpoint.HeaderSize);
        edit(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[28..], TapeFormat.Crc(header[..28]));
        return forged;
    }

    private delegate void SpanAction(Span<byte> span);

    private static int FindAdjacent(List<Entry> entries, Func<Entry, Entry, bool> match)
    {
        for (var i = 0; i + 1 < entries.Count; i++)
        {
            if (match(entries[i], entries[i + 1]))
            {
                return i;
            }
        }

        throw new InvalidOperationException("no matching adjacent entries");
    }
}

/// <summary>
/// Fails any write into the record region that does not land exactly at the end of the store while checking: the
/// write path must cut the seal and checkpoint (and anything superseded) before it appends.
/// </summary>
internal sealed class AppendOnlyCheckStore(MemoryTapeStore inner) : ITapeStore
{
    public bool Checking { get; set; }

    /// <summary>The shortest the store was cut to while checking (a cut into the records is below the seal).</summary>
    public long LowestLength { get; private set; } = long.MaxValue;

    public long Length => inner.Length;

    public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct) => inner.ReadAsync(offset, destination, ct);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        if (Checking && offset >= TapeFormat.DataStart && offset != inner.Length)
        {
            throw new InvalidOperationException($"a record written at {offset}, the store ends at {inner.Length}");
        }

        return inner.WriteAsync(offset, source, ct);
    }

    public ValueTask SetLengthAsync(long length, CancellationToken ct)
    {
        if (Checking)
        {
            LowestLength = Math.Min(LowestLength, length);
        }

        return inner.SetLengthAsync(length, ct);
    }

    public ValueTask FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

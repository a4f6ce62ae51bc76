using System.Diagnostics;
using System.Reflection;
using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>The same image on a real file: creation, remount, a flipped byte in the file, and a cut file.</summary>
public sealed class LocalFileTapeStoreTests
{
    [Fact]
    public async Task File_tape_round_trip_with_flipped_byte_and_truncated_tail()
    {
        var path = TempPath("tape.tgt");
        try
        {
            var blocks = Enumerable.Range(0, 8).Select(i => RandomBlock(256 * 1024, i)).ToArray();
            long victim, fifthEnd;
            await using (var tape = await TapeImage.CreateFileAsync(path, new TapeImageOptions { CapacityBytes = 16 * MiB }))
            {
                for (var i = 0; i < blocks.Length; i++)
                {
                    await tape.WriteBlockAsync(blocks[i], compress: false);
                    if (i == 3)
                    {
                        await tape.WriteFilemarksAsync(1, immediate: false);
                    }
                }

                victim = tape.RecordOffset(1);
                fifthEnd = tape.RecordOffset(6);
            }

            await Assert.ThrowsAsync<IOException>(async () => await TapeImage.CreateFileAsync(path, new TapeImageOptions { CapacityBytes = 16 * MiB }));

            // Flip one payload byte in the file.
            await using (var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            {
                fs.Position = victim + 32 + 100_000;
                var b = fs.ReadByte();
                fs.Position = victim + 32 + 100_000;
                fs.WriteByte((byte)(b ^ 0x80));
            }

            await using (var tape = await TapeImage.OpenFileAsync(path))
            {
                Assert.Equal(9, tape.Recovery.ObjectCount);
                await ExpectBlockAsync(tape, blocks[0]);
                Assert.Equal(TapeCondition.MediumError, (await tape.ReadBlockAsync(new byte[256 * 1024])).Condition);
                await ExpectBlockAsync(tape, blocks[2]);
            }

            // Cut the file in the middle of record 6 (a crash mid-write).
            await using (var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            {
                fs.SetLength(fifthEnd + 32 + 1000);
            }

            await using (var tape = await TapeImage.OpenFileAsync(path))
            {
                Assert.Equal(6, tape.Recovery.ObjectCount);
                Assert.Equal(32 + 1000, tape.Recovery.DiscardedBytes);
                await tape.LocateAsync(5);
                await ExpectBlockAsync(tape, blocks[4]);
                await ExpectConditionOnReadAsync(tape, TapeCondition.EndOfData);
            }

            // Cut at open, then sealed on unload: the EOD record, then the index checkpoint (header, one varint per
            // record — 3 bytes for a 256 KiB block, 1 for a filemark — and the trailer).
            Assert.Equal(fifthEnd + 32 + TapeIndexCheckpoint.HeaderSize + (5 * 3) + 1 + TapeIndexCheckpoint.TrailerSize, new FileInfo(path).Length);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public async Task File_is_thin_only_written_bytes_use_space()
    {
        var path = TempPath("thin.tgt");
        try
        {
            await using (var tape = await TapeImage.CreateFileAsync(path, new TapeImageOptions { CapacityBytes = 1024 * MiB }))
            {
                await tape.WriteBlockAsync(RandomBlock(1000, 1), compress: false);
            }

            // One record, the EOD seal, and a checkpoint of one 2-byte entry.
            Assert.Equal(TapeFormat.DataStart + 32 + 1000 + 32 + TapeIndexCheckpoint.HeaderSize + 2 + TapeIndexCheckpoint.TrailerSize, new FileInfo(path).Length);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public async Task Image_is_exclusive_for_writing()
    {
        var path = TempPath("excl.tgt");
        try
        {
            await using var tape = await TapeImage.CreateFileAsync(path, new TapeImageOptions { CapacityBytes = 16 * MiB });
            await Assert.ThrowsAsync<IOException>(async () => await TapeImage.OpenFileAsync(path));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}

[CollectionDefinition(nameof(AllocationSensitive), DisableParallelization = true)]
public sealed class AllocationSensitive;

/// <summary>
/// The WRITE(6) path must not allocate per block in steady state, uncompressed and compressed (a compressible block
/// cut into chunks compressed on two cores): measured process-wide with the other test collections paused.
/// </summary>
[Collection(nameof(AllocationSensitive))]
public sealed class TapeAllocationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Write_path_is_allocation_free_in_steady_state(bool compress)
    {
        var path = TempPath("alloc.tgt");
        try
        {
            await using var tape = await TapeImage.CreateFileAsync(path, new TapeImageOptions { CapacityBytes = 512 * MiB },
                new TapeMountOptions { CompressionParallelism = 2 });
            var block = compress ? CompressibleBlock(128 * 1024, 1) : RandomBlock(64 * 1024, 1);
            for (var i = 0; i < 200; i++)
            {
                await tape.WriteBlockAsync(block, compress); // warm up pools and the first index chunk
            }

            Assert.Equal(compress ? 200 : 0, tape.Statistics.CompressedBlocksWritten);

            // Background runtime work (timers, the test host, the thread pool) allocates a little, and once in a while
            // a lot during a round (a CI run saw 1.4 KB per block once): the bound holds for the best of up to eight
            // rounds, as in the drive's allocation gates. Release: the pooled async builder leaves nothing per block.
            // Debug: the compiler emits async state machines as classes (one ~150-byte object per call) — still no
            // buffers, which is what a regression would add (a 64 KiB copy, a header array) in every round.
            var debugBuild = typeof(TapeImage).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true;
            var bound = debugBuild ? 256 : 128;
            const int N = 500;
            var notOk = 0;
            var rounds = new List<double>();
            for (var round = 0; round < 8 && (rounds.Count == 0 || rounds.Min() >= bound); round++)
            {
                var before = GC.GetTotalAllocatedBytes(precise: true);
                for (var i = 0; i < N; i++)
                {
                    // No Assert inside the measured loop: xunit's Assert.Equal allocates a comparer per call.
                    if ((await tape.WriteBlockAsync(block, compress)).Condition != TapeCondition.Ok)
                    {
                        notOk++;
                    }
                }

                rounds.Add((GC.GetTotalAllocatedBytes(precise: true) - before) / (double)N);
            }

            Assert.Equal(0, notOk);
            Assert.True(rounds.Min() < bound, $"bytes allocated per block, by round: {string.Join(" ", rounds.Select(r => r.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} (debug build: {debugBuild})");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}

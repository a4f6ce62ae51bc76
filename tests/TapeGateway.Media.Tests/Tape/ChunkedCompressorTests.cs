using System.Text;
using TapeGateway.Media.Tape;
using ZstdSharp;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// A large block is compressed as several zstd frames on several cores; a zstd decoder expands the frames back to
/// back as one block, so the image's single read path (and older readers) take either form.
/// </summary>
public sealed class ChunkedCompressorTests
{
    [Fact]
    public void A_large_block_becomes_one_frame_per_chunk_and_expands_as_one_block()
    {
        using var compressor = new ChunkedCompressor(level: 1, parallelism: 4, processors: 64);
        var block = TextBlock(256 * 1024, seed: 1);
        Assert.Equal(4, compressor.ChunksFor(block.Length));

        var destination = new byte[compressor.DestinationLengthFor(block.Length)];
        Assert.True(compressor.TryCompress(block, destination, block.Length - 1, out var written));
        Assert.True(written < block.Length / 2, $"text must compress well, got {written} bytes");

        // Four frames, each starting with zstd's magic number (RFC 8878 §3.1.1); the first at the start.
        Assert.Equal(4, FrameMagics(destination.AsSpan(0, written)));
        Assert.True(destination.AsSpan(0, 4).SequenceEqual(ZstdMagic));
        Assert.Equal(block, Expand(destination.AsSpan(0, written), block.Length));
    }

    [Fact]
    public void One_chunk_allowed_one_core_or_a_small_block_gives_a_single_frame()
    {
        using var single = new ChunkedCompressor(level: 1, parallelism: 1, processors: 64);
        using var parallel = new ChunkedCompressor(level: 1, parallelism: 4, processors: 64);
        using var oneCore = new ChunkedCompressor(level: 1, parallelism: 4, processors: 1);
        var large = TextBlock(256 * 1024, seed: 2);
        var small = TextBlock(ChunkedCompressor.MinChunkLength * 2 - 1, seed: 3);
        Assert.Equal(1, parallel.ChunksFor(small.Length));

        foreach (var (compressor, block) in new[] { (single, large), (parallel, small), (oneCore, large) })
        {
            var destination = new byte[compressor.DestinationLengthFor(block.Length)];
            Assert.True(compressor.TryCompress(block, destination, block.Length - 1, out var written));
            Assert.Equal(1, FrameMagics(destination.AsSpan(0, written)));
            Assert.Equal(block, Expand(destination.AsSpan(0, written), block.Length));
        }
    }

    [Fact]
    public void Incompressible_data_is_refused_and_a_half_compressible_block_still_shrinks()
    {
        using var compressor = new ChunkedCompressor(level: 1, parallelism: 2, processors: 64);
        var random = RandomBlock(256 * 1024, seed: 4);
        var destination = new byte[compressor.DestinationLengthFor(random.Length)];
        Assert.False(compressor.TryCompress(random, destination, random.Length - 1, out _));

        // Text, then noise: the noise chunk alone does not compress, the block as a whole does.
        var mixed = TextBlock(256 * 1024, seed: 5);
        RandomBlock(128 * 1024, seed: 6).CopyTo(mixed, 128 * 1024);
        Assert.True(compressor.TryCompress(mixed, destination, mixed.Length - 1, out var written));
        Assert.InRange(written, 128 * 1024, mixed.Length - 1);
        Assert.Equal(mixed, Expand(destination.AsSpan(0, written), mixed.Length));
    }

    [Fact]
    public void An_incompressible_stream_is_probed_and_one_compressible_block_ends_the_probing()
    {
        // maxSkip 0: every block is probed (the back-off has a test of its own below).
        using var compressor = new ChunkedCompressor(level: 1, parallelism: 2, processors: 64, maxSkip: 0);
        var destination = new byte[compressor.DestinationLengthFor(256 * 1024)];
        for (var i = 0; i < 6; i++)
        {
            var noise = RandomBlock(256 * 1024, seed: 40 + i);
            Assert.False(compressor.TryCompress(noise, destination, noise.Length - 1, out _));
        }

        Assert.Equal(4, compressor.ProbeRefusals); // the first two were tried whole

        // Noise at the head, text after it: while probing, stored as is (space, never data, is the cost).
        var mixed = TextBlock(256 * 1024, seed: 50);
        RandomBlock(32 * 1024, seed: 51).CopyTo(mixed, 0);
        Assert.False(compressor.TryCompress(mixed, destination, mixed.Length - 1, out _));
        Assert.Equal(5, compressor.ProbeRefusals);

        // A compressible block passes its probe, compresses, and ends the streak: the mixed block is tried whole again.
        var text = TextBlock(256 * 1024, seed: 52);
        Assert.True(compressor.TryCompress(text, destination, text.Length - 1, out var written));
        Assert.Equal(text, Expand(destination.AsSpan(0, written), text.Length));
        Assert.True(compressor.TryCompress(mixed, destination, mixed.Length - 1, out written));
        Assert.Equal(mixed, Expand(destination.AsSpan(0, written), mixed.Length));
        Assert.Equal(5, compressor.ProbeRefusals);
    }

    [Fact]
    public void Refused_probes_back_off_to_one_probe_in_seventeen_blocks_and_a_compressible_block_resets_it()
    {
        using var compressor = new ChunkedCompressor(level: 1, parallelism: 2, processors: 64);
        var destination = new byte[compressor.DestinationLengthFor(256 * 1024)];
        var noise = RandomBlock(256 * 1024, seed: 60);
        var text = TextBlock(256 * 1024, seed: 61);

        // Two blocks tried whole, then probes with 1, 2, 4, 8, 16 blocks stored unprobed after each refusal, and a
        // sixth refused probe: the gap stays at 16.
        var total = 2 + 1 + 1 + 1 + 2 + 1 + 4 + 1 + 8 + 1 + 16 + 1;
        for (var i = 0; i < total; i++)
        {
            Assert.False(compressor.TryCompress(noise, destination, noise.Length - 1, out _));
        }

        Assert.Equal(6, compressor.ProbeRefusals);
        Assert.Equal(1 + 2 + 4 + 8 + 16, compressor.SkippedBlocks);

        // Text arriving while blocks are skipped is stored as is (space, never data), until the next probe passes.
        Assert.False(compressor.TryCompress(text, destination, text.Length - 1, out _));
        for (var i = 0; i < ChunkedCompressor.MaxSkip - 1; i++)
        {
            Assert.False(compressor.TryCompress(text, destination, text.Length - 1, out _));
        }

        Assert.Equal(1 + 2 + 4 + 8 + 16 + 16, compressor.SkippedBlocks);

        Assert.Equal(6, compressor.ProbeRefusals);
        Assert.True(compressor.TryCompress(text, destination, text.Length - 1, out var written));
        Assert.Equal(text, Expand(destination.AsSpan(0, written), text.Length));

        // The compressible block reset everything: noise is tried whole twice, then probed after one skip again.
        for (var i = 0; i < 4; i++)
        {
            Assert.False(compressor.TryCompress(noise, destination, noise.Length - 1, out _));
        }

        Assert.Equal(7, compressor.ProbeRefusals);
        Assert.Equal(1 + 2 + 4 + 8 + 16 + 16 + 1, compressor.SkippedBlocks);
    }

    [Fact]
    public void TrySkip_takes_a_skipped_blocks_turn_so_the_writer_needs_no_destination_for_it()
    {
        using var compressor = new ChunkedCompressor(level: 1, parallelism: 2, processors: 64);
        var destination = new byte[compressor.DestinationLengthFor(256 * 1024)];
        var noise = RandomBlock(256 * 1024, seed: 80);
        Assert.False(compressor.TrySkip()); // a fresh stream is tried
        for (var i = 0; i < 3; i++)
        {
            Assert.False(compressor.TryCompress(noise, destination, noise.Length - 1, out _)); // whole, whole, probe
        }

        Assert.True(compressor.TrySkip());
        Assert.False(compressor.TrySkip()); // its one skip taken: the next block is probed
        Assert.False(compressor.TryCompress(noise, destination, noise.Length - 1, out _));
        Assert.Equal(2, compressor.ProbeRefusals);
        Assert.True(compressor.TrySkip());
        Assert.True(compressor.TrySkip());
        Assert.False(compressor.TrySkip());
        Assert.Equal(3, compressor.SkippedBlocks);
    }

    [Fact]
    public void Small_incompressible_blocks_back_off_too()
    {
        // A block too small to probe is tried whole; once the stream is known incompressible, its failure backs off.
        using var compressor = new ChunkedCompressor(level: 1, parallelism: 2, processors: 64);
        var destination = new byte[compressor.DestinationLengthFor(8 * 1024)];
        var noise = RandomBlock(8 * 1024, seed: 70);
        for (var i = 0; i < 2 + 1 + 1 + 1 + 1; i++) // whole, whole, tried, skipped, tried, skipped
        {
            Assert.False(compressor.TryCompress(noise, destination, noise.Length - 1, out _));
        }

        Assert.Equal(0, compressor.ProbeRefusals);
        Assert.Equal(2, compressor.SkippedBlocks);
        var text = TextBlock(8 * 1024, seed: 71);
        Assert.False(compressor.TryCompress(text, destination, text.Length - 1, out _)); // the second of two skipped
        Assert.Equal(3, compressor.SkippedBlocks);
        Assert.True(compressor.TryCompress(text, destination, text.Length - 1, out var written));
        Assert.Equal(text, Expand(destination.AsSpan(0, written), text.Length));
    }

    [Fact]
    public async Task Blocks_of_every_size_and_kind_round_trip_while_other_threads_compress_too()
    {
        // Four writers at once, as four drives streaming: chunks queued to a busy pool are taken back by the writer.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            using var compressor = new ChunkedCompressor(level: 1, parallelism: 3, processors: 64);
            var rng = new Random(100 + w);
            for (var i = 0; i < 60; i++)
            {
                var length = rng.Next(1, 1024 * 1024);
                var block = (i % 3) switch
                {
                    0 => TextBlock(length, rng.Next()),
                    1 => RandomBlock(length, rng.Next()),
                    _ => CompressibleBlock(length, rng.Next(0, 200)),
                };
                var destination = new byte[compressor.DestinationLengthFor(length)];
                if (compressor.TryCompress(block, destination, length - 1, out var written))
                {
                    Assert.True(written < length);
                    Assert.Equal(block, Expand(destination.AsSpan(0, written), length));
                }
                else
                {
                    Assert.Equal(1, i % 3); // only the noise may fail to compress
                }
            }
        })));
    }

    [Fact]
    public async Task A_tape_written_with_parallel_compression_reads_back_with_and_without_the_read_ahead()
    {
        var store = new MemoryTapeStore();
        var blocks = Enumerable.Range(0, 6).Select(i => TextBlock(192 * 1024 + i, seed: 20 + i)).ToArray();
        await using (var tape = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = 16 * MiB },
            new TapeMountOptions { CompressionParallelism = 3 }))
        {
            foreach (var b in blocks)
            {
                Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(b, compress: true)).Condition);
            }

            Assert.Equal(blocks.Length, tape.Statistics.CompressedBlocksWritten);
            Assert.True(tape.Statistics.MediumBytesWritten < blocks.Sum(b => (long)b.Length) / 2);
        }

        // Reopened by a mount that compresses in one frame: it reads the chunked blocks all the same.
        await using var reopened = await ReopenAsync(store, new TapeMountOptions { CompressionParallelism = 1 });
        foreach (var b in blocks)
        {
            await ExpectBlockAsync(reopened, b);
        }

        Assert.Equal(TapeCondition.Ok, (await reopened.LocateAsync(2)).Condition);
        await ExpectBlockAsync(reopened, blocks[2]);
    }

    private static readonly byte[] ZstdMagic = [0x28, 0xB5, 0x2F, 0xFD];

    private static int FrameMagics(ReadOnlySpan<byte> frames)
    {
        var count = 0;
        for (var i = frames.IndexOf(ZstdMagic); i >= 0; i = frames[(i + 1)..].IndexOf(ZstdMagic) is var next and >= 0 ? i + 1 + next : -1)
        {
            count++;
        }

        return count;
    }

    private static byte[] Expand(ReadOnlySpan<byte> frames, int length)
    {
        using var decompressor = new Decompressor();
        var output = new byte[length];
        Assert.True(decompressor.TryUnwrap(frames, output, out var written));
        Assert.Equal(length, written);
        return output;
    }

    /// <summary>Backup-like text: words and numbers picked by a seeded generator (compresses about 3:1).</summary>
    private static byte[] TextBlock(int length, int seed)
    {
        string[] words = ["the", "backup", "tape", "file", "data", "volume", "block", "job", "client", "restore", "catalog", "drive"];
        var rng = new Random(seed);
        var text = new StringBuilder(length + 16);
        while (text.Length < length)
        {
            text.Append(rng.Next(5) == 0 ? rng.Next(100000).ToString(System.Globalization.CultureInfo.InvariantCulture) : words[rng.Next(words.Length)]);
            text.Append(rng.Next(10) == 0 ? '\n' : ' ');
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }
}

using System.Buffers;
using TapeGateway.Core.Buffers;
using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// The read-ahead: after a READ the next data record is read and verified in the background; a READ whose caller can
/// adopt buffers (<see cref="IDataBufferAdopter"/>) takes that buffer instead of a copy, and gives its own in exchange.
/// </summary>
public sealed class TapeReadAheadTests
{
    private const int Block = 64 * 1024;

    [Fact]
    public async Task A_streaming_read_adopts_the_read_ahead_buffer_and_the_two_buffers_swap_without_allocating()
    {
        var blocks = Enumerable.Range(0, 6).Select(i => RandomBlock(Block, 100 + i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: false);

        await ExpectBlockAsync(tape, blocks[0]); // no owner: a copy, and the read-ahead of record 1 starts
        var owner = new RecordingAdopter(ArrayPool<byte>.Shared.Rent(Block));
        byte[]? handedBack = null;
        for (var i = 1; i < blocks.Length; i++)
        {
            await WaitForReadAheadAsync(tape, i);
            var mine = owner.Held;
            var destination = mine.AsMemory(0, Block);

            var r = await tape.ReadBlockAsync(destination, owner);

            Assert.Equal(TapeCondition.Ok, r.Condition);
            Assert.Equal(Block, r.BytesTransferred);
            Assert.Equal(i, owner.Adoptions);
            Assert.Equal(blocks[i], owner.Held.AsSpan(0, owner.Length).ToArray());
            Assert.NotSame(mine, owner.Held);
            if (handedBack is not null)
            {
                // What the image took last time is what it read ahead into and hands over now: two arrays ping-pong.
                Assert.Same(handedBack, owner.Held);
            }

            handedBack = mine;
        }

        Assert.Equal(blocks.Length, tape.ReadPosition().LogicalObjectNumber);
    }

    [Fact]
    public async Task A_read_that_is_not_an_exact_fit_or_not_ahead_copies_and_leaves_the_owner_alone()
    {
        var blocks = Enumerable.Range(0, 3).Select(i => RandomBlock(Block, 200 + i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: false);
        var owner = new RecordingAdopter(new byte[2 * Block]);

        // Record 0: nothing read ahead yet (first READ after the load).
        var r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner);
        Assert.Equal(TapeCondition.Ok, r.Condition);
        Assert.Equal(blocks[0], owner.Held.AsSpan(0, Block).ToArray());

        // Record 1 is read ahead, but the host asks for more than the record holds: INCORRECT LENGTH, copied.
        await WaitForReadAheadAsync(tape, 1);
        r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, 2 * Block), owner);
        Assert.Equal(TapeCondition.IncorrectLength, r.Condition);
        Assert.Equal(Block, r.BlockLength);
        Assert.Equal(blocks[1], owner.Held.AsSpan(0, Block).ToArray());

        // Record 2 read ahead, the host asks for less: the record is cut, copied.
        await WaitForReadAheadAsync(tape, 2);
        r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block / 2), owner);
        Assert.Equal(TapeCondition.IncorrectLength, r.Condition);
        Assert.Equal(blocks[2].AsSpan(0, Block / 2).ToArray(), owner.Held.AsSpan(0, Block / 2).ToArray());

        Assert.Equal(0, owner.Adoptions);
    }

    [Fact]
    public async Task Compressed_blocks_are_expanded_ahead_and_the_expanded_buffer_is_adopted()
    {
        var blocks = Enumerable.Range(0, 5).Select(i => CompressibleBlock(Block, i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: true);
        Assert.True(tape.Statistics.CompressedBlocksWritten >= blocks.Length, "the blocks must be stored compressed for this test");

        await StreamAdoptedAsync(tape, blocks, encrypted: false, upTo: blocks.Length); // adopted: expanded before the READ came
    }

    [Fact]
    public async Task A_compressed_block_expanded_ahead_that_does_not_fit_exactly_is_copied_with_incorrect_length()
    {
        var blocks = Enumerable.Range(0, 3).Select(i => CompressibleBlock(Block, 10 + i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: true);
        var owner = new RecordingAdopter(new byte[2 * Block]);

        await ExpectBlockAsync(tape, blocks[0]);
        await WaitForReadAheadAsync(tape, 1);
        var r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, 2 * Block), owner);
        Assert.Equal(TapeCondition.IncorrectLength, r.Condition);
        Assert.Equal(Block, r.BlockLength);
        Assert.Equal(blocks[1], owner.Held.AsSpan(0, Block).ToArray());

        await WaitForReadAheadAsync(tape, 2);
        r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, 100), owner);
        Assert.Equal(TapeCondition.IncorrectLength, r.Condition);
        Assert.Equal(blocks[2].AsSpan(0, 100).ToArray(), owner.Held.AsSpan(0, 100).ToArray());
        Assert.Equal(0, owner.Adoptions);
        Assert.Equal(3, tape.ReadPosition().LogicalObjectNumber);
    }

    [Fact]
    public async Task A_plain_compressed_block_expanded_ahead_is_still_refused_once_the_drive_decrypts_only()
    {
        using var key = new TapeCipher(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var blocks = Enumerable.Range(0, 3).Select(i => CompressibleBlock(Block, 20 + i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: true);
        var owner = new RecordingAdopter(ArrayPool<byte>.Shared.Rent(Block));

        await ExpectBlockAsync(tape, blocks[0]);
        await WaitForReadAheadAsync(tape, 1); // expanded ahead while no encryption mode was set
        tape.Encryption = new TapeEncryption(null, key, RequireEncrypted: true);
        Assert.Equal(TapeCondition.UnencryptedBlock, (await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner)).Condition);
        Assert.Equal(0, owner.Adoptions);
        Assert.Equal(2, tape.ReadPosition().LogicalObjectNumber); // passed over, as a drive does
    }

    [Fact]
    public async Task Compressed_and_encrypted_blocks_are_decoded_ahead_and_a_key_changed_since_is_the_one_the_read_uses()
    {
        using var a = new TapeCipher(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray(), "a"u8);
        using var b = new TapeCipher(Enumerable.Range(60, 32).Select(i => (byte)i).ToArray(), "b"u8);
        var blocks = Enumerable.Range(0, 5).Select(i => CompressibleBlock(Block, 30 + i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: true, new TapeEncryption(a, a, RequireEncrypted: true));
        Assert.True(tape.Statistics.CompressedBlocksWritten >= blocks.Length, "the blocks must be stored compressed for this test");
        var owner = await StreamAdoptedAsync(tape, blocks, encrypted: true, upTo: 3);

        await WaitForReadAheadAsync(tape, 3); // decoded with key a
        tape.Encryption = new TapeEncryption(null, b, RequireEncrypted: false);
        Assert.Equal(TapeCondition.DecryptionFailed, (await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner)).Condition);
        tape.Encryption = null;
        Assert.Equal(TapeCondition.EncryptedBlock, (await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner)).Condition);
        Assert.Equal(2, owner.Adoptions);
        Assert.Equal(5, tape.ReadPosition().LogicalObjectNumber);
    }

    [Fact]
    public async Task A_verb_between_reads_drops_the_read_ahead_and_the_next_read_returns_the_right_record()
    {
        var blocks = Enumerable.Range(0, 4).Select(i => RandomBlock(Block, 300 + i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: false);
        var owner = new RecordingAdopter(ArrayPool<byte>.Shared.Rent(Block));

        await ExpectBlockAsync(tape, blocks[0]);
        await WaitForReadAheadAsync(tape, 1);
        Assert.Equal(TapeCondition.Ok, (await tape.SpaceBlocksAsync(1)).Condition); // over record 1

        var r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner);
        Assert.Equal(TapeCondition.Ok, r.Condition);
        Assert.Equal(blocks[2], owner.Held.AsSpan(0, Block).ToArray());
        Assert.Equal(0, owner.Adoptions); // record 2 was not ahead: read and copied in place
    }

    [Fact]
    public async Task Encrypted_blocks_are_decrypted_ahead_and_the_plaintext_buffer_is_adopted()
    {
        using var key = new TapeCipher(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray(), "k"u8);
        var blocks = Enumerable.Range(0, 5).Select(i => RandomBlock(Block, 300 + i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: false, new TapeEncryption(key, key, RequireEncrypted: true));

        await StreamAdoptedAsync(tape, blocks, encrypted: true, upTo: blocks.Length);
    }

    [Fact]
    public async Task A_key_changed_after_the_read_ahead_decrypted_is_the_one_the_read_uses()
    {
        using var a = new TapeCipher(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        using var b = new TapeCipher(Enumerable.Range(50, 32).Select(i => (byte)i).ToArray());
        var blocks = Enumerable.Range(0, 5).Select(i => RandomBlock(Block, 400 + i)).ToArray();
        await using var tape = await WrittenTapeAsync(blocks, compress: false, new TapeEncryption(a, a, RequireEncrypted: false));
        var owner = new RecordingAdopter(ArrayPool<byte>.Shared.Rent(Block));

        await ExpectBlockAsync(tape, blocks[0]);
        await WaitForReadAheadAsync(tape, 1); // decrypted ahead with key a
        tape.Encryption = new TapeEncryption(null, b, RequireEncrypted: false);
        Assert.Equal(TapeCondition.DecryptionFailed, (await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner)).Condition);

        tape.Encryption = new TapeEncryption(null, a, RequireEncrypted: false);
        var r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner); // record 2: not ahead (the last READ failed)
        Assert.Equal(TapeCondition.Ok, r.Condition);
        Assert.Equal(blocks[2], owner.Held.AsSpan(0, Block).ToArray());
        await WaitForReadAheadAsync(tape, 3);
        tape.Encryption = null;
        Assert.Equal(TapeCondition.EncryptedBlock, (await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner)).Condition);
        Assert.Equal(0, owner.Adoptions);

        tape.Encryption = new TapeEncryption(null, a, RequireEncrypted: false);
        r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner);
        Assert.Equal(TapeCondition.Ok, r.Condition);
        Assert.Equal(blocks[4], owner.Held.AsSpan(0, Block).ToArray());
    }

    private static async Task<TapeImage> WrittenTapeAsync(byte[][] blocks, bool compress, TapeEncryption? encryption = null)
    {
        var tape = await NewTapeAsync(new MemoryTapeStore());
        tape.Encryption = encryption;
        foreach (var b in blocks)
        {
            Assert.Equal(TapeCondition.Ok, (await tape.WriteBlockAsync(b, compress)).Condition);
        }

        Assert.Equal(TapeCondition.Ok, (await tape.WriteFilemarksAsync(1, immediate: false)).Condition);
        Assert.Equal(TapeCondition.Ok, (await tape.RewindAsync()).Condition);
        return tape;
    }

    /// <summary>
    /// Reads block 0, then blocks 1 up to <paramref name="upTo"/> each after its read-ahead: every one must be adopted
    /// (the decoded buffer handed over, so nothing was left to do in the READ) and equal what was written.
    /// </summary>
    private static async Task<RecordingAdopter> StreamAdoptedAsync(TapeImage tape, byte[][] blocks, bool encrypted, int upTo)
    {
        await ExpectBlockAsync(tape, blocks[0]);
        var owner = new RecordingAdopter(ArrayPool<byte>.Shared.Rent(Block));
        for (var i = 1; i < upTo; i++)
        {
            await WaitForReadAheadAsync(tape, i);
            var r = await tape.ReadBlockAsync(owner.Held.AsMemory(0, Block), owner);
            Assert.Equal(TapeCondition.Ok, r.Condition);
            Assert.Equal(encrypted, r.Encrypted);
            Assert.Equal(i, owner.Adoptions);
            Assert.Equal(blocks[i], owner.Held.AsSpan(0, owner.Length).ToArray());
        }

        return owner;
    }

    private static async Task WaitForReadAheadAsync(TapeImage tape, long objectNumber)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (tape.ReadAheadObject != objectNumber)
        {
            Assert.True(DateTime.UtcNow < deadline, $"record {objectNumber} was never read ahead (holding {tape.ReadAheadObject})");
            await Task.Delay(1);
        }
    }

    /// <summary>Holds one buffer, as a SCSI task holds its Data-In buffer, and counts the adoptions.</summary>
    private sealed class RecordingAdopter(byte[] initial) : IDataBufferAdopter
    {
        public byte[] Held { get; private set; } = initial;

        public int Length { get; private set; }

        public int Adoptions { get; private set; }

        public byte[]? Adopt(byte[] buffer, int length)
        {
            var previous = Held;
            Held = buffer;
            Length = length;
            Adoptions++;
            return previous;
        }
    }
}

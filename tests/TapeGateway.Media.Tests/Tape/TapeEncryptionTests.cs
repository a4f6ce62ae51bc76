using System.Buffers.Binary;
using TapeGateway.Media.Tape;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>
/// Encrypted records (format 1.3): what the drive's data encryption asks of the medium — blocks sealed with AES-256-GCM
/// after compression, the key never in the image, and every way a read can fail reported as its own condition with the
/// position after the block.
/// </summary>
public sealed class TapeEncryptionTests
{
    private static readonly byte[] KeyA = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] KeyB = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();

    private static async Task<(MemoryTapeStore Store, TapeImage Image)> NewAsync()
    {
        var store = new MemoryTapeStore();
        var image = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = 16 * 1024 * 1024 });
        return (store, image);
    }

    private static byte[] Random(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static byte[] Compressible(int length) => Enumerable.Range(0, length).Select(i => (byte)(i / 100)).ToArray();

    private static bool Contains(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    [Fact]
    public async Task EncryptedBlocks_ReadBackWithTheKey_PlaintextNeverInTheImage()
    {
        var (store, image) = await NewAsync();
        using var key = new TapeCipher(KeyA, "backup-key-1"u8, "akad"u8);
        image.Encryption = new TapeEncryption(key, key, RequireEncrypted: false);
        var blocks = Enumerable.Range(0, 5).Select(i => Random(3000 + i, i)).ToArray();
        foreach (var b in blocks)
        {
            Assert.True((await image.WriteBlockAsync(b, compress: false)).IsOk);
        }

        await image.WriteFilemarksAsync(1, immediate: false);
        await image.RewindAsync();
        foreach (var b in blocks)
        {
            var buffer = new byte[b.Length];
            var r = await image.ReadBlockAsync(buffer);
            Assert.Equal(TapeCondition.Ok, r.Condition);
            Assert.True(r.Encrypted);
            Assert.Equal(b, buffer);
        }

        Assert.Equal(TapeCondition.FilemarkDetected, (await image.ReadBlockAsync(new byte[10])).Condition);
        var bytes = store.ToArray();
        Assert.All(blocks, b => Assert.False(Contains(bytes, b.AsSpan(100, 64))));
        Assert.False(Contains(bytes, KeyA));
        Assert.True(Contains(bytes, "backup-key-1"u8)); // the U-KAD is recorded, in the clear, with every block
    }

    [Fact]
    public async Task CompressedThenEncrypted_SmallerThanTheBlock_ReadsBack()
    {
        var (store, image) = await NewAsync();
        using var key = new TapeCipher(KeyA);
        image.Encryption = new TapeEncryption(key, key, RequireEncrypted: true);
        var data = Compressible(200_000);
        Assert.True((await image.WriteBlockAsync(data, compress: true)).IsOk);
        Assert.True(store.Length < TapeFormat.DataStart + 50_000, $"store is {store.Length} bytes");
        await image.RewindAsync();
        var buffer = new byte[data.Length];
        var r = await image.ReadBlockAsync(buffer);
        Assert.Equal(TapeCondition.Ok, r.Condition);
        Assert.True(r.Encrypted);
        Assert.Equal(data, buffer);
    }

    [Fact]
    public async Task NoKey_WrongKey_PlainWhileRequired_EachReported_PositionAfterTheBlock()
    {
        var (_, image) = await NewAsync();
        using var a = new TapeCipher(KeyA);
        using var b = new TapeCipher(KeyB);
        image.Encryption = new TapeEncryption(a, null, false);
        await image.WriteBlockAsync(Random(1000, 1), compress: false);
        await image.WriteBlockAsync(Random(1000, 2), compress: false);
        image.Encryption = null;
        await image.WriteBlockAsync(Random(1000, 3), compress: false); // plain
        await image.RewindAsync();

        var buffer = new byte[1000];
        Assert.Equal(TapeCondition.EncryptedBlock, (await image.ReadBlockAsync(buffer)).Condition);
        Assert.Equal(1, image.ReadPosition().LogicalObjectNumber);

        image.Encryption = new TapeEncryption(null, b, false);
        Assert.Equal(TapeCondition.DecryptionFailed, (await image.ReadBlockAsync(buffer)).Condition);
        Assert.Equal(2, image.ReadPosition().LogicalObjectNumber);
        Assert.All(buffer, x => Assert.Equal(0, x)); // nothing of the block leaks into the caller's buffer

        image.Encryption = new TapeEncryption(null, a, RequireEncrypted: true);
        Assert.Equal(TapeCondition.UnencryptedBlock, (await image.ReadBlockAsync(buffer)).Condition);
        Assert.Equal(3, image.ReadPosition().LogicalObjectNumber);

        // MIXED: both kinds come back.
        await image.RewindAsync();
        image.Encryption = new TapeEncryption(null, a, RequireEncrypted: false);
        for (var i = 1; i <= 3; i++)
        {
            var r = await image.ReadBlockAsync(buffer);
            Assert.Equal(TapeCondition.Ok, r.Condition);
            Assert.Equal(i < 3, r.Encrypted);
            Assert.Equal(Random(1000, i), buffer);
        }
    }

    [Theory]
    [InlineData(500, TapeCondition.IncorrectLength, 500)]
    [InlineData(3000, TapeCondition.IncorrectLength, 1000)]
    [InlineData(1000, TapeCondition.Ok, 1000)]
    public async Task IncorrectLength_OnEncryptedBlocks_AsOnPlainOnes(int requested, TapeCondition expected, int transferred)
    {
        var (_, image) = await NewAsync();
        using var key = new TapeCipher(KeyA);
        image.Encryption = new TapeEncryption(key, key, false);
        var data = Random(1000, 7);
        await image.WriteBlockAsync(data, compress: true);
        await image.RewindAsync();
        var buffer = new byte[requested];
        var r = await image.ReadBlockAsync(buffer);
        Assert.Equal(expected, r.Condition);
        Assert.Equal(1000, r.BlockLength);
        Assert.Equal(transferred, r.BytesTransferred);
        Assert.Equal(data.AsSpan(0, transferred).ToArray(), buffer.AsSpan(0, transferred).ToArray());
    }

    [Fact]
    public async Task AlteredKadBehindAValidCrc_FailsTheTag()
    {
        var (store, image) = await NewAsync();
        using var key = new TapeCipher(KeyA, "label-1"u8);
        image.Encryption = new TapeEncryption(key, key, false);
        await image.WriteBlockAsync(Random(2000, 3), compress: false);
        await image.DisposeAsync();

        // Someone rewrites the recorded key label and fixes the payload CRC and the header CRC: the CRCs pass, the
        // GCM tag (the label is part of the associated data) does not.
        var bytes = store.ToArray();
        var at = (int)TapeFormat.DataStart;
        var stored = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at + 8));
        var payload = bytes.AsSpan(at + TapeFormat.RecordHeaderSize, stored);
        var label = payload.IndexOf("label-1"u8);
        Assert.True(label > 0);
        payload[label + 6] = (byte)'2';
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 24), TapeFormat.Crc(payload));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 28), TapeFormat.Crc(bytes.AsSpan(at, 28)));

        await using var reopened = await TapeImage.OpenAsync(new MemoryTapeStore(bytes));
        reopened.Encryption = new TapeEncryption(null, key, false);
        Assert.Equal(TapeCondition.DecryptionFailed, (await reopened.ReadBlockAsync(new byte[2000])).Condition);
    }

    [Fact]
    public async Task FlippedCiphertextBit_IsAMediumError_NotADecryptionFailure()
    {
        var (store, image) = await NewAsync();
        using var key = new TapeCipher(KeyA);
        image.Encryption = new TapeEncryption(key, key, false);
        await image.WriteBlockAsync(Random(2000, 3), compress: false);
        await image.WriteFilemarksAsync(1, immediate: false);
        await image.DisposeAsync();
        var bytes = store.ToArray();
        bytes[TapeFormat.DataStart + TapeFormat.RecordHeaderSize + 500] ^= 0x10;
        await using var reopened = await TapeImage.OpenAsync(new MemoryTapeStore(bytes));
        reopened.Encryption = new TapeEncryption(null, key, false);
        Assert.Equal(TapeCondition.MediumError, (await reopened.ReadBlockAsync(new byte[2000])).Condition);
    }

    [Fact]
    public async Task Reopened_EncryptedRecordsSurvive_TornTailCut_KeyNeededAgain()
    {
        var (store, image) = await NewAsync();
        using var key = new TapeCipher(KeyA, "k"u8);
        image.Encryption = new TapeEncryption(key, key, false);
        for (var i = 0; i < 4; i++)
        {
            await image.WriteBlockAsync(Random(5000, i), compress: i % 2 == 0);
        }

        await image.WriteFilemarksAsync(1, immediate: false); // durable
        await image.WriteBlockAsync(Random(5000, 9), compress: false);

        // Crash mid-record: the last record is torn.
        var bytes = store.ToArray();
        var torn = bytes.AsSpan(0, bytes.Length - 100).ToArray();
        await using var reopened = await TapeImage.OpenAsync(new MemoryTapeStore(torn));
        Assert.Equal(5, reopened.ReadPosition().EndOfDataObjectNumber);
        Assert.Equal(TapeCondition.EncryptedBlock, (await reopened.ReadBlockAsync(new byte[5000])).Condition);
        await reopened.RewindAsync();
        reopened.Encryption = new TapeEncryption(null, key, false);
        for (var i = 0; i < 4; i++)
        {
            var buffer = new byte[5000];
            Assert.Equal(TapeCondition.Ok, (await reopened.ReadBlockAsync(buffer)).Condition);
            Assert.Equal(Random(5000, i), buffer);
        }
    }

    [Fact]
    public async Task DescribeNextObject_ReportsKindCompressionEncryptionKadsAndKey()
    {
        var (_, image) = await NewAsync();
        using var a = new TapeCipher(KeyA, "ukad-a"u8, "akad-a"u8);
        using var b = new TapeCipher(KeyB);
        image.Encryption = new TapeEncryption(a, a, false);
        await image.WriteBlockAsync(Compressible(10_000), compress: true);
        image.Encryption = null;
        await image.WriteBlockAsync(Random(1000, 1), compress: false);
        await image.WriteFilemarksAsync(1, immediate: false);
        await image.RewindAsync();

        image.Encryption = new TapeEncryption(null, a, false);
        var first = await image.DescribeNextObjectAsync();
        Assert.Equal(new TapeObjectInfo(TapeObjectKind.Block, 0, true, true, first.UnauthenticatedKad, first.AuthenticatedKad, true), first);
        Assert.Equal("ukad-a"u8.ToArray(), first.UnauthenticatedKad);
        Assert.Equal("akad-a"u8.ToArray(), first.AuthenticatedKad);
        image.Encryption = new TapeEncryption(null, b, false);
        Assert.False((await image.DescribeNextObjectAsync()).KeyOpens);
        image.Encryption = null;
        Assert.Null((await image.DescribeNextObjectAsync()).KeyOpens);
        Assert.Equal(0, image.ReadPosition().LogicalObjectNumber); // nothing moved

        await image.SpaceBlocksAsync(1);
        Assert.Equal(new TapeObjectInfo(TapeObjectKind.Block, 1), await image.DescribeNextObjectAsync());
        await image.SpaceBlocksAsync(1);
        Assert.Equal(TapeObjectKind.Filemark, (await image.DescribeNextObjectAsync()).Kind);
        await image.SpaceFilemarksAsync(1);
        Assert.Equal(new TapeObjectInfo(TapeObjectKind.EndOfData, 3), await image.DescribeNextObjectAsync());
    }

    [Fact]
    public void Cipher_RejectsBadKeyAndKadLengths_SameKeyComparesKeysOnly()
    {
        Assert.Throws<ArgumentException>(() => new TapeCipher(new byte[16]));
        Assert.Throws<ArgumentException>(() => new TapeCipher(KeyA, new byte[33]));
        Assert.Throws<ArgumentException>(() => new TapeCipher(KeyA, default, new byte[13]));
        using var a1 = new TapeCipher(KeyA, "x"u8);
        using var a2 = new TapeCipher(KeyA, "y"u8);
        using var b = new TapeCipher(KeyB);
        Assert.True(a1.SameKey(a2));
        Assert.False(a1.SameKey(b));
    }

    [Fact]
    public void Seal_EveryBlockGetsItsOwnNonce_TagDependsOnLengthAndCompression()
    {
        using var key = new TapeCipher(KeyA);
        var data = Random(100, 5);
        var e1 = new byte[data.Length + key.Overhead];
        var e2 = new byte[data.Length + key.Overhead];
        key.Seal(data, data.Length, false, e1);
        key.Seal(data, data.Length, false, e2);
        Assert.NotEqual(e1.AsSpan(8, 12).ToArray(), e2.AsSpan(8, 12).ToArray());
        var plain = new byte[data.Length];
        Assert.True(key.TryOpen(e1, data.Length, false, plain));
        Assert.Equal(data, plain);
        Assert.False(key.TryOpen(e1, data.Length + 1, false, plain));
        Assert.False(key.TryOpen(e1, data.Length, true, plain));
        e1[0] = 2; // unknown envelope version
        Assert.False(key.TryOpen(e1, data.Length, false, plain));
        Assert.False(TapeCipher.Envelope.TryParse(new byte[20], out _));
    }
}

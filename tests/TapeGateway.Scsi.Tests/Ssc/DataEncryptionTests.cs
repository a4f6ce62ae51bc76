using System.Buffers.Binary;
using System.Text;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// Application-managed data encryption (SPC-4 SECURITY PROTOCOL IN/OUT, SSC-4 tape data encryption protocol 20h). The
/// Set Data Encryption pages are the ones stenc 1.0.7 and Bareos' scsicrypto send: scope ALL I_T NEXUS, ENCRYPT with
/// DECRYPT or MIXED, algorithm index 01h, a 32-byte key, a U-KAD key label; clearing sends both modes DISABLE with a
/// 32-byte zero key.
/// </summary>
public sealed class DataEncryptionTests
{
    private static readonly byte[] KeyA = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] KeyB = Enumerable.Range(200, 32).Select(i => (byte)i).ToArray();

    private const byte Public = 0, Local = 1, AllItNexus = 2;
    private const byte Encrypt = 2, Decrypt = 2, Mixed = 3;

    private static byte[] Spin(byte protocol, ushort page, uint allocation = 8192)
    {
        var c = new byte[12];
        c[0] = 0xA2;
        c[1] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), page);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), allocation);
        return c;
    }

    private static byte[] Spout(int length, byte protocol = 0x20, ushort page = 0x0010)
    {
        var c = new byte[12];
        c[0] = 0xB5;
        c[1] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), page);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), (uint)length);
        return c;
    }

    /// <summary>A Set Data Encryption page: 20 bytes, the key, then the KAD descriptors.</summary>
    private static byte[] SetPage(byte scope, byte encryption, byte decryption, byte[]? key, string? ukad = null, byte[]? akad = null,
        byte byte4 = 0, byte byte5 = 0, byte algorithm = 1, byte keyFormat = 0, (byte Type, byte[] Value)[]? extraKads = null)
    {
        var kads = new List<byte>();
        void Kad(byte type, byte[] value)
        {
            kads.AddRange([type, 0, (byte)(value.Length >> 8), (byte)value.Length]);
            kads.AddRange(value);
        }

        if (ukad is not null)
        {
            Kad(0x00, Encoding.ASCII.GetBytes(ukad));
        }

        if (akad is not null)
        {
            Kad(0x01, akad);
        }

        foreach (var (type, value) in extraKads ?? [])
        {
            Kad(type, value);
        }

        key ??= [];
        var p = new byte[20 + key.Length + kads.Count];
        BinaryPrimitives.WriteUInt16BigEndian(p, 0x0010);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length - 4));
        p[4] = (byte)((scope << 5) | byte4);
        p[5] = byte5;
        p[6] = encryption;
        p[7] = decryption;
        p[8] = algorithm;
        p[9] = keyFormat;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(18), (ushort)key.Length);
        key.CopyTo(p, 20);
        kads.CopyTo(p, 20 + key.Length);
        return p;
    }

    private static async Task SetAsync(TapeHarness h, byte[] page, ItNexus? nexus = null) =>
        (await h.Run(Spout(page.Length), page, nexus)).AssertGood();

    private static Task SetKeyAsync(TapeHarness h, byte[] key, byte decryption = Mixed, byte scope = AllItNexus, string? ukad = "key-one", ItNexus? nexus = null, byte byte5 = 0) =>
        SetAsync(h, SetPage(scope, Encrypt, decryption, key, ukad, byte5: byte5), nexus);

    private static Task ClearAsync(TapeHarness h, byte scope = AllItNexus, ItNexus? nexus = null) =>
        SetAsync(h, SetPage(scope, 0, 0, new byte[32]), nexus); // stenc/Bareos: both modes off, 32 zero bytes of key

    private static async Task<byte[]> PageAsync(TapeHarness h, byte protocol, ushort page, ItNexus? nexus = null)
    {
        var t = await h.Run(Spin(protocol, page), nexus: nexus);
        t.AssertGood();
        return t.Data();
    }

    private static async Task<TapeHarness> LoadedAsync()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        return h;
    }

    private static async Task<byte[]> ReadAsync(TapeHarness h, int length, ItNexus? nexus = null)
    {
        var t = await h.Run(Cdb.Read(length), nexus: nexus);
        t.AssertGood();
        return t.Data();
    }

    [Fact]
    public async Task SecurityProtocolInformation_ListsProtocols00And20_NoCertificate()
    {
        var h = new TapeHarness();
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0, 2, 0x00, 0x20 }, await PageAsync(h, 0x00, 0x0000));
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, await PageAsync(h, 0x00, 0x0001));
        (await h.Run(Spin(0x00, 0x0002))).AssertInvalidCdbField(2);
        (await h.Run(Spin(0x01, 0x0000))).AssertInvalidCdbField(1);
        (await h.Run(Spin(0xEF, 0x0000))).AssertInvalidCdbField(1);
    }

    [Fact]
    public async Task SupportPages_ListEveryPageInOrder()
    {
        var h = new TapeHarness();
        Assert.Equal(new byte[] { 0, 0, 0, 14, 0, 0x00, 0, 0x01, 0, 0x10, 0, 0x11, 0, 0x12, 0, 0x20, 0, 0x21 }, await PageAsync(h, 0x20, 0x0000));
        Assert.Equal(new byte[] { 0, 1, 0, 2, 0, 0x10 }, await PageAsync(h, 0x20, 0x0001));
        Assert.Equal(new byte[] { 0, 0x11, 0, 1, 0x00 }, await PageAsync(h, 0x20, 0x0011));
        Assert.Equal(new byte[] { 0, 0x12, 0, 12, 0x00, 0x04, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0 }, await PageAsync(h, 0x20, 0x0012));
        (await h.Run(Spin(0x20, 0x0030))).AssertInvalidCdbField(2); // no Random Number page
    }

    [Fact]
    public async Task Capabilities_OneAesGcmAlgorithm_ValidForLto5MediaOnly()
    {
        var h = new TapeHarness();
        var empty = await PageAsync(h, 0x20, 0x0010);
        Assert.Equal(4 + 0x28, empty.Length);
        Assert.Equal(0x28, BinaryPrimitives.ReadUInt16BigEndian(empty.AsSpan(2)));
        Assert.Equal(0x01, empty[4]); // CFG_P 01b
        var d = empty.AsSpan(20);
        Assert.Equal(0x01, d[0]); // algorithm index
        Assert.Equal(20, BinaryPrimitives.ReadUInt16BigEndian(d[2..]));
        Assert.Equal(0x3A, d[4]); // AVFMV 0 (no tape), MAC_C, DELB_C, DECRYPT_C 10b, ENCRYPT_C 10b
        Assert.Equal(32, BinaryPrimitives.ReadUInt16BigEndian(d[6..])); // max U-KAD
        Assert.Equal(12, BinaryPrimitives.ReadUInt16BigEndian(d[8..])); // max A-KAD
        Assert.Equal(32, BinaryPrimitives.ReadUInt16BigEndian(d[10..])); // key length
        Assert.Equal(0x00010014u, BinaryPrimitives.ReadUInt32BigEndian(d[20..]));

        await h.LoadNewAsync();
        Assert.Equal(0xBA, (await PageAsync(h, 0x20, 0x0010))[24]);

        // An LTO-3 cartridge in an LTO-5 drive (read only there; LTO-3 media cannot hold encrypted data).
        var lto3 = new TapeHarness();
        await lto3.LoadNewAsync(cartridge: TapeHarness.Cartridge("OLD001L3", TapeGateway.Scsi.Ssc.LtoGeneration.Lto3));
        Assert.Equal(0x3A, (await PageAsync(lto3, 0x20, 0x0010))[24]);
    }

    [Fact]
    public async Task SetKey_StatusShowsModesCounterAndKeyLabel_OtherNexusGets2A11_KeyNeverReported()
    {
        var h = await LoadedAsync();
        var before = await PageAsync(h, 0x20, 0x0020);
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, before[4..8]);

        await SetKeyAsync(h, KeyA, Decrypt);
        var status = await PageAsync(h, 0x20, 0x0020);
        Assert.Equal(0x0020, BinaryPrimitives.ReadUInt16BigEndian(status));
        Assert.Equal((AllItNexus << 5) | AllItNexus, status[4]);
        Assert.Equal(new byte[] { Encrypt, Decrypt, 0x01 }, status[5..8]);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(status.AsSpan(8)));
        Assert.Equal(0x11, status[12]); // application managed, RDMD
        Assert.Equal(new byte[] { 0x00, 0x01, 0x00, 0x07 }, status[24..28]); // U-KAD descriptor, not authenticated
        Assert.Equal("key-one", Encoding.ASCII.GetString(status, 28, 7));
        Assert.Equal(-1, status.AsSpan().IndexOf(KeyA.AsSpan(0, 8)));

        (await h.Run(Cdb.Tur(), nexus: h.B)).AssertSense(SenseKey.UnitAttention, 0x2A, 0x11);
        Assert.Equal(status, await PageAsync(h, 0x20, 0x0020, h.B)); // the same parameters apply to B

        await ClearAsync(h);
        var cleared = await PageAsync(h, 0x20, 0x0020);
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, cleared[4..8]);
        Assert.Equal(24, cleared.Length);
    }

    [Fact]
    public async Task EncryptedWrite_ReadWithKey_Identical_NothingReadableAtRest()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyA);
        var blocks = Enumerable.Range(0, 4).Select(i => TapeHarness.Block(4096, i)).ToArray();
        foreach (var b in blocks)
        {
            await h.WriteRecordAsync(b);
        }

        await h.Good(Cdb.WriteFilemarks(1));
        await h.Good(Cdb.Rewind());
        foreach (var b in blocks)
        {
            Assert.Equal(b, await ReadAsync(h, 4096));
        }

        (await h.Run(Cdb.Read(4096))).AssertTape(SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, 4096);
        var image = h.Store!.ToArray();
        Assert.All(blocks, b => Assert.Equal(-1, image.AsSpan().IndexOf(b.AsSpan(1000, 64))));
    }

    [Fact]
    public async Task KeyCleared_Read_UnableToDecrypt7401_BlockPassedOver()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyA);
        await h.WriteRecordsAsync(3, 1000);
        await ClearAsync(h);
        await h.Good(Cdb.Rewind());
        var t = await h.Run(Cdb.Read(1000));
        t.AssertSense(SenseKey.DataProtect, 0x74, 0x01);
        Assert.Empty(t.Data());
        Assert.Equal(1, (await h.LongPositionAsync()).Object);
        (await h.Run(Cdb.Read(1000))).AssertSense(SenseKey.DataProtect, 0x74, 0x01);
        Assert.Equal(2, (await h.LongPositionAsync()).Object);
    }

    [Fact]
    public async Task WrongKey_IncorrectDataEncryptionKey7403()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyA);
        await h.WriteRecordsAsync(1, 1000);
        await SetKeyAsync(h, KeyB);
        await h.Good(Cdb.Rewind());
        (await h.Run(Cdb.Read(1000))).AssertSense(SenseKey.DataProtect, 0x74, 0x03);
    }

    [Fact]
    public async Task DecryptMode_PlainBlock_7402_MixedReadsBoth()
    {
        var h = await LoadedAsync();
        await h.WriteRecordAsync(TapeHarness.Block(500, 1)); // plain
        await SetKeyAsync(h, KeyA, Decrypt);
        await h.WriteRecordAsync(TapeHarness.Block(500, 2)); // encrypted
        await h.Good(Cdb.Rewind());
        (await h.Run(Cdb.Read(500))).AssertSense(SenseKey.DataProtect, 0x74, 0x02);
        Assert.Equal(TapeHarness.Block(500, 2), await ReadAsync(h, 500));

        await SetKeyAsync(h, KeyA, Mixed);
        await h.Good(Cdb.Rewind());
        Assert.Equal(TapeHarness.Block(500, 1), await ReadAsync(h, 500));
        Assert.Equal(TapeHarness.Block(500, 2), await ReadAsync(h, 500));
    }

    [Fact]
    public async Task EncryptedBlocks_IncorrectLength_FixedMode_Verify_AsPlain()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyA);
        await h.WriteRecordAsync(TapeHarness.Block(3000, 1));
        await h.Good(Cdb.Rewind());
        var t = await h.Run(Cdb.Read(2000));
        t.AssertTape(SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength, -1000);
        Assert.Equal(TapeHarness.Block(3000, 1).AsSpan(0, 2000).ToArray(), t.Data());

        // Fixed 512-byte blocks.
        await h.Good(Cdb.Rewind());
        var descriptor = Cdb.BlockDescriptorList(512);
        await h.Good(Spc.Scsi.ModeSelect6(descriptor.Length), descriptor);
        var data = TapeHarness.Block(2048, 9);
        await h.Good(Cdb.Write(4, fixedMode: true), data);
        await h.Good(Cdb.Rewind());
        var r = await h.Run(Cdb.Read(4, fixedMode: true));
        r.AssertGood();
        Assert.Equal(data, r.Data());

        // VERIFY reads them like READ: with the key good, without it 74/01.
        await h.Good(Cdb.Rewind());
        await h.Good([0x13, 0x01, 0, 0, 4, 0]);
        await ClearAsync(h);
        await h.Good(Cdb.Rewind());
        (await h.Run([0x13, 0x01, 0, 0, 4, 0])).AssertSense(SenseKey.DataProtect, 0x74, 0x01);
    }

    [Fact]
    public async Task CompressionAndEncryption_Together_CompressBeforeEncrypting()
    {
        var h = await LoadedAsync();
        Assert.True(h.Drive.CompressionEnabled);
        await SetKeyAsync(h, KeyA);
        var data = Enumerable.Range(0, 256 * 1024).Select(i => (byte)(i / 512)).ToArray();
        await h.WriteRecordAsync(data);
        var stored = h.Store!.Length - TapeGateway.Media.Tape.TapeFormat.DataStart;
        Assert.True(stored < 100 * 1024, $"{stored} bytes stored for a 256 KiB compressible block");
        await h.Good(Cdb.Rewind());
        Assert.Equal(data, await ReadAsync(h, data.Length));
    }

    [Fact]
    public async Task NextBlockStatus_ForEncryptedPlainFilemarkEod_AndWithoutTape()
    {
        var h = new TapeHarness();
        var none = await PageAsync(h, 0x20, 0x0021);
        Assert.Equal(new byte[] { 0, 0x21, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, none);

        await h.LoadNewAsync();
        await SetAsync(h, SetPage(AllItNexus, Encrypt, Mixed, KeyA, "label", akad: [1, 2, 3]));
        await h.WriteRecordAsync(TapeHarness.Block(1000, 1));
        await ClearAsync(h);
        await h.WriteRecordAsync(TapeHarness.Block(1000, 2));
        await h.Good(Cdb.WriteFilemarks(1));
        await h.Good(Cdb.Rewind());

        var noKey = await PageAsync(h, 0x20, 0x0021);
        Assert.Equal(0L, BinaryPrimitives.ReadInt64BigEndian(noKey.AsSpan(4)));
        Assert.Equal(0x36, noKey[12]); // not compressed (random data), encrypted without a usable key
        Assert.Equal(0x01, noKey[13]);
        Assert.Equal(0x01, noKey[14]); // RDMDS
        Assert.Equal(new byte[] { 0x00, 0x01, 0, 5 }, noKey[16..20]);
        Assert.Equal("label", Encoding.ASCII.GetString(noKey, 20, 5));
        Assert.Equal(new byte[] { 0x01, 0x01, 0, 3, 1, 2, 3 }, noKey[25..32]); // A-KAD, not authenticated

        await SetKeyAsync(h, KeyA);
        var withKey = await PageAsync(h, 0x20, 0x0021);
        Assert.Equal(0x35, withKey[12]);
        Assert.Equal(new byte[] { 0x01, 0x02, 0, 3, 1, 2, 3 }, withKey[25..32]); // A-KAD authenticated
        await SetKeyAsync(h, KeyB);
        Assert.Equal(0x36, (await PageAsync(h, 0x20, 0x0021))[12]);
        Assert.Equal(0, (await h.LongPositionAsync()).Object); // the page moves nothing

        await h.Good(Cdb.Space(0, 1));
        var plain = await PageAsync(h, 0x20, 0x0021);
        Assert.Equal(1L, BinaryPrimitives.ReadInt64BigEndian(plain.AsSpan(4)));
        Assert.Equal(0x33, plain[12]);
        Assert.Equal(16, plain.Length);
        await h.Good(Cdb.Space(0, 1));
        Assert.Equal(0x22, (await PageAsync(h, 0x20, 0x0021))[12]);
        await h.Good(Cdb.Space(1, 1));
        Assert.Equal(0x11, (await PageAsync(h, 0x20, 0x0021))[12]);
    }

    [Fact]
    public async Task LocalScope_OnlyThatNexus_NoUnitAttention_GoneWithTheNexus()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyA, scope: Local);
        await h.WriteRecordsAsync(1, 800);
        (await h.Run(Cdb.Tur(), nexus: h.B)).AssertGood();
        Assert.Equal(0, (await PageAsync(h, 0x20, 0x0020, h.B))[5]);
        await h.Good(Cdb.Rewind());
        (await h.Run(Cdb.Read(800), nexus: h.B)).AssertSense(SenseKey.DataProtect, 0x74, 0x01);
        await h.Good(Cdb.Rewind());
        Assert.Equal(TapeHarness.Block(800, 1), await ReadAsync(h, 800));
        Assert.Equal((Local << 5) | Local, (await PageAsync(h, 0x20, 0x0020))[4]);
        Assert.Equal("local", h.Drive.EncryptionMode?.Scope);

        h.Target.NexusLost(h.A);
        Assert.Null(h.Drive.EncryptionMode);
    }

    [Fact]
    public async Task AllItNexus_EndsLocalSets_PublicKeepsThem()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyB, scope: Local, nexus: h.B);
        await SetKeyAsync(h, KeyA, scope: Public);
        (await h.Run(Cdb.Tur(), nexus: h.B)).AssertSense(SenseKey.UnitAttention, 0x2A, 0x11);
        Assert.Equal(Local, (await PageAsync(h, 0x20, 0x0020, h.B))[4] & 0x07);
        await SetKeyAsync(h, KeyA, scope: AllItNexus);
        h.Consume(h.B);
        Assert.Equal(AllItNexus, (await PageAsync(h, 0x20, 0x0020, h.B))[4] & 0x07);
        Assert.Equal(0, h.Drive.EncryptionMode?.LocalSets);
    }

    [Fact]
    public async Task Ckod_KeyClearedWhenTheTapeLeaves_OtherwiseKept_ColdResetClearsAll()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyA);
        await h.Good(Cdb.LoadUnload(load: false));
        await h.Drive.EjectAsync(force: false, CancellationToken.None);
        await h.LoadNewAsync();
        Assert.Equal(Encrypt, (await PageAsync(h, 0x20, 0x0020))[5]);

        await SetKeyAsync(h, KeyA, byte5: 0x04); // CKOD
        await h.Good(Cdb.LoadUnload(load: false));
        await h.Drive.EjectAsync(force: false, CancellationToken.None);
        Assert.Null(h.Drive.EncryptionMode);

        await h.LoadNewAsync();
        await SetKeyAsync(h, KeyA);
        h.Target.TaskManagement(TaskManagementEvent.LogicalUnitReset, new Lun(1), h.A);
        Assert.NotNull(h.Drive.EncryptionMode);
        h.Target.TaskManagement(TaskManagementEvent.TargetColdReset, new Lun(1), h.A);
        Assert.Null(h.Drive.EncryptionMode);
    }

    [Fact]
    public async Task KeysAreNotStored_AReopenedTapeNeedsTheKeyAgain()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyA);
        await h.WriteRecordsAsync(2, 1500);
        await h.Good(Cdb.WriteFilemarks(1));
        await h.Good(Cdb.LoadUnload(load: false));
        var medium = await h.Drive.EjectAsync(force: false, CancellationToken.None);
        await medium!.DisposeAsync();

        // A new gateway process: a new drive, the same image.
        var restarted = new TapeHarness();
        var image = await TapeGateway.Media.Tape.TapeImage.OpenAsync(new TapeGateway.Media.Tape.MemoryTapeStore(h.Store!.ToArray()));
        await restarted.Drive.LoadAsync(image, TapeHarness.Cartridge(), CancellationToken.None);
        restarted.Consume(restarted.A);
        (await restarted.Run(Cdb.Read(1500))).AssertSense(SenseKey.DataProtect, 0x74, 0x01);
        await SetKeyAsync(restarted, KeyA);
        await restarted.Good(Cdb.Rewind());
        Assert.Equal(TapeHarness.Block(1500, 1), await ReadAsync(restarted, 1500));
    }

    [Theory]
    [InlineData("raw decryption", 7, null)]
    [InlineData("external encryption", 6, null)]
    [InlineData("lock", 4, 0)]
    [InlineData("sdk", 5, 3)]
    [InlineData("ckorp", 5, 1)]
    [InlineData("ckorl", 5, 0)]
    [InlineData("rdmc 01b", 5, 5)]
    [InlineData("scope 3", 4, 7)]
    [InlineData("algorithm 2", 8, null)]
    [InlineData("key format 1", 9, null)]
    [InlineData("16-byte key", 18, null)]
    [InlineData("kad format 3", 10, null)]
    [InlineData("nonce kad", 52, null)]
    [InlineData("second u-kad", 57, null)]
    [InlineData("33-byte u-kad", 54, null)]
    [InlineData("page code", 0, null)]
    public async Task SetDataEncryption_Unsupported_InvalidFieldInParameterList_NothingChanged(string what, int pointer, int? bit)
    {
        var h = await LoadedAsync();
        var page = what switch
        {
            "raw decryption" => SetPage(AllItNexus, Encrypt, 1, KeyA),
            "external encryption" => SetPage(AllItNexus, 1, Mixed, KeyA),
            "lock" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, byte4: 0x01),
            "sdk" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, byte5: 0x08),
            "ckorp" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, byte5: 0x02),
            "ckorl" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, byte5: 0x01),
            "rdmc 01b" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, byte5: 0x10),
            "scope 3" => SetPage(3, Encrypt, Mixed, KeyA),
            "algorithm 2" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, algorithm: 2),
            "key format 1" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, keyFormat: 1),
            "16-byte key" => SetPage(AllItNexus, Encrypt, Mixed, KeyA[..16]),
            "kad format 3" => KadFormat(SetPage(AllItNexus, Encrypt, Mixed, KeyA), 3),
            "nonce kad" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, extraKads: [(0x02, new byte[12])]),
            "second u-kad" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, "a", extraKads: [(0x00, "b"u8.ToArray())]),
            "33-byte u-kad" => SetPage(AllItNexus, Encrypt, Mixed, KeyA, new string('x', 33)),
            "page code" => PageCode(SetPage(AllItNexus, Encrypt, Mixed, KeyA), 0x0011),
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };
        var t = await h.Run(Spout(page.Length), page);
        t.AssertInvalidParameterField(pointer, bit);
        Assert.Null(h.Drive.EncryptionMode);

        static byte[] KadFormat(byte[] p, byte value)
        {
            p[10] = value;
            return p;
        }

        static byte[] PageCode(byte[] p, ushort code)
        {
            BinaryPrimitives.WriteUInt16BigEndian(p, code);
            return p;
        }
    }

    [Fact]
    public async Task SecurityProtocolOut_CdbAndLengthErrors()
    {
        var h = await LoadedAsync();
        var page = SetPage(AllItNexus, Encrypt, Mixed, KeyA);
        (await h.Run(Spout(page.Length, protocol: 0x00), page)).AssertInvalidCdbField(1);
        (await h.Run(Spout(page.Length, page: 0x0011), page)).AssertInvalidCdbField(2);
        var inc512 = Spout(page.Length);
        inc512[4] = 0x80;
        (await h.Run(inc512, page)).AssertInvalidCdbField(4, 7);
        (await h.Run(Spout(0))).AssertGood(); // TRANSFER LENGTH 0: nothing transferred, not an error

        // The page claims more than was transferred; a KAD runs past the page; a page shorter than its fixed part.
        (await h.Run(Spout(30), page[..30])).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
        var truncatedKad = SetPage(AllItNexus, Encrypt, Mixed, KeyA, "abcdef");
        BinaryPrimitives.WriteUInt16BigEndian(truncatedKad.AsSpan(54), 40);
        (await h.Run(Spout(truncatedKad.Length), truncatedKad)).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
        var shortPage = new byte[] { 0, 0x10, 0, 4, 0x40, 0, 2, 3 };
        (await h.Run(Spout(shortPage.Length), shortPage)).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
        Assert.Null(h.Drive.EncryptionMode);
    }

    [Fact]
    public async Task Disable_WithOrWithoutKeyBytes_Accepted_CounterAdvances()
    {
        var h = await LoadedAsync();
        await SetKeyAsync(h, KeyA);
        await SetAsync(h, SetPage(AllItNexus, 0, 0, null)); // no key bytes at all
        await SetKeyAsync(h, KeyA);
        await ClearAsync(h);
        Assert.Null(h.Drive.EncryptionMode);
        await SetKeyAsync(h, KeyA);
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32BigEndian((await PageAsync(h, 0x20, 0x0020)).AsSpan(8)));
    }

    [Fact]
    public async Task AllocationLength_TruncatesPages()
    {
        var h = await LoadedAsync();
        var t = await h.Run(Spin(0x20, 0x0010, allocation: 8));
        t.AssertGood();
        Assert.Equal(new byte[] { 0, 0x10, 0, 0x28, 0x01, 0, 0, 0 }, t.Data());
        var inc512 = Spin(0x20, 0x0010);
        inc512[4] = 0x80;
        (await h.Run(inc512)).AssertInvalidCdbField(4, 7);
    }

    /// <summary>
    /// Randomized against a model of the tape: blocks (plain, or encrypted under key A or B; compressible or not) and
    /// the position; the drive's parameters (encrypt with A, B or not; decryption off, DECRYPT or MIXED) changed at
    /// random by either nexus in either scope; reads of random lengths, LOCATE, REWIND, writes that cut the tape.
    /// Every read must give exactly the model's answer — data, ILI residue, or the 74/0x sense — and the position the
    /// model predicts; Next Block Encryption Status must classify every object as the model does.
    /// </summary>
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public async Task Random_EncryptionReadsWritesPositions_MatchTheModel(int seed)
    {
        var rng = new Random(seed);
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 64 * TapeHarness.MiB);
        var tape = new List<(byte[] Data, int Key)>(); // Key 0 = plain, 1 = A, 2 = B
        var position = 0;
        int encryptKey = 0, decryptKey = 0;
        byte decryptMode = 0;
        byte[][] keys = [[], KeyA, KeyB];

        for (var step = 0; step < 400; step++)
        {
            var op = rng.Next(100);
            if (op < 12)
            {
                // New parameters, public (the only set), from A or B: both nexuses see them.
                encryptKey = rng.Next(3);
                decryptMode = (byte)(rng.Next(3) switch { 0 => 0, 1 => Decrypt, _ => Mixed });
                decryptKey = decryptMode == 0 ? 0 : encryptKey == 0 ? 1 + rng.Next(2) : encryptKey;
                var from = rng.Next(2) == 0 ? h.A : h.B;
                if (encryptKey == 0 && decryptMode == 0)
                {
                    await ClearAsync(h, rng.Next(2) == 0 ? Public : AllItNexus, from);
                }
                else
                {
                    var key = keys[encryptKey == 0 ? decryptKey : encryptKey];
                    await SetAsync(h, SetPage(rng.Next(2) == 0 ? Public : AllItNexus, encryptKey == 0 ? (byte)0 : Encrypt, decryptMode, key, "k" + step), from);
                }

                h.Consume(h.A);
                h.Consume(h.B);
            }
            else if (op < 45)
            {
                var length = rng.Next(1, 6000);
                var data = rng.Next(2) == 0
                    ? TapeHarness.Block(length, step)
                    : Enumerable.Range(0, length).Select(i => (byte)(i / 64)).ToArray();
                await h.WriteRecordAsync(data);
                tape.RemoveRange(position, tape.Count - position);
                tape.Add((data, encryptKey));
                position++;
            }
            else if (op < 80)
            {
                var requested = rng.Next(1, 7000);
                var t = await h.Run(Cdb.Read(requested, sili: rng.Next(2) == 0));
                if (position == tape.Count)
                {
                    t.AssertSense(SenseKey.BlankCheck, 0x00, 0x05);
                    continue;
                }

                var (data, key) = tape[position];
                position++;
                if (key != 0 && decryptMode == 0)
                {
                    t.AssertSense(SenseKey.DataProtect, 0x74, 0x01);
                    Assert.Empty(t.Data());
                }
                else if (key != 0 && key != decryptKey)
                {
                    t.AssertSense(SenseKey.DataProtect, 0x74, 0x03);
                    Assert.Empty(t.Data());
                }
                else if (key == 0 && decryptMode == Decrypt)
                {
                    t.AssertSense(SenseKey.DataProtect, 0x74, 0x02);
                    Assert.Empty(t.Data());
                }
                else
                {
                    var n = Math.Min(requested, data.Length);
                    Assert.Equal(data.AsSpan(0, n).ToArray(), t.Data());

                    // Variable-block mode: SILI suppresses ILI for shorter and longer blocks alike (READ(6)).
                    if (requested == data.Length || (t.Cdb[1] & 0x02) != 0)
                    {
                        t.AssertGood();
                    }
                    else
                    {
                        t.AssertTape(SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength, requested - data.Length);
                    }
                }
            }
            else if (op < 90)
            {
                position = rng.Next(tape.Count + 1);
                await h.Good(Cdb.Locate10((uint)position));
            }
            else if (op < 94)
            {
                position = 0;
                await h.Good(Cdb.Rewind());
            }
            else
            {
                var page = await PageAsync(h, 0x20, 0x0021);
                Assert.Equal(position, BinaryPrimitives.ReadInt64BigEndian(page.AsSpan(4)));
                var expected = position == tape.Count ? 0x1 : tape[position].Key == 0 ? 0x3 : tape[position].Key == decryptKey && decryptMode != 0 ? 0x5 : 0x6;
                Assert.Equal(expected, page[12] & 0x0F);
            }

            Assert.Equal(position, (await h.LongPositionAsync()).Object);
        }
    }
}

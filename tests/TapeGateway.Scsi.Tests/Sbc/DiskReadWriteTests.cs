using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Block;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Sbc;

public sealed class DiskReadWriteTests
{
    public static TheoryData<byte, byte, int> ReadWritePairs => new()
    {
        // (write opcode, read opcode, block size)
        { 0x0A, 0x08, 512 },
        { 0x2A, 0x28, 512 },
        { 0xAA, 0xA8, 512 },
        { 0x8A, 0x88, 512 },
        { 0x2A, 0x28, 4096 },
        { 0x8A, 0x88, 4096 },
    };

    private static byte[] Build(byte opcode, ulong lba, uint blocks, byte flags = 0) => (opcode >> 5) switch
    {
        0 => Cdb.Rw6(opcode, (uint)lba, (byte)blocks),
        1 => Cdb.Rw10(opcode, (uint)lba, (ushort)blocks, flags),
        5 => Cdb.Rw12(opcode, (uint)lba, blocks, flags),
        _ => Cdb.Rw16(opcode, lba, blocks, flags),
    };

    [Theory]
    [MemberData(nameof(ReadWritePairs))]
    public async Task WriteThenRead_RoundTrips(byte write, byte read, int blockSize)
    {
        var disk = DiskHarness.Create(blocks: 512, blockSize: blockSize);
        var data = disk.Pattern(3, 7);
        var w = await disk.RunAsync(Build(write, 100, 3), data);
        TaskAssert.Good(w);
        Assert.Equal(3L * blockSize, w.CommandTransferLength);

        var r = await disk.RunAsync(Build(read, 100, 3));
        TaskAssert.Good(r);
        Assert.Equal(data, r.DataIn.ToArray());
        Assert.Equal(3L * blockSize, r.CommandTransferLength);

        // The last block of the medium is addressable.
        TaskAssert.Good(await disk.RunAsync(Build(write, 511, 1), disk.Pattern(1, 9)));
        var last = await disk.RunAsync(Build(read, 511, 1));
        Assert.Equal(disk.Pattern(1, 9), last.DataIn.ToArray());
    }

    [Fact]
    public async Task SixByteCdb_TransferLengthZeroMeans256Blocks()
    {
        var disk = DiskHarness.Create();
        var data = disk.Pattern(256, 3);
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw6(0x0A, 10, 0), data));
        var r = await disk.RunAsync(Cdb.Rw6(0x08, 10, 0));
        TaskAssert.Good(r);
        Assert.Equal(256 * 512, r.DataInLength);
        Assert.Equal(data, r.DataIn.ToArray());
    }

    [Fact]
    public async Task SixteenBytePaddedCdb_IsParsedByGroupCode()
    {
        // iSCSI carries every CDB in 16 bytes; a READ(10) padded with zeros must parse as READ(10).
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(5, disk.Pattern(2, 1));
        var cdb = new byte[16];
        Cdb.Read10(5, 2).CopyTo(cdb, 0);
        var r = await disk.RunAsync(cdb);
        TaskAssert.Good(r);
        Assert.Equal(disk.Pattern(2, 1), r.DataIn.ToArray());
    }

    [Fact]
    public async Task ZeroLengthTransfers_AreGoodAndMoveNoData()
    {
        var disk = DiskHarness.Create();
        var r = await disk.RunAsync(Cdb.Read10(0, 0));
        TaskAssert.Good(r);
        Assert.Equal(0, r.DataInLength);
        Assert.Equal(0L, r.CommandTransferLength);
        TaskAssert.Good(await disk.RunAsync(Cdb.Read10(1024, 0)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Write10(0, 0)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw10(0x2E, 0, 0)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw16(0x8B, 0, 0)));
        TaskAssert.Good(await disk.RunAsync(Cdb.CompareAndWrite(0, 0)));
        Assert.Equal(0, disk.Memory.WriteCount);
    }

    [Fact]
    public async Task MaximumTransferLength_IsAllowed()
    {
        var disk = DiskHarness.Create(blocks: 20000);
        var r = await disk.RunAsync(Cdb.Read16(0, 16384));
        TaskAssert.Good(r);
        Assert.Equal(8 << 20, r.DataInLength);
    }

    [Fact]
    public async Task DataOutLongerThanCdb_WritesOnlyWhatTheCdbSays()
    {
        var disk = DiskHarness.Create();
        var data = disk.Pattern(2, 5);
        var w = await disk.RunAsync(Cdb.Write10(0, 1), data);
        TaskAssert.Good(w);
        Assert.Equal(512L, w.CommandTransferLength);
        Assert.Equal(data.AsSpan(0, 512).ToArray(), await disk.ReadBlocksAsync(0, 1));
        Assert.Equal(new byte[512], await disk.ReadBlocksAsync(1, 1));
    }

    [Fact]
    public async Task ShortDataOut_WritesOnlyTheWholeBlocksThatArrived_AndReportsTheCommandLength()
    {
        // FCP-4 §9.4.2 / libiscsi iSCSIResiduals: EDTL shorter than the CDB → GOOD, only EDTL's whole blocks written.
        var disk = DiskHarness.Create();
        var w = await disk.RunAsync(Cdb.Write10(0, 2), disk.Pattern(1, 7));
        TaskAssert.Good(w);
        Assert.Equal(1024L, w.CommandTransferLength);
        Assert.Equal(disk.Pattern(1, 7), await disk.ReadBlocksAsync(0, 1));
        Assert.Equal(new byte[512], await disk.ReadBlocksAsync(1, 1));
    }

    [Fact]
    public async Task DataOutShorterThanOneBlock_WritesNothing()
    {
        var disk = DiskHarness.Create();
        var w = await disk.RunAsync(Cdb.Write10(0, 1), new byte[200]);
        TaskAssert.Good(w);
        Assert.Equal(512L, w.CommandTransferLength);
        Assert.Equal(0, disk.Memory.WriteCount);
    }

    [Theory]
    [InlineData(0x00, false)]
    [InlineData(0x08, true)] // FUA
    [InlineData(0x10, false)] // DPO
    [InlineData(0x1A, true)] // DPO + FUA + FUA_NV (obsolete, ignored)
    [InlineData(0x02, false)] // FUA_NV only
    public async Task Write_FuaMakesTheWriteDurable(byte flags, bool durable)
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync(Cdb.Write10(0, 1, flags), new byte[512]));
        Assert.Equal(durable ? 1 : 0, disk.Memory.ForceUnitAccessWrites);
    }

    [Theory]
    [InlineData(0x10)]
    [InlineData(0x08)]
    [InlineData(0x18)]
    public async Task Read_DpoFua_Accepted(byte flags)
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync(Cdb.Read10(0, 1, flags)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Read16(0, 1, flags)));
    }

    [Fact]
    public async Task WriteAndVerify_WritesDurably_AndComparesWithBytchk()
    {
        var disk = DiskHarness.Create();
        var data = disk.Pattern(4, 2);
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw10(0x2E, 8, 4), data));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw12(0xAE, 12, 4, 0x02), data));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw16(0x8E, 16, 4, 0x12), data));
        Assert.Equal(3, disk.Memory.ForceUnitAccessWrites);
        Assert.Equal(data, await disk.ReadBlocksAsync(8, 4));
        Assert.Equal(data, await disk.ReadBlocksAsync(12, 4));
        Assert.Equal(data, await disk.ReadBlocksAsync(16, 4));
    }

    [Fact]
    public async Task Verify_Bytchk0_IsARangeCheckAndRead()
    {
        var disk = DiskHarness.Create();
        var t = await disk.RunAsync(Cdb.Verify10(0, 1024, 0));
        TaskAssert.Good(t);
        Assert.Equal(0, t.DataInLength);
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw16(0x8F, 1000, 24)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Verify10(1024, 0, 1)));
    }

    [Theory]
    [InlineData(0x2F)]
    [InlineData(0xAF)]
    [InlineData(0x8F)]
    public async Task Verify_Bytchk1_ComparesAndReportsTheFirstDifferingByte(byte opcode)
    {
        var disk = DiskHarness.Create();
        var data = disk.Pattern(3, 4);
        await disk.WriteBlocksAsync(50, data);
        var cdb = Build(opcode, 50, 3, 0x02);
        TaskAssert.Good(await disk.RunAsync(cdb, data));

        var wrong = (byte[])data.Clone();
        wrong[700] ^= 0x58;
        wrong[1300] ^= 0x01;
        var t = await disk.RunAsync(cdb, wrong);
        TaskAssert.Sense(t, SenseKey.Miscompare, 0x1D, 0x00);
        TaskAssert.Information(t, 700);
    }

    [Fact]
    public async Task Verify_Bytchk11_ComparesOneBlockWithEveryBlock()
    {
        var disk = DiskHarness.Create();
        var block = disk.Pattern(1, 6);
        for (var i = 0; i < 4; i++)
        {
            await disk.WriteBlocksAsync(20 + i, block);
        }

        TaskAssert.Good(await disk.RunAsync(Cdb.Verify10(20, 4, 3), block));
        await disk.WriteBlocksAsync(22, disk.Pattern(1, 7));
        var t = await disk.RunAsync(Cdb.Verify10(20, 4, 3), block);
        TaskAssert.Sense(t, SenseKey.Miscompare, 0x1D, 0x00);
        Assert.Equal(512L, t.CommandTransferLength);
    }

    [Fact]
    public async Task Verify_DescriptorSense_CarriesTheInformationDescriptor()
    {
        var disk = DiskHarness.Create();
        disk.Unit.ModePages.DescriptorSense = true;
        var data = new byte[512];
        data[17] = 1;
        var t = await disk.RunAsync(Cdb.Verify10(0, 1, 1), data);
        Assert.Equal(0x72, t.Sense[0]);
        TaskAssert.Sense(t, SenseKey.Miscompare, 0x1D, 0x00);
        Assert.Equal(0x00, t.Sense[8]); // information descriptor
        Assert.Equal(0x80, t.Sense[10] & 0x80); // VALID
        Assert.Equal(17L, BinaryPrimitives.ReadInt64BigEndian(t.Sense[12..]));
    }

    [Fact]
    public async Task CompareAndWrite_WritesOnMatch()
    {
        var disk = DiskHarness.Create();
        var old = disk.Pattern(1, 1);
        var next = disk.Pattern(1, 2);
        await disk.WriteBlocksAsync(9, old);
        var t = await disk.RunAsync(Cdb.CompareAndWrite(9, 1), [.. old, .. next]);
        TaskAssert.Good(t);
        Assert.Equal(1024L, t.CommandTransferLength);
        Assert.Equal(next, await disk.ReadBlocksAsync(9, 1));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(485)]
    [InlineData(511)]
    public async Task CompareAndWrite_MiscompareReportsOffset_AndWritesNothing(int offset)
    {
        var disk = DiskHarness.Create();
        var old = disk.Pattern(1, 1);
        await disk.WriteBlocksAsync(0, old);
        var verify = (byte[])old.Clone();
        verify[offset] ^= 0xFF;
        var t = await disk.RunAsync(Cdb.CompareAndWrite(0, 1), [.. verify, .. disk.Pattern(1, 2)]);
        TaskAssert.Sense(t, SenseKey.Miscompare, 0x1D, 0x00);
        TaskAssert.Information(t, (uint)offset);
        Assert.Equal(old, await disk.ReadBlocksAsync(0, 1));
    }

    [Theory]
    [InlineData(0x08, true)]
    [InlineData(0x10, false)]
    [InlineData(0x18, true)]
    public async Task CompareAndWrite_DpoFua(byte flags, bool durable)
    {
        var disk = DiskHarness.Create(blockSize: 4096);
        var t = await disk.RunAsync(Cdb.CompareAndWrite(1, 1, flags), new byte[8192]);
        TaskAssert.Good(t);
        Assert.Equal(durable ? 1 : 0, disk.Memory.ForceUnitAccessWrites);
    }

    [Fact]
    public async Task CompareAndWrite_LastBlock()
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync(Cdb.CompareAndWrite(1023, 1), [.. new byte[512], .. disk.Pattern(1, 3)]));
        Assert.Equal(disk.Pattern(1, 3), await disk.ReadBlocksAsync(1023, 1));
    }

    [Fact]
    public async Task CompareAndWrite_IsAtomicAgainstConcurrentCompareAndWrites()
    {
        // 32 initiators race to take a "lock" block from all-zeros to their own id: exactly one may win.
        var disk = DiskHarness.Create();
        var attempts = Enumerable.Range(1, 32).Select(async id =>
        {
            var mine = new byte[512];
            mine.AsSpan().Fill((byte)id);
            var t = await disk.RunAsync(Cdb.CompareAndWrite(3, 1), [.. new byte[512], .. mine]);
            return t.Status == ScsiStatus.Good;
        });
        var results = await Task.WhenAll(attempts);
        Assert.Equal(1, results.Count(r => r));
    }

    [Fact]
    public async Task OrWrite_OrsTheDataIntoTheMedium()
    {
        var disk = DiskHarness.Create();
        var a = new byte[1024];
        a.AsSpan().Fill(0xA5);
        var b = new byte[1024];
        b.AsSpan().Fill(0x5A);
        TaskAssert.Good(await disk.RunAsync(Cdb.Write10(4, 2), a));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw16(0x8B, 4, 2), b));
        Assert.All(await disk.ReadBlocksAsync(4, 2), x => Assert.Equal(0xFF, x));
    }

    [Fact]
    public async Task WriteCacheDisabledThroughModeSelect_MakesEveryWriteFua()
    {
        var disk = DiskHarness.Create();
        Assert.True(disk.Unit.WriteCacheEnabled);

        // MODE SENSE(6) the Caching page, clear WCE, MODE SELECT(6) it back (PF=1).
        var sense = await disk.RunAsync(Cdb.ModeSense6(0x08, dbd: true));
        TaskAssert.Good(sense);
        var page = sense.DataIn.ToArray();
        Assert.Equal(0x08, page[4] & 0x3F);
        Assert.Equal(0x04, page[6] & 0x04);
        page[0] = 0;
        page[6] &= 0xFB;
        TaskAssert.Good(await disk.RunAsync([0x15, 0x10, 0, 0, (byte)page.Length, 0], page));
        Assert.False(disk.Unit.WriteCacheEnabled);

        TaskAssert.Good(await disk.RunAsync(Cdb.Write10(0, 1), new byte[512]));
        Assert.Equal(1, disk.Memory.ForceUnitAccessWrites);
    }

    [Fact]
    public async Task FileBackedDisk_EndToEnd()
    {
        var dir = Directory.CreateTempSubdirectory("tgw-sbc-");
        try
        {
            await using var volume = FileBlockVolume.Create(Path.Combine(dir.FullName, "disk.img"), 4096, 512);
            var disk = new DiskHarness(volume);
            var data = disk.Pattern(16, 8);
            TaskAssert.Good(await disk.RunAsync(Cdb.Write16(0, 16, 0x08), data));
            var r = await disk.RunAsync(Cdb.Read16(0, 16));
            Assert.Equal(data, r.DataIn.ToArray());
            TaskAssert.Good(await disk.RunAsync(Cdb.Unmap(24), Cdb.UnmapList((0, 16))));
            r = await disk.RunAsync(Cdb.Read16(0, 16));
            Assert.All(r.DataIn.ToArray(), b => Assert.Equal(0, b));
            TaskAssert.Good(await disk.RunAsync(Cdb.Rw10(0x35, 0, 0)));
            TaskAssert.Good(await disk.RunAsync(Cdb.CompareAndWrite(5, 1), [.. new byte[512], .. disk.Pattern(1, 1)]));
            Assert.Equal(disk.Pattern(1, 1), await disk.ReadBlocksAsync(5, 1));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

using System.Buffers.Binary;
using TapeGateway.Scsi.Sbc;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Sbc;

public sealed class DiskProvisioningTests
{
    [Fact]
    public async Task Unmap_DeallocatesAndReadsZeros()
    {
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(0, disk.Pattern(64, 1));
        var t = await disk.RunAsync(Cdb.Unmap(40), Cdb.UnmapList((0, 8), (32, 4)));
        TaskAssert.Good(t);
        Assert.Equal(40L, t.CommandTransferLength);
        Assert.Equal(64 - 12, disk.Memory.MappedBlockCount);
        Assert.Equal(new byte[8 * 512], await disk.ReadBlocksAsync(0, 8));
        Assert.Equal(disk.Pattern(64, 1).AsSpan(8 * 512, 24 * 512).ToArray(), await disk.ReadBlocksAsync(8, 24));
    }

    [Fact]
    public async Task Unmap_ZeroLengthForms_AreGood()
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync(Cdb.Unmap(0)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Unmap(8), Cdb.UnmapList()));
        TaskAssert.Good(await disk.RunAsync(Cdb.Unmap(24), Cdb.UnmapList((1024, 0))));
        TaskAssert.Good(await disk.RunAsync(Cdb.Unmap(24), Cdb.UnmapList((5, 0))));

        // 256 descriptors (the limit), overlapping, zero blocks each.
        var many = Enumerable.Range(0, 256).Select(i => ((ulong)(i / 2), 0u)).ToArray();
        TaskAssert.Good(await disk.RunAsync(Cdb.Unmap((ushort)(8 + (256 * 16))), Cdb.UnmapList(many)));
    }

    [Fact]
    public async Task Unmap_IncompleteTrailingDescriptor_IsIgnored()
    {
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(0, disk.Pattern(4, 1));
        var list = Cdb.UnmapList((0, 1), (2, 1));
        // Block descriptor data length 20: one full descriptor plus 4 bytes of a second.
        BinaryPrimitives.WriteUInt16BigEndian(list.AsSpan(2), 20);
        BinaryPrimitives.WriteUInt16BigEndian(list, 26);
        TaskAssert.Good(await disk.RunAsync(Cdb.Unmap((ushort)list.Length), list));
        Assert.Equal(3, disk.Memory.MappedBlockCount);
    }

    [Fact]
    public async Task Unmap_TooManyBlocks_IsInvalidFieldInParameterList_AndNothingIsUnmapped()
    {
        var limits = BlockLimits.For(512, thin: true) with { MaximumUnmapLbaCount = 10 };
        var disk = DiskHarness.Create(limits: limits);
        await disk.WriteBlocksAsync(0, disk.Pattern(16, 1));
        var t = await disk.RunAsync(Cdb.Unmap(40), Cdb.UnmapList((0, 6), (8, 6)));
        TaskAssert.Sense(t, SenseKey.IllegalRequest, 0x26, 0x00);
        Assert.Equal(16, disk.Memory.MappedBlockCount);
    }

    [Fact]
    public async Task Unmap_OutOfRangeInALaterDescriptor_UnmapsNothing()
    {
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(0, disk.Pattern(4, 1));
        var t = await disk.RunAsync(Cdb.Unmap(40), Cdb.UnmapList((0, 4), (1020, 5)));
        TaskAssert.OutOfRange(t);
        Assert.Equal(4, disk.Memory.MappedBlockCount);
    }

    [Theory]
    [InlineData(0x41)]
    [InlineData(0x93)]
    public async Task WriteSame_WritesThePatternToEveryBlock(byte opcode)
    {
        var disk = DiskHarness.Create();
        var block = disk.Pattern(1, 3);
        var cdb = opcode == 0x41 ? Cdb.WriteSame10(10, 300) : Cdb.WriteSame16(10, 300);
        var t = await disk.RunAsync(cdb, block);
        TaskAssert.Good(t);
        Assert.Equal(512L, t.CommandTransferLength);
        var back = await disk.ReadBlocksAsync(10, 300);
        for (var i = 0; i < 300; i++)
        {
            Assert.Equal(block, back.AsSpan(i * 512, 512).ToArray());
        }

        Assert.Equal(new byte[512], await disk.ReadBlocksAsync(310, 1));
    }

    [Theory]
    [InlineData(0x41)]
    [InlineData(0x93)]
    public async Task WriteSame_UnmapWithZeros_Deallocates(byte opcode)
    {
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(0, disk.Pattern(256, 1));
        var cdb = opcode == 0x41 ? Cdb.WriteSame10(0, 256, 0x08) : Cdb.WriteSame16(0, 256, 0x08);
        TaskAssert.Good(await disk.RunAsync(cdb, new byte[512]));
        Assert.Equal(0, disk.Memory.MappedBlockCount);
        Assert.Equal(1, disk.Memory.UnmapCount);
        Assert.All(await disk.ReadBlocksAsync(0, 256), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task WriteSame_UnmapWithNonZeroPattern_StillDeallocates()
    {
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(0, disk.Pattern(4, 3));
        TaskAssert.Good(await disk.RunAsync(Cdb.WriteSame10(0, 4, 0x08), disk.Pattern(1, 9)));
        Assert.Equal(1, disk.Memory.UnmapCount);
        Assert.Equal(new byte[512], await disk.ReadBlocksAsync(3, 1));
    }

    [Fact]
    public async Task WriteSame_ZeroBlocks_MeansToTheEnd()
    {
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(1000, disk.Pattern(24, 1));
        TaskAssert.Good(await disk.RunAsync(Cdb.WriteSame10(1000, 0, 0x08), new byte[512]));
        Assert.Equal(0, disk.Memory.MappedBlockCount);

        var block = disk.Pattern(1, 2);
        TaskAssert.Good(await disk.RunAsync(Cdb.WriteSame16(1020, 0), block));
        Assert.Equal(4, disk.Memory.MappedBlockCount);
        Assert.Equal(block, await disk.ReadBlocksAsync(1023, 1));
    }

    [Fact]
    public async Task WriteSame_ZeroBlocks_BeyondMaximumWriteSameLength_IsInvalid()
    {
        // libiscsi writesame*_0blocks: with MAXIMUM WRITE SAME LENGTH m < capacity, "0 blocks" at LBA 0 is invalid,
        // at capacity - m it is good, at capacity - (m + 1) it is invalid again.
        var limits = BlockLimits.For(512, thin: true) with { MaximumWriteSameLength = 100 };
        var disk = DiskHarness.Create(limits: limits);
        TaskAssert.InvalidField(await disk.RunAsync(Cdb.WriteSame10(0, 0), new byte[512]));
        TaskAssert.InvalidField(await disk.RunAsync(Cdb.WriteSame10(1024 - 101, 0), new byte[512]));
        TaskAssert.Good(await disk.RunAsync(Cdb.WriteSame10(1024 - 100, 0), new byte[512]));
        TaskAssert.Good(await disk.RunAsync(Cdb.WriteSame16(1024 - 99, 0), new byte[512]));
        TaskAssert.InvalidField(await disk.RunAsync(Cdb.WriteSame16(0, 101), new byte[512]));
    }

    [Fact]
    public async Task WriteSame16_Ndob_UnmapsOrWritesZerosWithoutDataOut()
    {
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(0, disk.Pattern(8, 1));
        var t = await disk.RunAsync(Cdb.WriteSame16(0, 4, 0x09));
        TaskAssert.Good(t);
        Assert.Equal(0L, t.CommandTransferLength);
        Assert.Equal(4, disk.Memory.MappedBlockCount);

        TaskAssert.Good(await disk.RunAsync(Cdb.WriteSame16(4, 4, 0x01)));
        Assert.All(await disk.ReadBlocksAsync(0, 8), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task GetLbaStatus_ReportsExtents()
    {
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(10, disk.Pattern(5, 1));
        var t = await disk.RunAsync(Cdb.GetLbaStatus(0, 1024));
        TaskAssert.Good(t);
        var d = t.DataIn.Span;
        Assert.Equal(8 + (3 * 16), d.Length);
        Assert.Equal((uint)(4 + (3 * 16)), BinaryPrimitives.ReadUInt32BigEndian(d));
        AssertDescriptor(d[8..], 0, 10, 1);
        AssertDescriptor(d[24..], 10, 5, 0);
        AssertDescriptor(d[40..], 15, 1009, 1);
    }

    [Fact]
    public async Task GetLbaStatus_ShortAllocation_ReturnsOneDescriptor()
    {
        // libiscsi get_lba_status_unmap_single asks with ALLOCATION LENGTH 24 and reads the first descriptor.
        var disk = DiskHarness.Create();
        await disk.WriteBlocksAsync(0, disk.Pattern(257, 1));
        TaskAssert.Good(await disk.RunAsync(Cdb.Unmap(24), Cdb.UnmapList((0, 1))));
        var t = await disk.RunAsync(Cdb.GetLbaStatus(1, 24));
        TaskAssert.Good(t);
        Assert.Equal(24, t.DataInLength);
        AssertDescriptor(t.DataIn.Span[8..], 1, 256, 0);

        t = await disk.RunAsync(Cdb.GetLbaStatus(0, 24));
        AssertDescriptor(t.DataIn.Span[8..], 0, 1, 1);

        t = await disk.RunAsync(Cdb.GetLbaStatus(0, 4));
        TaskAssert.Good(t);
        Assert.Equal(4, t.DataInLength);
    }

    [Fact]
    public async Task GetLbaStatus_ThickVolume_AllMapped()
    {
        var disk = DiskHarness.Create(thin: false);
        var t = await disk.RunAsync(Cdb.GetLbaStatus(24, 1024));
        TaskAssert.Good(t);
        Assert.Equal(24, t.DataInLength);
        AssertDescriptor(t.DataIn.Span[8..], 24, 1000, 0);
    }

    private static void AssertDescriptor(ReadOnlySpan<byte> d, ulong lba, uint blocks, byte status)
    {
        Assert.Equal(lba, BinaryPrimitives.ReadUInt64BigEndian(d));
        Assert.Equal(blocks, BinaryPrimitives.ReadUInt32BigEndian(d[8..]));
        Assert.Equal(status, d[12] & 0x0F);
    }
}

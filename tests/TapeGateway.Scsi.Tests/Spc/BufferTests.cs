using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Spc;

/// <summary>SPC-4 READ BUFFER(10) / WRITE BUFFER: data (02h), descriptor (03h), echo (0Ah) and echo descriptor (0Bh) modes.</summary>
public sealed class BufferTests
{
    private const int Capacity = 64 * 1024;

    internal static byte[] ReadBuffer(int mode, int offset = 0, int allocation = 0, byte bufferId = 0) =>
        [0x3C, (byte)mode, bufferId, (byte)(offset >> 16), (byte)(offset >> 8), (byte)offset, (byte)(allocation >> 16), (byte)(allocation >> 8), (byte)allocation, 0];

    internal static byte[] WriteBuffer(int mode, int offset = 0, int length = 0, byte bufferId = 0) =>
        [0x3B, (byte)mode, bufferId, (byte)(offset >> 16), (byte)(offset >> 8), (byte)offset, (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0];

    internal static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(100, 300)]
    [InlineData(0, Capacity)]
    [InlineData(Capacity - 1, 1)]
    [InlineData(Capacity, 0)]
    public async Task Data_WriteThenRead_RoundTrips(int offset, int length)
    {
        var f = new SpcFixture();
        var data = Pattern(length, offset + length);
        (await f.Run(f.A, WriteBuffer(0x02, offset, length), data)).AssertGood();
        var t = await f.Run(f.A, ReadBuffer(0x02, offset, length));
        t.AssertGood();
        Assert.Equal(data, t.Data());
    }

    [Fact]
    public async Task Data_IsSharedByTheNexuses_AndUnwrittenBytesAreZero()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, WriteBuffer(0x02, 8, 4), [1, 2, 3, 4])).AssertGood();
        var t = await f.Run(f.B, ReadBuffer(0x02, 4, 12));
        t.AssertGood();
        Assert.Equal(new byte[] { 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0 }, t.Data());
    }

    [Fact]
    public async Task Data_NeverWritten_ReadsZeros()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, ReadBuffer(0x02, 0, 512));
        t.AssertGood();
        Assert.Equal(new byte[512], t.Data());
    }

    [Theory]
    [InlineData(0, 0xFF_FFFF, Capacity)]     // allocation length past the buffer: what it holds
    [InlineData(Capacity - 10, 100, 10)]
    [InlineData(Capacity, 100, 0)]
    [InlineData(0, 0, 0)]
    public async Task Data_ReadIsClippedToTheBuffer(int offset, int allocation, int expected)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, ReadBuffer(0x02, offset, allocation));
        t.AssertGood();
        Assert.Equal(expected, t.DataIn.Length);
    }

    [Theory]
    [InlineData(Capacity + 1, 0, 0, 3)]
    [InlineData(0xFF_FFFF, 1, 0, 3)]
    [InlineData(Capacity, 1, 0, 6)]
    [InlineData(0, Capacity + 1, 0, 6)]
    [InlineData(65000, 1000, 0, 6)]
    [InlineData(0, 16, 1, 2)]
    public async Task Data_WritePastTheCapacityOrAnotherBuffer_IsInvalidFieldInCdb_AndChangesNothing(int offset, int length, byte bufferId, int pointer)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, WriteBuffer(0x02, offset, length, bufferId), Pattern(Math.Min(length, Capacity + 1), 3));
        t.AssertInvalidCdbField(pointer);
        var check = await f.Run(f.A, ReadBuffer(0x02, 0, Capacity));
        Assert.Equal(new byte[Capacity], check.Data());
    }

    [Theory]
    [InlineData(Capacity + 1, 0, 3)]
    [InlineData(0, 1, 2)]
    [InlineData(0, 0xFF, 2)]
    public async Task Data_ReadOutsideTheBuffer_IsInvalidFieldInCdb(int offset, byte bufferId, int pointer)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, ReadBuffer(0x02, offset, 16, bufferId))).AssertInvalidCdbField(pointer);
    }

    [Fact]
    public async Task Data_ShortDataOut_IsParameterListLengthError()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, WriteBuffer(0x02, 0, 12), [1, 2, 3, 4])).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
    }

    [Theory]
    [InlineData(0, 0xFF, new byte[] { 0x00, 0x01, 0x00, 0x00 })]
    [InlineData(0, 4, new byte[] { 0x00, 0x01, 0x00, 0x00 })]
    [InlineData(0, 2, new byte[] { 0x00, 0x01 })]
    [InlineData(0, 0, new byte[0])]
    [InlineData(1, 4, new byte[] { 0x00, 0x00, 0x00, 0x00 })]  // no such buffer: all zeros
    [InlineData(0x80, 4, new byte[] { 0x00, 0x00, 0x00, 0x00 })]
    public async Task Descriptor_OffsetBoundaryAndCapacity(byte bufferId, int allocation, byte[] expected)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, ReadBuffer(0x03, 0, allocation, bufferId));
        t.AssertGood();
        Assert.Equal(expected, t.Data());
    }

    [Theory]
    [InlineData(0xFF, new byte[] { 0x00, 0x00, 0x10, 0x00 })]
    [InlineData(3, new byte[] { 0x00, 0x00, 0x10 })]
    public async Task EchoDescriptor_Capacity4KiB_NoOverwrittenReporting(int allocation, byte[] expected)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, ReadBuffer(0x0B, 0, allocation));
        t.AssertGood();
        Assert.Equal(expected, t.Data());
    }

    [Fact]
    public async Task Echo_IsPerNexus()
    {
        var f = new SpcFixture();
        var a = Pattern(64, 1);
        var b = Pattern(4096, 2);
        (await f.Run(f.A, WriteBuffer(0x0A, 0, a.Length), a)).AssertGood();
        (await f.Run(f.B, ReadBuffer(0x0A, 0, 4096))).AssertSense(SenseKey.IllegalRequest, 0x2C, 0x00);
        (await f.Run(f.B, WriteBuffer(0x0A, 0, b.Length), b)).AssertGood();
        var readA = await f.Run(f.A, ReadBuffer(0x0A, 0, 4096));
        readA.AssertGood();
        Assert.Equal(a, readA.Data());
        var readB = await f.Run(f.B, ReadBuffer(0x0A, 0, 4096));
        readB.AssertGood();
        Assert.Equal(b, readB.Data());
    }

    [Fact]
    public async Task Echo_IgnoresBufferIdAndOffset_AndClipsToTheAllocationLength()
    {
        var f = new SpcFixture();
        var a = Pattern(100, 5);
        (await f.Run(f.A, WriteBuffer(0x0A, 0x123456, a.Length, bufferId: 9), a)).AssertGood();
        var t = await f.Run(f.A, ReadBuffer(0x0A, 0x10, 10, bufferId: 3));
        t.AssertGood();
        Assert.Equal(a[..10], t.Data());
    }

    [Fact]
    public async Task Echo_ReadBeforeAnyWrite_IsCommandSequenceError()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, ReadBuffer(0x0A, 0, 16))).AssertSense(SenseKey.IllegalRequest, 0x2C, 0x00);
    }

    [Fact]
    public async Task Echo_WritePastTheCapacity_IsInvalidFieldInCdb()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, WriteBuffer(0x0A, 0, 4097), new byte[4097])).AssertInvalidCdbField(6);
        (await f.Run(f.A, ReadBuffer(0x0A, 0, 16))).AssertSense(SenseKey.IllegalRequest, 0x2C, 0x00);
    }

    [Fact]
    public async Task Echo_ForgottenWhenTheNexusIsLost()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, WriteBuffer(0x0A, 0, 4), [1, 2, 3, 4])).AssertGood();
        Assert.NotNull(f.Unit.Buffers.ReadEcho(f.A));
        f.Target.NexusLost(f.A);
        Assert.Null(f.Unit.Buffers.ReadEcho(f.A));
    }

    [Theory]
    [InlineData(TaskManagementEvent.LogicalUnitReset, true)]
    [InlineData(TaskManagementEvent.TargetColdReset, false)]
    public async Task OnlyAHardResetEmptiesTheBuffers(TaskManagementEvent reset, bool kept)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, WriteBuffer(0x02, 0, 4), [1, 2, 3, 4])).AssertGood();
        (await f.Run(f.A, WriteBuffer(0x0A, 0, 4), [5, 6, 7, 8])).AssertGood();
        f.Target.TaskManagement(reset, new Lun(0), f.A);
        f.ConsumeUnitAttentions(f.A);
        var data = await f.Run(f.A, ReadBuffer(0x02, 0, 4));
        Assert.Equal(kept ? new byte[] { 1, 2, 3, 4 } : new byte[4], data.Data());
        var echo = await f.Run(f.A, ReadBuffer(0x0A, 0, 4));
        if (kept)
        {
            Assert.Equal(new byte[] { 5, 6, 7, 8 }, echo.Data());
        }
        else
        {
            echo.AssertSense(SenseKey.IllegalRequest, 0x2C, 0x00);
        }
    }

    [Theory]
    [InlineData(0x00)] // combined header and data
    [InlineData(0x01)] // vendor specific
    [InlineData(0x07)]
    [InlineData(0x1A)] // enable expander communications
    [InlineData(0x1C)] // error history
    [InlineData(0x1F)]
    public async Task Read_OtherModes_AreInvalidFieldInCdbAtTheModeField(int mode)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, ReadBuffer(mode, 0, 16))).AssertInvalidCdbField(1, 4);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x01)]
    [InlineData(0x03)] // descriptor: READ BUFFER only
    [InlineData(0x04)] // download microcode and activate
    [InlineData(0x05)] // download microcode and save
    [InlineData(0x06)]
    [InlineData(0x07)]
    [InlineData(0x0B)]
    [InlineData(0x0D)]
    [InlineData(0x0E)]
    [InlineData(0x0F)]
    [InlineData(0x1A)]
    [InlineData(0x1C)]
    [InlineData(0xE5)] // download microcode with MODE SPECIFIC bits set
    public async Task Write_OtherModes_AreInvalidFieldInCdbAtTheModeField(int mode)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, WriteBuffer(mode, 0, 16), new byte[16])).AssertInvalidCdbField(1, 4);
    }

    [Fact]
    public async Task WriteBuffer_ConflictsWithAnotherNexussReserve()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, [0x16, 0, 0, 0, 0, 0])).AssertGood(); // RESERVE(6)
        (await f.Run(f.B, WriteBuffer(0x02, 0, 4), [1, 2, 3, 4])).AssertConflict();
        (await f.Run(f.A, WriteBuffer(0x02, 0, 4), [1, 2, 3, 4])).AssertGood();
    }
}

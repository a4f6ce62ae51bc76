using System.Buffers.Binary;
using System.Text;
using TapeGateway.Media.Block;
using TapeGateway.Scsi.Sbc;

namespace TapeGateway.Scsi.Tests.Sbc;

public sealed class DiskCapacityAndPagesTests
{
    [Theory]
    [InlineData(1024L, 512)]
    [InlineData(300L, 4096)]
    public async Task ReadCapacity10(long blocks, int blockSize)
    {
        var disk = DiskHarness.Create(blocks, blockSize);
        var t = await disk.RunAsync([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        TaskAssert.Good(t);
        Assert.Equal(8, t.DataInLength);
        Assert.Equal((uint)(blocks - 1), BinaryPrimitives.ReadUInt32BigEndian(t.DataIn.Span));
        Assert.Equal((uint)blockSize, BinaryPrimitives.ReadUInt32BigEndian(t.DataIn.Span[4..]));
    }

    [Fact]
    public async Task ReadCapacity10_HugeVolume_ReportsFFFFFFFF_And16HasTheTruth()
    {
        var disk = DiskHarness.Create(1L << 33);
        var t = await disk.RunAsync([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Equal(0xFFFF_FFFFu, BinaryPrimitives.ReadUInt32BigEndian(t.DataIn.Span));
        t = await disk.RunAsync(Cdb.ReadCapacity16());
        Assert.Equal((1UL << 33) - 1, BinaryPrimitives.ReadUInt64BigEndian(t.DataIn.Span));

        // The same disk accepts READ(16) at the far end.
        TaskAssert.Good(await disk.RunAsync(Cdb.Read16((1UL << 33) - 1, 1)));
        TaskAssert.OutOfRange(await disk.RunAsync(Cdb.Read16(1UL << 33, 1)));
    }

    [Theory]
    [InlineData(true, 0xC0)]
    [InlineData(false, 0x00)]
    public async Task ReadCapacity16_ProvisioningBits(bool thin, byte expected)
    {
        var disk = DiskHarness.Create(2048, 4096, thin: thin);
        var t = await disk.RunAsync(Cdb.ReadCapacity16());
        TaskAssert.Good(t);
        var d = t.DataIn.Span;
        Assert.Equal(32, d.Length);
        Assert.Equal(2047UL, BinaryPrimitives.ReadUInt64BigEndian(d));
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32BigEndian(d[8..]));
        Assert.Equal(0, d[12]); // no protection
        Assert.Equal(0, d[13]); // one logical block per physical block
        Assert.Equal(expected, d[14]);
        Assert.Equal(0, d[15]);
    }

    [Fact]
    public async Task ReadCapacity16_AllocationLengthClips()
    {
        var disk = DiskHarness.Create();
        for (var i = 0u; i < 16; i++)
        {
            var t = await disk.RunAsync(Cdb.ReadCapacity16(i));
            TaskAssert.Good(t);
            Assert.Equal((int)i, t.DataInLength);
        }
    }

    [Fact]
    public async Task SynchronizeCache_FlushesTheVolume()
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw10(0x35, 0, 0)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw10(0x35, 100, 10, 0x02))); // IMMED
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw16(0x91, 1023, 1)));
        Assert.Equal(3, disk.Memory.FlushCount);
    }

    [Fact]
    public async Task PreFetch_IsGoodInRange()
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw10(0x34, 0, 0)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw10(0x34, 768, 256, 0x02)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw16(0x90, 1023, 1)));
    }

    [Theory]
    [InlineData(new byte[] { 0x37, 0, 0x00, 0, 0, 0, 0, 0, 32, 0 }, 4, 0x00)]
    [InlineData(new byte[] { 0x37, 0, 0x1D, 0, 0, 0, 0, 0, 32, 0 }, 4, 0x1D)]
    [InlineData(new byte[] { 0xB7, 0x00, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 }, 8, 0x00)]
    [InlineData(new byte[] { 0xB7, 0x0B, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 }, 8, 0x0B)]
    public async Task ReadDefectData_EmptyListInTheRequestedFormat(byte[] cdb, int length, byte echoed)
    {
        var disk = DiskHarness.Create();
        var t = await disk.RunAsync(cdb);
        TaskAssert.Good(t);
        Assert.Equal(length, t.DataInLength);
        Assert.Equal(echoed, t.DataIn.Span[1]);
        Assert.All(t.DataIn.Span[2..].ToArray(), b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0x01)] // start
    [InlineData(0x03)] // load
    [InlineData(0x04)] // stop without flush
    [InlineData(0x10)] // power condition ACTIVE
    [InlineData(0xB0)] // FORCE_STANDBY_0
    public async Task StartStopUnit_IsAccepted(byte b4)
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync([0x1B, 0x01, 0, 0, b4, 0]));
        Assert.Equal(0, disk.Memory.FlushCount);
    }

    [Theory]
    [InlineData(0x00)] // stop
    [InlineData(0x02)] // stop + eject: LOEJ is accepted and ignored on a non-removable unit, the stop still flushes
    public async Task StartStopUnit_StopFlushes(byte b4)
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync([0x1B, 0, 0, 0, b4, 0]));
        Assert.Equal(1, disk.Memory.FlushCount);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task PreventAllowMediumRemoval_IsAccepted(byte prevent)
    {
        var disk = DiskHarness.Create();
        TaskAssert.Good(await disk.RunAsync([0x1E, 0, 0, 0, prevent, 0]));
    }

    [Fact]
    public async Task Inquiry_IdentifiesADirectAccessDisk()
    {
        var disk = DiskHarness.Create();
        var t = await disk.RunAsync([0x12, 0, 0, 0, 96, 0]);
        TaskAssert.Good(t);
        var d = t.DataIn.Span;
        Assert.Equal(0x00, d[0]);
        Assert.Equal(0x00, d[1] & 0x80); // not removable
        Assert.Equal(0, d[5] & 0x01); // PROTECT=0
        Assert.Equal("TAPEGW  ", Encoding.ASCII.GetString(d.Slice(8, 8)));
        Assert.Equal("VIRTUAL-DISK    ", Encoding.ASCII.GetString(d.Slice(16, 16)));
    }

    [Fact]
    public async Task Vpd_SupportedPagesIncludeTheSbcPagesInOrder()
    {
        var disk = DiskHarness.Create();
        var t = await disk.RunAsync(Cdb.Inquiry(0x00));
        TaskAssert.Good(t);
        var pages = t.DataIn.Span[4..].ToArray();
        Assert.Equal(pages.Order().ToArray(), pages);
        Assert.Contains((byte)0xB0, pages);
        Assert.Contains((byte)0xB1, pages);
        Assert.Contains((byte)0xB2, pages);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Vpd_BlockLimits(int blockSize)
    {
        var disk = DiskHarness.Create(4096, blockSize);
        var t = await disk.RunAsync(Cdb.Inquiry(0xB0));
        TaskAssert.Good(t);
        var d = t.DataIn.Span;
        Assert.Equal(0xB0, d[1]);
        Assert.Equal(0x3C, BinaryPrimitives.ReadUInt16BigEndian(d[2..]));
        Assert.Equal(0, d[4] & 0x01); // WSNZ
        Assert.Equal(1, d[5]); // MAXIMUM COMPARE AND WRITE LENGTH
        Assert.Equal(Math.Max(1, 4096 / blockSize), BinaryPrimitives.ReadUInt16BigEndian(d[6..]));
        Assert.Equal((uint)((8 << 20) / blockSize), BinaryPrimitives.ReadUInt32BigEndian(d[8..]));
        Assert.Equal((uint)((1 << 20) / blockSize), BinaryPrimitives.ReadUInt32BigEndian(d[12..]));
        Assert.Equal((uint)Math.Min((1 << 30) / blockSize, 1 << 20), BinaryPrimitives.ReadUInt32BigEndian(d[20..]));
        Assert.Equal(256u, BinaryPrimitives.ReadUInt32BigEndian(d[24..]));
        Assert.Equal((uint)Math.Max(1, 4096 / blockSize), BinaryPrimitives.ReadUInt32BigEndian(d[28..]));
        Assert.Equal(0x8000_0000u, BinaryPrimitives.ReadUInt32BigEndian(d[32..]));
        Assert.Equal((ulong)((8 << 20) / blockSize), BinaryPrimitives.ReadUInt64BigEndian(d[36..]));
    }

    [Fact]
    public async Task Vpd_BlockLimits_ThickVolumeReportsNoUnmap()
    {
        var disk = DiskHarness.Create(thin: false);
        var d = (await disk.RunAsync(Cdb.Inquiry(0xB0))).DataIn.Span;
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(d[20..]));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(d[24..]));
    }

    [Fact]
    public async Task Vpd_BlockDeviceCharacteristics_NonRotating()
    {
        var disk = DiskHarness.Create();
        var d = (await disk.RunAsync(Cdb.Inquiry(0xB1))).DataIn.Span;
        Assert.Equal(0xB1, d[1]);
        Assert.Equal(0x3C, BinaryPrimitives.ReadUInt16BigEndian(d[2..]));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(d[4..]));
    }

    [Theory]
    [InlineData(true, 0xE4, 0x02)]
    [InlineData(false, 0x00, 0x00)]
    public async Task Vpd_LogicalBlockProvisioning(bool thin, byte flags, byte type)
    {
        var disk = DiskHarness.Create(thin: thin);
        var d = (await disk.RunAsync(Cdb.Inquiry(0xB2))).DataIn.Span;
        Assert.Equal(0xB2, d[1]);
        Assert.Equal(4, BinaryPrimitives.ReadUInt16BigEndian(d[2..]));
        Assert.Equal(flags, d[5]); // LBPU | LBPWS | LBPWS10 | LBPRZ, no ANC_SUP
        Assert.Equal(type, d[6] & 0x07);
    }

    [Theory]
    [InlineData(false, 0x10)]
    [InlineData(true, 0x90)]
    public async Task ModeSense_DeviceSpecificParameterAndBlockDescriptor(bool readOnly, byte expected)
    {
        var disk = DiskHarness.Create(2000, 512, readOnly);
        var t = await disk.RunAsync(Cdb.ModeSense6());
        TaskAssert.Good(t);
        var d = t.DataIn.Span;
        Assert.Equal(expected, d[2]);
        Assert.Equal(8, d[3]);
        Assert.Equal(2000u, BinaryPrimitives.ReadUInt32BigEndian(d[4..]) & 0xFF_FFFF);
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32BigEndian(d[8..]) & 0xFF_FFFF);

        // Caching (08h) and Read-Write Error Recovery (01h) pages are present.
        var pages = new List<byte>();
        for (var at = 12; at < d.Length; at += 2 + d[at + 1])
        {
            pages.Add((byte)(d[at] & 0x3F));
        }

        Assert.Contains((byte)0x08, pages);
        Assert.Contains((byte)0x01, pages);
    }

    [Fact]
    public async Task ReportSupportedOperationCodes_ReportsDpoFuaUsage()
    {
        var disk = DiskHarness.Create();
        foreach (var opcode in new byte[] { 0x28, 0x2A, 0x88, 0x8A, 0x89, 0x2F, 0x2E })
        {
            var t = await disk.RunAsync([0xA3, 0x0C, 0x01, opcode, 0, 0, 0, 0, 0x01, 0x00, 0, 0]);
            TaskAssert.Good(t);
            var d = t.DataIn.Span;
            Assert.Equal(0x03, d[1] & 0x07); // supported
            Assert.Equal(0x10, d[4 + 1] & 0x10); // DPO
        }
    }

    [Fact]
    public async Task ReportSupportedOperationCodes_ServiceActionIn()
    {
        var disk = DiskHarness.Create();
        var t = await disk.RunAsync([0xA3, 0x0C, 0x02, 0x9E, 0, 0x12, 0, 0, 0x01, 0x00, 0, 0]);
        TaskAssert.Good(t);
        Assert.Equal(0x03, t.DataIn.Span[1] & 0x07);
        Assert.Equal(16, BinaryPrimitives.ReadUInt16BigEndian(t.DataIn.Span[2..]));
    }

    [Fact]
    public void Personality_DerivesStableIdentity()
    {
        var a = DiskPersonality.Default.CreateIdentity("vol-a");
        var again = DiskPersonality.Default.CreateIdentity("vol-a");
        var b = DiskPersonality.Default.CreateIdentity("vol-b");
        Assert.Equal(a, again);
        Assert.NotEqual(a.SerialNumber, b.SerialNumber);
        Assert.NotEqual(a.NaaIdentifier, b.NaaIdentifier);
        Assert.Equal(0x5UL, a.NaaIdentifier >> 60);
        Assert.StartsWith("TGD", a.SerialNumber, StringComparison.Ordinal);
        Assert.Equal(16, a.SerialNumber.Length);

        var custom = new DiskPersonality { ProductId = "OTHER", SerialNumberOverride = "S123", NaaIdentifierOverride = 0x6000_0000_0000_0001 }
            .CreateIdentity("vol-a");
        Assert.Equal("OTHER", custom.ProductId);
        Assert.Equal("S123", custom.SerialNumber);
        Assert.Equal(0x6000_0000_0000_0001UL, custom.NaaIdentifier);
    }

    [Fact]
    public async Task Vpd_SerialNumber_IsTheDerivedSerial()
    {
        var disk = DiskHarness.Create();
        var t = await disk.RunAsync(Cdb.Inquiry(0x80));
        var serial = Encoding.ASCII.GetString(t.DataIn.Span[4..]).Trim();
        Assert.Equal(DiskPersonality.Default.CreateIdentity("volume-under-test").SerialNumber, serial);
    }

    [Fact]
    public async Task UnitAttention_IsReportedBeforeDiskCommands()
    {
        var disk = DiskHarness.Create();
        var target = new ScsiTargetDevice("iqn.t").Add(disk.Unit);
        var nexus = new Core.Scsi.ItNexus("iqn.other", 2, "iqn.t", 1);
        target.NexusCreated(nexus);
        var task = new Core.Scsi.ScsiTask();
        task.SetCdb(Cdb.Read10(0, 1));
        task.Nexus = nexus;
        await target.ExecuteAsync(task);
        TaskAssert.Sense(task, Sense.SenseKey.UnitAttention, 0x29, 0x00);
    }

    [Fact]
    public async Task WriteGate_ExclusiveWaitsForSharedHolders()
    {
        var gate = new WriteGate();
        var shared = await gate.EnterSharedAsync(default);
        var exclusive = gate.EnterExclusiveAsync(default).AsTask();
        await Task.Delay(50);
        Assert.False(exclusive.IsCompleted);
        shared.Dispose();
        Task<WriteGate.Releaser> second;
        using (await exclusive)
        {
            second = gate.EnterSharedAsync(default).AsTask();
            await Task.Delay(50);
            Assert.False(second.IsCompleted);
        }

        (await second).Dispose();
    }

    [Fact]
    public async Task FileVolume_GetLbaStatusSeesHoles()
    {
        var dir = Directory.CreateTempSubdirectory("tgw-sbc-");
        try
        {
            await using var volume = FileBlockVolume.Create(Path.Combine(dir.FullName, "thin.img"), 1024, 4096);
            var disk = new DiskHarness(volume);
            TaskAssert.Good(await disk.RunAsync(Cdb.Write10(100, 10), disk.Pattern(10, 1)));
            var t = await disk.RunAsync(Cdb.GetLbaStatus(0, 1024));
            TaskAssert.Good(t);
            var d = t.DataIn.Span;
            if (OperatingSystem.IsLinux())
            {
                Assert.Equal(100UL, (ulong)BinaryPrimitives.ReadUInt32BigEndian(d[(8 + 8)..]));
                Assert.Equal(1, d[8 + 12]);
                Assert.Equal(100UL, BinaryPrimitives.ReadUInt64BigEndian(d[24..]));
                Assert.Equal(10u, BinaryPrimitives.ReadUInt32BigEndian(d[(24 + 8)..]));
                Assert.Equal(0, d[24 + 12]);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

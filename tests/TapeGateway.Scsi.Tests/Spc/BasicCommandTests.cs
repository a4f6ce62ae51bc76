using System.Buffers.Binary;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Spc;

public class TestUnitReadyAndRequestSenseTests
{
    [Fact]
    public async Task TestUnitReadyIsGoodWhenReady()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task TestUnitReadyReportsTheNotReadyReason()
    {
        var f = new SpcFixture();
        f.Unit.NotReadyReason = SenseReason.MediumNotPresent;
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertSense(SenseKey.NotReady, 0x3A, 0x00);
    }

    [Fact]
    public async Task RequestSenseReturnsAndClearsThePendingUnitAttention()
    {
        var f = new SpcFixture(consumeUnitAttentions: false);
        var t = await f.Run(f.A, Scsi.RequestSense());
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(18, d.Length);
        Assert.Equal(0x70, d[0]);
        Assert.Equal((SenseKey.UnitAttention, (byte)0x29, (byte)0x00), SenseDataBuilder.Parse(d));
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertGood();

        // B's unit attention is its own.
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertSense(SenseKey.UnitAttention, 0x29, 0x00);
    }

    [Fact]
    public async Task RequestSenseDescBitSelectsDescriptorFormat()
    {
        var f = new SpcFixture(consumeUnitAttentions: false);
        var d = (await f.Run(f.A, Scsi.RequestSense(desc: true))).Data();
        Assert.Equal(8, d.Length);
        Assert.Equal(new byte[] { 0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0 }, d);
    }

    [Fact]
    public async Task RequestSenseWithoutConditionIsNoSense()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.RequestSense());
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(0x70, d[0]);
        Assert.Equal((SenseKey.NoSense, (byte)0, (byte)0), SenseDataBuilder.Parse(d));
        Assert.Equal(10, d[7]);
    }

    [Fact]
    public async Task RequestSenseReportsNotReadyAsData()
    {
        var f = new SpcFixture();
        f.Unit.NotReadyReason = SenseReason.MediumNotPresent;
        var t = await f.Run(f.A, Scsi.RequestSense());
        t.AssertGood();
        Assert.Equal((SenseKey.NotReady, (byte)0x3A, (byte)0), SenseDataBuilder.Parse(t.DataIn.Span));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(8, 8)]
    [InlineData(18, 18)]
    [InlineData(252, 18)]
    public async Task RequestSenseHonoursAllocationLength(byte allocation, int expected)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.RequestSense(allocation: allocation));
        t.AssertGood();
        Assert.Equal(expected, t.DataIn.Length);
    }
}

public class ReportLunsTests
{
    [Fact]
    public async Task ListsEveryUnitWithSamEncoding()
    {
        var f = new SpcFixture();
        f.Target.Add(new SpcTestUnit(300, "SPC0300"));
        f.Target.Add(new SpcTestUnit(5, "SPC0005"));
        var t = await f.Run(f.A, Scsi.ReportLuns());
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(32, d.Length);
        Assert.Equal(24u, BinaryPrimitives.ReadUInt32BigEndian(d));
        Assert.Equal(0x0000_0000_0000_0000UL, BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(8)));
        Assert.Equal(0x0005_0000_0000_0000UL, BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(16)));
        Assert.Equal(0x412C_0000_0000_0000UL, BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(24)));
    }

    [Theory]
    [InlineData(0x00, 16)]
    [InlineData(0x02, 16)]
    [InlineData(0x01, 8)]
    public async Task SelectReport(byte select, int expected)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.ReportLuns(select));
        t.AssertGood();
        Assert.Equal(expected, t.DataIn.Length);
        Assert.Equal((uint)(expected - 8), BinaryPrimitives.ReadUInt32BigEndian(t.Data()));
    }

    [Theory]
    [InlineData(0x03, 4096u, 2)]
    [InlineData(0xFF, 4096u, 2)]
    [InlineData(0x00, 15u, 6)]
    [InlineData(0x00, 0u, 6)]
    public async Task InvalidFields(byte select, uint allocation, int pointer)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.ReportLuns(select, allocation))).AssertInvalidCdbField(pointer);
    }

    [Fact]
    public async Task TruncatesButKeepsListLength()
    {
        var f = new SpcFixture();
        f.Target.Add(new SpcTestUnit(1, "SPC0001b"));
        var t = await f.Run(f.A, Scsi.ReportLuns(allocation: 16));
        t.AssertGood();
        Assert.Equal(16, t.DataIn.Length);
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32BigEndian(t.Data()));
    }

    [Fact]
    public async Task ClearsReportedLunsDataChanged()
    {
        var f = new SpcFixture();
        f.Unit.UnitAttentions.Add(f.A, SenseReason.ReportedLunsDataChanged);
        (await f.Run(f.A, Scsi.ReportLuns())).AssertGood();
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertGood();
    }
}

public class MaintenanceInTests
{
    [Fact]
    public async Task AllCommandsLengthMath()
    {
        var f = new SpcFixture();
        var count = f.Unit.SupportedCommands.Count;
        var t = await f.Run(f.A, Scsi.ReportSupportedOperationCodes(0));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(4 + (8 * count), d.Length);
        Assert.Equal((uint)(8 * count), BinaryPrimitives.ReadUInt32BigEndian(d));
        for (var i = 0; i < count; i++)
        {
            var desc = d.AsSpan(4 + (8 * i), 8);
            var c = f.Unit.SupportedCommands[i];
            Assert.Equal(c.OperationCode, desc[0]);
            Assert.Equal(c.ServiceAction ?? 0, BinaryPrimitives.ReadUInt16BigEndian(desc[2..]));
            Assert.Equal(c.ServiceAction is null ? 0 : 1, desc[5]);
            Assert.Equal(c.CdbUsage.Length, BinaryPrimitives.ReadUInt16BigEndian(desc[6..]));
            Assert.Equal(c.OperationCode, c.CdbUsage[0]);
        }

        var servactv = Enumerable.Range(0, count).Where(i => d[4 + (8 * i) + 5] == 1).Select(i => d[4 + (8 * i)]).Distinct().Order();
        Assert.Equal(new byte[] { 0x5E, 0x5F, 0xA3, 0xA4 }, servactv);
    }

    [Fact]
    public async Task AllCommandsWithTimeoutDescriptors()
    {
        var f = new SpcFixture();
        var count = f.Unit.SupportedCommands.Count;
        var d = (await f.Run(f.A, Scsi.ReportSupportedOperationCodes(0, rctd: true))).Data();
        Assert.Equal(4 + (20 * count), d.Length);
        Assert.Equal((uint)(20 * count), BinaryPrimitives.ReadUInt32BigEndian(d));
        for (var i = 0; i < count; i++)
        {
            var desc = d.AsSpan(4 + (20 * i), 20);
            Assert.Equal(0x02, desc[5] & 0x02);
            Assert.Equal(0x0A, BinaryPrimitives.ReadUInt16BigEndian(desc[8..]));
        }
    }

    [Fact]
    public async Task AllCommandsTruncatedKeepsDataLength()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.ReportSupportedOperationCodes(0, allocation: 12));
        t.AssertGood();
        Assert.Equal(12, t.DataIn.Length);
        Assert.Equal((uint)(8 * f.Unit.SupportedCommands.Count), BinaryPrimitives.ReadUInt32BigEndian(t.Data()));
    }

    [Theory]
    [InlineData(1, 0x12, 0, 0x03, new byte[] { 0x12, 0x01, 0xFF, 0xFF, 0xFF, 0x00 })]
    [InlineData(1, 0x28, 0, 0x01, new byte[0])] // READ(10) is not an SPC command
    [InlineData(2, 0xA3, 0x0C, 0x03, new byte[] { 0xA3, 0x1F, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00 })]
    [InlineData(2, 0x5F, 0x07, 0x01, new byte[0])] // REGISTER AND MOVE is not supported
    [InlineData(3, 0x12, 0, 0x03, new byte[] { 0x12, 0x01, 0xFF, 0xFF, 0xFF, 0x00 })]
    [InlineData(3, 0x12, 1, 0x01, new byte[0])]
    [InlineData(3, 0x5E, 0x03, 0x03, new byte[] { 0x5E, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0 })]
    public async Task OneCommand(byte options, byte opcode, ushort serviceAction, byte support, byte[] usage)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.ReportSupportedOperationCodes(options, opcode, serviceAction));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(support, d[1]);
        Assert.Equal(usage.Length, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal(usage, d.AsSpan(4).ToArray());
    }

    [Theory]
    [InlineData(1, 0x5E, 0, 3, null)] // 001b with an opcode that has service actions
    [InlineData(1, 0xA3, 0x0C, 3, null)]
    [InlineData(2, 0x12, 0, 3, null)] // 010b with an opcode that has none
    [InlineData(4, 0x12, 0, 2, 2)]
    [InlineData(7, 0x12, 0, 2, 2)]
    public async Task OneCommandErrors(byte options, byte opcode, ushort serviceAction, int pointer, int? bit)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.ReportSupportedOperationCodes(options, opcode, serviceAction))).AssertInvalidCdbField(pointer, bit);
    }

    [Fact]
    public async Task OneCommandWithTimeouts()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.ReportSupportedOperationCodes(1, 0x00, rctd: true))).Data();
        Assert.Equal(0x83, d[1]);
        Assert.Equal(4 + 6 + 12, d.Length);
        Assert.Equal(0x0A, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(10)));
    }

    /// <summary>What iscsi-test-cu's one_command test does: every listed command can be queried on its own.</summary>
    [Fact]
    public async Task EveryListedCommandIsReportedIndividually()
    {
        var f = new SpcFixture();
        foreach (var c in f.Unit.SupportedCommands)
        {
            var sa = c.ServiceAction ?? 0;
            (await f.Run(f.A, Scsi.ReportSupportedOperationCodes(1, c.OperationCode, sa))).Let(t =>
            {
                if (c.ServiceAction is null)
                {
                    t.AssertGood();
                }
                else
                {
                    t.AssertInvalidCdbField(3);
                }
            });
            (await f.Run(f.A, Scsi.ReportSupportedOperationCodes(2, c.OperationCode, sa))).Let(t =>
            {
                if (c.ServiceAction is null)
                {
                    t.AssertInvalidCdbField(3);
                }
                else
                {
                    t.AssertGood();
                }
            });
            var one = await f.Run(f.A, Scsi.ReportSupportedOperationCodes(c.ServiceAction is null ? (byte)1 : (byte)2, c.OperationCode, sa));
            var d = one.Data();
            Assert.Equal(3, d[1] & 7);
            Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
            Assert.Equal(c.OperationCode, d[4]);
        }
    }

    [Theory]
    [InlineData(false, 255u, new byte[] { 0xDA, 0, 0, 0 })]
    [InlineData(true, 255u, new byte[] { 0xDA, 0, 0, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    [InlineData(true, 2u, new byte[] { 0xDA, 0 })]
    [InlineData(false, 0u, new byte[0])]
    public async Task ReportSupportedTaskManagementFunctions(bool repd, uint allocation, byte[] expected)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.ReportSupportedTmf(repd, allocation));
        t.AssertGood();
        Assert.Equal(expected, t.Data());
    }

    [Fact]
    public async Task UnknownMaintenanceInServiceActionIsInvalid()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, [0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])).AssertInvalidCdbField(1, 4);
    }
}

public class LogSenseTests
{
    [Fact]
    public async Task SupportedPages()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.LogSense(0x00));
        t.AssertGood();
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00, 0x01, 0x00 }, t.Data());
    }

    [Fact]
    public async Task SupportedPagesAndSubpages()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.LogSense(0x00, 0xFF));
        t.AssertGood();
        Assert.Equal(new byte[] { 0x40, 0xFF, 0x00, 0x04, 0x00, 0x00, 0x00, 0xFF }, t.Data());
    }

    [Fact]
    public async Task Truncates()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.LogSense(0x00, allocation: 4));
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00, 0x01 }, t.Data());
    }

    [Fact]
    public async Task SaveParametersIsInvalid()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.LogSense(0x00, sp: true))).AssertInvalidCdbField(1, 0);
    }

    [Fact]
    public async Task UnknownPageIsInvalid()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.LogSense(0x0D))).AssertInvalidCdbField(2, 5);
    }
}

internal static class TestExtensions
{
    public static void Let<T>(this T value, Action<T> action) => action(value);
}

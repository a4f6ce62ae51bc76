using System.Buffers.Binary;
using System.Text;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Spc;

public class InquiryTests
{
    [Fact]
    public async Task StandardInquiryHasSpc4Layout()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.Inquiry(allocation: 260));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(96, d.Length);
        Assert.Equal(0x00, d[0]); // PQ 000b, direct access
        Assert.Equal(0x00, d[1]); // not removable
        Assert.Equal(0x06, d[2]); // SPC-4
        Assert.Equal(0x12, d[3]); // HISUP, response data format 2
        Assert.Equal(91, d[4]);
        Assert.Equal(0x00, d[5]); // TPGS 0, 3PC 0
        Assert.Equal(0x02, d[7]); // CMDQUE
        Assert.Equal("TAPEGW  ", Encoding.ASCII.GetString(d, 8, 8));
        Assert.Equal("SPC TEST UNIT   ", Encoding.ASCII.GetString(d, 16, 16));
        Assert.Equal("0100", Encoding.ASCII.GetString(d, 32, 4));
        var versions = Enumerable.Range(0, 8).Select(i => BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(58 + (2 * i)))).ToArray();
        Assert.Equal(new ushort[] { 0x00A0, 0x0960, 0x0460, 0x04C0, 0, 0, 0, 0 }, versions);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(5, 5)]
    [InlineData(36, 36)]
    [InlineData(95, 95)]
    [InlineData(96, 96)]
    [InlineData(255, 96)]
    [InlineData(511, 96)]
    [InlineData(512, 96)]
    public async Task AllocationLengthTruncatesWithoutChangingAdditionalLength(ushort allocation, int expected)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.Inquiry(allocation: allocation));
        t.AssertGood();
        Assert.Equal(expected, t.DataIn.Length);
        if (expected > 4)
        {
            Assert.Equal(91, t.Data()[4]);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x12, 0x00, 0x01, 0x00, 0xFF, 0x00 }, 2, null)] // EVPD=0 with a page code
    [InlineData(new byte[] { 0x12, 0x02, 0x00, 0x00, 0xFF, 0x00 }, 1, 1)] // CMDDT
    [InlineData(new byte[] { 0x12, 0x01, 0x99, 0x00, 0xFF, 0x00 }, 2, null)] // unknown VPD page
    [InlineData(new byte[] { 0x12, 0x00, 0x00, 0x00, 0xFF, 0x04 }, 5, 2)] // NACA
    public async Task InvalidCdbFields(byte[] cdb, int bytePointer, int? bit)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, cdb);
        t.AssertInvalidCdbField(bytePointer, bit);
    }

    [Fact]
    public async Task SupportedVpdPagesAreSortedAndEachIsServed()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.Inquiry(true, 0x00));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(0x00, d[1]);
        var count = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2));
        var pages = d.AsSpan(4, count).ToArray();
        Assert.Equal(new byte[] { 0x00, 0x80, 0x83, 0x86 }, pages);
        foreach (var page in pages)
        {
            var p = await f.Run(f.A, Scsi.Inquiry(true, page));
            p.AssertGood();
            Assert.Equal(page, p.Data()[1]);
            Assert.Equal(p.DataIn.Length - 4, BinaryPrimitives.ReadUInt16BigEndian(p.Data().AsSpan(2)));
        }
    }

    [Fact]
    public async Task UnitSerialNumberPage()
    {
        var f = new SpcFixture(serial: "ABC123");
        var d = (await f.Run(f.A, Scsi.Inquiry(true, 0x80))).Data();
        Assert.Equal(6, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal("ABC123", Encoding.ASCII.GetString(d, 4, 6));
    }

    [Fact]
    public async Task DeviceIdentificationDesignators()
    {
        var f = new SpcFixture(serial: "SER42");
        var t = await f.Run(f.A, Scsi.Inquiry(true, 0x83, 1024));
        t.AssertGood();
        var d = t.Data();
        var end = 4 + BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2));
        Assert.Equal(d.Length, end);
        var found = new List<(int Protocol, int CodeSet, bool Piv, int Association, int Type, byte[] Value)>();
        for (var at = 4; at < end;)
        {
            var len = d[at + 3];
            found.Add((d[at] >> 4, d[at] & 0xF, (d[at + 1] & 0x80) != 0, (d[at + 1] >> 4) & 3, d[at + 1] & 0xF, d.AsSpan(at + 4, len).ToArray()));
            at += 4 + len;
        }

        Assert.Equal(5, found.Count);

        var naa = found.Single(x => x.Type == 3);
        Assert.Equal((1, 0), (naa.CodeSet, naa.Association));
        Assert.Equal(LogicalUnitIdentity.Naa5(0x1234), BinaryPrimitives.ReadUInt64BigEndian(naa.Value));
        Assert.Equal(5, naa.Value[0] >> 4);

        var t10 = found.Single(x => x.Type == 1);
        Assert.Equal(2, t10.CodeSet);
        Assert.Equal("TAPEGW  SPC TEST UNIT   SER42", Encoding.ASCII.GetString(t10.Value));

        var relative = found.Single(x => x.Type == 4);
        Assert.Equal((5, 1, true, 1), (relative.Protocol, relative.CodeSet, relative.Piv, relative.Association));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(relative.Value.AsSpan(2)));

        var names = found.Where(x => x.Type == 8).ToArray();
        Assert.All(names, n =>
        {
            Assert.Equal((5, 3, true), (n.Protocol, n.CodeSet, n.Piv));
            Assert.Equal(0, n.Value.Length % 4);
            Assert.Equal(0, n.Value[^1]);
        });
        var port = names.Single(x => x.Association == 1);
        Assert.Equal(SpcFixture.TargetName + ",t,0x0001", Encoding.UTF8.GetString(port.Value).TrimEnd('\0'));
        var device = names.Single(x => x.Association == 2);
        Assert.Equal(SpcFixture.TargetName, Encoding.UTF8.GetString(device.Value).TrimEnd('\0'));
    }

    [Fact]
    public async Task ExtendedInquiryPageReportsTaskAttributes()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.Inquiry(true, 0x86))).Data();
        Assert.Equal(64, d.Length);
        Assert.Equal(0x3C, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal(0x07, d[5]);
    }

    [Fact]
    public async Task VpdAllocationLengthTruncates()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.Inquiry(true, 0x83, 6));
        t.AssertGood();
        Assert.Equal(6, t.DataIn.Length);
        Assert.True(BinaryPrimitives.ReadUInt16BigEndian(t.Data().AsSpan(2)) > 2);
    }

    [Fact]
    public async Task InquiryNeitherReportsNorClearsUnitAttention()
    {
        var f = new SpcFixture(consumeUnitAttentions: false);
        (await f.Run(f.A, Scsi.Inquiry())).AssertGood();
        (await f.Run(f.A, Scsi.ReportLuns())).AssertGood();
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertSense(SenseKey.UnitAttention, 0x29, 0x00);
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task RemovableMediumAndDeviceTypeComeFromTheUnit()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.Inquiry(true, 0x00))).Data();
        Assert.Equal(0x00, d[0]);
    }
}

public class MissingLunTests
{
    [Fact]
    public async Task InquiryReportsQualifier011AndType1F()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.Inquiry(), lun: 7);
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(0x7F, d[0]);
        Assert.Equal(0x06, d[2]);
        Assert.Equal(91, d[4]);
    }

    [Fact]
    public async Task VpdPageZeroOnlyWithSameQualifier()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.Inquiry(true, 0x00), lun: 7);
        t.AssertGood();
        Assert.Equal(new byte[] { 0x7F, 0x00, 0x00, 0x01, 0x00 }, t.Data());
        (await f.Run(f.A, Scsi.Inquiry(true, 0x83), lun: 7)).AssertInvalidCdbField(2);
    }

    [Fact]
    public async Task ReportLunsIsAnsweredFromTheTarget()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.ReportLuns(), lun: 7);
        t.AssertGood();
        Assert.Equal(new byte[] { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, t.Data());
    }

    [Fact]
    public async Task RequestSenseReturnsLogicalUnitNotSupportedAsData()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.RequestSense(), lun: 7);
        t.AssertGood();
        Assert.Equal((SenseKey.IllegalRequest, (byte)0x25, (byte)0x00), SenseDataBuilder.Parse(t.DataIn.Span));
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 0x1A, 0, 0x3F, 0, 0xFF, 0 })]
    [InlineData(new byte[] { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 })]
    [InlineData(new byte[] { 0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 })]
    public async Task EverythingElseIsLogicalUnitNotSupported(byte[] cdb)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, cdb, lun: 7);
        t.AssertSense(SenseKey.IllegalRequest, 0x25, 0x00);
    }
}

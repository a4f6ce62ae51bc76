using System.Buffers.Binary;
using System.Text;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Tests.Spc;
using static TapeGateway.Scsi.Tests.Smc.ChangerHarness;
using ScsiCmd = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Smc;

/// <summary>INQUIRY, mode pages 1Dh/1Eh/1Fh, MODE SELECT, LOG SENSE, RSOC and the personalities' address maps.</summary>
public sealed class ChangerIdentityAndPagesTests
{
    public static TheoryData<string, string, string, string> Identities => new()
    {
        { "AWS-Gateway-VTL", "AWS     ", "Gateway-VTL     ", "0100" },
        { "STK-L700", "STK     ", "L700            ", "0108" },
        { "IBM-03584L32-0402", "IBM     ", "03584L32        ", "0402" },
    };

    private static ChangerPersonality ByName(string name) => ChangerPersonality.All.Single(p => p.Name == name);

    [Theory]
    [MemberData(nameof(Identities))]
    public async Task StandardInquiryIsARemovableMediumChanger(string name, string vendor, string product, string revision)
    {
        var h = new ChangerHarness(ByName(name));
        var d = (await h.Run(ScsiCmd.Inquiry())).Data();
        Assert.Equal(0x08, d[0]); // PQ 0, PDT 08h medium changer
        Assert.Equal(0x80, d[1]); // RMB
        Assert.Equal(vendor, Encoding.ASCII.GetString(d, 8, 8));
        Assert.Equal(product, Encoding.ASCII.GetString(d, 16, 16));
        Assert.Equal(revision, Encoding.ASCII.GetString(d, 32, 4));
        Assert.Contains((ushort)0x0480, Enumerable.Range(0, 8).Select(i => BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(58 + (2 * i))))); // SMC-3
    }

    [Fact]
    public async Task UnitSerialNumberAndDeviceIdentification()
    {
        var h = new ChangerHarness();
        var serial = (await h.Run(ScsiCmd.Inquiry(evpd: true, page: 0x80))).Data();
        Assert.Equal("CHGR000001", Encoding.ASCII.GetString(serial, 4, serial[3]));
        var id = (await h.Run(ScsiCmd.Inquiry(evpd: true, page: 0x83))).Data();
        Assert.Equal(0x83, id[1]);
        Assert.Equal(0x5, id[8] >> 4); // NAA 5
    }

    [Fact]
    public async Task TestUnitReadyAndRequestSense()
    {
        var h = new ChangerHarness();
        (await h.Run(ScsiCmd.TestUnitReady())).AssertGood();
        var sense = (await h.Run(ScsiCmd.RequestSense())).Data();
        Assert.Equal(0x70, sense[0]);
        Assert.Equal(0, sense[2] & 0x0F);
    }

    [Fact]
    public async Task ElementAddressAssignmentPageComesFromTheBackendGeometry()
    {
        var h = new ChangerHarness();
        var d = (await h.Run(ScsiCmd.ModeSense6(0x1D, dbd: true))).Data();
        Assert.Equal(4 + 20, d.Length);
        Assert.Equal(0, d[3]); // no block descriptor on a changer
        Assert.Equal(
            new byte[] { 0x1D, 0x12, 0x00, 0x00, 0x00, 0x01, 0x03, 0xE8, 0x00, 0x05, 0x00, 0x0A, 0x00, 0x02, 0x01, 0xF4, 0x00, 0x02, 0x00, 0x00 },
            d[4..]);
    }

    [Fact]
    public async Task AwsElementAddressAssignment()
    {
        var g = ChangerPersonality.AwsGatewayVtl.DefaultGeometry;
        var h = new ChangerHarness(ChangerPersonality.AwsGatewayVtl, new FakeChangerBackend(g));
        var d = (await h.Run(ScsiCmd.ModeSense10(0x1D))).Data();
        Assert.Equal(
            new byte[] { 0x1D, 0x12, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x06, 0x40, 0x06, 0x41, 0x06, 0x40, 0x27, 0x11, 0x00, 0x0A, 0x00, 0x00 },
            d[8..]);
    }

    [Fact]
    public async Task TransportGeometryPage()
    {
        var h = new ChangerHarness();
        var d = (await h.Run(ScsiCmd.ModeSense6(0x1E, dbd: true))).Data();
        Assert.Equal(new byte[] { 0x1E, 0x02, 0x00, 0x00 }, d[4..]);
    }

    [Theory]
    [InlineData("AWS-Gateway-VTL", new byte[] { 0x1F, 0x12, 0x0E, 0x00, 0x00, 0x0E, 0x0A, 0x0E, 0, 0, 0, 0, 0x00, 0x0A, 0x00, 0x0A, 0, 0, 0, 0 })]
    [InlineData("STK-L700", new byte[] { 0x1F, 0x12, 0x0E, 0x00, 0x00, 0x0E, 0x0E, 0x0E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    [InlineData("IBM-03584L32-0402", new byte[] { 0x1F, 0x12, 0x0E, 0x00, 0x00, 0x0E, 0x0E, 0x0E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public async Task DeviceCapabilitiesPage(string name, byte[] expected)
    {
        var h = new ChangerHarness(ByName(name));
        var d = (await h.Run(ScsiCmd.ModeSense6(0x1F, dbd: true))).Data();
        Assert.Equal(expected, d[4..]);
    }

    [Fact]
    public async Task AllPagesIncludeTheSmcPagesAndNoBlockDescriptor()
    {
        var h = new ChangerHarness();
        var d = (await h.Run(ScsiCmd.ModeSense10(0x3F))).Data();
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)));
        var codes = new List<int>();
        for (var at = 8; at < d.Length; at += 2 + ((d[at] & 0x40) != 0 ? BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at + 2)) + 2 : d[at + 1]))
        {
            codes.Add(d[at] & 0x3F);
        }

        Assert.Contains(0x1D, codes);
        Assert.Contains(0x1E, codes);
        Assert.Contains(0x1F, codes);
    }

    [Fact]
    public async Task ModeSelectAcceptsUnchangedPagesAndRejectsChanges()
    {
        var h = new ChangerHarness();
        var sensed = (await h.Run(ScsiCmd.ModeSense6(0x1D, dbd: true))).Data();
        var list = new byte[sensed.Length];
        sensed.CopyTo(list, 0);
        list[0] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
        (await h.Run(ScsiCmd.ModeSelect6(list.Length), dataOut: list)).AssertGood();

        list[4 + 9] = 0x06; // try to change the number of storage elements
        (await h.Run(ScsiCmd.ModeSelect6(list.Length), dataOut: list)).AssertInvalidParameterField(4 + 9, 1);
    }

    [Fact]
    public async Task LogSenseListsAndServesTapeAlert()
    {
        var h = new ChangerHarness();
        var pages = (await h.Run(ScsiCmd.LogSense(0x00))).Data();
        Assert.Equal(new byte[] { 0x00, 0x2E }, pages[4..]);
        var alerts = (await h.Run(ScsiCmd.LogSense(0x2E, allocation: 1024))).Data();
        Assert.Equal(0x2E, alerts[0]);
        Assert.Equal(64 * 5, BinaryPrimitives.ReadUInt16BigEndian(alerts.AsSpan(2)));
        Assert.Equal(new byte[] { 0x00, 0x01, 0x03, 0x01, 0x00 }, alerts[4..9]);
        Assert.Equal(new byte[] { 0x00, 0x40 }, alerts[^5..^3]);
    }

    [Theory]
    [InlineData("AWS-Gateway-VTL", true)]
    [InlineData("STK-L700", false)]
    public async Task ReportSupportedOperationCodesListsSmcCommands(string name, bool exchange)
    {
        var h = new ChangerHarness(ByName(name));
        var d = (await h.Run(ScsiCmd.ReportSupportedOperationCodes(0))).Data();
        var opcodes = new HashSet<byte>();
        for (var at = 4; at + 8 <= d.Length; at += 8)
        {
            opcodes.Add(d[at]);
        }

        foreach (var op in new byte[] { 0x00, 0x03, 0x07, 0x12, 0x1A, 0x1B, 0x1E, 0x2B, 0x37, 0x4D, 0x5A, 0x5E, 0x5F, 0xA5, 0xB8, 0x16, 0x17 })
        {
            Assert.Contains(op, opcodes);
        }

        Assert.Equal(exchange, opcodes.Contains(0xA6));
    }

    [Fact]
    public async Task ReadElementStatusPassesAWriteExclusiveReservationButMovesDoNot()
    {
        var h = new ChangerHarness();
        (await h.Run(ScsiCmd.PrOut(0x00), dataOut: ScsiCmd.PrOutData(0, 0x1111))).AssertGood(); // REGISTER
        (await h.Run(ScsiCmd.PrOut(0x01, type: 0x01), dataOut: ScsiCmd.PrOutData(0x1111))).AssertGood(); // RESERVE, Write Exclusive
        (await h.Run(ReadElementStatus(), h.B)).AssertGood();
        (await h.Run(Move(1000, 500), h.B)).AssertConflict();
        (await h.Run(Move(1000, 500))).AssertGood();
    }

    // ---- personalities ------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Identities))]
    public void DefaultGeometriesHoldTheAwsLibraryWithoutOverlap(string name, string vendor, string product, string revision)
    {
        _ = (vendor, product, revision);
        var g = ByName(name).DefaultGeometry;
        MediumChangerLogicalUnit.ValidateGeometry(g);
        Assert.Equal((1, 1600, 1600, 10), ((int)g.Transport.Count, (int)g.Storage.Count, (int)g.ImportExport.Count, (int)g.DataTransfer.Count));
    }

    [Fact]
    public void AddressLayoutsFollowTheHardware()
    {
        Assert.Equal(new ChangerGeometry(new(0, 1), new(1, 1600), new(1601, 1600), new(10001, 10)), ChangerPersonality.AwsGatewayVtl.DefaultGeometry);
        Assert.Equal(new ChangerGeometry(new(0, 1), new(1000, 100), new(10, 20), new(500, 10)), ChangerPersonality.StkL700.LayoutGeometry(100, 20, 10));
        Assert.Equal(new ChangerGeometry(new(0, 1), new(0x401, 100), new(0x301, 16), new(0x101, 12)), ChangerPersonality.Ibm03584L32.LayoutGeometry(100, 16, 12));
        Assert.Equal(8, ChangerPersonality.Ibm03584L32.MaxBarcodeLength);
    }

    [Fact]
    public void OverlappingOrOversizedGeometriesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => MediumChangerLogicalUnit.ValidateGeometry(
            new ChangerGeometry(new(0, 1), new(1, 100), new(50, 10), new(500, 2))));
        Assert.Throws<ArgumentException>(() => MediumChangerLogicalUnit.ValidateGeometry(
            new ChangerGeometry(new(0, 1), new(65000, 1000), new(10, 1), new(500, 2))));
        Assert.Throws<ArgumentException>(() => new ChangerHarness(backend: new FakeChangerBackend(
            new ChangerGeometry(new(0, 1), new(1, 100), new(100, 10), new(500, 2)))));
    }

    [Fact]
    public async Task NacaInControlByteIsRejected()
    {
        var h = new ChangerHarness();
        var cdb = Move(1000, 500);
        cdb[11] = 0x04;
        (await h.Run(cdb)).AssertSense(SenseKey.IllegalRequest, 0x24, 0x00);
    }
}

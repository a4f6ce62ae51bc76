using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Tests.Spc;
using static TapeGateway.Scsi.Tests.Smc.ChangerHarness;

namespace TapeGateway.Scsi.Tests.Smc;

/// <summary>
/// MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO ELEMENT, INITIALIZE ELEMENT STATUS, PREVENT ALLOW MEDIUM REMOVAL and
/// OPEN/CLOSE IMPORT/EXPORT ELEMENT on the small library (I/E 10-11, drives 500-501, slots 1000-1004 with tapes in
/// 1000-1002), plus the unit attentions they raise.
/// </summary>
public sealed class MoveMediumTests
{
    private const SenseKey Illegal = SenseKey.IllegalRequest;

    [Fact]
    public async Task MoveSlotToDriveAndBack()
    {
        var h = new ChangerHarness();
        (await h.Run(Move(1000, 500))).AssertGood();
        Assert.Equal("HRN001L4", h.Backend.BarcodeAt(500));
        Assert.Equal((ushort)1000, h.Backend.SourceOf(500));
        (await h.Run(Move(500, 1000, transport: 0))).AssertGood();
        Assert.Equal("HRN001L4", h.Backend.BarcodeAt(1000));
    }

    /// <summary>Every refusal: CDB in, sense out (SMC-3 §6.7 and what real libraries return).</summary>
    public static TheoryData<string, byte[], Action<FakeChangerBackend>?, SenseKey, byte, byte> MoveRefusalCases => new()
    {
        { "source empty", Move(1003, 500), null, Illegal, 0x3B, 0x0E },
        { "destination full", Move(1000, 1001), null, Illegal, 0x3B, 0x0D },
        { "source not an element", Move(999, 500), null, Illegal, 0x21, 0x01 },
        { "destination not an element", Move(1000, 502), null, Illegal, 0x21, 0x01 },
        { "destination is the transport", Move(1000, 0), null, Illegal, 0x21, 0x01 },
        { "source is the transport", Move(0, 500), null, Illegal, 0x21, 0x01 },
        { "transport address not a transport", Move(1000, 500, transport: 1001), null, Illegal, 0x21, 0x01 },
        { "INVERT", Move(1000, 500, invert: true), null, Illegal, 0x24, 0x00 },
        { "AWS forbids I/E to I/E", Move(10, 11), b => b.Place(10, "IEX001"), Illegal, 0x21, 0x01 },
        { "element busy", Move(1000, 500), b => b.Busy.Add(1000), SenseKey.NotReady, 0x04, 0x01 },
        { "incompatible medium into a drive", Move(1000, 500), b => b.IncompatibleBarcodes.Add("HRN001L4"), Illegal, 0x30, 0x00 },
        { "drive holds its tape (PREVENT on the drive)", Move(500, 1003), b => { b.Place(500, "DRV001"); b.PreventedDrives.Add(500); }, Illegal, 0x53, 0x02 },
        { "backend internal error", Move(1000, 500), b => b.ForcedResult = ChangerResult.InternalError, SenseKey.HardwareError, 0x44, 0x00 },
        { "backend forbids (archived)", Move(1000, 500), b => b.ForcedResult = ChangerResult.NotAllowed, Illegal, 0x3B, 0x0E },
    };

    [Theory]
    [MemberData(nameof(MoveRefusalCases))]
    public async Task MoveRefusals(string rule, byte[] cdb, Action<FakeChangerBackend>? setup, SenseKey key, byte asc, byte ascq)
    {
        var h = new ChangerHarness();
        setup?.Invoke(h.Backend);
        var task = await h.Run(cdb);
        Assert.True(task.SenseLength > 0, rule);
        task.AssertSense(key, asc, ascq);
    }

    [Fact]
    public async Task AddressErrorsPointAtTheField()
    {
        var h = new ChangerHarness();
        (await h.Run(Move(999, 500))).AssertFieldPointer(inCdb: true, 4);
        (await h.Run(Move(1000, 502))).AssertFieldPointer(inCdb: true, 6);
        (await h.Run(Move(1000, 500, transport: 7))).AssertFieldPointer(inCdb: true, 2);
        (await h.Run(Move(1000, 500, invert: true))).AssertInvalidCdbField(10, 0);
        Assert.Empty(h.Backend.Calls);
    }

    [Fact]
    public async Task StkAllowsImportExportToImportExport()
    {
        var h = new ChangerHarness(ChangerPersonality.StkL700);
        h.Backend.Place(10, "IEX001");
        (await h.Run(Move(10, 11))).AssertGood();
    }

    // ---- EXCHANGE MEDIUM ---------------------------------------------------------------------------------------

    [Fact]
    public async Task ExchangeSwapsAndRotates()
    {
        var h = new ChangerHarness();
        (await h.Run(Move(1000, 500))).AssertGood();
        (await h.Run(Exchange(1001, 500, 1001))).AssertGood(); // swap drive and slot
        Assert.Equal("HRN002L4", h.Backend.BarcodeAt(500));
        Assert.Equal("HRN001L4", h.Backend.BarcodeAt(1001));
        (await h.Run(Exchange(1002, 500, 1003))).AssertGood(); // 1002 -> drive, drive -> 1003
        Assert.Equal("HRN003L4", h.Backend.BarcodeAt(500));
        Assert.Equal("HRN002L4", h.Backend.BarcodeAt(1003));
    }

    public static TheoryData<string, byte[], SenseKey, byte, byte> ExchangeRefusalCases => new()
    {
        { "first destination empty", Exchange(1000, 1003, 1004), Illegal, 0x3B, 0x0E },
        { "source empty", Exchange(1003, 1000, 1004), Illegal, 0x3B, 0x0E },
        { "second destination full", Exchange(1000, 1001, 1002), Illegal, 0x3B, 0x0D },
        { "INV1", Exchange(1000, 1001, 1000, inv: 1), Illegal, 0x24, 0x00 },
        { "INV2", Exchange(1000, 1001, 1000, inv: 2), Illegal, 0x24, 0x00 },
        { "second destination invalid", Exchange(1000, 1001, 9), Illegal, 0x21, 0x01 },
        { "AWS exchanges no I/E", Exchange(1000, 10, 1000), Illegal, 0x21, 0x01 },
        { "transport invalid", Exchange(1000, 1001, 1000, transport: 500), Illegal, 0x21, 0x01 },
    };

    [Theory]
    [MemberData(nameof(ExchangeRefusalCases))]
    public async Task ExchangeRefusalsOnAws(string rule, byte[] cdb, SenseKey key, byte asc, byte ascq)
    {
        var h = new ChangerHarness();
        h.Backend.Place(10, "IEX001");
        var task = await h.Run(cdb);
        Assert.True(task.SenseLength > 0, rule);
        task.AssertSense(key, asc, ascq);
    }

    [Fact]
    public async Task PersonalitiesWithoutExchangeRejectTheOpcode()
    {
        var h = new ChangerHarness(ChangerPersonality.Ibm03584L32);
        var task = await h.Run(Exchange(1000, 1001, 1000));
        task.AssertSense(Illegal, 0x20, 0x00);
        Assert.Empty(h.Backend.Calls);
    }

    // ---- POSITION TO ELEMENT, INITIALIZE ELEMENT STATUS ------------------------------------------------------------

    [Fact]
    public async Task PositionToElementValidatesOnly()
    {
        var h = new ChangerHarness();
        (await h.Run(Position(1004))).AssertGood();
        (await h.Run(Position(500, transport: 0))).AssertGood();
        (await h.Run(Position(0))).AssertSense(Illegal, 0x21, 0x01);
        (await h.Run(Position(2000))).AssertSense(Illegal, 0x21, 0x01);
        (await h.Run(Position(1004, transport: 1000))).AssertSense(Illegal, 0x21, 0x01);
        (await h.Run(Position(1004, invert: true))).AssertInvalidCdbField(8, 0);
        Assert.Empty(h.Backend.Calls);
    }

    [Fact]
    public async Task InitializeElementStatusWithAndWithoutRange()
    {
        var h = new ChangerHarness();
        (await h.Run(InitializeElementStatus())).AssertGood();
        (await h.Run(InitializeElementStatusWithRange(range: false, 7, 7))).AssertGood();
        (await h.Run(InitializeElementStatusWithRange(range: true, 1001, 3, fast: true))).AssertGood();
        var bad = await h.Run(InitializeElementStatusWithRange(range: true, 999, 3));
        bad.AssertSense(Illegal, 0x21, 0x01);
        Assert.Equal(["init 0 65535", "init 0 65535", "init 1001 3"], h.Backend.Calls);
    }

    // ---- PREVENT ALLOW MEDIUM REMOVAL -----------------------------------------------------------------------------

    [Fact]
    public async Task PreventBlocksExportsUntilEveryNexusAllows()
    {
        var h = new ChangerHarness();
        (await h.Run(PreventAllow(1))).AssertGood();
        (await h.Run(PreventAllow(1), h.B)).AssertGood();
        (await h.Run(Move(1000, 10))).AssertSense(Illegal, 0x53, 0x02);
        (await h.Run(Move(1000, 500))).AssertGood(); // moves inside the library are fine
        (await h.Run(PreventAllow(0))).AssertGood();
        (await h.Run(Move(1001, 10), h.B)).AssertSense(Illegal, 0x53, 0x02); // B still prevents
        h.Target.NexusLost(h.B);
        (await h.Run(Move(1001, 10))).AssertGood();
    }

    [Fact]
    public async Task PreventBlocksExchangeIntoImportExportAndOpening()
    {
        var h = new ChangerHarness(ChangerPersonality.StkL700);
        h.Backend.Place(10, "IEX001");
        (await h.Run(PreventAllow(1))).AssertGood();
        (await h.Run(OpenClose(11, 0))).AssertSense(Illegal, 0x53, 0x02);
        (await h.Run(Move(10, 1003))).AssertGood(); // imports are allowed
    }

    [Fact]
    public async Task LogicalUnitResetEndsPrevention()
    {
        var h = new ChangerHarness();
        (await h.Run(PreventAllow(1))).AssertGood();
        h.Target.TaskManagement(Core.Scsi.TaskManagementEvent.LogicalUnitReset, new Core.Scsi.Lun(ChangerLun), h.A);
        h.Consume(h.A);
        Assert.False(h.Unit.MediumRemovalPrevented);
        (await h.Run(Move(1000, 10))).AssertGood();
    }

    [Fact]
    public async Task PreventValuesAboveOneAreInvalid()
    {
        var h = new ChangerHarness();
        (await h.Run(PreventAllow(2))).AssertInvalidCdbField(4, 1);
        (await h.Run(PreventAllow(3))).AssertInvalidCdbField(4, 1);
    }

    // ---- OPEN/CLOSE IMPORT/EXPORT ELEMENT --------------------------------------------------------------------------

    [Fact]
    public async Task OpenMailslotIsInaccessibleUntilClosed()
    {
        var h = new ChangerHarness();
        (await h.Run(OpenClose(10, 0))).AssertGood();
        Assert.True(h.Unit.IsImportExportOpen(10));
        var d = (await h.Run(ReadElementStatus(ElementType.ImportExport))).Data();
        Assert.Equal(0x30, d[18]); // INENAB|EXENAB, ACCESS cleared
        Assert.Equal(0x38, d[34]); // element 11 untouched
        (await h.Run(Move(1000, 10))).AssertSense(SenseKey.NotReady, 0x04, 0x03);
        (await h.Run(OpenClose(10, 1))).AssertGood();
        (await h.Run(TestUnitReadyCdb, h.B)).AssertSense(SenseKey.UnitAttention, 0x28, 0x01);
        (await h.Run(Move(1000, 10))).AssertGood();
    }

    [Fact]
    public async Task OpenCloseChecksElementAndActionCode()
    {
        var h = new ChangerHarness();
        (await h.Run(OpenClose(1000, 0))).AssertSense(Illegal, 0x21, 0x01);
        (await h.Run(OpenClose(10, 2))).AssertInvalidCdbField(4, 4);
        (await h.Run(OpenClose(11, 1))).AssertGood(); // closing a closed mailslot: nothing happens
        (await h.Run(TestUnitReadyCdb, h.B)).AssertGood();
    }

    // ---- unit attentions -------------------------------------------------------------------------------------------

    private static readonly byte[] TestUnitReadyCdb = new byte[6];

    [Fact]
    public async Task ImportExportAccessRaises2801ForOtherNexusesOnly()
    {
        var h = new ChangerHarness();
        (await h.Run(Move(1000, 1003))).AssertGood();
        (await h.Run(TestUnitReadyCdb, h.B)).AssertGood(); // slot to slot: nothing to report

        (await h.Run(Move(1003, 11))).AssertGood();
        (await h.Run(TestUnitReadyCdb)).AssertGood();
        (await h.Run(TestUnitReadyCdb, h.B)).AssertSense(SenseKey.UnitAttention, 0x28, 0x01);
        (await h.Run(TestUnitReadyCdb, h.B)).AssertGood();
    }

    [Fact]
    public async Task ExternalInventoryChangeRaises2800ForEveryNexus()
    {
        var h = new ChangerHarness();
        h.Backend.RaiseInventoryChanged();
        (await h.Run(ReadElementStatus())).AssertSense(SenseKey.UnitAttention, 0x28, 0x00);
        (await h.Run(ReadElementStatus())).AssertGood();
        (await h.Run(TestUnitReadyCdb, h.B)).AssertSense(SenseKey.UnitAttention, 0x28, 0x00);

        h.Unit.Dispose();
        h.Backend.RaiseInventoryChanged();
        (await h.Run(TestUnitReadyCdb)).AssertGood();
    }
}

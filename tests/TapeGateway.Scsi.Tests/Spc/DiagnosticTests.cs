using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Ssc;

namespace TapeGateway.Scsi.Tests.Spc;

/// <summary>SPC-4 SEND DIAGNOSTIC (default and foreground self-tests) and RECEIVE DIAGNOSTIC RESULTS (page 00h).</summary>
public sealed class DiagnosticTests
{
    private static byte[] SendDiagnostic(int code = 0, bool pf = false, bool selfTest = false, int listLength = 0) =>
        [0x1D, (byte)((code << 5) | (pf ? 0x10 : 0) | (selfTest ? 0x04 : 0)), 0, (byte)(listLength >> 8), (byte)listLength, 0];

    private static byte[] ReceiveDiagnostic(bool pcv, byte page, int allocation) =>
        [0x1C, (byte)(pcv ? 1 : 0), page, (byte)(allocation >> 8), (byte)allocation, 0];

    [Fact]
    public async Task DefaultSelfTest_PassesWithAndWithoutATape()
    {
        var h = new TapeHarness();
        (await h.Run(SendDiagnostic(selfTest: true))).AssertGood();
        await h.LoadNewAsync();
        (await h.Run(SendDiagnostic(selfTest: true))).AssertGood();
        (await h.Run(SendDiagnostic(code: 5))).AssertGood();  // foreground short
        (await h.Run(SendDiagnostic(code: 6))).AssertGood();  // foreground extended
    }

    [Theory]
    [InlineData(1, false, 0, 1, 7)]  // background short self-test: no self-test results log
    [InlineData(2, false, 0, 1, 7)]  // background extended
    [InlineData(4, false, 0, 1, 7)]  // abort background
    [InlineData(3, false, 0, 1, 7)]  // reserved code
    [InlineData(1, true, 0, 1, 7)]   // SELFTEST=1 with a code
    [InlineData(0, true, 4, 3, null)] // SELFTEST=1 with a parameter list
    public async Task UnsupportedRequests_AreInvalidFieldInCdb(int code, bool selfTest, int listLength, int bytePointer, int? bit)
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        (await h.Run(SendDiagnostic(code: code, selfTest: selfTest, listLength: listLength), new byte[listLength])).AssertInvalidCdbField(bytePointer, bit);
    }

    [Fact]
    public async Task ParameterList_OnlyTheSupportedPagesPage()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        (await h.Run(SendDiagnostic(pf: true, listLength: 4), [0x00, 0x00, 0x00, 0x00])).AssertGood();
        var other = await h.Run(SendDiagnostic(pf: true, listLength: 4), [0x40, 0x00, 0x00, 0x00]);
        other.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        other.AssertFieldPointer(inCdb: false, 0);
        (await h.Run(SendDiagnostic(pf: false, listLength: 4), [0x00, 0x00, 0x00, 0x00])).AssertInvalidCdbField(1, 4);
        (await h.Run(SendDiagnostic(pf: true, listLength: 4), [0x00, 0x00])).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
    }

    [Fact]
    public async Task ReceiveDiagnosticResults_ListsPage00_AndClipsToTheAllocationLength()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var t = await h.Run(ReceiveDiagnostic(pcv: true, 0x00, 64));
        t.AssertGood();
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00, 0x01, 0x00 }, t.Data());
        var clipped = await h.Run(ReceiveDiagnostic(pcv: false, 0x00, 2));
        clipped.AssertGood();
        Assert.Equal(new byte[] { 0x00, 0x00 }, clipped.Data());
        (await h.Run(ReceiveDiagnostic(pcv: true, 0x80, 64))).AssertInvalidCdbField(2);
    }
}

using System.Buffers.Binary;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Tests.Spc;

public class ModeSenseTests
{
    private static readonly byte[] s_control = [0x0A, 0x0A, 0x02, 0x10, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00];
    private static readonly byte[] s_iec = [0x1C, 0x0A, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
    private static readonly byte[] s_blockDescriptor = [0x00, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x02, 0x00];

    [Fact]
    public async Task AllPagesSixByte()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.ModeSense6(0x3F));
        t.AssertGood();
        byte[] expected = [35, 0x00, 0x10, 8, .. s_blockDescriptor, .. s_control, .. s_iec];
        Assert.Equal(expected, t.Data());
    }

    [Fact]
    public async Task AllPagesAndSubpagesIncludesControlExtension()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.ModeSense6(0x3F, 0xFF, dbd: true))).Data();
        Assert.Equal(4 + 12 + 32 + 12, d.Length);
        Assert.Equal(d.Length - 1, d[0]);
        Assert.Equal(0, d[3]);
        Assert.Equal(new byte[] { 0x4A, 0x01, 0x00, 0x1C }, d.AsSpan(16, 4).ToArray());
    }

    [Fact]
    public async Task ControlPageWithAllSubpages()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.ModeSense6(0x0A, 0xFF, dbd: true))).Data();
        Assert.Equal(4 + 12 + 32, d.Length);
    }

    [Fact]
    public async Task SingleControlPageWithoutBlockDescriptor()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.ModeSense6(0x0A, dbd: true))).Data();
        byte[] expected = [15, 0x00, 0x10, 0, .. s_control];
        Assert.Equal(expected, d);
    }

    [Fact]
    public async Task ChangeableValuesShowDescriptorSenseOnly()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.ModeSense6(0x0A, pc: 1, dbd: true))).Data();
        Assert.Equal(new byte[] { 0x0A, 0x0A, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, d.AsSpan(4).ToArray());
    }

    [Fact]
    public async Task DefaultValuesIgnoreCurrentChanges()
    {
        var f = new SpcFixture();
        f.Unit.ModePages.DescriptorSense = true;
        var current = (await f.Run(f.A, Scsi.ModeSense6(0x0A, pc: 0, dbd: true))).Data();
        var defaults = (await f.Run(f.A, Scsi.ModeSense6(0x0A, pc: 2, dbd: true))).Data();
        Assert.Equal(0x06, current[6]);
        Assert.Equal(0x02, defaults[6]);
    }

    [Fact]
    public async Task TenByteWithLongLbaDescriptor()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.ModeSense10(0x1C, llbaa: true))).Data();
        Assert.Equal(8 + 16 + 12, d.Length);
        Assert.Equal(d.Length - 2, BinaryPrimitives.ReadUInt16BigEndian(d));
        Assert.Equal(0x10, d[3]);
        Assert.Equal(0x01, d[4]);
        Assert.Equal(16, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)));
        Assert.Equal(1000UL, BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(8)));
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(20)));
        Assert.Equal(s_iec, d.AsSpan(24).ToArray());
    }

    [Fact]
    public async Task TenByteShortDescriptor()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.ModeSense10(0x0A))).Data();
        Assert.Equal(8 + 8 + 12, d.Length);
        Assert.Equal(0, d[4]);
        Assert.Equal(8, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)));
        Assert.Equal(s_blockDescriptor, d.AsSpan(8, 8).ToArray());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(1)]
    [InlineData(0)]
    public async Task TruncationKeepsModeDataLength(byte allocation)
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.ModeSense6(0x3F, allocation: allocation));
        t.AssertGood();
        Assert.Equal(allocation, t.DataIn.Length);
        if (allocation > 0)
        {
            Assert.Equal(35, t.Data()[0]);
        }
    }

    [Theory]
    [InlineData(0x05, 0x00, 0, 2, 5)] // unknown page
    [InlineData(0x0A, 0x05, 0, 3, null)] // unknown subpage of a known page
    [InlineData(0x3F, 0x05, 0, 3, null)] // all pages with a specific subpage
    public async Task InvalidPageSelection(byte page, byte subpage, byte pc, int pointer, int? bit)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.ModeSense6(page, subpage, pc))).AssertInvalidCdbField(pointer, bit);
        (await f.Run(f.A, Scsi.ModeSense10(page, subpage, pc))).AssertInvalidCdbField(pointer, bit);
    }

    [Fact]
    public async Task SavedValuesAreNotSupported()
    {
        var f = new SpcFixture();
        var t = await f.Run(f.A, Scsi.ModeSense6(0x0A, pc: 3));
        t.AssertSense(SenseKey.IllegalRequest, 0x39, 0x00);
        t.AssertFieldPointer(true, 2, 7);
    }
}

public class ModeSelectTests
{
    private static byte[] ControlPage(byte byte2 = 0x02, byte byte3 = 0x10) =>
        [0x0A, 0x0A, byte2, byte3, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00];

    private static byte[] Header6(byte blockDescriptorLength = 0) => [0, 0, 0, blockDescriptorLength];

    [Fact]
    public async Task SettingDescriptorSenseChangesSenseFormatAndRaisesUnitAttentionForOthers()
    {
        var f = new SpcFixture();
        byte[] list = [.. Header6(), .. ControlPage(0x06)];
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length), list)).AssertGood();
        Assert.True(f.Unit.ModePages.DescriptorSense);
        Assert.Equal([(0x0A, 0)], f.Unit.ChangedPages);

        // The issuing nexus has no unit attention; its next error comes in descriptor format.
        var bad = await f.Run(f.A, Scsi.Inquiry(false, 1));
        Assert.Equal(0x72, bad.Sense[0]);
        bad.AssertSense(SenseKey.IllegalRequest, 0x24, 0x00);

        var other = await f.Run(f.B, Scsi.TestUnitReady());
        other.AssertSense(SenseKey.UnitAttention, 0x2A, 0x01);
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertGood();

        // And back: D_SENSE=0 restores fixed format.
        byte[] back = [.. Header6(), .. ControlPage(0x02)];
        (await f.Run(f.A, Scsi.ModeSelect6(back.Length), back)).AssertGood();
        Assert.False(f.Unit.ModePages.DescriptorSense);
    }

    [Fact]
    public async Task UnchangedValuesRaiseNoUnitAttention()
    {
        var f = new SpcFixture();
        byte[] list = [.. Header6(), .. ControlPage()];
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length), list)).AssertGood();
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertGood();
        Assert.Empty(f.Unit.ChangedPages);
    }

    [Fact]
    public async Task ModeSelect10WithBlockDescriptorMatchingCurrent()
    {
        var f = new SpcFixture();
        byte[] header = [0, 0, 0, 0, 0, 0, 0, 8];
        byte[] bd = [0, 0, 0, 0, 0, 0, 0x02, 0x00];
        byte[] list = [.. header, .. bd, .. ControlPage(0x06)];
        (await f.Run(f.A, Scsi.ModeSelect10(list.Length), list)).AssertGood();
        Assert.True(f.Unit.ModePages.DescriptorSense);
    }

    [Fact]
    public async Task HeaderAndBlockDescriptorWithoutPagesAcceptedWithPfZero()
    {
        var f = new SpcFixture();
        byte[] list = [.. Header6(8), 0, 0, 0, 0, 0, 0, 0x02, 0x00];
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length, pf: false), list)).AssertGood();
    }

    [Fact]
    public async Task ZeroLengthIsGood()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.ModeSelect6(0))).AssertGood();
    }

    [Fact]
    public async Task NonChangeableBitIsRejectedWithFieldPointer()
    {
        var f = new SpcFixture();
        byte[] list = [.. Header6(), .. ControlPage(0x02, 0x90)];
        var t = await f.Run(f.A, Scsi.ModeSelect6(list.Length), list);
        t.AssertInvalidParameterField(4 + 3, 7);
        Assert.False(f.Unit.ModePages.DescriptorSense);
    }

    [Fact]
    public async Task NothingIsAppliedWhenALaterPageIsBad()
    {
        var f = new SpcFixture();
        byte[] iec = [0x1C, 0x0A, 0x08, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]; // MRIE is not changeable
        byte[] list = [.. Header6(), .. ControlPage(0x06), .. iec];
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length), list)).AssertInvalidParameterField(4 + 12 + 3, 0);
        Assert.False(f.Unit.ModePages.DescriptorSense);
    }

    [Fact]
    public async Task ChangeableIecBitIsAccepted()
    {
        var f = new SpcFixture();
        byte[] iec = [0x1C, 0x0A, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
        byte[] list = [.. Header6(), .. iec];
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length), list)).AssertGood();
        Assert.Equal(0x00, f.Unit.ModePages.GetCurrentByte(0x1C, 0, 2));
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 0, 0x0A, 0x0B, 2, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0 }, 5, null)] // page length
    [InlineData(new byte[] { 0, 0, 0, 0, 0x05, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 4, 5)] // unknown page
    [InlineData(new byte[] { 0, 5, 0, 0, 0x0A, 0x0A, 2, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0 }, 1, null)] // medium type
    [InlineData(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0 }, 3, null)] // block descriptor length
    [InlineData(new byte[] { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x10, 0x00 }, 4, null)] // block length 4096 != 512
    public async Task InvalidParameterList(byte[] list, int pointer, int? bit)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length), list)).AssertInvalidParameterField(pointer, bit);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0 })] // shorter than the header
    [InlineData(new byte[] { 0, 0, 0, 8, 0, 0, 0 })] // block descriptor cut short
    [InlineData(new byte[] { 0, 0, 0, 0, 0x0A, 0x0A, 2, 0x10 })] // page cut short
    public async Task ParameterListLengthErrors(byte[] list)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length), list)).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
    }

    [Fact]
    public async Task LessDataThanTheCdbAnnouncesIsALengthError()
    {
        var f = new SpcFixture();
        byte[] list = [.. Header6(), .. ControlPage()];
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length + 4), list)).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
    }

    [Fact]
    public async Task SaveParametersIsInvalidField()
    {
        var f = new SpcFixture();
        byte[] list = [.. Header6(), .. ControlPage()];
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length, sp: true), list)).AssertInvalidCdbField(1, 0);
    }

    [Fact]
    public async Task PagesWithPfZeroAreInvalid()
    {
        var f = new SpcFixture();
        byte[] list = [.. Header6(), .. ControlPage()];
        (await f.Run(f.A, Scsi.ModeSelect6(list.Length, pf: false), list)).AssertInvalidCdbField(1, 4);
    }

    [Fact]
    public async Task ResetRestoresDefaults()
    {
        var f = new SpcFixture();
        f.Unit.ModePages.DescriptorSense = true;
        f.Target.TaskManagement(TapeGateway.Core.Scsi.TaskManagementEvent.LogicalUnitReset, f.Unit.Lun, f.A);
        Assert.False(f.Unit.ModePages.DescriptorSense);
    }

    [Fact]
    public void RegisterIsExtensibleWithSubpageFormat()
    {
        var pages = new ModePageSet();
        var caching = new byte[20];
        caching[2] = 0x04; // WCE
        var mask = new byte[20];
        mask[2] = 0x04;
        pages.Register(0x08, 0, caching, mask);
        Span<byte> buffer = stackalloc byte[64];
        Assert.True(pages.TryGetCurrent(0x08, 0, buffer, out var length));
        Assert.Equal(20, length);
        Assert.Equal(new byte[] { 0x08, 18, 0x04 }, buffer[..3].ToArray());
        Assert.True(pages.Contains(0x0A, 0x01));
        Assert.Throws<ArgumentOutOfRangeException>(() => pages.Register(0x3F, 0, new byte[4], new byte[4]));
        Assert.Throws<ArgumentException>(() => pages.Register(0x08, 0, new byte[4], new byte[5]));
    }
}

using System.Buffers.Binary;
using System.Text;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Tests.Spc;
using static TapeGateway.Scsi.Tests.Smc.ChangerHarness;

namespace TapeGateway.Scsi.Tests.Smc;

/// <summary>READ ELEMENT STATUS (SMC-3 §6.10): layouts byte for byte, selection, truncation, the AWS-sized library.</summary>
public sealed class ReadElementStatusTests
{
    private static readonly byte[] Bare = new byte[16];

    private static int Header24(byte[] d, int at) => (d[at] << 16) | (d[at + 1] << 8) | d[at + 2];

    private static async Task<byte[]> Report(ChangerHarness h, byte[] cdb)
    {
        var task = await h.Run(cdb);
        task.AssertGood();
        return task.Data();
    }

    private static byte[] Tag(string barcode)
    {
        var t = new byte[36];
        Encoding.ASCII.GetBytes(barcode.PadRight(32)).CopyTo(t, 0);
        return t;
    }

    private static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    [Fact]
    public async Task AllTypesWithoutVolTagIsOnePagePerTypeInAddressOrder()
    {
        var h = new ChangerHarness();
        var d = await Report(h, ReadElementStatus());

        Assert.Equal(200, d.Length);
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00, 0x0A, 0x00, 0x00, 0x00, 0xC0 }, d[..8]); // first 0, 10 elements, 192 bytes

        // Pages in address order: MT 0, I/E 10-11, DT 500-501, ST 1000-1004; descriptors 16 bytes (12 + empty identifier).
        Assert.Equal(new byte[] { 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10 }, d[8..16]);
        Assert.Equal(Bare, d[16..32]);
        Assert.Equal(new byte[] { 0x03, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20 }, d[32..40]);
        Assert.Equal(new byte[] { 0x00, 0x0A, 0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, d[40..56]); // INENAB|EXENAB|ACCESS
        Assert.Equal(0x0B, d[57]);
        Assert.Equal(new byte[] { 0x04, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20 }, d[72..80]);
        Assert.Equal(new byte[] { 0x01, 0xF4, 0x08, 0, 0, 0, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, d[80..96]); // LU VALID, LUN 1
        Assert.Equal(new byte[] { 0x01, 0xF5, 0x08, 0, 0, 0, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, d[96..112]); // no LUN known
        Assert.Equal(new byte[] { 0x02, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x50 }, d[112..120]);
        Assert.Equal(new byte[] { 0x03, 0xE8, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, d[120..136]); // FULL|ACCESS
        Assert.Equal(new byte[] { 0x03, 0xEB, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, d[168..184]); // 1003 empty
    }

    [Fact]
    public async Task StorageWithVolTagCarriesSpacePaddedBarcodeAndZeroTagWhenEmpty()
    {
        var h = new ChangerHarness();
        var d = await Report(h, ReadElementStatus(ElementType.Storage, volTag: true));

        Assert.Equal(8 + 8 + (5 * 52), d.Length);
        Assert.Equal(new byte[] { 0x03, 0xE8, 0x00, 0x05, 0x00, 0x00, 0x01, 0x0C }, d[..8]); // 8 + 5 x 52 = 268
        Assert.Equal(new byte[] { 0x02, 0x80, 0x00, 0x34, 0x00, 0x00, 0x01, 0x04 }, d[8..16]); // PVOLTAG, 52-byte descriptors
        var expected = Cat([0x03, 0xE8, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0], Tag("HRN001L4"), [0, 0, 0, 0]);
        Assert.Equal(expected, d[16..68]);
        var empty = Cat([0x03, 0xEB, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0], new byte[36], [0, 0, 0, 0]);
        Assert.Equal(empty, d[(16 + (3 * 52))..(16 + (4 * 52))]);
    }

    [Fact]
    public async Task DataTransferWithDvcidAndVolTagReportsSourceAndDriveIdentifier()
    {
        var h = new ChangerHarness();
        (await h.Run(Move(1000, 500))).AssertGood();
        var d = await Report(h, ReadElementStatus(ElementType.DataTransfer, volTag: true, dvcid: true));

        const int len = 12 + 36 + 4 + 34;
        Assert.Equal(8 + 8 + (2 * len), d.Length);
        Assert.Equal(new byte[] { 0x01, 0xF4, 0x00, 0x02, 0x00, 0x00, 0x00, 8 + (2 * len) }, d[..8]);
        Assert.Equal(new byte[] { 0x04, 0x80, 0x00, len, 0x00, 0x00, 0x00, 2 * len }, d[8..16]);
        var expected = Cat(
            [0x01, 0xF4, 0x09, 0, 0, 0, 0x11, 0, 0, 0x80, 0x03, 0xE8],
            Tag("HRN001L4"),
            [0x02, 0x01, 0x00, 34],
            Encoding.ASCII.GetBytes("IBM     ULT3580-TD5     SN00000001"));
        Assert.Equal(expected, d[16..(16 + len)]);
        var second = d[(16 + len)..];
        Assert.Equal(new byte[] { 0x01, 0xF5, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, second[..12]);
        Assert.Equal("IBM     ULT3580-TD5     SN00000002", Encoding.ASCII.GetString(second, 52, 34));
    }

    [Fact]
    public async Task DataTransferWithDvcidOnlyIs50Bytes()
    {
        var h = new ChangerHarness();
        var d = await Report(h, ReadElementStatus(ElementType.DataTransfer, dvcid: true));
        Assert.Equal(new byte[] { 0x04, 0x00, 0x00, 50, 0x00, 0x00, 0x00, 100 }, d[8..16]);
        Assert.Equal(new byte[] { 0x02, 0x01, 0x00, 34 }, d[(16 + 12)..(16 + 16)]);
        Assert.Equal("SN00000001", Encoding.ASCII.GetString(d, 16 + 16 + 24, 10));
    }

    [Fact]
    public async Task DvcidSerialWidensToTheLongestDriveSerialAndPadsShorterOnes()
    {
        var backend = new FakeChangerBackend(SmallGeometry,
            [new(500, "IBM", "ULT3580-TD5", "TGD0123456789ABC"), new(501, "IBM", "ULT3580-TD5", "SHORT")]);
        var h = new ChangerHarness(backend: backend);
        var d = await Report(h, ReadElementStatus(ElementType.DataTransfer, dvcid: true));
        Assert.Equal(16 + 24 + 16, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(10)));
        Assert.Equal(40, d[16 + 15]);
        Assert.Equal("TGD0123456789ABC", Encoding.ASCII.GetString(d, 16 + 16 + 24, 16));
        Assert.Equal("SHORT           ", Encoding.ASCII.GetString(d, 16 + 56 + 16 + 24, 16));
    }

    [Fact]
    public async Task ImportExportFlagsImpExpSourceAndException()
    {
        var backend = Small().Place(10, "NEW001L5", byOperator: true).Place(11, "OLD001L5", source: 1003);
        backend.Exceptions[1004] = (0x83, 0x02);
        backend.Inaccessible.Add(1004);
        var h = new ChangerHarness(backend: backend);
        var d = await Report(h, ReadElementStatus(ElementType.ImportExport, volTag: true));
        Assert.Equal(new byte[] { 0x00, 0x0A, 0x3B, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00 }, d[16..28]); // IMPEXP|FULL, no SVALID
        Assert.Equal("NEW001L5", Encoding.ASCII.GetString(d, 28, 8));
        Assert.Equal(new byte[] { 0x00, 0x0B, 0x39, 0, 0, 0, 0, 0, 0, 0x80, 0x03, 0xEB }, d[68..80]); // placed by robot, from 1003

        var s = await Report(h, ReadElementStatus(ElementType.Storage, start: 1004));
        Assert.Equal(new byte[] { 0x03, 0xEC, 0x04, 0, 0x83, 0x02 }, s[16..22]); // EXCEPT, no ACCESS, ASC/ASCQ
    }

    [Fact]
    public async Task ObsoleteLunBitsInByteOneAreIgnored()
    {
        var h = new ChangerHarness();
        var d = await Report(h, ReadElementStatus(ElementType.DataTransfer, start: 500, count: 1, allocation: 255, lunBits: 3, volTag: true));
        Assert.Equal(0x04, d[8]);
        Assert.Equal(new byte[] { 0x01, 0xF4 }, d[16..18]);
    }

    // ---- allocation length: headers describe everything, data is cut byte-wise -----------------------------------

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(31)] // one byte short of the transport descriptor
    [InlineData(32)] // exactly header + transport page
    [InlineData(55)] // one byte short of the first I/E descriptor's end
    [InlineData(199)]
    [InlineData(200)]
    [InlineData(4096)]
    public async Task TruncationKeepsFullCountsAndCutsAtTheAllocationLength(int allocation)
    {
        var h = new ChangerHarness();
        var full = await Report(h, ReadElementStatus());
        var cut = await Report(h, ReadElementStatus(allocation: allocation));

        Assert.Equal(Math.Min(allocation, 200), cut.Length);
        Assert.Equal(full[..cut.Length], cut);
        if (cut.Length >= 8)
        {
            Assert.Equal(10, BinaryPrimitives.ReadUInt16BigEndian(cut.AsSpan(2)));
            Assert.Equal(192, Header24(cut, 5));
        }
    }

    [Fact]
    public async Task MtxStyleTwoPassReadLearnsTheSizeFromTheHeader()
    {
        var h = new ChangerHarness();
        var first = await Report(h, ReadElementStatus(volTag: true, dvcid: true, allocation: 8));
        var needed = 8 + Header24(first, 5);
        var second = await Report(h, ReadElementStatus(volTag: true, dvcid: true, allocation: needed));
        Assert.Equal(needed, second.Length);
        Assert.Equal(8 + (4 * 8) + (52 * 8) + (86 * 2), needed);
    }

    // ---- selection ------------------------------------------------------------------------------------------

    [Fact]
    public async Task RangeStartingMidTypeHonoursNumberOfElements()
    {
        var h = new ChangerHarness();
        var d = await Report(h, ReadElementStatus(ElementType.Storage, start: 1002, count: 2));
        Assert.Equal(new byte[] { 0x03, 0xEA, 0x00, 0x02, 0x00, 0x00, 0x00, 0x28 }, d[..8]);
        Assert.Equal(8 + 8 + 32, d.Length);
        Assert.Equal(new byte[] { 0x03, 0xEA }, d[16..18]);
        Assert.Equal(new byte[] { 0x03, 0xEB }, d[32..34]);
    }

    [Fact]
    public async Task RangeCrossingTypesGetsOnePagePerType()
    {
        var h = new ChangerHarness();
        var d = await Report(h, ReadElementStatus(start: 11, count: 3));
        Assert.Equal(new byte[] { 0x00, 0x0B, 0x00, 0x03, 0x00, 0x00, 0x00, 0x40 }, d[..8]);
        Assert.Equal(new byte[] { 0x03, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10 }, d[8..16]);
        Assert.Equal(new byte[] { 0x00, 0x0B }, d[16..18]);
        Assert.Equal(new byte[] { 0x04, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20 }, d[32..40]);
        Assert.Equal(new byte[] { 0x01, 0xF4 }, d[40..42]);
        Assert.Equal(new byte[] { 0x01, 0xF5 }, d[56..58]);
    }

    [Fact]
    public async Task StartingAddressIsAMinimumNotAnElement()
    {
        var h = new ChangerHarness();
        var gap = await Report(h, ReadElementStatus(start: 12, count: 1));
        Assert.Equal(new byte[] { 0x01, 0xF4 }, gap[..2]);
        var below = await Report(h, ReadElementStatus(ElementType.Storage, start: 0, count: 1));
        Assert.Equal(new byte[] { 0x03, 0xE8 }, below[..2]);
    }

    [Fact]
    public async Task NumberOfElementsZeroReportsOnlyTheHeader()
    {
        var h = new ChangerHarness();
        var d = await Report(h, ReadElementStatus(count: 0));
        Assert.Equal(new byte[8], d);
    }

    [Theory]
    [InlineData(ElementType.All, 1005)]
    [InlineData(ElementType.ImportExport, 12)]
    [InlineData(ElementType.MediumTransport, 1)]
    [InlineData(ElementType.DataTransfer, 0xFFFF)]
    public async Task NothingAtOrAboveTheStartIsInvalidElementAddress(ElementType type, int start)
    {
        var h = new ChangerHarness();
        var task = await h.Run(ReadElementStatus(type, (ushort)start));
        task.AssertSense(SenseKey.IllegalRequest, 0x21, 0x01);
        task.AssertFieldPointer(inCdb: true, 2);
    }

    [Fact]
    public async Task ReservedElementTypeCodeIsInvalidField()
    {
        var h = new ChangerHarness();
        var task = await h.Run(ReadElementStatus((ElementType)5));
        task.AssertInvalidCdbField(1, 3);
    }

    // ---- the AWS-sized library ------------------------------------------------------------------------------

    [Fact]
    public async Task AwsLibraryFullReportFitsThe24BitByteCount()
    {
        var geometry = ChangerPersonality.AwsGatewayVtl.DefaultGeometry;
        var drives = Enumerable.Range(0, 10)
            .Select(i => new DriveDescriptor((ushort)(geometry.DataTransfer.FirstAddress + i), "IBM", "ULT3580-TD5", $"AWSD{i:D6}"))
            .ToArray();
        var backend = new FakeChangerBackend(geometry, drives);
        for (ushort a = 1; a <= 1500; a++)
        {
            backend.Place(a, $"AWS{a:D5}");
        }

        var h = new ChangerHarness(ChangerPersonality.AwsGatewayVtl, backend);
        var header = await Report(h, ReadElementStatus(volTag: true, dvcid: true, allocation: 8));
        const int expected = (4 * 8) + 52 + (1600 * 52) + (1600 * 52) + (10 * 86);
        Assert.Equal(3211, BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2)));
        Assert.Equal(expected, Header24(header, 5));
        Assert.True(expected < 0xFF_FFFF);

        var all = await Report(h, ReadElementStatus(volTag: true, dvcid: true));
        Assert.Equal(8 + expected, all.Length);

        // Page headers: MT at 8, ST after one transport descriptor, I/E after 1600 slots, DT last.
        var st = 8 + 8 + 52;
        Assert.Equal(2, all[st]);
        Assert.Equal(1600 * 52, Header24(all, st + 5));
        var ie = st + 8 + (1600 * 52);
        Assert.Equal(3, all[ie]);
        Assert.Equal(new byte[] { 0x06, 0x41 }, all[(ie + 8)..(ie + 10)]); // 1601
        var dt = ie + 8 + (1600 * 52);
        Assert.Equal(4, all[dt]);
        Assert.Equal(86, BinaryPrimitives.ReadUInt16BigEndian(all.AsSpan(dt + 2)));
        Assert.Equal(new byte[] { 0x27, 0x11 }, all[(dt + 8)..(dt + 10)]); // 10001
        Assert.Equal("AWS01500", Encoding.ASCII.GetString(all, st + 8 + (1499 * 52) + 12, 8));
    }
}

using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// INQUIRY VPD pages of the tape drive, per personality: the supported-pages list, each page's bytes, allocation-length
/// truncation, and TapeAlert Supported Flags (B2h) against what log page 2Eh can report.
/// </summary>
public class TapeDriveVpdTests
{
    private static readonly Dictionary<string, TapeDrivePersonality> s_personalities = new()
    {
        ["IbmUlt3580Td5"] = TapeDrivePersonality.IbmUlt3580Td5,
        ["IbmUlt3580Td6"] = TapeDrivePersonality.IbmUlt3580Td6,
        ["IbmUlt3580Td7"] = TapeDrivePersonality.IbmUlt3580Td7,
        ["IbmUlt3580Td8"] = TapeDrivePersonality.IbmUlt3580Td8,
        ["HpUltrium5"] = TapeDrivePersonality.HpUltrium5,
    };

    public static TheoryData<string, byte[]> SupportedPagesByPersonality => new()
    {
        { "IbmUlt3580Td5", [0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2, 0xC0, 0xC1] },
        { "IbmUlt3580Td6", [0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2, 0xC0, 0xC1] },
        { "IbmUlt3580Td7", [0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2, 0xC0, 0xC1] },
        { "IbmUlt3580Td8", [0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2, 0xC0, 0xC1] },
        { "HpUltrium5", [0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2] },
    };

    public static TheoryData<string> PersonalityNames => new(s_personalities.Keys);

    [Theory]
    [MemberData(nameof(SupportedPagesByPersonality))]
    public async Task SupportedPages_ListsExactlyThePersonalitysPagesAscending(string personality, byte[] expected)
    {
        var h = new TapeHarness(s_personalities[personality]);
        var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0x00));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(0x01, d[0]); // PQ 000b, sequential access
        Assert.Equal(0x00, d[1]);
        Assert.Equal(expected.Length, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal(expected, d[4..]);
    }

    [Theory]
    [MemberData(nameof(PersonalityNames))]
    public async Task EveryListedPageAnswers_AndNoOtherDoes(string personality)
    {
        var h = new TapeHarness(s_personalities[personality]);
        var list = (await h.Run(SpcCdb.Inquiry(evpd: true, page: 0x00))).Data()[4..];
        for (var page = 0; page <= 0xFF; page++)
        {
            var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: (byte)page, allocation: 4096));
            if (list.Contains((byte)page))
            {
                t.AssertGood();
                var d = t.Data();
                Assert.Equal(0x01, d[0]);
                Assert.Equal(page, d[1]);
                Assert.Equal(d.Length - 4, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
            }
            else
            {
                t.AssertInvalidCdbField(2);
            }
        }
    }

    [Theory]
    [InlineData(0xB3)] // automation device serial number: no automation interface
    [InlineData(0xB4)]
    [InlineData(0xC2)]
    [InlineData(0xC7)]
    [InlineData(0xD0)]
    public async Task UnlistedPages_InvalidFieldInCdb(byte page)
    {
        var h = new TapeHarness();
        var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: page));
        t.AssertInvalidCdbField(2);
    }

    [Theory]
    [InlineData(0xC0)]
    [InlineData(0xC1)]
    public async Task HpPersonality_HasNoIbmVendorPages(byte page)
    {
        var h = new TapeHarness(TapeDrivePersonality.HpUltrium5);
        var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: page));
        t.AssertInvalidCdbField(2);
    }

    [Fact]
    public async Task ManufacturerAssignedSerialNumber_IsTheDriveSerialByDefault()
    {
        var h = new TapeHarness();
        var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0xB1));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(0xB1, d[1]);
        Assert.Equal(TapeHarness.DriveSerial.Length, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal(TapeHarness.DriveSerial, Encoding.ASCII.GetString(d, 4, d.Length - 4));
        Assert.Equal(TapeHarness.DriveSerial, h.Drive.ManufacturerSerialNumber);
    }

    [Fact]
    public async Task ManufacturerAssignedSerialNumber_CanDifferFromUnitSerial()
    {
        var h = new TapeHarness(serial: "LIB0000001", manufacturerSerial: "78A0012345");

        async Task<byte[]> Page(byte page)
        {
            var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: page));
            t.AssertGood();
            return t.Data();
        }

        Assert.Equal("LIB0000001", Encoding.ASCII.GetString((await Page(0x80))[4..]));
        Assert.Equal("78A0012345", Encoding.ASCII.GetString((await Page(0xB1))[4..]));
        var c1 = await Page(0xC1);
        Assert.Equal("78A0012345  ", Encoding.ASCII.GetString(c1, 4, 12));
        Assert.Equal("LIB0000001  ", Encoding.ASCII.GetString(c1, 16, 12));
    }

    [Fact]
    public async Task TapeAlertSupportedFlags_AreTheFlagsTheCodeDefines()
    {
        // Built from the code's own flag list (the TapeAlertFlag enum), not from a copy of it.
        var expected = new byte[8];
        foreach (var flag in Enum.GetValues<TapeAlertFlag>())
        {
            var n = (int)flag;
            expected[(n - 1) / 8] |= (byte)(0x80 >> ((n - 1) % 8));
        }

        var h = new TapeHarness();
        var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0xB2));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(12, d.Length);
        Assert.Equal(0x01, d[0]);
        Assert.Equal(0xB2, d[1]);
        Assert.Equal(8, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal(expected, d[4..]);

        // Flag 01h is byte 4 bit 7; 09h (write protect, which the drive raises) is byte 5 bit 7.
        Assert.Equal(0x80, d[5] & 0x80);
        Assert.Equal(0, d[4] & 0x80);
    }

    [Fact]
    public void TapeAlertFlagList_IsExactlyTheFlagsTheDriveSets()
    {
        // Every SetAlert/SetAlertLocked call site in the drive's sources names a TapeAlertFlag member; the enum holds no
        // flag nobody sets, so B2h claims nothing log page 2Eh can never show.
        var dir = Path.Combine(RepositoryRoot(), "src", "TapeGateway.Scsi", "Ssc");
        var set = new HashSet<string>();
        foreach (var file in Directory.EnumerateFiles(dir, "*.cs"))
        {
            foreach (Match m in Regex.Matches(File.ReadAllText(file), @"SetAlert(?:Locked)?\(\s*TapeAlertFlag\.(\w+)\s*\)"))
            {
                set.Add(m.Groups[1].Value);
            }
        }

        Assert.Equal(Enum.GetNames<TapeAlertFlag>().Order(), set.Order());
    }

    [Fact]
    public async Task TapeAlertSupportedFlags_MatchWhatLogPage2EhReports()
    {
        var h = new TapeHarness();
        foreach (var flag in Enum.GetValues<TapeAlertFlag>())
        {
            h.Drive.SetAlert(flag);
        }

        var log = await h.Run(SpcCdb.LogSense(0x2E, allocation: 1024));
        log.AssertGood();
        var l = log.Data();
        var reported = new HashSet<int>();
        for (var at = 4; at < l.Length; at += 4 + l[at + 3])
        {
            if ((l[at + 4] & 0x01) != 0)
            {
                reported.Add(BinaryPrimitives.ReadUInt16BigEndian(l.AsSpan(at)));
            }
        }

        var b2 = (await h.Run(SpcCdb.Inquiry(evpd: true, page: 0xB2))).Data();
        var supported = new HashSet<int>();
        for (var flag = 1; flag <= 64; flag++)
        {
            if ((b2[4 + ((flag - 1) / 8)] & (0x80 >> ((flag - 1) % 8))) != 0)
            {
                supported.Add(flag);
            }
        }

        Assert.NotEmpty(reported);
        Assert.Equal(supported.Order(), reported.Order());
    }

    [Theory]
    [InlineData("IbmUlt3580Td5", "H6T0")]
    [InlineData("IbmUlt3580Td6", "J451")]
    [InlineData("IbmUlt3580Td8", "N9M1")]
    public async Task IbmDriveComponentRevisionLevels(string personality, string revision)
    {
        var h = new TapeHarness(s_personalities[personality]);
        var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0xC0));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(4 + 0x27, d.Length);
        Assert.Equal(0x01, d[0]);
        Assert.Equal(0xC0, d[1]);
        Assert.Equal(0x27, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal(revision.PadRight(12), Encoding.ASCII.GetString(d, 4, 12)); // code name
        Assert.Equal("000000 ", Encoding.ASCII.GetString(d, 16, 7)); // time hhmmss
        Assert.Equal("20250101", Encoding.ASCII.GetString(d, 23, 8)); // date yyyymmdd
        Assert.Equal("TapeGateway ", Encoding.ASCII.GetString(d, 31, 12)); // platform
    }

    [Fact]
    public async Task IbmDriveSerialNumbers()
    {
        var h = new TapeHarness();
        var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0xC1));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(4 + 0x18, d.Length);
        Assert.Equal(0xC1, d[1]);
        Assert.Equal(0x18, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal(TapeHarness.DriveSerial.PadRight(12), Encoding.ASCII.GetString(d, 4, 12)); // manufacturing
        Assert.Equal(TapeHarness.DriveSerial.PadRight(12), Encoding.ASCII.GetString(d, 16, 12)); // reported
    }

    [Theory]
    [InlineData(0x00, 0, 0)]
    [InlineData(0x00, 3, 3)]
    [InlineData(0x00, 6, 6)]
    [InlineData(0x00, 255, 13)]
    [InlineData(0xB1, 4, 4)]
    [InlineData(0xB1, 8, 8)]
    [InlineData(0xB1, 255, 14)]
    [InlineData(0xB2, 2, 2)]
    [InlineData(0xB2, 11, 11)]
    [InlineData(0xB2, 12, 12)]
    [InlineData(0xB2, 100, 12)]
    [InlineData(0xC0, 20, 20)]
    [InlineData(0xC0, 43, 43)]
    [InlineData(0xC0, 255, 43)]
    [InlineData(0xC1, 1, 1)]
    [InlineData(0xC1, 27, 27)]
    [InlineData(0xC1, 4096, 28)]
    public async Task AllocationLengthTruncatesWithoutChangingPageLength(byte page, ushort allocation, int expected)
    {
        var h = new TapeHarness();
        var full = (await h.Run(SpcCdb.Inquiry(evpd: true, page: page, allocation: 4096))).Data();
        var t = await h.Run(SpcCdb.Inquiry(evpd: true, page: page, allocation: allocation));
        t.AssertGood();
        Assert.Equal(expected, t.DataIn.Length);
        Assert.Equal(full[..expected], t.Data());
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(sourceFile) ?? AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TapeGateway.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}

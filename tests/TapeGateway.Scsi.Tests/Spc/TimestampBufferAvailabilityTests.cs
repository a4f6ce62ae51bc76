using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Tests.Sbc;
using TapeGateway.Scsi.Tests.Smc;
using TapeGateway.Scsi.Tests.Ssc;

namespace TapeGateway.Scsi.Tests.Spc;

/// <summary>
/// REPORT/SET TIMESTAMP and READ/WRITE BUFFER on every device type: listed by REPORT SUPPORTED OPERATION CODES
/// with their CDB usage data, and answering on the disk, the tape drive and the changer alike.
/// </summary>
public sealed class TimestampBufferAvailabilityTests
{
    public static TheoryData<string> DeviceTypes => ["disk", "tape", "changer"];

    public static TheoryData<string, byte, int, byte[]> Commands
    {
        get
        {
            var data = new TheoryData<string, byte, int, byte[]>();
            foreach (var device in new[] { "disk", "tape", "changer" })
            {
                data.Add(device, 0xA3, 0x0F, [0xA3, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00]);
                data.Add(device, 0xA4, 0x0F, [0xA4, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00]);
                data.Add(device, 0x3B, -1, [0x3B, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]);
                data.Add(device, 0x3C, -1, [0x3C, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]);
            }

            return data;
        }
    }

    private static Func<byte[], byte[]?, Task<ScsiTask>> Open(string device)
    {
        switch (device)
        {
            case "disk":
                var disk = DiskHarness.Create();
                return (cdb, data) => disk.RunAsync(Padded(cdb), data);
            case "tape":
                var tape = new TapeHarness();
                return (cdb, data) => tape.Run(cdb, data);
            default:
                var changer = new ChangerHarness();
                return (cdb, data) => changer.Run(cdb, dataOut: data);
        }
    }

    // The disk harness hands the CDB over as is; the others pad it to 16 bytes.
    private static byte[] Padded(byte[] cdb)
    {
        var full = new byte[Math.Max(16, cdb.Length)];
        cdb.CopyTo(full, 0);
        return full;
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task ReportSupportedOperationCodes_ListsTheCommand_WithItsCdbUsage(string device, byte opcode, int serviceAction, byte[] usage)
    {
        var run = Open(device);
        var options = serviceAction < 0 ? (byte)1 : (byte)2;
        var t = await run(Scsi.ReportSupportedOperationCodes(options, opcode, (ushort)Math.Max(serviceAction, 0)), null);
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(0x03, d[1] & 0x07); // SUPPORT 011b
        Assert.Equal(usage.Length, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        Assert.Equal(usage, d.AsSpan(4, usage.Length).ToArray());
    }

    [Theory]
    [MemberData(nameof(DeviceTypes))]
    public async Task AllCommandsList_CarriesTheNewCommands(string device)
    {
        var run = Open(device);
        var d = (await run(Scsi.ReportSupportedOperationCodes(0), null)).Data();
        var listed = new HashSet<(int, int, bool)>();
        for (var at = 4; at + 8 <= d.Length; at += 8)
        {
            listed.Add((d[at], BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at + 2)), (d[at + 5] & 0x01) != 0));
        }

        Assert.Contains((0xA3, 0x0F, true), listed);
        Assert.Contains((0xA4, 0x0F, true), listed);
        Assert.Contains((0x3B, 0, false), listed);
        Assert.Contains((0x3C, 0, false), listed);
    }

    [Theory]
    [MemberData(nameof(DeviceTypes))]
    public async Task TimestampAndBuffer_WorkOnEveryDeviceType(string device)
    {
        var run = Open(device);
        (await run(TimestampTests.SetTimestamp(), TimestampTests.TimestampList(0x0123_4567_89AB))).AssertGood();
        var report = await run(TimestampTests.ReportTimestamp(), null);
        report.AssertGood();
        Assert.Equal(0x02, report.Data()[2]);
        var stamp = ((long)BinaryPrimitives.ReadUInt16BigEndian(report.Data().AsSpan(4)) << 32) | BinaryPrimitives.ReadUInt32BigEndian(report.Data().AsSpan(6));
        Assert.InRange(stamp, 0x0123_4567_89ABL, 0x0123_4567_89ABL + 60_000);

        var data = BufferTests.Pattern(1000, 9);
        (await run(BufferTests.WriteBuffer(0x02, 24, data.Length), data)).AssertGood();
        var read = await run(BufferTests.ReadBuffer(0x02, 24, data.Length), null);
        read.AssertGood();
        Assert.Equal(data, read.Data());
        (await run(BufferTests.WriteBuffer(0x05, 0, 16), new byte[16])).AssertInvalidCdbField(1, 4);
    }
}

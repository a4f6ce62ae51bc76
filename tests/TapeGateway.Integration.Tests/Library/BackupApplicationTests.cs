using System.Buffers.Binary;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Infrastructure;
using TapeGateway.Integration.Tests.Initiator;
using TapeGateway.Iscsi.Hosting;
using TapeGateway.Server;

namespace TapeGateway.Integration.Tests.Library;

/// <summary>The gateway with a small library whose data directory outlives the host, so a test can restart it.</summary>
public sealed class LibraryGateway : IAsyncDisposable
{
    public const string Prefix = "iqn.2026-11.org.tapegateway:";
    public const string Changer = Prefix + "mediachanger";
    public const string Drive1 = Prefix + "tapedrive-01";
    public const string Drive2 = Prefix + "tapedrive-02";

    private readonly IReadOnlyDictionary<string, string?> _extra;
    private WebApplication? _app;

    public LibraryGateway(IReadOnlyDictionary<string, string?>? extra = null, string? dataDirectory = null)
    {
        _extra = extra ?? new Dictionary<string, string?>();
        DataDirectory = dataDirectory ?? Directory.CreateTempSubdirectory("tapegateway-lib-it-").FullName;
    }

    public string DataDirectory { get; }

    public IPEndPoint Endpoint { get; private set; } = null!;

    public WebApplication App => _app ?? throw new InvalidOperationException("not running");

    public async Task StartAsync()
    {
        var settings = new Dictionary<string, string?>
        {
            ["TapeGateway:DataDirectory"] = DataDirectory,
            ["TapeGateway:Iscsi:Port"] = "0",
            ["TapeGateway:Iscsi:ShutdownLogoutWaitSeconds"] = "0",
            ["TapeGateway:Targets:0:Luns:0:SizeMiB"] = "16",
            ["TapeGateway:Library:Drives"] = "2",
            ["TapeGateway:Library:StorageSlots"] = "10",
            ["TapeGateway:Library:ImportExportSlots"] = "2",
            ["TapeGateway:Library:AllowSmallTapes"] = "true",
            ["TapeGateway:Library:Tapes:0:Barcode"] = "ITT001L5,ITT002L5,ITT003L5",
            ["TapeGateway:Library:Tapes:0:Slot"] = "1",
            ["TapeGateway:Library:Tapes:0:CapacityMiB"] = "64",
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in _extra)
        {
            settings[key] = value;
        }

        _app = GatewayHost.Build([], settings);
        await _app.StartAsync();
        Endpoint = await _app.Services.GetRequiredService<IscsiListener>().BoundEndpoint.WaitAsync(TimeSpan.FromSeconds(10));
    }

    public async Task StopAsync()
    {
        if (_app is null)
        {
            return;
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
        _app = null;
    }

    public async Task<TestInitiator> ConnectAsync(string target)
    {
        var ini = await TestInitiator.ConnectAsync(Endpoint, target, new InitiatorOptions { Isid = TestIsids.Next() });
        await ini.ClearUnitAttentionsAsync();
        return ini;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>SSC/SMC CDBs a backup application sends (SSC-4 §6/§7, SMC-3 §6).</summary>
internal static class TapeCdb
{
    public static byte[] ReadElementStatus(ushort start, ushort count, int allocation) =>
    [
        0xB8, 0x10, (byte)(start >> 8), (byte)start, (byte)(count >> 8), (byte)count, 0x00,
        (byte)(allocation >> 16), (byte)(allocation >> 8), (byte)allocation, 0, 0,
    ];

    public static byte[] MoveMedium(ushort source, ushort destination) =>
        [0xA5, 0, 0, 0, (byte)(source >> 8), (byte)source, (byte)(destination >> 8), (byte)destination, 0, 0, 0, 0];

    public static byte[] Write6(int length) => [0x0A, 0x00, (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0];

    public static byte[] Read6(int length) => [0x08, 0x00, (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0];

    public static byte[] WriteFilemarks(int count) => [0x10, 0, (byte)(count >> 16), (byte)(count >> 8), (byte)count, 0];

    public static byte[] Rewind() => [0x01, 0, 0, 0, 0, 0];

    public static byte[] SpaceFilemarks(int count) => [0x11, 0x01, (byte)(count >> 16), (byte)(count >> 8), (byte)count, 0];

    public static byte[] ReadPositionShort() => [0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static byte[] Unload() => [0x1B, 0, 0, 0, 0x00, 0];
}

/// <summary>A parsed READ ELEMENT STATUS element descriptor (SMC-3 §6.10).</summary>
internal sealed record Element(ushort Address, byte Type, bool Full, string? VolumeTag, ushort? Source);

public sealed class BackupApplicationTests
{
    private const ushort Slot1 = 1;
    private const ushort Slot2 = 2;
    private const ushort Mailslot = 11;
    private const ushort FirstDrive = 10001;
    private static readonly byte[][] s_records = [Pattern(1, 65536), Pattern(2, 1000), Pattern(3, 262144)];

    [Fact]
    public async Task Backup_application_writes_reads_exports_and_the_data_survives_a_restart()
    {
        await using var gateway = new LibraryGateway();
        await gateway.StartAsync();

        await using (var changer = await gateway.ConnectAsync(LibraryGateway.Changer))
        await using (var drive = await gateway.ConnectAsync(LibraryGateway.Drive1))
        {
            // Inventory with volume tags, as the application reads it before choosing a tape.
            var elements = await ReadElementsAsync(changer);
            Assert.Equal("ITT001L5", Assert.Single(elements, e => e.Address == Slot1).VolumeTag);
            Assert.False(Assert.Single(elements, e => e.Address == FirstDrive).Full);

            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(Slot1, FirstDrive))).Status);
            elements = await ReadElementsAsync(changer);
            var loaded = Assert.Single(elements, e => e.Address == FirstDrive);
            Assert.Equal(("ITT001L5", (ushort?)Slot1), (loaded.VolumeTag, loaded.Source));

            // The drive reports the load: UNIT ATTENTION 28/00 once, then ready.
            var tur = await drive.ExecuteAsync(0, Cdb.TestUnitReady());
            Assert.Equal(new SenseCode(SenseCode.UnitAttention, 0x28, 0x00), tur.SenseCode);
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, Cdb.TestUnitReady())).Status);

            // Two files: records 0 and 1, filemark; record 2, filemark.
            await WriteAsync(drive, s_records[0]);
            await WriteAsync(drive, s_records[1]);
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.WriteFilemarks(1))).Status);
            await WriteAsync(drive, s_records[2]);
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.WriteFilemarks(1))).Status);
            Assert.Equal(5u, await ReadPositionAsync(drive));

            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.Rewind())).Status);
            Assert.Equal(0u, await ReadPositionAsync(drive));
            Assert.Equal(s_records[0], await ReadAsync(drive, s_records[0].Length));
            Assert.Equal(s_records[1], await ReadAsync(drive, s_records[1].Length));
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.SpaceFilemarks(1))).Status);
            Assert.Equal(3u, await ReadPositionAsync(drive));
            Assert.Equal(s_records[2], await ReadAsync(drive, s_records[2].Length));

            // The application unloads the drive, then has the changer put the tape away and export it.
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.Unload())).Status);
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive, Slot2 + 5))).Status);
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(Slot2 + 5, Mailslot))).Status);
            elements = await ReadElementsAsync(changer);
            Assert.Equal("ITT001L5", Assert.Single(elements, e => e.Address == Mailslot).VolumeTag);
        }

        await gateway.StopAsync();
        await gateway.StartAsync();

        await using (var changer = await gateway.ConnectAsync(LibraryGateway.Changer))
        await using (var drive = await gateway.ConnectAsync(LibraryGateway.Drive1))
        {
            var elements = await ReadElementsAsync(changer);
            Assert.Equal("ITT001L5", Assert.Single(elements, e => e.Address == Mailslot).VolumeTag);
            Assert.Equal("ITT002L5", Assert.Single(elements, e => e.Address == Slot2).VolumeTag);

            // Import it back and read every record.
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(Mailslot, FirstDrive))).Status);
            await drive.ClearUnitAttentionsAsync();
            Assert.Equal(s_records[0], await ReadAsync(drive, s_records[0].Length));
            Assert.Equal(s_records[1], await ReadAsync(drive, s_records[1].Length));
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, TapeCdb.SpaceFilemarks(1))).Status);
            Assert.Equal(s_records[2], await ReadAsync(drive, s_records[2].Length));
        }
    }

    [Fact]
    public async Task A_tape_left_loaded_stays_loaded_across_a_restart_and_rewinds_cleanly()
    {
        await using var gateway = new LibraryGateway();
        await gateway.StartAsync();
        await using (var changer = await gateway.ConnectAsync(LibraryGateway.Changer))
        await using (var drive = await gateway.ConnectAsync(LibraryGateway.Drive2))
        {
            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(3, FirstDrive + 1))).Status);
            await drive.ClearUnitAttentionsAsync();
            await WriteAsync(drive, s_records[1]);
            await WriteAsync(drive, s_records[0]);

            // No filemark, no rewind: the shutdown must make the records durable by itself.
        }

        await gateway.StopAsync();
        await gateway.StartAsync();

        await using (var changer = await gateway.ConnectAsync(LibraryGateway.Changer))
        await using (var drive = await gateway.ConnectAsync(LibraryGateway.Drive2))
        {
            var elements = await ReadElementsAsync(changer);
            var d = Assert.Single(elements, e => e.Address == FirstDrive + 1);
            Assert.Equal(("ITT003L5", (ushort?)3), (d.VolumeTag, d.Source));
            Assert.Equal(ScsiStatus.Good, (await drive.ExecuteAsync(0, Cdb.TestUnitReady())).Status);
            Assert.Equal(0u, await ReadPositionAsync(drive));
            Assert.Equal(s_records[1], await ReadAsync(drive, s_records[1].Length));
            Assert.Equal(s_records[0], await ReadAsync(drive, s_records[0].Length));

            Assert.Equal(ScsiStatus.Good, (await changer.ExecuteAsync(0, TapeCdb.MoveMedium(FirstDrive + 1, 3))).Status);
            Assert.Equal(new SenseCode(SenseCode.NotReady, 0x3A, 0x00), (await drive.ExecuteAsync(0, Cdb.TestUnitReady())).SenseCode);
        }
    }

    private static byte[] Pattern(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static async Task WriteAsync(TestInitiator drive, byte[] record)
    {
        var r = await drive.ExecuteAsync(0, TapeCdb.Write6(record.Length), record);
        Assert.True(r.Status == ScsiStatus.Good, $"WRITE(6) {record.Length}: {r}");
    }

    private static async Task<byte[]> ReadAsync(TestInitiator drive, int length)
    {
        var r = await drive.ExecuteAsync(0, TapeCdb.Read6(length), expectedDataIn: length);
        Assert.True(r.Status == ScsiStatus.Good, $"READ(6) {length}: {r}");
        return r.Data;
    }

    /// <summary>READ POSITION short form (SSC-4 §7.7.2): bytes 4–7 FIRST LOGICAL OBJECT LOCATION.</summary>
    private static async Task<uint> ReadPositionAsync(TestInitiator drive)
    {
        var r = await drive.ExecuteAsync(0, TapeCdb.ReadPositionShort(), expectedDataIn: 20);
        Assert.Equal(ScsiStatus.Good, r.Status);
        return BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(4));
    }

    /// <summary>READ ELEMENT STATUS of every element with volume tags, parsed (SMC-3 §6.10.2–§6.10.5).</summary>
    private static async Task<List<Element>> ReadElementsAsync(TestInitiator changer)
    {
        const int Allocation = 65536;
        var r = await changer.ExecuteAsync(0, TapeCdb.ReadElementStatus(0, 0xFFFF, Allocation), expectedDataIn: Allocation);
        Assert.True(r.Status == ScsiStatus.Good, $"READ ELEMENT STATUS: {r}");
        var data = r.Data;
        var elements = new List<Element>();
        var end = Math.Min(data.Length, 8 + (int)(BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4)) & 0xFFFFFF));
        var offset = 8;
        while (offset + 8 <= end)
        {
            var type = data[offset];
            var pvoltag = (data[offset + 1] & 0x80) != 0;
            var descriptorLength = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(offset + 2));
            var bytes = (int)(BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset + 4)) & 0xFFFFFF);
            var d = offset + 8;
            var pageEnd = Math.Min(end, d + bytes);
            for (; d + descriptorLength <= pageEnd; d += descriptorLength)
            {
                var address = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(d));
                var full = (data[d + 2] & 0x01) != 0;
                var svalid = (data[d + 9] & 0x80) != 0;
                var tag = pvoltag && full ? Encoding.ASCII.GetString(data, d + 12, 32).TrimEnd(' ', '\0') : null;
                elements.Add(new Element(address, type, full, tag, svalid ? BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(d + 10)) : null));
            }

            offset = pageEnd;
        }

        return elements;
    }
}

using System.Buffers.Binary;
using System.Text;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>Load/unload, readiness, identity, MAM, density, log pages, reservations-side state and a CDB fuzz.</summary>
public sealed class TapeDriveTests
{
    [Fact]
    public async Task EmptyDrive_NotReady_MediumNotPresent()
    {
        var h = new TapeHarness();
        var t = await h.Run(Cdb.Tur());
        t.AssertSense(SenseKey.NotReady, 0x3A, 0x00);
        foreach (var cdb in new[] { Cdb.Read(10), Cdb.Write(10), Cdb.Rewind(), Cdb.Space(1, 1), Cdb.Locate10(0), Cdb.ReadAttribute(0), Cdb.ReadMediaSerialNumber() })
        {
            var r = await h.Run(cdb, cdb[0] == 0x0A ? new byte[10] : null);
            r.AssertSense(SenseKey.NotReady, 0x3A, 0x00);
        }

        var rs = await h.Run(SpcCdb.RequestSense());
        rs.AssertGood();
        Assert.Equal((SenseKey.NotReady, (byte)0x3A, (byte)0x00), SenseDataBuilder.Parse(rs.Data()));
        Assert.False(h.Drive.HasMedium);
        Assert.Null(h.Drive.LoadedBarcode);
    }

    [Fact]
    public async Task Load_UnitAttention28_OncePerNexus_ThenGood_AtBop()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(consume: false);
        Assert.True(h.Drive.HasMedium);
        Assert.Equal("HRN001L5", h.Drive.LoadedBarcode);
        foreach (var nexus in new[] { h.A, h.B })
        {
            var first = await h.Run(Cdb.Tur(), nexus: nexus);
            first.AssertSense(SenseKey.UnitAttention, 0x28, 0x00);
            var second = await h.Run(Cdb.Tur(), nexus: nexus);
            second.AssertGood();
        }

        var (block, flags) = await h.ShortPositionAsync();
        Assert.Equal((0u, 0x80), (block, flags & 0x80));

        // The MAM load count went up.
        Assert.True(h.Image!.TryGetAttribute(MamAttributeId.LoadCount, out var count));
        Assert.Equal(1L, BinaryPrimitives.ReadInt64BigEndian(count.Span));
    }

    [Fact]
    public async Task Load_IntoFullDrive_Throws()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var other = await TapeImage.CreateAsync(new MemoryTapeStore(), new TapeImageOptions { CapacityBytes = 16 * TapeHarness.MiB });
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await h.Drive.LoadAsync(other, TapeHarness.Cartridge("X"), CancellationToken.None));
    }

    [Fact]
    public async Task Load_RevertsModeParameters()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(512));
        var medium = await h.Drive.EjectAsync(force: false, CancellationToken.None);
        Assert.NotNull(medium);
        await medium!.DisposeAsync();
        await h.LoadNewAsync();
        Assert.Equal(0u, h.Drive.BlockLength);
    }

    [Fact]
    public async Task Prevent_BlocksEject_UntilAllowedOrForced_ClearedOnNexusLossAndReset()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.Good(Cdb.Prevent(1));
        await (await h.Run(Cdb.Prevent(1), nexus: h.B)).AssertGoodAsync();
        Assert.True(h.Drive.IsRemovalPrevented);
        Assert.Null(await h.Drive.EjectAsync(force: false, CancellationToken.None));
        Assert.True(h.Drive.HasMedium);

        var unload = await h.Run(Cdb.LoadUnload(load: false));
        unload.AssertSense(SenseKey.IllegalRequest, 0x53, 0x02);

        await h.Good(Cdb.Prevent(0));
        Assert.True(h.Drive.IsRemovalPrevented); // B still prevents
        h.Target.NexusLost(h.B);
        Assert.False(h.Drive.IsRemovalPrevented);

        await h.Good(Cdb.Prevent(1));
        h.Target.TaskManagement(TaskManagementEvent.LogicalUnitReset, new Lun(1), h.A);
        Assert.False(h.Drive.IsRemovalPrevented);

        var bad = await h.Run(Cdb.Prevent(2));
        bad.AssertSense(SenseKey.UnitAttention, 0x29, 0x03);
        bad = await h.Run(Cdb.Prevent(2));
        bad.AssertInvalidCdbField(4, 1);

        await h.Good(Cdb.Prevent(1));
        var forced = await h.Drive.EjectAsync(force: true, CancellationToken.None);
        Assert.NotNull(forced);
        Assert.False(h.Drive.IsRemovalPrevented);
        var tur = await h.Run(Cdb.Tur());
        tur.AssertSense(SenseKey.NotReady, 0x3A, 0x00);
        await forced!.DisposeAsync();
    }

    [Fact]
    public async Task Eject_FlushesAndRewinds_ImageReopensWithData()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.WriteRecordAsync(TapeHarness.Block(5000, 1));
        await h.Good(Cdb.WriteFilemarks(1));
        var medium = await h.Drive.EjectAsync(force: false, CancellationToken.None);
        Assert.Same(h.Image, medium);
        Assert.Equal(0L, medium!.ReadPosition().LogicalObjectNumber);
        await medium.DisposeAsync();
        var reopened = await TapeImage.OpenAsync(new MemoryTapeStore(h.Store!.ToArray()));
        Assert.Equal(2L, reopened.ReadPosition().EndOfDataObjectNumber);
        Assert.Null(await h.Drive.EjectAsync(false, CancellationToken.None));
    }

    [Fact]
    public async Task Unload_NotReady_RaisesUnloaded_LoadRethreads()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var raised = new TaskCompletionSource<TapeDriveLogicalUnit>(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Drive.Unloaded += d => raised.TrySetResult(d);
        await h.WriteRecordAsync(new byte[100]);

        var hold = await h.Run(Cdb.LoadUnload(load: false, hold: true));
        hold.AssertGood();
        Assert.True(h.Drive.IsReady);

        await h.Good(Cdb.LoadUnload(load: false));
        Assert.Same(h.Drive, await raised.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(h.Drive.HasMedium);
        Assert.False(h.Drive.IsReady);
        var tur = await h.Run(Cdb.Tur());
        tur.AssertSense(SenseKey.NotReady, 0x3A, 0x00);

        var eotLoad = await h.Run(Cdb.LoadUnload(load: true, eot: true));
        eotLoad.AssertInvalidCdbField(4, 2);

        await h.Good(Cdb.LoadUnload(load: true));
        await h.Good(Cdb.Tur());
        var other = await h.Run(Cdb.Tur(), nexus: h.B);
        other.AssertSense(SenseKey.UnitAttention, 0x28, 0x00);
        Assert.Equal(0u, (await h.ShortPositionAsync()).Block);

        // Unload, then the changer takes it.
        await h.Good(Cdb.LoadUnload(load: false));
        var medium = await h.Drive.EjectAsync(false, CancellationToken.None);
        Assert.NotNull(medium);
        await medium!.DisposeAsync();
        var empty = await h.Run(Cdb.LoadUnload(load: true));
        empty.AssertSense(SenseKey.NotReady, 0x3A, 0x00);
    }

    [Fact]
    public async Task CleaningCartridge_NotReady3003_TapeAlert()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(cartridge: TapeHarness.Cartridge("CLN001L1", cleaning: true));
        var t = await h.Run(Cdb.Tur());
        t.AssertSense(SenseKey.NotReady, 0x30, 0x03);
        var r = await h.Run(Cdb.Read(10));
        r.AssertSense(SenseKey.NotReady, 0x30, 0x03);
        Assert.NotEqual(0UL, h.Drive.TapeAlertFlags & (1UL << 10)); // 0Bh cleaning media
        var medium = await h.Drive.EjectAsync(false, CancellationToken.None);
        Assert.NotNull(medium);
        await medium!.DisposeAsync();
    }

    [Fact]
    public async Task Inquiry_SequentialRemovable_SerialAndVpd()
    {
        var h = new TapeHarness();
        var std = await h.Run(SpcCdb.Inquiry());
        std.AssertGood();
        var d = std.Data();
        Assert.Equal(0x01, d[0]);
        Assert.Equal(0x80, d[1]);
        Assert.Equal("IBM     ", Encoding.ASCII.GetString(d, 8, 8));
        Assert.Equal("ULT3580-TD5     ", Encoding.ASCII.GetString(d, 16, 16));

        var serial = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0x80));
        serial.AssertGood();
        Assert.Equal(TapeHarness.DriveSerial, Encoding.ASCII.GetString(serial.Data(), 4, serial.Data()[3]));

        var pages = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0x00));
        Assert.Contains((byte)0xB0, pages.Data()[4..]);
        var b0 = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0xB0));
        b0.AssertGood();
        Assert.Equal(6, b0.DataIn.Length);
        Assert.Equal(0x01, b0.Data()[4]);

        var dev = await h.Run(SpcCdb.Inquiry(evpd: true, page: 0x83));
        Assert.Contains(TapeHarness.DriveSerial, Encoding.ASCII.GetString(dev.Data()));
    }

    [Fact]
    public async Task ReadBlockLimits_1ByteTo8MiB()
    {
        var h = new TapeHarness();
        var t = await h.Run(Cdb.ReadBlockLimits());
        t.AssertGood();
        Assert.Equal(new byte[] { 0x00, 0x80, 0x00, 0x00, 0x00, 0x01 }, t.Data());
        var mloc = await h.Run(Cdb.ReadBlockLimits(mloc: true));
        Assert.Equal(20, mloc.DataIn.Length);
    }

    [Fact]
    public async Task ReportDensitySupport_Td5()
    {
        var h = new TapeHarness();
        var t = await h.Run(Cdb.ReportDensity());
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(4 + (3 * 52), d.Length);
        Assert.Equal(3 * 52, BinaryPrimitives.ReadUInt16BigEndian(d) - 2);
        var densities = new[] { d[4], d[4 + 52], d[4 + 104] };
        Assert.Equal(new byte[] { 0x44, 0x46, 0x58 }, densities);
        Assert.Equal(0, d[4 + 2] & 0x80); // LTO-3: read only
        Assert.Equal(0x80, d[4 + 52 + 2] & 0x80); // LTO-4: WRTOK
        Assert.Equal(0xA0, d[4 + 104 + 2] & 0xA0); // LTO-5: WRTOK + DEFLT
        Assert.Equal(1_500_000u, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4 + 104 + 12)));

        var media = await h.Run(Cdb.ReportDensity(media: true));
        media.AssertSense(SenseKey.NotReady, 0x3A, 0x00);

        await h.LoadNewAsync(worm: true);
        var mt = await h.Run(Cdb.ReportDensity(media: true, mediumType: true));
        mt.AssertGood();
        var m = mt.Data();
        Assert.Equal(4 + 56, m.Length);
        Assert.Equal(0x5C, m[4]); // LTO-5 WORM
        Assert.Equal(0x58, m[4 + 5]);

        var all = await h.Run(Cdb.ReportDensity(mediumType: true));
        Assert.Equal(4 + (6 * 56), all.DataIn.Length);
    }

    [Fact]
    public async Task Mam_RoundTrip_ReadOnlyRefused_Lists()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 16 * TapeHarness.MiB);

        var list = new List<byte> { 0, 0, 0, 0 };
        void Add(ushort id, byte format, byte[] value)
        {
            list.AddRange([(byte)(id >> 8), (byte)id, format, (byte)(value.Length >> 8), (byte)value.Length]);
            list.AddRange(value);
        }

        Add(0x0800, 0x01, Encoding.ASCII.GetBytes("BACULA  "));
        Add(0x0801, 0x01, Encoding.ASCII.GetBytes("Bacula".PadRight(32)));
        Add(0x0806, 0x01, Encoding.ASCII.GetBytes("HRN001L5".PadRight(32)));
        Add(0x080C, 0x00, [0, 0, 0, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]);
        var data = list.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(data.Length - 4));
        await h.Good(Cdb.WriteAttribute(data.Length), data);

        var read = await h.Run(Cdb.ReadAttribute(0x00));
        read.AssertGood();
        var attrs = ParseAttributes(read.Data());
        Assert.Equal("BACULA  ", Encoding.ASCII.GetString(attrs[0x0800].Value));
        Assert.Equal("HRN001L5".PadRight(32), Encoding.ASCII.GetString(attrs[0x0806].Value));
        Assert.Equal(18, attrs[0x080C].Value.Length);
        Assert.Equal(0x00, attrs[0x0800].Flags & 0x80);
        Assert.Equal(0x80, attrs[0x0001].Flags & 0x80);
        Assert.Equal(16UL, BinaryPrimitives.ReadUInt64BigEndian(attrs[0x0001].Value));
        Assert.Equal(1UL, BinaryPrimitives.ReadUInt64BigEndian(attrs[0x0003].Value));
        Assert.Equal(0x58, attrs[0x0405].Value[0]);
        Assert.Equal(0x00, attrs[0x0408].Value[0]);
        Assert.Equal("SNHRN001L5", Encoding.ASCII.GetString(attrs[0x0401].Value).TrimEnd());

        // Persisted in the image.
        Assert.True(h.Image!.TryGetAttribute(0x0800, out _));

        // FIRST ATTRIBUTE IDENTIFIER filters.
        var fromHost = ParseAttributes((await h.Run(Cdb.ReadAttribute(0x00, first: 0x0800))).Data());
        Assert.DoesNotContain((ushort)0x0001, fromHost.Keys);

        // SPC-4: a FIRST ATTRIBUTE IDENTIFIER in the nonexistent (1623h, a host attribute never written; 0802h
        // between two written ones) or unsupported state is INVALID FIELD IN CDB at byte 8, not the attributes after
        // it (LTFS reads 1623h, its volume lock, and takes 24/00 for "not set").
        (await h.Run(Cdb.ReadAttribute(0x00, first: 0x1623, allocation: 10))).AssertInvalidCdbField(8);
        (await h.Run(Cdb.ReadAttribute(0x00, first: 0x0802))).AssertInvalidCdbField(8);
        (await h.Run(Cdb.ReadAttribute(0x00, first: 0xFFFF))).AssertInvalidCdbField(8);
        Assert.Equal((ushort)0x0806, BinaryPrimitives.ReadUInt16BigEndian((await h.Run(Cdb.ReadAttribute(0x00, first: 0x0806))).Data().AsSpan(4)));

        // Read-only (device / medium) attributes and unknown ones are refused with 26/00 pointing at the id.
        var ro = new byte[] { 0, 0, 0, 13, 0x00, 0x01, 0x00, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8 };
        var t = await h.Run(Cdb.WriteAttribute(ro.Length), ro);
        t.AssertInvalidParameterField(4);
        var badLength = new byte[] { 0, 0, 0, 7, 0x08, 0x00, 0x01, 0x00, 0x02, 0x41, 0x42 };
        var bl = await h.Run(Cdb.WriteAttribute(badLength.Length), badLength);
        bl.AssertInvalidParameterField(7);

        // SPC-4: PARAMETER DATA LENGTH is ignored; the attributes run to PARAMETER LIST LENGTH. LTFS's sg backend puts the
        // list's total length there (4 more than follow): accepted. An attribute cut short by the list length is 1A/00.
        var ltfs = new byte[] { 0, 0, 0, 17, 0x08, 0x00, 0x01, 0x00, 0x08, (byte)'I', (byte)'B', (byte)'M', (byte)' ', (byte)' ', (byte)' ', (byte)' ', (byte)' ' };
        await h.Good(Cdb.WriteAttribute(ltfs.Length), ltfs);
        Assert.Equal("IBM     ", Encoding.ASCII.GetString(ParseAttributes((await h.Run(Cdb.ReadAttribute(0x00, first: 0x0800))).Data())[0x0800].Value));
        var understated = new byte[] { 0, 0, 0, 0, 0x08, 0x00, 0x01, 0x00, 0x08, (byte)'B', (byte)'A', (byte)'C', (byte)'U', (byte)'L', (byte)'A', (byte)' ', (byte)' ' };
        await h.Good(Cdb.WriteAttribute(understated.Length), understated);
        Assert.Equal("BACULA  ", Encoding.ASCII.GetString(ParseAttributes((await h.Run(Cdb.ReadAttribute(0x00, first: 0x0800))).Data())[0x0800].Value));
        (await h.Run(Cdb.WriteAttribute(ltfs.Length - 1), ltfs[..^1])).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);

        // Host vendor-specific attributes (SPC-4: 1400h-17FFh) are stored as given, any length: LTFS's volume lock
        // (1623h, 1 byte). Reported with FORMAT 00h; 1800h and up (reserved) stay refused.
        var vendor = new byte[] { 0, 0, 0, 6, 0x16, 0x23, 0x00, 0x00, 0x01, 0x02 };
        await h.Good(Cdb.WriteAttribute(vendor.Length), vendor);
        var lockState = await h.Run(Cdb.ReadAttribute(0x00, first: 0x1623, allocation: 10));
        lockState.AssertGood();
        Assert.Equal(new byte[] { 0, 0, 0, 6, 0x16, 0x23, 0x00, 0x00, 0x01, 0x02 }, lockState.Data());
        var reserved = new byte[] { 0, 0, 0, 6, 0x18, 0x00, 0x00, 0x00, 0x01, 0x02 };
        (await h.Run(Cdb.WriteAttribute(reserved.Length), reserved)).AssertInvalidParameterField(4);
        var removeVendor = new byte[] { 0, 0, 0, 5, 0x16, 0x23, 0x00, 0x00, 0x00 };
        await h.Good(Cdb.WriteAttribute(removeVendor.Length), removeVendor);
        (await h.Run(Cdb.ReadAttribute(0x00, first: 0x1623))).AssertInvalidCdbField(8);

        // Deleting with length 0.
        var del = new byte[] { 0, 0, 0, 5, 0x08, 0x06, 0x01, 0x00, 0x00 };
        await h.Good(Cdb.WriteAttribute(del.Length), del);
        Assert.False(h.Image.TryGetAttribute(0x0806, out _));

        var idList = await h.Run(Cdb.ReadAttribute(0x01));
        idList.AssertGood();
        Assert.Equal((int)BinaryPrimitives.ReadUInt32BigEndian(idList.Data()) + 4, idList.DataIn.Length);

        var supported = await h.Run(Cdb.ReadAttribute(0x05));
        supported.AssertGood();
        var partitions = await h.Run(Cdb.ReadAttribute(0x03));
        Assert.Equal(new byte[] { 0, 2, 0, 1 }, partitions.Data());
        var volumes = await h.Run(Cdb.ReadAttribute(0x02));
        Assert.Equal(new byte[] { 0, 2, 0, 1 }, volumes.Data());
        var badPartition = await h.Run(Cdb.ReadAttribute(0x00, partition: 1));
        badPartition.AssertInvalidCdbField(7);
        var badSa = await h.Run(Cdb.ReadAttribute(0x04));
        badSa.AssertInvalidCdbField(1, 4);

        var msn = await h.Run(Cdb.ReadMediaSerialNumber());
        msn.AssertGood();
        Assert.Equal("SNHRN001L5  ", Encoding.ASCII.GetString(msn.Data(), 4, 12));
        Assert.Equal(12u, BinaryPrimitives.ReadUInt32BigEndian(msn.Data()));
    }

    [Fact]
    public async Task Mam_WriteOnProtectedTape_DataProtect()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(cartridge: TapeHarness.Cartridge(readOnly: true));
        var data = new byte[] { 0, 0, 0, 13, 0x08, 0x00, 0x01, 0x00, 0x08, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41 };
        var t = await h.Run(Cdb.WriteAttribute(data.Length), data);
        t.AssertSense(SenseKey.DataProtect, 0x27, 0x00);
    }

    private static Dictionary<ushort, (byte Flags, byte[] Value)> ParseAttributes(byte[] d)
    {
        var result = new Dictionary<ushort, (byte, byte[])>();
        var end = 4 + (int)BinaryPrimitives.ReadUInt32BigEndian(d);
        Assert.Equal(end, d.Length);
        var at = 4;
        while (at < end)
        {
            var id = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at));
            var length = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at + 3));
            result[id] = (d[at + 2], d.AsSpan(at + 5, length).ToArray());
            at += 5 + length;
        }

        return result;
    }

    [Fact]
    public async Task LogPages_SupportedCapacityTapeAlertSequential()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 64 * TapeHarness.MiB);
        await h.WriteRecordAsync(TapeHarness.Block(1024 * 1024, 1));

        var supported = await h.Run(SpcCdb.LogSense(0x00));
        supported.AssertGood();
        Assert.Equal(new byte[] { 0x00, 0x02, 0x03, 0x0C, 0x17, 0x1B, 0x2E, 0x31, 0x32 }, supported.Data()[4..]);

        var cap = await h.Run(SpcCdb.LogSense(0x31));
        cap.AssertGood();
        var c = cap.Data();
        Assert.Equal(0x31, c[0]);
        Assert.Equal(4 * 8, BinaryPrimitives.ReadUInt16BigEndian(c.AsSpan(2)));
        var remaining = BinaryPrimitives.ReadUInt32BigEndian(c.AsSpan(8));
        var maximum = BinaryPrimitives.ReadUInt32BigEndian(c.AsSpan(8 + 16));
        Assert.Equal(64u, maximum);
        Assert.InRange(remaining, 60u, 63u);

        var seq = await h.Run(SpcCdb.LogSense(0x0C));
        seq.AssertGood();
        Assert.Equal(1024UL * 1024, BinaryPrimitives.ReadUInt64BigEndian(seq.Data().AsSpan(8)));

        // TapeAlert: write-protect flag after a refused write... here: set one through a protected MAM write.
        h.Drive.SetAlert(TapeAlertFlag.WriteProtect);
        var ta = await h.Run(SpcCdb.LogSense(0x2E, allocation: 1024));
        ta.AssertGood();
        var a = ta.Data();
        Assert.Equal(4 + (64 * 5), a.Length);
        Assert.Equal(0x0009, BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(4 + (8 * 5))));
        Assert.Equal(1, a[4 + (8 * 5) + 4]);
        Assert.Equal(0, a[4 + 4]);
        var again = await h.Run(SpcCdb.LogSense(0x2E, allocation: 1024));
        Assert.Equal(0, again.Data()[4 + (8 * 5) + 4]); // read and clear

        var errors = await h.Run(SpcCdb.LogSense(0x02));
        errors.AssertGood();
        await h.Good(Cdb.LogSelect(pcr: true));
        var sp = await h.Run([0x4C, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
        sp.AssertInvalidCdbField(1, 0);

        var unknown = await h.Run(SpcCdb.LogSense(0x18));
        unknown.AssertInvalidCdbField(2, 5);
    }

    [Fact]
    public async Task DataCompressionPage_ReportsThisMountsRatiosAndCounters()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 64 * TapeHarness.MiB);
        var text = new byte[1024 * 1024 + 1000];
        for (var i = 0; i < text.Length; i++)
        {
            text[i] = (byte)("backup tape data "[i % 17]);
        }

        var noise = TapeHarness.Block(256 * 1024, 5);
        await h.WriteRecordAsync(text); // DCE is on after a load: stored compressed
        await h.WriteRecordAsync(noise); // incompressible: stored as is
        await h.Good(Cdb.Rewind());
        Assert.Equal(text, (await h.Run(Cdb.Read(text.Length))).Data());
        Assert.Equal(noise, (await h.Run(Cdb.Read(noise.Length))).Data());

        var stats = h.Image!.Statistics;
        var host = text.Length + noise.Length;
        Assert.InRange(stats.MediumBytesWritten, noise.Length, noise.Length + 100_000);
        Assert.Equal(stats.MediumBytesWritten, stats.MediumBytesRead);

        foreach (var code in new byte[] { 0x1B, 0x32 })
        {
            var page = await h.Run(SpcCdb.LogSense(code));
            page.AssertGood();
            var p = Parameters(page.Data());
            Assert.Equal(code, page.Data()[0]);
            Assert.Equal(new ushort[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x100 }, p.Keys.ToArray());
            Assert.Equal((ulong)(host * 100L / stats.MediumBytesRead), p[0x0000]); // read ratio x 100
            Assert.Equal((ulong)(host * 100L / stats.MediumBytesWritten), p[0x0001]); // write ratio x 100
            Assert.InRange(p[0x0001], 400UL, 600UL);
            foreach (var (mb, bytes, total) in new[] { (2, 3, (long)host), (4, 5, stats.MediumBytesRead), (6, 7, (long)host), (8, 9, stats.MediumBytesWritten) })
            {
                Assert.Equal((ulong)(total / TapeHarness.MiB), p[(ushort)mb]);
                Assert.Equal((ulong)(total % TapeHarness.MiB), p[(ushort)bytes]);
            }

            Assert.Equal(1UL, p[0x0100]); // DCE
        }

        // HP drives have no vendor page 32h; the standard 1Bh is there.
        var hp = new TapeHarness(TapeDrivePersonality.HpUltrium5);
        await hp.LoadNewAsync(capacity: 64 * TapeHarness.MiB);
        Assert.DoesNotContain((byte)0x32, (await hp.Run(SpcCdb.LogSense(0x00))).Data()[4..]);
        (await hp.Run(SpcCdb.LogSense(0x32))).AssertInvalidCdbField(2, 5);
        var empty = Parameters((await hp.Run(SpcCdb.LogSense(0x1B))).Data());
        Assert.Equal(0UL, empty[0x0000]); // nothing read: no ratio
        Assert.Equal(0UL, empty[0x0008]);

        static Dictionary<ushort, ulong> Parameters(byte[] page)
        {
            var result = new Dictionary<ushort, ulong>();
            for (var at = 4; at < 4 + BinaryPrimitives.ReadUInt16BigEndian(page.AsSpan(2));)
            {
                var length = page[at + 3];
                ulong value = 0;
                foreach (var b in page.AsSpan(at + 4, length))
                {
                    value = (value << 8) | b;
                }

                result.Add(BinaryPrimitives.ReadUInt16BigEndian(page.AsSpan(at)), value);
                at += 4 + length;
            }

            return result;
        }
    }

    [Fact]
    public async Task VolumeStatisticsPage_ReportsTheMountedVolume()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 64 * TapeHarness.MiB);
        await h.WriteRecordAsync(TapeHarness.Block(2 * 1024 * 1024, 3));
        await h.WriteRecordAsync(TapeHarness.Block(1024 * 1024, 4));

        var page = await h.Run(SpcCdb.LogSense(0x17, allocation: 1024));
        page.AssertGood();
        var d = page.Data();
        Assert.Equal(0x17, d[0]);
        Assert.Equal(d.Length - 4, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2)));
        var parameters = new Dictionary<ushort, byte[]>();
        for (var at = 4; at < d.Length; at += 4 + d[at + 3])
        {
            parameters[BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at))] = d.AsSpan(at + 4, d[at + 3]).ToArray();
        }

        Assert.Equal(new byte[] { 1 }, parameters[0x0000]); // page valid
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(parameters[0x0002])); // data sets written (life of a new tape)
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(parameters[0x000E])); // MB written (3 MiB = 3.1 MB)
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(parameters[0x0010])); // MB written over the volume's life

        // What LTFS's cartridge health reads, every one present: retries, suspensions, last-mount errors and passes
        // are 0 for a medium that is a file.
        foreach (var code in new ushort[] { 0x0003, 0x0004, 0x0005, 0x0006, 0x0007, 0x0008, 0x0009, 0x000A, 0x000B, 0x000C, 0x000D, 0x000F, 0x0011, 0x0101, 0x0102 })
        {
            Assert.True(parameters.ContainsKey(code), $"parameter {code:X4} missing");
            Assert.All(parameters[code], b => Assert.Equal(0, b));
        }

        Assert.Equal(67u, BinaryPrimitives.ReadUInt32BigEndian(parameters[0x0016])); // 64 MiB native = 67 MB

        // Last load's compression ratios: the write ratio is the Data Compression page's (1Bh 0001h); nothing read.
        var compression = (await h.Run(SpcCdb.LogSense(0x1B, allocation: 1024))).Data();
        var writeRatio = compression.AsSpan(4 + 6 + 4, 2).ToArray(); // second parameter (0001h), after 0000h's 6 bytes
        Assert.Equal(0x0001, BinaryPrimitives.ReadUInt16BigEndian(compression.AsSpan(4 + 6)));
        Assert.Equal(writeRatio, parameters[0x0012]);
        Assert.True(BinaryPrimitives.ReadUInt16BigEndian(parameters[0x0012]) >= 100); // stored bytes never exceed host bytes
        Assert.Equal(new byte[] { 0, 0 }, parameters[0x0013]);
        Assert.Equal(h.Drive.LoadedBarcode, System.Text.Encoding.ASCII.GetString(parameters[0x0042]).TrimEnd());
        Assert.Equal(0, parameters[0x0042].Length % 4);
        Assert.Equal("TAPEGW", System.Text.Encoding.ASCII.GetString(parameters[0x0043]).TrimEnd());
        Assert.Matches("^Ultrium-[4-9] *$", System.Text.Encoding.ASCII.GetString(parameters[0x0045]));
        Assert.Equal($"Ultrium-{h.Drive.LoadedCartridge?.Generation.Number}", System.Text.Encoding.ASCII.GetString(parameters[0x0045]).TrimEnd());
        Assert.Equal(new byte[] { 0 }, parameters[0x0081]); // not WORM
    }

    [Fact]
    public async Task VolumeStatisticsPage_And_Mam_Carry_Lifetime_Totals_Across_An_Unload()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 64 * TapeHarness.MiB);
        await h.WriteRecordAsync(TapeHarness.Block(2 * 1024 * 1024, 3));
        var medium = await h.Drive.EjectAsync(force: false, CancellationToken.None);
        Assert.NotNull(medium);
        await medium.UnloadAsync();

        var reopened = await TapeImage.OpenAsync(new MemoryTapeStore(h.Store!.ToArray()));
        await h.Drive.LoadAsync(reopened, TapeHarness.Cartridge(), CancellationToken.None);
        h.Consume(h.A);
        var page = await h.Run(SpcCdb.LogSense(0x17, allocation: 1024));
        page.AssertGood();
        var d = page.Data();
        var parameters = new Dictionary<ushort, byte[]>();
        for (var at = 4; at < d.Length; at += 4 + d[at + 3])
        {
            parameters[BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at))] = d.AsSpan(at + 4, d[at + 3]).ToArray();
        }

        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(parameters[0x0002])); // data sets written, lifetime
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(parameters[0x000E])); // MB written this mount
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(parameters[0x0010])); // MB written, lifetime (2 MiB = 2.1 MB)

        // MAM: TOTAL MBYTES WRITTEN IN MEDIUM LIFE (0220h) and IN CURRENT/LAST LOAD (0222h), in MiB.
        var attributes = await h.Run([0x8C, 0x00, 0, 0, 0, 0, 0, 0, 0x02, 0x20, 0, 0, 0x01, 0x00, 0, 0]);
        attributes.AssertGood();
        var a = attributes.Data();
        var values = new Dictionary<ushort, ulong>();
        for (var at = 4; at + 5 <= a.Length;)
        {
            var id = BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(at));
            var length = BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(at + 3));
            if (length == 8)
            {
                values[id] = BinaryPrimitives.ReadUInt64BigEndian(a.AsSpan(at + 5));
            }

            at += 5 + length;
        }

        Assert.Equal(2UL, values[0x0220]);
        Assert.Equal(0UL, values[0x0222]);
    }

    [Fact]
    public async Task ModeSensePageZero_ReturnsHeaderAndBlockDescriptor_AsLinuxStAsksAtOpen()
    {
        // st sends 1A 00 00 00 0C 00 at every open: density, block length and the WP bit come from this answer.
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var t = await h.Run([0x1A, 0x00, 0x00, 0x00, 0x0C, 0x00]);
        t.AssertGood();
        var m = t.DataIn.ToArray();
        Assert.Equal(12, m.Length);
        Assert.Equal(11, m[0]); // MODE DATA LENGTH
        Assert.Equal(8, m[3]); // BLOCK DESCRIPTOR LENGTH
        Assert.Equal(0x58, m[4]); // LTO-5 density

        var ten = await h.Run([0x5A, 0x00, 0x00, 0, 0, 0, 0, 0x00, 0x20, 0x00]);
        ten.AssertGood();
        Assert.Equal(16, ten.DataIn.Length);
    }

    [Fact]
    public async Task ModePages_Registered_PartitionPageRefusesTwoSelectors_CapNotChangeable()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        foreach (byte page in new byte[] { 0x01, 0x0A, 0x0F, 0x10, 0x11, 0x1C })
        {
            var t = await h.Run(SpcCdb.ModeSense10(page));
            t.AssertGood();
        }

        var ext = await h.Run(SpcCdb.ModeSense10(0x10, subpage: 0x01));
        ext.AssertGood();

        var mp = await h.Run(SpcCdb.ModeSense6(0x11, dbd: true));
        var list = mp.Data();
        list[0] = 0;
        list[4 + 4] |= 0x80 | 0x40; // FDP and SDP: SSC-4 §8.3.4 allows one of FDP/SDP/IDP
        var t2 = await h.Run(SpcCdb.ModeSelect6(list.Length), list);
        t2.AssertInvalidParameterField(8);

        // Device configuration page: EEG and SEW set; CAP (byte 2 bit 6) is refused: LOCATE CP=1 changes partitions.
        var dc = await h.Run(SpcCdb.ModeSense6(0x10, dbd: true));
        Assert.Equal(0x18, dc.Data()[4 + 10] & 0x18);
        var dcList = dc.Data();
        dcList[0] = 0;
        dcList[4 + 2] |= 0x40;
        (await h.Run(SpcCdb.ModeSelect6(dcList.Length), dcList)).AssertInvalidParameterField(6, 6);
    }

    [Fact]
    public async Task Reset_RevertsBlockLengthAndCompression()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(2048));
        h.Target.TaskManagement(TaskManagementEvent.LogicalUnitReset, new Lun(1), h.A);
        Assert.Equal(0u, h.Drive.BlockLength);
        Assert.True(h.Drive.CompressionEnabled);
    }

    [Fact]
    public async Task ReportSupportedOperationCodes_ListsTapeCommands()
    {
        var h = new TapeHarness();
        var t = await h.Run(SpcCdb.ReportSupportedOperationCodes(0));
        t.AssertGood();
        var d = t.Data();
        var opcodes = new HashSet<byte>();
        for (var at = 4; at < d.Length; at += 8)
        {
            opcodes.Add(d[at]);
        }

        foreach (var op in new byte[] { 0x00, 0x01, 0x03, 0x05, 0x08, 0x0A, 0x10, 0x11, 0x12, 0x19, 0x1B, 0x1E, 0x2B, 0x34, 0x44, 0x4C, 0x4D, 0x5E, 0x5F, 0x80, 0x82, 0x8C, 0x8D, 0x91, 0x92, 0xAB })
        {
            Assert.Contains(op, opcodes);
        }

        Assert.DoesNotContain((byte)0x28, opcodes); // no READ(10): not a disk

        var one = await h.Run(SpcCdb.ReportSupportedOperationCodes(2, 0x34, 0x06));
        one.AssertGood();
        Assert.Equal(0x03, one.Data()[1] & 0x07);
    }

    [Fact]
    public async Task RandomCdbs_NeverCrash()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 32 * TapeHarness.MiB);
        await h.WriteRecordsAsync(5, 3000);
        await h.Good(Cdb.WriteFilemarks(2));
        var rng = new Random(1234);
        var interesting = new byte[] { 0x00, 0x01, 0x03, 0x05, 0x08, 0x0A, 0x10, 0x11, 0x12, 0x13, 0x15, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x2B, 0x34, 0x44, 0x4C, 0x4D, 0x55, 0x5A, 0x80, 0x82, 0x8C, 0x8D, 0x91, 0x92, 0xA2, 0xA3, 0xAB, 0xB5 };
        for (var i = 0; i < 3000; i++)
        {
            var cdb = new byte[16];
            rng.NextBytes(cdb);
            cdb[0] = rng.Next(4) == 0 ? (byte)rng.Next(256) : interesting[rng.Next(interesting.Length)];
            cdb[rng.Next(1, 6)] = 0; // keep some fields small
            if (cdb[0] is 0x08 or 0x0A)
            {
                cdb[2] = 0; // keep transfers small enough to be quick
            }

            var control = (cdb[0] >> 5) switch { 0 => 5, 1 or 2 => 9, 5 => 11, _ => 15 };
            cdb[control] &= unchecked((byte)~0x04);
            var dataOut = rng.Next(3) == 0 ? TapeHarness.Block(rng.Next(0, 2048), i) : null;
            var t = await h.Run(cdb, dataOut);
            t.AssertSaneAnswer(cdb);

            if (!h.Drive.IsReady && h.Drive.HasMedium)
            {
                await h.Good(Cdb.LoadUnload(load: true));
            }

            h.Consume(h.A);
        }
    }
}

internal static class TaskExtensions
{
    public static Task AssertGoodAsync(this ScsiTask task)
    {
        task.AssertGood();
        return Task.CompletedTask;
    }
}

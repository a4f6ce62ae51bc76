using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Tests.Spc;

/// <summary>A minimal disk-like unit: the SPC commands only, a block descriptor and a switchable ready state.</summary>
internal sealed class SpcTestUnit : LogicalUnit<SpcTestUnit>
{
    public const string Vendor = "TAPEGW";
    public const string Product = "SPC TEST UNIT";

    private static readonly CommandTable<SpcTestUnit> s_commands = SpcCommands.Register(new CommandTable<SpcTestUnit>());
    private readonly ModePageSet _modePages = new();

    public SpcTestUnit(ushort lun = 0, string serial = "SPC0001")
        : base(new Lun(lun), new LogicalUnitIdentity(Vendor, Product, "0100", serial, LogicalUnitIdentity.Naa5(0x1234)), NullLogger.Instance)
    {
    }

    public override PeripheralDeviceType DeviceType => PeripheralDeviceType.DirectAccess;

    public override ModePageSet ModePages => _modePages;

    public SenseReason NotReadyReason { get; set; }

    public List<(byte Page, byte Subpage)> ChangedPages { get; } = [];

    protected override CommandTable<SpcTestUnit> Commands => s_commands;

    protected internal override byte DeviceSpecificParameter => 0x10; // DPOFUA

    protected internal override SenseReason CheckReady() => NotReadyReason;

    protected internal override ModeBlockDescriptor? GetModeBlockDescriptor(ModePageControl pageControl) =>
        new(0, 1000, 512);

    protected internal override void OnModePageChanged(byte page, byte subpage) => ChangedPages.Add((page, subpage));
}

/// <summary>A target with one test unit at LUN 0 and two logged-in nexuses whose power-on unit attentions are consumed.</summary>
internal sealed class SpcFixture
{
    public const string TargetName = "iqn.2024-01.test.tapegateway:tgt";

    public SpcFixture(IPersistentReservationStore? store = null, string serial = "SPC0001", bool consumeUnitAttentions = true, TimeProvider? time = null)
    {
        Target = new ScsiTargetDevice(TargetName, null, store);
        Unit = time is null ? new SpcTestUnit(0, serial) : new SpcTestUnit(0, serial) { TimeProvider = time };
        Target.Add(Unit);
        A = new ItNexus("iqn.1994-05.com.example:a", 0x23D000000001, TargetName, 1);
        B = new ItNexus("iqn.1994-05.com.example:b", 0x23D000000002, TargetName, 1);
        Target.NexusCreated(A);
        Target.NexusCreated(B);
        if (consumeUnitAttentions)
        {
            ConsumeUnitAttentions(A);
            ConsumeUnitAttentions(B);
        }
    }

    public ScsiTargetDevice Target { get; }

    public SpcTestUnit Unit { get; }

    public ItNexus A { get; }

    public ItNexus B { get; }

    public void ConsumeUnitAttentions(ItNexus nexus)
    {
        while (Unit.UnitAttentions.TryTake(nexus, out _))
        {
        }
    }

    public Task<ScsiTask> Run(ItNexus nexus, byte[] cdb, byte[]? dataOut = null, ushort lun = 0) =>
        Scsi.Run(Target, nexus, cdb, dataOut, lun);
}

internal static class Scsi
{
    public static async Task<ScsiTask> Run(IScsiTarget target, ItNexus nexus, byte[] cdb, byte[]? dataOut = null, ushort lun = 0)
    {
        var task = new ScsiTask();
        var full = new byte[Math.Max(16, cdb.Length)];
        cdb.CopyTo(full, 0);
        task.SetCdb(full);
        task.Nexus = nexus;
        task.Lun = new Lun(lun);
        if (dataOut is not null)
        {
            task.Direction = DataDirection.Write;
            task.ExpectedDataTransferLength = (uint)dataOut.Length;
            dataOut.CopyTo(task.PrepareDataOut(dataOut.Length));
            task.CompleteDataOut(dataOut.Length);
        }

        await target.ExecuteAsync(task);
        return task;
    }

    public static byte[] Data(this ScsiTask task) => task.DataIn.ToArray();

    public static void AssertGood(this ScsiTask task)
    {
        Assert.True(task.Status == ScsiStatus.Good, $"expected GOOD, got {task.Status} {task.SenseString()}");
        Assert.Equal(0, task.SenseLength);
    }

    /// <summary>
    /// What every answer to a random CDB must be: GOOD, RESERVATION CONFLICT or CHECK CONDITION with a real sense —
    /// never the internal-failure sense (HARDWARE ERROR 44/00) a handler's exception would produce.
    /// </summary>
    public static void AssertSaneAnswer(this ScsiTask task, byte[] cdb)
    {
        Assert.True(task.Status is ScsiStatus.Good or ScsiStatus.CheckCondition or ScsiStatus.ReservationConflict, $"{task.Status} for {Convert.ToHexString(cdb)}");
        if (task.Status == ScsiStatus.CheckCondition)
        {
            var (key, asc, _) = SenseDataBuilder.Parse(task.Sense);
            Assert.False(key == SenseKey.HardwareError && asc == 0x44, $"internal failure for {Convert.ToHexString(cdb)}");
        }
    }

    public static void AssertConflict(this ScsiTask task)
    {
        Assert.Equal(ScsiStatus.ReservationConflict, task.Status);
        Assert.Equal(0, task.SenseLength);
        Assert.Equal(0, task.DataIn.Length);
    }

    public static void AssertSense(this ScsiTask task, SenseKey key, byte asc, byte ascq)
    {
        Assert.Equal(ScsiStatus.CheckCondition, task.Status);
        var (k, a, q) = SenseDataBuilder.Parse(task.Sense);
        Assert.Equal((key, asc, ascq), (k, a, q));
    }

    /// <summary>Checks the sense-key specific field pointer of fixed-format sense (SPC-4 §4.5.2.4.2).</summary>
    public static void AssertFieldPointer(this ScsiTask task, bool inCdb, int bytePointer, int? bitPointer = null)
    {
        var sense = task.Sense;
        Assert.Equal(0x70, sense[0] & 0x7F);
        var sks = sense[15];
        Assert.True((sks & 0x80) != 0, "SKSV");
        Assert.Equal(inCdb, (sks & 0x40) != 0);
        Assert.Equal(bitPointer is not null, (sks & 0x08) != 0);
        if (bitPointer is { } bit)
        {
            Assert.Equal(bit, sks & 0x07);
        }

        Assert.Equal(bytePointer, BinaryPrimitives.ReadUInt16BigEndian(sense[16..]));
    }

    public static void AssertInvalidCdbField(this ScsiTask task, int bytePointer, int? bitPointer = null)
    {
        task.AssertSense(SenseKey.IllegalRequest, 0x24, 0x00);
        task.AssertFieldPointer(inCdb: true, bytePointer, bitPointer);
    }

    public static void AssertInvalidParameterField(this ScsiTask task, int bytePointer, int? bitPointer = null)
    {
        task.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        task.AssertFieldPointer(inCdb: false, bytePointer, bitPointer);
    }

    public static string SenseString(this ScsiTask task)
    {
        var (k, a, q) = SenseDataBuilder.Parse(task.Sense);
        return $"{k} {a:X2}/{q:X2}";
    }

    // ---- CDB builders ----------------------------------------------------------------------------------------

    public static byte[] Inquiry(bool evpd = false, byte page = 0, ushort allocation = 255)
    {
        var cdb = new byte[6];
        cdb[0] = 0x12;
        cdb[1] = (byte)(evpd ? 1 : 0);
        cdb[2] = page;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(3), allocation);
        return cdb;
    }

    public static byte[] TestUnitReady() => new byte[6];

    public static byte[] RequestSense(bool desc = false, byte allocation = 252) => [0x03, (byte)(desc ? 1 : 0), 0, 0, allocation, 0];

    public static byte[] ReportLuns(byte select = 0, uint allocation = 4096)
    {
        var cdb = new byte[12];
        cdb[0] = 0xA0;
        cdb[2] = select;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(6), allocation);
        return cdb;
    }

    public static byte[] ModeSense6(byte page, byte subpage = 0, byte pc = 0, bool dbd = false, byte allocation = 255) =>
        [0x1A, (byte)(dbd ? 0x08 : 0), (byte)((pc << 6) | page), subpage, allocation, 0];

    public static byte[] ModeSense10(byte page, byte subpage = 0, byte pc = 0, bool dbd = false, bool llbaa = false, ushort allocation = 1024)
    {
        var cdb = new byte[10];
        cdb[0] = 0x5A;
        cdb[1] = (byte)((dbd ? 0x08 : 0) | (llbaa ? 0x10 : 0));
        cdb[2] = (byte)((pc << 6) | page);
        cdb[3] = subpage;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), allocation);
        return cdb;
    }

    public static byte[] ModeSelect6(int length, bool pf = true, bool sp = false) =>
        [0x15, (byte)((pf ? 0x10 : 0) | (sp ? 1 : 0)), 0, 0, (byte)length, 0];

    public static byte[] ModeSelect10(int length, bool pf = true)
    {
        var cdb = new byte[10];
        cdb[0] = 0x55;
        cdb[1] = (byte)(pf ? 0x10 : 0);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), (ushort)length);
        return cdb;
    }

    public static byte[] ReportSupportedOperationCodes(byte options, byte opcode = 0, ushort serviceAction = 0, bool rctd = false, uint allocation = 65535)
    {
        var cdb = new byte[12];
        cdb[0] = 0xA3;
        cdb[1] = 0x0C;
        cdb[2] = (byte)((rctd ? 0x80 : 0) | options);
        cdb[3] = opcode;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(4), serviceAction);
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(6), allocation);
        return cdb;
    }

    public static byte[] ReportSupportedTmf(bool repd = false, uint allocation = 255)
    {
        var cdb = new byte[12];
        cdb[0] = 0xA3;
        cdb[1] = 0x0D;
        cdb[2] = (byte)(repd ? 0x80 : 0);
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(6), allocation);
        return cdb;
    }

    public static byte[] LogSense(byte page, byte subpage = 0, bool sp = false, ushort allocation = 255)
    {
        var cdb = new byte[10];
        cdb[0] = 0x4D;
        cdb[1] = (byte)(sp ? 1 : 0);
        cdb[2] = (byte)(0x40 | page);
        cdb[3] = subpage;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), allocation);
        return cdb;
    }

    public static byte[] PrIn(byte serviceAction, ushort allocation = 8192)
    {
        var cdb = new byte[10];
        cdb[0] = 0x5E;
        cdb[1] = serviceAction;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), allocation);
        return cdb;
    }

    public static byte[] PrOut(byte serviceAction, byte type = 0, byte scope = 0, uint length = 24)
    {
        var cdb = new byte[10];
        cdb[0] = 0x5F;
        cdb[1] = serviceAction;
        cdb[2] = (byte)((scope << 4) | type);
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(5), length);
        return cdb;
    }

    public static byte[] PrOutData(ulong key, ulong serviceActionKey = 0, bool aptpl = false, bool allTgPt = false, bool specIpt = false, int length = 24)
    {
        var data = new byte[length];
        BinaryPrimitives.WriteUInt64BigEndian(data, key);
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(8), serviceActionKey);
        data[20] = (byte)((specIpt ? 0x08 : 0) | (allTgPt ? 0x04 : 0) | (aptpl ? 0x01 : 0));
        return data;
    }
}

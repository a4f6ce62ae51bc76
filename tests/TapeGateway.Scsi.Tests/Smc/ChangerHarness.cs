using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Tests.Spc;
using ScsiCmd = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Smc;

/// <summary>
/// A target with the changer at LUN 3 (as in the VM harness) and two logged-in nexuses whose power-on unit
/// attentions are consumed. The small library mimics an L700 layout: transport 0, I/E 10-11, drives 500-501,
/// slots 1000-1004; slots 1000-1002 hold HRN001L4-HRN003L4.
/// </summary>
internal sealed class ChangerHarness
{
    public const string TargetName = "iqn.2024-01.test.tapegateway:changer";
    public const ushort ChangerLun = 3;

    public static readonly ChangerGeometry SmallGeometry = new(
        new ElementRange(0, 1), new ElementRange(1000, 5), new ElementRange(10, 2), new ElementRange(500, 2));

    public static readonly DriveDescriptor[] SmallDrives =
    [
        new(500, "IBM", "ULT3580-TD5", "SN00000001", new Lun(1)),
        new(501, "IBM", "ULT3580-TD5", "SN00000002"),
    ];

    public ChangerHarness(ChangerPersonality? personality = null, FakeChangerBackend? backend = null)
    {
        Backend = backend ?? Small();
        Unit = new MediumChangerLogicalUnit(new Lun(ChangerLun), personality ?? ChangerPersonality.AwsGatewayVtl, "CHGR000001", Backend);
        Target = new ScsiTargetDevice(TargetName);
        Target.Add(Unit);
        A = new ItNexus("iqn.1994-05.com.example:a", 0x23D000000001, TargetName, 1);
        B = new ItNexus("iqn.1994-05.com.example:b", 0x23D000000002, TargetName, 1);
        Target.NexusCreated(A);
        Target.NexusCreated(B);
        Consume(A);
        Consume(B);
    }

    public FakeChangerBackend Backend { get; }

    public MediumChangerLogicalUnit Unit { get; }

    public ScsiTargetDevice Target { get; }

    public ItNexus A { get; }

    public ItNexus B { get; }

    public static FakeChangerBackend Small() =>
        new FakeChangerBackend(SmallGeometry, SmallDrives)
            .Place(1000, "HRN001L4")
            .Place(1001, "HRN002L4")
            .Place(1002, "HRN003L4");

    public void Consume(ItNexus nexus)
    {
        while (Unit.UnitAttentions.TryTake(nexus, out _))
        {
        }
    }

    public Task<ScsiTask> Run(byte[] cdb, ItNexus? nexus = null, byte[]? dataOut = null) =>
        ScsiCmd.Run(Target, nexus ?? A, cdb, dataOut, ChangerLun);

    // ---- CDB builders (SMC-3 §6) -------------------------------------------------------------------------------

    public static byte[] ReadElementStatus(
        ElementType type = ElementType.All,
        ushort start = 0,
        ushort count = 0xFFFF,
        bool volTag = false,
        bool dvcid = false,
        int allocation = 0xFF_FFFF,
        byte lunBits = 0)
    {
        var c = new byte[12];
        c[0] = 0xB8;
        c[1] = (byte)((lunBits << 5) | (volTag ? 0x10 : 0) | (byte)type);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), start);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(4), count);
        c[6] = (byte)(dvcid ? 1 : 0);
        c[7] = (byte)(allocation >> 16);
        c[8] = (byte)(allocation >> 8);
        c[9] = (byte)allocation;
        return c;
    }

    public static byte[] Move(ushort source, ushort destination, ushort transport = 0, bool invert = false)
    {
        var c = new byte[12];
        c[0] = 0xA5;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), transport);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(4), source);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(6), destination);
        c[10] = (byte)(invert ? 1 : 0);
        return c;
    }

    public static byte[] Exchange(ushort source, ushort first, ushort second, ushort transport = 0, byte inv = 0)
    {
        var c = new byte[12];
        c[0] = 0xA6;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), transport);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(4), source);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(6), first);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(8), second);
        c[10] = inv;
        return c;
    }

    public static byte[] Position(ushort destination, ushort transport = 0, bool invert = false)
    {
        var c = new byte[10];
        c[0] = 0x2B;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), transport);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(4), destination);
        c[8] = (byte)(invert ? 1 : 0);
        return c;
    }

    public static byte[] InitializeElementStatus() => [0x07, 0, 0, 0, 0, 0];

    public static byte[] InitializeElementStatusWithRange(bool range, ushort start, ushort count, bool fast = false)
    {
        var c = new byte[10];
        c[0] = 0x37;
        c[1] = (byte)((range ? 1 : 0) | (fast ? 2 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), start);
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(6), count);
        return c;
    }

    public static byte[] PreventAllow(byte prevent) => [0x1E, 0, 0, 0, prevent, 0];

    public static byte[] OpenClose(ushort address, byte action) =>
        [0x1B, 0, (byte)(address >> 8), (byte)address, action, 0];
}

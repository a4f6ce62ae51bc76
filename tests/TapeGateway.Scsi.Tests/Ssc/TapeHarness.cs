using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Scsi.Tests.Spc;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>One IBM TD5 drive at LUN 1 of a target, two logged-in nexuses, tapes on in-memory stores.</summary>
internal sealed class TapeHarness
{
    public const long MiB = 1024 * 1024;
    public const string TargetName = "iqn.2024-01.test.tapegateway:vtl";
    public const string DriveSerial = "1013000001";

    public TapeHarness(TapeDrivePersonality? personality = null, string serial = DriveSerial, string? manufacturerSerial = null)
    {
        Target = new ScsiTargetDevice(TargetName);
        Drive = new TapeDriveLogicalUnit(new Lun(1), personality ?? TapeDrivePersonality.IbmUlt3580Td5, serial, manufacturerSerialNumber: manufacturerSerial);
        Target.Add(Drive);
        A = new ItNexus("iqn.1994-05.com.example:a", 0x23D000000001, TargetName, 1);
        B = new ItNexus("iqn.1994-05.com.example:b", 0x23D000000002, TargetName, 1);
        Target.NexusCreated(A);
        Target.NexusCreated(B);
        Consume(A);
        Consume(B);
    }

    public ScsiTargetDevice Target { get; }

    public TapeDriveLogicalUnit Drive { get; }

    public ItNexus A { get; }

    public ItNexus B { get; }

    public MemoryTapeStore? Store { get; private set; }

    public TapeImage? Image { get; private set; }

    public void Consume(ItNexus nexus)
    {
        while (Drive.UnitAttentions.TryTake(nexus, out _))
        {
        }
    }

    public static LoadedCartridge Cartridge(string barcode = "HRN001L5", LtoGeneration? generation = null, bool worm = false, bool readOnly = false, bool cleaning = false) =>
        new(barcode, generation ?? LtoGeneration.Lto5, worm, readOnly, cleaning, 16 * MiB, "SN" + barcode);

    /// <summary>APPLICATION VENDOR, the host-type MAM attribute <see cref="TwoFilesAsync"/> puts on its tape.</summary>
    public const ushort TwoFilesHostAttribute = 0x0800;

    /// <summary>
    /// Two files (3 records of 1000 bytes, FM) x 2 on a new default-size tape that carries a host MAM attribute,
    /// rewound: the fixture of the commands that destroy data (FORMAT MEDIUM, SET CAPACITY) and must lose nothing
    /// when they refuse.
    /// </summary>
    public static async Task<TapeHarness> TwoFilesAsync(bool worm = false, TapeDrivePersonality? personality = null)
    {
        var h = new TapeHarness(personality);
        await h.LoadNewAsync(worm: worm, attributes: [new TapeAttribute(TwoFilesHostAttribute, "VENDOR01"u8.ToArray())]);
        for (var f = 0; f < 2; f++)
        {
            await h.WriteRecordsAsync(3, 1000, f * 10);
            await h.Good(Cdb.WriteFilemarks(1));
        }

        await h.Good(Cdb.Rewind());
        return h;
    }

    /// <summary>Everything <see cref="TwoFilesAsync"/> wrote is still there: the first record reads back, EOD after 8 objects.</summary>
    public async Task AssertTwoFilesIntactAsync()
    {
        await Good(Cdb.Rewind());
        var r = await Run(Cdb.Read(1000));
        r.AssertGood();
        Assert.Equal(Block(1000, 0), r.Data());
        await Good(Cdb.Space(3, 0));
        Assert.Equal(8L, (await LongPositionAsync()).Object);
    }

    /// <summary>Positions of the <see cref="TwoFilesAsync"/> tape that are not BOP: after a block, on a filemark, at EOD.</summary>
    public static TheoryData<string, uint> TwoFilesAwayFromBop => new()
    {
        { "after the first block", 1 },
        { "on a filemark", 3 },
        { "at EOD", 8 },
    };

    /// <summary>Creates a tape and loads it; unit attentions of the load are consumed unless asked not to.</summary>
    public async Task<TapeImage> LoadNewAsync(long capacity = 16 * MiB, bool worm = false, LoadedCartridge? cartridge = null, bool consume = true, long? earlyWarning = null, IReadOnlyList<TapeAttribute>? attributes = null)
    {
        Store = new MemoryTapeStore();
        Image = await TapeImage.CreateAsync(Store, new TapeImageOptions
        {
            CapacityBytes = capacity,
            Worm = worm,
            EarlyWarningBytes = earlyWarning,
            InitialAttributes = attributes ?? [],
        });
        await Drive.LoadAsync(Image, cartridge ?? Cartridge(worm: worm), CancellationToken.None);
        if (consume)
        {
            Consume(A);
            Consume(B);
        }

        return Image;
    }

    public Task<ScsiTask> Run(byte[] cdb, byte[]? dataOut = null, ItNexus? nexus = null, uint? expected = null) =>
        RunOn(nexus ?? A, cdb, dataOut, expected);

    private async Task<ScsiTask> RunOn(ItNexus nexus, byte[] cdb, byte[]? dataOut, uint? expected)
    {
        var task = new ScsiTask();
        var full = new byte[Math.Max(16, cdb.Length)];
        cdb.CopyTo(full, 0);
        task.SetCdb(full);
        task.Nexus = nexus;
        task.Lun = new Lun(1);
        if (dataOut is not null)
        {
            task.Direction = DataDirection.Write;
            task.ExpectedDataTransferLength = expected ?? (uint)dataOut.Length;
            dataOut.CopyTo(task.PrepareDataOut(dataOut.Length));
            task.CompleteDataOut(dataOut.Length);
        }
        else
        {
            task.Direction = DataDirection.Read;
            task.ExpectedDataTransferLength = expected ?? 0;
            task.CompleteDataOut(0); // no Data-Out will come: a handler that waits for it sees an empty buffer
        }

        await Target.ExecuteAsync(task);
        return task;
    }

    public async Task Good(byte[] cdb, byte[]? dataOut = null)
    {
        var t = await Run(cdb, dataOut);
        t.AssertGood();
    }

    public async Task WriteRecordAsync(byte[] data) => await Good(Cdb.Write(data.Length), data);

    public async Task WriteRecordsAsync(int count, int length, int seed = 1)
    {
        for (var i = 0; i < count; i++)
        {
            await WriteRecordAsync(Block(length, seed + i));
        }
    }

    public async Task<(uint Block, byte Flags)> ShortPositionAsync()
    {
        var t = await Run(Cdb.ReadPosition(0x00));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(20, d.Length);
        return (BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)), d[0]);
    }

    public async Task<(long Object, long File, byte Flags)> LongPositionAsync()
    {
        var t = await Run(Cdb.ReadPosition(0x06));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(32, d.Length);
        return (BinaryPrimitives.ReadInt64BigEndian(d.AsSpan(8)), BinaryPrimitives.ReadInt64BigEndian(d.AsSpan(16)), d[0]);
    }

    public static byte[] Block(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}

internal static class Cdb
{
    public static byte[] Tur() => new byte[6];

    public static byte[] Rewind(bool immed = false) => [0x01, (byte)(immed ? 1 : 0), 0, 0, 0, 0];

    public static byte[] ReadBlockLimits(bool mloc = false) => [0x05, (byte)(mloc ? 1 : 0), 0, 0, 0, 0];

    public static byte[] Read(int length, bool fixedMode = false, bool sili = false) =>
        [0x08, (byte)((fixedMode ? 1 : 0) | (sili ? 2 : 0)), (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0];

    public static byte[] Write(int length, bool fixedMode = false) =>
        [0x0A, (byte)(fixedMode ? 1 : 0), (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0];

    public static byte[] WriteFilemarks(int count, bool immed = false, bool wsmk = false) =>
        [0x10, (byte)((immed ? 1 : 0) | (wsmk ? 2 : 0)), (byte)(count >> 16), (byte)(count >> 8), (byte)count, 0];

    public static byte[] WriteFilemarks16(long position, int count)
    {
        var c = new byte[16];
        c[0] = 0x80;
        BinaryPrimitives.WriteInt64BigEndian(c.AsSpan(4), position);
        c[12] = (byte)(count >> 16);
        c[13] = (byte)(count >> 8);
        c[14] = (byte)count;
        return c;
    }

    public static byte[] Space(int code, int count) =>
        [0x11, (byte)code, (byte)(count >> 16), (byte)(count >> 8), (byte)count, 0];

    public static byte[] Space16(int code, long count)
    {
        var c = new byte[16];
        c[0] = 0x91;
        c[1] = (byte)code;
        BinaryPrimitives.WriteInt64BigEndian(c.AsSpan(4), count);
        return c;
    }

    public static byte[] Locate10(uint block, bool bt = false, bool cp = false, byte partition = 0)
    {
        var c = new byte[10];
        c[0] = 0x2B;
        c[1] = (byte)((bt ? 4 : 0) | (cp ? 2 : 0));
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(3), block);
        c[8] = partition;
        return c;
    }

    public static byte[] Locate16(long id, int destType = 0)
    {
        var c = new byte[16];
        c[0] = 0x92;
        c[1] = (byte)(destType << 3);
        BinaryPrimitives.WriteInt64BigEndian(c.AsSpan(4), id);
        return c;
    }

    public static byte[] ReadPosition(byte serviceAction, ushort allocation = 0)
    {
        var c = new byte[10];
        c[0] = 0x34;
        c[1] = serviceAction;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), allocation);
        return c;
    }

    public static byte[] LoadUnload(bool load, bool hold = false, bool eot = false) =>
        [0x1B, 0, 0, 0, (byte)((load ? 1 : 0) | (eot ? 4 : 0) | (hold ? 8 : 0)), 0];

    public static byte[] Erase(bool longErase = false) => [0x19, (byte)(longErase ? 1 : 0), 0, 0, 0, 0];

    public static byte[] FormatMedium(byte format = 0, bool immed = false, bool verify = false, ushort transferLength = 0) =>
        [0x04, (byte)((immed ? 1 : 0) | (verify ? 2 : 0)), format, (byte)(transferLength >> 8), (byte)transferLength, 0];

    public static byte[] SetCapacity(ushort proportion, bool immed = false) =>
        [0x0B, (byte)(immed ? 1 : 0), 0, (byte)(proportion >> 8), (byte)proportion, 0];

    public static byte[] Prevent(int prevent) => [0x1E, 0, 0, 0, (byte)prevent, 0];

    public static byte[] ReportDensity(bool media = false, bool mediumType = false, ushort allocation = 4096)
    {
        var c = new byte[10];
        c[0] = 0x44;
        c[1] = (byte)((media ? 1 : 0) | (mediumType ? 2 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), allocation);
        return c;
    }

    public static byte[] ReadAttribute(byte serviceAction, ushort first = 0, uint allocation = 65536, byte partition = 0)
    {
        var c = new byte[16];
        c[0] = 0x8C;
        c[1] = serviceAction;
        c[7] = partition;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(8), first);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), allocation);
        return c;
    }

    public static byte[] WriteAttribute(int length)
    {
        var c = new byte[16];
        c[0] = 0x8D;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), (uint)length);
        return c;
    }

    public static byte[] AllowOverwrite(long position, byte mode = 1)
    {
        var c = new byte[16];
        c[0] = 0x82;
        c[2] = mode;
        BinaryPrimitives.WriteInt64BigEndian(c.AsSpan(4), position);
        return c;
    }

    public static byte[] ReadMediaSerialNumber(uint allocation = 256)
    {
        var c = new byte[12];
        c[0] = 0xAB;
        c[1] = 0x01;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), allocation);
        return c;
    }

    public static byte[] LogSelect(bool pcr) => [0x4C, (byte)(pcr ? 2 : 0), 0x40, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>MODE SELECT(6) parameter list: header (4) + block descriptor (8), PF=1.</summary>
    public static byte[] BlockDescriptorList(uint blockLength, byte density = 0)
    {
        var l = new byte[12];
        l[2] = 0x10;
        l[3] = 8;
        l[4] = density;
        l[9] = (byte)(blockLength >> 16);
        l[10] = (byte)(blockLength >> 8);
        l[11] = (byte)blockLength;
        return l;
    }
}

internal static class SenseAssert
{
    public static long? Information(this ScsiTask task)
    {
        var s = task.Sense;
        return (s[0] & 0x80) != 0 ? BinaryPrimitives.ReadInt32BigEndian(s[3..]) : null;
    }

    public static SenseFlags Flags(this ScsiTask task) => (SenseFlags)(task.Sense[2] & 0xE0);

    /// <summary>CHECK CONDITION with key/ASC/ASCQ, the FM/EOM/ILI bits and (optionally) INFORMATION.</summary>
    public static void AssertTape(this ScsiTask task, SenseKey key, byte asc, byte ascq, SenseFlags flags = SenseFlags.None, long? information = null)
    {
        task.AssertSense(key, asc, ascq);
        Assert.Equal(flags, task.Flags());
        if (information is not null)
        {
            Assert.Equal(information, task.Information());
        }
    }
}

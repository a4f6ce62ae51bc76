using System.Buffers.Binary;
using Microsoft.Extensions.Time.Testing;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Spc;

/// <summary>SPC-4 REPORT TIMESTAMP / SET TIMESTAMP and the Control Extension mode page's TCMOS and SCSIP bits.</summary>
public sealed class TimestampTests
{
    private static readonly DateTimeOffset s_hostNow = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static long HostMilliseconds => s_hostNow.ToUnixTimeMilliseconds();

    internal static byte[] ReportTimestamp(uint allocation = 12) => Maintenance(0xA3, allocation);

    internal static byte[] SetTimestamp(uint listLength = 12) => Maintenance(0xA4, listLength);

    /// <summary>MAINTENANCE IN (A3h) / OUT (A4h), service action 0Fh (the timestamp), length in bytes 6-9.</summary>
    private static byte[] Maintenance(byte opcode, uint length)
    {
        var cdb = new byte[12];
        cdb[0] = opcode;
        cdb[1] = 0x0F;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(6), length);
        return cdb;
    }

    internal static byte[] TimestampList(long milliseconds)
    {
        var list = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(list.AsSpan(4), (ushort)(milliseconds >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(list.AsSpan(6), (uint)milliseconds);
        return list;
    }

    private static (FakeTimeProvider Time, SpcFixture Fixture) Create()
    {
        var time = new FakeTimeProvider(s_hostNow);
        return (time, new SpcFixture(time: time));
    }

    private static async Task<(long Milliseconds, int Origin)> ReadClock(SpcFixture f, ItNexus nexus)
    {
        var t = await f.Run(nexus, ReportTimestamp());
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(12, d.Length);
        Assert.Equal(0x000A, BinaryPrimitives.ReadUInt16BigEndian(d));
        Assert.Equal(0, d[2] & 0xF8);
        Assert.Equal(new byte[] { 0, 0, 0 }, new[] { d[3], d[10], d[11] });
        var ms = ((long)BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(4)) << 32) | BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(6));
        return (ms, d[2] & 0x07);
    }

    [Fact]
    public async Task PowerOn_StartsFromTheHostClock_WithOriginOutsideTheStandard()
    {
        var (_, f) = Create();
        var t = await f.Run(f.A, ReportTimestamp());
        t.AssertGood();
        var expected = new byte[12];
        expected[1] = 0x0A;
        expected[2] = 0x03;
        BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(4), (ushort)(HostMilliseconds >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(6), (uint)HostMilliseconds);
        Assert.Equal(expected, t.Data());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1500)]
    [InlineData(86_400_000)]
    public async Task Clock_AdvancesWithTime(long milliseconds)
    {
        var (time, f) = Create();
        time.Advance(TimeSpan.FromMilliseconds(milliseconds));
        Assert.Equal((HostMilliseconds + milliseconds, 0x03), await ReadClock(f, f.A));
    }

    [Fact]
    public async Task SetThenReport_ContinuesFromTheSetValue_WithOriginSetTimestamp()
    {
        var (time, f) = Create();
        (await f.Run(f.A, SetTimestamp(), TimestampList(1_000_000))).AssertGood();
        Assert.Equal((1_000_000L, 0x02), await ReadClock(f, f.A));
        time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal((1_000_250L, 0x02), await ReadClock(f, f.A));
    }

    [Fact]
    public async Task Set_TheLargestAllowedValue_IsKept()
    {
        var (_, f) = Create();
        const long largest = 0xF0FF_FFFF_FFFFL;
        (await f.Run(f.A, SetTimestamp(), TimestampList(largest))).AssertGood();
        Assert.Equal((largest, 0x02), await ReadClock(f, f.A));
    }

    [Fact]
    public async Task Set_GivesEveryOtherNexusTimestampChanged()
    {
        var (_, f) = Create();
        (await f.Run(f.A, SetTimestamp(), TimestampList(42))).AssertGood();
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertGood();
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertSense(SenseKey.UnitAttention, 0x2A, 0x10);
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task Set_ZeroLength_ChangesNothing()
    {
        var (_, f) = Create();
        (await f.Run(f.A, SetTimestamp(0))).AssertGood();
        Assert.Equal((HostMilliseconds, 0x03), await ReadClock(f, f.A));
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertGood();
    }

    [Theory]
    [InlineData(4u, 4)]
    [InlineData(11u, 11)]
    [InlineData(13u, 13)]
    [InlineData(24u, 24)]
    [InlineData(12u, 8)] // the CDB promises 12 bytes, the initiator sends 8
    public async Task Set_WrongLength_IsParameterListLengthError(uint listLength, int sent)
    {
        var (_, f) = Create();
        var list = new byte[sent];
        TimestampList(5).AsSpan(0, Math.Min(sent, 12)).CopyTo(list);
        var t = await f.Run(f.A, SetTimestamp(listLength), list);
        t.AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
        Assert.Equal((HostMilliseconds, 0x03), await ReadClock(f, f.A));
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task Set_MostSignificantByteAboveF0_IsInvalidFieldInParameterList()
    {
        var (_, f) = Create();
        var t = await f.Run(f.A, SetTimestamp(), TimestampList(0xF100_0000_0000L));
        t.AssertInvalidParameterField(4);
        Assert.Equal((HostMilliseconds, 0x03), await ReadClock(f, f.A));
    }

    [Theory]
    [InlineData(0u, 0)]
    [InlineData(2u, 2)]
    [InlineData(4u, 4)]
    [InlineData(11u, 11)]
    [InlineData(12u, 12)]
    [InlineData(4096u, 12)]
    public async Task Report_IsClippedToTheAllocationLength(uint allocation, int expected)
    {
        var (_, f) = Create();
        var t = await f.Run(f.A, ReportTimestamp(allocation));
        t.AssertGood();
        Assert.Equal(expected, t.DataIn.Length);
        if (expected >= 4)
        {
            Assert.Equal(new byte[] { 0x00, 0x0A, 0x03, 0x00 }, t.Data()[..4]);
        }
    }

    [Fact]
    public async Task ControlExtensionPage_ReportsTcmosAndScsip_AndOnlyScsipIsChangeable()
    {
        var (_, f) = Create();
        var current = await f.Run(f.A, ModeSenseControlExtension(pageControl: 0));
        current.AssertGood();
        Assert.Equal(0x06, current.Data()[8 + 4]);
        var changeable = await f.Run(f.A, ModeSenseControlExtension(pageControl: 1));
        changeable.AssertGood();
        Assert.Equal(0x02, changeable.Data()[8 + 4]);
    }

    [Fact]
    public async Task ScsipCleared_SetIsRefused_WithoutAFieldPointer_ReportStillWorks()
    {
        var (_, f) = Create();
        (await f.Run(f.A, ModeSelectControlExtension(out var list), list)).AssertGood();
        var t = await f.Run(f.A, SetTimestamp(), TimestampList(7));
        t.AssertSense(SenseKey.IllegalRequest, 0x24, 0x00);
        Assert.Equal(0, t.Sense[15] & 0x80); // no SKSV: the refusal comes from a mode page, not from the CDB
        Assert.Equal((HostMilliseconds, 0x03), await ReadClock(f, f.A));
    }

    [Fact]
    public async Task ScsipCleared_LogicalUnitResetRestoresIt()
    {
        var (_, f) = Create();
        (await f.Run(f.A, ModeSelectControlExtension(out var list), list)).AssertGood();
        f.Target.TaskManagement(TaskManagementEvent.LogicalUnitReset, new Lun(0), f.A);
        f.ConsumeUnitAttentions(f.A);
        (await f.Run(f.A, SetTimestamp(), TimestampList(7))).AssertGood();
    }

    [Theory]
    [InlineData(TaskManagementEvent.LogicalUnitReset, 0x02)]
    [InlineData(TaskManagementEvent.TargetWarmReset, 0x02)]
    [InlineData(TaskManagementEvent.TargetColdReset, 0x03)]
    public async Task OnlyAHardResetReinitializesTheClock(TaskManagementEvent reset, int origin)
    {
        var (time, f) = Create();
        (await f.Run(f.A, SetTimestamp(), TimestampList(1_000))).AssertGood();
        time.Advance(TimeSpan.FromMilliseconds(10));
        f.Target.TaskManagement(reset, new Lun(0), f.A);
        f.ConsumeUnitAttentions(f.A);
        var expected = origin == 0x02 ? 1_010 : HostMilliseconds + 10;
        Assert.Equal((expected, origin), await ReadClock(f, f.A));
    }

    [Fact]
    public async Task SetTimestamp_ConflictsWithAnotherNexussReserve()
    {
        var (_, f) = Create();
        (await f.Run(f.A, [0x16, 0, 0, 0, 0, 0])).AssertGood(); // RESERVE(6)
        (await f.Run(f.B, SetTimestamp(), TimestampList(1))).AssertConflict();
        (await f.Run(f.A, SetTimestamp(), TimestampList(1))).AssertGood();
    }

    private static byte[] ModeSenseControlExtension(int pageControl) =>
        [0x5A, 0x08, (byte)((pageControl << 6) | 0x0A), 0x01, 0, 0, 0, 0x01, 0x00, 0];

    /// <summary>MODE SELECT(10) of the Control Extension page with TCMOS kept and SCSIP cleared.</summary>
    private static byte[] ModeSelectControlExtension(out byte[] list)
    {
        list = new byte[8 + 32];
        list[8] = 0x4A;
        list[9] = 0x01;
        list[11] = 0x1C;
        list[8 + 4] = 0x04;
        return [0x55, 0x10, 0, 0, 0, 0, 0, 0, (byte)list.Length, 0];
    }
}

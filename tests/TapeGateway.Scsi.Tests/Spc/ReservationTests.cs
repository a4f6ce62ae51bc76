using System.Buffers.Binary;
using System.Text;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Tests.Spc;

public class Spc2ReserveTests
{
    private static readonly byte[] s_reserve6 = [0x16, 0, 0, 0, 0, 0];
    private static readonly byte[] s_release6 = [0x17, 0, 0, 0, 0, 0];
    private static readonly byte[] s_reserve10 = [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    private static readonly byte[] s_release10 = [0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>The iscsi-test-cu RESERVE6 2initiators flow.</summary>
    [Fact]
    public async Task TwoInitiators()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, s_reserve6)).AssertGood();
        (await f.Run(f.A, s_reserve6)).AssertGood();
        (await f.Run(f.B, s_reserve6)).AssertConflict();
        (await f.Run(f.B, s_release6)).AssertGood();
        (await f.Run(f.A, Scsi.ModeSense6(0x3F))).AssertGood();
        (await f.Run(f.B, Scsi.ModeSense6(0x3F))).AssertConflict();
        (await f.Run(f.B, Scsi.Inquiry())).AssertGood();
        (await f.Run(f.B, Scsi.RequestSense())).AssertGood();
        (await f.Run(f.B, Scsi.ReportLuns())).AssertGood();
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertConflict();
        (await f.Run(f.B, Scsi.PrIn(0))).AssertConflict();
        (await f.Run(f.B, s_reserve10)).AssertConflict();
        (await f.Run(f.A, s_release6)).AssertGood();
        (await f.Run(f.B, s_reserve10)).AssertGood();
        (await f.Run(f.B, s_release10)).AssertGood();
        Assert.Null(f.Unit.Reservations.ReserveHolder);
    }

    [Fact]
    public async Task NexusLossReleases()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, s_reserve6)).AssertGood();
        f.Target.NexusLost(f.A);
        (await f.Run(f.B, s_reserve6)).AssertGood();
    }

    [Fact]
    public async Task LogicalUnitResetReleases()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, s_reserve6)).AssertGood();
        f.Target.TaskManagement(TaskManagementEvent.LogicalUnitReset, f.Unit.Lun, f.A);
        f.ConsumeUnitAttentions(f.B);
        (await f.Run(f.B, s_reserve6)).AssertGood();
    }

    [Fact]
    public async Task PersistentReserveInConflictsEvenForTheHolder()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, s_reserve6)).AssertGood();
        (await f.Run(f.A, Scsi.PrIn(0))).AssertConflict();
    }

    [Theory]
    [InlineData(new byte[] { 0x16, 0x10, 0, 0, 0, 0 }, 4)] // 3RDPTY
    [InlineData(new byte[] { 0x16, 0x01, 0, 0, 0, 0 }, 0)] // extent
    [InlineData(new byte[] { 0x17, 0x10, 0, 0, 0, 0 }, 4)]
    [InlineData(new byte[] { 0x56, 0x02, 0, 0, 0, 0, 0, 0, 0, 0 }, 1)] // LONGID
    [InlineData(new byte[] { 0x57, 0x10, 0, 0, 0, 0, 0, 0, 0, 0 }, 4)]
    public async Task ThirdPartyAndExtentsAreInvalid(byte[] cdb, int bit)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, cdb)).AssertInvalidCdbField(1, bit);
    }

    [Fact]
    public async Task ReserveAndReleaseConflictWithAPersistentReservation()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA1);
        (await f.Run(f.A, Scsi.PrOut(0x01, 0x01), Scsi.PrOutData(0xA1))).AssertGood();
        (await f.Run(f.A, s_reserve6)).AssertConflict();
        (await f.Run(f.A, s_release10)).AssertConflict();
        (await f.Run(f.B, s_release6)).AssertConflict();
    }
}

internal static class Pr
{
    public static async Task Register(SpcFixture f, ItNexus nexus, ulong key, bool aptpl = false, bool allTgPt = false) =>
        (await f.Run(nexus, Scsi.PrOut(0x06), Scsi.PrOutData(0, key, aptpl, allTgPt))).AssertGood();

    public static async Task<(uint Generation, ulong[] Keys)> ReadKeys(SpcFixture f, ItNexus nexus)
    {
        var t = await f.Run(nexus, Scsi.PrIn(0x00));
        t.AssertGood();
        var d = t.Data();
        var length = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4));
        Assert.Equal(d.Length - 8, (int)length);
        var keys = Enumerable.Range(0, (int)length / 8).Select(i => BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(8 + (8 * i)))).ToArray();
        return (BinaryPrimitives.ReadUInt32BigEndian(d), keys);
    }

    public static async Task<(ulong Key, byte Type)?> ReadReservation(SpcFixture f, ItNexus nexus)
    {
        var t = await f.Run(nexus, Scsi.PrIn(0x01));
        t.AssertGood();
        var d = t.Data();
        if (BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)) == 0)
        {
            Assert.Equal(8, d.Length);
            return null;
        }

        Assert.Equal(24, d.Length);
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)));
        return (BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(8)), d[21]);
    }

    public static Task<ScsiTask> Out(SpcFixture f, ItNexus nexus, byte serviceAction, ulong key, ulong serviceActionKey = 0, byte type = 0) =>
        f.Run(nexus, Scsi.PrOut(serviceAction, type), Scsi.PrOutData(key, serviceActionKey));
}

public class PersistentReservationTests
{
    private const byte WE = 1, EA = 3, WERO = 5, EARO = 6, WEAR = 7, EAAR = 8;

    [Fact]
    public async Task RegisterReregisterAndUnregister()
    {
        var f = new SpcFixture();
        var (gen0, keys0) = await Pr.ReadKeys(f, f.A);
        Assert.Empty(keys0);

        (await Pr.Out(f, f.A, 0x00, 0, 0xAAAA)).AssertGood();
        var (gen1, keys1) = await Pr.ReadKeys(f, f.B);
        Assert.Equal(gen0 + 1, gen1);
        Assert.Equal(new ulong[] { 0xAAAA }, keys1);

        // REGISTER with the wrong current key conflicts (the iscsi-test-cu reregister check).
        (await Pr.Out(f, f.A, 0x00, 0, 0xAAAB)).AssertConflict();
        (await Pr.Out(f, f.A, 0x00, 0x1234, 0xAAAB)).AssertConflict();

        // Changing the key, then REGISTER AND IGNORE EXISTING KEY.
        (await Pr.Out(f, f.A, 0x00, 0xAAAA, 0xBBBB)).AssertGood();
        (await Pr.Out(f, f.A, 0x06, 0x9999, 0xCCCC)).AssertGood();
        Assert.Equal(new ulong[] { 0xCCCC }, (await Pr.ReadKeys(f, f.A)).Keys);

        (await Pr.Out(f, f.A, 0x00, 0xCCCC, 0)).AssertGood();
        var (gen2, keys2) = await Pr.ReadKeys(f, f.A);
        Assert.Empty(keys2);
        Assert.Equal(gen1 + 3, gen2);
    }

    [Fact]
    public async Task UnregisteredZeroKeyRegisterIsANoOp()
    {
        var f = new SpcFixture();
        var before = f.Unit.Reservations.Generation;
        (await Pr.Out(f, f.A, 0x00, 0, 0)).AssertGood();
        (await Pr.Out(f, f.A, 0x06, 0, 0)).AssertGood();
        Assert.Equal(before, f.Unit.Reservations.Generation);
    }

    [Fact]
    public async Task ReadKeysTruncatedKeepsAdditionalLength()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0x1111);
        var t = await f.Run(f.A, Scsi.PrIn(0x00, 8));
        t.AssertGood();
        Assert.Equal(8, t.DataIn.Length);
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32BigEndian(t.Data().AsSpan(4)));
    }

    [Theory]
    [InlineData(WE)]
    [InlineData(EA)]
    [InlineData(WERO)]
    [InlineData(EARO)]
    [InlineData(WEAR)]
    [InlineData(EAAR)]
    public async Task ReserveReadReservationRelease(byte type)
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0x1111);
        var gen = f.Unit.Reservations.Generation;
        (await Pr.Out(f, f.A, 0x01, 0x1111, type: type)).AssertGood();
        (await Pr.Out(f, f.A, 0x01, 0x1111, type: type)).AssertGood(); // same type again: no-op
        var allRegistrants = type is WEAR or EAAR;
        Assert.Equal((allRegistrants ? 0UL : 0x1111UL, type), await Pr.ReadReservation(f, f.A));
        Assert.Equal(gen, f.Unit.Reservations.Generation); // RESERVE does not bump PRGENERATION
        (await Pr.Out(f, f.A, 0x02, 0x1111, type: type)).AssertGood();
        Assert.Null(await Pr.ReadReservation(f, f.A));
    }

    [Fact]
    public async Task ReserveErrors()
    {
        var f = new SpcFixture();
        (await Pr.Out(f, f.A, 0x01, 0x1111, type: WE)).AssertConflict(); // not registered
        await Pr.Register(f, f.A, 0x1111);
        await Pr.Register(f, f.B, 0x2222);
        (await Pr.Out(f, f.A, 0x01, 0x9999, type: WE)).AssertConflict(); // wrong key
        (await Pr.Out(f, f.A, 0x01, 0x1111, type: WE)).AssertGood();
        (await Pr.Out(f, f.A, 0x01, 0x1111, type: EA)).AssertConflict(); // holder, other type
        (await Pr.Out(f, f.B, 0x01, 0x2222, type: WE)).AssertConflict(); // another holder
    }

    [Theory]
    [InlineData(0x01, 0x02, 2, 3)] // type 2 is obsolete
    [InlineData(0x01, 0x14, 2, 7)] // scope 1
    [InlineData(0x04, 0x00, 2, 3)]
    public async Task InvalidScopeOrType(byte serviceAction, byte scopeType, int pointer, int bit)
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0x1111);
        var cdb = Scsi.PrOut(serviceAction);
        cdb[2] = scopeType;
        (await f.Run(f.A, cdb, Scsi.PrOutData(0x1111, 0x2222))).AssertInvalidCdbField(pointer, bit);
    }

    [Fact]
    public async Task ParameterListErrors()
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.PrOut(0x06, length: 23), Scsi.PrOutData(0, 1, length: 23))).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
        (await f.Run(f.A, Scsi.PrOut(0x06, length: 28), Scsi.PrOutData(0, 1, length: 28))).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
        (await f.Run(f.A, Scsi.PrOut(0x06), Scsi.PrOutData(0, 1, specIpt: true))).AssertInvalidParameterField(20, 3);
        (await f.Run(f.A, Scsi.PrOut(0x06), new byte[10])).AssertSense(SenseKey.IllegalRequest, 0x1A, 0x00);
        (await f.Run(f.A, Scsi.PrOut(0x07), Scsi.PrOutData(0, 1))).AssertInvalidCdbField(1, 4); // REGISTER AND MOVE
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(0x1F)]
    public async Task UnknownPersistentReserveInServiceAction(byte serviceAction)
    {
        var f = new SpcFixture();
        (await f.Run(f.A, Scsi.PrIn(serviceAction))).AssertInvalidCdbField(1, 4);
    }

    [Fact]
    public async Task ReportCapabilities()
    {
        var f = new SpcFixture();
        var d = (await f.Run(f.A, Scsi.PrIn(0x02))).Data();
        Assert.Equal(new byte[] { 0x00, 0x08, 0x05, 0x90, 0xEA, 0x01, 0x00, 0x00 }, d);
        await Pr.Register(f, f.A, 1, aptpl: true);
        Assert.Equal(0x91, (await f.Run(f.A, Scsi.PrIn(0x02))).Data()[3]);
    }

    /// <summary>SPC-4 table 64 through the command flags (iscsi-test-cu reserve_access, with SPC commands).</summary>
    [Theory]
    [InlineData(WE, true, false, true, false)]
    [InlineData(EA, false, false, false, false)]
    [InlineData(WERO, true, true, true, false)]
    [InlineData(EARO, true, true, false, false)]
    [InlineData(WEAR, true, true, true, false)]
    [InlineData(EAAR, true, true, false, false)]
    public async Task Access(byte type, bool registeredRead, bool registeredWrite, bool unregisteredRead, bool unregisteredWrite)
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: type)).AssertGood();

        // MODE SENSE stands for "read" (allowed under WE only), MODE SELECT for "write" (allowed under none).
        await AssertAccess(f, f.A, true, true);
        await AssertAccess(f, f.B, registeredRead, registeredWrite);
        (await Pr.Out(f, f.B, 0x00, 0xB, 0)).AssertGood();
        f.ConsumeUnitAttentions(f.B);
        await AssertAccess(f, f.B, unregisteredRead, unregisteredWrite);

        // Always allowed: INQUIRY, REPORT LUNS, REQUEST SENSE, TEST UNIT READY, LOG SENSE, RSOC, PR IN.
        (await f.Run(f.B, Scsi.Inquiry())).AssertGood();
        (await f.Run(f.B, Scsi.ReportLuns())).AssertGood();
        (await f.Run(f.B, Scsi.RequestSense())).AssertGood();
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertGood();
        (await f.Run(f.B, Scsi.LogSense(0))).AssertGood();
        (await f.Run(f.B, Scsi.ReportSupportedOperationCodes(0))).AssertGood();
        (await f.Run(f.B, Scsi.PrIn(0x01))).AssertGood();

        static async Task AssertAccess(SpcFixture f, ItNexus nexus, bool read, bool write)
        {
            var r = await f.Run(nexus, Scsi.ModeSense6(0x3F));
            if (read)
            {
                r.AssertGood();
            }
            else
            {
                r.AssertConflict();
            }

            var w = await f.Run(nexus, Scsi.ModeSelect6(0));
            if (write)
            {
                w.AssertGood();
            }
            else
            {
                w.AssertConflict();
            }
        }
    }

    [Theory]
    [InlineData(WE, false, false)]
    [InlineData(EA, false, false)]
    [InlineData(WERO, false, true)]
    [InlineData(EARO, false, true)]
    [InlineData(WEAR, true, false)]
    [InlineData(EAAR, true, false)]
    public async Task HolderUnregisters(byte type, bool shared, bool releasedUnitAttention)
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: type)).AssertGood();
        (await Pr.Out(f, f.A, 0x00, 0xA, 0)).AssertGood();
        if (shared)
        {
            Assert.Equal((0UL, type), await Pr.ReadReservation(f, f.A));
            (await Pr.Out(f, f.B, 0x02, 0xB, type: type)).AssertGood();
        }

        Assert.Null(await Pr.ReadReservation(f, f.A));
        var tur = await f.Run(f.B, Scsi.TestUnitReady());
        if (releasedUnitAttention)
        {
            tur.AssertSense(SenseKey.UnitAttention, 0x2A, 0x04);
        }
        else
        {
            tur.AssertGood();
        }
    }

    [Theory]
    [InlineData(WE, false)]
    [InlineData(EA, false)]
    [InlineData(WERO, true)]
    [InlineData(EAAR, true)]
    public async Task ReleaseTellsOtherRegistrantsForRegistrantTypes(byte type, bool unitAttention)
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: type)).AssertGood();
        (await Pr.Out(f, f.A, 0x02, 0xA, type: type)).AssertGood();
        var tur = await f.Run(f.B, Scsi.TestUnitReady());
        if (unitAttention)
        {
            tur.AssertSense(SenseKey.UnitAttention, 0x2A, 0x04);
        }
        else
        {
            tur.AssertGood();
        }

        (await f.Run(f.A, Scsi.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task ReleaseErrors()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        (await Pr.Out(f, f.A, 0x02, 0xA, type: WE)).AssertGood(); // nothing reserved
        (await Pr.Out(f, f.A, 0x01, 0xA, type: WE)).AssertGood();
        (await Pr.Out(f, f.B, 0x02, 0xB, type: WE)).AssertGood(); // not the holder: no-op
        Assert.Equal((0xAUL, WE), await Pr.ReadReservation(f, f.A));
        var wrongType = await Pr.Out(f, f.A, 0x02, 0xA, type: EA);
        wrongType.AssertSense(SenseKey.IllegalRequest, 0x26, 0x04);
        (await Pr.Out(f, f.A, 0x02, 0xB, type: WE)).AssertConflict(); // wrong key
        (await f.Run(new ItNexus("iqn.c", 3, SpcFixture.TargetName, 1), Scsi.PrOut(0x02, WE), Scsi.PrOutData(0))).AssertConflict();
    }

    [Fact]
    public async Task ClearRemovesEverythingAndPreemptsOthers()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: EA)).AssertGood();
        var gen = f.Unit.Reservations.Generation;
        (await Pr.Out(f, f.A, 0x03, 0xA)).AssertGood();
        Assert.Null(await Pr.ReadReservation(f, f.A));
        var (gen2, keys) = await Pr.ReadKeys(f, f.A);
        Assert.Empty(keys);
        Assert.Equal(gen + 1, gen2);
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertSense(SenseKey.UnitAttention, 0x2A, 0x03);
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertGood();
        (await Pr.Out(f, f.A, 0x03, 0xA)).AssertConflict(); // no longer registered
    }

    /// <summary>The iscsi-test-cu preempt flow: no reservation, B removes A's registration.</summary>
    [Fact]
    public async Task PreemptRegistrationWithoutReservation()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        var gen = f.Unit.Reservations.Generation;
        (await Pr.Out(f, f.B, 0x04, 0xB, 0xA, EA)).AssertGood();
        var (gen2, keys) = await Pr.ReadKeys(f, f.B);
        Assert.Equal(new ulong[] { 0xB }, keys);
        Assert.Equal(gen + 1, gen2);
        Assert.Null(await Pr.ReadReservation(f, f.B));
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertSense(SenseKey.UnitAttention, 0x2A, 0x05);
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task PreemptTheHolder()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: WE)).AssertGood();
        (await Pr.Out(f, f.B, 0x04, 0xB, 0xA, EA)).AssertGood();
        Assert.Equal((0xBUL, EA), await Pr.ReadReservation(f, f.B));
        Assert.Equal(new ulong[] { 0xB }, (await Pr.ReadKeys(f, f.B)).Keys);
        (await f.Run(f.A, Scsi.TestUnitReady())).AssertSense(SenseKey.UnitAttention, 0x2A, 0x05);
        (await f.Run(f.A, Scsi.ModeSense6(0x3F))).AssertConflict();
        (await f.Run(f.B, Scsi.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task PreemptAllRegistrantsWithZeroKey()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: WEAR)).AssertGood();
        (await Pr.Out(f, f.B, 0x04, 0xB, 0, EA)).AssertGood();
        Assert.Equal((0xBUL, EA), await Pr.ReadReservation(f, f.B));
        Assert.Equal(new ulong[] { 0xB }, (await Pr.ReadKeys(f, f.B)).Keys);
    }

    [Fact]
    public async Task PreemptErrors()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        (await Pr.Out(f, f.A, 0x04, 0xA, 0, EA)).AssertInvalidParameterField(8); // zero key, no reservation
        (await Pr.Out(f, f.A, 0x04, 0xA, 0x77, EA)).AssertConflict(); // nobody has that key
        (await Pr.Out(f, f.B, 0x04, 0xB, 0xA, EA)).AssertConflict(); // preemptor not registered
    }

    [Fact]
    public async Task PreemptAndAbortReportsTheAbortedNexuses()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: EA)).AssertGood();
        IReadOnlyList<ItNexus>? aborted = null;
        f.Unit.Reservations.PreemptedAndAborted += (unit, nexuses) => aborted = nexuses;
        (await Pr.Out(f, f.B, 0x05, 0xB, 0xA, WE)).AssertGood();
        Assert.NotNull(aborted);
        Assert.Equal(f.A.Id, Assert.Single(aborted).Id);
        Assert.Equal((0xBUL, WE), await Pr.ReadReservation(f, f.B));
    }

    [Fact]
    public async Task RegistrationSurvivesNexusLossAndLuReset()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: EA)).AssertGood();
        f.Target.NexusLost(f.A);
        f.Target.TaskManagement(TaskManagementEvent.LogicalUnitReset, f.Unit.Lun, f.B);
        f.ConsumeUnitAttentions(f.B);

        // A new session of the same initiator port is the same I_T nexus for PR purposes.
        var again = new ItNexus(f.A.InitiatorName, f.A.Isid, SpcFixture.TargetName, 1);
        f.Target.NexusCreated(again);
        f.ConsumeUnitAttentions(again);
        Assert.Equal((0xAUL, EA), await Pr.ReadReservation(f, again));
        (await f.Run(again, Scsi.ModeSense6(0x3F))).AssertGood();
        (await f.Run(f.B, Scsi.ModeSense6(0x3F))).AssertConflict();

        // A different ISID is a different initiator port.
        var otherPort = new ItNexus(f.A.InitiatorName, f.A.Isid + 1, SpcFixture.TargetName, 1);
        f.Target.NexusCreated(otherPort);
        f.ConsumeUnitAttentions(otherPort);
        (await f.Run(otherPort, Scsi.ModeSense6(0x3F))).AssertConflict();
    }

    [Fact]
    public async Task AllTargetPortsRegistersEveryPort()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA, allTgPt: true);
        var port2 = new ItNexus(f.A.InitiatorName, f.A.Isid, SpcFixture.TargetName, 2);
        f.Target.NexusCreated(port2);
        f.ConsumeUnitAttentions(port2);
        (await Pr.Out(f, port2, 0x01, 0xA, type: WE)).AssertGood();

        // Without ALL_TG_PT the other port is not registered.
        await Pr.Register(f, f.B, 0xB);
        var b2 = new ItNexus(f.B.InitiatorName, f.B.Isid, SpcFixture.TargetName, 2);
        f.Target.NexusCreated(b2);
        f.ConsumeUnitAttentions(b2);
        (await Pr.Out(f, b2, 0x00, 0xB, 0xC)).AssertConflict();
    }

    [Fact]
    public async Task ReadFullStatus()
    {
        var f = new SpcFixture();
        await Pr.Register(f, f.A, 0xA);
        await Pr.Register(f, f.B, 0xB, allTgPt: true);
        (await Pr.Out(f, f.A, 0x01, 0xA, type: WERO)).AssertGood();
        var t = await f.Run(f.A, Scsi.PrIn(0x03));
        t.AssertGood();
        var d = t.Data();
        Assert.Equal(d.Length - 8, (int)BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)));
        var at = 8;
        var seen = new List<(ulong Key, byte Flags, byte Type, ushort Port, string Name)>();
        while (at < d.Length)
        {
            var idLength = (int)BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(at + 20));
            var id = d.AsSpan(at + 24, idLength);
            Assert.Equal(0x45, id[0]);
            Assert.Equal(0, idLength % 4);
            Assert.True(idLength >= 20);
            var nameLength = BinaryPrimitives.ReadUInt16BigEndian(id[2..]);
            var name = Encoding.UTF8.GetString(id.Slice(4, nameLength)).TrimEnd('\0');
            seen.Add((BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(at)), d[at + 12], d[at + 13], BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at + 18)), name));
            at += 24 + idLength;
        }

        Assert.Equal(
            [(0xAUL, (byte)0x01, WERO, (ushort)1, f.A.InitiatorPortName), (0xBUL, (byte)0x02, (byte)0, (ushort)0, f.B.InitiatorPortName)],
            seen);
    }

    [Fact]
    public async Task AptplPersistsAcrossRestart()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tg-pr-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = new JsonFilePersistentReservationStore(directory);
            var f = new SpcFixture(store, serial: "PERSIST/01");
            // The APTPL bit of the most recent register service action governs (SPC-4 §5.12.5).
            await Pr.Register(f, f.A, 0xA);
            Assert.Empty(Directory.GetFiles(directory));
            await Pr.Register(f, f.B, 0xB, aptpl: true);
            (await Pr.Out(f, f.A, 0x01, 0xA, type: EARO)).AssertGood();
            var generation = f.Unit.Reservations.Generation;
            Assert.Single(Directory.GetFiles(directory));
            Assert.Empty(Directory.GetFiles(directory, "*.tmp"));

            // "Power cycle": a new target and unit with the same serial number, same store.
            var g = new SpcFixture(new JsonFilePersistentReservationStore(directory), serial: "PERSIST/01");
            Assert.Equal(generation, g.Unit.Reservations.Generation);
            Assert.True(g.Unit.Reservations.PersistThroughPowerLoss);
            Assert.Equal((0xAUL, EARO), await Pr.ReadReservation(g, g.B));
            Assert.Equal(new ulong[] { 0xA, 0xB }, (await Pr.ReadKeys(g, g.A)).Keys);
            (await Pr.Out(g, g.A, 0x01, 0xA, type: EARO)).AssertGood(); // A still holds it

            // A registration change with APTPL=0 stops persistence and removes the file.
            (await Pr.Out(g, g.B, 0x00, 0xB, 0xC)).AssertGood();
            Assert.Empty(Directory.GetFiles(directory));
            var h = new SpcFixture(new JsonFilePersistentReservationStore(directory), serial: "PERSIST/01");
            Assert.Empty((await Pr.ReadKeys(h, h.A)).Keys);

            // Other units are unaffected.
            var other = new SpcFixture(new JsonFilePersistentReservationStore(directory), serial: "OTHER");
            Assert.Empty((await Pr.ReadKeys(other, other.A)).Keys);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task PrStateWithoutAptplIsNotStored()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tg-pr-" + Guid.NewGuid().ToString("N"));
        try
        {
            var f = new SpcFixture(new JsonFilePersistentReservationStore(directory));
            await Pr.Register(f, f.A, 0xA);
            Assert.Empty(Directory.GetFiles(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

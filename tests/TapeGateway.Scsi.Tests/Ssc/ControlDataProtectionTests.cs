using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// SSC-4 logical block protection through the Control Data Protection mode page (0Ah/F0h). The page sequences are
/// LTFS's (MODE SENSE(10) with the block descriptor, then MODE SELECT(10) of the same 48 bytes with method, length 4
/// and LBP_W + LBP_R at bytes 20-22); the data sequences are an application's that appends the protection information
/// to every block it writes and checks the one appended to every block it reads.
/// </summary>
public sealed class ControlDataProtectionTests
{
    private static async Task<byte[]> SenseAsync(TapeHarness h, byte pc = 0)
    {
        var t = await h.Run(SpcCdb.ModeSense10(0x0A, 0xF0, pc));
        t.AssertGood();
        return t.Data();
    }

    private static async Task<ScsiTask> SelectAsync(TapeHarness h, byte method, byte length, byte flags)
    {
        var buf = await SenseAsync(h);
        buf[0] = 0;
        buf[1] = 0;
        buf[20] = method;
        buf[21] = length;
        buf[22] = flags;
        return await h.Run(SpcCdb.ModeSelect10(buf.Length), buf);
    }

    private static async Task<TapeHarness> ProtectedAsync(byte method = LogicalBlockProtection.ReedSolomonCrc, byte flags = 0xC0, TapeDrivePersonality? personality = null)
    {
        var h = new TapeHarness(personality);
        await h.LoadNewAsync(cartridge: TapeHarness.Cartridge(generation: (personality ?? TapeDrivePersonality.IbmUlt3580Td5).Generation));
        (await SelectAsync(h, method, 4, flags)).AssertGood();
        return h;
    }

    private static byte[] WithInformation(byte method, byte[] data)
    {
        var b = new byte[data.Length + 4];
        data.CopyTo(b, 0);
        LogicalBlockProtection.Write(method, data, b.AsSpan(data.Length));
        return b;
    }

    [Fact]
    public async Task ModeSense_ReportsPage_NoProtection_MethodLengthAndFlagsChangeable()
    {
        var h = new TapeHarness();
        var buf = await SenseAsync(h);

        // Header (8) + block descriptor (8) + the page: SPF, 0Ah, F0h, PAGE LENGTH 001Ch, method/length/LBP_W/LBP_R 0.
        Assert.Equal(16 + 32, buf.Length);
        Assert.Equal(new byte[] { 0x4A, 0xF0, 0x00, 0x1C, 0x00, 0x00, 0x00, 0x00 }, buf[16..24]);
        Assert.All(buf[24..48], b => Assert.Equal(0, b));

        var mask = await SenseAsync(h, pc: 1);
        Assert.Equal(new byte[] { 0xFF, 0x3F, 0xC0 }, mask[20..23]);
        Assert.All(mask[23..48], b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task HpPersonality_NothingChangeable_ProtectionRefused()
    {
        var h = new TapeHarness(TapeDrivePersonality.HpUltrium5);
        var mask = await SenseAsync(h, pc: 1);
        Assert.All(mask[20..48], b => Assert.Equal(0, b));
        var t = await SelectAsync(h, LogicalBlockProtection.ReedSolomonCrc, 4, 0xC0);
        t.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
    }

    [Fact]
    public async Task ModeSelect_WriteBackUnchanged_Accepted()
    {
        var h = new TapeHarness();
        var buf = await SenseAsync(h);
        buf[0] = 0;
        buf[1] = 0;
        await h.Good(SpcCdb.ModeSelect10(buf.Length), buf);
        Assert.Equal(0, (await SenseAsync(h))[20]);
    }

    [Fact]
    public async Task ModeSelect_LtfsReedSolomon_OnLto5_Accepted_ResetByLoad()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        (await SelectAsync(h, LogicalBlockProtection.ReedSolomonCrc, 4, 0xC0)).AssertGood();
        Assert.Equal(new byte[] { 0x01, 0x04, 0xC0 }, (await SenseAsync(h))[20..23]);
        Assert.True(h.Drive.ProtectsWrites);
        Assert.True(h.Drive.ProtectsReads);

        // Mode parameters return to their defaults when a cartridge is loaded, as the drive's do.
        await h.Good(Cdb.LoadUnload(load: false));
        await h.Drive.EjectAsync(force: false, CancellationToken.None);
        await h.LoadNewAsync();
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00 }, (await SenseAsync(h))[20..23]);
        Assert.False(h.Drive.ProtectsWrites);
    }

    [Fact]
    public async Task ModeSelect_Crc32C_OnLto7_Accepted()
    {
        var h = new TapeHarness(TapeDrivePersonality.IbmUlt3580Td7);
        (await SelectAsync(h, LogicalBlockProtection.Crc32C, 4, 0xC0)).AssertGood();
        Assert.Equal(LogicalBlockProtection.Crc32C, h.Drive.ProtectionMethod);
    }

    [Theory]
    [InlineData(0x02, 0x04, 0xC0, 20)] // CRC32C: LTO-7 and later only
    [InlineData(0x03, 0x04, 0xC0, 20)] // no such method
    [InlineData(0x01, 0x00, 0xC0, 21)] // Reed-Solomon CRC is 4 bytes long
    [InlineData(0x01, 0x08, 0x80, 21)]
    [InlineData(0x00, 0x04, 0x00, 21)] // no method, no length
    public async Task ModeSelect_BadMethodOrLength_InvalidFieldInParameterList(byte method, byte length, byte flags, int pointer)
    {
        var h = new TapeHarness();
        var t = await SelectAsync(h, method, length, flags);
        t.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        t.AssertInvalidParameterField(pointer);
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00 }, (await SenseAsync(h))[20..23]);
    }

    [Fact]
    public async Task ModeSelect_Rbdp_NotChangeable()
    {
        var h = new TapeHarness();
        var t = await SelectAsync(h, LogicalBlockProtection.ReedSolomonCrc, 4, 0xE0);
        t.AssertSense(SenseKey.IllegalRequest, 0x26, 0x00);
        t.AssertInvalidParameterField(22, 5);
    }

    [Theory]
    [InlineData(LogicalBlockProtection.ReedSolomonCrc)]
    [InlineData(LogicalBlockProtection.Crc32C)]
    public async Task Write_WithInformation_StoresBlockWithout_ReadAppendsIt(byte method)
    {
        var h = await ProtectedAsync(method, personality: TapeDrivePersonality.IbmUlt3580Td7);
        var data = TapeHarness.Block(1000, 7);
        await h.WriteRecordAsync(WithInformation(method, data));
        await h.Good(Cdb.Rewind());

        var r = await h.Run(Cdb.Read(1004));
        r.AssertGood();
        Assert.Equal(WithInformation(method, data), r.Data());

        // Without LBP_R the same block is the 1000 bytes that were protected: the information was not stored.
        (await SelectAsync(h, method, 4, 0x80)).AssertGood();
        await h.Good(Cdb.Rewind());
        r = await h.Run(Cdb.Read(1000));
        r.AssertGood();
        Assert.Equal(data, r.Data());
    }

    [Fact]
    public async Task Write_WrongInformation_HardwareErrorGuardCheck_NothingWritten()
    {
        var h = await ProtectedAsync();
        var block = WithInformation(LogicalBlockProtection.ReedSolomonCrc, TapeHarness.Block(1000, 1));
        block[500] ^= 0x01;
        var t = await h.Run(Cdb.Write(block.Length), block);
        t.AssertSense(SenseKey.HardwareError, 0x10, 0x01);
        Assert.Equal(1004L, t.Information());
        Assert.Equal(0L, (await h.LongPositionAsync()).Object);

        // A CRC32C-protected block is not a Reed-Solomon one.
        var other = WithInformation(LogicalBlockProtection.Crc32C, TapeHarness.Block(1000, 1));
        (await h.Run(Cdb.Write(other.Length), other)).AssertSense(SenseKey.HardwareError, 0x10, 0x01);
        Assert.Equal(0L, (await h.LongPositionAsync()).Object);

        // Too short to carry the information at all.
        (await h.Run(Cdb.Write(4), new byte[4])).AssertSense(SenseKey.IllegalRequest, 0x24, 0x00);
    }

    [Fact]
    public async Task Write_LbpWOff_TakesBlockAsIs()
    {
        var h = await ProtectedAsync(flags: 0x40);
        var data = TapeHarness.Block(1000, 3);
        await h.WriteRecordAsync(data);
        await h.Good(Cdb.Rewind());
        var r = await h.Run(Cdb.Read(1004));
        r.AssertGood();
        Assert.Equal(WithInformation(LogicalBlockProtection.ReedSolomonCrc, data), r.Data());
    }

    [Fact]
    public async Task Read_IncorrectLengthCountsTheInformation()
    {
        var h = await ProtectedAsync();
        var data = TapeHarness.Block(1000, 5);
        var full = WithInformation(LogicalBlockProtection.ReedSolomonCrc, data);
        await h.WriteRecordAsync(full);

        // The block is 1004 bytes long to the application: 1000 is 4 short of it.
        await h.Good(Cdb.Rewind());
        var r = await h.Run(Cdb.Read(1000));
        r.AssertTape(SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength, -4);
        Assert.Equal(data, r.Data());

        // 1002: the data and half the information.
        await h.Good(Cdb.Rewind());
        r = await h.Run(Cdb.Read(1002));
        r.AssertTape(SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength, -2);
        Assert.Equal(full[..1002], r.Data());

        // 1010: all 1004 bytes, 6 left over; SILI silences it.
        await h.Good(Cdb.Rewind());
        r = await h.Run(Cdb.Read(1010));
        r.AssertTape(SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength, 6);
        Assert.Equal(full, r.Data());
        await h.Good(Cdb.Rewind());
        r = await h.Run(Cdb.Read(1010, sili: true));
        r.AssertGood();
        Assert.Equal(full, r.Data());
    }

    [Fact]
    public async Task FixedMode_BlockLengthIncludesTheInformation()
    {
        var h = await ProtectedAsync();
        await h.Good(SpcCdb.ModeSelect6(12), Cdb.BlockDescriptorList(516));
        var a = WithInformation(LogicalBlockProtection.ReedSolomonCrc, TapeHarness.Block(512, 1));
        var b = WithInformation(LogicalBlockProtection.ReedSolomonCrc, TapeHarness.Block(512, 2));
        await h.Good(Cdb.Write(2, fixedMode: true), [.. a, .. b]);

        // The second block's information is wrong: the first is written, INFORMATION counts the one not written.
        var c = WithInformation(LogicalBlockProtection.ReedSolomonCrc, TapeHarness.Block(512, 3));
        var d = (byte[])c.Clone();
        d[^1] ^= 0xFF;
        var t = await h.Run(Cdb.Write(2, fixedMode: true), [.. c, .. d]);
        t.AssertSense(SenseKey.HardwareError, 0x10, 0x01);
        Assert.Equal(1L, t.Information());

        await h.Good(Cdb.Rewind());
        var r = await h.Run(Cdb.Read(3, fixedMode: true));
        r.AssertGood();
        Assert.Equal([.. a, .. b, .. c], r.Data());
    }

    [Fact]
    public async Task Verify_Vlbpm_AcceptedWithAMethod()
    {
        var h = await ProtectedAsync();
        await h.WriteRecordAsync(WithInformation(LogicalBlockProtection.ReedSolomonCrc, TapeHarness.Block(1000, 9)));
        await h.Good(Cdb.Rewind());
        await h.Good([0x13, 0x10, 0, 0x03, 0xE8, 0]);
        Assert.Equal(1L, (await h.LongPositionAsync()).Object);
    }

    /// <summary>
    /// Randomized against a model of the tape (blocks, position): writes with a right or wrong CRC, with LBP_W on or
    /// off; reads of random lengths with and without SILI, with LBP_R on or off; LOCATE, SPACE back, REWIND; the
    /// protection switched on and off between them. Every answer (status, sense, ILI, INFORMATION, Data-In bytes,
    /// position) must be the one the model predicts.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Random_ReadsWritesPositions_MatchTheModel(int seed)
    {
        const byte Rs = LogicalBlockProtection.ReedSolomonCrc;
        var rng = new Random(seed);
        var h = await ProtectedAsync(flags: 0xC0);
        bool lbpW = true, lbpR = true;
        var blocks = new List<byte[]>();
        var position = 0;
        int guardFailures = 0, incorrectLength = 0, protectedReads = 0;
        for (var step = 0; step < 600; step++)
        {
            var op = rng.Next(100);
            if (op < 30)
            {
                var data = new byte[rng.Next(100) < 10 ? rng.Next(1, 70_000) : rng.Next(1, 3000)];
                rng.NextBytes(data);
                var good = rng.Next(4) != 0;
                var block = lbpW ? WithInformation(Rs, data) : data;
                if (lbpW && !good)
                {
                    block[rng.Next(block.Length)] ^= (byte)(1 << rng.Next(8));
                }

                var t = await h.Run(Cdb.Write(block.Length), block);
                if (lbpW && !good)
                {
                    t.AssertSense(SenseKey.HardwareError, 0x10, 0x01);
                    Assert.Equal(block.Length, t.Information());
                    guardFailures++;
                }
                else
                {
                    t.AssertGood();
                    blocks.RemoveRange(position, blocks.Count - position);
                    blocks.Add(data);
                    position++;
                }
            }
            else if (op < 70)
            {
                var sili = rng.Next(3) == 0;
                var expectedBlock = position < blocks.Count ? (lbpR ? WithInformation(Rs, blocks[position]) : blocks[position]) : null;
                var length = expectedBlock is null || rng.Next(3) == 0 ? rng.Next(1, 5000) : expectedBlock.Length + rng.Next(-5, 6);
                length = Math.Max(1, length);
                var t = await h.Run(Cdb.Read(length, sili: sili));
                if (expectedBlock is null)
                {
                    t.AssertTape(SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, length);
                    continue;
                }

                Assert.Equal(expectedBlock[..Math.Min(length, expectedBlock.Length)], t.Data());
                // Variable-block mode: SILI silences both underlength and overlength reports.
                if (expectedBlock.Length == length || sili)
                {
                    t.AssertGood();
                }
                else
                {
                    t.AssertTape(SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength, length - expectedBlock.Length);
                    incorrectLength++;
                }

                protectedReads += lbpR ? 1 : 0;

                position++;
            }
            else if (op < 80)
            {
                var target = rng.Next(blocks.Count + 1);
                await h.Good(Cdb.Locate16(target));
                position = target;
            }
            else if (op < 85)
            {
                if (position > 0)
                {
                    await h.Good(Cdb.Space(0, -1));
                    position--;
                }
            }
            else if (op < 88)
            {
                await h.Good(Cdb.Rewind());
                position = 0;
            }
            else
            {
                lbpW = rng.Next(2) == 0;
                lbpR = rng.Next(2) == 0;
                var off = rng.Next(4) == 0;
                (await SelectAsync(h, off ? (byte)0 : Rs, off ? (byte)0 : (byte)4, (byte)((lbpW ? 0x80 : 0) | (lbpR ? 0x40 : 0)))).AssertGood();
                if (off)
                {
                    lbpW = lbpR = false;
                }
            }

            Assert.Equal(position, (await h.LongPositionAsync()).Object);
        }

        Assert.True(guardFailures > 5 && incorrectLength > 5 && protectedReads > 10, $"guard {guardFailures}, ILI {incorrectLength}, protected reads {protectedReads}");
    }

    [Fact]
    public void ReedSolomonCrc_IsTheEcma319Division()
    {
        // One byte 01h leaves the generator's own coefficients (38h, CFh, 38h, 01h) in the register.
        Assert.Equal(0x38CF3801u, LogicalBlockProtection.ComputeReedSolomon([0x01]));
        Assert.Equal(0u, LogicalBlockProtection.ComputeReedSolomon([]));

        // The vector the VM scenario writes through sg (tools/e2e/guest/tape.sh): 1000 "A" bytes, computed with a
        // separate shift-register implementation of the same code.
        Assert.Equal(0x82F5BED0u, LogicalBlockProtection.ComputeReedSolomon(Enumerable.Repeat((byte)'A', 1000).ToArray()));

        // Against a long division of D(x)·x^4 by G(x), written out without the table.
        var random = new Random(42);
        foreach (var n in new[] { 1, 2, 3, 4, 5, 17, 1000, 65537 })
        {
            var data = new byte[n];
            random.NextBytes(data);
            Assert.Equal(LongDivision(data), LogicalBlockProtection.ComputeReedSolomon(data));
        }

        // A protected block is a codeword: appending the remainder and dividing again leaves zero.
        var block = WithInformation(LogicalBlockProtection.ReedSolomonCrc, "123456789"u8.ToArray());
        Assert.Equal(0u, LogicalBlockProtection.ComputeReedSolomon(block));
    }

    [Fact]
    public void Crc32C_IsCastagnoli_LeastSignificantByteFirst()
    {
        Span<byte> info = stackalloc byte[4];
        LogicalBlockProtection.Write(LogicalBlockProtection.Crc32C, "123456789"u8, info);
        Assert.Equal(0xE3069283u, BinaryPrimitives.ReadUInt32LittleEndian(info));
        Assert.True(LogicalBlockProtection.Check(LogicalBlockProtection.Crc32C, "123456789"u8, info));
        info[0] ^= 1;
        Assert.False(LogicalBlockProtection.Check(LogicalBlockProtection.Crc32C, "123456789"u8, info));
    }

    private static uint LongDivision(byte[] data)
    {
        // Remainder of D(x)·x^4 mod G(x), G = x^4 + 38h x^3 + CFh x^2 + 38h x + 01h, coefficients highest first.
        byte[] g = [0x38, 0xCF, 0x38, 0x01];
        var r = new byte[data.Length + 4];
        data.CopyTo(r, 0);
        for (var i = 0; i < data.Length; i++)
        {
            var q = r[i];
            if (q == 0)
            {
                continue;
            }

            r[i] = 0;
            for (var k = 0; k < 4; k++)
            {
                r[i + 1 + k] ^= LogicalBlockProtection.GfMultiply(q, g[k]);
            }
        }

        return BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(data.Length));
    }
}

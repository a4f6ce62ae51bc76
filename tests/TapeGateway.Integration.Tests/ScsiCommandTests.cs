using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Infrastructure;
using TapeGateway.Integration.Tests.Initiator;

namespace TapeGateway.Integration.Tests;

public sealed class ScsiCommandTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private const int BlockSize = 512;
    private const long VolumeBytes = 64L * 1024 * 1024;

    private Task<TestInitiator> ConnectAsync(InitiatorOptions? options = null) =>
        TestInitiator.ConnectAsync(fixture.Endpoint, RunningGateway.DefaultTarget, (options ?? new InitiatorOptions()) with { Isid = TestIsids.Next() });

    private async Task<TestInitiator> ConnectReadyAsync(InitiatorOptions? options = null)
    {
        var ini = await ConnectAsync(options);
        await ini.ClearUnitAttentionsAsync();
        return ini;
    }

    [Fact]
    public async Task The_first_command_of_a_new_session_reports_power_on_reset_unit_attention()
    {
        await using var ini = await ConnectAsync();

        var first = await ini.ExecuteAsync(0, Cdb.TestUnitReady());
        var second = await ini.ExecuteAsync(0, Cdb.TestUnitReady());

        Assert.Equal(ScsiStatus.CheckCondition, first.Status);
        Assert.Equal(new SenseCode(SenseCode.UnitAttention, 0x29, 0x00), first.SenseCode);
        Assert.Equal(ScsiStatus.Good, second.Status);
    }

    [Fact]
    public async Task Inquiry_reports_a_direct_access_device_with_vendor_and_product()
    {
        await using var ini = await ConnectAsync();

        // INQUIRY ignores unit attentions (SPC-4 §5.14), so it works as the very first command.
        var r = await ini.ExecuteAsync(0, Cdb.Inquiry(96), expectedDataIn: 96);

        Assert.Equal(ScsiStatus.Good, r.Status);
        Assert.True(r.Data.Length >= 36, $"standard INQUIRY data is at least 36 bytes, got {r.Data.Length}");
        Assert.Equal(0x00, r.Data[0] & 0x1F);
        Assert.Equal(0x00, r.Data[0] >> 5);
        Assert.False(string.IsNullOrWhiteSpace(System.Text.Encoding.ASCII.GetString(r.Data, 8, 8)));
        Assert.False(string.IsNullOrWhiteSpace(System.Text.Encoding.ASCII.GetString(r.Data, 16, 16)));
        Assert.True(r.StatusInDataIn, "GOOD status without sense should be phase-collapsed into the last Data-In");
        Assert.Empty(r.ProtocolViolations);
    }

    [Fact]
    public async Task Read_capacity_16_reports_the_configured_volume_size_and_block_length()
    {
        await using var ini = await ConnectReadyAsync();

        var r = await ini.ExecuteAsync(0, Cdb.ReadCapacity16(32), expectedDataIn: 32);

        Assert.Equal(ScsiStatus.Good, r.Status);
        Assert.Equal(32, r.Data.Length);
        Assert.Equal((ulong)(VolumeBytes / BlockSize) - 1, BinaryPrimitives.ReadUInt64BigEndian(r.Data));
        Assert.Equal((uint)BlockSize, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(8)));
        Assert.Empty(r.ProtocolViolations);
    }

    public static TheoryData<bool, bool, bool> TransferModes()
    {
        var data = new TheoryData<bool, bool, bool>();
        foreach (var immediate in new[] { true, false })
        {
            foreach (var initialR2T in new[] { true, false })
            {
                foreach (var digests in new[] { false, true })
                {
                    data.Add(immediate, initialR2T, digests);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TransferModes))]
    public async Task Write_then_read_of_1_mib_round_trips_across_burst_and_r2t_boundaries(bool immediateData, bool initialR2T, bool digests)
    {
        var options = new InitiatorOptions
        {
            ImmediateData = immediateData,
            InitialR2T = initialR2T,
            HeaderDigest = digests,
            DataDigest = digests,
            MaxRecvDataSegmentLength = 16_384,
            FirstBurstLength = 65_536,
            MaxBurstLength = 262_144,
        };
        await using var ini = await ConnectReadyAsync(options);
        var index = (immediateData ? 4 : 0) + (initialR2T ? 2 : 0) + (digests ? 1 : 0);
        var lba = (uint)(index * 4096);
        var payload = new byte[1024 * 1024];
        new Random(index).NextBytes(payload);
        const ushort blocks = 1024 * 1024 / BlockSize;

        var write = await ini.ExecuteAsync(0, Cdb.Write10(lba, blocks), dataOut: payload);
        var read = await ini.ExecuteAsync(0, Cdb.Read10(lba, blocks), expectedDataIn: payload.Length);

        Assert.Equal(ScsiStatus.Good, write.Status);
        Assert.Empty(write.ProtocolViolations);
        Assert.False(write.ResidualOverflow || write.ResidualUnderflow);
        var unsolicited = ini.Negotiated!.InitialR2T ? (immediateData ? Math.Min(65_536, ini.Negotiated.TargetMaxRecvDataSegmentLength) : 0) : 65_536;
        var expectedR2Ts = (int)Math.Ceiling((payload.Length - unsolicited) / (double)ini.Negotiated.MaxBurstLength);
        Assert.Equal(expectedR2Ts, write.R2TCount);

        Assert.Equal(ScsiStatus.Good, read.Status);
        Assert.Empty(read.ProtocolViolations);
        Assert.Equal(payload.Length, read.Data.Length);
        Assert.True(payload.AsSpan().SequenceEqual(read.Data), "data read back differs from data written");
        Assert.True(read.DataInPduCount >= payload.Length / 16_384, $"Data-In must respect MaxRecvDataSegmentLength; got {read.DataInPduCount} PDUs");
        Assert.Empty(ini.ProtocolViolations);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_1_mib_read_in_256_kib_pdus_goes_out_as_gathered_header_and_data_with_valid_digests(bool digests)
    {
        // Segments of 256 KiB take the direct path (header and data segment in one gathered send, padding and data
        // digest after it); the initiator checks every header digest, data digest and PDU boundary.
        var options = new InitiatorOptions
        {
            HeaderDigest = digests,
            DataDigest = digests,
            MaxRecvDataSegmentLength = 262_144,
            MaxBurstLength = 1_048_576,
        };
        await using var ini = await ConnectReadyAsync(options);
        var lba = (uint)((digests ? 9 : 8) * 4096);
        var payload = new byte[1024 * 1024];
        new Random(digests ? 91 : 90).NextBytes(payload);
        const ushort blocks = 1024 * 1024 / BlockSize;
        Assert.Equal(ScsiStatus.Good, (await ini.ExecuteAsync(0, Cdb.Write10(lba, blocks), dataOut: payload)).Status);

        for (var round = 0; round < 3; round++)
        {
            var read = await ini.ExecuteAsync(0, Cdb.Read10(lba, blocks), expectedDataIn: payload.Length);
            Assert.Equal(ScsiStatus.Good, read.Status);
            Assert.Empty(read.ProtocolViolations);
            Assert.True(payload.AsSpan().SequenceEqual(read.Data), "data read back differs from data written");
            Assert.Equal(payload.Length / 262_144, read.DataInPduCount);
        }

        Assert.Empty(ini.ProtocolViolations);
    }

    [Fact]
    public async Task Read_with_an_expected_length_shorter_than_the_cdb_asks_reports_residual_overflow()
    {
        await using var ini = await ConnectReadyAsync();

        var r = await ini.ExecuteAsync(0, Cdb.Read10(0, 8), expectedDataIn: 2048);

        Assert.Equal(ScsiStatus.Good, r.Status);
        Assert.Equal(2048, r.Data.Length);
        Assert.True(r.ResidualOverflow);
        Assert.False(r.ResidualUnderflow);
        Assert.Equal(4096u - 2048u, r.ResidualCount);
        Assert.Empty(r.ProtocolViolations);
    }

    [Fact]
    public async Task Read_with_an_expected_length_longer_than_the_cdb_asks_reports_residual_underflow()
    {
        await using var ini = await ConnectReadyAsync();

        var r = await ini.ExecuteAsync(0, Cdb.Read10(0, 1), expectedDataIn: 4096);

        Assert.Equal(ScsiStatus.Good, r.Status);
        Assert.Equal(BlockSize, r.Data.Length);
        Assert.True(r.ResidualUnderflow);
        Assert.False(r.ResidualOverflow);
        Assert.Equal(4096u - BlockSize, r.ResidualCount);
        Assert.Empty(r.ProtocolViolations);
    }

    [Fact]
    public async Task A_command_to_a_lun_that_does_not_exist_gets_check_condition_logical_unit_not_supported()
    {
        await using var ini = await ConnectReadyAsync();

        var r = await ini.ExecuteAsync(7, Cdb.TestUnitReady());

        Assert.Equal(ScsiStatus.CheckCondition, r.Status);
        Assert.Equal(new SenseCode(SenseCode.IllegalRequest, 0x25, 0x00), r.SenseCode);
        Assert.False(r.StatusInDataIn);
    }

    [Fact]
    public async Task Nop_out_ping_is_answered_with_the_same_data()
    {
        await using var ini = await ConnectReadyAsync();
        var payload = new byte[1001];
        new Random(5).NextBytes(payload);

        var echoed = await ini.PingAsync(payload);
        var empty = await ini.PingAsync();

        Assert.Equal(payload, echoed);
        Assert.Empty(empty);
        Assert.Empty(ini.ProtocolViolations);
    }

    [Fact]
    public async Task Report_luns_lists_lun_0()
    {
        await using var ini = await ConnectReadyAsync();

        var r = await ini.ExecuteAsync(0, Cdb.ReportLuns(256), expectedDataIn: 256);

        Assert.Equal(ScsiStatus.Good, r.Status);
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32BigEndian(r.Data));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64BigEndian(r.Data.AsSpan(8)));
    }
}

using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Infrastructure;
using TapeGateway.Integration.Tests.Initiator;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Integration.Tests;

/// <summary>What the target does with PDUs that break the rules (RFC 7143 §4.2.2.1, §7, §11.17).</summary>
public sealed class ProtocolErrorTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private async Task<TestInitiator> ConnectReadyAsync(InitiatorOptions? options = null)
    {
        var ini = await TestInitiator.ConnectAsync(
            fixture.Endpoint, RunningGateway.DefaultTarget, (options ?? new InitiatorOptions()) with { Isid = TestIsids.Next() });
        await ini.ClearUnitAttentionsAsync();
        return ini;
    }

    [Fact]
    public async Task A_command_with_cmd_sn_beyond_max_cmd_sn_is_ignored_and_the_next_in_window_command_works()
    {
        await using var ini = await ConnectReadyAsync();
        var beyond = unchecked(ini.MaxCmdSn + 5);

        await using var ignored = await ini.StartCommandAsync(0, Cdb.TestUnitReady(), options: new CommandOptions { CmdSn = beyond });
        var finished = await Task.WhenAny(ignored.Completion, Task.Delay(TimeSpan.FromSeconds(1)));
        var next = await ini.ExecuteAsync(0, Cdb.TestUnitReady());

        Assert.NotSame(ignored.Completion, finished);
        Assert.Equal(ScsiStatus.Good, next.Status);
    }

    [Fact]
    public async Task A_command_repeating_an_already_used_cmd_sn_is_ignored()
    {
        await using var ini = await ConnectReadyAsync();
        var used = unchecked(ini.NextCmdSn - 1);

        await using var duplicate = await ini.StartCommandAsync(0, Cdb.TestUnitReady(), options: new CommandOptions { CmdSn = used });
        var finished = await Task.WhenAny(duplicate.Completion, Task.Delay(TimeSpan.FromSeconds(1)));
        var next = await ini.ExecuteAsync(0, Cdb.TestUnitReady());

        Assert.NotSame(duplicate.Completion, finished);
        Assert.Equal(ScsiStatus.Good, next.Status);
    }

    [Fact]
    public async Task An_oversized_pdu_drops_that_connection_while_another_session_keeps_working()
    {
        await using var victim = await ConnectReadyAsync();
        await using var bystander = await ConnectReadyAsync();
        var bhs = new byte[Bhs.Length];
        bhs[0] = (byte)IscsiOpcode.NopOut | Bhs.ImmediateBit;
        bhs[1] = Bhs.FinalBit;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, victim.AllocateItt());
        Bhs.SetWord(bhs, Bhs.Word20, TestInitiator.ReservedTag);
        Bhs.SetWord(bhs, Bhs.Word24, victim.NextCmdSn);
        Bhs.SetDataSegmentLength(bhs, 0xFF_FFFF);

        await victim.SendHeaderOnlyAsync(bhs);

        await victim.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        var r = await bystander.ExecuteAsync(0, Cdb.TestUnitReady());
        Assert.Equal(ScsiStatus.Good, r.Status);
        Assert.Equal("ok"u8.ToArray(), await bystander.PingAsync("ok"u8.ToArray()));
    }

    [Fact]
    public async Task A_header_digest_error_drops_the_connection()
    {
        await using var ini = await ConnectReadyAsync(new InitiatorOptions { HeaderDigest = true });
        var bhs = new byte[Bhs.Length];
        bhs[0] = (byte)IscsiOpcode.NopOut | Bhs.ImmediateBit;
        bhs[1] = Bhs.FinalBit;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, ini.AllocateItt());
        Bhs.SetWord(bhs, Bhs.Word20, TestInitiator.ReservedTag);
        Bhs.SetWord(bhs, Bhs.Word24, ini.NextCmdSn);
        byte[] wire = [.. bhs, 0xDE, 0xAD, 0xBE, 0xEF];

        await ini.SendRawAsync(wire);

        await ini.Closed.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_pdu_with_an_unknown_opcode_is_rejected_and_the_session_continues()
    {
        await using var ini = await ConnectReadyAsync();
        var itt = ini.AllocateItt();
        var replies = ini.Register(itt);
        var bhs = new byte[Bhs.Length];
        bhs[0] = 0x1C | Bhs.ImmediateBit; // not an initiator opcode (RFC 7143 §11.2.1.2)
        bhs[1] = Bhs.FinalBit;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, itt);
        Bhs.SetWord(bhs, Bhs.Word24, ini.NextCmdSn);

        await ini.SendPduAsync(bhs, default);
        var reject = await ini.ReceiveAsync(replies);
        ini.Unregister(itt);

        Assert.Equal(IscsiOpcode.Reject, reject.Opcode);
        Assert.Equal((byte)RejectReason.CommandNotSupported, reject.Header[2]);
        Assert.Equal(bhs.AsSpan(8).ToArray(), reject.Data.AsSpan(8, 40).ToArray());
        Assert.Equal(ScsiStatus.Good, (await ini.ExecuteAsync(0, Cdb.TestUnitReady())).Status);
    }

    [Fact]
    public async Task A_data_digest_error_on_a_nop_out_is_answered_with_a_reject_and_the_session_continues()
    {
        await using var ini = await ConnectReadyAsync(new InitiatorOptions { HeaderDigest = true, DataDigest = true });
        var itt = ini.AllocateItt();
        var replies = ini.Register(itt);
        var bhs = new byte[Bhs.Length];
        bhs[0] = (byte)IscsiOpcode.NopOut | Bhs.ImmediateBit;
        bhs[1] = Bhs.FinalBit;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, itt);
        Bhs.SetWord(bhs, Bhs.Word20, TestInitiator.ReservedTag);
        Bhs.SetWord(bhs, Bhs.Word24, ini.NextCmdSn);
        Bhs.SetDataSegmentLength(bhs, 4);
        var header = new byte[Bhs.Length + 4];
        bhs.CopyTo(header, 0);
        Crc32C.Write(header.AsSpan(Bhs.Length), Crc32C.Compute(bhs));
        byte[] wire = [.. header, (byte)'p', (byte)'i', (byte)'n', (byte)'g', 0, 0, 0, 0];

        await ini.SendRawAsync(wire);
        var reject = await ini.ReceiveAsync(replies);
        ini.Unregister(itt);

        Assert.Equal(IscsiOpcode.Reject, reject.Opcode);
        Assert.Equal((byte)RejectReason.DataDigestError, reject.Header[2]);
        Assert.Equal(ScsiStatus.Good, (await ini.ExecuteAsync(0, Cdb.TestUnitReady())).Status);
    }
}

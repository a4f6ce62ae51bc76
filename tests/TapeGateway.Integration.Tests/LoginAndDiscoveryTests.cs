using System.Text;
using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Infrastructure;
using TapeGateway.Integration.Tests.Initiator;

namespace TapeGateway.Integration.Tests;

public sealed class LoginAndDiscoveryTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private static InitiatorOptions NewOptions() => new() { Isid = TestIsids.Next() };

    [Fact]
    public async Task Login_reaches_full_feature_phase_and_logout_closes_the_connection()
    {
        await using var ini = await TestInitiator.ConnectAsync(fixture.Endpoint, RunningGateway.DefaultTarget, NewOptions());

        Assert.True(ini.InFullFeaturePhase);
        Assert.NotEqual(0, ini.Tsih);
        Assert.Empty(ini.Negotiated!.Violations);

        Assert.Equal(0, await ini.LogoutAsync());
        await ini.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(ini.ProtocolViolations);
    }

    [Fact]
    public async Task Login_through_the_security_stage_with_auth_method_none_succeeds()
    {
        await using var ini = await TestInitiator.ConnectAsync(
            fixture.Endpoint, RunningGateway.DefaultTarget, NewOptions() with { UseSecurityStage = true });

        Assert.True(ini.InFullFeaturePhase);
        Assert.Equal("None", ini.Negotiated!.TargetKeys["AuthMethod"]);
    }

    [Fact]
    public async Task Login_answers_smaller_bursts_with_the_minimum_and_immediate_data_with_and()
    {
        var options = NewOptions() with { FirstBurstLength = 8192, MaxBurstLength = 65536, ImmediateData = true, InitialR2T = false };

        await using var ini = await TestInitiator.ConnectAsync(fixture.Endpoint, RunningGateway.DefaultTarget, options);

        Assert.Empty(ini.Negotiated!.Violations);
        Assert.True(ini.Negotiated.ImmediateData);
        Assert.Equal(8192, ini.Negotiated.FirstBurstLength);
        Assert.Equal(65536, ini.Negotiated.MaxBurstLength);
    }

    [Fact]
    public async Task Login_answers_every_offered_operational_key_by_the_rfc_rules()
    {
        var options = NewOptions() with
        {
            ImmediateData = false,
            InitialR2T = true,
            FirstBurstLength = 8192,
            MaxBurstLength = 65536,
            MaxRecvDataSegmentLength = 16384,
        };

        await using var ini = await TestInitiator.ConnectAsync(fixture.Endpoint, RunningGateway.DefaultTarget, options);
        var negotiated = ini.Negotiated!;

        Assert.Empty(negotiated.Violations);
        Assert.False(negotiated.ImmediateData);
        Assert.True(negotiated.InitialR2T);
        Assert.Equal("Irrelevant", negotiated.TargetKeys["FirstBurstLength"]);
        Assert.Equal(65536, negotiated.MaxBurstLength);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Digests_offered_by_the_initiator_are_negotiated_and_used(bool headerDigest, bool dataDigest)
    {
        await using var ini = await TestInitiator.ConnectAsync(
            fixture.Endpoint, RunningGateway.DefaultTarget, NewOptions() with { HeaderDigest = headerDigest, DataDigest = dataDigest });

        Assert.Equal(headerDigest, ini.Negotiated!.HeaderDigest);
        Assert.Equal(dataDigest, ini.Negotiated.DataDigest);
        await ini.ClearUnitAttentionsAsync();
        var inquiry = await ini.ExecuteAsync(0, Cdb.Inquiry(96), expectedDataIn: 96);
        Assert.Equal(ScsiStatus.Good, inquiry.Status);
        Assert.Empty(inquiry.ProtocolViolations);
        Assert.Equal(Encoding.UTF8.GetBytes("ping"), await ini.PingAsync("ping"u8.ToArray()));
        Assert.Empty(ini.ProtocolViolations);
    }

    [Fact]
    public async Task Discovery_session_send_targets_all_lists_the_target_and_its_portal()
    {
        await using var ini = await TestInitiator.ConnectAsync(fixture.Endpoint, targetName: null, NewOptions());

        var targets = await ini.SendTargetsAsync("All");

        var target = Assert.Single(targets, t => t.Name == RunningGateway.DefaultTarget);
        Assert.Contains($"{fixture.Endpoint.Address}:{fixture.Endpoint.Port},1", target.Addresses);
        Assert.Equal(0, await ini.LogoutAsync());
    }

    [Fact]
    public async Task Login_to_a_target_that_does_not_exist_fails_with_not_found()
    {
        var ex = await Assert.ThrowsAsync<IscsiLoginException>(() =>
            TestInitiator.ConnectAsync(fixture.Endpoint, "iqn.2026-11.org.tapegateway:nonexistent", NewOptions()));

        Assert.Equal(0x0203, ex.Status);
    }

    [Fact]
    public async Task Garbage_instead_of_a_login_closes_that_connection_and_the_server_keeps_serving()
    {
        await using (var garbage = await TestInitiator.ConnectRawAsync(fixture.Endpoint, NewOptions()))
        {
            await garbage.SendRawAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: tapegateway\r\nAccept: */*\r\nUser-Agent: curl\r\n\r\n"));
            await garbage.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }

        await using (var random = await TestInitiator.ConnectRawAsync(fixture.Endpoint, NewOptions()))
        {
            var bytes = new byte[512];
            new Random(42).NextBytes(bytes);
            await random.SendRawAsync(bytes);
            await random.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }

        await using var ini = await TestInitiator.ConnectAsync(fixture.Endpoint, RunningGateway.DefaultTarget, NewOptions());
        await ini.ClearUnitAttentionsAsync();
        Assert.Equal(ScsiStatus.Good, (await ini.ExecuteAsync(0, Cdb.TestUnitReady())).Status);
    }

    [Fact]
    public async Task Login_with_the_same_isid_and_initiator_name_reinstates_the_session_and_closes_the_old_connection()
    {
        var options = NewOptions();
        await using var first = await TestInitiator.ConnectAsync(fixture.Endpoint, RunningGateway.DefaultTarget, options);
        await first.ClearUnitAttentionsAsync();

        await using var second = await TestInitiator.ConnectAsync(fixture.Endpoint, RunningGateway.DefaultTarget, options);

        await first.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await second.ClearUnitAttentionsAsync();
        Assert.Equal(ScsiStatus.Good, (await second.ExecuteAsync(0, Cdb.TestUnitReady())).Status);
    }

    [Fact]
    public async Task A_scsi_command_on_a_discovery_session_is_rejected()
    {
        await using var ini = await TestInitiator.ConnectAsync(fixture.Endpoint, targetName: null, NewOptions());

        var ex = await Assert.ThrowsAsync<IscsiRejectedException>(() => ini.ExecuteAsync(0, Cdb.TestUnitReady()));

        Assert.Equal(0x04, ex.Reason);
    }
}

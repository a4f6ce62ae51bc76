using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Infrastructure;
using TapeGateway.Integration.Tests.Initiator;

namespace TapeGateway.Integration.Tests;

/// <summary>A gateway with two extra targets: one behind one-way CHAP, one that also offers mutual CHAP.</summary>
public sealed class ChapGatewayFixture : GatewayFixture
{
    public const string OneWayTarget = "iqn.2026-11.org.tapegateway:chap";
    public const string MutualTarget = "iqn.2026-11.org.tapegateway:mutual";
    public const string UserName = "chap-user";
    public const string Secret = "chap-secret-01";
    public const string MutualInitiatorUser = "mutual-user";
    public const string MutualInitiatorSecret = "initiator-sec-1";
    public const string MutualTargetUser = "mutual-target";
    public const string MutualTargetSecret = "target-secret-22";

    protected override IReadOnlyDictionary<string, string?> Overrides => new Dictionary<string, string?>
    {
        ["TapeGateway:Targets:1:Name"] = OneWayTarget,
        ["TapeGateway:Targets:1:Luns:0:File"] = "volumes/chap.img",
        ["TapeGateway:Targets:1:Luns:0:SizeMiB"] = "16",
        ["TapeGateway:Targets:2:Name"] = MutualTarget,
        ["TapeGateway:Targets:2:Luns:0:File"] = "volumes/mutual.img",
        ["TapeGateway:Targets:2:Luns:0:SizeMiB"] = "16",
        ["TapeGateway:Iscsi:TargetSecurity:0:TargetName"] = OneWayTarget,
        ["TapeGateway:Iscsi:TargetSecurity:0:Chap:UserName"] = UserName,
        ["TapeGateway:Iscsi:TargetSecurity:0:Chap:Secret"] = Secret,
        ["TapeGateway:Iscsi:TargetSecurity:1:TargetName"] = MutualTarget,
        ["TapeGateway:Iscsi:TargetSecurity:1:Chap:UserName"] = MutualInitiatorUser,
        ["TapeGateway:Iscsi:TargetSecurity:1:Chap:Secret"] = MutualInitiatorSecret,
        ["TapeGateway:Iscsi:TargetSecurity:1:Chap:MutualUserName"] = MutualTargetUser,
        ["TapeGateway:Iscsi:TargetSecurity:1:Chap:MutualSecret"] = MutualTargetSecret,
    };
}

public sealed class ChapTests(ChapGatewayFixture fixture) : IClassFixture<ChapGatewayFixture>
{
    private const ushort AuthenticationFailure = 0x0201;

    private static InitiatorOptions NewOptions(ChapSettings? chap = null, bool securityStage = false) =>
        new() { Isid = TestIsids.Next(), Chap = chap, UseSecurityStage = securityStage };

    private async Task<IscsiLoginException> LoginFailsAsync(string target, InitiatorOptions options) =>
        await Assert.ThrowsAsync<IscsiLoginException>(() => TestInitiator.ConnectAsync(fixture.Endpoint, target, options));

    [Fact]
    public async Task One_way_chap_with_the_right_secret_logs_in_and_serves_commands()
    {
        await using var ini = await TestInitiator.ConnectAsync(
            fixture.Endpoint, ChapGatewayFixture.OneWayTarget, NewOptions(new ChapSettings(ChapGatewayFixture.UserName, ChapGatewayFixture.Secret)));

        Assert.Equal("CHAP", ini.Negotiated!.TargetKeys["AuthMethod"]);
        await ini.ClearUnitAttentionsAsync();
        Assert.Equal(ScsiStatus.Good, (await ini.ExecuteAsync(0, Cdb.TestUnitReady())).Status);
    }

    [Fact]
    public async Task Skipping_the_security_stage_on_a_chap_target_fails_with_authentication_failure()
    {
        var ex = await LoginFailsAsync(ChapGatewayFixture.OneWayTarget, NewOptions());

        Assert.Equal(AuthenticationFailure, ex.Status);
    }

    [Fact]
    public async Task Offering_only_auth_method_none_to_a_chap_target_fails_with_authentication_failure()
    {
        var ex = await LoginFailsAsync(ChapGatewayFixture.OneWayTarget, NewOptions(securityStage: true));

        Assert.Equal(AuthenticationFailure, ex.Status);
    }

    [Fact]
    public async Task A_wrong_chap_secret_fails_with_authentication_failure()
    {
        var ex = await LoginFailsAsync(ChapGatewayFixture.OneWayTarget, NewOptions(new ChapSettings(ChapGatewayFixture.UserName, "wrong-secret-99")));

        Assert.Equal(AuthenticationFailure, ex.Status);
    }

    [Fact]
    public async Task A_wrong_chap_user_name_fails_with_authentication_failure()
    {
        var ex = await LoginFailsAsync(ChapGatewayFixture.OneWayTarget, NewOptions(new ChapSettings("somebody-else", ChapGatewayFixture.Secret)));

        Assert.Equal(AuthenticationFailure, ex.Status);
    }

    [Fact]
    public async Task The_secret_of_another_target_does_not_open_this_one()
    {
        var ex = await LoginFailsAsync(
            ChapGatewayFixture.OneWayTarget, NewOptions(new ChapSettings(ChapGatewayFixture.MutualInitiatorUser, ChapGatewayFixture.MutualInitiatorSecret)));

        Assert.Equal(AuthenticationFailure, ex.Status);
    }

    [Fact]
    public async Task Mutual_chap_with_the_right_secrets_authenticates_both_sides()
    {
        var chap = new ChapSettings(ChapGatewayFixture.MutualInitiatorUser, ChapGatewayFixture.MutualInitiatorSecret)
        {
            TargetUserName = ChapGatewayFixture.MutualTargetUser,
            TargetSecret = ChapGatewayFixture.MutualTargetSecret,
        };

        await using var ini = await TestInitiator.ConnectAsync(fixture.Endpoint, ChapGatewayFixture.MutualTarget, NewOptions(chap));

        Assert.Equal(ChapGatewayFixture.MutualTargetUser, ini.Negotiated!.TargetKeys["CHAP_N"]);
        await ini.ClearUnitAttentionsAsync();
        Assert.Equal(ScsiStatus.Good, (await ini.ExecuteAsync(0, Cdb.TestUnitReady())).Status);
    }

    [Fact]
    public async Task Mutual_chap_with_a_wrong_initiator_secret_fails_with_authentication_failure()
    {
        var chap = new ChapSettings(ChapGatewayFixture.MutualInitiatorUser, "not-the-secret1")
        {
            TargetSecret = ChapGatewayFixture.MutualTargetSecret,
        };

        var ex = await LoginFailsAsync(ChapGatewayFixture.MutualTarget, NewOptions(chap));

        Assert.Equal(AuthenticationFailure, ex.Status);
    }

    [Fact]
    public async Task Mutual_chap_where_the_target_cannot_prove_the_expected_secret_is_refused_by_the_initiator()
    {
        // The target never learns which mutual secret the initiator expects, so it cannot answer 0x0201 here: the
        // initiator detects the bad CHAP_R and must abandon the login (RFC 7143 §12.1.3).
        var chap = new ChapSettings(ChapGatewayFixture.MutualInitiatorUser, ChapGatewayFixture.MutualInitiatorSecret)
        {
            TargetSecret = "some-other-sec1",
        };

        await Assert.ThrowsAsync<ChapMutualAuthenticationException>(() =>
            TestInitiator.ConnectAsync(fixture.Endpoint, ChapGatewayFixture.MutualTarget, NewOptions(chap)));
    }

    [Fact]
    public async Task Asking_for_mutual_chap_from_a_target_without_a_mutual_secret_fails_with_authentication_failure()
    {
        var chap = new ChapSettings(ChapGatewayFixture.UserName, ChapGatewayFixture.Secret) { TargetSecret = "whatever-sec-12" };

        var ex = await LoginFailsAsync(ChapGatewayFixture.OneWayTarget, NewOptions(chap));

        Assert.Equal(AuthenticationFailure, ex.Status);
    }

    [Fact]
    public async Task The_default_target_without_chap_still_accepts_logins_without_authentication()
    {
        await using var ini = await TestInitiator.ConnectAsync(fixture.Endpoint, RunningGateway.DefaultTarget, NewOptions());

        Assert.True(ini.InFullFeaturePhase);
    }
}

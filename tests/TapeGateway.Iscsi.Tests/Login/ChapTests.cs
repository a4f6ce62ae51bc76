using TapeGateway.Iscsi.Login;

namespace TapeGateway.Iscsi.Tests.Login;

public class ChapTests
{
    private static readonly LoginStage Sec = LoginStage.SecurityNegotiation;
    private static readonly LoginStage Op = LoginStage.LoginOperationalNegotiation;

    private static LoginStateMachine ChapMachine(bool mutual = false) =>
        L.Machine(new FakeResolver().With(L.Target(L.Chap(mutual))));

    /// <summary>Runs AuthMethod and CHAP_A; returns the target's CHAP_I and CHAP_C.</summary>
    private static (string Id, string Challenge) StartChap(LoginStateMachine m)
    {
        var first = m.Send(L.Req(Sec, Op), L.Hello("AuthMethod=CHAP,None"));
        Assert.Equal(LoginStatus.Success, first.Response.Status);
        Assert.False(first.Response.Transit); // authentication not done yet
        Assert.Equal("CHAP", L.Keys(first)["AuthMethod"]);

        var second = m.Send(L.Req(Sec), "CHAP_A=5");
        var keys = L.Keys(second);
        Assert.Equal("5", keys["CHAP_A"]);
        Assert.StartsWith("0x", keys["CHAP_C"], StringComparison.Ordinal);
        Assert.True(IscsiValueEncoding.TryDecodeBinary(keys["CHAP_C"], out var challenge));
        Assert.True(challenge.Length >= 16);
        return (keys["CHAP_I"], keys["CHAP_C"]);
    }

    [Fact]
    public void RightSecret_Authenticates()
    {
        var m = ChapMachine();
        var (id, challenge) = StartChap(m);

        var step = m.Send(L.Req(Sec, Op), "CHAP_N=alice", "CHAP_R=" + L.ChapResponse(id, "secret-123456", challenge));

        Assert.Equal(LoginStatus.Success, step.Response.Status);
        Assert.True(step.Response.Transit);
        Assert.Equal(Op, step.Response.NextStage);
        Assert.DoesNotContain(L.Keys(step).Keys, k => k.StartsWith("CHAP_", StringComparison.Ordinal));

        Assert.True(m.Finish().EntersFullFeaturePhase);
        Assert.Equal("alice", m.Result.AuthenticatedUser);
        Assert.False(m.Result.MutualAuthentication);
        Assert.DoesNotContain("CHAP_R", m.Result.NegotiatedKeys.Keys);
    }

    [Fact]
    public void Base64Response_IsAccepted()
    {
        var m = ChapMachine();
        var (id, challenge) = StartChap(m);
        IscsiValueEncoding.TryDecodeBinary(L.ChapResponse(id, "secret-123456", challenge), out var raw);

        var step = m.Send(L.Req(Sec, Op), "CHAP_N=alice", "CHAP_R=" + IscsiValueEncoding.EncodeBase64(raw));

        Assert.True(step.Response.Transit);
    }

    [Fact]
    public void AuthMethodAndChapAInOneRequest()
    {
        var m = ChapMachine();

        var step = m.Send(L.Req(Sec, Op), L.Hello("AuthMethod=CHAP", "CHAP_A=7,5"));

        var keys = L.Keys(step);
        Assert.Equal("CHAP", keys["AuthMethod"]);
        Assert.Equal("5", keys["CHAP_A"]); // first of the initiator's list we support
        Assert.True(keys.ContainsKey("CHAP_C"));
    }

    [Fact]
    public void WrongSecret_AuthenticationFailure()
    {
        var m = ChapMachine();
        var (id, challenge) = StartChap(m);

        var step = m.Send(L.Req(Sec, Op), "CHAP_N=alice", "CHAP_R=" + L.ChapResponse(id, "wrong-secret-1", challenge));

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
        Assert.Equal((ushort)0x0201, (ushort)step.Response.Status);
        Assert.DoesNotContain("secret", m.FailureReason!, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void WrongUserName_AuthenticationFailure()
    {
        var m = ChapMachine();
        var (id, challenge) = StartChap(m);

        var step = m.Send(L.Req(Sec, Op), "CHAP_N=mallory", "CHAP_R=" + L.ChapResponse(id, "secret-123456", challenge));

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Theory]
    [InlineData("CHAP_N=alice")]
    [InlineData("CHAP_R=0x00112233445566778899aabbccddeeff")]
    public void MissingNameOrResponse_AuthenticationFailure(string only)
    {
        var m = ChapMachine();
        StartChap(m);

        var step = m.Send(L.Req(Sec, Op), only);

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void EmptyRequestInsteadOfResponse_AuthenticationFailure()
    {
        var m = ChapMachine();
        StartChap(m);

        Assert.Equal(LoginStatus.AuthenticationFailure, m.Send(L.Req(Sec, Op)).Response.Status);
    }

    [Fact]
    public void MalformedResponse_AuthenticationFailure()
    {
        var m = ChapMachine();
        StartChap(m);

        var step = m.Send(L.Req(Sec, Op), "CHAP_N=alice", "CHAP_R=not-binary");

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void ReplayedResponseFromPreviousLogin_Fails()
    {
        var first = ChapMachine();
        var (id1, challenge1) = StartChap(first);
        var recorded = L.ChapResponse(id1, "secret-123456", challenge1);
        Assert.True(first.Send(L.Req(Sec, Op), "CHAP_N=alice", "CHAP_R=" + recorded).Response.Transit);

        // An eavesdropper replays the recorded response on a new login: the challenge is fresh, so it fails.
        var second = ChapMachine();
        var (_, challenge2) = StartChap(second);
        Assert.NotEqual(challenge1, challenge2);

        var step = second.Send(L.Req(Sec, Op), "CHAP_N=alice", "CHAP_R=" + recorded);

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void Mutual_TargetAnswersWithItsOwnCredentials()
    {
        var m = ChapMachine(mutual: true);
        var (id, challenge) = StartChap(m);
        const string myChallenge = "0x0f0e0d0c0b0a09080706050403020100";

        var step = m.Send(
            L.Req(Sec, Op),
            "CHAP_N=alice", "CHAP_R=" + L.ChapResponse(id, "secret-123456", challenge), "CHAP_I=42", "CHAP_C=" + myChallenge);

        Assert.True(step.Response.Transit);
        var keys = L.Keys(step);
        Assert.Equal("target-bob", keys["CHAP_N"]);
        Assert.Equal(L.ChapResponse("42", "target-secret1", myChallenge), keys["CHAP_R"]);
        Assert.True(m.Finish().EntersFullFeaturePhase);
        Assert.True(m.Result.MutualAuthentication);
    }

    [Fact]
    public void Mutual_InitiatorVerifyingWithWrongSecret_DoesNotMatch()
    {
        var m = ChapMachine(mutual: true);
        var (id, challenge) = StartChap(m);
        const string myChallenge = "0x0f0e0d0c0b0a09080706050403020100";

        var keys = L.Keys(m.Send(
            L.Req(Sec, Op),
            "CHAP_N=alice", "CHAP_R=" + L.ChapResponse(id, "secret-123456", challenge), "CHAP_I=42", "CHAP_C=" + myChallenge));

        // The target proves knowledge of ITS secret, not the initiator's (RFC 7143 §12.1.3 forbids sharing them).
        Assert.NotEqual(L.ChapResponse("42", "secret-123456", myChallenge), keys["CHAP_R"]);
    }

    [Fact]
    public void Mutual_RequestedButNotConfigured_AuthenticationFailure()
    {
        var m = ChapMachine(mutual: false);
        var (id, challenge) = StartChap(m);

        var step = m.Send(
            L.Req(Sec, Op),
            "CHAP_N=alice", "CHAP_R=" + L.ChapResponse(id, "secret-123456", challenge), "CHAP_I=1", "CHAP_C=0x00112233445566778899aabbccddeeff");

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void Mutual_WrongInitiatorResponse_FailsBeforeTargetAnswers()
    {
        var m = ChapMachine(mutual: true);
        var (id, challenge) = StartChap(m);

        var step = m.Send(
            L.Req(Sec, Op),
            "CHAP_N=alice", "CHAP_R=" + L.ChapResponse(id, "nope-nope-nope", challenge), "CHAP_I=1", "CHAP_C=0x00112233445566778899aabbccddeeff");

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
        Assert.Empty(step.Text.ToArray()); // no CHAP_R of ours leaks to an unauthenticated initiator
    }

    [Fact]
    public void Mutual_ReflectedChallenge_IsRefused()
    {
        var m = ChapMachine(mutual: true);
        var (id, challenge) = StartChap(m);

        // Reflection attack: send our own challenge back hoping we compute the response for the attacker.
        var step = m.Send(
            L.Req(Sec, Op),
            "CHAP_N=alice", "CHAP_R=" + L.ChapResponse(id, "secret-123456", challenge), "CHAP_I=" + id, "CHAP_C=" + challenge);

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void Mutual_OnlyHalfOfTheChallenge_Fails()
    {
        var m = ChapMachine(mutual: true);
        var (id, challenge) = StartChap(m);

        var step = m.Send(L.Req(Sec, Op), "CHAP_N=alice", "CHAP_R=" + L.ChapResponse(id, "secret-123456", challenge), "CHAP_I=3");

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Theory]
    [InlineData("7")]
    [InlineData("6,7")]
    [InlineData("md5")]
    public void ChapAlgorithmOtherThanMd5_AuthenticationFailure(string algorithms)
    {
        var m = ChapMachine();
        m.Send(L.Req(Sec, Op), L.Hello("AuthMethod=CHAP"));

        var step = m.Send(L.Req(Sec), "CHAP_A=" + algorithms);

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void InitiatorOffersOnlyNone_WhenChapRequired_AuthenticationFailure()
    {
        var step = ChapMachine().Send(L.Req(Sec, Op), L.Hello("AuthMethod=None"));
        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void InitiatorSkipsSecurityStage_WhenChapRequired_AuthenticationFailure()
    {
        var step = ChapMachine().Send(L.Req(Op, LoginStage.FullFeaturePhase), L.Hello());
        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void InitiatorLeavesSecurityWithoutAuthMethod_WhenChapRequired_AuthenticationFailure()
    {
        var step = ChapMachine().Send(L.Req(Sec, Op), L.Hello());
        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void ChapKeysInOperationalStage_AreRejected()
    {
        var m = L.InOperationalStage();
        var step = m.Send(L.Req(Op), "CHAP_A=5");
        Assert.Equal("Reject", L.Keys(step)["CHAP_A"]);
    }

    [Fact]
    public void NoChapConfigured_OfferChapNone_PicksNone()
    {
        var step = L.Machine().Send(L.Req(Sec, Op), L.Hello("AuthMethod=CHAP,None"));
        Assert.Equal("None", L.Keys(step)["AuthMethod"]);
        Assert.True(step.Response.Transit);
    }

    [Fact]
    public void DiscoveryChap_IsEnforced()
    {
        var resolver = new FakeResolver { DiscoveryChap = L.Chap() };
        var m = L.Machine(resolver);

        var step = m.Send(L.Req(Sec, Op), $"InitiatorName={L.Initiator}", "SessionType=Discovery", "AuthMethod=None");

        Assert.Equal(LoginStatus.AuthenticationFailure, step.Response.Status);
    }

    [Fact]
    public void ChallengesDifferBetweenLogins()
    {
        var challenges = Enumerable.Range(0, 5).Select(_ => StartChap(ChapMachine()).Challenge).ToHashSet();
        Assert.Equal(5, challenges.Count);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("this-secret-is-too-long")]
    public void Credentials_SecretLengthValidated_WithoutLeakingIt(string secret)
    {
        var e = Assert.Throws<ArgumentException>(() => new ChapCredentials("alice", secret));
        Assert.Contains("12 to 16 bytes", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_MutualSecretMustDiffer() =>
        Assert.Throws<ArgumentException>(() => new ChapCredentials("alice", "secret-123456", "bob", "secret-123456"));

    [Fact]
    public void Credentials_ToStringAndTargetInfoNeverShowSecrets()
    {
        var chap = L.Chap(mutual: true);

        Assert.DoesNotContain("secret-123456", chap.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("target-secret1", chap.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("secret-123456", L.Target(chap).ToString(), StringComparison.Ordinal);
    }
}

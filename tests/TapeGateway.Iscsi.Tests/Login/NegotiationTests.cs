using TapeGateway.Iscsi.Login;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Tests.Login;

public class NegotiationTests
{
    private static Dictionary<string, string> Answer(params string[] pairs)
    {
        var m = L.InOperationalStage();
        var step = m.Send(L.Req(LoginStage.LoginOperationalNegotiation), pairs);
        Assert.Equal(LoginStatus.Success, step.Response.Status);
        return L.Keys(step);
    }

    [Theory]
    [InlineData("MaxBurstLength=16776192", "1048576")] // offer above our limit → ours
    [InlineData("MaxBurstLength=65536", "65536")] // offer below → theirs
    [InlineData("MaxOutstandingR2T=8", "1")]
    [InlineData("ErrorRecoveryLevel=2", "0")] // ERL 0 only
    [InlineData("MaxConnections=8", "1")]
    [InlineData("DefaultTime2Retain=0", "0")]
    public void Min_TakesTheSmaller(string offer, string expected) =>
        Assert.Equal(expected, Answer(offer)[offer.Split('=')[0]]);

    [Theory]
    [InlineData("DefaultTime2Wait=0", "2")]
    [InlineData("DefaultTime2Wait=10", "10")]
    public void Max_TakesTheLarger(string offer, string expected) =>
        Assert.Equal(expected, Answer(offer)["DefaultTime2Wait"]);

    [Theory]
    [InlineData("InitialR2T=No", "No")] // we vote No: the initiator's vote decides
    [InlineData("InitialR2T=Yes", "Yes")]
    [InlineData("DataPDUInOrder=No", "Yes")] // we vote Yes: always Yes
    [InlineData("DataSequenceInOrder=No", "Yes")]
    public void Or_IsYesIfEitherSaysYes(string offer, string expected) =>
        Assert.Equal(expected, Answer(offer)[offer.Split('=')[0]]);

    [Fact]
    public void And_IsYesOnlyIfBothSayYes()
    {
        Assert.Equal("Yes", Answer("ImmediateData=Yes")["ImmediateData"]);
        Assert.Equal("No", Answer("ImmediateData=No")["ImmediateData"]);
        Assert.Equal("No", Answer("RDMAExtensions=Yes")["RDMAExtensions"]); // TCP-only target (RFC 7145)

        var m = L.InOperationalStage(new LoginNegotiationOptions { ImmediateData = false });
        var keys = L.Keys(m.Send(L.Req(LoginStage.LoginOperationalNegotiation), "ImmediateData=Yes"));
        Assert.Equal("No", keys["ImmediateData"]);
    }

    [Theory]
    [InlineData("CRC32C,None", "CRC32C")]
    [InlineData("None,CRC32C", "None")] // the initiator's order decides (RFC 7143 §6.2.1)
    [InlineData("MD5,CRC32C", "CRC32C")]
    [InlineData("MD5", "Reject")]
    [InlineData("CRC32C,,None", "Reject")]
    public void List_FirstOfInitiatorsListThatWeSupport(string offer, string expected) =>
        Assert.Equal(expected, Answer("HeaderDigest=" + offer)["HeaderDigest"]);

    [Fact]
    public void List_TaskReporting_OnlyRfc3720() =>
        Assert.Equal("RFC3720", Answer("TaskReporting=ResponseFence,FastAbort,RFC3720")["TaskReporting"]);

    [Fact]
    public void Declarative_MaxRecvDataSegmentLength_IsPerDirection()
    {
        var m = L.InOperationalStage();

        var step = m.Finish("MaxRecvDataSegmentLength=65536", "HeaderDigest=CRC32C", "DataDigest=None");

        var keys = L.Keys(step);
        Assert.Equal("262144", keys["MaxRecvDataSegmentLength"]); // ours, declared not echoed (RFC 7143 §13.12)
        Assert.True(step.EntersFullFeaturePhase);
        var connection = m.Result.Connection;
        Assert.Equal(65536, connection.MaxSendDataSegmentLength); // what we may send = what the initiator receives
        Assert.Equal(262144, connection.MaxRecvDataSegmentLength);
        Assert.Equal(DigestType.Crc32C, connection.HeaderDigest);
        Assert.Equal(DigestType.None, connection.DataDigest);
    }

    [Fact]
    public void Declarative_MaxRecvDataSegmentLength_DefaultsTo8192AndIsDeclaredOnlyOnce()
    {
        var m = L.InOperationalStage();
        var first = L.Keys(m.Send(L.Req(LoginStage.LoginOperationalNegotiation), "InitialR2T=No"));
        var last = L.Keys(m.Finish("ImmediateData=Yes"));

        Assert.Equal("262144", first["MaxRecvDataSegmentLength"]);
        Assert.False(last.ContainsKey("MaxRecvDataSegmentLength"));
        Assert.Equal(8192, m.Result.Connection.MaxSendDataSegmentLength);
    }

    [Fact]
    public void Irrelevant_FirstBurstLength_WhenInitialR2TYesAndImmediateDataNo()
    {
        var keys = Answer("FirstBurstLength=65536", "InitialR2T=Yes", "ImmediateData=No");

        Assert.Equal("Irrelevant", keys["FirstBurstLength"]);
    }

    [Fact]
    public void FirstBurstLength_NegotiatedWhenRelevant() =>
        Assert.Equal("65536", Answer("InitialR2T=No", "ImmediateData=Yes", "FirstBurstLength=262144")["FirstBurstLength"]);

    [Fact]
    public void Irrelevant_SessionKeysInDiscoverySession()
    {
        var m = L.Machine();
        var step = m.Send(
            L.Req(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase),
            $"InitiatorName={L.Initiator}", "SessionType=Discovery", "MaxBurstLength=65536", "ImmediateData=Yes", "HeaderDigest=None");

        var keys = L.Keys(step);
        Assert.Equal("Irrelevant", keys["MaxBurstLength"]);
        Assert.Equal("Irrelevant", keys["ImmediateData"]);
        Assert.Equal("None", keys["HeaderDigest"]);
        Assert.Equal(SessionType.Discovery, m.Result.SessionType);
    }

    [Theory]
    [InlineData("MaxBurstLength=100")] // below 512
    [InlineData("MaxBurstLength=16777216")] // above 2^24-1
    [InlineData("ErrorRecoveryLevel=3")]
    [InlineData("DefaultTime2Wait=3601")]
    [InlineData("MaxOutstandingR2T=0")]
    [InlineData("MaxBurstLength=lots")]
    [InlineData("InitialR2T=Maybe")]
    [InlineData("ImmediateData=yes")] // booleans are case-sensitive
    public void Reject_OutOfRangeOrUnparsable(string offer)
    {
        var key = offer.Split('=')[0];
        Assert.Equal("Reject", Answer(offer)[key]);
    }

    [Fact]
    public void Reject_DefaultRemainsInForce()
    {
        var m = L.InOperationalStage();
        m.Finish("MaxBurstLength=100");

        Assert.Equal(262144, m.Result.Session.MaxBurstLength);
    }

    [Theory]
    [InlineData("X-com.example.Feature=1")]
    [InlineData("X#org.example.Thing=Yes")]
    [InlineData("SomeFutureKey=7")]
    public void NotUnderstood_ForUnknownKeys(string offer) =>
        Assert.Equal("NotUnderstood", Answer(offer)[offer.Split('=')[0]]);

    [Fact]
    public void ObsoleteMarkersAndIserKeys_AnsweredSensibly()
    {
        var keys = Answer("IFMarker=No", "OFMarker=Yes", "OFMarkInt=2048~8192", "MaxOutstandingUnexpectedPDUs=4", "InitiatorRecvDataSegmentLength=8192");

        Assert.Equal("No", keys["IFMarker"]);
        Assert.Equal("No", keys["OFMarker"]);
        Assert.Equal("Irrelevant", keys["OFMarkInt"]);
        Assert.Equal("Irrelevant", keys["MaxOutstandingUnexpectedPDUs"]);
        Assert.Equal("Irrelevant", keys["InitiatorRecvDataSegmentLength"]);
    }

    [Fact]
    public void TargetOnlyKeyFromInitiator_IsRejected() =>
        Assert.Equal("Reject", Answer("TargetAlias=impostor")["TargetAlias"]);

    [Fact]
    public void DeclarationsGetNoResponse()
    {
        var keys = Answer("InitiatorAlias=host1", "MaxRecvDataSegmentLength=131072");

        Assert.False(keys.ContainsKey("InitiatorAlias"));
        Assert.Equal("262144", keys["MaxRecvDataSegmentLength"]); // our own declaration, not an answer
    }

    [Fact]
    public void DuplicateKey_InSameRequest_IsLoginReject()
    {
        var m = L.InOperationalStage();
        var step = m.Send(L.Req(LoginStage.LoginOperationalNegotiation), "MaxBurstLength=65536", "MaxBurstLength=65536");

        Assert.Equal(LoginStatus.InitiatorError, step.Response.Status);
        Assert.True(m.IsComplete);
        Assert.False(m.Succeeded);
    }

    [Fact]
    public void DuplicateKey_AcrossRequests_IsLoginReject()
    {
        var m = L.InOperationalStage();
        m.Send(L.Req(LoginStage.LoginOperationalNegotiation), "ImmediateData=Yes");

        var step = m.Finish("ImmediateData=No");

        Assert.Equal(LoginStatus.InitiatorError, step.Response.Status);
    }

    [Fact]
    public void RestatedIdentityKeys_WithTheSameValues_AreAccepted_AsLibiscsiSendsThem()
    {
        // libiscsi offers CHAP, gets AuthMethod=None, then repeats its declarations in the first operational PDU.
        var m = L.InOperationalStage();
        var step = m.Finish(L.Hello("MaxRecvDataSegmentLength=262144"));

        Assert.Equal(LoginStatus.Success, step.Response.Status);
        Assert.True(m.Succeeded);
        Assert.False(L.Keys(step).ContainsKey("InitiatorName"));
    }

    [Fact]
    public void RestatedTargetName_WithAnotherValue_IsLoginReject()
    {
        var m = L.InOperationalStage();
        var step = m.Finish("TargetName=iqn.2026-11.org.example:other");

        Assert.Equal(LoginStatus.InitiatorError, step.Response.Status);
    }

    [Fact]
    public void IdentityKeyAfterFirstRequest_IsLoginReject()
    {
        var m = L.InOperationalStage();
        var step = m.Send(L.Req(LoginStage.LoginOperationalNegotiation), "SessionType=Discovery");

        Assert.Equal(LoginStatus.InitiatorError, step.Response.Status);
    }

    [Fact]
    public void OpenIscsiStyleLogin_ProducesNegotiatedParameters()
    {
        var m = L.InOperationalStage();

        var step = m.Finish(
            "HeaderDigest=None", "DataDigest=None", "DefaultTime2Wait=2", "DefaultTime2Retain=0", "IFMarker=No", "OFMarker=No",
            "ErrorRecoveryLevel=0", "InitialR2T=No", "ImmediateData=Yes", "MaxBurstLength=16776192", "FirstBurstLength=262144",
            "MaxOutstandingR2T=1", "MaxConnections=1", "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes", "MaxRecvDataSegmentLength=262144");

        Assert.True(step.EntersFullFeaturePhase);
        var s = m.Result.Session;
        Assert.False(s.InitialR2T);
        Assert.True(s.ImmediateData);
        Assert.Equal(1048576, s.MaxBurstLength);
        Assert.Equal(65536, s.FirstBurstLength);
        Assert.Equal(1, s.MaxOutstandingR2T);
        Assert.Equal(0, s.ErrorRecoveryLevel);
        Assert.Equal(0, s.DefaultTime2Retain);
        Assert.Equal("No", m.Result.NegotiatedKeys["InitialR2T"]);
    }

    [Fact]
    public void Offer_WhenRfcDefaultExceedsOurLimit_TargetOffersAndWaits()
    {
        var options = new LoginNegotiationOptions { MaxBurstLength = 131072, FirstBurstLength = 32768 };
        var m = L.InOperationalStage(options);

        // The initiator never mentions MaxBurstLength/FirstBurstLength: their defaults (262144/65536) exceed ours.
        var step = m.Finish("InitialR2T=No");

        Assert.False(step.Response.Transit); // our offers need answers first (RFC 7143 §6.2)
        var keys = L.Keys(step);
        Assert.Equal("131072", keys["MaxBurstLength"]);
        Assert.Equal("32768", keys["FirstBurstLength"]);

        var done = m.Finish("MaxBurstLength=131072", "FirstBurstLength=16384");
        Assert.True(done.EntersFullFeaturePhase);
        Assert.Equal(131072, m.Result.Session.MaxBurstLength);
        Assert.Equal(16384, m.Result.Session.FirstBurstLength);
    }

    [Fact]
    public void Offer_AnswerAboveOurOffer_IsLoginReject()
    {
        var m = L.InOperationalStage(new LoginNegotiationOptions { MaxBurstLength = 131072, FirstBurstLength = 32768 });
        m.Finish();

        var step = m.Finish("MaxBurstLength=262144", "FirstBurstLength=32768");

        Assert.Equal(LoginStatus.InitiatorError, step.Response.Status);
    }

    [Fact]
    public void FirstBurstLength_NeverExceedsMaxBurstLength()
    {
        var m = L.InOperationalStage(new LoginNegotiationOptions { FirstBurstLength = 262144 });
        m.Finish("InitialR2T=No", "MaxBurstLength=65536", "FirstBurstLength=262144");

        Assert.Equal(65536, m.Result.Session.MaxBurstLength);
        Assert.Equal(65536, m.Result.Session.FirstBurstLength);
    }

    [Fact]
    public void Options_Validate_FirstBurstAboveMaxBurst()
    {
        var bad = new LoginNegotiationOptions { MaxBurstLength = 65536, FirstBurstLength = 131072 };
        Assert.Throws<ArgumentException>(() => L.Machine(options: bad));
    }

    [Fact]
    public void Table_CoversEveryRfc7143OperationalKey()
    {
        string[] required =
        [
            "HeaderDigest", "DataDigest", "MaxConnections", "SendTargets", "TargetName", "InitiatorName", "TargetAlias",
            "InitiatorAlias", "TargetAddress", "TargetPortalGroupTag", "InitialR2T", "ImmediateData", "MaxRecvDataSegmentLength",
            "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait", "DefaultTime2Retain", "MaxOutstandingR2T", "DataPDUInOrder",
            "DataSequenceInOrder", "ErrorRecoveryLevel", "SessionType", "TaskReporting", "iSCSIProtocolLevel", "AuthMethod",
            "CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R", "RDMAExtensions",
        ];
        foreach (var name in required)
        {
            Assert.NotNull(LoginKeyTable.Find(name));
        }

        Assert.Null(LoginKeyTable.Find("headerdigest")); // key names are case-sensitive (RFC 7143 §6.1)
        Assert.Equal(ReconcileRule.Declarative, LoginKeyTable.Get("MaxRecvDataSegmentLength").Rule);
        Assert.Equal(LoginKeyScope.Connection, LoginKeyTable.Get("HeaderDigest").Scope);
    }
}

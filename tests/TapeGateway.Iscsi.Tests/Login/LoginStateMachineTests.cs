using TapeGateway.Iscsi.Login;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Tests.Login;

public class LoginStateMachineTests
{
    private static readonly LoginStage Sec = LoginStage.SecurityNegotiation;
    private static readonly LoginStage Op = LoginStage.LoginOperationalNegotiation;
    private static readonly LoginStage Ffp = LoginStage.FullFeaturePhase;

    [Fact]
    public void GoodPath_SecurityNone_Operational_FullFeature()
    {
        var binder = new FakeBinder();
        var m = L.Machine(binder: binder);

        var first = m.Send(L.Req(Sec, Op), L.Hello("AuthMethod=None", "InitiatorAlias=host1"));
        Assert.Equal(LoginStatus.Success, first.Response.Status);
        Assert.True(first.Response.Transit);
        Assert.Equal(Sec, first.Response.CurrentStage);
        Assert.Equal(Op, first.Response.NextStage);
        Assert.Equal(0, first.Response.VersionActive);
        Assert.Equal(0x11u, first.Response.InitiatorTaskTag);
        Assert.Equal(L.Isid, first.Response.Isid);
        var keys = L.Keys(first);
        Assert.Equal("None", keys["AuthMethod"]);
        Assert.Equal("7", keys["TargetPortalGroupTag"]); // RFC 7143 §13.9: first response of a Normal session
        Assert.Equal("tape-one", keys["TargetAlias"]);
        Assert.Equal(Op, m.CurrentStage);
        Assert.False(m.IsComplete);

        var last = m.Finish("MaxRecvDataSegmentLength=262144");
        Assert.True(last.EntersFullFeaturePhase);
        Assert.Equal(Op, last.Response.CurrentStage);
        Assert.Equal(Ffp, last.Response.NextStage);
        Assert.Equal(0x1234, last.Response.Tsih); // assigned by the binder
        Assert.True(m.IsComplete);
        Assert.True(m.Succeeded);

        var r = m.Result;
        Assert.Equal(L.Initiator, r.InitiatorName);
        Assert.Equal("host1", r.InitiatorAlias);
        Assert.Equal(L.TargetIqn, r.TargetName);
        Assert.Equal(SessionType.Normal, r.SessionType);
        Assert.Equal(0x1234, r.Tsih);
        Assert.True(r.IsNewSession);
        Assert.Equal(5u, r.InitialCmdSn);
        Assert.Equal((ushort)7, r.PortalGroupTag);
        Assert.Null(r.AuthenticatedUser);
        Assert.Single(binder.Admissions);
        Assert.Equal(L.TargetIqn, binder.Admissions[0].TargetName);
    }

    [Fact]
    public void SecurityStageSkipped_WhenNoAuthRequired()
    {
        var m = L.Machine();

        var step = m.Send(L.Req(Op, Ffp), L.Hello("MaxBurstLength=65536"));

        Assert.True(step.EntersFullFeaturePhase);
        Assert.Equal(65536, m.Result.Session.MaxBurstLength);
        Assert.Equal("262144", L.Keys(step)["MaxRecvDataSegmentLength"]);
    }

    [Fact]
    public void SecurityStraightToFullFeature_DeclaresMaxRecvDataSegmentLength()
    {
        var m = L.Machine();

        var step = m.Send(L.Req(Sec, Ffp), L.Hello("AuthMethod=None"));

        Assert.True(step.EntersFullFeaturePhase);
        Assert.Equal(Sec, step.Response.CurrentStage);
        Assert.Equal("262144", L.Keys(step)["MaxRecvDataSegmentLength"]);
    }

    [Fact]
    public void TargetDoesNotTransitUnlessInitiatorAsks()
    {
        var m = L.Machine();

        var step = m.Send(L.Req(Sec), L.Hello("AuthMethod=None"));

        Assert.False(step.Response.Transit); // RFC 7143 §6.3: T=1 only in answer to T=1
        Assert.Equal(0, (int)step.Response.NextStage);
        Assert.Equal(Sec, m.CurrentStage);

        var next = m.Send(L.Req(Sec, Op));
        Assert.True(next.Response.Transit);
        Assert.Equal(Op, m.CurrentStage);
    }

    [Fact]
    public void IllegalTransition_NextStageReserved()
    {
        var step = L.Machine().Process(L.RawReq(csg: 0, nsg: 2, transit: true), L.Text(L.Hello()));
        Assert.Equal(LoginStatus.InvalidDuringLogin, step.Response.Status);
        Assert.True(step.IsReject);
        Assert.Empty(step.Text.ToArray());
    }

    [Fact]
    public void IllegalTransition_Backwards()
    {
        var m = L.Machine();
        m.Send(L.Req(Sec, Op), L.Hello("AuthMethod=None"));

        var step = m.Process(L.RawReq(csg: 1, nsg: 0, transit: true), []);

        Assert.Equal(LoginStatus.InvalidDuringLogin, step.Response.Status);
    }

    [Fact]
    public void IllegalTransition_OperationalToOperational()
    {
        var step = L.Machine().Process(L.RawReq(csg: 1, nsg: 1, transit: true), L.Text(L.Hello()));
        Assert.Equal(LoginStatus.InvalidDuringLogin, step.Response.Status);
    }

    [Fact]
    public void IllegalTransition_FirstRequestInFullFeaturePhase()
    {
        var step = L.Machine().Process(L.RawReq(csg: 3, nsg: 0, transit: false), L.Text(L.Hello()));
        Assert.Equal(LoginStatus.InvalidDuringLogin, step.Response.Status);
    }

    [Fact]
    public void IllegalTransition_CsgChangedWithoutTargetAgreement()
    {
        var m = L.Machine();
        m.Send(L.Req(Sec), L.Hello("AuthMethod=None")); // answered T=0: still in security

        var step = m.Send(L.Req(Op, Ffp));

        Assert.Equal(LoginStatus.InvalidDuringLogin, step.Response.Status);
    }

    [Fact]
    public void TransitAndContinueTogether_IsInvalid()
    {
        var step = L.Machine().Process(L.RawReq(csg: 0, nsg: 1, transit: true, cont: true), L.Text(L.Hello()));
        Assert.Equal(LoginStatus.InvalidDuringLogin, step.Response.Status);
    }

    [Fact]
    public void ContinueBit_CollectsTextAcrossRequests()
    {
        var m = L.Machine();
        var text = L.Text(L.Hello("AuthMethod=None"));

        var partial = m.Process(L.Req(Sec, cont: true), text.AsSpan(0, 20));
        Assert.Equal(LoginStatus.Success, partial.Response.Status);
        Assert.False(partial.Response.Transit);
        Assert.False(partial.Response.Continue);
        Assert.Equal(0, partial.Text.Length); // empty answer while collecting

        var partial2 = m.Process(L.Req(Sec, cont: true), text.AsSpan(20, 30));
        Assert.Equal(0, partial2.Text.Length);

        var complete = m.Process(L.Req(Sec, Op), text.AsSpan(50));
        Assert.True(complete.Response.Transit);
        Assert.Equal("None", L.Keys(complete)["AuthMethod"]);
    }

    [Fact]
    public void UnsupportedVersion()
    {
        var step = L.Machine().Send(L.Req(Sec, Op, versionMin: 1), L.Hello());
        Assert.Equal(LoginStatus.UnsupportedVersion, step.Response.Status);
        Assert.Equal(2, step.Response.StatusClass);
        Assert.Equal(5, step.Response.StatusDetail);
    }

    [Fact]
    public void IsidChangedDuringLogin_IsInvalid()
    {
        var m = L.Machine();
        m.Send(L.Req(Sec), L.Hello("AuthMethod=None"));

        var step = m.Send(L.Req(Sec, Op, isid: L.Isid + 1));

        Assert.Equal(LoginStatus.InvalidDuringLogin, step.Response.Status);
    }

    [Fact]
    public void MalformedText_IsInitiatorError()
    {
        var step = L.Machine().Process(L.Req(Sec, Op), L.Text("InitiatorName=iqn.x", "garbage"));
        Assert.Equal(LoginStatus.InitiatorError, step.Response.Status);
    }

    [Fact]
    public void ProcessAfterCompletion_Throws()
    {
        var m = L.Machine();
        m.Send(L.Req(Op, Ffp), L.Hello());

        Assert.Throws<InvalidOperationException>(() => m.Send(L.Req(Op, Ffp)));
    }

    [Fact]
    public void ResultBeforeCompletion_Throws() =>
        Assert.Throws<InvalidOperationException>(() => L.Machine().Result);

    [Fact]
    public void MissingInitiatorName()
    {
        var step = L.Machine().Send(L.Req(Sec, Op), $"TargetName={L.TargetIqn}", "AuthMethod=None");
        Assert.Equal(LoginStatus.MissingParameter, step.Response.Status);
    }

    [Fact]
    public void NormalSessionWithoutTargetName_IsMissingParameter()
    {
        var step = L.Machine().Send(L.Req(Sec, Op), $"InitiatorName={L.Initiator}", "AuthMethod=None");
        Assert.Equal(LoginStatus.MissingParameter, step.Response.Status);
    }

    [Fact]
    public void DiscoverySessionWithoutTargetName_Succeeds()
    {
        var m = L.Machine();

        var first = m.Send(L.Req(Sec, Op), $"InitiatorName={L.Initiator}", "SessionType=Discovery", "AuthMethod=None");
        Assert.False(L.Keys(first).ContainsKey("TargetPortalGroupTag"));
        var last = m.Finish("HeaderDigest=None", "MaxRecvDataSegmentLength=32768");

        Assert.True(last.EntersFullFeaturePhase);
        Assert.Equal(SessionType.Discovery, m.Result.SessionType);
        Assert.Null(m.Result.TargetName);
        Assert.Null(m.Result.Target);
        Assert.Equal(32768, m.Result.Connection.MaxSendDataSegmentLength);
    }

    [Fact]
    public void UnknownTarget_NotFound()
    {
        var step = L.Machine().Send(L.Req(Sec, Op), $"InitiatorName={L.Initiator}", "TargetName=iqn.2025-01.net.example:nope");
        Assert.Equal(LoginStatus.NotFound, step.Response.Status);
        Assert.Equal((ushort)0x0203, (ushort)step.Response.Status);
    }

    [Fact]
    public void TargetNameIsMatchedCaseInsensitively()
    {
        var step = L.Machine().Send(L.Req(Op, Ffp), $"InitiatorName={L.Initiator}", "TargetName=" + L.TargetIqn.ToUpperInvariant());
        Assert.True(step.EntersFullFeaturePhase);
    }

    [Fact]
    public void RemovedTarget()
    {
        var resolver = new FakeResolver().With(L.Target() with { Removed = true });
        var step = L.Machine(resolver).Send(L.Req(Sec, Op), L.Hello());
        Assert.Equal(LoginStatus.TargetRemoved, step.Response.Status);
    }

    [Fact]
    public void InitiatorNotInAllowList_AuthorizationFailure()
    {
        var resolver = new FakeResolver().With(L.Target() with { AllowedInitiators = ["iqn.1991-05.com.microsoft:other"] });

        var step = L.Machine(resolver).Send(L.Req(Sec, Op), L.Hello("AuthMethod=None"));

        Assert.Equal(LoginStatus.AuthorizationFailure, step.Response.Status);
        Assert.Equal((ushort)0x0202, (ushort)step.Response.Status);
    }

    [Fact]
    public void InitiatorInAllowList_IsAdmitted()
    {
        var resolver = new FakeResolver().With(L.Target() with { AllowedInitiators = [L.Initiator.ToUpperInvariant()] });

        var step = L.Machine(resolver).Send(L.Req(Op, Ffp), L.Hello());

        Assert.True(step.EntersFullFeaturePhase);
    }

    [Fact]
    public void UnknownSessionType()
    {
        var step = L.Machine().Send(L.Req(Sec, Op), $"InitiatorName={L.Initiator}", "SessionType=Bulk");
        Assert.Equal(LoginStatus.SessionTypeNotSupported, step.Response.Status);
    }

    [Fact]
    public void NonZeroTsihWithoutBinder_SessionDoesNotExist()
    {
        var step = L.Machine().Send(L.Req(Sec, Op, tsih: 9), L.Hello());
        Assert.Equal(LoginStatus.SessionDoesNotExist, step.Response.Status);
    }

    [Fact]
    public void BinderCanRefuse_TooManyConnections()
    {
        var binder = new FakeBinder { AdmitStatus = LoginStatus.TooManyConnections };

        var step = L.Machine(binder: binder).Send(L.Req(Sec, Op, tsih: 9), L.Hello());

        Assert.Equal(LoginStatus.TooManyConnections, step.Response.Status);
        Assert.Equal((ushort)9, binder.Admissions[0].Tsih);
    }

    [Fact]
    public void NonLeadingConnection_SessionWideKeysIrrelevant_TsihKept()
    {
        var binder = new FakeBinder();
        var m = L.Machine(binder: binder);

        var step = m.Send(L.Req(Op, Ffp, tsih: 9, cid: 2), L.Hello("MaxBurstLength=65536", "HeaderDigest=CRC32C"));

        var keys = L.Keys(step);
        Assert.Equal("Irrelevant", keys["MaxBurstLength"]);
        Assert.Equal("CRC32C", keys["HeaderDigest"]);
        Assert.Equal((ushort)9, step.Response.Tsih);
        Assert.False(m.Result.IsNewSession);
        Assert.Equal((ushort)2, m.Result.Cid);
    }

    [Fact]
    public void SendTargetsDuringLogin_IsRejected()
    {
        var m = L.InOperationalStage();
        var step = m.Send(L.Req(Op), "SendTargets=All");
        Assert.Equal("Reject", L.Keys(step)["SendTargets"]);
    }

    [Fact]
    public void RequestFieldsParse_AndResponseBhsWrite()
    {
        byte[] bhs = new byte[48];
        bhs[0] = 0x43;
        bhs[1] = 0x87; // T=1, CSG=1, NSG=3
        bhs[3] = 0;
        bhs[8] = 0x02;
        bhs[9] = 0x3d;
        bhs[13] = 0x01;
        bhs[15] = 0x05; // TSIH 5
        bhs[19] = 0x11; // ITT
        bhs[21] = 0x02; // CID 2
        bhs[27] = 0x07; // CmdSN 7

        var req = LoginRequestFields.Parse(bhs);

        Assert.True(req.Transit);
        Assert.False(req.Continue);
        Assert.Equal(1, req.CurrentStage);
        Assert.Equal(3, req.NextStage);
        Assert.Equal(0x023d00000001UL, req.Isid);
        Assert.Equal((ushort)5, req.Tsih);
        Assert.Equal(0x11u, req.InitiatorTaskTag);
        Assert.Equal((ushort)2, req.Cid);
        Assert.Equal(7u, req.CmdSn);

        var response = new LoginResponseFields
        {
            Transit = true,
            CurrentStage = Op,
            NextStage = Ffp,
            Isid = req.Isid,
            Tsih = 0x1234,
            InitiatorTaskTag = req.InitiatorTaskTag,
            Status = LoginStatus.AuthenticationFailure,
        };
        var outBhs = new byte[48];
        response.WriteBhs(outBhs, dataSegmentLength: 0x010203, statSn: 1, expCmdSn: 7, maxCmdSn: 7);

        Assert.Equal(0x23, outBhs[0]);
        Assert.Equal(0x87, outBhs[1]);
        Assert.Equal([0x01, 0x02, 0x03], outBhs[5..8]);
        Assert.Equal(bhs[8..14], outBhs[8..14]);
        Assert.Equal([0x12, 0x34], outBhs[14..16]);
        Assert.Equal(0x02, outBhs[36]);
        Assert.Equal(0x01, outBhs[37]);
    }
}

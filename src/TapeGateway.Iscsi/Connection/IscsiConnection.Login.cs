using System.Buffers;
using Microsoft.Extensions.Logging;
using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Login;
using TapeGateway.Iscsi.Pdu;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// Login phase wiring (RFC 7143 §6): the <see cref="LoginStateMachine"/> decides, this file sends its responses,
/// and — as the <see cref="ILoginSessionBinder"/> — admits TSIHs and creates, reinstates or joins sessions.
/// </summary>
public sealed partial class IscsiConnection : ILoginSessionBinder
{
    private LoginStateMachine? _login;
    private IscsiSession? _reinstating;

    private async ValueTask HandleLoginAsync(ReadOnlySequence<byte> data)
    {
        var request = LoginRequestFields.Parse(_bhs);
        _login ??= new LoginStateMachine(
            new RegistryLoginTargetResolver(_portal.Targets, _portal.Options),
            LoginNegotiationOptions.FromIscsiOptions(_portal.Options),
            this);

        var text = data.IsSingleSegment ? data.FirstSpan : data.ToArray();
        var step = _login.Process(request, text);
        var window = (uint)_portal.Options.CommandWindow;
        var expCmdSn = _session?.ExpCmdSn ?? request.CmdSn;

        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            Span<byte> bhs = stackalloc byte[Bhs.Length];
            step.Response.WriteBhs(bhs, step.Text.Length, _statSn, expCmdSn, unchecked(expCmdSn + window - 1));
            _statSn = unchecked(_statSn + 1);
            // Digests are negotiated here but only apply from the first full feature phase PDU (RFC 7143 §13.1).
            PduWriter.Write(_output, bhs, step.Text.Span, headerDigest: false, dataDigest: false);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ReleaseWriteLock();
        }

        if (step.IsReject)
        {
            LogLoginRejected(_logger, RemoteEndPoint, step.Response.Status, step.FailureReason ?? "");
            _phase = ConnectionPhase.LoggedOut;
            return;
        }

        if (step.EntersFullFeaturePhase)
        {
            var result = _login.Result;
            _headerDigest = result.Connection.HeaderDigest == DigestType.Crc32C;
            _dataDigest = result.Connection.DataDigest == DigestType.Crc32C;
            _maxRecvDataSegment = result.Connection.MaxRecvDataSegmentLength;
            _maxSendDataSegment = result.Connection.MaxSendDataSegmentLength;
            Cid = result.Cid;
            _phase = ConnectionPhase.FullFeature;
            _login = null;
            LogLoggedIn(_logger, RemoteEndPoint, _session!.ToString(), _headerDigest, _dataDigest);
        }
    }

    /// <summary>RFC 7143 §6.3.1: a login with TSIH ≠ 0 must name a live session of the same initiator port.</summary>
    LoginStatus ILoginSessionBinder.Admit(in LoginAdmission admission)
    {
        if (admission.Tsih == 0)
        {
            return LoginStatus.Success;
        }

        var existing = _portal.Sessions.Find(admission.Tsih);
        if (existing is null
            || existing.Isid != admission.Isid
            || !string.Equals(existing.InitiatorName, admission.InitiatorName, StringComparison.OrdinalIgnoreCase))
        {
            return LoginStatus.SessionDoesNotExist;
        }

        // MaxConnections=1: the only connection that may join is a reinstatement of the same CID (§6.3.4).
        if (existing.Connection is { } current && current.Cid != admission.Cid)
        {
            return LoginStatus.TooManyConnections;
        }

        _reinstating = existing;
        return LoginStatus.Success;
    }

    LoginStatus ILoginSessionBinder.Bind(LoginResult result, out ushort tsih)
    {
        var target = result.Target?.Tag as IScsiTarget;
        if (result.SessionType == SessionType.Normal && target is null)
        {
            tsih = 0;
            return LoginStatus.NotFound;
        }

        if (_reinstating is { } joined)
        {
            // Connection reinstatement at ERL 0: the old connection's tasks end with it, the session (and its
            // I_T nexus, reservations and unit attentions) lives on with this connection.
            var old = joined.Connection;
            joined.Connection = this;
            old?.Abort();
            _session = joined;
            tsih = joined.Tsih;
            return LoginStatus.Success;
        }

        if (result.SessionType == SessionType.Normal
            && _portal.Sessions.FindForReinstatement(result.InitiatorName, result.Isid, target!.Name) is { } previous)
        {
            // Session reinstatement (RFC 7143 §6.3.5): same initiator port and target, TSIH 0 — the old session ends.
            LogReinstated(_logger, previous.ToString());
            previous.Connection?.Abort();
            if (previous.Connection is null && _portal.Sessions.Remove(previous) && previous.Nexus is { } lost)
            {
                target.NexusLost(lost);
            }
        }

        var p = result.Session;
        var settings = new SessionSettings
        {
            InitialR2T = p.InitialR2T,
            ImmediateData = p.ImmediateData,
            MaxBurstLength = p.MaxBurstLength,
            FirstBurstLength = p.FirstBurstLength,
            MaxOutstandingR2T = p.MaxOutstandingR2T,
            ErrorRecoveryLevel = p.ErrorRecoveryLevel,
            DefaultTime2Wait = p.DefaultTime2Wait,
            DefaultTime2Retain = p.DefaultTime2Retain,
        };

        tsih = _portal.Sessions.AllocateTsih();
        var session = new IscsiSession(
            tsih,
            result.Isid,
            result.InitiatorName,
            result.InitiatorAlias,
            result.SessionType,
            target,
            result.PortalGroupTag == 0 ? _portal.PortalGroupTag : result.PortalGroupTag,
            settings,
            result.InitialCmdSn,
            _portal.Options.CommandWindow)
        {
            Connection = this,
        };
        _portal.Sessions.Add(session);
        _session = session;
        if (session.Nexus is { } nexus)
        {
            target!.NexusCreated(nexus);
        }

        return LoginStatus.Success;
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "{Remote}: login rejected with {Status}: {Reason}")]
    private static partial void LogLoginRejected(ILogger logger, System.Net.EndPoint? remote, LoginStatus status, string reason);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "{Remote}: logged in: {Session} (header digest {HeaderDigest}, data digest {DataDigest})")]
    private static partial void LogLoggedIn(ILogger logger, System.Net.EndPoint? remote, string session, bool headerDigest, bool dataDigest);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "reinstating session {Session}")]
    private static partial void LogReinstated(ILogger logger, string session);
}

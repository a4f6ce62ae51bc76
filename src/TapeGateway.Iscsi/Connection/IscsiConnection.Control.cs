using System.Buffers;
using Microsoft.Extensions.Logging;
using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Pdu;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Connection;

public sealed partial class IscsiConnection
{
    /*
     * RFC 7143 §11.18 NOP-Out: 8 LUN; 16 ITT; 20 TTT; 24 CmdSN; 28 ExpStatSN; data = ping data.
     * ITT 0xffffffff marks an answer to our NOP-In (TTT echoed) or a keepalive that wants no reply.
     */
    private async ValueTask HandleNopOutAsync(ReadOnlySequence<byte> data)
    {
        var itt = Bhs.InitiatorTaskTag(_bhs);
        var ttt = Bhs.Word(_bhs, Bhs.Word20);
        var immediate = Bhs.IsImmediate(_bhs);
        if (itt == IscsiTask.ReservedTag)
        {
            if (!immediate)
            {
                // RFC 7143 §11.18.2: a NOP-Out that wants no answer must be immediate.
                await SendRejectAsync(RejectReason.ProtocolError).ConfigureAwait(false);
                return;
            }

            if (ttt != IscsiTask.ReservedTag && ttt == _pendingPingTtt)
            {
                _pendingPingTtt = IscsiTask.ReservedTag;
            }

            return;
        }

        if (ttt != IscsiTask.ReservedTag)
        {
            await SendRejectAsync(RejectReason.InvalidPduField).ConfigureAwait(false);
            return;
        }

        var check = _session!.Admit(Bhs.Word(_bhs, CmdSnOffset), immediate);
        if (check is CmdSnCheck.Duplicate or CmdSnCheck.OutOfWindow)
        {
            return;
        }

        var payload = data.Length == 0 ? [] : data.ToArray();
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            WriteNopIn(itt, IscsiTask.ReservedTag, payload, advanceStatSn: true);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ReleaseWriteLock();
        }
    }

    /*
     * RFC 7143 §11.14 Logout Request: 1 F|Reason; 16 ITT; 20 CID; 24 CmdSN.
     * §11.15 Logout Response: 2 Response; 16 ITT; 24 StatSN; 28 ExpCmdSN; 32 MaxCmdSN; 40 Time2Wait; 42 Time2Retain.
     */
    private async ValueTask HandleLogoutAsync()
    {
        var reason = _bhs[1] & 0x7F;
        var itt = Bhs.InitiatorTaskTag(_bhs);
        var cid = (ushort)(Bhs.Word(_bhs, Bhs.Word20) >> 16);
        var check = _session!.Admit(Bhs.Word(_bhs, CmdSnOffset), Bhs.IsImmediate(_bhs));
        if (check is CmdSnCheck.Duplicate or CmdSnCheck.OutOfWindow)
        {
            return;
        }

        byte response = reason switch
        {
            0 => 0, // close the session
            1 => cid == Cid ? (byte)0 : (byte)1, // close the connection; CID not found
            2 => 2, // remove the connection for recovery: needs ERL 2
            _ => 3,
        };

        if (response == 0)
        {
            // RFC 7143 §6.6: outstanding tasks end with the connection; no status for them follows the logout.
            await AbortAllTasksAsync().ConfigureAwait(false);
        }

        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            Span<byte> bhs = stackalloc byte[Bhs.Length];
            bhs.Clear();
            bhs[0] = (byte)IscsiOpcode.LogoutResponse;
            bhs[1] = Bhs.FinalBit;
            bhs[2] = response;
            Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, itt);
            StampSequenceNumbers(bhs, advanceStatSn: true);
            WritePdu(bhs, default);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ReleaseWriteLock();
        }

        if (response == 0)
        {
            _phase = ConnectionPhase.LoggedOut;
        }
    }

    /*
     * RFC 7143 §11.5 Task Management Function Request: 1 1|Function; 8 LUN; 16 ITT; 20 Referenced Task Tag;
     * 24 CmdSN; 28 ExpStatSN; 32 RefCmdSN; 36 ExpDataSN.
     * §11.6 Response: 2 Response; 16 ITT; 24 StatSN; 28 ExpCmdSN; 32 MaxCmdSN.
     */
    private async ValueTask HandleTaskManagementAsync(CancellationToken ct)
    {
        var session = _session!;
        var function = (TaskManagementFunction)(_bhs[1] & 0x7F);
        var itt = Bhs.InitiatorTaskTag(_bhs);
        var referenced = Bhs.Word(_bhs, Bhs.Word20);
        var refCmdSn = Bhs.Word(_bhs, Bhs.Word32);
        var check = session.Admit(Bhs.Word(_bhs, CmdSnOffset), Bhs.IsImmediate(_bhs));
        if (check is CmdSnCheck.Duplicate or CmdSnCheck.OutOfWindow)
        {
            return;
        }

        var lun = Lun.TryDecode(Bhs.Lun(_bhs), out var l) ? l : new Lun(Lun.MaxFlat);
        var target = session.Target;
        TaskManagementResponse response;
        if (session.Type != SessionType.Normal || target is null)
        {
            response = TaskManagementResponse.FunctionRejected;
        }
        else
        {
            response = await ExecuteTaskManagementAsync(function, lun, referenced, refCmdSn, target, session).ConfigureAwait(false);
        }

        LogTaskManagement(_logger, RemoteEndPoint, function, lun.Value, response);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            Span<byte> bhs = stackalloc byte[Bhs.Length];
            bhs.Clear();
            bhs[0] = (byte)IscsiOpcode.TaskManagementResponse;
            bhs[1] = Bhs.FinalBit;
            bhs[2] = (byte)response;
            Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, itt);
            StampSequenceNumbers(bhs, advanceStatSn: true);
            WritePdu(bhs, default);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ReleaseWriteLock();
        }

        if (function == TaskManagementFunction.TargetColdReset && response == TaskManagementResponse.FunctionComplete)
        {
            // SAM-5 §7.7 / RFC 7143 §11.5.1: a cold reset also ends every session of the target, including ours.
            foreach (var other in _portal.Sessions.SessionsOf(target!))
            {
                other.Connection?.Abort();
            }
        }
    }

    private async Task<TaskManagementResponse> ExecuteTaskManagementAsync(
        TaskManagementFunction function, Lun lun, uint referenced, uint refCmdSn, IScsiTarget target, IscsiSession session)
    {
        var nexus = session.Nexus!;
        switch (function)
        {
            case TaskManagementFunction.AbortTask:
                {
                    IscsiTask? victim;
                    lock (_taskLock)
                    {
                        _tasks.TryGetValue(referenced, out victim);
                    }

                    if (victim is null)
                    {
                        // RFC 7143 §11.5.1: a task never received (RefCmdSN at or beyond ExpCmdSN) counts as aborted;
                        // one that was received and has completed no longer exists.
                        return SerialNumber.LessThan(refCmdSn, session.ExpCmdSn)
                            ? TaskManagementResponse.TaskDoesNotExist
                            : TaskManagementResponse.FunctionComplete;
                    }

                    if (victim.Finished)
                    {
                        // Its status is already on the wire (or about to be): the initiator sees the command complete, so
                        // claiming an abort would contradict it.
                        return TaskManagementResponse.TaskDoesNotExist;
                    }

                    if (victim.Scsi.Lun != lun)
                    {
                        return TaskManagementResponse.TaskDoesNotExist;
                    }

                    await AbortTasksAsync(t => ReferenceEquals(t, victim)).ConfigureAwait(false);
                    return TaskManagementResponse.FunctionComplete;
                }

            case TaskManagementFunction.AbortTaskSet:
            case TaskManagementFunction.ClearTaskSet:
            case TaskManagementFunction.LogicalUnitReset:
                {
                    if (!target.HasLun(lun))
                    {
                        return TaskManagementResponse.LunDoesNotExist;
                    }

                    // ABORT TASK SET touches only this session's tasks; CLEAR TASK SET and LU RESET every session's.
                    var (what, sessionOnly) = function switch
                    {
                        TaskManagementFunction.AbortTaskSet => (TaskManagementEvent.AbortTaskSet, true),
                        TaskManagementFunction.ClearTaskSet => (TaskManagementEvent.ClearTaskSet, false),
                        _ => (TaskManagementEvent.LogicalUnitReset, false),
                    };
                    await (sessionOnly ? AbortTasksAsync(t => t.Scsi.Lun == lun) : AbortOnTargetAsync(target, t => t.Scsi.Lun == lun)).ConfigureAwait(false);
                    target.TaskManagement(what, lun, nexus);
                    return TaskManagementResponse.FunctionComplete;
                }

            case TaskManagementFunction.TargetWarmReset:
            case TaskManagementFunction.TargetColdReset:
                await AbortOnTargetAsync(target, static _ => true).ConfigureAwait(false);
                target.TaskManagement(
                    function == TaskManagementFunction.TargetWarmReset ? TaskManagementEvent.TargetWarmReset : TaskManagementEvent.TargetColdReset,
                    lun,
                    nexus);
                return TaskManagementResponse.FunctionComplete;

            case TaskManagementFunction.TaskReassign:
                // ERL 0 (RFC 7143 §11.5.1): allegiance reassignment needs ERL 2.
                return TaskManagementResponse.TaskAllegianceReassignmentNotSupported;

            default:
                // CLEAR ACA: NormACA is 0 in INQUIRY, so ACA never exists.
                return TaskManagementResponse.FunctionNotSupported;
        }
    }

    /// <summary>Aborts matching tasks in every session of <paramref name="target"/> (CLEAR TASK SET, resets).</summary>
    private async Task AbortOnTargetAsync(IScsiTarget target, Func<IscsiTask, bool> match)
    {
        List<Task> waits = [];
        foreach (var s in _portal.Sessions.SessionsOf(target))
        {
            if (s.Connection is { } c)
            {
                waits.Add(c.AbortTasksAsync(match));
            }
        }

        await Task.WhenAll(waits).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "{Remote}: task management {Function} on LUN {Lun}: {Response}")]
    private static partial void LogTaskManagement(ILogger logger, System.Net.EndPoint? remote, TaskManagementFunction function, ushort lun, TaskManagementResponse response);
}

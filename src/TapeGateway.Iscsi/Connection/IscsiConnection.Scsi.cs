using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Pdu;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Connection;

public sealed partial class IscsiConnection
{
    /*
     * RFC 7143 §11.3 SCSI Command:
     *   0 |.|I| 0x01 |   1 |F|R|W|. .|ATTR|   4 TotalAHSLength   5-7 DataSegmentLength
     *   8-15 LUN   16 ITT   20 Expected Data Transfer Length   24 CmdSN   28 ExpStatSN   32-47 CDB
     */
    private const int EdtlOffset = 20;
    private const int CmdSnOffset = 24;
    private const int CdbOffset = 32;
    private const byte ReadBit = 0x40;
    private const byte WriteBit = 0x20;

    private async ValueTask HandleScsiCommandAsync(ReadOnlySequence<byte> ahs, ReadOnlySequence<byte> data)
    {
        var session = _session!;
        if (session.Type != SessionType.Normal || session.Target is null)
        {
            // RFC 7143 §4.3: a discovery session carries only Text, Logout and NOP PDUs.
            await SendRejectAsync(RejectReason.ProtocolError).ConfigureAwait(false);
            return;
        }

        var cmdSn = Bhs.Word(_bhs, CmdSnOffset);
        var immediate = Bhs.IsImmediate(_bhs);
        switch (session.Admit(cmdSn, immediate))
        {
            case CmdSnCheck.Accept:
                break;
            case CmdSnCheck.Gap:
                // Single connection: this only happens if the initiator skipped a CmdSN; hold it until the gap fills.
                _early[cmdSn] = new PendingCommand(_bhs.ToArray(), ahs.ToArray(), data.ToArray());
                return;
            default:
                // RFC 7143 §4.2.2.1: commands outside the window are silently ignored.
                LogCmdSnIgnored(_logger, RemoteEndPoint, cmdSn, session.ExpCmdSn, session.MaxCmdSn);
                return;
        }

        await AcceptScsiCommandAsync(_bhs, ahs, data).ConfigureAwait(false);

        while (_early.Count > 0 && _early.Remove(session.ExpCmdSn, out var next))
        {
            session.Admit(Bhs.Word(next.Bhs, CmdSnOffset), false);
            await AcceptScsiCommandAsync(next.Bhs, new ReadOnlySequence<byte>(next.Ahs), new ReadOnlySequence<byte>(next.Data)).ConfigureAwait(false);
        }
    }

    private async ValueTask AcceptScsiCommandAsync(byte[] header, ReadOnlySequence<byte> ahs, ReadOnlySequence<byte> data)
    {
        var session = _session!;
        var settings = session.Settings;
        var flags = header[1];
        var itt = Bhs.InitiatorTaskTag(header);
        var edtl = Bhs.Word(header, EdtlOffset);
        var isRead = (flags & ReadBit) != 0;
        var isWrite = (flags & WriteBit) != 0;
        var final = (flags & Bhs.FinalBit) != 0;
        var immediateLength = (int)data.Length;

        // RFC 7143 §11.3.4/§11.3.5: data only with W; at most FirstBurstLength and EDTL; only if ImmediateData=Yes.
        if (immediateLength > 0 && (!isWrite || !settings.ImmediateData || immediateLength > edtl || immediateLength > settings.FirstBurstLength))
        {
            await SendRejectAsync(RejectReason.ProtocolError).ConfigureAwait(false);
            return;
        }

        if (!isWrite && !final)
        {
            // F=0 announces unsolicited Data-Out, which only a write can have.
            await SendRejectAsync(RejectReason.ProtocolError).ConfigureAwait(false);
            return;
        }

        IscsiTask task;
        lock (_taskLock)
        {
            if (_tasks.ContainsKey(itt))
            {
                task = null!;
            }
            else
            {
                task = _taskPool.Count > 0 ? _taskPool.Pop() : new IscsiTask(this, _portal.TaskBuffers);
                _tasks[itt] = task;
            }
        }

        if (task is null)
        {
            // ITTs must be unique among a session's outstanding tasks (RFC 7143 §11.2.1.8).
            await SendRejectAsync(RejectReason.InvalidPduField).ConfigureAwait(false);
            return;
        }

        task.Itt = itt;
        task.CmdSn = Bhs.Word(header, CmdSnOffset);
        task.Ttt = NextTtt();
        var scsi = task.Scsi;
        if (!TryDecodeCdb(header, ahs, scsi, out var bidiReadLength))
        {
            RecycleTask(task);
            await SendRejectAsync(RejectReason.InvalidPduField).ConfigureAwait(false);
            return;
        }

        // An address we cannot decode maps to a LUN that does not exist, so the target answers 25/00 for it.
        scsi.Lun = Lun.TryDecode(Bhs.Lun(header), out var lun) ? lun : new Lun(Lun.MaxFlat);
        scsi.Nexus = session.Nexus!;
        scsi.Tag = itt;
        scsi.Attribute = (TaskAttribute)(flags & 0x07);
        scsi.Direction = (isRead ? DataDirection.Read : DataDirection.None) | (isWrite ? DataDirection.Write : DataDirection.None);
        scsi.ExpectedDataTransferLength = edtl;
        scsi.ExpectedBidirectionalReadLength = bidiReadLength;
        task.ReadLength = isRead ? (int)Math.Min(isWrite ? bidiReadLength : edtl, int.MaxValue) : 0;
        task.WriteLength = isWrite ? (int)Math.Min(edtl, int.MaxValue) : 0;

        if (isWrite)
        {
            task.Buffered = edtl <= (uint)_portal.Options.MaxCommandTransferLength;
            if (task.Buffered)
            {
                var buffer = scsi.PrepareDataOut(task.WriteLength);
                data.CopyTo(buffer.Span);
            }

            task.Received = immediateLength;
            task.UnsolicitedOpen = !final && !settings.InitialR2T;
            if (!final && settings.InitialR2T)
            {
                await SendRejectAsync(RejectReason.ProtocolError).ConfigureAwait(false);
                RecycleTask(task);
                return;
            }

            task.R2TIssuedUpTo = Math.Max(immediateLength, task.UnsolicitedOpen ? Math.Min(settings.FirstBurstLength, task.WriteLength) : immediateLength);
            if (!task.Buffered)
            {
                scsi.CompleteDataOut(0);
            }
            else if (task.DataOutComplete)
            {
                scsi.CompleteDataOut(task.Received);
            }
        }
        else
        {
            scsi.PrepareDataOut(0);
            scsi.CompleteDataOut(0);
        }

        // Solicit the first bursts before the target runs, so a command that fails early never races its own R2Ts:
        // the writer sends output in the order it was queued.
        if (isWrite && task.Buffered && !task.UnsolicitedOpen && !task.DataOutComplete)
        {
            QueueOutput(task, OutputKind.InitialR2T);
        }

        StartExecution(task, session.Target!);
    }

    /// <summary>
    /// CDB from the BHS plus an Extended CDB AHS (type 1), and the bidirectional read EDTL AHS (type 2) (RFC 7143 §11.2.2).
    /// </summary>
    private static bool TryDecodeCdb(byte[] header, ReadOnlySequence<byte> ahs, ScsiTask task, out uint bidiReadLength)
    {
        Span<byte> cdb = stackalloc byte[ScsiTask.MaxCdbLength];
        header.AsSpan(CdbOffset, 16).CopyTo(cdb);
        var cdbLength = 16;
        bidiReadLength = 0;
        if (ahs.IsEmpty)
        {
            task.SetCdb(cdb[..cdbLength]);
            return true;
        }

        Span<byte> all = stackalloc byte[(int)ahs.Length];
        ahs.CopyTo(all);
        while (all.Length >= 4)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(all);
            var type = all[2];
            var total = 3 + length;
            var padded = total + Bhs.Padding(total);
            if (padded > all.Length)
            {
                return false;
            }

            switch (type)
            {
                case 1 when length >= 2 && length - 1 <= ScsiTask.MaxCdbLength - 16:
                    all.Slice(4, length - 1).CopyTo(cdb[16..]);
                    cdbLength = 16 + length - 1;
                    break;
                case 2 when length == 5:
                    bidiReadLength = BinaryPrimitives.ReadUInt32BigEndian(all[4..]);
                    break;
                default:
                    return false;
            }

            all = all[padded..];
        }

        task.SetCdb(cdb[..cdbLength]);
        return all.IsEmpty;
    }

    /*
     * RFC 7143 §11.7 SCSI Data-Out: 1 F; 8 LUN; 16 ITT; 20 TTT; 28 ExpStatSN; 36 DataSN; 40 Buffer Offset.
     */
    private async ValueTask HandleDataOutAsync(ReadOnlySequence<byte> data)
    {
        var itt = Bhs.InitiatorTaskTag(_bhs);
        var ttt = Bhs.Word(_bhs, Bhs.Word20);
        var offset = Bhs.Word(_bhs, Bhs.Word40);
        var final = Bhs.IsFinal(_bhs);
        IscsiTask? task;
        lock (_taskLock)
        {
            _tasks.TryGetValue(itt, out task);
        }

        if (task is null || task.Finished || task.Aborted || task.DataOutFailed || task.WriteLength == 0)
        {
            // Data for a task that has already ended (failed early, aborted): RFC 7143 §7.1 lets the target discard it.
            return;
        }

        var solicited = ttt != IscsiTask.ReservedTag;
        if (solicited ? ttt != task.Ttt : !task.UnsolicitedOpen)
        {
            await SendRejectAsync(RejectReason.InvalidPduField).ConfigureAwait(false);
            return;
        }

        // RFC 7143 §11.7.5: DataSN counts the PDUs of one sequence from 0. With ERL 0 there is no within-command
        // recovery (§7.1.4), so a wrong DataSN ends the command — ABORTED COMMAND / DATA PHASE ERROR, which every
        // initiator retries — while the connection and the session's other commands carry on.
        var dataSn = Bhs.Word(_bhs, Bhs.Word36);
        if (dataSn != task.ExpectedDataSn)
        {
            LogBadDataSn(_logger, RemoteEndPoint, dataSn, task.ExpectedDataSn, itt);
            task.Scsi.FailDataOut(new DataOutException($"DataSN {dataSn}, expected {task.ExpectedDataSn}"));
            task.DataOutFailed = true;
            return;
        }

        task.ExpectedDataSn = final ? 0 : task.ExpectedDataSn + 1;
        var length = (int)data.Length;
        if (offset > (uint)task.WriteLength || length > task.WriteLength - (int)offset)
        {
            // More data than EDTL: a protocol error (RFC 7143 §11.7.6 Buffer Offset).
            await SendRejectAsync(RejectReason.ProtocolError).ConfigureAwait(false);
            return;
        }

        if (task.Buffered && !task.Scsi.IsDataOutComplete)
        {
            // RFC 7143 §11.7: DataPDUInOrder=Yes, so data lands in order; copy it once into the task buffer.
            var target = task.Scsi.DataOutBuffer;
            data.CopyTo(target.Span[(int)offset..]);
        }

        task.Received = Math.Max(task.Received, (int)offset + length);
        if (final)
        {
            if (solicited)
            {
                task.OutstandingR2T = Math.Max(0, task.OutstandingR2T - 1);
            }
            else
            {
                task.UnsolicitedOpen = false;
                task.R2TIssuedUpTo = Math.Max(task.R2TIssuedUpTo, task.Received);
            }
        }

        if (task.DataOutComplete)
        {
            task.Scsi.CompleteDataOut(task.Received);
            return;
        }

        if (final && !task.UnsolicitedOpen)
        {
            QueueOutput(task, OutputKind.R2T);
        }
    }

    /// <summary>
    /// Returns finished tasks to the pool; read loop only, so a finishing task is never reset under an arriving Data-Out
    /// PDU (the writer queues tasks on <see cref="_completed"/> once their response is out).
    /// </summary>
    private void DrainCompleted()
    {
        while (_completed.TryDequeue(out var task))
        {
            RecycleTask(task);
        }
    }

    private void RecycleTask(IscsiTask task)
    {
        lock (_taskLock)
        {
            if (!_tasks.TryGetValue(task.Itt, out var current) || !ReferenceEquals(current, task))
            {
                return;
            }

            _tasks.Remove(task.Itt);
            task.Reset();
            if (_taskPool.Count < 256)
            {
                _taskPool.Push(task);
            }
        }
    }

    private static void ComputeResidual(IscsiTask task, out bool overflow, out bool underflow, out uint residual)
    {
        var scsi = task.Scsi;
        long expected = scsi.ExpectedDataTransferLength;
        long wanted;
        if ((scsi.Direction & DataDirection.Write) != 0)
        {
            wanted = scsi.CommandTransferLength ?? expected;
        }
        else if ((scsi.Direction & DataDirection.Read) != 0)
        {
            wanted = scsi.CommandTransferLength ?? scsi.DataInLength;
        }
        else
        {
            // No data phase announced: anything the command would have moved is overflow.
            wanted = scsi.CommandTransferLength ?? scsi.DataInLength;
        }

        overflow = wanted > expected;
        underflow = wanted < expected;
        residual = (uint)Math.Min(Math.Abs(wanted - expected), uint.MaxValue);
    }

    /*
     * RFC 7143 §11.7 SCSI Data-In: 1 F|A|0|0|0|O|U|S; 3 Status (when S); 8 LUN; 16 ITT; 20 TTT=0xffffffff;
     * 24 StatSN (when S); 28 ExpCmdSN; 32 MaxCmdSN; 36 DataSN; 40 Buffer Offset; 44 Residual Count (when S).
     */
    private void WriteDataInPdu(Span<byte> bhs, IscsiTask task, ReadOnlySpan<byte> data, int offset, bool final, bool withStatus, bool overflow, bool underflow, uint residual)
    {
        BuildDataInBhs(bhs, task, offset, final, withStatus, overflow, underflow, residual);
        WritePdu(bhs, data);
    }

    /// <summary>The Data-In BHS (advances DataSN, and StatSN when it carries status): build it exactly once per PDU.</summary>
    private void BuildDataInBhs(Span<byte> bhs, IscsiTask task, int offset, bool final, bool withStatus, bool overflow, bool underflow, uint residual)
    {
        bhs.Clear();
        bhs[0] = (byte)IscsiOpcode.ScsiDataIn;
        var flags = (byte)(final ? Bhs.FinalBit : 0);
        if (withStatus)
        {
            flags |= 0x01;
            if (overflow)
            {
                flags |= 0x04;
            }
            else if (underflow)
            {
                flags |= 0x02;
            }

            bhs[3] = (byte)task.Scsi.Status;
        }

        bhs[1] = flags;
        task.Scsi.Lun.WriteTo(bhs[Bhs.LunOffset..]);
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, task.Itt);
        Bhs.SetWord(bhs, Bhs.Word20, IscsiTask.ReservedTag);
        StampSequenceNumbers(bhs, advanceStatSn: withStatus);
        if (!withStatus)
        {
            Bhs.SetWord(bhs, Bhs.Word24, 0);
        }

        Bhs.SetWord(bhs, Bhs.Word36, task.DataSnCount++);
        Bhs.SetWord(bhs, Bhs.Word40, (uint)offset);
        if (withStatus && (overflow || underflow))
        {
            Bhs.SetWord(bhs, Bhs.Word44, residual);
        }
    }

    /*
     * RFC 7143 §11.4 SCSI Response: 1 1|0|0|o|u|O|U|0; 2 Response; 3 Status; 16 ITT; 20 SNACK Tag; 24 StatSN;
     * 28 ExpCmdSN; 32 MaxCmdSN; 36 ExpDataSN; 40 Bidirectional Read Residual; 44 Residual Count.
     * Data segment: SenseLength (2 bytes) + sense data (§11.4.7).
     */
    private void WriteScsiResponse(IscsiTask task, bool overflow, bool underflow, uint residual)
    {
        Span<byte> bhs = stackalloc byte[Bhs.Length];
        bhs.Clear();
        bhs[0] = (byte)IscsiOpcode.ScsiResponse;
        var flags = Bhs.FinalBit;
        if (overflow)
        {
            flags |= 0x04;
        }
        else if (underflow)
        {
            flags |= 0x02;
        }

        bhs[1] = flags;
        bhs[2] = 0; // Command Completed at Target
        bhs[3] = (byte)task.Scsi.Status;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, task.Itt);
        StampSequenceNumbers(bhs, advanceStatSn: true);
        Bhs.SetWord(bhs, Bhs.Word36, task.DataSnCount);
        if (overflow || underflow)
        {
            Bhs.SetWord(bhs, Bhs.Word44, residual);
        }

        var sense = task.Scsi.Sense;
        if (sense.IsEmpty)
        {
            WritePdu(bhs, default);
            return;
        }

        Span<byte> segment = stackalloc byte[2 + ScsiTask.MaxSenseLength];
        BinaryPrimitives.WriteUInt16BigEndian(segment, (ushort)sense.Length);
        sense.CopyTo(segment[2..]);
        WritePdu(bhs, segment[..(2 + sense.Length)]);
    }

    /// <summary>Aborts tasks matching <paramref name="match"/> and waits until they have stopped; their responses are suppressed.</summary>
    internal async Task AbortTasksAsync(Func<IscsiTask, bool> match)
    {
        List<IscsiTask> victims = [];
        lock (_taskLock)
        {
            foreach (var t in _tasks.Values)
            {
                if (!t.Aborted && match(t))
                {
                    t.Aborted = true;
                    victims.Add(t);
                }
            }
        }

        foreach (var t in victims)
        {
            t.Scsi.Abort();
        }

        foreach (var t in victims)
        {
            await t.WhenDoneAsync().ConfigureAwait(false);
        }
    }

    private Task AbortAllTasksAsync() => AbortTasksAsync(static _ => true);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "{Remote}: CmdSN {CmdSn} outside window [{Exp}, {Max}], ignored")]
    private static partial void LogCmdSnIgnored(ILogger logger, System.Net.EndPoint? remote, uint cmdSn, uint exp, uint max);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "{Remote}: Data-Out DataSN {DataSn} (expected {Expected}) for ITT 0x{Itt:x8}: command ends with DATA PHASE ERROR")]
    private static partial void LogBadDataSn(ILogger logger, System.Net.EndPoint? remote, uint dataSn, uint expected, uint itt);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "task 0x{Itt:x8} failed in the SCSI layer")]
    private static partial void LogTaskFailed(ILogger logger, Exception error, uint itt);
}

using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// The data path's writer. R2Ts and command results are queued in wire order and written by whichever thread finds
/// the write lock free — the read loop issuing an R2T, or the thread that finished a command — while a thread that
/// finds it taken just queues its work: the holder drains the queue before it lets go. Nothing waits for the lock
/// and nothing is allocated per command; only a flush that cannot complete at once (the socket is full) continues on
/// an async path. Control PDUs (login, text, NOP, TMF, logout, reject) still take the lock with an await and drain the
/// queue when they release it (<see cref="ReleaseWriteLock"/>).
/// </summary>
public sealed partial class IscsiConnection
{
    /// <summary>Data-In bytes written between flushes: bounds what sits in the pipe and applies socket backpressure.</summary>
    private const int FlushEvery = 262144;

    /// <summary>
    /// Data-In segments at least this large go from the task's buffer straight to the socket instead of being copied
    /// into the pipe first (one copy and, with the pipe's 64 KiB segments, several send calls fewer per PDU).
    /// </summary>
    private const int DirectSendThreshold = 32 * 1024;

    private readonly ConcurrentQueue<OutputItem> _outQueue = new();

    // Under the write lock only: the item being written when the socket pushed back, what it waits for, and bytes
    // since the last flush.
    private OutputWait _wait;
    private OutputItem _current;
    private bool _hasCurrent;
    private int _sinceFlush;
    private bool _wroteSinceFlush;
    private bool _outputBroken;

    private enum OutputKind : byte
    {
        /// <summary>R2Ts solicited when the command arrives, before the target runs it.</summary>
        InitialR2T,

        /// <summary>R2Ts for the next burst after a solicited sequence ended; not once the command has finished.</summary>
        R2T,

        /// <summary>Data-In and status of a finished command (nothing for an aborted one), then the task is done.</summary>
        Result,
    }

    /// <summary>Starts the target on a command; <see cref="OnExecuted"/> picks it up when it finishes.</summary>
    private void StartExecution(IscsiTask task, IScsiTarget target)
    {
        ValueTask run;
        try
        {
            run = target.ExecuteAsync(task.Scsi);
        }
        catch (Exception ex)
        {
            run = ValueTask.FromException(ex);
        }

        task.Execution = run.ConfigureAwait(false).GetAwaiter();
        if (task.Execution.IsCompleted)
        {
            OnExecuted(task);
        }
        else
        {
            task.Execution.UnsafeOnCompleted(task.OnExecuted);
        }
    }

    /// <summary>The target has finished the command (on whatever thread finished it): queue its status.</summary>
    internal void OnExecuted(IscsiTask task)
    {
        try
        {
            task.Execution.GetResult();
        }
        catch (Exception ex)
        {
            // The SCSI layer turns failures into sense; reaching here is a bug, so answer and keep the session.
            LogTaskFailed(_logger, ex, task.Itt);
            task.Scsi.Status = ScsiStatus.Busy;
        }

        task.Execution = default;
        task.Finished = true;
        QueueOutput(task, OutputKind.Result);
    }

    private void QueueOutput(IscsiTask task, OutputKind kind)
    {
        _outQueue.Enqueue(new OutputItem(task, task.Generation, kind));
        DrainOutput();
    }

    /// <summary>Releases the write lock taken with an await, then writes what was queued meanwhile.</summary>
    private void ReleaseWriteLock()
    {
        _writeLock.Release();
        DrainOutput();
    }

    /// <summary>
    /// Writes queued output if the lock is free. Queue first, try the lock second, and re-check after every release:
    /// whoever holds the lock when an item is queued is still going to look at the queue, so nothing is stranded.
    /// </summary>
    private void DrainOutput()
    {
        while (!_outQueue.IsEmpty && _writeLock.Wait(0))
        {
            var wait = WriteQueuedLocked();
            if (!wait.IsCompleted)
            {
                _ = ContinueOutputAsync(wait); // keeps the lock until the socket has taken the data
                return;
            }

            Complete(wait);
            _writeLock.Release();
        }
    }

    /// <summary>Slow path: the socket is full. Waits for it, goes on writing, then releases the lock.</summary>
    private async Task ContinueOutputAsync(OutputWait wait)
    {
        try
        {
            while (true)
            {
                try
                {
                    if (wait.IsSend)
                    {
                        await wait.Send.ConfigureAwait(false);
                    }
                    else
                    {
                        CheckFlushResult(await wait.Flush.ConfigureAwait(false));
                    }
                }
                catch (Exception ex) when (IsConnectionFailure(ex))
                {
                    _outputBroken = true;
                }

                wait = WriteQueuedLocked();
                if (wait.IsCompleted)
                {
                    Complete(wait);
                    break;
                }
            }
        }
        finally
        {
            _writeLock.Release();
        }

        DrainOutput();
    }

    /// <summary>
    /// Writes queued items (lock held) and flushes. Returns what the writer has to wait for — a flush or a direct send
    /// the socket did not take at once — or a completed wait; after waiting the caller calls again to go on with the
    /// item in progress.
    /// </summary>
    private OutputWait WriteQueuedLocked()
    {
        try
        {
            while (true)
            {
                if (!_hasCurrent)
                {
                    if (!_outQueue.TryDequeue(out _current))
                    {
                        break;
                    }

                    _hasCurrent = true;
                }

                var finished = WriteItem(_current);
                if (!_wait.IsCompleted)
                {
                    var pending = _wait;
                    _wait = default;
                    return pending;
                }

                if (finished)
                {
                    var item = _current;
                    _current = default;
                    _hasCurrent = false;
                    if (item.Kind == OutputKind.Result)
                    {
                        Done(item.Task);
                    }
                }

                if (_sinceFlush >= FlushEvery || !finished)
                {
                    var flush = Flush();
                    if (!flush.IsCompleted)
                    {
                        return flush;
                    }

                    Complete(flush);
                }
            }

            return _wroteSinceFlush ? Flush() : default;
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            // From now on items are finished without writing; the read loop notices the connection is gone.
            _outputBroken = true;
            _wait = default;
            return WriteQueuedLocked();
        }
    }

    private OutputWait Flush()
    {
        _sinceFlush = 0;
        _wroteSinceFlush = false;
        return _outputBroken ? default : new OutputWait(_output.FlushAsync());
    }

    private void Complete(OutputWait wait)
    {
        try
        {
            if (wait.IsSend)
            {
                wait.Send.GetAwaiter().GetResult();
            }
            else
            {
                CheckFlushResult(wait.Flush.GetAwaiter().GetResult());
            }
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            _outputBroken = true;
        }
    }

    private void CheckFlushResult(FlushResult result)
    {
        if (result.IsCanceled || result.IsCompleted)
        {
            _outputBroken = true;
        }
    }

    private static bool IsConnectionFailure(Exception ex) =>
        ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException;

    /// <summary>The writer is done with a command: wake task management waiting for it, then let the read loop recycle it.</summary>
    private void Done(IscsiTask task)
    {
        task.MarkDone();
        _completed.Enqueue(task);
    }

    /// <summary>Writes one item, or as much of it as <see cref="FlushEvery"/> allows; true when it is complete.</summary>
    private bool WriteItem(in OutputItem item)
    {
        var task = item.Task;
        if (item.Generation != task.Generation || _outputBroken || _phase != ConnectionPhase.FullFeature)
        {
            return true;
        }

        switch (item.Kind)
        {
            case OutputKind.InitialR2T:
            case OutputKind.R2T:
                WriteR2Ts(task, evenIfFinished: item.Kind == OutputKind.InitialR2T);
                return true;
            default:
                return task.Aborted || WriteResult(task);
        }
    }

    /*
     * RFC 7143 §11.8 R2T: 1 F=1; 8 LUN; 16 ITT; 20 TTT; 24 StatSN; 28 ExpCmdSN; 32 MaxCmdSN; 36 R2TSN;
     * 40 Buffer Offset; 44 Desired Data Transfer Length (≤ MaxBurstLength).
     */
    private void WriteR2Ts(IscsiTask task, bool evenIfFinished)
    {
        var settings = _session!.Settings;
        while (task.OutstandingR2T < settings.MaxOutstandingR2T && task.R2TIssuedUpTo < task.WriteLength
            && (evenIfFinished || !task.Finished) && !task.Aborted && !task.DataOutFailed)
        {
            var offset = task.R2TIssuedUpTo;
            var length = Math.Min(settings.MaxBurstLength, task.WriteLength - offset);
            var bhs = _txBhs.AsSpan();
            bhs.Clear();
            bhs[0] = (byte)IscsiOpcode.ReadyToTransfer;
            bhs[1] = Bhs.FinalBit;
            task.Scsi.Lun.WriteTo(bhs[Bhs.LunOffset..]);
            Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, task.Itt);
            Bhs.SetWord(bhs, Bhs.Word20, task.Ttt);
            StampSequenceNumbers(bhs, advanceStatSn: false);
            Bhs.SetWord(bhs, Bhs.Word36, task.NextR2TSn++);
            Bhs.SetWord(bhs, Bhs.Word40, (uint)offset);
            Bhs.SetWord(bhs, Bhs.Word44, (uint)length);
            WritePdu(bhs, default);
            Wrote(Bhs.Length);
            task.DataSnCount++;
            task.R2TIssuedUpTo = offset + length;
            task.OutstandingR2T++;
        }
    }

    /// <summary>
    /// Data-In (with phase-collapsed status when the command ended GOOD) or Data-In followed by a SCSI Response
    /// carrying sense, with residuals computed once (RFC 7143 §11.4.5, §11.7.4; SAM-5 §5.4.3). Resumable: returns
    /// false when it stopped for a flush after <see cref="FlushEvery"/> bytes.
    /// </summary>
    private bool WriteResult(IscsiTask task)
    {
        var scsi = task.Scsi;
        if (!task.ResultPrepared)
        {
            var toSend = Math.Min(scsi.DataInLength, task.ReadLength);
            task.DataInToSend = toSend;
            task.Collapse = scsi.Status == ScsiStatus.Good && scsi.SenseLength == 0 && toSend > 0;
            ComputeResidual(task, out var overflow, out var underflow, out var residual);
            task.Overflow = overflow;
            task.Underflow = underflow;
            task.Residual = residual;
            task.ResultPrepared = true;
        }

        var total = task.DataInToSend;
        var maxBurst = _session!.Settings.MaxBurstLength;
        var data = scsi.DataIn;
        while (task.DataInSent < total)
        {
            if (_sinceFlush >= FlushEvery)
            {
                return false;
            }

            var offset = task.DataInSent;
            var length = Math.Min(_maxSendDataSegment, total - offset);
            length = Math.Min(length, maxBurst - task.BurstUsed);
            var last = offset + length >= total;
            var endOfBurst = last || task.BurstUsed + length >= maxBurst;
            var segment = data.Slice(offset, length);
            if (_transport is not null && length >= DirectSendThreshold)
            {
                if (!WriteDataInDirect(task, segment, offset, endOfBurst, last && task.Collapse))
                {
                    return false;
                }
            }
            else
            {
                WriteDataInPdu(_txBhs, task, segment.Span, offset, endOfBurst, last && task.Collapse, task.Overflow, task.Underflow, task.Residual);
                Wrote(Bhs.Length + length);
            }

            task.DataInSent = offset + length;
            task.BurstUsed = endOfBurst ? 0 : task.BurstUsed + length;
        }

        if (!task.Collapse)
        {
            WriteScsiResponse(task, task.Overflow, task.Underflow, task.Residual);
            Wrote(Bhs.Length + 2 + scsi.SenseLength);
        }

        return true;
    }

    /// <summary>
    /// One Data-In PDU whose data segment goes from the task's buffer straight to the socket: header into the pipe and
    /// flushed, the segment sent, padding and digest into the pipe after it (they leave with the next flush, before
    /// anything written later). When nothing waits in the pipe, header and segment leave in one gathered send instead:
    /// one system call and, with TCP_NODELAY, no 48-byte packet of its own that wakes the initiator before its data.
    /// Resumable at each step (<see cref="IscsiTask.DirectStage"/>); false while it waits.
    /// </summary>
    private bool WriteDataInDirect(IscsiTask task, ReadOnlyMemory<byte> segment, int offset, bool final, bool withStatus)
    {
        if (task.DirectStage == 0 && !_outputBroken && _output.CanGetUnflushedBytes && _output.UnflushedBytes == 0)
        {
            BuildDataInBhs(_txBhs, task, offset, final, withStatus, task.Overflow, task.Underflow, task.Residual);
            var head = PduWriter.WriteHeader(_directHead, _txBhs, segment.Length, _headerDigest);
            task.DirectStage = 2;
            var send = _transport!.SendAsync(_directHead.AsMemory(0, head), segment);
            if (!send.IsCompleted)
            {
                _wait = new OutputWait(send);
                return false;
            }

            Complete(new OutputWait(send));
        }

        if (task.DirectStage == 0)
        {
            BuildDataInBhs(_txBhs, task, offset, final, withStatus, task.Overflow, task.Underflow, task.Residual);
            PduWriter.WriteHeader(_output, _txBhs, segment.Length, _headerDigest);
            task.DirectStage = 1;
            var flush = Flush();
            if (!flush.IsCompleted)
            {
                _wait = flush;
                return false;
            }

            Complete(flush);
        }

        if (task.DirectStage == 1)
        {
            task.DirectStage = 2;
            if (!_outputBroken)
            {
                var send = _transport!.SendAsync(segment, default);
                if (!send.IsCompleted)
                {
                    _wait = new OutputWait(send);
                    return false;
                }

                Complete(new OutputWait(send));
            }
        }

        if (!_outputBroken)
        {
            Wrote(PduWriter.WriteTrailer(_output, segment.Span, _dataDigest));
        }

        task.DirectStage = 0;
        return true;
    }

    private void Wrote(int bytes)
    {
        if (bytes > 0)
        {
            _sinceFlush += bytes;
            _wroteSinceFlush = true;
        }
    }

    private readonly record struct OutputItem(IscsiTask Task, int Generation, OutputKind Kind);

    /// <summary>What the writer waits for when the socket pushes back: a pipe flush or a direct send (default: nothing).</summary>
    private readonly struct OutputWait
    {
        public OutputWait(ValueTask<FlushResult> flush) => Flush = flush;

        public OutputWait(ValueTask<int> send)
        {
            Send = send;
            IsSend = true;
        }

        public ValueTask<FlushResult> Flush { get; }

        public ValueTask<int> Send { get; }

        public bool IsSend { get; }

        public bool IsCompleted => IsSend ? Send.IsCompleted : Flush.IsCompleted;
    }
}

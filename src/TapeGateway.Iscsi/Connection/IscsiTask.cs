using System.Buffers;
using System.Runtime.CompilerServices;
using TapeGateway.Core.Scsi;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// Transport-side state of one SCSI command on a connection: Data-Out accounting and R2T generation
/// (RFC 7143 §4.2.3.2, §11.8) around the <see cref="ScsiTask"/> handed to the target. Pooled per connection, and
/// built so that a pooled task carries a command from PDU to status without allocating: it holds its own
/// continuation for the target's completion and the progress of its response through the connection's writer.
/// </summary>
internal sealed class IscsiTask
{
    public const uint ReservedTag = 0xFFFF_FFFF;

    private readonly Lock _doneLock = new();
    private TaskCompletionSource? _doneWaiter;
    private bool _done;

    public IscsiTask(IscsiConnection connection, ArrayPool<byte> buffers)
    {
        OnExecuted = () => connection.OnExecuted(this);
        Scsi = new ScsiTask(buffers);
    }

    public ScsiTask Scsi { get; }

    /// <summary>Continuation of <see cref="Execution"/>, created once per pooled task rather than once per command.</summary>
    public Action OnExecuted { get; }

    /// <summary>The target's execution of the current command (awaited through <see cref="OnExecuted"/>).</summary>
    public ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter Execution { get; set; }

    /// <summary>
    /// Incremented on every reset: output queued for one command (an R2T) is recognised as stale if the pooled task
    /// has moved on to another command by the time the writer gets to it.
    /// </summary>
    public int Generation { get; private set; }

    public uint Itt { get; set; }

    public uint CmdSn { get; set; }

    /// <summary>Target transfer tag for this task's R2Ts (unique per connection while the task lives).</summary>
    public uint Ttt { get; set; }

    /// <summary>Bytes the initiator will write (EDTL of a write), 0 for reads.</summary>
    public int WriteLength { get; set; }

    /// <summary>Bytes the initiator will accept (EDTL of a read, or the bidirectional read EDTL).</summary>
    public int ReadLength { get; set; }

    /// <summary>Whether Data-Out is buffered (false when the transfer exceeds our per-command limit).</summary>
    public bool Buffered { get; set; }

    public int Received { get; set; }

    /// <summary>An unsolicited Data-Out sequence is still open (command had F=0 and InitialR2T=No).</summary>
    public bool UnsolicitedOpen { get; set; }

    /// <summary>End offset of the data covered by R2Ts sent so far.</summary>
    public int R2TIssuedUpTo { get; set; }

    public int OutstandingR2T { get; set; }

    /// <summary>DataSN the next Data-Out of the current sequence must carry (RFC 7143 §11.7.5).</summary>
    public uint ExpectedDataSn { get; set; }

    public uint NextR2TSn { get; set; }

    /// <summary>Data-In PDUs plus R2Ts sent, reported as ExpDataSN in the SCSI Response.</summary>
    public uint DataSnCount { get; set; }

    public bool Aborted { get; set; }

    /// <summary>Data-Out broke (DataSN error); later Data-Out PDUs for this task are discarded.</summary>
    public bool DataOutFailed { get; set; }

    public bool Finished { get; set; }

    // ---- response progress (the connection's writer only) ---------------------------------------------------

    /// <summary>Residuals and Data-In length have been computed for the response being written.</summary>
    public bool ResultPrepared { get; set; }

    public int DataInToSend { get; set; }

    public int DataInSent { get; set; }

    public int BurstUsed { get; set; }

    /// <summary>GOOD status travels in the last Data-In PDU (phase collapse, RFC 7143 §11.7.4).</summary>
    public bool Collapse { get; set; }

    public bool Overflow { get; set; }

    public bool Underflow { get; set; }

    public uint Residual { get; set; }

    /// <summary>Progress of a Data-In PDU sent straight from the buffer: 0 none, 1 header flushed, 2 segment sent.</summary>
    public int DirectStage { get; set; }

    public bool DataOutComplete => !Buffered || Received >= WriteLength;

    /// <summary>
    /// Completes once the command has ended and its response (if any) is written or dropped. Only task management
    /// and connection close wait for this, so the wait object is created on demand, never per command.
    /// </summary>
    public Task WhenDoneAsync()
    {
        lock (_doneLock)
        {
            if (_done)
            {
                return Task.CompletedTask;
            }

            _doneWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _doneWaiter.Task;
        }
    }

    /// <summary>The writer is done with this command; task management waiting for it may go on.</summary>
    public void MarkDone()
    {
        TaskCompletionSource? waiter;
        lock (_doneLock)
        {
            _done = true;
            waiter = _doneWaiter;
        }

        waiter?.TrySetResult();
    }

    public void Reset()
    {
        Scsi.Reset();
        Generation++;
        Execution = default;
        Itt = 0;
        CmdSn = 0;
        Ttt = 0;
        WriteLength = 0;
        ReadLength = 0;
        Buffered = false;
        Received = 0;
        UnsolicitedOpen = false;
        R2TIssuedUpTo = 0;
        OutstandingR2T = 0;
        ExpectedDataSn = 0;
        NextR2TSn = 0;
        DataSnCount = 0;
        Aborted = false;
        DataOutFailed = false;
        Finished = false;
        ResultPrepared = false;
        DataInToSend = 0;
        DataInSent = 0;
        BurstUsed = 0;
        Collapse = false;
        Overflow = false;
        Underflow = false;
        Residual = 0;
        DirectStage = 0;
        lock (_doneLock)
        {
            _done = false;
            _doneWaiter = null;
        }
    }
}

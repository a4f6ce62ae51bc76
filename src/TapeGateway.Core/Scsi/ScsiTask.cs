using System.Buffers;
using System.Numerics;
using System.Threading.Tasks.Sources;
using TapeGateway.Core.Buffers;

namespace TapeGateway.Core.Scsi;

/// <summary>
/// One SCSI command in flight (SAM-5 §5.1 "task"), handed from a transport (iSCSI) to a target. The transport fills
/// in the command descriptor and streams Data-Out into it; the device reads the CDB, awaits its Data-Out with
/// <see cref="ReceiveDataOutAsync"/>, writes Data-In into <see cref="GetDataInBuffer"/>, and sets status and sense.
/// Instances are pooled by the transport: nothing may hold a reference after <see cref="IScsiTarget.ExecuteAsync"/>
/// has completed.
/// </summary>
public sealed class ScsiTask : IValueTaskSource<ReadOnlyMemory<byte>>, IDataBufferAdopter
{
    public const int MaxCdbLength = 260;
    public const int MaxSenseLength = 252;

    private readonly byte[] _cdb = new byte[MaxCdbLength];
    private readonly byte[] _sense = new byte[MaxSenseLength];
    private ManualResetValueTaskSourceCore<ReadOnlyMemory<byte>> _dataOutSource;
    private IThreadPoolWorkItem? _dataOutWaiter;
    private byte[]? _dataOut;
    private int _dataOutLength;
    private volatile bool _dataOutComplete;
    private byte[]? _dataIn;
    private int _cdbLength;
    private CancellationTokenSource _abort = new();

    private readonly ArrayPool<byte> _buffers;

    public ScsiTask()
        : this(ArrayPool<byte>.Shared)
    {
    }

    /// <param name="buffers">
    /// Where Data-Out and Data-In buffers come from. A transport that receives on one thread and recycles tasks on
    /// whatever thread its read loop resumes on passes a pool without per-thread caches: the shared pool keeps a
    /// returned array in the returning thread's slot, so a large rent can miss (and allocate) until every thread
    /// that ever returned one holds one.
    /// </param>
    public ScsiTask(ArrayPool<byte> buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        _buffers = buffers;
        _dataOutSource.RunContinuationsAsynchronously = true;
    }

    // ---- set by the transport -------------------------------------------------------------------------------

    public ReadOnlySpan<byte> Cdb => _cdb.AsSpan(0, _cdbLength);

    public ReadOnlyMemory<byte> CdbMemory => _cdb.AsMemory(0, _cdbLength);

    public byte OperationCode => _cdb[0];

    public Lun Lun { get; set; }

    public ItNexus Nexus { get; set; } = null!;

    public TaskAttribute Attribute { get; set; }

    /// <summary>Transport tag (the iSCSI Initiator Task Tag), for logs and task management.</summary>
    public uint Tag { get; set; }

    public DataDirection Direction { get; set; }

    /// <summary>Bytes the initiator expects to send (writes) or receive (reads), RFC 7143 §11.3.4.</summary>
    public uint ExpectedDataTransferLength { get; set; }

    /// <summary>For bidirectional commands, the expected Data-In length (RFC 7143 §11.3.4 Bidirectional Read EDTL AHS).</summary>
    public uint ExpectedBidirectionalReadLength { get; set; }

    /// <summary>Cancelled when task management aborts this task (SAM-5 §7).</summary>
    public CancellationToken Aborted => _abort.Token;

    public bool IsAborted => _abort.IsCancellationRequested;

    // ---- set by the device ----------------------------------------------------------------------------------

    public ScsiStatus Status { get; set; }

    public ReadOnlySpan<byte> Sense => _sense.AsSpan(0, SenseLength);

    public int SenseLength { get; private set; }

    /// <summary>Bytes of Data-In the device produced (before the transport clips them to the expected length).</summary>
    public int DataInLength { get; private set; }

    public ReadOnlyMemory<byte> DataIn => _dataIn is null ? default : _dataIn.AsMemory(0, DataInLength);

    /// <summary>
    /// The transfer length the CDB asked for, in bytes, when it differs from what was produced; the transport reports
    /// residual overflow/underflow against <see cref="ExpectedDataTransferLength"/> from it (SAM-5 §5.4.3, RFC 7143 §11.4.5).
    /// Null means "what was produced" for reads and "what was expected" for writes.
    /// </summary>
    public long? CommandTransferLength { get; set; }

    public void SetCdb(ReadOnlySpan<byte> cdb)
    {
        if (cdb.Length > MaxCdbLength)
        {
            throw new ArgumentOutOfRangeException(nameof(cdb), "CDB longer than 260 bytes");
        }

        cdb.CopyTo(_cdb);
        _cdbLength = cdb.Length;
    }

    /// <summary>Span to write sense data into; call <see cref="SetSense(int)"/> with the length written.</summary>
    public Span<byte> SenseBuffer => _sense;

    public void SetSense(int length)
    {
        SenseLength = Math.Clamp(length, 0, MaxSenseLength);
        Status = ScsiStatus.CheckCondition;
    }

    public void ClearSense() => SenseLength = 0;

    /// <summary>
    /// A zeroed buffer of exactly <paramref name="length"/> bytes for Data-In; the result stays valid until the task is
    /// recycled. Calling it again replaces the previous buffer.
    /// </summary>
    public Memory<byte> GetDataInBuffer(int length) => GetDataInBuffer(length, clear: true);

    /// <summary>
    /// As <see cref="GetDataInBuffer(int)"/>; <paramref name="clear"/> = false skips zeroing for a caller that overwrites
    /// every byte (a disk READ filling up to 8 MiB from the volume), so the buffer is not written twice.
    /// </summary>
    public Memory<byte> GetDataInBuffer(int length, bool clear)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (_dataIn is null || _dataIn.Length < length)
        {
            if (_dataIn is not null)
            {
                _buffers.Return(_dataIn);
            }

            _dataIn = _buffers.Rent(Math.Max(length, 256));
        }

        if (clear)
        {
            _dataIn.AsSpan(0, length).Clear();
        }

        DataInLength = length;
        return _dataIn.AsMemory(0, length);
    }

    /// <summary>
    /// Data-In becomes the first <paramref name="length"/> bytes of <paramref name="buffer"/>; the previous Data-In buffer
    /// goes to the caller. Arrays travel between pools this way, which is safe because both ends rent from
    /// <see cref="ArrayPool{T}"/> instances with the same power-of-two bucket sizes (and a pool drops, rather than
    /// refuses, an array longer than its largest bucket).
    /// </summary>
    public byte[]? Adopt(byte[] buffer, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer.Length < 16 || !BitOperations.IsPow2(buffer.Length))
        {
            throw new ArgumentException("Only a pooled array (power-of-two length) can become a task's Data-In buffer.", nameof(buffer));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, buffer.Length);
        var previous = _dataIn;
        _dataIn = buffer;
        DataInLength = length;
        return previous;
    }

    /// <summary>Shrinks the produced Data-In (e.g. to an allocation length) without copying.</summary>
    public void TrimDataIn(int length) => DataInLength = Math.Clamp(length, 0, DataInLength);

    // ---- Data-Out hand-off ----------------------------------------------------------------------------------

    /// <summary>
    /// Completes when the transport has received all Data-Out the initiator will send for this command (immediate,
    /// unsolicited and solicited). The result may be shorter than the CDB asks for; the device decides what that means.
    /// </summary>
    public ValueTask<ReadOnlyMemory<byte>> ReceiveDataOutAsync()
    {
        if (_dataOutComplete)
        {
            return new ValueTask<ReadOnlyMemory<byte>>(DataOutMemory);
        }

        return new ValueTask<ReadOnlyMemory<byte>>(this, _dataOutSource.Version);
    }

    public bool IsDataOutComplete => _dataOutComplete;

    /// <summary>
    /// Queues <paramref name="whenComplete"/> to the thread pool once all Data-Out has arrived (or failed), unless it
    /// already has: then nothing is queued and the result is false. Lets a unit run a command on a worker with its
    /// data in hand without awaiting <see cref="ReceiveDataOutAsync"/> (an await needs a state machine; this needs
    /// nothing but the caller's reusable work item). At most one waiter per command.
    /// </summary>
    public bool QueueWhenDataOutComplete(IThreadPoolWorkItem whenComplete)
    {
        ArgumentNullException.ThrowIfNull(whenComplete);
        if (_dataOutComplete)
        {
            return false;
        }

        // A full fence on both sides (here and in ReleaseDataOutWaiter): completion sets the flag before it takes the
        // waiter, so if the flag is set now, whoever removes the waiter owns it.
        Interlocked.Exchange(ref _dataOutWaiter, whenComplete);
        if (_dataOutComplete && Interlocked.CompareExchange(ref _dataOutWaiter, null, whenComplete) == whenComplete)
        {
            return false;
        }

        return true;
    }

    private void ReleaseDataOutWaiter()
    {
        if (Interlocked.Exchange(ref _dataOutWaiter, null) is { } waiter)
        {
            ThreadPool.UnsafeQueueUserWorkItem(waiter, preferLocal: false);
        }
    }

    private ReadOnlyMemory<byte> DataOutMemory => _dataOut is null ? default : _dataOut.AsMemory(0, _dataOutLength);

    /// <summary>Transport side: buffer that Data-Out PDUs are copied into (exactly once).</summary>
    public Memory<byte> PrepareDataOut(int length)
    {
        if (_dataOut is null || _dataOut.Length < length)
        {
            if (_dataOut is not null)
            {
                _buffers.Return(_dataOut);
            }

            _dataOut = _buffers.Rent(Math.Max(length, 256));
        }

        _dataOutLength = length;
        return _dataOut.AsMemory(0, length);
    }

    /// <summary>Transport side: the buffer from the last <see cref="PrepareDataOut"/>, for copying PDUs in at their offsets.</summary>
    public Memory<byte> DataOutBuffer => _dataOut is null ? default : _dataOut.AsMemory(0, _dataOutLength);

    /// <summary>Transport side: all Data-Out has arrived; <paramref name="received"/> bytes are valid.</summary>
    public void CompleteDataOut(int received)
    {
        if (_dataOutComplete)
        {
            return;
        }

        _dataOutLength = Math.Clamp(received, 0, _dataOut?.Length ?? 0);
        _dataOutComplete = true;
        _dataOutSource.SetResult(DataOutMemory);
        ReleaseDataOutWaiter();
    }

    /// <summary>Transport side: the task was aborted or the connection dropped while Data-Out was pending.</summary>
    public void FailDataOut(Exception error)
    {
        if (_dataOutComplete)
        {
            return;
        }

        _dataOutComplete = true;
        _dataOutSource.SetException(error);
        ReleaseDataOutWaiter();
    }

    public void Abort()
    {
        try
        {
            _abort.Cancel();
        }
        catch (AggregateException)
        {
            // A registration threw; the task is still marked aborted, which is all task management needs.
        }

        FailDataOut(new OperationCanceledException("task aborted"));
    }

    /// <summary>Returns buffers and resets every field so the transport can reuse this instance.</summary>
    public void Reset()
    {
        if (_dataOut is not null)
        {
            _buffers.Return(_dataOut);
            _dataOut = null;
        }

        if (_dataIn is not null)
        {
            _buffers.Return(_dataIn);
            _dataIn = null;
        }

        if (!_abort.TryReset())
        {
            _abort.Dispose();
            _abort = new CancellationTokenSource();
        }

        _dataOutSource.Reset();
        _dataOutWaiter = null;
        _dataOutComplete = false;
        _dataOutLength = 0;
        _cdbLength = 0;
        DataInLength = 0;
        SenseLength = 0;
        Status = ScsiStatus.Good;
        CommandTransferLength = null;
        ExpectedDataTransferLength = 0;
        ExpectedBidirectionalReadLength = 0;
        Direction = DataDirection.None;
        Attribute = TaskAttribute.Simple;
        Tag = 0;
        Nexus = null!;
    }

    ReadOnlyMemory<byte> IValueTaskSource<ReadOnlyMemory<byte>>.GetResult(short token) => _dataOutSource.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadOnlyMemory<byte>>.GetStatus(short token) => _dataOutSource.GetStatus(token);

    void IValueTaskSource<ReadOnlyMemory<byte>>.OnCompleted(
        Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _dataOutSource.OnCompleted(continuation, state, token, flags);
}

using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TapeGateway.Iscsi.Pdu;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// One TCP connection of the target (RFC 7143 §4.1): login phase, then full feature phase. The read loop parses PDUs
/// with <see cref="PduReader"/> and handles them in order; command completions write responses concurrently, so all
/// output goes through <see cref="_writeLock"/>, which also orders StatSN.
/// </summary>
public sealed partial class IscsiConnection : IAsyncDisposable
{
    private readonly IscsiPortal _portal;
    private readonly Socket? _socket;
    private readonly SocketTransport? _transport;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private readonly byte[] _bhs = new byte[Bhs.Length];

    /// <summary>Scratch BHS for PDUs built in loops or across awaits; only touched under <see cref="_writeLock"/>.</summary>
    private readonly byte[] _txBhs = new byte[Bhs.Length];

    // A direct Data-In's header (BHS + digest), sent gathered with its data segment.
    private readonly byte[] _directHead = new byte[Bhs.Length + Bhs.DigestLength];
    private readonly long _id;
    private readonly Lock _taskLock = new();
    private readonly Dictionary<uint, IscsiTask> _tasks = [];
    private readonly Stack<IscsiTask> _taskPool = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<IscsiTask> _completed = new();
    private readonly SortedDictionary<uint, PendingCommand> _early = [];

    private ConnectionPhase _phase = ConnectionPhase.Login;
    private IscsiSession? _session;
    private bool _headerDigest;
    private bool _dataDigest;
    private int _maxRecvDataSegment = 8192;
    private int _maxSendDataSegment = 8192;
    private uint _statSn;
    private uint _nextTtt = 1;
    private long _lastReceiveTicks;
    private uint _pendingPingTtt = IscsiTask.ReservedTag;
    private long _pingSentTicks;
    private int _disposed;

    public IscsiConnection(IscsiPortal portal, Socket socket)
    {
        _portal = portal;
        _socket = socket;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        if (SocketTransport.IsSupported)
        {
            // Largest PDU the read loop needs whole: BHS, the largest AHS, both digests, our data segment limit, padding.
            var maxPdu = Bhs.Length + 1024 + (2 * Bhs.DigestLength) + Math.Max(portal.Options.MaxRecvDataSegmentLength, 8192) + 3;
            _transport = new SocketTransport(socket, maxPdu, RemoteEndPoint?.ToString() ?? "?");
            _stream = _transport.Output;
            _input = _transport.Input;
        }
        else
        {
            _stream = new NetworkStream(socket, ownsSocket: true);
            _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 65536, minimumReadSize: 16384));
        }

        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 65536));
        _logger = portal.LoggerFactory.CreateLogger<IscsiConnection>();
        _id = portal.Register(this);
        _lastReceiveTicks = portal.Time.GetTimestamp();
    }

    public IscsiConnection(IscsiPortal portal, Stream stream, EndPoint? local, EndPoint? remote)
    {
        _portal = portal;
        _stream = stream;
        LocalEndPoint = local;
        RemoteEndPoint = remote;
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 65536, minimumReadSize: 16384));
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 65536));
        _logger = portal.LoggerFactory.CreateLogger<IscsiConnection>();
        _id = portal.Register(this);
        _lastReceiveTicks = portal.Time.GetTimestamp();
    }

    private enum ConnectionPhase
    {
        Login,
        FullFeature,
        LoggedOut,
    }

    public EndPoint? LocalEndPoint { get; }

    public EndPoint? RemoteEndPoint { get; }

    public IscsiSession? Session => _session;

    /// <summary>Connection ID the initiator chose at login (RFC 7143 §11.12.8).</summary>
    public ushort Cid { get; private set; }

    private PduReaderOptions ReaderOptions => new(Math.Max(_maxRecvDataSegment, 8192), _headerDigest, _dataDigest);

    /// <summary>Runs the connection until the peer disconnects, logs out, or <paramref name="ct"/> fires.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _closing.Token);
        var token = linked.Token;
        using var keepalive = StartKeepalive(token);
        _transport?.Start();
        try
        {
            while (!token.IsCancellationRequested)
            {
                var read = await _input.ReadAsync(token).ConfigureAwait(false);
                var buffer = read.Buffer;
                try
                {
                    while (true)
                    {
                        var result = PduReader.TryRead(ref buffer, _bhs, ReaderOptions, out var ahs, out var data);
                        if (result == PduReadResult.NeedMoreData)
                        {
                            break;
                        }

                        Volatile.Write(ref _lastReceiveTicks, _portal.Time.GetTimestamp());
                        if (result == PduReadResult.DataDigestError)
                        {
                            LogDataDigestError(_logger, RemoteEndPoint, Bhs.Opcode(_bhs));
                            await HandleDataDigestErrorAsync().ConfigureAwait(false);
                            continue;
                        }

                        DrainCompleted();
                        await DispatchAsync(ahs, data, token).ConfigureAwait(false);
                        if (_phase == ConnectionPhase.LoggedOut)
                        {
                            return;
                        }
                    }
                }
                finally
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                }

                if (read.IsCompleted)
                {
                    if (!buffer.IsEmpty)
                    {
                        LogTruncated(_logger, RemoteEndPoint, buffer.Length);
                    }

                    return;
                }
            }
        }
        catch (IscsiProtocolException ex)
        {
            LogProtocolError(_logger, RemoteEndPoint, ex.Message);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (IOException ex)
        {
            LogConnectionError(_logger, RemoteEndPoint, ex.Message);
        }
        catch (SocketException ex)
        {
            LogConnectionError(_logger, RemoteEndPoint, ex.Message);
        }
        finally
        {
            await CloseAsync().ConfigureAwait(false);
        }
    }

    private ValueTask DispatchAsync(ReadOnlySequence<byte> ahs, ReadOnlySequence<byte> data, CancellationToken ct)
    {
        var opcode = Bhs.Opcode(_bhs);
        if (_phase == ConnectionPhase.Login)
        {
            if (opcode != IscsiOpcode.LoginRequest)
            {
                // RFC 7143 §6.3: only Login Requests are allowed before the full feature phase.
                throw new IscsiProtocolException($"{opcode} received during login");
            }

            return HandleLoginAsync(data);
        }

        switch (opcode)
        {
            case IscsiOpcode.ScsiCommand:
                return HandleScsiCommandAsync(ahs, data);
            case IscsiOpcode.ScsiDataOut:
                return HandleDataOutAsync(data);
            case IscsiOpcode.NopOut:
                return HandleNopOutAsync(data);
            case IscsiOpcode.TaskManagementRequest:
                return HandleTaskManagementAsync(ct);
            case IscsiOpcode.TextRequest:
                return HandleTextAsync(data);
            case IscsiOpcode.LogoutRequest:
                return HandleLogoutAsync();
            case IscsiOpcode.LoginRequest:
                // RFC 7143 §6.3: a Login Request in full feature phase is a protocol error.
                return SendRejectAsync(RejectReason.ProtocolError);
            case IscsiOpcode.Snack:
                // ERL 0: SNACK is not supported (RFC 7143 §7.1.4); reject, the initiator recovers by reissuing.
                return SendRejectAsync(RejectReason.CommandNotSupported);
            default:
                return SendRejectAsync(RejectReason.CommandNotSupported);
        }
    }

    // ---- output ------------------------------------------------------------------------------------------------

    private uint ExpCmdSn => _session?.ExpCmdSn ?? 0;

    private uint MaxCmdSn => _session?.MaxCmdSn ?? 0;

    /// <summary>Fills StatSN/ExpCmdSN/MaxCmdSN (words 24/28/32) and advances StatSN when this PDU carries status.</summary>
    private void StampSequenceNumbers(Span<byte> bhs, bool advanceStatSn)
    {
        Bhs.SetWord(bhs, Bhs.Word24, _statSn);
        if (advanceStatSn)
        {
            _statSn = unchecked(_statSn + 1);
        }

        Bhs.SetWord(bhs, Bhs.Word28, ExpCmdSn);
        Bhs.SetWord(bhs, Bhs.Word32, MaxCmdSn);
    }

    private void WritePdu(Span<byte> bhs, ReadOnlySpan<byte> data) =>
        PduWriter.Write(_output, bhs, data, _headerDigest, _dataDigest);

    private async ValueTask FlushAsync()
    {
        var result = await _output.FlushAsync().ConfigureAwait(false);
        if (result.IsCanceled || result.IsCompleted)
        {
            throw new IOException("connection closed while writing");
        }
    }

    private async ValueTask SendRejectAsync(RejectReason reason)
    {
        var rejected = _bhs.ToArray();
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            WriteReject(reason, rejected);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ReleaseWriteLock();
        }
    }

    /*
     * RFC 7143 §11.17 Reject: byte 2 reason, ITT 0xffffffff, StatSN/ExpCmdSN/MaxCmdSN, DataSN/R2TSN 0,
     * data segment = the complete header of the rejected PDU.
     */
    private void WriteReject(RejectReason reason, ReadOnlySpan<byte> rejectedBhs)
    {
        Span<byte> bhs = stackalloc byte[Bhs.Length];
        bhs.Clear();
        bhs[0] = (byte)IscsiOpcode.Reject;
        bhs[1] = Bhs.FinalBit;
        bhs[2] = (byte)reason;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, IscsiTask.ReservedTag);
        StampSequenceNumbers(bhs, advanceStatSn: true);
        WritePdu(bhs, rejectedBhs);
        LogRejected(_logger, RemoteEndPoint, reason, Bhs.Opcode(rejectedBhs));
    }

    private ValueTask HandleDataDigestErrorAsync()
    {
        // RFC 7143 §7.8: a data digest error on a command or Data-Out is answered with a Reject (reason 0x02);
        // at ERL 0 the initiator then recovers at task level (our SCSI layer sees the command never completing data).
        return SendRejectAsync(RejectReason.DataDigestError);
    }

    // ---- keepalive ---------------------------------------------------------------------------------------------

    private ITimer? StartKeepalive(CancellationToken ct)
    {
        var interval = _portal.Options.NopInIntervalSeconds;
        if (interval <= 0)
        {
            return null;
        }

        var period = TimeSpan.FromSeconds(Math.Min(interval, _portal.Options.NopInTimeoutSeconds) / 2.0 + 0.5);
        return _portal.Time.CreateTimer(_ => _ = KeepaliveTickAsync(ct), null, period, period);
    }

    /// <summary>RFC 7143 §11.19: target-initiated NOP-In with a TTT asks for a NOP-Out; no answer in time drops us.</summary>
    private async Task KeepaliveTickAsync(CancellationToken ct)
    {
        if (_phase != ConnectionPhase.FullFeature || ct.IsCancellationRequested)
        {
            return;
        }

        var now = _portal.Time.GetTimestamp();
        if (_pendingPingTtt != IscsiTask.ReservedTag)
        {
            if (_portal.Time.GetElapsedTime(_pingSentTicks, now).TotalSeconds > _portal.Options.NopInTimeoutSeconds)
            {
                LogNopTimeout(_logger, RemoteEndPoint);
                await _closing.CancelAsync().ConfigureAwait(false);
            }

            return;
        }

        if (_portal.Time.GetElapsedTime(Volatile.Read(ref _lastReceiveTicks), now).TotalSeconds < _portal.Options.NopInIntervalSeconds)
        {
            return;
        }

        try
        {
            await _writeLock.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                _pendingPingTtt = NextTtt();
                _pingSentTicks = now;
                WriteNopIn(IscsiTask.ReservedTag, _pendingPingTtt, default, advanceStatSn: false);
                await FlushAsync().ConfigureAwait(false);
            }
            finally
            {
                ReleaseWriteLock();
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is going away; the read loop reports why.
        }
    }

    private uint NextTtt()
    {
        var t = _nextTtt;
        _nextTtt = _nextTtt >= 0x7FFF_FFFF ? 1 : _nextTtt + 1;
        return t;
    }

    /// <summary>RFC 7143 §11.18 NOP-In.</summary>
    private void WriteNopIn(uint itt, uint ttt, ReadOnlySpan<byte> data, bool advanceStatSn)
    {
        Span<byte> bhs = stackalloc byte[Bhs.Length];
        bhs.Clear();
        bhs[0] = (byte)IscsiOpcode.NopIn;
        bhs[1] = Bhs.FinalBit;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, itt);
        Bhs.SetWord(bhs, Bhs.Word20, ttt);
        StampSequenceNumbers(bhs, advanceStatSn);
        WritePdu(bhs, data);
    }

    // ---- shutdown ----------------------------------------------------------------------------------------------

    /// <summary>RFC 7143 §11.9 Async Message, event 1: the target asks the initiator to log out (graceful shutdown).</summary>
    public async Task RequestLogoutAsync(int seconds)
    {
        if (_phase != ConnectionPhase.FullFeature || _session?.Type != SessionType.Normal)
        {
            return;
        }

        try
        {
            await _writeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                Span<byte> bhs = stackalloc byte[Bhs.Length];
                bhs.Clear();
                bhs[0] = (byte)IscsiOpcode.AsyncMessage;
                bhs[1] = Bhs.FinalBit;
                Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, IscsiTask.ReservedTag);
                StampSequenceNumbers(bhs, advanceStatSn: true);
                bhs[36] = 1; // AsyncEvent: target requests logout
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bhs[42..], (ushort)seconds); // Parameter3: Time2Wait for logout
                WritePdu(bhs, default);
                await FlushAsync().ConfigureAwait(false);
            }
            finally
            {
                ReleaseWriteLock();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    /// <summary>Drops the connection (session reinstatement, cold reset, shutdown).</summary>
    public void Abort()
    {
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Closed and disposed meanwhile (a shutdown's snapshot of the connections can outlive one).
        }
    }

    private async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _phase = ConnectionPhase.LoggedOut;

        // The socket goes first: a send the peer is not taking then fails at once, so the writer finishes (or drops)
        // what it holds and lets go of the write lock, and aborted tasks can be done. Data already sent (a Logout
        // Response) still reaches the peer before the FIN.
        ShutdownSocket();
        await _closing.CancelAsync().ConfigureAwait(false);
        await AbortAllTasksAsync().ConfigureAwait(false);
        DrainCompleted();
        if (_session is { } session && (session.Connection is null || ReferenceEquals(session.Connection, this)))
        {
            // A reinstated connection (see Bind) has already taken the session over; only the last one ends it.
            session.Connection = null;
            if (_portal.Sessions.Remove(session) && session.Nexus is { } nexus)
            {
                session.Target?.NexusLost(nexus);
                LogSessionClosed(_logger, session.ToString());
            }
        }

        _portal.Unregister(_id);
        try
        {
            await _input.CompleteAsync().ConfigureAwait(false);

            // The output pipe is single-writer: complete it under the write lock, never beside a flush in progress.
            await _writeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await _output.CompleteAsync().ConfigureAwait(false);
            }
            finally
            {
                ReleaseWriteLock();
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
        }

        if (_transport is not null)
        {
            // The transport disposes the socket once its threads are gone (this may be the receive thread itself).
            _transport.Release();
            return;
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private void ShutdownSocket()
    {
        if (_transport is not null)
        {
            _transport.Shutdown();
            return;
        }

        try
        {
            _socket?.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        _closing.Dispose();
    }

    private sealed record PendingCommand(byte[] Bhs, byte[] Ahs, byte[] Data);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "{Remote}: protocol error, closing connection: {Reason}")]
    private static partial void LogProtocolError(ILogger logger, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "{Remote}: connection error: {Reason}")]
    private static partial void LogConnectionError(ILogger logger, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "{Remote}: data digest error on {Opcode}")]
    private static partial void LogDataDigestError(ILogger logger, EndPoint? remote, IscsiOpcode opcode);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "{Remote}: connection ended inside a PDU ({Bytes} bytes left)")]
    private static partial void LogTruncated(ILogger logger, EndPoint? remote, long bytes);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "{Remote}: rejected {Opcode} with reason {Reason}")]
    private static partial void LogRejected(ILogger logger, EndPoint? remote, RejectReason reason, IscsiOpcode opcode);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "{Remote}: no NOP-Out answer in time, dropping connection")]
    private static partial void LogNopTimeout(ILogger logger, EndPoint? remote);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "session closed: {Session}")]
    private static partial void LogSessionClosed(ILogger logger, string session);
}

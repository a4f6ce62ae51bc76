using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>
/// A small iSCSI initiator for end-to-end tests, built on the project's own PDU codec (<see cref="PduReader"/>,
/// <see cref="PduWriter"/>, <see cref="Bhs"/>). One TCP connection, one session, ERL 0. A background loop reads PDUs,
/// answers the target's NOP-In pings, tracks StatSN/ExpCmdSN/MaxCmdSN, and routes every other PDU to whoever waits
/// for its Initiator Task Tag (a Reject goes to the task of the header it carries).
/// </summary>
/// <example>
/// <code>
/// await using var ini = await TestInitiator.ConnectAsync(endpoint, "iqn.2026-11.org.tapegateway:volume0");
/// await ini.ClearUnitAttentionsAsync(0);
/// var r = await ini.ExecuteAsync(0, Cdb.Read10(0, 8), expectedDataIn: 4096);
/// </code>
/// </example>
public sealed partial class TestInitiator : IAsyncDisposable
{
    public const uint ReservedTag = 0xFFFF_FFFF;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<uint, Channel<ReceivedPdu>> _waiters = new();
    private readonly Channel<ReceivedPdu> _unsolicited = Channel.CreateUnbounded<ReceivedPdu>();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _snLock = new();
    private readonly List<string> _violations = [];
    private readonly List<byte> _rxLoginText = [];
    private readonly Dictionary<string, string> _rxLoginKeys = new(StringComparer.Ordinal);
    private Task _receiveLoop = Task.CompletedTask;
    private uint _nextItt = 0x100;
    private uint _cmdSn;
    private uint _expStatSn;
    private bool _statSnKnown;
    private uint _expCmdSn;
    private uint _maxCmdSn;
    private volatile bool _rxHeaderDigest;
    private volatile bool _rxDataDigest;
    private bool _txHeaderDigest;
    private bool _txDataDigest;
    private int _disposed;

    private TestInitiator(Socket socket, InitiatorOptions options)
    {
        _socket = socket;
        Options = options;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 65_536));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 65_536));
        _cmdSn = options.InitialCmdSn;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
    }

    public InitiatorOptions Options { get; }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>Values in force after login; null before.</summary>
    public NegotiatedParameters? Negotiated { get; private set; }

    /// <summary>TSIH the target assigned at login.</summary>
    public ushort Tsih { get; private set; }

    public bool InFullFeaturePhase => Negotiated is not null;

    /// <summary>Completes when the connection has ended (the target closed it, or we did).</summary>
    public Task Closed => _closed.Task;

    /// <summary>Target PDUs nobody waited for: Async Messages, Rejects of unknown tasks, stray responses.</summary>
    public ChannelReader<ReceivedPdu> Unsolicited => _unsolicited.Reader;

    /// <summary>The CmdSN the next non-immediate command will carry.</summary>
    public uint NextCmdSn
    {
        get
        {
            lock (_snLock)
            {
                return _cmdSn;
            }
        }
    }

    public uint ExpCmdSn
    {
        get
        {
            lock (_snLock)
            {
                return _expCmdSn;
            }
        }
    }

    public uint MaxCmdSn
    {
        get
        {
            lock (_snLock)
            {
                return _maxCmdSn;
            }
        }
    }

    /// <summary>Connection-level RFC violations noticed (StatSN out of order, PDUs for unknown tasks…).</summary>
    public IReadOnlyList<string> ProtocolViolations
    {
        get
        {
            lock (_violations)
            {
                return [.. _violations];
            }
        }
    }

    /// <summary>Connects and logs in; <paramref name="targetName"/> null opens a discovery session.</summary>
    public static async Task<TestInitiator> ConnectAsync(
        IPEndPoint endpoint, string? targetName, InitiatorOptions? options = null, CancellationToken ct = default)
    {
        var initiator = await ConnectRawAsync(endpoint, options, ct);
        try
        {
            await initiator.LoginAsync(targetName, ct);
            return initiator;
        }
        catch
        {
            await initiator.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens the TCP connection and starts the receive loop, without logging in.</summary>
    public static async Task<TestInitiator> ConnectRawAsync(IPEndPoint endpoint, InitiatorOptions? options = null, CancellationToken ct = default)
    {
        options ??= new InitiatorOptions();
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.Timeout);
            await socket.ConnectAsync(endpoint, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var initiator = new TestInitiator(socket, options);
        initiator._receiveLoop = Task.Run(initiator.ReceiveLoopAsync);
        return initiator;
    }

    // ---- sending --------------------------------------------------------------------------------------------------

    /// <summary>Writes bytes to the socket exactly as given (garbage, hand-built PDUs).</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _output.WriteAsync(bytes);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Sends a BHS as given (DataSegmentLength untouched, so it may lie), followed by the header digest when one is
    /// in force, and nothing else.
    /// </summary>
    public async Task SendHeaderOnlyAsync(byte[] bhs)
    {
        var bytes = new byte[Bhs.Length + (_txHeaderDigest ? Bhs.DigestLength : 0)];
        bhs.AsSpan(0, Bhs.Length).CopyTo(bytes);
        if (_txHeaderDigest)
        {
            Crc32C.Write(bytes.AsSpan(Bhs.Length), Crc32C.Compute(bytes.AsSpan(0, Bhs.Length)));
        }

        await SendRawAsync(bytes);
    }

    /// <summary>Sends one PDU through <see cref="PduWriter"/> with the digests in force.</summary>
    public async Task SendPduAsync(byte[] bhs, ReadOnlyMemory<byte> data)
    {
        await _sendLock.WaitAsync();
        try
        {
            WritePdu(bhs, data.Span);
            await FlushAsync();
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private void WritePdu(byte[] bhs, ReadOnlySpan<byte> data) => PduWriter.Write(_output, bhs, data, _txHeaderDigest, _txDataDigest);

    private async ValueTask FlushAsync()
    {
        var result = await _output.FlushAsync();
        if (result.IsCompleted || result.IsCanceled)
        {
            throw new IscsiConnectionClosedException();
        }
    }

    /// <summary>A fresh BHS with opcode, flags, ITT, and ExpStatSN (word 28) filled in.</summary>
    private byte[] NewBhs(IscsiOpcode opcode, bool immediate, byte flags, uint itt)
    {
        var bhs = new byte[Bhs.Length];
        bhs[0] = (byte)((byte)opcode | (immediate ? Bhs.ImmediateBit : 0));
        bhs[1] = flags;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, itt);
        lock (_snLock)
        {
            Bhs.SetWord(bhs, Bhs.Word28, _expStatSn);
        }

        return bhs;
    }

    /// <summary>Takes the CmdSN for a request; non-immediate requests advance it (RFC 7143 §4.2.2.1).</summary>
    private uint TakeCmdSn(bool immediate)
    {
        lock (_snLock)
        {
            var sn = _cmdSn;
            if (!immediate)
            {
                _cmdSn = unchecked(_cmdSn + 1);
            }

            return sn;
        }
    }

    public uint AllocateItt()
    {
        var itt = Interlocked.Increment(ref _nextItt);
        return itt == ReservedTag ? Interlocked.Increment(ref _nextItt) : itt;
    }

    internal static void WriteLun(Span<byte> bhs, ushort lun)
    {
        var encoded = lun < 256 ? (ulong)lun << 48 : (ulong)(0x4000 | lun) << 48;
        BinaryPrimitives.WriteUInt64BigEndian(bhs[Bhs.LunOffset..], encoded);
    }

    // ---- receiving ------------------------------------------------------------------------------------------------

    /// <summary>Starts collecting PDUs for <paramref name="itt"/>; call before sending the request.</summary>
    public ChannelReader<ReceivedPdu> Register(uint itt)
    {
        var channel = Channel.CreateUnbounded<ReceivedPdu>(new UnboundedChannelOptions { SingleReader = true });
        if (!_waiters.TryAdd(itt, channel))
        {
            throw new InvalidOperationException($"ITT 0x{itt:x8} is already in use");
        }

        if (_closed.Task.IsCompleted)
        {
            channel.Writer.TryComplete(new IscsiConnectionClosedException());
        }

        return channel.Reader;
    }

    public void Unregister(uint itt) => _waiters.TryRemove(itt, out _);

    /// <summary>Next PDU for a registered ITT, or <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public async Task<ReceivedPdu> ReceiveAsync(ChannelReader<ReceivedPdu> reader, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Options.Timeout);
        try
        {
            return await reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no PDU from the target within {timeout ?? Options.Timeout}");
        }
        catch (ChannelClosedException ex)
        {
            throw ex.InnerException as IscsiConnectionClosedException ?? new IscsiConnectionClosedException();
        }
    }

    /// <summary>True when nothing arrives for the ITT within <paramref name="quiet"/> (for "the target ignores this" tests).</summary>
    public async Task<bool> StaysQuietAsync(ChannelReader<ReceivedPdu> reader, TimeSpan quiet)
    {
        try
        {
            await ReceiveAsync(reader, quiet);
            return false;
        }
        catch (TimeoutException)
        {
            return true;
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var header = new byte[Bhs.Length];
        Exception? failure = null;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var read = await _input.ReadAsync(_stop.Token);
                var buffer = read.Buffer;
                try
                {
                    while (true)
                    {
                        var options = new PduReaderOptions(
                            Math.Max(Options.MaxRecvDataSegmentLength, 8192), _rxHeaderDigest, _rxDataDigest);
                        var result = PduReader.TryRead(ref buffer, header, options, out _, out var data);
                        if (result == PduReadResult.NeedMoreData)
                        {
                            break;
                        }

                        var pdu = new ReceivedPdu((byte[])header.Clone(), data.ToArray(), result == PduReadResult.DataDigestError);
                        await DispatchAsync(pdu);
                    }
                }
                finally
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                }

                if (read.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or SocketException or IscsiProtocolException or ObjectDisposedException or InvalidOperationException)
        {
            failure = ex;
        }
        finally
        {
            var closed = failure is null
                ? new IscsiConnectionClosedException()
                : new IscsiConnectionClosedException("the connection failed: " + failure.Message, failure);
            foreach (var waiter in _waiters.Values)
            {
                waiter.Writer.TryComplete(closed);
            }

            _unsolicited.Writer.TryComplete();
            _closed.TrySetResult();
        }
    }

    private async ValueTask DispatchAsync(ReceivedPdu pdu)
    {
        TrackSequenceNumbers(pdu);
        switch (pdu.Opcode)
        {
            case IscsiOpcode.LoginResponse:
                TrackLoginResponse(pdu);
                break;
            case IscsiOpcode.NopIn when pdu.Itt == ReservedTag:
                if (Options.AnswerNopIn && pdu.Word(Bhs.Word20) != ReservedTag)
                {
                    await AnswerNopInAsync(pdu);
                }

                _unsolicited.Writer.TryWrite(pdu);
                return;
            case IscsiOpcode.Reject when pdu.Data.Length >= Bhs.Length:
                var rejectedItt = Bhs.InitiatorTaskTag(pdu.Data);
                if (_waiters.TryGetValue(rejectedItt, out var rejectWaiter))
                {
                    rejectWaiter.Writer.TryWrite(pdu);
                    return;
                }

                _unsolicited.Writer.TryWrite(pdu);
                return;
            case IscsiOpcode.AsyncMessage:
                _unsolicited.Writer.TryWrite(pdu);
                return;
        }

        if (_waiters.TryGetValue(pdu.Itt, out var waiter))
        {
            waiter.Writer.TryWrite(pdu);
        }
        else
        {
            _unsolicited.Writer.TryWrite(pdu);
        }
    }

    /// <summary>
    /// RFC 7143 §4.2.2.1/§4.2.2.2: StatSN advances by one per status-carrying PDU, ExpCmdSN/MaxCmdSN only move forward.
    /// </summary>
    private void TrackSequenceNumbers(ReceivedPdu pdu)
    {
        var carriesStatus = pdu.Opcode switch
        {
            IscsiOpcode.ScsiResponse or IscsiOpcode.TaskManagementResponse or IscsiOpcode.LogoutResponse
                or IscsiOpcode.TextResponse or IscsiOpcode.LoginResponse or IscsiOpcode.Reject or IscsiOpcode.AsyncMessage => true,
            IscsiOpcode.NopIn => pdu.Itt != ReservedTag,
            IscsiOpcode.ScsiDataIn => (pdu.Flags & 0x01) != 0,
            _ => false,
        };

        lock (_snLock)
        {
            if (carriesStatus)
            {
                var statSn = pdu.StatSn;
                if (_statSnKnown && statSn != _expStatSn)
                {
                    Violation($"{pdu}: StatSN {statSn} but expected {_expStatSn}");
                }

                if (!_statSnKnown || SerialGreaterOrEqual(statSn, _expStatSn))
                {
                    _expStatSn = unchecked(statSn + 1);
                    _statSnKnown = true;
                }
            }

            if (pdu.Opcode is not IscsiOpcode.LoginResponse || Bhs.Word(pdu.Header, 36) >> 16 == 0)
            {
                if (SerialGreaterOrEqual(pdu.ExpCmdSn, _expCmdSn) || _expCmdSn == 0)
                {
                    _expCmdSn = pdu.ExpCmdSn;
                }

                if (SerialGreaterOrEqual(pdu.MaxCmdSn, _maxCmdSn) || _maxCmdSn == 0)
                {
                    _maxCmdSn = pdu.MaxCmdSn;
                }
            }
        }
    }

    private static bool SerialGreaterOrEqual(uint a, uint b) => (int)(a - b) >= 0;

    private void Violation(string text)
    {
        lock (_violations)
        {
            _violations.Add(text);
        }
    }

    /// <summary>Echo the target's ping: NOP-Out with ITT 0xffffffff and its TTT (RFC 7143 §11.18.3), immediate.</summary>
    private async Task AnswerNopInAsync(ReceivedPdu ping)
    {
        var bhs = NewBhs(IscsiOpcode.NopOut, immediate: true, Bhs.FinalBit, ReservedTag);
        ping.Header.AsSpan(Bhs.LunOffset, 8).CopyTo(bhs.AsSpan(Bhs.LunOffset));
        Bhs.SetWord(bhs, Bhs.Word20, ping.Word(Bhs.Word20));
        Bhs.SetWord(bhs, Bhs.Word24, TakeCmdSn(immediate: true));
        try
        {
            await SendPduAsync(bhs, ping.Data);
        }
        catch (Exception ex) when (ex is IOException or IscsiConnectionClosedException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    // ---- shutdown -------------------------------------------------------------------------------------------------

    /// <summary>Closes the TCP connection abruptly (no Logout), as a crashed initiator would.</summary>
    public async Task DropConnectionAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        await _closed.Task.WaitAsync(Options.Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        try
        {
            await _receiveLoop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }

        await _input.CompleteAsync();
        await _output.CompleteAsync();
        await _stream.DisposeAsync();
        _sendLock.Dispose();
        _stop.Dispose();
    }
}

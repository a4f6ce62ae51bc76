using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TapeGateway.Benchmarks.Harness;

/// <summary>
/// The smallest iSCSI initiator that can stream WRITE(6) commands: one blocking loopback socket, one session, no
/// digests, ERL 0, every buffer preallocated. After login it allocates nothing, so a process-wide allocation count
/// taken around <see cref="WriteBurst"/> is the target's alone. Immediate data up to FirstBurstLength, the rest in
/// answer to R2Ts (never unsolicited Data-Out): the same shape as libiscsi with the target's keys.
/// Shared by the benchmarks and the allocation gate test (linked source), so both drive the same PDUs.
/// </summary>
public sealed class RawInitiator : IDisposable
{
    private const int BhsLength = 48;

    private readonly Socket _socket;
    private readonly byte[] _tx = new byte[BhsLength];
    private readonly byte[] _rx = new byte[BhsLength];
    private readonly byte[] _scratch;
    private readonly byte[] _payload;
    private readonly uint[] _slotItt;
    private uint _cmdSn = 1;
    private uint _expStatSn;
    private uint _nextItt = 0x1000;
    private int _lastDataLength;

    private RawInitiator(Socket socket, int maxPayload, int maxDepth)
    {
        _socket = socket;
        _payload = new byte[maxPayload];
        new Random(7).NextBytes(_payload);
        _scratch = new byte[Math.Max(64 * 1024, maxPayload + 8)];
        _slotItt = new uint[maxDepth];
    }

    /// <summary>Negotiated values the target answered (MaxRecvDataSegmentLength is the target's declaration).</summary>
    public int TargetMaxRecvDataSegmentLength { get; private set; } = 8192;

    public int FirstBurstLength { get; private set; } = 65536;

    public bool ImmediateData { get; private set; }

    public int CheckConditions { get; private set; }

    /// <summary>Connects and logs in (operational stage only; the target must not require CHAP).</summary>
    public static RawInitiator Connect(IPEndPoint endpoint, string targetName, int maxPayload, int maxDepth)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(endpoint);
        var initiator = new RawInitiator(socket, maxPayload, maxDepth);
        try
        {
            initiator.Login(targetName);

            // The new nexus has a unit attention pending (power on / reset): take it before anything is measured.
            while (initiator.Simple(1, 0x00, 0) != 0)
            {
            }

            return initiator;
        }
        catch
        {
            initiator.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="count"/> WRITE(6) commands of <paramref name="length"/> bytes to <paramref name="lun"/>,
    /// keeping <paramref name="depth"/> in flight, and waits for every status. Every Nth command may be replaced by a
    /// REWIND (<paramref name="rewindEvery"/>, 0 = never) so an unbounded run fits a bounded tape.
    /// Returns the number of commands that did not end GOOD.
    /// </summary>
    public int WriteBurst(int lun, int length, int count, int depth, ref long sequence, int rewindEvery)
    {
        depth = Math.Min(depth, _slotItt.Length);
        var issued = 0;
        var completed = 0;
        var failures = 0;
        var inFlight = 0;
        while (completed < count)
        {
            while (inFlight < depth && issued < count)
            {
                var slot = FreeSlot();
                var rewind = rewindEvery > 0 && (sequence % rewindEvery) == rewindEvery - 1;
                sequence++;
                _slotItt[slot] = SendCommand(lun, rewind ? 0 : length, rewind);
                issued++;
                inFlight++;
            }

            ReadBhs();
            switch (_rx[0] & 0x3F)
            {
                case 0x31: // R2T
                    SendDataOut(lun);
                    break;
                case 0x21: // SCSI Response
                    _expStatSn = Word(24) + 1;
                    if (_rx[3] != 0)
                    {
                        failures++;
                        CheckConditions++;
                    }

                    ReleaseSlot(Word(16));
                    inFlight--;
                    completed++;
                    break;
                case 0x20: // NOP-In: answer pings so a slow run is not dropped
                    if (Word(20) != 0xFFFF_FFFF)
                    {
                        SendNopOut(Word(20));
                    }

                    break;
                default:
                    throw new InvalidOperationException($"unexpected PDU opcode 0x{_rx[0] & 0x3F:x2}");
            }
        }

        return failures;
    }

    /// <summary>
    /// Rewinds, then reads <paramref name="count"/> records of <paramref name="length"/> bytes with READ(6), one at a
    /// time as tapeperf does (queue depth 1), discarding the data. Returns how many did not end GOOD.
    /// </summary>
    public int ReadBurst(int lun, int length, int count)
    {
        var failures = Simple(lun, 0x01, 0);
        for (var i = 0; i < count; i++)
        {
            failures += Simple(lun, 0x08, length);
        }

        return failures;
    }

    /// <summary>One command without Data-Out (TEST UNIT READY, REWIND, READ(6) of <paramref name="length"/> bytes), waited for.</summary>
    private int Simple(int lun, byte opcode, int length)
    {
        var itt = _nextItt++;
        var bhs = _tx.AsSpan();
        bhs.Clear();
        bhs[0] = 0x01;
        bhs[1] = (byte)(0x80 | (length > 0 ? 0x40 : 0) | 0x01); // F, R (with a length), SIMPLE
        bhs[9] = (byte)lun;
        BinaryPrimitives.WriteUInt32BigEndian(bhs[16..], itt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[20..], (uint)length);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[24..], _cmdSn++);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[28..], _expStatSn);
        bhs[32] = opcode;
        bhs[34] = (byte)(length >> 16);
        bhs[35] = (byte)(length >> 8);
        bhs[36] = (byte)length;
        Send(_tx);
        while (true)
        {
            ReadBhs();
            switch (_rx[0] & 0x3F)
            {
                case 0x25: // Data-In; S bit: status collapsed into the last one
                    if ((_rx[1] & 0x01) != 0)
                    {
                        _expStatSn = Word(24) + 1;
                        return _rx[3] == 0 ? 0 : 1;
                    }

                    break;
                case 0x21:
                    _expStatSn = Word(24) + 1;
                    return _rx[3] == 0 ? 0 : 1;
                case 0x20:
                    if (Word(20) != 0xFFFF_FFFF)
                    {
                        SendNopOut(Word(20));
                    }

                    break;
                default:
                    throw new InvalidOperationException($"unexpected PDU opcode 0x{_rx[0] & 0x3F:x2}");
            }
        }
    }

    private int FreeSlot()
    {
        for (var i = 0; i < _slotItt.Length; i++)
        {
            if (_slotItt[i] == 0)
            {
                return i;
            }
        }

        throw new InvalidOperationException("no free slot");
    }

    private void ReleaseSlot(uint itt)
    {
        for (var i = 0; i < _slotItt.Length; i++)
        {
            if (_slotItt[i] == itt)
            {
                _slotItt[i] = 0;
                return;
            }
        }

        throw new InvalidOperationException($"response for unknown ITT 0x{itt:x8}");
    }

    private uint SendCommand(int lun, int length, bool rewind)
    {
        var itt = _nextItt++;
        if (_nextItt == 0xFFFF_FFFF)
        {
            _nextItt = 0x1000;
        }

        var immediate = ImmediateData ? Math.Min(length, Math.Min(FirstBurstLength, TargetMaxRecvDataSegmentLength)) : 0;
        var bhs = _tx.AsSpan();
        bhs.Clear();
        bhs[0] = 0x01;
        bhs[1] = (byte)(0x80 | (length > 0 ? 0x20 : 0) | 0x01); // F, W, SIMPLE
        SetLength(bhs, immediate);
        bhs[9] = (byte)lun;
        BinaryPrimitives.WriteUInt32BigEndian(bhs[16..], itt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[20..], (uint)length);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[24..], _cmdSn++);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[28..], _expStatSn);
        if (rewind)
        {
            bhs[32] = 0x01;
        }
        else
        {
            bhs[32] = 0x0A; // WRITE(6), variable block
            bhs[34] = (byte)(length >> 16);
            bhs[35] = (byte)(length >> 8);
            bhs[36] = (byte)length;
        }

        Send(_tx);
        SendPadded(_payload.AsSpan(0, immediate));
        return itt;
    }

    /// <summary>Answers an R2T with Data-Out PDUs of at most the target's MaxRecvDataSegmentLength.</summary>
    private void SendDataOut(int lun)
    {
        var itt = Word(16);
        var ttt = Word(20);
        var offset = (int)Word(40);
        var remaining = (int)Word(44);
        uint dataSn = 0;
        while (remaining > 0)
        {
            var n = Math.Min(remaining, TargetMaxRecvDataSegmentLength);
            var bhs = _tx.AsSpan();
            bhs.Clear();
            bhs[0] = 0x05;
            bhs[1] = (byte)(n == remaining ? 0x80 : 0);
            SetLength(bhs, n);
            bhs[9] = (byte)lun;
            BinaryPrimitives.WriteUInt32BigEndian(bhs[16..], itt);
            BinaryPrimitives.WriteUInt32BigEndian(bhs[20..], ttt);
            BinaryPrimitives.WriteUInt32BigEndian(bhs[28..], _expStatSn);
            BinaryPrimitives.WriteUInt32BigEndian(bhs[36..], dataSn++);
            BinaryPrimitives.WriteUInt32BigEndian(bhs[40..], (uint)offset);
            Send(_tx);
            SendPadded(_payload.AsSpan(offset, n));
            offset += n;
            remaining -= n;
        }
    }

    private void SendNopOut(uint ttt)
    {
        var bhs = _tx.AsSpan();
        bhs.Clear();
        bhs[0] = 0x40 | 0x00; // immediate NOP-Out
        bhs[1] = 0x80;
        BinaryPrimitives.WriteUInt32BigEndian(bhs[16..], 0xFFFF_FFFF);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[20..], ttt);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[24..], _cmdSn);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[28..], _expStatSn);
        Send(_tx);
    }

    private void Login(string targetName)
    {
        var text = new StringBuilder()
            .Append("InitiatorName=iqn.2026-11.tools:rawinitiator\0")
            .Append("SessionType=Normal\0")
            .Append("TargetName=").Append(targetName).Append('\0')
            .Append("HeaderDigest=None\0DataDigest=None\0")
            .Append("MaxRecvDataSegmentLength=262144\0")
            .Append("ImmediateData=Yes\0InitialR2T=No\0")
            .Append("FirstBurstLength=262144\0MaxBurstLength=1048576\0MaxOutstandingR2T=1\0")
            .Append("MaxConnections=1\0ErrorRecoveryLevel=0\0DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0")
            .Append("DefaultTime2Wait=2\0DefaultTime2Retain=0\0");
        var keys = Encoding.ASCII.GetBytes(text.ToString());
        var bhs = _tx.AsSpan();
        bhs.Clear();
        bhs[0] = 0x40 | 0x03; // immediate Login Request
        bhs[1] = 0x80 | (1 << 2) | 3; // T=1, CSG=operational, NSG=full feature
        SetLength(bhs, keys.Length);
        bhs[8] = 0x80; // ISID: random format
        bhs[13] = 0x01;
        BinaryPrimitives.WriteUInt32BigEndian(bhs[16..], 0x10);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[24..], _cmdSn);
        Send(_tx);
        SendPadded(keys);

        ReadBhs();
        if ((_rx[0] & 0x3F) != 0x23 || _rx[36] != 0)
        {
            throw new InvalidOperationException($"login failed: opcode 0x{_rx[0]:x2} status {_rx[36]}/{_rx[37]}");
        }

        if ((_rx[1] & 0x80) == 0 || (_rx[1] & 0x03) != 3)
        {
            throw new InvalidOperationException("target did not move to the full feature phase in one step");
        }

        _expStatSn = Word(24) + 1;
        foreach (var pair in Encoding.ASCII.GetString(_scratch, 0, _lastDataLength).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var (key, value) = (pair[..eq], pair[(eq + 1)..]);
            switch (key)
            {
                case "MaxRecvDataSegmentLength":
                    TargetMaxRecvDataSegmentLength = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "FirstBurstLength":
                    FirstBurstLength = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "ImmediateData":
                    ImmediateData = value == "Yes";
                    break;
            }
        }

        if (!ImmediateData)
        {
            // RFC 7143 §13.11: ImmediateData is AND-negotiated; the answer may be omitted when it equals our offer.
            ImmediateData = !text.ToString().Contains("ImmediateData=No", StringComparison.Ordinal);
        }
    }

    /// <summary>Reads one BHS into <see cref="_rx"/> and its data segment (if any) into the scratch buffer.</summary>
    private void ReadBhs()
    {
        Receive(_rx);
        var length = (_rx[5] << 16) | (_rx[6] << 8) | _rx[7];
        var padded = length + ((4 - (length & 3)) & 3);
        if (padded > _scratch.Length)
        {
            throw new InvalidOperationException($"data segment of {length} bytes");
        }

        Receive(_scratch.AsSpan(0, padded));
        _lastDataLength = length;
    }

    private uint Word(int offset) => BinaryPrimitives.ReadUInt32BigEndian(_rx.AsSpan(offset));

    private static void SetLength(Span<byte> bhs, int length)
    {
        bhs[5] = (byte)(length >> 16);
        bhs[6] = (byte)(length >> 8);
        bhs[7] = (byte)length;
    }

    private void SendPadded(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        Send(data);
        var pad = (4 - (data.Length & 3)) & 3;
        if (pad > 0)
        {
            Span<byte> zeros = stackalloc byte[4];
            zeros.Clear();
            Send(zeros[..pad]);
        }
    }

    private void Send(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[_socket.Send(data)..];
        }
    }

    private void Receive(Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var n = _socket.Receive(buffer);
            if (n == 0)
            {
                throw new EndOfStreamException("the target closed the connection");
            }

            buffer = buffer[n..];
        }
    }

    public void Dispose() => _socket.Dispose();
}

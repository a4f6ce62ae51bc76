using System.Buffers;
using System.Net;
using System.Net.Sockets;
using TapeGateway.Iscsi.Login;
using TapeGateway.Iscsi.Pdu;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Connection;

public sealed partial class IscsiConnection
{
    private readonly TextSegmentAccumulator _textIn = new();
    private byte[]? _textOut;
    private int _textOutOffset;
    private uint _textTtt = IscsiTask.ReservedTag;

    /*
     * RFC 7143 §11.10 Text Request: 1 F|C; 16 ITT; 20 TTT; 24 CmdSN; 28 ExpStatSN; data = key=value pairs.
     * §11.11 Text Response: 1 F|C; 16 ITT; 20 TTT (0xffffffff when final); 24 StatSN; 28 ExpCmdSN; 32 MaxCmdSN.
     * Long answers (SendTargets on a big gateway) go out in pieces: C=1 with a TTT, the initiator asks for the next
     * piece with an empty request carrying that TTT (§6.2.1 / §11.11.1).
     */
    private async ValueTask HandleTextAsync(ReadOnlySequence<byte> data)
    {
        var session = _session!;
        var itt = Bhs.InitiatorTaskTag(_bhs);
        var ttt = Bhs.Word(_bhs, Bhs.Word20);
        var continues = (_bhs[1] & 0x40) != 0;
        var check = session.Admit(Bhs.Word(_bhs, CmdSnOffset), Bhs.IsImmediate(_bhs));
        if (check is CmdSnCheck.Duplicate or CmdSnCheck.OutOfWindow)
        {
            return;
        }

        if (ttt != IscsiTask.ReservedTag && ttt == _textTtt && _textOut is not null && data.Length == 0)
        {
            await SendTextPieceAsync(itt).ConfigureAwait(false);
            return;
        }

        if (ttt == IscsiTask.ReservedTag)
        {
            // A new negotiation replaces whatever was pending (RFC 7143 §11.10.4).
            _textOut = null;
            _textTtt = IscsiTask.ReservedTag;
        }

        var segment = data.IsSingleSegment ? data.FirstSpan : data.ToArray();
        List<TextKeyValue> pairs;
        try
        {
            if (!_textIn.Append(segment, continues, out pairs))
            {
                // More request text follows: acknowledge with an empty response and a TTT (§11.10.2).
                _textTtt = NextTtt();
                await SendTextResponseAsync(itt, final: false, more: false, _textTtt, default).ConfigureAwait(false);
                return;
            }
        }
        catch (TextKeyFormatException)
        {
            _textIn.Reset();
            await SendRejectAsync(RejectReason.ProtocolError).ConfigureAwait(false);
            return;
        }

        var response = new ArrayBufferWriter<byte>();
        foreach (var pair in pairs)
        {
            switch (pair.Key)
            {
                case "SendTargets":
                    WriteSendTargets(response, pair.Value, session);
                    break;
                case "MaxRecvDataSegmentLength" when int.TryParse(pair.Value, out var mrdsl) && mrdsl is >= 512 and <= 16777215:
                    // Declarative and renegotiable in full feature phase (RFC 7143 §13.12).
                    _maxSendDataSegment = mrdsl;
                    TextKeyValues.Write(response, "MaxRecvDataSegmentLength", _maxRecvDataSegment.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default:
                    TextKeyValues.Write(response, pair.Key, pair.Key.StartsWith("X-", StringComparison.Ordinal) || pair.Key.StartsWith("X#", StringComparison.Ordinal)
                        ? TextKeyValues.NotUnderstood
                        : LoginKeyTable.Find(pair.Key) is null ? TextKeyValues.NotUnderstood : TextKeyValues.Reject);
                    break;
            }
        }

        _textOut = response.WrittenSpan.ToArray();
        _textOutOffset = 0;
        _textTtt = IscsiTask.ReservedTag;
        await SendTextPieceAsync(itt).ConfigureAwait(false);
    }

    private async ValueTask SendTextPieceAsync(uint itt)
    {
        var text = _textOut!;
        var length = Math.Min(_maxSendDataSegment, text.Length - _textOutOffset);
        var piece = text.AsMemory(_textOutOffset, length);
        _textOutOffset += length;
        var more = _textOutOffset < text.Length;
        if (more)
        {
            _textTtt = NextTtt();
        }
        else
        {
            _textOut = null;
            _textTtt = IscsiTask.ReservedTag;
        }

        await SendTextResponseAsync(itt, final: !more, more, more ? _textTtt : IscsiTask.ReservedTag, piece).ConfigureAwait(false);
    }

    private async ValueTask SendTextResponseAsync(uint itt, bool final, bool more, uint ttt, ReadOnlyMemory<byte> data)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            Span<byte> bhs = stackalloc byte[Bhs.Length];
            bhs.Clear();
            bhs[0] = (byte)IscsiOpcode.TextResponse;
            bhs[1] = (byte)((final ? Bhs.FinalBit : 0) | (more ? 0x40 : 0));
            Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, itt);
            Bhs.SetWord(bhs, Bhs.Word20, ttt);
            StampSequenceNumbers(bhs, advanceStatSn: true);
            WritePdu(bhs, data.Span);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ReleaseWriteLock();
        }
    }

    /// <summary>
    /// RFC 7143 Appendix C / §13.3: SendTargets=All lists every target this initiator may log in to (discovery
    /// sessions); an empty value lists the session's own target; a name lists that target.
    /// </summary>
    private void WriteSendTargets(IBufferWriter<byte> response, string value, IscsiSession session)
    {
        IEnumerable<Core.Scsi.IScsiTarget> targets = value switch
        {
            "All" => _portal.Targets.Targets,
            "" => session.Target is { } t ? [t] : [],
            _ => _portal.Targets.Find(value) is { } named ? [named] : [],
        };

        if (value == "All" && session.Type == SessionType.Normal)
        {
            // §13.3: in a normal session "All" is not required to work; answer with the current target only.
            targets = session.Target is { } t ? [t] : [];
        }

        var address = PortalAddress();
        foreach (var target in targets)
        {
            var security = _portal.SecurityOf(target.Name);
            if (security.AllowedInitiators.Count > 0
                && !security.AllowedInitiators.Contains(session.InitiatorName, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            TextKeyValues.Write(response, "TargetName", target.Name);
            TextKeyValues.Write(response, "TargetAddress", address);
        }
    }

    private string PortalAddress()
    {
        var listen = _portal.ListenEndpoint;
        var ip = listen?.Address;
        if (ip is null || ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
        {
            ip = (LocalEndPoint as IPEndPoint)?.Address ?? IPAddress.Loopback;
        }

        var port = listen?.Port ?? (LocalEndPoint as IPEndPoint)?.Port ?? 3260;
        var host = ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString();
        return FormattableString.Invariant($"{host}:{port},{_portal.PortalGroupTag}");
    }
}

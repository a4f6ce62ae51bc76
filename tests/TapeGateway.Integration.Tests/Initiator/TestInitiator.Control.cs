using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>One target from a SendTargets answer: its name and "address:port,tpgt" portals (RFC 7143 Appendix C).</summary>
public sealed record DiscoveredTarget(string Name, IReadOnlyList<string> Addresses);

public sealed partial class TestInitiator
{
    /// <summary>NOP-Out ping (RFC 7143 §11.18), immediate; returns the data the NOP-In echoed.</summary>
    public async Task<byte[]> PingAsync(ReadOnlyMemory<byte> data = default)
    {
        var itt = AllocateItt();
        var replies = Register(itt);
        try
        {
            var bhs = NewBhs(IscsiOpcode.NopOut, immediate: true, Bhs.FinalBit, itt);
            Bhs.SetWord(bhs, Bhs.Word20, ReservedTag);
            Bhs.SetWord(bhs, Bhs.Word24, TakeCmdSn(immediate: true));
            await SendPduAsync(bhs, data);
            var reply = await ReceiveAsync(replies);
            ThrowIfRejected(reply);
            if (reply.Opcode != IscsiOpcode.NopIn)
            {
                throw new InvalidOperationException($"expected NOP-In, got {reply}");
            }

            if (reply.Word(Bhs.Word20) != ReservedTag)
            {
                Violation($"NOP-In answering a ping carries TTT 0x{reply.Word(Bhs.Word20):x8}, RFC 7143 §11.19.2 wants 0xffffffff");
            }

            return reply.Data;
        }
        finally
        {
            Unregister(itt);
        }
    }

    /// <summary>Task Management Function Request (RFC 7143 §11.5), immediate; returns the Response field.</summary>
    public async Task<TaskManagementResponse> TaskManagementAsync(
        TaskManagementFunction function, ushort lun, uint referencedItt = ReservedTag, uint? refCmdSn = null)
    {
        var itt = AllocateItt();
        var replies = Register(itt);
        try
        {
            var bhs = NewBhs(IscsiOpcode.TaskManagementRequest, immediate: true, (byte)(Bhs.FinalBit | (byte)function), itt);
            WriteLun(bhs, lun);
            Bhs.SetWord(bhs, Bhs.Word20, referencedItt);
            var cmdSn = TakeCmdSn(immediate: true);
            Bhs.SetWord(bhs, Bhs.Word24, cmdSn);
            Bhs.SetWord(bhs, Bhs.Word32, refCmdSn ?? cmdSn);
            await SendPduAsync(bhs, default);
            var reply = await ReceiveAsync(replies);
            ThrowIfRejected(reply);
            if (reply.Opcode != IscsiOpcode.TaskManagementResponse)
            {
                throw new InvalidOperationException($"expected a Task Management Response, got {reply}");
            }

            return (TaskManagementResponse)reply.Header[2];
        }
        finally
        {
            Unregister(itt);
        }
    }

    public Task<TaskManagementResponse> AbortTaskAsync(ScsiCommand command) =>
        TaskManagementAsync(TaskManagementFunction.AbortTask, command.Lun, command.Itt, command.CmdSn);

    /// <summary>Logout Request (RFC 7143 §11.14), immediate; returns the Response field (0 = success).</summary>
    public async Task<byte> LogoutAsync(byte reason = 0)
    {
        var itt = AllocateItt();
        var replies = Register(itt);
        try
        {
            var bhs = NewBhs(IscsiOpcode.LogoutRequest, immediate: true, (byte)(Bhs.FinalBit | (reason & 0x7F)), itt);
            bhs[20] = (byte)(Options.Cid >> 8);
            bhs[21] = (byte)Options.Cid;
            Bhs.SetWord(bhs, Bhs.Word24, TakeCmdSn(immediate: true));
            await SendPduAsync(bhs, default);
            var reply = await ReceiveAsync(replies);
            ThrowIfRejected(reply);
            if (reply.Opcode != IscsiOpcode.LogoutResponse)
            {
                throw new InvalidOperationException($"expected a Logout Response, got {reply}");
            }

            return reply.Header[2];
        }
        finally
        {
            Unregister(itt);
        }
    }

    /// <summary>Text Request/Response exchange (RFC 7143 §11.10), following C=1 continuations with the target's TTT.</summary>
    public async Task<List<KeyValuePair<string, string>>> TextAsync(IEnumerable<KeyValuePair<string, string>> keys)
    {
        var itt = AllocateItt();
        var replies = Register(itt);
        try
        {
            var text = TextKeys.Encode(keys);
            var ttt = ReservedTag;
            var received = new List<byte>();
            for (var round = 0; round < 64; round++)
            {
                var bhs = NewBhs(IscsiOpcode.TextRequest, immediate: false, Bhs.FinalBit, itt);
                Bhs.SetWord(bhs, Bhs.Word20, ttt);
                Bhs.SetWord(bhs, Bhs.Word24, TakeCmdSn(immediate: false));
                await SendPduAsync(bhs, text);
                var reply = await ReceiveAsync(replies);
                ThrowIfRejected(reply);
                if (reply.Opcode != IscsiOpcode.TextResponse)
                {
                    throw new InvalidOperationException($"expected a Text Response, got {reply}");
                }

                received.AddRange(reply.Data);
                if ((reply.Flags & 0x40) == 0)
                {
                    return TextKeys.Decode([.. received]);
                }

                text = [];
                ttt = reply.Word(Bhs.Word20);
            }

            throw new InvalidOperationException("the Text Response never ended");
        }
        finally
        {
            Unregister(itt);
        }
    }

    /// <summary>SendTargets (RFC 7143 Appendix C) on a discovery or normal session.</summary>
    public async Task<IReadOnlyList<DiscoveredTarget>> SendTargetsAsync(string value = "All")
    {
        var pairs = await TextAsync([new("SendTargets", value)]);
        var targets = new List<DiscoveredTarget>();
        string? name = null;
        var addresses = new List<string>();
        foreach (var (key, v) in pairs)
        {
            if (key == "TargetName")
            {
                if (name is not null)
                {
                    targets.Add(new DiscoveredTarget(name, addresses));
                }

                name = v;
                addresses = [];
            }
            else if (key == "TargetAddress")
            {
                addresses.Add(v);
            }
        }

        if (name is not null)
        {
            targets.Add(new DiscoveredTarget(name, addresses));
        }

        return targets;
    }

    private static void ThrowIfRejected(ReceivedPdu reply)
    {
        if (reply.Opcode == IscsiOpcode.Reject)
        {
            throw new IscsiRejectedException(reply.Header[2], reply.Data);
        }
    }
}

using System.Text;
using TapeGateway.Iscsi.Login;

namespace TapeGateway.Fuzz.Targets;

/// <summary>
/// A whole login conversation through <see cref="LoginStateMachine"/>: the input is a sequence of Login Requests, each
/// <c>flags(1) cid/tsih selector(1) length(2) text(length)</c>. Oracles: <see cref="LoginStateMachine.Process"/> never
/// throws while the login is open, and no Login Response carries more than 8192 bytes of text.
/// </summary>
public sealed class LoginStateMachineTarget : IFuzzTarget
{
    public string Name => "login";

    public IReadOnlyList<byte[]> Seeds() =>
    [
        Conversation(
            (0x87, "InitiatorName=iqn.1994-05.com.redhat:fuzz\0SessionType=Normal\0TargetName=iqn.2026-11.org.tapegateway:volume0\0HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=262144\0ImmediateData=Yes\0InitialR2T=No\0")),
        Conversation(
            (0x81, "InitiatorName=iqn.1994-05.com.redhat:fuzz\0SessionType=Normal\0TargetName=iqn.2026-11.org.tapegateway:chap\0AuthMethod=CHAP\0"),
            (0x00, "CHAP_A=5\0"),
            (0x81, "CHAP_N=user\0CHAP_R=0x00112233445566778899aabbccddeeff\0CHAP_I=1\0CHAP_C=0x0102030405060708090a0b0c0d0e0f10\0"),
            (0x87, "MaxBurstLength=65536\0")),
        Conversation(
            (0x87, "InitiatorName=iqn.1994-05.com.redhat:fuzz\0SessionType=Discovery\0HeaderDigest=CRC32C\0")),
    ];

    public void Run(ReadOnlySpan<byte> input)
    {
        var machine = new LoginStateMachine(new Resolver(), new LoginNegotiationOptions());
        var itt = 1u;
        while (input.Length >= 4 && !machine.IsComplete)
        {
            var flags = input[0];
            var selector = input[1];
            var length = Math.Min((input[2] << 8) | input[3], input.Length - 4);
            var text = input.Slice(4, length);
            input = input[(4 + length)..];
            var request = new LoginRequestFields
            {
                Transit = (flags & 0x80) != 0,
                Continue = (flags & 0x40) != 0,
                CurrentStage = (byte)((flags >> 2) & 3),
                NextStage = (byte)(flags & 3),
                VersionMax = (byte)((selector & 0x10) != 0 ? 1 : 0),
                Isid = 0x0002_3D00_0001,
                Tsih = (ushort)((selector & 0x20) != 0 ? selector : 0),
                Cid = (ushort)(selector & 0x0F),
                InitiatorTaskTag = (selector & 0x40) != 0 ? itt + 1 : itt,
                CmdSn = 1,
            };
            var step = machine.Process(request, text);
            if (step.Text.Length > LoginStateMachine.LoginMaxDataSegmentLength)
            {
                throw new FuzzFindingException($"Login Response text of {step.Text.Length} bytes exceeds {LoginStateMachine.LoginMaxDataSegmentLength}");
            }

            if (step.IsReject != (machine.IsComplete && !machine.Succeeded))
            {
                throw new FuzzFindingException("a reject step did not end the login (or a failed login sent no reject)");
            }
        }

        if (machine.Succeeded)
        {
            _ = machine.Result.ToString();
        }
    }

    private static byte[] Conversation(params (byte Flags, string Text)[] requests)
    {
        var bytes = new List<byte>();
        foreach (var (flags, text) in requests)
        {
            var t = Encoding.UTF8.GetBytes(text);
            bytes.AddRange([flags, 0, (byte)(t.Length >> 8), (byte)t.Length]);
            bytes.AddRange(t);
        }

        return [.. bytes];
    }

    private sealed class Resolver : ILoginTargetResolver
    {
        private readonly LoginTargetInfo _open = new("iqn.2026-11.org.tapegateway:volume0", 1);
        private readonly LoginTargetInfo _chap = new("iqn.2026-11.org.tapegateway:chap", 1)
        {
            Chap = new ChapCredentials("user", "secret-secret", "target", "target-secret"),
        };

        public ChapCredentials? DiscoveryChap => null;

        public ushort PortalGroupTag => 1;

        public LoginTargetInfo? Resolve(string targetName) =>
            string.Equals(targetName, _open.Name, StringComparison.OrdinalIgnoreCase) ? _open
            : string.Equals(targetName, _chap.Name, StringComparison.OrdinalIgnoreCase) ? _chap
            : null;
    }
}

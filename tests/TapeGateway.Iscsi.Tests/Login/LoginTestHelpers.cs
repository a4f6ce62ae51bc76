using System.Security.Cryptography;
using System.Text;
using TapeGateway.Iscsi.Login;

namespace TapeGateway.Iscsi.Tests.Login;

internal sealed class FakeResolver : ILoginTargetResolver
{
    public Dictionary<string, LoginTargetInfo> Targets { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ChapCredentials? DiscoveryChap { get; set; }

    public ushort PortalGroupTag { get; set; } = 1;

    public LoginTargetInfo? Resolve(string targetName) => Targets.GetValueOrDefault(targetName);

    public FakeResolver With(LoginTargetInfo target)
    {
        Targets[target.Name] = target;
        return this;
    }
}

internal sealed class FakeBinder : ILoginSessionBinder
{
    public LoginStatus AdmitStatus { get; set; }

    public ushort NextTsih { get; set; } = 0x1234;

    public List<LoginAdmission> Admissions { get; } = [];

    public LoginResult? Bound { get; private set; }

    public LoginStatus Admit(in LoginAdmission admission)
    {
        Admissions.Add(admission);
        return AdmitStatus;
    }

    public LoginStatus Bind(LoginResult result, out ushort tsih)
    {
        Bound = result;
        tsih = result.Tsih == 0 ? NextTsih : result.Tsih;
        return LoginStatus.Success;
    }
}

internal static class L
{
    public const string Initiator = "iqn.1994-05.com.redhat:client1";
    public const string TargetIqn = "iqn.2025-01.net.example:tape1";
    public const ulong Isid = 0x023d00000001;

    public static LoginTargetInfo Target(ChapCredentials? chap = null) =>
        new(TargetIqn, 7) { Alias = "tape-one", Chap = chap };

    public static ChapCredentials Chap(bool mutual = false) =>
        mutual
            ? new ChapCredentials("alice", "secret-123456", "target-bob", "target-secret1")
            : new ChapCredentials("alice", "secret-123456");

    public static LoginStateMachine Machine(FakeResolver? resolver = null, LoginNegotiationOptions? options = null, ILoginSessionBinder? binder = null) =>
        new(resolver ?? new FakeResolver().With(Target()), options ?? new LoginNegotiationOptions(), binder);

    public static LoginRequestFields Req(
        LoginStage csg, LoginStage? nsg = null, bool cont = false, ulong isid = Isid, ushort tsih = 0, ushort cid = 0, byte versionMin = 0) =>
        new()
        {
            CurrentStage = (byte)csg,
            Transit = nsg is not null,
            NextStage = (byte)(nsg ?? 0),
            Continue = cont,
            Isid = isid,
            Tsih = tsih,
            Cid = cid,
            InitiatorTaskTag = 0x11,
            CmdSn = 5,
            ExpStatSn = 0,
            VersionMin = versionMin,
        };

    public static LoginRequestFields RawReq(byte csg, byte nsg, bool transit, bool cont = false) =>
        new() { CurrentStage = csg, NextStage = nsg, Transit = transit, Continue = cont, Isid = Isid, InitiatorTaskTag = 0x11 };

    public static byte[] Text(params string[] pairs)
    {
        var sb = new StringBuilder();
        foreach (var p in pairs)
        {
            sb.Append(p).Append('\0');
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>First-request identity keys for a Normal session.</summary>
    public static string[] Hello(params string[] more) =>
        [$"InitiatorName={Initiator}", $"TargetName={TargetIqn}", "SessionType=Normal", .. more];

    public static Dictionary<string, string> Keys(LoginStep step)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var kv in TextKeyValues.Parse(step.Text.Span))
        {
            Assert.False(result.ContainsKey(kv.Key), $"target sent {kv.Key} twice");
            result[kv.Key] = kv.Value;
        }

        return result;
    }

    public static LoginStep Send(this LoginStateMachine m, LoginRequestFields req, params string[] pairs) =>
        m.Process(req, Text(pairs));

    /// <summary>Security stage with AuthMethod=None then straight to the operational stage.</summary>
    public static LoginStateMachine InOperationalStage(LoginNegotiationOptions? options = null, FakeResolver? resolver = null)
    {
        var m = Machine(resolver, options);
        var step = m.Send(Req(LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation), Hello("AuthMethod=None"));
        Assert.Equal(LoginStatus.Success, step.Response.Status);
        Assert.True(step.Response.Transit);
        return m;
    }

    /// <summary>Runs one operational request that asks to enter full feature phase.</summary>
    public static LoginStep Finish(this LoginStateMachine m, params string[] pairs) =>
        m.Send(Req(LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase), pairs);

    public static string ChapResponse(string id, string secret, string challenge)
    {
        Assert.True(IscsiValueEncoding.TryDecodeBinary(challenge, out var c));
        var s = Encoding.UTF8.GetBytes(secret);
        var input = new byte[1 + s.Length + c.Length];
        input[0] = byte.Parse(id, System.Globalization.CultureInfo.InvariantCulture);
        s.CopyTo(input, 1);
        c.CopyTo(input, 1 + s.Length);
#pragma warning disable CA5351 // CHAP MD5 (RFC 1994) is what is under test.
        return IscsiValueEncoding.EncodeHex(MD5.HashData(input));
#pragma warning restore CA5351
    }
}

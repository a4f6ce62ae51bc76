using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Integration.Tests.Initiator;

public sealed partial class TestInitiator
{
    private const byte StageSecurity = 0;
    private const byte StageOperational = 1;
    private const byte StageFullFeature = 3;

    /// <summary>
    /// RFC 7143 §6.3 login: [SecurityNegotiation (AuthMethod, CHAP)] → LoginOperationalNegotiation → FullFeaturePhase.
    /// Throws <see cref="IscsiLoginException"/> with the target's Status-Class/Detail when the target refuses.
    /// </summary>
    public async Task LoginAsync(string? targetName, CancellationToken ct = default)
    {
        var discovery = targetName is null;
        var itt = AllocateItt();
        var responses = Register(itt);
        var targetKeys = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            List<KeyValuePair<string, string>> leading =
            [
                new("InitiatorName", Options.InitiatorName),
                new("SessionType", discovery ? "Discovery" : "Normal"),
            ];
            if (!discovery)
            {
                leading.Add(new("TargetName", targetName!));
            }

            if (Options.Chap is not null || Options.UseSecurityStage)
            {
                await SecurityStageAsync(itt, responses, leading, targetKeys, ct);
                leading = [];
            }

            await OperationalStageAsync(itt, responses, leading, targetKeys, discovery, ct);
        }
        finally
        {
            Unregister(itt);
        }
    }

    private async Task<byte> SecurityStageAsync(
        uint itt,
        System.Threading.Channels.ChannelReader<ReceivedPdu> responses,
        List<KeyValuePair<string, string>> leading,
        Dictionary<string, string> targetKeys,
        CancellationToken ct)
    {
        var chap = Options.Chap;
        List<KeyValuePair<string, string>> offer = [.. leading, new("AuthMethod", chap is null ? "None" : "CHAP")];
        var (response, keys) = await LoginExchangeAsync(itt, responses, StageSecurity, transit: chap is null, StageOperational, offer, targetKeys, ct);
        if (chap is null)
        {
            return await FinishStageAsync(itt, responses, response, StageSecurity, StageOperational, targetKeys, ct);
        }

        if (!keys.TryGetValue("AuthMethod", out var method) || method != "CHAP")
        {
            throw new IscsiLoginException($"target answered AuthMethod={method ?? "(nothing)"} to an offer of CHAP");
        }

        (_, keys) = await LoginExchangeAsync(itt, responses, StageSecurity, transit: false, 0, [new("CHAP_A", "5")], targetKeys, ct);
        if (!keys.TryGetValue("CHAP_A", out var algorithm) || algorithm != "5"
            || !keys.TryGetValue("CHAP_I", out var idText) || !keys.TryGetValue("CHAP_C", out var challengeText))
        {
            throw new IscsiLoginException("target did not send CHAP_A=5, CHAP_I and CHAP_C");
        }

        var id = byte.Parse(idText, CultureInfo.InvariantCulture);
        var challenge = TextKeys.DecodeBinary(challengeText);
        List<KeyValuePair<string, string>> answer =
        [
            new("CHAP_N", chap.UserName),
            new("CHAP_R", "0x" + Convert.ToHexStringLower(ChapResponse(id, chap.Secret, challenge))),
        ];
        byte mutualId = 0;
        byte[] mutualChallenge = [];
        if (chap.TargetSecret is not null)
        {
            mutualId = (byte)RandomNumberGenerator.GetInt32(256);
            mutualChallenge = RandomNumberGenerator.GetBytes(16);
            answer.Add(new("CHAP_I", mutualId.ToString(CultureInfo.InvariantCulture)));
            answer.Add(new("CHAP_C", "0x" + Convert.ToHexStringLower(mutualChallenge)));
        }

        (response, keys) = await LoginExchangeAsync(itt, responses, StageSecurity, transit: true, StageOperational, answer, targetKeys, ct);
        if (chap.TargetSecret is not null)
        {
            if (!keys.TryGetValue("CHAP_N", out var targetUser) || !keys.TryGetValue("CHAP_R", out var targetResponse))
            {
                throw new ChapMutualAuthenticationException("target did not answer the mutual CHAP challenge");
            }

            var expected = ChapResponse(mutualId, chap.TargetSecret, mutualChallenge);
            if ((chap.TargetUserName is not null && targetUser != chap.TargetUserName)
                || !CryptographicOperations.FixedTimeEquals(expected, TextKeys.DecodeBinary(targetResponse)))
            {
                // RFC 7143 §12.1.3: the initiator must not continue when the target fails to authenticate.
                throw new ChapMutualAuthenticationException("the target's CHAP_R does not prove the expected secret");
            }
        }

        return await FinishStageAsync(itt, responses, response, StageSecurity, StageOperational, targetKeys, ct);
    }

    private async Task OperationalStageAsync(
        uint itt,
        System.Threading.Channels.ChannelReader<ReceivedPdu> responses,
        List<KeyValuePair<string, string>> leading,
        Dictionary<string, string> targetKeys,
        bool discovery,
        CancellationToken ct)
    {
        var o = Options;
        List<KeyValuePair<string, string>> offer =
        [
            .. leading,
            new("HeaderDigest", o.HeaderDigest ? "CRC32C" : "None"),
            new("DataDigest", o.DataDigest ? "CRC32C" : "None"),
            new("MaxRecvDataSegmentLength", Number(o.MaxRecvDataSegmentLength)),
        ];
        if (!discovery)
        {
            offer.AddRange(
            [
                new("ImmediateData", YesNo(o.ImmediateData)),
                new("InitialR2T", YesNo(o.InitialR2T)),
                new("FirstBurstLength", Number(o.FirstBurstLength)),
                new("MaxBurstLength", Number(o.MaxBurstLength)),
                new("MaxOutstandingR2T", Number(o.MaxOutstandingR2T)),
                new("MaxConnections", "1"),
                new("ErrorRecoveryLevel", "0"),
                new("DataPDUInOrder", "Yes"),
                new("DataSequenceInOrder", "Yes"),
                new("DefaultTime2Wait", "2"),
                new("DefaultTime2Retain", "0"),
            ]);
        }

        offer.AddRange(o.ExtraOperationalKeys);
        var (response, _) = await LoginExchangeAsync(itt, responses, StageOperational, transit: true, StageFullFeature, offer, targetKeys, ct);
        await FinishStageAsync(itt, responses, response, StageOperational, StageFullFeature, targetKeys, ct);

        Negotiated = Reconcile(targetKeys, discovery);
        _txHeaderDigest = Negotiated.HeaderDigest;
        _txDataDigest = Negotiated.DataDigest;
    }

    /// <summary>Keeps sending empty requests with T=1 until the target also transits to <paramref name="next"/>.</summary>
    private async Task<byte> FinishStageAsync(
        uint itt,
        System.Threading.Channels.ChannelReader<ReceivedPdu> responses,
        ReceivedPdu response,
        byte current,
        byte next,
        Dictionary<string, string> targetKeys,
        CancellationToken ct)
    {
        for (var round = 0; round < 8; round++)
        {
            if ((response.Flags & 0x80) != 0)
            {
                var nsg = (byte)(response.Flags & 0x03);
                if (nsg != next)
                {
                    throw new IscsiLoginException($"target transited to stage {nsg}, expected {next}");
                }

                return nsg;
            }

            (response, _) = await LoginExchangeAsync(itt, responses, current, transit: true, next, [], targetKeys, ct);
        }

        throw new IscsiLoginException($"target never left login stage {current}");
    }

    /// <summary>
    /// One Login Request / Login Response round trip (RFC 7143 §11.12, §11.13), following C=1 continuations. Returns
    /// the final response and the keys it carried; fails on a non-zero status.
    /// </summary>
    private async Task<(ReceivedPdu Response, Dictionary<string, string> Keys)> LoginExchangeAsync(
        uint itt,
        System.Threading.Channels.ChannelReader<ReceivedPdu> responses,
        byte stage,
        bool transit,
        byte next,
        IReadOnlyList<KeyValuePair<string, string>> keys,
        Dictionary<string, string> targetKeys,
        CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var text = TextKeys.Encode(keys);
        var received = new List<byte>();
        while (true)
        {
            await SendLoginRequestAsync(itt, stage, transit, next, text);
            var response = await ReceiveAsync(responses);
            if (response.Opcode != IscsiOpcode.LoginResponse)
            {
                throw new IscsiLoginException($"expected a Login Response, got {response}");
            }

            var statusClass = response.Header[36];
            var statusDetail = response.Header[37];
            if (statusClass != 0)
            {
                throw new IscsiLoginException(statusClass, statusDetail);
            }

            Tsih = (ushort)((response.Header[14] << 8) | response.Header[15]);
            received.AddRange(response.Data);
            if ((response.Flags & 0x40) != 0)
            {
                // C=1: the target has more text; ask for it with an empty request and T=0 (RFC 7143 §11.13.2).
                text = [];
                transit = false;
                continue;
            }

            var pairs = TextKeys.Decode([.. received]).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            foreach (var (key, value) in pairs)
            {
                targetKeys[key] = value;
            }

            return (response, pairs);
        }
    }

    private async Task SendLoginRequestAsync(uint itt, byte stage, bool transit, byte next, byte[] text)
    {
        // RFC 7143 §11.12: opcode 0x03 with I=1; T|C|CSG|NSG; version 0/0; ISID; TSIH; ITT; CID; CmdSN; ExpStatSN.
        var flags = (byte)((stage & 0x03) << 2);
        if (transit)
        {
            flags |= (byte)(0x80 | (next & 0x03));
        }

        var bhs = NewBhs(IscsiOpcode.LoginRequest, immediate: true, flags, itt);
        var isid = Options.Isid;
        for (var i = 13; i >= 8; i--)
        {
            bhs[i] = (byte)isid;
            isid >>= 8;
        }

        bhs[14] = (byte)(Options.Tsih >> 8);
        bhs[15] = (byte)Options.Tsih;
        bhs[20] = (byte)(Options.Cid >> 8);
        bhs[21] = (byte)Options.Cid;
        Bhs.SetWord(bhs, Bhs.Word24, TakeCmdSn(immediate: true));
        await SendPduAsync(bhs, text);
    }

    /// <summary>Digests switch on right after the final Login Response (RFC 7143 §13.1), before the next PDU is parsed.</summary>
    private void TrackLoginResponse(ReceivedPdu pdu)
    {
        _rxLoginText.AddRange(pdu.Data);
        if ((pdu.Flags & 0x40) != 0)
        {
            return;
        }

        foreach (var (key, value) in TextKeys.Decode([.. _rxLoginText]))
        {
            _rxLoginKeys[key] = value;
        }

        _rxLoginText.Clear();
        var final = pdu.Header[36] == 0 && (pdu.Flags & 0x80) != 0 && (pdu.Flags & 0x03) == StageFullFeature;
        if (final)
        {
            _rxHeaderDigest = _rxLoginKeys.GetValueOrDefault("HeaderDigest") == "CRC32C";
            _rxDataDigest = _rxLoginKeys.GetValueOrDefault("DataDigest") == "CRC32C";
        }
    }

    private NegotiatedParameters Reconcile(Dictionary<string, string> keys, bool discovery)
    {
        var o = Options;
        var violations = new List<string>();

        bool Bool(string key, bool offered, bool and)
        {
            if (!keys.TryGetValue(key, out var value))
            {
                if (!discovery)
                {
                    violations.Add($"{key} was not answered");
                }

                return offered;
            }

            var result = value == "Yes";
            if (value is not ("Yes" or "No") || (and && result && !offered) || (!and && !result && offered))
            {
                violations.Add($"{key}={value} breaks the {(and ? "AND" : "OR")} rule for an offer of {YesNo(offered)}");
            }

            return result;
        }

        int Min(string key, int offered, bool irrelevantAllowed = false)
        {
            if (irrelevantAllowed && keys.GetValueOrDefault(key) == "Irrelevant")
            {
                return offered;
            }

            if (!keys.TryGetValue(key, out var value))
            {
                if (!discovery)
                {
                    violations.Add($"{key} was not answered");
                }

                return offered;
            }

            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var result) || result > offered)
            {
                violations.Add($"{key}={value} breaks the minimum rule for an offer of {offered}");
                return offered;
            }

            return result;
        }

        bool Digest(string key, bool offered)
        {
            var value = keys.GetValueOrDefault(key);
            if (value != (offered ? "CRC32C" : "None"))
            {
                violations.Add($"{key}={value ?? "(missing)"} for an offer of {(offered ? "CRC32C" : "None")}");
            }

            return value == "CRC32C";
        }

        var targetMrdsl = keys.TryGetValue("MaxRecvDataSegmentLength", out var mrdsl)
            && int.TryParse(mrdsl, NumberStyles.None, CultureInfo.InvariantCulture, out var declared) ? declared : 8192;
        var immediateData = discovery ? o.ImmediateData : Bool("ImmediateData", o.ImmediateData, and: true);
        var initialR2T = discovery ? o.InitialR2T : Bool("InitialR2T", o.InitialR2T, and: false);
        return new NegotiatedParameters
        {
            HeaderDigest = Digest("HeaderDigest", o.HeaderDigest),
            DataDigest = Digest("DataDigest", o.DataDigest),
            ImmediateData = immediateData,
            InitialR2T = initialR2T,

            // RFC 7143 §13.14: FirstBurstLength is Irrelevant when InitialR2T=Yes and ImmediateData=No.
            FirstBurstLength = discovery ? o.FirstBurstLength : Min("FirstBurstLength", o.FirstBurstLength, irrelevantAllowed: initialR2T && !immediateData),
            MaxBurstLength = discovery ? o.MaxBurstLength : Min("MaxBurstLength", o.MaxBurstLength),
            MaxOutstandingR2T = discovery ? o.MaxOutstandingR2T : Min("MaxOutstandingR2T", o.MaxOutstandingR2T),
            TargetMaxRecvDataSegmentLength = targetMrdsl,
            TargetKeys = new Dictionary<string, string>(keys, StringComparer.Ordinal),
            Violations = violations,
        };
    }

    /// <summary>RFC 1994 §4.1 / RFC 7143 §12.1.3: CHAP_R = MD5(CHAP_I || secret || CHAP_C).</summary>
    public static byte[] ChapResponse(byte id, string secret, ReadOnlySpan<byte> challenge)
    {
        var secretBytes = Encoding.UTF8.GetBytes(secret);
        var input = new byte[1 + secretBytes.Length + challenge.Length];
        input[0] = id;
        secretBytes.CopyTo(input, 1);
        challenge.CopyTo(input.AsSpan(1 + secretBytes.Length));
#pragma warning disable CA5351 // CHAP_A=5 is MD5 by definition (RFC 1994); the test initiator has no choice.
        return MD5.HashData(input);
#pragma warning restore CA5351
    }

    private static string YesNo(bool value) => value ? "Yes" : "No";

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}

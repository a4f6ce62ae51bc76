using System.Security.Cryptography;
using System.Text;

namespace TapeGateway.Iscsi.Login;

/// <summary>
/// Target side of the security stage: AuthMethod selection (RFC 7143 §12.1) and CHAP with MD5 (RFC 1994, profiled by
/// RFC 7143 §12.1.3), including mutual CHAP. One instance per login; fed the security keys of each complete request.
/// </summary>
internal sealed class ChapAuthenticator
{
    /// <summary>CHAP_A value for MD5 (RFC 1994 §2.2 / IANA PPP authentication algorithms).</summary>
    public const string Md5Algorithm = "5";

    /// <summary>Challenge length in bytes: the MD5 output size, which RFC 7143 §12.1.3 sets as the minimum.</summary>
    public const int ChallengeLength = 16;

    /// <summary>RFC 7143 §12.1.3: a CHAP_C longer than 1024 bytes is a protocol error.</summary>
    public const int MaxChallengeLength = 1024;

    private readonly ChapCredentials? _credentials;
    private State _state;
    private byte _id;
    private byte[] _challenge = [];

    public ChapAuthenticator(ChapCredentials? credentials)
    {
        _credentials = credentials;
    }

    private enum State
    {
        /// <summary>AuthMethod not yet agreed.</summary>
        Start,

        /// <summary>We answered AuthMethod=CHAP; the initiator must send CHAP_A next.</summary>
        AwaitingAlgorithm,

        /// <summary>We sent CHAP_I/CHAP_C; the initiator must send CHAP_N/CHAP_R next.</summary>
        AwaitingResponse,

        /// <summary>Authentication finished (CHAP verified, or AuthMethod=None agreed).</summary>
        Done,
    }

    /// <summary>True when the target demands CHAP.</summary>
    public bool Required => _credentials is not null;

    /// <summary>True when the security stage may be left: authenticated, or nothing required and no CHAP in flight.</summary>
    public bool CanLeaveSecurityStage => _state == State.Done || (!Required && _state == State.Start);

    /// <summary>The CHAP_N that authenticated, or null.</summary>
    public string? AuthenticatedUser { get; private set; }

    public bool Mutual { get; private set; }

    /// <summary>
    /// Processes the security keys of one complete Login Request (in arrival order) and appends our answers.
    /// Returns <see cref="LoginStatus.AuthenticationFailure"/> (with a reason that never contains secrets) when the
    /// exchange fails.
    /// </summary>
    public LoginStatus Step(IReadOnlyList<TextKeyValue> keys, List<TextKeyValue> responses, out string? reason)
    {
        reason = null;
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in keys)
        {
            byName[pair.Key] = pair.Value;
        }

        var stateAtStart = _state;

        if (byName.Remove(LoginKeyTable.AuthMethod, out var methods))
        {
            if (_state != State.Start)
            {
                return Fail("AuthMethod offered again during CHAP", out reason);
            }

            var offered = methods.Split(',');
            if (Required)
            {
                if (!offered.Contains("CHAP", StringComparer.Ordinal))
                {
                    // RFC 7143 §12.1: the target requires CHAP and the initiator does not offer it.
                    return Fail("target requires CHAP but the initiator did not offer it", out reason);
                }

                responses.Add(new TextKeyValue(LoginKeyTable.AuthMethod, "CHAP"));
                _state = State.AwaitingAlgorithm;
            }
            else if (offered.Contains("None", StringComparer.Ordinal))
            {
                responses.Add(new TextKeyValue(LoginKeyTable.AuthMethod, "None"));
                _state = State.Done;
            }
            else
            {
                // No credentials configured, so CHAP cannot be performed: RFC 7143 §6.2.1 "Reject" for a list
                // without an acceptable value. Login continues; the initiator decides whether to proceed.
                responses.Add(new TextKeyValue(LoginKeyTable.AuthMethod, TextKeyValues.Reject));
            }
        }

        if (_state == State.AwaitingAlgorithm)
        {
            if (byName.Remove(LoginKeyTable.ChapA, out var algorithms))
            {
                if (!algorithms.Split(',').Contains(Md5Algorithm, StringComparer.Ordinal))
                {
                    return Fail("CHAP_A offers no supported algorithm (only 5 = MD5)", out reason);
                }

                _id = (byte)RandomNumberGenerator.GetInt32(256);
                _challenge = RandomNumberGenerator.GetBytes(ChallengeLength);
                responses.Add(new TextKeyValue(LoginKeyTable.ChapA, Md5Algorithm));
                responses.Add(new TextKeyValue(LoginKeyTable.ChapI, IscsiValueEncoding.FormatNumber(_id)));
                responses.Add(new TextKeyValue(LoginKeyTable.ChapC, IscsiValueEncoding.EncodeHex(_challenge)));
                _state = State.AwaitingResponse;
            }
            else if (stateAtStart == State.AwaitingAlgorithm)
            {
                return Fail("CHAP_A missing after AuthMethod=CHAP", out reason);
            }
        }
        else if (_state == State.AwaitingResponse && stateAtStart == State.AwaitingResponse)
        {
            var status = VerifyResponse(byName, responses, out reason);
            if (status != LoginStatus.Success)
            {
                return status;
            }
        }

        if (byName.Count > 0)
        {
            // CHAP keys outside the exchange step they belong to (RFC 7143 §12.1.3 fixes the order).
            return Fail($"unexpected security key {byName.Keys.First()} at this point of the exchange", out reason);
        }

        return LoginStatus.Success;
    }

    private LoginStatus VerifyResponse(Dictionary<string, string> keys, List<TextKeyValue> responses, out string? reason)
    {
        try
        {
            return VerifyResponseCore(keys, responses, out reason);
        }
        finally
        {
            // The challenge is single-use (RFC 1994 §2.3): once answered, right or wrong, it is gone.
            CryptographicOperations.ZeroMemory(_challenge);
            _challenge = [];
        }
    }

    private LoginStatus VerifyResponseCore(Dictionary<string, string> keys, List<TextKeyValue> responses, out string? reason)
    {
        reason = null;
        keys.Remove(LoginKeyTable.ChapN, out var name);
        keys.Remove(LoginKeyTable.ChapR, out var response);
        keys.Remove(LoginKeyTable.ChapI, out var mutualId);
        keys.Remove(LoginKeyTable.ChapC, out var mutualChallenge);
        if (name is null || response is null)
        {
            return Fail("CHAP_N or CHAP_R missing", out reason);
        }

        var credentials = _credentials!;
        if (!string.Equals(name, credentials.UserName, StringComparison.Ordinal))
        {
            return Fail("CHAP_N does not name a known user", out reason);
        }

        if (!IscsiValueEncoding.TryDecodeBinary(response, out var received))
        {
            return Fail("CHAP_R is not a binary value", out reason);
        }

        var expected = ComputeResponse(_id, credentials.Secret, _challenge);
        if (!CryptographicOperations.FixedTimeEquals(expected, received))
        {
            return Fail("CHAP_R does not match", out reason);
        }

        AuthenticatedUser = name;

        if (mutualId is null && mutualChallenge is null)
        {
            _state = State.Done;
            return LoginStatus.Success;
        }

        if (mutualId is null || mutualChallenge is null)
        {
            return Fail("mutual CHAP needs both CHAP_I and CHAP_C", out reason);
        }

        if (!credentials.SupportsMutual)
        {
            return Fail("initiator requested mutual CHAP but no target secret is configured", out reason);
        }

        if (!IscsiValueEncoding.TryParseNumber(mutualId, out var id) || id > 255)
        {
            return Fail("CHAP_I is not a number in 0..255", out reason);
        }

        if (!IscsiValueEncoding.TryDecodeBinary(mutualChallenge, out var challenge) || challenge.Length > MaxChallengeLength)
        {
            return Fail("CHAP_C is not a binary value of at most 1024 bytes", out reason);
        }

        if (challenge.AsSpan().SequenceEqual(_challenge))
        {
            // RFC 7143 §12.1.3: the target MUST NOT answer a challenge equal to the one it sent (reflection attack).
            return Fail("mutual CHAP_C repeats the target's own challenge", out reason);
        }

        var answer = ComputeResponse((byte)id, credentials.MutualSecret!, challenge);
        responses.Add(new TextKeyValue(LoginKeyTable.ChapN, credentials.MutualUserName!));
        responses.Add(new TextKeyValue(LoginKeyTable.ChapR, IscsiValueEncoding.EncodeHex(answer)));
        Mutual = true;
        _state = State.Done;
        return LoginStatus.Success;
    }

    /// <summary>RFC 1994 §4.1: Response = MD5(Identifier || secret || Challenge).</summary>
    internal static byte[] ComputeResponse(byte id, string secret, ReadOnlySpan<byte> challenge)
    {
        var secretLength = Encoding.UTF8.GetByteCount(secret);
        var input = new byte[1 + secretLength + challenge.Length];
        try
        {
            input[0] = id;
            Encoding.UTF8.GetBytes(secret, input.AsSpan(1));
            challenge.CopyTo(input.AsSpan(1 + secretLength));
#pragma warning disable CA5351 // CHAP_A=5 is MD5 by definition (RFC 1994, RFC 7143 §12.1.3); not our choice of hash.
            return MD5.HashData(input);
#pragma warning restore CA5351
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
        }
    }

    private LoginStatus Fail(string text, out string? reason)
    {
        reason = text;
        _state = State.Start;
        return LoginStatus.AuthenticationFailure;
    }
}

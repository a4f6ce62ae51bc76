namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>CHAP settings of the test initiator (RFC 7143 §12.1.3). Mutual CHAP is used when <see cref="TargetSecret"/> is set.</summary>
public sealed record ChapSettings(string UserName, string Secret)
{
    /// <summary>The secret the initiator expects the target to prove (mutual CHAP); null for one-way CHAP.</summary>
    public string? TargetSecret { get; init; }

    /// <summary>The CHAP_N the target must answer with in mutual CHAP; null accepts any name.</summary>
    public string? TargetUserName { get; init; }
}

/// <summary>What the test initiator offers at login. Defaults mirror a Linux open-iscsi login without digests.</summary>
public sealed record InitiatorOptions
{
    public string InitiatorName { get; init; } = "iqn.2026-11.org.tapegateway.test:initiator";

    /// <summary>48-bit ISID (RFC 7143 §11.12.5); the default is an OUI-format ISID like open-iscsi's.</summary>
    public ulong Isid { get; init; } = 0x0002_3D00_0001;

    public ushort Cid { get; init; }

    /// <summary>TSIH for the login; 0 creates a new session (or reinstates one with the same ISID).</summary>
    public ushort Tsih { get; init; }

    public bool HeaderDigest { get; init; }

    public bool DataDigest { get; init; }

    public bool ImmediateData { get; init; } = true;

    public bool InitialR2T { get; init; }

    public int MaxRecvDataSegmentLength { get; init; } = 262_144;

    public int FirstBurstLength { get; init; } = 65_536;

    public int MaxBurstLength { get; init; } = 262_144;

    public int MaxOutstandingR2T { get; init; } = 1;

    public uint InitialCmdSn { get; init; } = 1;

    /// <summary>CHAP credentials; null logs in without authentication.</summary>
    public ChapSettings? Chap { get; init; }

    /// <summary>
    /// Go through SecurityNegotiation with AuthMethod=None even without CHAP (open-iscsi does); otherwise the first
    /// request starts in LoginOperationalNegotiation.
    /// </summary>
    public bool UseSecurityStage { get; init; }

    /// <summary>Extra key=value pairs sent in the first operational request (tests of unusual offers).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ExtraOperationalKeys { get; init; } = [];

    /// <summary>Upper bound for every wait on the target.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Answer the target's NOP-In pings automatically (RFC 7143 §11.19).</summary>
    public bool AnswerNopIn { get; init; } = true;
}

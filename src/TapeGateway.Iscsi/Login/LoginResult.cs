namespace TapeGateway.Iscsi.Login;

/// <summary>Session-wide values negotiated on the leading connection (RFC 7143 §13, scope SW).</summary>
public sealed record SessionParameters
{
    public bool InitialR2T { get; init; } = true;

    public bool ImmediateData { get; init; } = true;

    public int MaxBurstLength { get; init; } = 262144;

    /// <summary>Meaningless (but kept at its negotiated/default value) when InitialR2T=Yes and ImmediateData=No.</summary>
    public int FirstBurstLength { get; init; } = 65536;

    public int MaxOutstandingR2T { get; init; } = 1;

    public bool DataPduInOrder { get; init; } = true;

    public bool DataSequenceInOrder { get; init; } = true;

    public int ErrorRecoveryLevel { get; init; }

    public int DefaultTime2Wait { get; init; } = 2;

    public int DefaultTime2Retain { get; init; } = 20;

    public int MaxConnections { get; init; } = 1;

    /// <summary>RFC 7143 §13.24; 1 = RFC 7143 behaviour.</summary>
    public int IscsiProtocolLevel { get; init; } = 1;

    /// <summary>RFC 7143 §13.23; this target only agrees to "RFC3720".</summary>
    public string TaskReporting { get; init; } = "RFC3720";
}

/// <summary>Per-connection values (RFC 7143 §13, scope CO). Digests take effect with the first FFP PDU.</summary>
public sealed record ConnectionParameters
{
    public DigestType HeaderDigest { get; init; }

    public DigestType DataDigest { get; init; }

    /// <summary>
    /// The initiator's declared MaxRecvDataSegmentLength (default 8192): the largest data segment WE may send on this
    /// connection (Data-In, Text/Login responses, RFC 7143 §13.12).
    /// </summary>
    public int MaxSendDataSegmentLength { get; init; } = 8192;

    /// <summary>Our declared MaxRecvDataSegmentLength: the largest data segment the initiator may send us.</summary>
    public int MaxRecvDataSegmentLength { get; init; } = 8192;
}

/// <summary>Everything the connection needs after a successful login.</summary>
public sealed record LoginResult
{
    public required string InitiatorName { get; init; }

    public string? InitiatorAlias { get; init; }

    /// <summary>Canonical target name; null for discovery sessions.</summary>
    public string? TargetName { get; init; }

    /// <summary>The resolved target (its <see cref="LoginTargetInfo.Tag"/> carries the caller's handle); null for discovery.</summary>
    public LoginTargetInfo? Target { get; init; }

    public required Session.SessionType SessionType { get; init; }

    /// <summary>ISID of the initiator port (48 bits).</summary>
    public required ulong Isid { get; init; }

    /// <summary>TSIH from the request: 0 for a leading login until <see cref="ILoginSessionBinder.Bind"/> assigned one.</summary>
    public ushort Tsih { get; init; }

    public ushort Cid { get; init; }

    /// <summary>CmdSN of the first Login Request: the session's initial CmdSN for a leading login (RFC 7143 §11.12.7).</summary>
    public uint InitialCmdSn { get; init; }

    /// <summary>Portal group tag the login was accepted on.</summary>
    public ushort PortalGroupTag { get; init; }

    /// <summary>True when the login created a new session (request TSIH was 0).</summary>
    public bool IsNewSession { get; init; }

    /// <summary>The CHAP user name that authenticated, or null when no authentication was performed.</summary>
    public string? AuthenticatedUser { get; init; }

    /// <summary>True when the target also proved its identity (mutual CHAP).</summary>
    public bool MutualAuthentication { get; init; }

    public required SessionParameters Session { get; init; }

    public required ConnectionParameters Connection { get; init; }

    /// <summary>Agreed key values for logs (no CHAP keys; nothing secret).</summary>
    public IReadOnlyDictionary<string, string> NegotiatedKeys { get; init; } = new Dictionary<string, string>();

    public override string ToString() =>
        FormattableString.Invariant($"{InitiatorName} isid=0x{Isid:x12} -> {TargetName ?? "(discovery)"} ({SessionType})");
}

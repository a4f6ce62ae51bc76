using System.Collections.Frozen;

namespace TapeGateway.Iscsi.Login;

/// <summary>Value syntax of a key (RFC 7143 §6.1 / §13).</summary>
public enum LoginKeyType
{
    Boolean,
    Numeric,
    List,
    String,

    /// <summary>Binary value ("0x…"/"0b…"), e.g. CHAP_C/CHAP_R.</summary>
    Binary,
}

/// <summary>How the responder computes the result of an offer (RFC 7143 §6.2).</summary>
public enum ReconcileRule
{
    /// <summary>Boolean AND (result Yes only if both say Yes).</summary>
    And,

    /// <summary>Boolean OR (result Yes if either says Yes).</summary>
    Or,

    /// <summary>Numerical minimum.</summary>
    Min,

    /// <summary>Numerical maximum.</summary>
    Max,

    /// <summary>List: first value in the originator's list that the responder supports (RFC 7143 §6.2.1).</summary>
    ListFirstMatch,

    /// <summary>Declarative: each side states its own value, no response (RFC 7143 §6.2).</summary>
    Declarative,

    /// <summary>Handled by the CHAP exchange (RFC 7143 §12.1.3), not by generic reconciliation.</summary>
    Authentication,

    /// <summary>Always answered "Irrelevant" by this target (iSER keys without RDMA, obsolete marker intervals).</summary>
    AlwaysIrrelevant,

    /// <summary>Only meaningful in a Text Request in full feature phase (SendTargets).</summary>
    TextCommand,
}

/// <summary>When a key may be sent (RFC 7143 §13 "Use").</summary>
[Flags]
public enum LoginKeyPhase
{
    Security = 1,
    Operational = 2,
    FullFeature = 4,

    /// <summary>Either login stage (RFC 7143 "IO"/"LO" keys).</summary>
    Login = Security | Operational,

    /// <summary>RFC 7143 "ALL".</summary>
    All = Security | Operational | FullFeature,
}

/// <summary>RFC 7143 §13 "Scope".</summary>
public enum LoginKeyScope
{
    /// <summary>SW: one value for the session; negotiated on the leading connection only ("LO").</summary>
    SessionWide,

    /// <summary>CO: negotiated per connection.</summary>
    Connection,
}

/// <summary>Who may send a key (RFC 7143 §13 "Senders").</summary>
[Flags]
public enum KeySenders
{
    Initiator = 1,
    Target = 2,
    Both = Initiator | Target,
}

/// <summary>One row of <see cref="LoginKeyTable"/>.</summary>
/// <param name="Name">Key name, case-sensitive (RFC 7143 §6.1).</param>
/// <param name="Type">Value syntax.</param>
/// <param name="Rule">Reconciliation rule.</param>
/// <param name="Default">RFC default value used when the key is not negotiated; null when there is none.</param>
/// <param name="Minimum">Lowest admissible numerical value (numeric keys).</param>
/// <param name="Maximum">Highest admissible numerical value (numeric keys).</param>
/// <param name="Phase">Stages in which the key may appear.</param>
/// <param name="Scope">Session-wide (leading connection only) or per connection.</param>
/// <param name="Senders">Who may send it.</param>
/// <param name="IrrelevantForDiscovery">RFC 7143 "Irrelevant when: SessionType=Discovery".</param>
/// <param name="MaxValueLength">Longest admissible value in bytes.</param>
/// <param name="Reference">RFC section defining the key.</param>
public sealed record LoginKeyDefinition(
    string Name,
    LoginKeyType Type,
    ReconcileRule Rule,
    string? Default,
    long Minimum,
    long Maximum,
    LoginKeyPhase Phase,
    LoginKeyScope Scope,
    KeySenders Senders,
    bool IrrelevantForDiscovery,
    int MaxValueLength,
    string Reference);

/// <summary>
/// Every text key this target knows: RFC 7143 §12 (security) and §13 (operational), the obsoleted RFC 3720 marker
/// keys (§13.25 says how to answer them) and the iSER keys of RFC 7145 §6.3 (answered as a target without RDMA).
/// Keys not in the table (including "X-" and "X#" extensions) are answered "NotUnderstood" (RFC 7143 §6.2).
/// </summary>
public static class LoginKeyTable
{
    // Key names, so callers and tests do not spell them by hand.
    public const string AuthMethod = "AuthMethod";
    public const string ChapA = "CHAP_A";
    public const string ChapI = "CHAP_I";
    public const string ChapC = "CHAP_C";
    public const string ChapN = "CHAP_N";
    public const string ChapR = "CHAP_R";
    public const string HeaderDigest = "HeaderDigest";
    public const string DataDigest = "DataDigest";
    public const string MaxConnections = "MaxConnections";
    public const string SendTargets = "SendTargets";
    public const string TargetName = "TargetName";
    public const string InitiatorName = "InitiatorName";
    public const string TargetAlias = "TargetAlias";
    public const string InitiatorAlias = "InitiatorAlias";
    public const string TargetAddress = "TargetAddress";
    public const string TargetPortalGroupTag = "TargetPortalGroupTag";
    public const string InitialR2T = "InitialR2T";
    public const string ImmediateData = "ImmediateData";
    public const string MaxRecvDataSegmentLength = "MaxRecvDataSegmentLength";
    public const string MaxBurstLength = "MaxBurstLength";
    public const string FirstBurstLength = "FirstBurstLength";
    public const string DefaultTime2Wait = "DefaultTime2Wait";
    public const string DefaultTime2Retain = "DefaultTime2Retain";
    public const string MaxOutstandingR2T = "MaxOutstandingR2T";
    public const string DataPduInOrder = "DataPDUInOrder";
    public const string DataSequenceInOrder = "DataSequenceInOrder";
    public const string ErrorRecoveryLevel = "ErrorRecoveryLevel";
    public const string SessionType = "SessionType";
    public const string TaskReporting = "TaskReporting";
    public const string IscsiProtocolLevel = "iSCSIProtocolLevel";
    public const string IfMarker = "IFMarker";
    public const string OfMarker = "OFMarker";
    public const string IfMarkInt = "IFMarkInt";
    public const string OfMarkInt = "OFMarkInt";
    public const string RdmaExtensions = "RDMAExtensions";
    public const string TargetRecvDataSegmentLength = "TargetRecvDataSegmentLength";
    public const string InitiatorRecvDataSegmentLength = "InitiatorRecvDataSegmentLength";
    public const string MaxOutstandingUnexpectedPdus = "MaxOutstandingUnexpectedPDUs";

    /// <summary>RFC 7143 §6.1: ordinary values are at most 255 bytes.</summary>
    public const int TextValueLength = 255;

    /// <summary>RFC 7143 §4.2.7.1: iSCSI names are at most 223 bytes.</summary>
    public const int IscsiNameLength = 223;

    /// <summary>Large binary values (CHAP_C/CHAP_R up to 1024 bytes, hex-encoded with "0x").</summary>
    public const int LargeBinaryLength = 2 + (2 * 1024);

    private const long SegmentMax = 16777215; // 2^24 - 1, RFC 7143 §13.12-§13.14.

    /// <summary>All rows, in RFC order.</summary>
    public static IReadOnlyList<LoginKeyDefinition> All { get; } =
    [
        // ---- Security keys, RFC 7143 §12 -------------------------------------------------------------------
        new(AuthMethod, LoginKeyType.List, ReconcileRule.Authentication, "None", 0, 0, LoginKeyPhase.Security, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §12.1"),
        new(ChapA, LoginKeyType.List, ReconcileRule.Authentication, null, 0, 0, LoginKeyPhase.Security, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §12.1.3"),
        new(ChapI, LoginKeyType.Numeric, ReconcileRule.Authentication, null, 0, 255, LoginKeyPhase.Security, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §12.1.3"),
        new(ChapC, LoginKeyType.Binary, ReconcileRule.Authentication, null, 0, 0, LoginKeyPhase.Security, LoginKeyScope.Connection, KeySenders.Both, false, LargeBinaryLength, "RFC 7143 §12.1.3"),
        new(ChapN, LoginKeyType.String, ReconcileRule.Authentication, null, 0, 0, LoginKeyPhase.Security, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §12.1.3"),
        new(ChapR, LoginKeyType.Binary, ReconcileRule.Authentication, null, 0, 0, LoginKeyPhase.Security, LoginKeyScope.Connection, KeySenders.Both, false, LargeBinaryLength, "RFC 7143 §12.1.3"),

        // ---- Operational keys, RFC 7143 §13 ----------------------------------------------------------------
        new(HeaderDigest, LoginKeyType.List, ReconcileRule.ListFirstMatch, "None", 0, 0, LoginKeyPhase.Login, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.1"),
        new(DataDigest, LoginKeyType.List, ReconcileRule.ListFirstMatch, "None", 0, 0, LoginKeyPhase.Login, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.1"),
        new(MaxConnections, LoginKeyType.Numeric, ReconcileRule.Min, "1", 1, 65535, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.2"),
        new(SendTargets, LoginKeyType.String, ReconcileRule.TextCommand, null, 0, 0, LoginKeyPhase.FullFeature, LoginKeyScope.SessionWide, KeySenders.Initiator, false, TextValueLength, "RFC 7143 §13.3"),
        new(TargetName, LoginKeyType.String, ReconcileRule.Declarative, null, 0, 0, LoginKeyPhase.All, LoginKeyScope.SessionWide, KeySenders.Both, false, IscsiNameLength, "RFC 7143 §13.4"),
        new(InitiatorName, LoginKeyType.String, ReconcileRule.Declarative, null, 0, 0, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Initiator, false, IscsiNameLength, "RFC 7143 §13.5"),
        new(TargetAlias, LoginKeyType.String, ReconcileRule.Declarative, null, 0, 0, LoginKeyPhase.All, LoginKeyScope.SessionWide, KeySenders.Target, false, TextValueLength, "RFC 7143 §13.6"),
        new(InitiatorAlias, LoginKeyType.String, ReconcileRule.Declarative, null, 0, 0, LoginKeyPhase.All, LoginKeyScope.SessionWide, KeySenders.Initiator, false, TextValueLength, "RFC 7143 §13.7"),
        new(TargetAddress, LoginKeyType.String, ReconcileRule.Declarative, null, 0, 0, LoginKeyPhase.All, LoginKeyScope.SessionWide, KeySenders.Target, false, TextValueLength, "RFC 7143 §13.8"),
        new(TargetPortalGroupTag, LoginKeyType.Numeric, ReconcileRule.Declarative, null, 0, 65535, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Target, false, TextValueLength, "RFC 7143 §13.9"),
        new(InitialR2T, LoginKeyType.Boolean, ReconcileRule.Or, "Yes", 0, 0, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.10"),
        new(ImmediateData, LoginKeyType.Boolean, ReconcileRule.And, "Yes", 0, 0, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.11"),
        new(MaxRecvDataSegmentLength, LoginKeyType.Numeric, ReconcileRule.Declarative, "8192", 512, SegmentMax, LoginKeyPhase.All, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.12"),
        new(MaxBurstLength, LoginKeyType.Numeric, ReconcileRule.Min, "262144", 512, SegmentMax, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.13"),
        new(FirstBurstLength, LoginKeyType.Numeric, ReconcileRule.Min, "65536", 512, SegmentMax, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.14"),
        new(DefaultTime2Wait, LoginKeyType.Numeric, ReconcileRule.Max, "2", 0, 3600, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.15"),
        new(DefaultTime2Retain, LoginKeyType.Numeric, ReconcileRule.Min, "20", 0, 3600, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.16"),
        new(MaxOutstandingR2T, LoginKeyType.Numeric, ReconcileRule.Min, "1", 1, 65535, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.17"),
        new(DataPduInOrder, LoginKeyType.Boolean, ReconcileRule.Or, "Yes", 0, 0, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.18"),
        new(DataSequenceInOrder, LoginKeyType.Boolean, ReconcileRule.Or, "Yes", 0, 0, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.19"),
        new(ErrorRecoveryLevel, LoginKeyType.Numeric, ReconcileRule.Min, "0", 0, 2, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.20"),
        new(SessionType, LoginKeyType.String, ReconcileRule.Declarative, "Normal", 0, 0, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Initiator, false, TextValueLength, "RFC 7143 §13.21"),
        new(TaskReporting, LoginKeyType.List, ReconcileRule.ListFirstMatch, "RFC3720", 0, 0, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, true, TextValueLength, "RFC 7143 §13.23"),
        new(IscsiProtocolLevel, LoginKeyType.Numeric, ReconcileRule.Min, "1", 0, 31, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.24"),

        // ---- Obsoleted RFC 3720 markers: RFC 7143 §13.25 allows "No" for IFMarker/OFMarker (what RFC 3720
        // initiators expect) and "Irrelevant" for the interval keys. -------------------------------------------
        new(IfMarker, LoginKeyType.Boolean, ReconcileRule.And, "No", 0, 0, LoginKeyPhase.Login, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.25"),
        new(OfMarker, LoginKeyType.Boolean, ReconcileRule.And, "No", 0, 0, LoginKeyPhase.Login, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.25"),
        new(IfMarkInt, LoginKeyType.String, ReconcileRule.AlwaysIrrelevant, null, 0, 0, LoginKeyPhase.Login, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.25"),
        new(OfMarkInt, LoginKeyType.String, ReconcileRule.AlwaysIrrelevant, null, 0, 0, LoginKeyPhase.Login, LoginKeyScope.Connection, KeySenders.Both, false, TextValueLength, "RFC 7143 §13.25"),

        // ---- iSER, RFC 7145 §6.3: we are a TCP-only target, so RDMAExtensions ANDs to No and the iSER-only keys
        // are "Irrelevant when RDMAExtensions=No". ------------------------------------------------------------
        new(RdmaExtensions, LoginKeyType.Boolean, ReconcileRule.And, "No", 0, 0, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, false, TextValueLength, "RFC 7145 §6.3.1"),
        new(TargetRecvDataSegmentLength, LoginKeyType.Numeric, ReconcileRule.AlwaysIrrelevant, null, 512, SegmentMax, LoginKeyPhase.Login, LoginKeyScope.Connection, KeySenders.Target, false, TextValueLength, "RFC 7145 §6.3.2"),
        new(InitiatorRecvDataSegmentLength, LoginKeyType.Numeric, ReconcileRule.AlwaysIrrelevant, null, 512, SegmentMax, LoginKeyPhase.Login, LoginKeyScope.Connection, KeySenders.Initiator, false, TextValueLength, "RFC 7145 §6.3.3"),
        new(MaxOutstandingUnexpectedPdus, LoginKeyType.Numeric, ReconcileRule.AlwaysIrrelevant, null, 0, uint.MaxValue, LoginKeyPhase.Login, LoginKeyScope.SessionWide, KeySenders.Both, false, TextValueLength, "RFC 7145 §6.3.4"),
    ];

    private static readonly FrozenDictionary<string, LoginKeyDefinition> s_byName =
        All.ToFrozenDictionary(k => k.Name, StringComparer.Ordinal);

    /// <summary>The row for <paramref name="name"/> (exact, case-sensitive match per RFC 7143 §6.1), or null.</summary>
    public static LoginKeyDefinition? Find(string name) => s_byName.GetValueOrDefault(name);

    /// <summary>The row for a key this table must contain.</summary>
    public static LoginKeyDefinition Get(string name) =>
        s_byName.TryGetValue(name, out var row) ? row : throw new KeyNotFoundException(name);
}

using System.ComponentModel.DataAnnotations;

namespace TapeGateway.Iscsi.Configuration;

/// <summary>Bound from configuration section "TapeGateway:Iscsi".</summary>
public sealed class IscsiOptions
{
    public const string SectionName = "TapeGateway:Iscsi";

    /// <summary>Address to listen on; 127.0.0.1 by default so a fresh install is not exposed.</summary>
    [Required]
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>TCP port (3260 is the IANA iSCSI port); 0 picks a free port (tests).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 3260;

    /// <summary>Target portal group tag reported at login and in SendTargets (RFC 7143 §13.9).</summary>
    [Range(1, 65535)]
    public int PortalGroupTag { get; set; } = 1;

    /// <summary>CHAP for discovery sessions; null leaves discovery open.</summary>
    public ChapOptions? DiscoveryChap { get; set; }

    /// <summary>
    /// Per-target security: CHAP and initiator allow-lists. A list with a TargetName field rather than a dictionary,
    /// because IQNs contain ':' which is the configuration path separator.
    /// </summary>
    public List<TargetSecurityOptions> TargetSecurity { get; set; } = [];

    /// <summary>Largest data segment we accept (our declared MaxRecvDataSegmentLength, RFC 7143 §13.12).</summary>
    [Range(512, 16777215)]
    public int MaxRecvDataSegmentLength { get; set; } = 262144;

    [Range(512, 16777215)]
    public int MaxBurstLength { get; set; } = 1048576;

    [Range(512, 16777215)]
    public int FirstBurstLength { get; set; } = 262144;

    [Range(1, 65535)]
    public int MaxOutstandingR2T { get; set; } = 4;

    public bool ImmediateData { get; set; } = true;

    public bool InitialR2T { get; set; }

    /// <summary>Commands the CmdSN window admits beyond ExpCmdSN (MaxCmdSN - ExpCmdSN + 1).</summary>
    [Range(1, 4096)]
    public int CommandWindow { get; set; } = 128;

    /// <summary>Idle time after which the target pings with a NOP-In (RFC 7143 §11.19); 0 disables.</summary>
    [Range(0, 3600)]
    public int NopInIntervalSeconds { get; set; } = 30;

    /// <summary>How long the initiator has to answer our NOP-In before the connection is dropped.</summary>
    [Range(1, 3600)]
    public int NopInTimeoutSeconds { get; set; } = 30;

    /// <summary>Seconds to wait for initiators to log out after the Async logout request at shutdown.</summary>
    [Range(0, 600)]
    public int ShutdownLogoutWaitSeconds { get; set; } = 3;

    /// <summary>Largest total transfer a single command may carry (bounds the Data-Out buffer per task).</summary>
    [Range(65536, 1 << 30)]
    public int MaxCommandTransferLength { get; set; } = 16 * 1024 * 1024;
}

public sealed class TargetSecurityOptions
{
    public string TargetName { get; set; } = "";

    public ChapOptions? Chap { get; set; }

    /// <summary>Initiator IQNs allowed to log in; empty allows any (RFC 7143 §6.3 authorization).</summary>
    public List<string> AllowedInitiators { get; set; } = [];
}

/// <summary>CHAP secrets for one direction or both (RFC 7143 §12.1.3). Secrets are never logged.</summary>
public sealed class ChapOptions
{
    public string UserName { get; set; } = "";

    public string Secret { get; set; } = "";

    /// <summary>Target's own name and secret for mutual CHAP; null for one-way.</summary>
    public string? MutualUserName { get; set; }

    public string? MutualSecret { get; set; }

    public override string ToString() => $"CHAP user '{UserName}'{(MutualUserName is null ? "" : " (mutual)")}";
}

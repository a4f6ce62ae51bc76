using TapeGateway.Core.Scsi;

namespace TapeGateway.Iscsi.Session;

public enum SessionType
{
    Normal,
    Discovery,
}

/// <summary>
/// Negotiated session-wide values (RFC 7143 §13) the full feature phase needs. Built from the login result.
/// </summary>
public sealed record SessionSettings
{
    public bool InitialR2T { get; init; } = true;

    public bool ImmediateData { get; init; } = true;

    public int MaxBurstLength { get; init; } = 262144;

    public int FirstBurstLength { get; init; } = 65536;

    public int MaxOutstandingR2T { get; init; } = 1;

    public int ErrorRecoveryLevel { get; init; }

    public int DefaultTime2Wait { get; init; } = 2;

    public int DefaultTime2Retain { get; init; } = 20;
}

/// <summary>
/// One iSCSI session (RFC 7143 §4.2): an I_T nexus with its CmdSN window. This target negotiates
/// MaxConnections=1 and ERL 0, so a session has exactly one connection and ends with it.
/// </summary>
public sealed class IscsiSession
{
    private readonly Lock _snLock = new();
    private uint _expCmdSn;

    public IscsiSession(
        ushort tsih,
        ulong isid,
        string initiatorName,
        string? initiatorAlias,
        SessionType type,
        IScsiTarget? target,
        ushort portalGroupTag,
        SessionSettings settings,
        uint initialCmdSn,
        int commandWindow)
    {
        Tsih = tsih;
        Isid = isid;
        InitiatorName = initiatorName;
        InitiatorAlias = initiatorAlias;
        Type = type;
        Target = target;
        Settings = settings;
        CommandWindow = commandWindow;
        _expCmdSn = initialCmdSn;
        if (target is not null)
        {
            Nexus = new ItNexus(initiatorName, isid, target.Name, portalGroupTag);
        }
    }

    public ushort Tsih { get; }

    public ulong Isid { get; }

    public string InitiatorName { get; }

    public string? InitiatorAlias { get; }

    public SessionType Type { get; }

    public IScsiTarget? Target { get; }

    public ItNexus? Nexus { get; }

    public SessionSettings Settings { get; }

    public int CommandWindow { get; }

    public DateTimeOffset CreatedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>The connection carrying this session (MaxConnections=1).</summary>
    public Connection.IscsiConnection? Connection { get; internal set; }

    public uint ExpCmdSn
    {
        get
        {
            lock (_snLock)
            {
                return _expCmdSn;
            }
        }
    }

    public uint MaxCmdSn
    {
        get
        {
            lock (_snLock)
            {
                return unchecked(_expCmdSn + (uint)CommandWindow - 1);
            }
        }
    }

    /// <summary>
    /// RFC 7143 §4.2.2.1: accepts a non-immediate command if CmdSN is the next expected one. Returns
    /// <see cref="CmdSnCheck.Duplicate"/> / <see cref="CmdSnCheck.OutOfWindow"/> for commands to drop silently
    /// and <see cref="CmdSnCheck.Gap"/> for an in-window command that arrived early.
    /// </summary>
    public CmdSnCheck Admit(uint cmdSn, bool immediate)
    {
        lock (_snLock)
        {
            var max = unchecked(_expCmdSn + (uint)CommandWindow - 1);
            if (immediate)
            {
                // Immediate commands carry CmdSN without advancing it; anything in the window is acceptable.
                return CmdSnCheck.Accept;
            }

            if (cmdSn == _expCmdSn)
            {
                _expCmdSn = unchecked(_expCmdSn + 1);
                return CmdSnCheck.Accept;
            }

            if (SerialNumber.InWindow(cmdSn, _expCmdSn, max))
            {
                return CmdSnCheck.Gap;
            }

            return SerialNumber.LessThan(cmdSn, _expCmdSn) ? CmdSnCheck.Duplicate : CmdSnCheck.OutOfWindow;
        }
    }

    public override string ToString() =>
        FormattableString.Invariant($"{InitiatorName} isid=0x{Isid:x12} tsih={Tsih} -> {Target?.Name ?? "(discovery)"}");
}

public enum CmdSnCheck
{
    Accept,
    Gap,
    Duplicate,
    OutOfWindow,
}

namespace TapeGateway.Core.Scsi;

/// <summary>
/// An I_T nexus (SAM-5 §4.6): one initiator port talking to one target port. For iSCSI the initiator port name is
/// "iSCSI name,i,0xISID" and the target port name "iSCSI name,t,0xTPGT" (RFC 7143 §4.2.7 and SPC-4 §7.6.4.6).
/// <see cref="Id"/> is unique for the life of the process, so per-nexus state (unit attentions, reservations)
/// can be keyed without string comparisons.
/// </summary>
public sealed class ItNexus
{
    private static long s_nextId;

    public ItNexus(string initiatorName, ulong isid, string targetName, ushort targetPortalGroupTag)
    {
        InitiatorName = initiatorName;
        Isid = isid;
        TargetName = targetName;
        TargetPortalGroupTag = targetPortalGroupTag;
        Id = Interlocked.Increment(ref s_nextId);
        InitiatorPortName = FormattableString.Invariant($"{initiatorName},i,0x{isid:x12}");
        TargetPortName = FormattableString.Invariant($"{targetName},t,0x{targetPortalGroupTag:x4}");
    }

    public long Id { get; }

    public string InitiatorName { get; }

    public ulong Isid { get; }

    public string TargetName { get; }

    public ushort TargetPortalGroupTag { get; }

    /// <summary>SPC-4 §7.6.4.6 iSCSI initiator port TransportID form.</summary>
    public string InitiatorPortName { get; }

    public string TargetPortName { get; }

    /// <summary>SPC-4 relative target port identifier; we expose one port per portal group, numbered from the TPGT.</summary>
    public ushort RelativeTargetPortId => TargetPortalGroupTag;

    /// <summary>Same initiator port (name + ISID), regardless of which session instance carries it.</summary>
    public bool SameInitiatorPort(ItNexus other) =>
        Isid == other.Isid && string.Equals(InitiatorName, other.InitiatorName, StringComparison.OrdinalIgnoreCase);

    public override string ToString() => InitiatorPortName + " -> " + TargetPortName;
}

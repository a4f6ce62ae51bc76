namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>Operational values in force after login (RFC 7143 §13), as the target answered them.</summary>
public sealed record NegotiatedParameters
{
    public bool HeaderDigest { get; init; }

    public bool DataDigest { get; init; }

    public bool ImmediateData { get; init; }

    public bool InitialR2T { get; init; }

    public int FirstBurstLength { get; init; }

    public int MaxBurstLength { get; init; }

    public int MaxOutstandingR2T { get; init; }

    /// <summary>The target's declared MaxRecvDataSegmentLength: the most we may put in one PDU (8192 if undeclared).</summary>
    public int TargetMaxRecvDataSegmentLength { get; init; }

    /// <summary>Every key the target sent during login, last value wins.</summary>
    public IReadOnlyDictionary<string, string> TargetKeys { get; init; } = new Dictionary<string, string>();

    /// <summary>Answers that break the RFC 7143 §6.2 reconciliation rules for what we offered.</summary>
    public IReadOnlyList<string> Violations { get; init; } = [];
}

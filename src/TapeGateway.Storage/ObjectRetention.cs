namespace TapeGateway.Storage;

/// <summary>S3 Object Lock retention modes (the archive pools' governance and compliance locks).</summary>
public enum ObjectRetentionMode
{
    /// <summary>Can be shortened or removed only with the s3:BypassGovernanceRetention permission.</summary>
    Governance,

    /// <summary>Nobody, root included, can shorten it or delete the object version before the date.</summary>
    Compliance,
}

/// <summary>An object version's retention: its mode and the date before which it cannot be deleted or overwritten.</summary>
public readonly record struct ObjectRetention(ObjectRetentionMode Mode, DateTimeOffset RetainUntil);

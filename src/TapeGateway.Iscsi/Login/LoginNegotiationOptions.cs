namespace TapeGateway.Iscsi.Login;

/// <summary>
/// This target's side of operational negotiation (RFC 7143 §13): the values it offers/accepts. Immutable; call
/// <see cref="Validate"/> (the <see cref="LoginStateMachine"/> constructor does) to check consistency.
/// </summary>
public sealed record LoginNegotiationOptions
{
    /// <summary>Our declared MaxRecvDataSegmentLength: the largest data segment we accept (RFC 7143 §13.12).</summary>
    public int MaxRecvDataSegmentLength { get; init; } = 262144;

    /// <summary>Upper bound for negotiated MaxBurstLength (Min rule, RFC 7143 §13.13).</summary>
    public int MaxBurstLength { get; init; } = 1048576;

    /// <summary>Upper bound for negotiated FirstBurstLength (Min rule, RFC 7143 §13.14); must not exceed MaxBurstLength.</summary>
    public int FirstBurstLength { get; init; } = 65536;

    /// <summary>Upper bound for MaxOutstandingR2T (Min rule, RFC 7143 §13.17).</summary>
    public int MaxOutstandingR2T { get; init; } = 1;

    /// <summary>Our ImmediateData vote (AND rule, RFC 7143 §13.11).</summary>
    public bool ImmediateData { get; init; } = true;

    /// <summary>Our InitialR2T vote (OR rule, RFC 7143 §13.10); No means we accept unsolicited data.</summary>
    public bool InitialR2T { get; init; }

    /// <summary>Our DefaultTime2Wait (Max rule, RFC 7143 §13.15).</summary>
    public int DefaultTime2Wait { get; init; } = 2;

    /// <summary>Our DefaultTime2Retain (Min rule, RFC 7143 §13.16).</summary>
    public int DefaultTime2Retain { get; init; } = 20;

    /// <summary>Digests we support for HeaderDigest/DataDigest; the initiator's order decides (RFC 7143 §6.2.1).</summary>
    public IReadOnlyList<DigestType> Digests { get; init; } = [DigestType.Crc32C, DigestType.None];

    /// <summary>
    /// Builds options from the server configuration (digests stay CRC32C,None; ERL 0, MaxConnections 1 and in-order
    /// data are fixed by this target).
    /// </summary>
    public static LoginNegotiationOptions FromIscsiOptions(Configuration.IscsiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new LoginNegotiationOptions
        {
            MaxRecvDataSegmentLength = options.MaxRecvDataSegmentLength,
            MaxBurstLength = options.MaxBurstLength,
            FirstBurstLength = Math.Min(options.FirstBurstLength, options.MaxBurstLength),
            MaxOutstandingR2T = options.MaxOutstandingR2T,
            ImmediateData = options.ImmediateData,
            InitialR2T = options.InitialR2T,
        };
    }

    /// <exception cref="ArgumentException">A value is outside its RFC 7143 §13 range or inconsistent.</exception>
    public void Validate()
    {
        CheckRange(MaxRecvDataSegmentLength, 512, 16777215, nameof(MaxRecvDataSegmentLength));
        CheckRange(MaxBurstLength, 512, 16777215, nameof(MaxBurstLength));
        CheckRange(FirstBurstLength, 512, 16777215, nameof(FirstBurstLength));
        CheckRange(MaxOutstandingR2T, 1, 65535, nameof(MaxOutstandingR2T));
        CheckRange(DefaultTime2Wait, 0, 3600, nameof(DefaultTime2Wait));
        CheckRange(DefaultTime2Retain, 0, 3600, nameof(DefaultTime2Retain));
        if (FirstBurstLength > MaxBurstLength)
        {
            // RFC 7143 §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength.
            throw new ArgumentException("FirstBurstLength must not exceed MaxBurstLength (RFC 7143 §13.14)");
        }

        if (Digests.Count == 0)
        {
            throw new ArgumentException("at least one digest (None) must be supported");
        }
    }

    private static void CheckRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentException($"{name} must be in {min}..{max}, got {value}", name);
        }
    }
}

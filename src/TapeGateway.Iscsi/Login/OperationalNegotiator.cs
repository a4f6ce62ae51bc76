namespace TapeGateway.Iscsi.Login;

/// <summary>
/// Generic key reconciliation (RFC 7143 §6.2) against <see cref="LoginKeyTable"/> and this target's
/// <see cref="LoginNegotiationOptions"/>. Holds the agreed values of one login.
/// </summary>
internal sealed class OperationalNegotiator
{
    private readonly LoginNegotiationOptions _options;
    private readonly Dictionary<string, string> _agreed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _offered = new(StringComparer.Ordinal);

    public OperationalNegotiator(LoginNegotiationOptions options)
    {
        _options = options;
    }

    /// <summary>Agreed results so far (key → value).</summary>
    public IReadOnlyDictionary<string, string> Agreed => _agreed;

    /// <summary>Keys we offered that still await the initiator's answer.</summary>
    public bool HasPendingOffers => _offered.Count > 0;

    /// <summary>The initiator's declared MaxRecvDataSegmentLength (RFC 7143 §13.12), or null if not declared.</summary>
    public int? InitiatorMaxRecvDataSegmentLength { get; private set; }

    public bool IsOffered(string key) => _offered.ContainsKey(key);

    /// <summary>Value in force for <paramref name="key"/>: agreed, else the RFC default.</summary>
    public string Effective(string key) => _agreed.TryGetValue(key, out var v) ? v : LoginKeyTable.Get(key).Default ?? "";

    /// <summary>This target's own value for a negotiable key (for lists: the comma-separated supported set).</summary>
    public string OurValue(string key) => key switch
    {
        LoginKeyTable.HeaderDigest or LoginKeyTable.DataDigest =>
            string.Join(',', _options.Digests.Select(d => d == DigestType.Crc32C ? "CRC32C" : "None")),
        LoginKeyTable.MaxConnections => "1", // one connection per session (MC/S not supported)
        LoginKeyTable.InitialR2T => IscsiValueEncoding.FormatBoolean(_options.InitialR2T),
        LoginKeyTable.ImmediateData => IscsiValueEncoding.FormatBoolean(_options.ImmediateData),
        LoginKeyTable.MaxBurstLength => IscsiValueEncoding.FormatNumber(_options.MaxBurstLength),
        LoginKeyTable.FirstBurstLength => IscsiValueEncoding.FormatNumber(_options.FirstBurstLength),
        LoginKeyTable.DefaultTime2Wait => IscsiValueEncoding.FormatNumber(_options.DefaultTime2Wait),
        LoginKeyTable.DefaultTime2Retain => IscsiValueEncoding.FormatNumber(_options.DefaultTime2Retain),
        LoginKeyTable.MaxOutstandingR2T => IscsiValueEncoding.FormatNumber(_options.MaxOutstandingR2T),
        LoginKeyTable.DataPduInOrder or LoginKeyTable.DataSequenceInOrder => IscsiValueEncoding.Yes, // we need in-order data
        LoginKeyTable.ErrorRecoveryLevel => "0", // ERL 0 only: recovery is session reinstatement
        LoginKeyTable.TaskReporting => "RFC3720",
        LoginKeyTable.IscsiProtocolLevel => "1", // RFC 7143 behaviour; no RFC 7144 extensions
        LoginKeyTable.IfMarker or LoginKeyTable.OfMarker or LoginKeyTable.RdmaExtensions => IscsiValueEncoding.No,
        _ => throw new ArgumentOutOfRangeException(nameof(key), key, "not a negotiated key"),
    };

    /// <summary>
    /// RFC 7143 §6.2: the responder's answer to <paramref name="offered"/> given our value <paramref name="ours"/>.
    /// Returns "Reject" for unparsable or out-of-range offers.
    /// </summary>
    public static string Reconcile(LoginKeyDefinition key, string offered, string ours)
    {
        switch (key.Rule)
        {
            case ReconcileRule.Min or ReconcileRule.Max:
                if (!IscsiValueEncoding.TryParseNumber(offered, out var theirs) || theirs < (ulong)key.Minimum || theirs > (ulong)key.Maximum)
                {
                    return TextKeyValues.Reject;
                }

                var mine = ulong.Parse(ours, System.Globalization.CultureInfo.InvariantCulture);
                var result = key.Rule == ReconcileRule.Min ? Math.Min(theirs, mine) : Math.Max(theirs, mine);
                return result.ToString(System.Globalization.CultureInfo.InvariantCulture);

            case ReconcileRule.And or ReconcileRule.Or:
                if (!IscsiValueEncoding.TryParseBoolean(offered, out var theirBool))
                {
                    return TextKeyValues.Reject;
                }

                var myBool = ours == IscsiValueEncoding.Yes;
                return IscsiValueEncoding.FormatBoolean(key.Rule == ReconcileRule.And ? theirBool && myBool : theirBool || myBool);

            case ReconcileRule.ListFirstMatch:
                var supported = ours.Split(',');
                var candidates = offered.Split(',');
                if (candidates.Any(c => c.Length == 0))
                {
                    // A malformed list (empty element) is not a valid offer.
                    return TextKeyValues.Reject;
                }

                foreach (var candidate in candidates)
                {
                    if (supported.Contains(candidate, StringComparer.Ordinal))
                    {
                        return candidate;
                    }
                }

                return TextKeyValues.Reject;

            default:
                throw new ArgumentOutOfRangeException(nameof(key), key.Rule, "not a reconciled key");
        }
    }

    /// <summary>Answers an initiator offer of a negotiated key and records the result.</summary>
    public string Answer(LoginKeyDefinition key, string offered)
    {
        var answer = Reconcile(key, offered, OurValue(key.Name));
        if (answer != TextKeyValues.Reject)
        {
            _agreed[key.Name] = answer;
        }

        return answer;
    }

    /// <summary>Records the initiator's MaxRecvDataSegmentLength declaration; false when out of range.</summary>
    public bool Declare(LoginKeyDefinition key, string value)
    {
        if (!IscsiValueEncoding.TryParseNumber(value, out var n) || n < (ulong)key.Minimum || n > (ulong)key.Maximum)
        {
            return false;
        }

        InitiatorMaxRecvDataSegmentLength = (int)n;
        return true;
    }

    /// <summary>RFC 7143 §13.14: FirstBurstLength is irrelevant when InitialR2T=Yes and ImmediateData=No.</summary>
    public bool FirstBurstIrrelevant =>
        Effective(LoginKeyTable.InitialR2T) == IscsiValueEncoding.Yes && Effective(LoginKeyTable.ImmediateData) == IscsiValueEncoding.No;

    /// <summary>
    /// Before leaving for full feature phase: session-wide keys the initiator never offered fall back to their RFC
    /// defaults, which may be beyond what we accept (e.g. MaxBurstLength below 262144, or ImmediateData=No). Those we
    /// must offer ourselves (RFC 7143 §6.2) and wait for the answers. Returns the offers (empty when none are needed).
    /// </summary>
    public List<TextKeyValue> MakeOffers()
    {
        var offers = new List<TextKeyValue>();
        foreach (var key in LoginKeyTable.All)
        {
            if (key.Scope != LoginKeyScope.SessionWide || key.Default is null || _agreed.ContainsKey(key.Name)
                || key.Rule is not (ReconcileRule.Min or ReconcileRule.Max or ReconcileRule.And or ReconcileRule.Or))
            {
                continue;
            }

            if (key.Name == LoginKeyTable.FirstBurstLength && FirstBurstIrrelevant)
            {
                continue;
            }

            var ours = OurValue(key.Name);
            if (Reconcile(key, key.Default, ours) != key.Default)
            {
                _offered[key.Name] = ours;
                offers.Add(new TextKeyValue(key.Name, ours));
            }
        }

        return offers;
    }

    /// <summary>
    /// Checks the initiator's answer to one of our offers: it must be a result the rule could produce from our offer
    /// (e.g. ≤ our value for Min). Returns false when the answer is unacceptable.
    /// </summary>
    public bool AcceptAnswer(LoginKeyDefinition key, string answer)
    {
        var offered = _offered[key.Name];
        _offered.Remove(key.Name);
        if (TextKeyValues.IsReservedResponse(answer))
        {
            return false;
        }

        var result = Reconcile(key, answer, offered);
        if (result == TextKeyValues.Reject || result != Normalize(key, answer))
        {
            return false;
        }

        _agreed[key.Name] = result;
        return true;
    }

    private static string Normalize(LoginKeyDefinition key, string value) =>
        key.Type == LoginKeyType.Numeric && IscsiValueEncoding.TryParseNumber(value, out var n)
            ? n.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : value;

    public SessionParameters BuildSessionParameters()
    {
        var maxBurst = Number(LoginKeyTable.MaxBurstLength);
        return new SessionParameters
        {
            InitialR2T = Effective(LoginKeyTable.InitialR2T) == IscsiValueEncoding.Yes,
            ImmediateData = Effective(LoginKeyTable.ImmediateData) == IscsiValueEncoding.Yes,
            MaxBurstLength = maxBurst,

            // RFC 7143 §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength; clamp a careless initiator's pair.
            FirstBurstLength = Math.Min(Number(LoginKeyTable.FirstBurstLength), maxBurst),
            MaxOutstandingR2T = Number(LoginKeyTable.MaxOutstandingR2T),
            DataPduInOrder = Effective(LoginKeyTable.DataPduInOrder) == IscsiValueEncoding.Yes,
            DataSequenceInOrder = Effective(LoginKeyTable.DataSequenceInOrder) == IscsiValueEncoding.Yes,
            ErrorRecoveryLevel = Number(LoginKeyTable.ErrorRecoveryLevel),
            DefaultTime2Wait = Number(LoginKeyTable.DefaultTime2Wait),
            DefaultTime2Retain = Number(LoginKeyTable.DefaultTime2Retain),
            MaxConnections = Number(LoginKeyTable.MaxConnections),
            IscsiProtocolLevel = Number(LoginKeyTable.IscsiProtocolLevel),
            TaskReporting = Effective(LoginKeyTable.TaskReporting),
        };
    }

    public ConnectionParameters BuildConnectionParameters() => new()
    {
        HeaderDigest = Effective(LoginKeyTable.HeaderDigest) == "CRC32C" ? DigestType.Crc32C : DigestType.None,
        DataDigest = Effective(LoginKeyTable.DataDigest) == "CRC32C" ? DigestType.Crc32C : DigestType.None,
        MaxSendDataSegmentLength = InitiatorMaxRecvDataSegmentLength ?? 8192,
        MaxRecvDataSegmentLength = _options.MaxRecvDataSegmentLength,
    };

    private int Number(string key) =>
        int.Parse(Effective(key), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture);
}

namespace TapeGateway.Iscsi.Login;

/// <summary>What login needs to know about a target: names, portal group, CHAP and the initiator allow-list.</summary>
public sealed record LoginTargetInfo
{
    public LoginTargetInfo(string name, ushort portalGroupTag)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        PortalGroupTag = portalGroupTag;
    }

    /// <summary>Canonical target IQN (reported back in the result).</summary>
    public string Name { get; }

    /// <summary>TargetAlias declared at login (RFC 7143 §13.6); null sends none.</summary>
    public string? Alias { get; init; }

    /// <summary>TargetPortalGroupTag declared in the first Login Response (RFC 7143 §13.9).</summary>
    public ushort PortalGroupTag { get; }

    /// <summary>CHAP required for this target when non-null; null means no authentication.</summary>
    public ChapCredentials? Chap { get; init; }

    /// <summary>Initiator IQNs allowed to log in (case-insensitive, RFC 7143 §4.2.7.2); empty allows all.</summary>
    public IReadOnlyCollection<string> AllowedInitiators { get; init; } = [];

    /// <summary>The target exists in configuration but is being removed: login fails with 0x0204.</summary>
    public bool Removed { get; init; }

    /// <summary>Caller's own handle (e.g. the IScsiTarget), passed through to <see cref="LoginResult.Target"/>.</summary>
    public object? Tag { get; init; }

    public bool IsInitiatorAllowed(string initiatorName) =>
        AllowedInitiators.Count == 0
        || AllowedInitiators.Any(a => string.Equals(a, initiatorName, StringComparison.OrdinalIgnoreCase));

    public override string ToString() => Name;
}

/// <summary>Target lookup for login; implemented by the server from its configuration.</summary>
public interface ILoginTargetResolver
{
    /// <summary>The target named <paramref name="targetName"/> (case-insensitive), or null → status 0x0203.</summary>
    LoginTargetInfo? Resolve(string targetName);

    /// <summary>CHAP required for discovery sessions; null leaves discovery unauthenticated.</summary>
    ChapCredentials? DiscoveryChap { get; }

    /// <summary>Portal group tag of this portal (for discovery sessions, which have no target).</summary>
    ushort PortalGroupTag { get; }
}

/// <summary>What the first Login Request identified, for <see cref="ILoginSessionBinder.Admit"/>.</summary>
/// <param name="Isid">Initiator session id (48 bits).</param>
/// <param name="Tsih">0 for a new session (leading login), otherwise the session the connection wants to join.</param>
/// <param name="Cid">Connection id.</param>
/// <param name="InitiatorName">Declared InitiatorName.</param>
/// <param name="TargetName">Resolved target name; null for discovery.</param>
/// <param name="SessionType">Normal or Discovery.</param>
public readonly record struct LoginAdmission(
    ulong Isid,
    ushort Tsih,
    ushort Cid,
    string InitiatorName,
    string? TargetName,
    Session.SessionType SessionType);

/// <summary>
/// Session-table hooks the login needs (TSIH allocation and session lookups live with the connection layer). All
/// methods return <see cref="LoginStatus.Success"/> to continue, or a failure status to reject the login.
/// </summary>
public interface ILoginSessionBinder
{
    /// <summary>
    /// Called once, after the first complete Login Request was parsed and the target resolved (before
    /// authentication). Typical checks: TSIH≠0 but unknown → <see cref="LoginStatus.SessionDoesNotExist"/>; joining an
    /// existing session while MaxConnections=1 → <see cref="LoginStatus.TooManyConnections"/>.
    /// </summary>
    LoginStatus Admit(in LoginAdmission admission);

    /// <summary>
    /// Called when the target is about to answer T=1 NSG=FullFeaturePhase. Returns the TSIH to send: a new one for a
    /// leading login (reinstating any old session with the same initiator port, RFC 7143 §6.3.5), or
    /// <see cref="LoginResult.Tsih"/> when adding a connection.
    /// </summary>
    LoginStatus Bind(LoginResult result, out ushort tsih);
}

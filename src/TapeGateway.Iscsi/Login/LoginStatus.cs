namespace TapeGateway.Iscsi.Login;

/// <summary>Login stages carried in CSG/NSG (RFC 7143 §11.12.3).</summary>
public enum LoginStage : byte
{
    SecurityNegotiation = 0,
    LoginOperationalNegotiation = 1,

    // 2 is reserved.
    FullFeaturePhase = 3,
}

/// <summary>
/// Login Response Status-Class (high byte) and Status-Detail (low byte), RFC 7143 §11.13.5.
/// </summary>
public enum LoginStatus : ushort
{
    Success = 0x0000,
    TargetMovedTemporarily = 0x0101,
    TargetMovedPermanently = 0x0102,

    /// <summary>Miscellaneous initiator error (malformed text, duplicate keys, protocol violations).</summary>
    InitiatorError = 0x0200,
    AuthenticationFailure = 0x0201,
    AuthorizationFailure = 0x0202,
    NotFound = 0x0203,
    TargetRemoved = 0x0204,
    UnsupportedVersion = 0x0205,
    TooManyConnections = 0x0206,
    MissingParameter = 0x0207,
    CannotIncludeInSession = 0x0208,
    SessionTypeNotSupported = 0x0209,
    SessionDoesNotExist = 0x020A,
    InvalidDuringLogin = 0x020B,

    TargetError = 0x0300,
    ServiceUnavailable = 0x0301,
    OutOfResources = 0x0302,
}

public static class LoginStatusExtensions
{
    /// <summary>Status-Class byte: 0 success, 1 redirection, 2 initiator error, 3 target error.</summary>
    public static byte StatusClass(this LoginStatus status) => (byte)((ushort)status >> 8);

    /// <summary>Status-Detail byte.</summary>
    public static byte StatusDetail(this LoginStatus status) => (byte)status;
}

/// <summary>Digest negotiated for headers or data (RFC 7143 §13.1).</summary>
public enum DigestType
{
    None,
    Crc32C,
}

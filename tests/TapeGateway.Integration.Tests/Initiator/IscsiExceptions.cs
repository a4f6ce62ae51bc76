namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>The target refused the login: Status-Class/Status-Detail of the Login Response (RFC 7143 §11.13.5).</summary>
public sealed class IscsiLoginException : Exception
{
    public IscsiLoginException()
    {
    }

    public IscsiLoginException(string message)
        : base(message)
    {
    }

    public IscsiLoginException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public IscsiLoginException(byte statusClass, byte statusDetail)
        : base($"login failed with status 0x{statusClass:x2}{statusDetail:x2}")
    {
        StatusClass = statusClass;
        StatusDetail = statusDetail;
    }

    public byte StatusClass { get; }

    public byte StatusDetail { get; }

    /// <summary>Class and detail as one number, e.g. 0x0201 for an authentication failure.</summary>
    public ushort Status => (ushort)((StatusClass << 8) | StatusDetail);
}

/// <summary>The target answered a PDU of ours with a Reject (RFC 7143 §11.17).</summary>
public sealed class IscsiRejectedException : Exception
{
    public IscsiRejectedException()
    {
    }

    public IscsiRejectedException(string message)
        : base(message)
    {
    }

    public IscsiRejectedException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public IscsiRejectedException(byte reason, byte[] rejectedHeader)
        : base($"target rejected the PDU with reason 0x{reason:x2}")
    {
        Reason = reason;
        RejectedHeader = rejectedHeader;
    }

    public byte Reason { get; }

    public byte[] RejectedHeader { get; } = [];
}

/// <summary>Mutual CHAP: the target could not prove it knows the secret the initiator expects.</summary>
public sealed class ChapMutualAuthenticationException : Exception
{
    public ChapMutualAuthenticationException()
    {
    }

    public ChapMutualAuthenticationException(string message)
        : base(message)
    {
    }

    public ChapMutualAuthenticationException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The connection ended while the initiator was waiting for the target.</summary>
public sealed class IscsiConnectionClosedException : Exception
{
    public IscsiConnectionClosedException()
        : base("the target closed the connection")
    {
    }

    public IscsiConnectionClosedException(string message)
        : base(message)
    {
    }

    public IscsiConnectionClosedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

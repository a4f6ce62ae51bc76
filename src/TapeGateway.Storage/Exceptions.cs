namespace TapeGateway.Storage;

/// <summary>Base of every error the object store port reports; callers never see SDK exceptions.</summary>
public class ObjectStoreException : Exception
{
    public ObjectStoreException()
    {
    }

    public ObjectStoreException(string message)
        : base(message)
    {
    }

    public ObjectStoreException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public string? Key { get; init; }
}

public sealed class ObjectNotFoundException : ObjectStoreException
{
    public ObjectNotFoundException()
    {
    }

    public ObjectNotFoundException(string message)
        : base(message)
    {
    }

    public ObjectNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A conditional request (If-None-Match / If-Match) did not hold (HTTP 412).</summary>
public sealed class PreconditionFailedException : ObjectStoreException
{
    public PreconditionFailedException()
    {
    }

    public PreconditionFailedException(string message)
        : base(message)
    {
    }

    public PreconditionFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The object is archived (GLACIER / DEEP_ARCHIVE) and not restored (S3 403 InvalidObjectState).</summary>
public sealed class InvalidObjectStateException : ObjectStoreException
{
    public InvalidObjectStateException()
    {
    }

    public InvalidObjectStateException(string message)
        : base(message)
    {
    }

    public InvalidObjectStateException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public StorageClass? StorageClass { get; init; }
}

/// <summary>A range that starts at or past the end of the object (HTTP 416).</summary>
public sealed class RangeNotSatisfiableException : ObjectStoreException
{
    public RangeNotSatisfiableException()
    {
    }

    public RangeNotSatisfiableException(string message)
        : base(message)
    {
    }

    public RangeNotSatisfiableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The bytes do not match their recorded SHA-256 (or the caller's expected one on put). Never retried automatically:
/// re-reading a corrupted object returns the same bytes; the caller reports a medium error.
/// </summary>
public sealed class ObjectCorruptedException : ObjectStoreException
{
    public ObjectCorruptedException()
    {
    }

    public ObjectCorruptedException(string message)
        : base(message)
    {
    }

    public ObjectCorruptedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The store does not implement the operation (e.g. RestoreObject on Ceph RGW: 501).</summary>
public sealed class ObjectStoreNotSupportedException : ObjectStoreException
{
    public ObjectStoreNotSupportedException()
    {
    }

    public ObjectStoreNotSupportedException(string message)
        : base(message)
    {
    }

    public ObjectStoreNotSupportedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A failure that may succeed when tried again: throttling (503 SlowDown), 5xx, timeouts, broken connections,
/// body hash mismatches (Content-MD5 or the signed SHA-256: bytes damaged in transit). <see cref="RetryPolicy"/> retries exactly these.
/// </summary>
public sealed class TransientObjectStoreException : ObjectStoreException
{
    public TransientObjectStoreException()
    {
    }

    public TransientObjectStoreException(string message)
        : base(message)
    {
    }

    public TransientObjectStoreException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The server asked us to slow down; the policy backs off the same way but callers may also shed load.</summary>
    public bool IsThrottling { get; init; }
}

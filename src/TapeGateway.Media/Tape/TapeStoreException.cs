namespace TapeGateway.Media.Tape;

/// <summary>Why a tape store could not serve a read or accept a write.</summary>
public enum TapeStoreFailure
{
    /// <summary>
    /// The bytes cannot be read back intact (an object in the bucket failed its SHA-256 check, or is gone). A real
    /// drive reports an unrecovered read error; so does the SSC layer.
    /// </summary>
    MediumError,

    /// <summary>
    /// The store is temporarily unable to serve (object store unreachable, upload buffer full past its timeout).
    /// Nothing was changed, so the command can be retried.
    /// </summary>
    Unavailable,
}

/// <summary>
/// A tape store failure that the drive reports as a sense condition instead of a target failure. Thrown by
/// <see cref="ITapeStore"/> implementations that are not plain local files (the object-store tier).
/// </summary>
public sealed class TapeStoreException : IOException
{
    public TapeStoreException(TapeStoreFailure failure, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
    }

    public TapeStoreFailure Failure { get; }
}

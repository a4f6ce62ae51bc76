using System.Diagnostics.CodeAnalysis;

namespace TapeGateway.Iscsi.Pdu;

/// <summary>
/// A PDU that violates RFC 7143 framing. The connection decides how to answer (Reject PDU or dropping the
/// connection, RFC 7143 §7); parsers never write responses.
/// </summary>
public sealed class IscsiProtocolException : Exception
{
    public IscsiProtocolException()
    {
    }

    public IscsiProtocolException(string message)
        : base(message)
    {
    }

    public IscsiProtocolException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public IscsiProtocolException(string message, RejectReason reason, bool fatal)
        : base(message)
    {
        Reason = reason;
        IsFatal = fatal;
    }

    public RejectReason Reason { get; } = RejectReason.ProtocolError;

    /// <summary>True when framing is lost and the connection must close (header digest errors, oversized segments).</summary>
    public bool IsFatal { get; } = true;

    [DoesNotReturn]
    public static void ThrowOversized(int length, int limit) =>
        throw new IscsiProtocolException($"DataSegmentLength {length} exceeds MaxRecvDataSegmentLength {limit}", RejectReason.ProtocolError, fatal: true);

    [DoesNotReturn]
    public static void ThrowHeaderDigest() =>
        throw new IscsiProtocolException("header digest mismatch", RejectReason.ProtocolError, fatal: true);

    [DoesNotReturn]
    public static void ThrowAhsTooLong(int length) =>
        throw new IscsiProtocolException($"TotalAHSLength {length} is larger than any AHS this target accepts", RejectReason.ProtocolError, fatal: true);
}

using System.Buffers;

namespace TapeGateway.Iscsi.Pdu;

/// <summary>Framing limits the reader enforces before any payload is buffered.</summary>
public readonly record struct PduReaderOptions(int MaxDataSegmentLength, bool HeaderDigest, bool DataDigest)
{
    /// <summary>AHS we accept: an extended CDB (up to 260-16 bytes) plus a bidirectional EDTL AHS (RFC 7143 §11.2.2).</summary>
    public const int MaxAhsLength = 4 + 248 + 8;
}

public enum PduReadResult
{
    NeedMoreData,
    Complete,

    /// <summary>The PDU is consumed and framing is intact, but its data digest was wrong (RFC 7143 §7.8: Reject it).</summary>
    DataDigestError,
}

/// <summary>
/// Parses one PDU from a pipe buffer (RFC 7143 §11.2). Copies the 48-byte BHS into the caller's span (it may straddle
/// segments) and hands back AHS and data as slices that stay valid only until the pipe is advanced. Limits are checked
/// as soon as the BHS is in, so an oversized or lying length never makes us wait for (or buffer) its payload.
/// </summary>
public static class PduReader
{
    public static PduReadResult TryRead(
        ref ReadOnlySequence<byte> buffer,
        Span<byte> bhs,
        in PduReaderOptions options,
        out ReadOnlySequence<byte> ahs,
        out ReadOnlySequence<byte> data)
    {
        ahs = default;
        data = default;
        if (buffer.Length < Bhs.Length)
        {
            return PduReadResult.NeedMoreData;
        }

        var headerSlice = buffer.Slice(0, Bhs.Length);
        if (headerSlice.IsSingleSegment)
        {
            headerSlice.FirstSpan.CopyTo(bhs);
        }
        else
        {
            headerSlice.CopyTo(bhs);
        }

        var ahsLength = Bhs.TotalAhsLength(bhs);
        if (ahsLength > PduReaderOptions.MaxAhsLength)
        {
            IscsiProtocolException.ThrowAhsTooLong(ahsLength);
        }

        var dataLength = Bhs.DataSegmentLength(bhs);
        if (dataLength > options.MaxDataSegmentLength)
        {
            IscsiProtocolException.ThrowOversized(dataLength, options.MaxDataSegmentLength);
        }

        var headerDigestLength = options.HeaderDigest ? Bhs.DigestLength : 0;
        var paddedData = dataLength + Bhs.Padding(dataLength);
        var dataDigestLength = options.DataDigest && dataLength > 0 ? Bhs.DigestLength : 0;
        long total = Bhs.Length + ahsLength + headerDigestLength + paddedData + dataDigestLength;
        if (buffer.Length < total)
        {
            return PduReadResult.NeedMoreData;
        }

        if (options.HeaderDigest)
        {
            var covered = buffer.Slice(0, Bhs.Length + ahsLength);
            Span<byte> digestBytes = stackalloc byte[Bhs.DigestLength];
            buffer.Slice(Bhs.Length + ahsLength, Bhs.DigestLength).CopyTo(digestBytes);
            if (Crc32C.Compute(covered, 0) != Crc32C.Read(digestBytes))
            {
                IscsiProtocolException.ThrowHeaderDigest();
            }
        }

        ahs = buffer.Slice(Bhs.Length, ahsLength);
        var dataStart = Bhs.Length + ahsLength + headerDigestLength;
        data = buffer.Slice(dataStart, dataLength);
        var result = PduReadResult.Complete;
        if (dataDigestLength > 0)
        {
            Span<byte> digestBytes = stackalloc byte[Bhs.DigestLength];
            buffer.Slice(dataStart + paddedData, Bhs.DigestLength).CopyTo(digestBytes);
            if (Crc32C.Compute(buffer.Slice(dataStart, paddedData), 0) != Crc32C.Read(digestBytes))
            {
                result = PduReadResult.DataDigestError;
            }
        }

        buffer = buffer.Slice(total);
        return result;
    }
}

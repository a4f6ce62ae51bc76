using System.Buffers;
using System.IO.Hashing;

namespace TapeGateway.Iscsi.Pdu;

/// <summary>
/// Writes a PDU (BHS, header digest, data segment, padding, data digest) into an <see cref="IBufferWriter{T}"/>.
/// The BHS is built by the caller on a stack span; DataSegmentLength is set here from the data actually written.
/// Large data segments are copied in whatever chunk sizes the writer offers, so a 256 KiB Data-In never asks the
/// pipe for one 256 KiB block.
/// </summary>
public static class PduWriter
{
    [ThreadStatic]
    private static Crc32? t_crc;

    public static void Write(IBufferWriter<byte> output, Span<byte> bhs, ReadOnlySpan<byte> data, bool headerDigest, bool dataDigest)
    {
        WriteHeader(output, bhs, data.Length, headerDigest);
        if (data.IsEmpty)
        {
            return;
        }

        var remaining = data;
        while (!remaining.IsEmpty)
        {
            var span = output.GetSpan();
            var chunk = Math.Min(span.Length, remaining.Length);
            remaining[..chunk].CopyTo(span);
            output.Advance(chunk);
            remaining = remaining[chunk..];
        }

        WriteTrailer(output, data, dataDigest);
    }

    /// <summary>
    /// The BHS (with DataSegmentLength = <paramref name="dataLength"/>) and its digest: the first part of a PDU whose
    /// data segment the caller sends itself, straight from its own buffer, followed by <see cref="WriteTrailer"/>.
    /// </summary>
    public static void WriteHeader(IBufferWriter<byte> output, Span<byte> bhs, int dataLength, bool headerDigest) =>
        output.Advance(WriteHeader(output.GetSpan(Bhs.Length + Bhs.DigestLength), bhs, dataLength, headerDigest));

    /// <summary>
    /// As <see cref="WriteHeader(IBufferWriter{byte}, Span{byte}, int, bool)"/>, into <paramref name="destination"/>
    /// (at least <see cref="Bhs.Length"/> + <see cref="Bhs.DigestLength"/> bytes); returns the bytes written.
    /// </summary>
    public static int WriteHeader(Span<byte> destination, Span<byte> bhs, int dataLength, bool headerDigest)
    {
        Bhs.SetDataSegmentLength(bhs, dataLength);
        bhs[Bhs.TotalAhsLengthOffset] = 0;

        bhs[..Bhs.Length].CopyTo(destination);
        var n = Bhs.Length;
        if (headerDigest)
        {
            Crc32C.Write(destination[n..], Crc32C.Compute(bhs[..Bhs.Length]));
            n += Bhs.DigestLength;
        }

        return n;
    }

    /// <summary>The padding and data digest that follow a non-empty data segment; returns the bytes written.</summary>
    public static int WriteTrailer(IBufferWriter<byte> output, ReadOnlySpan<byte> data, bool dataDigest)
    {
        var padding = Bhs.Padding(data.Length);
        var tail = output.GetSpan(3 + Bhs.DigestLength);
        tail[..padding].Clear();
        var t = padding;
        if (dataDigest)
        {
            Crc32C.Write(tail[t..], DataDigest(data, padding));
            t += Bhs.DigestLength;
        }

        output.Advance(t);
        return t;
    }

    /// <summary>CRC32C over a data segment and its zero padding (RFC 7143 §11.2.3: padding is covered by the digest).</summary>
    public static uint DataDigest(ReadOnlySpan<byte> data, int padding)
    {
        if (padding == 0)
        {
            return Crc32C.Compute(data);
        }

        var crc = t_crc ??= new Crc32(Crc32ParameterSet.Crc32C);
        crc.Reset();
        crc.Append(data);
        Span<byte> zeros = [0, 0, 0];
        crc.Append(zeros[..padding]);
        return crc.GetCurrentHashAsUInt32();
    }
}

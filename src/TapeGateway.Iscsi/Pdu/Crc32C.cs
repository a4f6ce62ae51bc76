using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;

namespace TapeGateway.Iscsi.Pdu;

/// <summary>
/// iSCSI header and data digests: CRC32C (Castagnoli) per RFC 7143 §13.1 and Appendix B.4, sent least significant
/// byte first like every iSCSI implementation (the digest is a byte string, not a big-endian field).
/// </summary>
public static class Crc32C
{
    [ThreadStatic]
    private static Crc32? t_incremental;

    public static uint Compute(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    public static uint Compute(in ReadOnlySequence<byte> data, int padding)
    {
        if (data.IsSingleSegment && padding == 0)
        {
            return Compute(data.FirstSpan);
        }

        // One incremental hasher per thread: a PDU split across pipe segments must not cost an allocation.
        var crc = t_incremental ??= new Crc32(Crc32ParameterSet.Crc32C);
        crc.Reset();
        foreach (var segment in data)
        {
            crc.Append(segment.Span);
        }

        if (padding > 0)
        {
            Span<byte> zeros = stackalloc byte[3];
            zeros.Clear();
            crc.Append(zeros[..padding]);
        }

        return crc.GetCurrentHashAsUInt32();
    }

    public static void Write(Span<byte> destination, uint digest) => BinaryPrimitives.WriteUInt32LittleEndian(destination, digest);

    public static uint Read(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt32LittleEndian(source);
}

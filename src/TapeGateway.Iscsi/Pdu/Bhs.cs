using System.Buffers.Binary;

namespace TapeGateway.Iscsi.Pdu;

/*
 * RFC 7143 §11.2.1 Basic Header Segment (48 bytes):
 *
 *   Byte/     0       |       1       |       2       |       3       |
 *      +---------------+---------------+---------------+---------------+
 *     0|.|I| Opcode    |F|  Opcode-specific fields                     |
 *      +---------------+---------------+---------------+---------------+
 *     4|TotalAHSLength | DataSegmentLength                             |
 *      +---------------+---------------+---------------+---------------+
 *     8| LUN or Opcode-specific fields                                 |
 *      +                                                               +
 *    12|                                                               |
 *      +---------------+---------------+---------------+---------------+
 *    16| Initiator Task Tag                                            |
 *      +---------------+---------------+---------------+---------------+
 *    20/ Opcode-specific fields                                        /
 *     +/                                                               /
 *      +---------------+---------------+---------------+---------------+
 *    48
 */

/// <summary>Named offsets and accessors for the BHS; big-endian everywhere (RFC 7143 §11.1 "network byte order").</summary>
public static class Bhs
{
    public const int Length = 48;
    public const int DigestLength = 4;

    public const int OpcodeOffset = 0;
    public const int FlagsOffset = 1;
    public const int TotalAhsLengthOffset = 4;
    public const int DataSegmentLengthOffset = 5;
    public const int LunOffset = 8;
    public const int InitiatorTaskTagOffset = 16;
    public const int Word20 = 20;
    public const int Word24 = 24;
    public const int Word28 = 28;
    public const int Word32 = 32;
    public const int Word36 = 36;
    public const int Word40 = 40;
    public const int Word44 = 44;

    /// <summary>Bit 6 of byte 0: immediate delivery (RFC 7143 §11.2.1.1).</summary>
    public const byte ImmediateBit = 0x40;

    /// <summary>Bit 7 of byte 1: final PDU of a sequence.</summary>
    public const byte FinalBit = 0x80;

    public static IscsiOpcode Opcode(ReadOnlySpan<byte> bhs) => (IscsiOpcode)(bhs[0] & 0x3F);

    public static bool IsImmediate(ReadOnlySpan<byte> bhs) => (bhs[0] & ImmediateBit) != 0;

    public static bool IsFinal(ReadOnlySpan<byte> bhs) => (bhs[1] & FinalBit) != 0;

    public static int TotalAhsLength(ReadOnlySpan<byte> bhs) => bhs[TotalAhsLengthOffset] * 4;

    public static int DataSegmentLength(ReadOnlySpan<byte> bhs) =>
        (bhs[DataSegmentLengthOffset] << 16) | (bhs[DataSegmentLengthOffset + 1] << 8) | bhs[DataSegmentLengthOffset + 2];

    public static void SetDataSegmentLength(Span<byte> bhs, int length)
    {
        bhs[DataSegmentLengthOffset] = (byte)(length >> 16);
        bhs[DataSegmentLengthOffset + 1] = (byte)(length >> 8);
        bhs[DataSegmentLengthOffset + 2] = (byte)length;
    }

    public static ulong Lun(ReadOnlySpan<byte> bhs) => BinaryPrimitives.ReadUInt64BigEndian(bhs[LunOffset..]);

    public static uint InitiatorTaskTag(ReadOnlySpan<byte> bhs) => BinaryPrimitives.ReadUInt32BigEndian(bhs[InitiatorTaskTagOffset..]);

    public static uint Word(ReadOnlySpan<byte> bhs, int offset) => BinaryPrimitives.ReadUInt32BigEndian(bhs[offset..]);

    public static void SetWord(Span<byte> bhs, int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(bhs[offset..], value);

    /// <summary>Padding that follows a data segment of <paramref name="length"/> bytes (RFC 7143 §11.2.3).</summary>
    public static int Padding(int length) => (4 - (length & 3)) & 3;
}

using System.Buffers;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Iscsi.Tests.Pdu;

public class Crc32CTests
{
    public static TheoryData<string, byte[], uint> KnownAnswers()
    {
        var ascending = new byte[32];
        var descending = new byte[32];
        for (var i = 0; i < 32; i++)
        {
            ascending[i] = (byte)i;
            descending[i] = (byte)(31 - i);
        }

        // RFC 3720 / RFC 7143 Appendix B.4 "An iSCSI - SCSI Read (10) Command PDU".
        byte[] read10 =
        [
            0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];

        return new TheoryData<string, byte[], uint>
        {
            { "32 bytes of zeros", new byte[32], 0x8A91_36AA },
            { "32 bytes of 0xff", Enumerable.Repeat((byte)0xFF, 32).ToArray(), 0x62A8_AB43 },
            { "ascending 0..31", ascending, 0x46DD_794E },
            { "descending 31..0", descending, 0x113F_DB5C },
            { "SCSI READ(10) command BHS", read10, 0xD996_3A56 },
            { "the string 123456789 (CRC catalogue check value)", "123456789"u8.ToArray(), 0xE306_9283 },
        };
    }

    [Theory]
    [MemberData(nameof(KnownAnswers))]
    public void Compute_matches_the_published_test_vector(string name, byte[] input, uint expected)
    {
        Assert.False(string.IsNullOrEmpty(name));
        Assert.Equal(expected, Crc32C.Compute(input));
        Assert.Equal(expected, ReferenceCrc32C.Compute(input));
    }

    [Theory]
    [InlineData(new byte[] { 0x00 }, 32, new byte[] { 0xAA, 0x36, 0x91, 0x8A })]
    [InlineData(new byte[] { 0xFF }, 32, new byte[] { 0x43, 0xAB, 0xA8, 0x62 })]
    public void Digest_bytes_on_the_wire_match_the_byte_strings_printed_in_appendix_b4(byte[] fill, int length, byte[] wireBytes)
    {
        var input = Enumerable.Repeat(fill[0], length).ToArray();
        Span<byte> wire = stackalloc byte[4];

        Crc32C.Write(wire, Crc32C.Compute(input));

        Assert.Equal(wireBytes, wire.ToArray());
    }

    [Fact]
    public void Digest_is_sent_least_significant_byte_first_like_rfc_appendix_b4_and_libiscsi()
    {
        // RFC 7143 Appendix B.4 lists the CRC of 32 zero bytes as the byte string "aa 36 91 8a"; libiscsi and the
        // Linux initiator put crc & 0xff first on the wire.
        Span<byte> wire = stackalloc byte[4];
        Crc32C.Write(wire, Crc32C.Compute(new byte[32]));

        Assert.Equal(new byte[] { 0xAA, 0x36, 0x91, 0x8A }, wire.ToArray());
        Assert.Equal(0x8A91_36AAu, Crc32C.Read(wire));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(5, 3)]
    [InlineData(4095, 1)]
    [InlineData(70_000, 2)]
    public void Sequence_digest_with_padding_equals_digest_of_the_padded_bytes(int length, int padding)
    {
        var random = new Random(length);
        var data = new byte[length];
        random.NextBytes(data);
        var padded = new byte[length + padding];
        data.CopyTo(padded, 0);

        var expected = ReferenceCrc32C.Compute(padded);

        Assert.Equal(expected, Crc32C.Compute(new ReadOnlySequence<byte>(data), padding));
        Assert.Equal(expected, Crc32C.Compute(TestSequenceSegment.Chunked(data, 997), padding));
        Assert.Equal(expected, PduWriter.DataDigest(data, padding));
    }

    [Fact]
    public void Sequence_digest_is_independent_of_how_the_bytes_are_segmented()
    {
        var data = new byte[200];
        new Random(7).NextBytes(data);
        var expected = ReferenceCrc32C.Compute(data);

        for (var cut = 0; cut <= data.Length; cut++)
        {
            Assert.Equal(expected, Crc32C.Compute(TestSequenceSegment.Split(data, cut), 0));
        }
    }
}

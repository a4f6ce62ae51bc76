using System.Buffers;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Iscsi.Tests.Pdu;

public class PduReaderTests
{
    private const int MaxData = 8192;

    /// <summary>PDUs that exercise every framing field: plain, padded, AHS, digests on/off.</summary>
    public static TheoryData<string, bool, bool> Shapes() => new()
    {
        { "nop-out with 4 data bytes", false, false },
        { "nop-out with 4 data bytes", true, true },
        { "data-in with 5 data bytes (3 padding)", false, false },
        { "data-in with 5 data bytes (3 padding)", true, false },
        { "data-in with 5 data bytes (3 padding)", false, true },
        { "data-in with 5 data bytes (3 padding)", true, true },
        { "read(10) with an 8-byte ahs and no data", false, false },
        { "read(10) with an 8-byte ahs and no data", true, true },
    };

    private static (byte[] Bhs, byte[] Ahs, byte[] Data) Sample(string name) => name switch
    {
        "nop-out with 4 data bytes" => (RawPdu.NopOutBhs(0x1122_3344, 5, 7), [], "ping"u8.ToArray()),
        "data-in with 5 data bytes (3 padding)" => (RawPdu.DataInBhs(9, 0, 512), [], [1, 2, 3, 4, 5]),
        "read(10) with an 8-byte ahs and no data" => (RawPdu.Read10Bhs(1, 1, 0x1234, 8), [0x00, 0x05, 0x02, 0x00, 0x00, 0x00, 0x10, 0x00], []),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static PduReaderOptions Options(bool headerDigest, bool dataDigest) => new(MaxData, headerDigest, dataDigest);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void A_pdu_split_into_two_segments_at_every_offset_reads_the_same(string name, bool headerDigest, bool dataDigest)
    {
        var (bhs, ahs, data) = Sample(name);
        var wire = RawPdu.Build(bhs, ahs, data, headerDigest, dataDigest);

        for (var cut = 0; cut <= wire.Length; cut++)
        {
            AssertReadsOnce(TestSequenceSegment.Split(wire, cut), bhs, ahs, data, headerDigest, dataDigest);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void A_pdu_split_into_three_segments_at_every_pair_of_offsets_reads_the_same(string name, bool headerDigest, bool dataDigest)
    {
        var (bhs, ahs, data) = Sample(name);
        var wire = RawPdu.Build(bhs, ahs, data, headerDigest, dataDigest);

        for (var first = 0; first <= wire.Length; first++)
        {
            for (var second = first; second <= wire.Length; second++)
            {
                AssertReadsOnce(TestSequenceSegment.Split(wire, first, second), bhs, ahs, data, headerDigest, dataDigest);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_truncated_prefix_needs_more_data_and_consumes_nothing(string name, bool headerDigest, bool dataDigest)
    {
        var (bhs, ahs, data) = Sample(name);
        var wire = RawPdu.Build(bhs, ahs, data, headerDigest, dataDigest);
        var header = new byte[Bhs.Length];

        for (var length = 0; length < wire.Length; length++)
        {
            var buffer = TestSequenceSegment.Split(wire.AsSpan(0, length), length / 2);
            var before = buffer;

            var result = PduReader.TryRead(ref buffer, header, Options(headerDigest, dataDigest), out _, out _);

            Assert.Equal(PduReadResult.NeedMoreData, result);
            Assert.Equal(before.Length, buffer.Length);
            Assert.Equal(before.Start, buffer.Start);
        }
    }

    [Fact]
    public void Back_to_back_pdus_are_read_one_at_a_time_leaving_the_partial_tail()
    {
        var first = RawPdu.Build(RawPdu.NopOutBhs(1, 1, 1), [], "abc"u8, false, false);
        var second = RawPdu.Build(RawPdu.DataInBhs(2, 0, 0), [], new byte[100], false, false);
        var third = RawPdu.Build(RawPdu.NopOutBhs(3, 2, 1), [], [], false, false);
        byte[] wire = [.. first, .. second, .. third.AsSpan(0, 20)];
        var buffer = TestSequenceSegment.Chunked(wire, 7);
        var header = new byte[Bhs.Length];
        var options = Options(false, false);

        Assert.Equal(PduReadResult.Complete, PduReader.TryRead(ref buffer, header, options, out _, out var data1));
        Assert.Equal(1u, Bhs.InitiatorTaskTag(header));
        Assert.Equal("abc"u8.ToArray(), data1.ToArray());

        Assert.Equal(PduReadResult.Complete, PduReader.TryRead(ref buffer, header, options, out _, out var data2));
        Assert.Equal(2u, Bhs.InitiatorTaskTag(header));
        Assert.Equal(100, data2.Length);

        Assert.Equal(PduReadResult.NeedMoreData, PduReader.TryRead(ref buffer, header, options, out _, out _));
        Assert.Equal(20, buffer.Length);
    }

    [Fact]
    public void Oversized_data_segment_length_throws_as_soon_as_the_bhs_is_in()
    {
        var bhs = RawPdu.NopOutBhs(1, 1, 1);
        Bhs.SetDataSegmentLength(bhs, MaxData + 1);

        // Only the 48-byte BHS: the 8 KiB + 1 payload never arrives, and the reader must not wait for it.
        var buffer = TestSequenceSegment.Split(bhs, 20);
        var ex = Assert.Throws<IscsiProtocolException>(() =>
            PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(false, false), out _, out _));

        Assert.True(ex.IsFatal);
    }

    [Fact]
    public void Data_segment_length_at_the_limit_waits_for_its_payload()
    {
        var bhs = RawPdu.NopOutBhs(1, 1, 1);
        Bhs.SetDataSegmentLength(bhs, MaxData);
        var buffer = new ReadOnlySequence<byte>(bhs);

        Assert.Equal(PduReadResult.NeedMoreData, PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(false, false), out _, out _));
    }

    [Fact]
    public void Maximum_24_bit_data_segment_length_throws_instead_of_waiting_for_16_mib()
    {
        var bhs = RawPdu.DataInBhs(1, 0, 0);
        bhs[5] = 0xFF;
        bhs[6] = 0xFF;
        bhs[7] = 0xFF;
        var buffer = new ReadOnlySequence<byte>(bhs);

        Assert.Throws<IscsiProtocolException>(() =>
            PduReader.TryRead(ref buffer, new byte[Bhs.Length], new PduReaderOptions(16_777_214, true, true), out _, out _));
    }

    [Fact]
    public void Total_ahs_length_beyond_what_the_target_accepts_throws_as_soon_as_the_bhs_is_in()
    {
        var bhs = RawPdu.Read10Bhs(1, 1, 0, 1);
        bhs[Bhs.TotalAhsLengthOffset] = (PduReaderOptions.MaxAhsLength / 4) + 1;
        var buffer = new ReadOnlySequence<byte>(bhs);

        var ex = Assert.Throws<IscsiProtocolException>(() =>
            PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(false, false), out _, out _));

        Assert.True(ex.IsFatal);
    }

    [Fact]
    public void Total_ahs_length_at_the_limit_is_framed_normally()
    {
        var ahs = new byte[PduReaderOptions.MaxAhsLength];
        ahs[0] = (byte)((ahs.Length - 3) >> 8);
        ahs[1] = (byte)(ahs.Length - 3);
        ahs[2] = 0x01;
        var wire = RawPdu.Build(RawPdu.Read10Bhs(1, 1, 0, 1), ahs, [], true, true);
        var buffer = new ReadOnlySequence<byte>(wire);

        Assert.Equal(PduReadResult.Complete, PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(true, true), out var readAhs, out _));
        Assert.Equal(ahs, readAhs.ToArray());
    }

    [Fact]
    public void Header_digest_mismatch_throws_a_fatal_protocol_error()
    {
        var wire = RawPdu.Build(RawPdu.NopOutBhs(1, 1, 1), [], "ping"u8, true, false);
        wire[Bhs.Length] ^= 0x01;
        var buffer = TestSequenceSegment.Split(wire, 50);

        var ex = Assert.Throws<IscsiProtocolException>(() =>
            PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(true, false), out _, out _));

        Assert.True(ex.IsFatal);
    }

    [Fact]
    public void Any_flipped_header_bit_is_caught_by_the_header_digest()
    {
        var good = RawPdu.Build(RawPdu.Read10Bhs(1, 1, 0x1234, 8), [], [], true, false);
        for (var bit = 0; bit < Bhs.Length * 8; bit++)
        {
            var wire = (byte[])good.Clone();
            wire[bit / 8] ^= (byte)(1 << (bit % 8));
            if (bit / 8 is >= 4 and < 8)
            {
                // Flipping a length bit changes framing (may ask for more data or exceed limits) before the digest check.
                continue;
            }

            var buffer = new ReadOnlySequence<byte>(wire);
            Assert.Throws<IscsiProtocolException>(() =>
                PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(true, false), out _, out _));
        }
    }

    [Fact]
    public void Header_digest_covers_the_ahs()
    {
        byte[] ahs = [0x00, 0x05, 0x02, 0x00, 0x00, 0x00, 0x10, 0x00];
        var wire = RawPdu.Build(RawPdu.Read10Bhs(1, 1, 0, 8), ahs, [], true, false);
        wire[Bhs.Length + 6] ^= 0x40;
        var buffer = new ReadOnlySequence<byte>(wire);

        Assert.Throws<IscsiProtocolException>(() =>
            PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(true, false), out _, out _));
    }

    [Theory]
    [InlineData(52)] // first data byte (BHS 0..47, header digest 48..51)
    [InlineData(56)] // last data byte
    [InlineData(58)] // padding: covered by the digest (RFC 7143 §11.2.3)
    [InlineData(61)] // the data digest itself (60..63)
    public void Data_digest_mismatch_reports_the_error_and_consumes_the_pdu(int corruptAt)
    {
        var bad = RawPdu.Build(RawPdu.DataInBhs(7, 0, 0), [], [1, 2, 3, 4, 5], true, true);
        Assert.Equal(64, bad.Length);
        bad[corruptAt] ^= 0x80;
        var next = RawPdu.Build(RawPdu.NopOutBhs(8, 1, 1), [], [], true, true);
        byte[] wire = [.. bad, .. next];
        var buffer = TestSequenceSegment.Chunked(wire, 13);
        var header = new byte[Bhs.Length];

        var result = PduReader.TryRead(ref buffer, header, Options(true, true), out _, out _);

        Assert.Equal(PduReadResult.DataDigestError, result);
        Assert.Equal(7u, Bhs.InitiatorTaskTag(header));
        Assert.Equal(next.Length, buffer.Length);
        Assert.Equal(PduReadResult.Complete, PduReader.TryRead(ref buffer, header, Options(true, true), out _, out _));
        Assert.Equal(8u, Bhs.InitiatorTaskTag(header));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void No_data_digest_is_expected_when_the_data_segment_is_empty()
    {
        var wire = RawPdu.Build(RawPdu.NopOutBhs(1, 1, 1), [], [], true, true);
        Assert.Equal(Bhs.Length + Bhs.DigestLength, wire.Length);
        var buffer = new ReadOnlySequence<byte>(wire);

        Assert.Equal(PduReadResult.Complete, PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(true, true), out _, out var data));
        Assert.True(data.IsEmpty);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Padding_bytes_are_consumed_but_not_returned_as_data()
    {
        var wire = RawPdu.Build(RawPdu.DataInBhs(1, 0, 0), [], [9], false, false);
        Assert.Equal(Bhs.Length + 4, wire.Length);
        var buffer = new ReadOnlySequence<byte>(wire);

        Assert.Equal(PduReadResult.Complete, PduReader.TryRead(ref buffer, new byte[Bhs.Length], Options(false, false), out _, out var data));
        Assert.Equal(new byte[] { 9 }, data.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    private static void AssertReadsOnce(ReadOnlySequence<byte> buffer, byte[] bhs, byte[] ahs, byte[] data, bool headerDigest, bool dataDigest)
    {
        var header = new byte[Bhs.Length];
        var result = PduReader.TryRead(ref buffer, header, Options(headerDigest, dataDigest), out var readAhs, out var readData);

        Assert.Equal(PduReadResult.Complete, result);
        Assert.Equal(bhs.AsSpan(8).ToArray(), header.AsSpan(8).ToArray());
        Assert.Equal(bhs.AsSpan(0, 4).ToArray(), header.AsSpan(0, 4).ToArray());
        Assert.Equal(ahs.Length / 4, header[Bhs.TotalAhsLengthOffset]);
        Assert.Equal(data.Length, Bhs.DataSegmentLength(header));
        Assert.Equal(ahs, readAhs.ToArray());
        Assert.Equal(data, readData.ToArray());
        Assert.True(buffer.IsEmpty);
    }
}

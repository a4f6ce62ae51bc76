using System.Buffers;
using System.IO.Pipelines;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Iscsi.Tests.Pdu;

public class PduWriterTests
{
    [Fact]
    public void Nop_out_with_ping_data_matches_the_golden_bytes()
    {
        byte[] golden =
        [
            0x40, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, // I|NOP-Out, F, DataSegmentLength 4
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN
            0x11, 0x22, 0x33, 0x44, 0xFF, 0xFF, 0xFF, 0xFF, // ITT, TTT
            0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x07, // CmdSN, ExpStatSN
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            (byte)'p', (byte)'i', (byte)'n', (byte)'g',
        ];

        var output = new ArrayBufferWriter<byte>();
        PduWriter.Write(output, RawPdu.NopOutBhs(0x1122_3344, 5, 7), "ping"u8, headerDigest: false, dataDigest: false);

        Assert.Equal(golden, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Read10_command_with_header_digest_matches_the_golden_bytes()
    {
        byte[] golden =
        [
            0x01, 0xC1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // SCSI Command, F|R|Simple, no AHS, no data
            0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 1
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00, // ITT 1, EDTL 4096
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // CmdSN 1, ExpStatSN 1
            0x28, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x00, // READ(10) LBA 0x1234
            0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 8 blocks
        ];
        byte[] expected = [.. golden, .. ReferenceCrc32C.WireBytes(ReferenceCrc32C.Compute(golden))];

        var output = new ArrayBufferWriter<byte>();
        PduWriter.Write(output, RawPdu.Read10Bhs(1, 1, 0x1234, 8), default, headerDigest: true, dataDigest: true);

        Assert.Equal(expected, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Data_in_with_odd_length_is_padded_with_zeros_and_the_data_digest_covers_the_padding()
    {
        var bhs = RawPdu.DataInBhs(9, 3, 512);
        byte[] data = [0xDE, 0xAD, 0xBE, 0xEF, 0x01];

        var output = new ArrayBufferWriter<byte>();
        PduWriter.Write(output, bhs, data, headerDigest: true, dataDigest: true);
        var written = output.WrittenSpan.ToArray();

        Assert.Equal(RawPdu.Build(bhs, [], data, true, true), written);
        Assert.Equal(48 + 4 + 8 + 4, written.Length);
        Assert.Equal(new byte[] { 0, 0, 0 }, written[57..60]);
    }

    [Theory]
    [InlineData(0, false, false)]
    [InlineData(1, false, false)]
    [InlineData(2, true, false)]
    [InlineData(3, false, true)]
    [InlineData(4, true, true)]
    [InlineData(4097, true, true)]
    [InlineData(262_144, true, true)]
    [InlineData(262_143, false, true)]
    public void Written_pdu_reads_back_identically(int length, bool headerDigest, bool dataDigest)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        var bhs = RawPdu.DataInBhs(0xABCD, 1, 4096);

        var output = new ArrayBufferWriter<byte>();
        PduWriter.Write(output, bhs, data, headerDigest, dataDigest);

        Assert.Equal(RawPdu.Build(bhs, [], data, headerDigest, dataDigest), output.WrittenSpan.ToArray());
        var buffer = TestSequenceSegment.Chunked(output.WrittenSpan, 4096);
        var header = new byte[Bhs.Length];
        var result = PduReader.TryRead(ref buffer, header, new PduReaderOptions(262_144, headerDigest, dataDigest), out _, out var readData);
        Assert.Equal(PduReadResult.Complete, result);
        Assert.Equal(bhs.AsSpan(8).ToArray(), header.AsSpan(8).ToArray());
        Assert.Equal(data, readData.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Writer_that_hands_out_tiny_spans_still_gets_a_complete_pdu()
    {
        var data = new byte[1000];
        new Random(3).NextBytes(data);
        var bhs = RawPdu.DataInBhs(1, 0, 0);
        var output = new StingyBufferWriter(minimum: 7);

        PduWriter.Write(output, bhs, data, headerDigest: true, dataDigest: true);

        Assert.Equal(RawPdu.Build(bhs, [], data, true, true), output.Written.ToArray());
    }

    [Fact]
    public async Task Large_data_in_through_a_pipe_is_written_in_chunks_and_reads_back()
    {
        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 4096, pauseWriterThreshold: 0));
        var data = new byte[256 * 1024];
        new Random(11).NextBytes(data);
        var bhs = RawPdu.DataInBhs(5, 0, 0);

        PduWriter.Write(pipe.Writer, bhs, data, headerDigest: true, dataDigest: true);
        await pipe.Writer.FlushAsync();
        await pipe.Writer.CompleteAsync();
        var read = await pipe.Reader.ReadAtLeastAsync(data.Length + 56);
        var buffer = read.Buffer;

        Assert.False(buffer.IsSingleSegment);
        var header = new byte[Bhs.Length];
        Assert.Equal(PduReadResult.Complete, PduReader.TryRead(ref buffer, header, new PduReaderOptions(data.Length, true, true), out _, out var readData));
        Assert.True(readData.ToArray().AsSpan().SequenceEqual(data));
        pipe.Reader.AdvanceTo(buffer.Start);
    }

    [Fact]
    public void Writer_sets_data_segment_length_and_clears_total_ahs_length_in_the_callers_bhs()
    {
        var bhs = RawPdu.DataInBhs(1, 0, 0);
        bhs[Bhs.TotalAhsLengthOffset] = 9;

        PduWriter.Write(new ArrayBufferWriter<byte>(), bhs, new byte[300], false, false);

        Assert.Equal(300, Bhs.DataSegmentLength(bhs));
        Assert.Equal(0, bhs[Bhs.TotalAhsLengthOffset]);
    }

    /// <summary>An <see cref="IBufferWriter{T}"/> that never offers more than it must, to exercise chunked copies.</summary>
    private sealed class StingyBufferWriter(int minimum) : IBufferWriter<byte>
    {
        private readonly List<byte> _written = [];
        private byte[] _current = [];

        public IReadOnlyList<byte> Written => _written;

        public void Advance(int count) => _written.AddRange(_current.AsSpan(0, count).ToArray());

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            _current = new byte[Math.Max(sizeHint, minimum)];
            return _current;
        }

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}

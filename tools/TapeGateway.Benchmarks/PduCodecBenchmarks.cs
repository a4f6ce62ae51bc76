using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Benchmarks;

/// <summary>
/// Steady-state cost of the PDU codec. Goal: 0 B allocated per PDU (the CI gate is AllocationBudgetTests, budgets in
/// allocation-budgets.json); this run documents time and allocations.
/// </summary>
[MemoryDiagnoser]
public class PduCodecBenchmarks
{
    private const int DataInLength = 256 * 1024;

    private readonly byte[] _header = new byte[Bhs.Length];
    private readonly byte[] _payload = new byte[DataInLength];
    private readonly ArrayBufferWriter<byte> _writer = new(DataInLength + 1024);
    private ReadOnlySequence<byte> _single;
    private ReadOnlySequence<byte> _multi;
    private Pipe _pipe = null!;

    [Params(false, true)]
    public bool Digests { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        new Random(1).NextBytes(_payload);
        var writer = new ArrayBufferWriter<byte>();
        PduWriter.Write(writer, DataInBhs(), _payload.AsSpan(0, 8192 + 3), Digests, Digests);
        var bytes = writer.WrittenSpan.ToArray();
        _single = new ReadOnlySequence<byte>(bytes);
        _multi = BenchmarkSegment.Chunked(bytes, 4096);
        _pipe = new Pipe(new PipeOptions(minimumSegmentSize: 65_536, pauseWriterThreshold: 0, resumeWriterThreshold: 0));
    }

    [Benchmark(Description = "PduReader.TryRead, 8 KiB Data-Out, one segment")]
    public PduReadResult ReadSingleSegment()
    {
        var buffer = _single;
        return PduReader.TryRead(ref buffer, _header, new PduReaderOptions(262_144, Digests, Digests), out _, out _);
    }

    [Benchmark(Description = "PduReader.TryRead, 8 KiB Data-Out, 4 KiB segments")]
    public PduReadResult ReadMultiSegment()
    {
        var buffer = _multi;
        return PduReader.TryRead(ref buffer, _header, new PduReaderOptions(262_144, Digests, Digests), out _, out _);
    }

    [Benchmark(Description = "PduWriter.Write, 256 KiB Data-In, ArrayBufferWriter")]
    public int WriteDataIn()
    {
        _writer.ResetWrittenCount();
        Span<byte> bhs = stackalloc byte[Bhs.Length];
        FillDataIn(bhs);
        PduWriter.Write(_writer, bhs, _payload, Digests, Digests);
        return _writer.WrittenCount;
    }

    [Benchmark(Description = "PduWriter.Write, 256 KiB Data-In, Pipe")]
    public long WriteDataInToPipe()
    {
        Span<byte> bhs = stackalloc byte[Bhs.Length];
        FillDataIn(bhs);
        PduWriter.Write(_pipe.Writer, bhs, _payload, Digests, Digests);
        var unflushed = _pipe.Writer.UnflushedBytes;
        _pipe.Writer.FlushAsync().GetAwaiter().GetResult();
        _pipe.Reader.TryRead(out var read);
        _pipe.Reader.AdvanceTo(read.Buffer.End);
        return unflushed;
    }

    private static byte[] DataInBhs()
    {
        var bhs = new byte[Bhs.Length];
        FillDataIn(bhs);
        return bhs;
    }

    private static void FillDataIn(Span<byte> bhs)
    {
        bhs.Clear();
        bhs[0] = (byte)IscsiOpcode.ScsiDataIn;
        bhs[1] = Bhs.FinalBit;
        Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, 0x1234);
        Bhs.SetWord(bhs, Bhs.Word20, 0xFFFF_FFFF);
    }
}

internal sealed class BenchmarkSegment : ReadOnlySequenceSegment<byte>
{
    private BenchmarkSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Chunked(byte[] bytes, int chunk)
    {
        BenchmarkSegment? first = null;
        BenchmarkSegment? last = null;
        for (var at = 0; at < bytes.Length; at += chunk)
        {
            var segment = new BenchmarkSegment(bytes.AsMemory(at, Math.Min(chunk, bytes.Length - at)), at);
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Next = segment;
            }

            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }
}

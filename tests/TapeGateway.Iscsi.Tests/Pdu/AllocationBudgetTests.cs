using System.Buffers;
using System.Text.Json;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Iscsi.Tests.Pdu;

/// <summary>
/// CI gate for the codec's steady-state allocations: the budgets live in tools/TapeGateway.Benchmarks/allocation-budgets.json
/// (copied next to this assembly); each path runs warm, then <see cref="GC.GetAllocatedBytesForCurrentThread"/> is read
/// around a loop of PDUs.
/// </summary>
public class AllocationBudgetTests
{
    private const int Warmup = 200;
    private const int Measured = 2_000;

    private static readonly Lazy<Dictionary<string, long>> s_budgets = new(() =>
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "allocation-budgets.json")));
        return json.RootElement.GetProperty("budgets").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
    });

    public static TheoryData<bool, bool> Shapes() => new()
    {
        { false, false },
        { false, true },
        { true, false },
        { true, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Pdu_reader_stays_within_its_allocation_budget(bool multiSegment, bool digests)
    {
        var payload = new byte[8192 + 3];
        new Random(1).NextBytes(payload);
        var writer = new ArrayBufferWriter<byte>();
        PduWriter.Write(writer, RawPdu.DataInBhs(1, 0, 0), payload, digests, digests);
        var bytes = writer.WrittenSpan.ToArray();
        var sequence = multiSegment ? TestSequenceSegment.Chunked(bytes, 4096) : new ReadOnlySequence<byte>(bytes);
        var header = new byte[Bhs.Length];
        var options = new PduReaderOptions(262_144, digests, digests);

        var perPdu = BytesPerIteration(() =>
        {
            var buffer = sequence;
            if (PduReader.TryRead(ref buffer, header, options, out _, out _) != PduReadResult.Complete)
            {
                throw new InvalidOperationException("the PDU did not read back");
            }
        });

        var key = $"PduReader.TryRead/{(multiSegment ? "multi" : "single")}-segment/{(digests ? "digests" : "no-digests")}";
        Assert.True(perPdu <= s_budgets.Value[key], $"{key}: {perPdu} bytes allocated per PDU, budget {s_budgets.Value[key]}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pdu_writer_stays_within_its_allocation_budget_for_256_kib_data_in(bool digests)
    {
        var payload = new byte[256 * 1024];
        new Random(2).NextBytes(payload);
        var output = new ArrayBufferWriter<byte>(payload.Length + 1024);
        var bhs = RawPdu.DataInBhs(1, 0, 0);

        var perPdu = BytesPerIteration(() =>
        {
            output.ResetWrittenCount();
            PduWriter.Write(output, bhs, payload, digests, digests);
        });

        var key = $"PduWriter.Write/data-in-256k/{(digests ? "digests" : "no-digests")}";
        Assert.True(perPdu <= s_budgets.Value[key], $"{key}: {perPdu} bytes allocated per PDU, budget {s_budgets.Value[key]}");
    }

    [Fact]
    public void Pdu_writer_into_a_pipe_stays_within_its_allocation_budget()
    {
        var payload = new byte[256 * 1024];
        var pipe = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(minimumSegmentSize: 65_536, pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
        var bhs = RawPdu.DataInBhs(1, 0, 0);

        var perPdu = BytesPerIteration(() =>
        {
            PduWriter.Write(pipe.Writer, bhs, payload, true, true);
            var flush = pipe.Writer.FlushAsync();
            if (!flush.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("an unbounded pipe flush should complete synchronously");
            }

            pipe.Reader.TryRead(out var read);
            pipe.Reader.AdvanceTo(read.Buffer.End);
        });

        const string key = "PduWriter.Write/pipe/data-in-256k/digests";
        Assert.True(perPdu <= s_budgets.Value[key], $"{key}: {perPdu} bytes allocated per PDU, budget {s_budgets.Value[key]}");
    }

    /// <summary>
    /// Allocation per call in steady state: the minimum of three measured rounds, because ArrayPool.Shared's per-core
    /// stacks are shared with tests running in parallel and an occasional refill (a 64 KiB array) is the pool's, not ours.
    /// </summary>
    private static double BytesPerIteration(Action body)
    {
        for (var i = 0; i < Warmup; i++)
        {
            body();
        }

        var best = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < Measured; i++)
            {
                body();
            }

            best = Math.Min(best, (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Measured);
        }

        return best;
    }
}

using BenchmarkDotNet.Attributes;
using TapeGateway.Media.Tape;

namespace TapeGateway.Benchmarks;

/// <summary>
/// What the drive's compression costs per block of a stream (DCE=1, the default after every load): noise — encrypted
/// or already compressed backup data, tapeperf's payload — and text. <see cref="MaxSkip"/> 0 probes every block of an
/// incompressible stream (the build before the back-off), the default stores up to 16 blocks between probes.
/// One core (<c>processors: 1</c>), so the figure is the command path's own time, not the pool's.
/// </summary>
[MemoryDiagnoser]
public class CompressionBenchmarks
{
    private const int Blocks = 64;
    private readonly byte[][] _blocks = new byte[Blocks][];
    private ChunkedCompressor _compressor = null!;
    private byte[] _destination = null!;

    public enum Payload
    {
        Noise,
        Text,
    }

    [Params(Payload.Noise, Payload.Text)]
    public Payload Data { get; set; }

    [Params(262144)]
    public int RecordBytes { get; set; }

    [Params(0, ChunkedCompressor.MaxSkip)]
    public int MaxSkip { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        for (var i = 0; i < Blocks; i++)
        {
            var block = new byte[RecordBytes];
            if (Data == Payload.Noise)
            {
                random.NextBytes(block);
            }
            else
            {
                FillText(block, random);
            }

            _blocks[i] = block;
        }

        _compressor = new ChunkedCompressor(level: 1, parallelism: 1, processors: 1, maxSkip: MaxSkip);
        _destination = new byte[_compressor.DestinationLengthFor(RecordBytes)];
    }

    [GlobalCleanup]
    public void Cleanup() => _compressor.Dispose();

    internal static void FillText(Span<byte> block, Random random)
    {
        string[] words = ["tape", "gateway", "backup", "record", "filemark", "changer", "slot", "barcode", "drive", "the"];
        var at = 0;
        while (at < block.Length)
        {
            var word = words[random.Next(words.Length)];
            for (var c = 0; c < word.Length && at < block.Length; c++)
            {
                block[at++] = (byte)word[c];
            }

            if (at < block.Length)
            {
                block[at++] = random.Next(12) == 0 ? (byte)'\n' : (byte)' ';
            }
        }
    }

    [Benchmark(OperationsPerInvoke = Blocks, Description = "TryCompress per block")]
    public int Compress()
    {
        var stored = 0;
        foreach (var block in _blocks)
        {
            stored += _compressor.TryCompress(block, _destination, block.Length - 1, out var written) ? written : block.Length;
        }

        return stored;
    }
}

/// <summary>
/// The drive's compression at each level <c>TapeGateway:Library:CompressionLevel</c> accepts, on one core, per 256 KiB
/// record of a corpus: the file named by <c>TG_BENCH_CORPUS</c> (docs/benchmarks.md builds one from the machine's own
/// files: backup-like, binaries and text), else synthetic text. The ratio (corpus bytes over stored bytes) is printed
/// once per level to the benchmark's log, as "// ratio at level L: R".
/// </summary>
[MemoryDiagnoser]
public class CompressionLevelBenchmarks
{
    private const int RecordBytes = 256 * 1024;
    private byte[][] _blocks = [];
    private ChunkedCompressor _compressor = null!;
    private byte[] _destination = null!;

    [Params(-7, -5, -3, -1, 1, 3, 6, 9)]
    public int Level { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] corpus;
        if (Environment.GetEnvironmentVariable("TG_BENCH_CORPUS") is { Length: > 0 } path)
        {
            corpus = File.ReadAllBytes(path);
        }
        else
        {
            corpus = new byte[64 * RecordBytes];
            CompressionBenchmarks.FillText(corpus, new Random(7));
        }

        _blocks = Enumerable.Range(0, corpus.Length / RecordBytes).Select(i => corpus.AsSpan(i * RecordBytes, RecordBytes).ToArray()).ToArray();
        _compressor = new ChunkedCompressor(Level, parallelism: 1, processors: 1, maxSkip: 0);
        _destination = new byte[_compressor.DestinationLengthFor(RecordBytes)];
        var stored = Compress();
        Console.WriteLine($"// ratio at level {Level}: {(double)_blocks.Length * RecordBytes / stored:F2} ({_blocks.Length} records)");
    }

    [GlobalCleanup]
    public void Cleanup() => _compressor.Dispose();

    [Benchmark(Description = "TryCompress, every record of the corpus")]
    public long Compress()
    {
        long stored = 0;
        foreach (var block in _blocks)
        {
            stored += _compressor.TryCompress(block, _destination, block.Length - 1, out var written) ? written : block.Length;
        }

        return stored;
    }
}

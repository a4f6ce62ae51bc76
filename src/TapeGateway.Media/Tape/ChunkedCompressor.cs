using ZstdSharp;

namespace TapeGateway.Media.Tape;

/// <summary>
/// Compresses one block as one or more zstd frames back to back, the chunks on several cores at once. A drive streams
/// one command at a time, so a large block compressed on one core keeps every other core idle while the host waits:
/// an LTO drive compresses in hardware at line speed, zstd level 1 manages ~150–250 MB/s per core. A zstd decoder reads
/// concatenated frames as one stream (RFC 8878 §3: "a compressed stream is made of one or more frames"), so the block
/// reads back through the same single-frame path, and readers of earlier builds expand it unchanged.
/// </summary>
/// <remarks>
/// Allocation-free per block: the chunk work items and their zstd contexts are the image's for the mount. The calling
/// thread compresses the first chunk and then every chunk no pool thread has started yet, so a busy pool (every core
/// streaming another drive) costs no waiting, only the split.
/// </remarks>
internal sealed class ChunkedCompressor : IDisposable
{
    /// <summary>Smallest chunk worth a frame of its own: below it the split costs more ratio and overhead than it saves.</summary>
    internal const int MinChunkLength = 32 * 1024;

    // Blocks being compressed right now, process-wide (every drive's image). Cutting a block pays only where cores would
    // otherwise idle: with as many drives compressing as there are cores, the split is pure overhead (measured: four
    // drives streaming text on two cores wrote 10-18 % slower cut than whole), so a block takes only the cores the
    // other compressing drives leave.
    private static int s_compressing;

    /// <summary>Bytes compressed as a probe while the stream has been incompressible.</summary>
    internal const int ProbeLength = 16 * 1024;

    // After this many blocks in a row that did not compress (encrypted or already compressed data, a benchmark's
    // noise), a block is first probed: its first ProbeLength bytes must shrink by at least 1/32, or the block is
    // stored as is without compressing the rest. One compressible block ends the streak.
    private const int StreakBeforeProbing = 2;

    // Each refusal in a row then stores the next 1, 2, 4 … MaxSkip blocks without even a probe: a 16 KiB probe of
    // noise costs ~9 us on the command path, ~2 % of a 256 KiB record at 600 MB/s; with the back-off a block of such a
    // stream costs 0.6 us (tools/TapeGateway.Benchmarks CompressionBenchmarks). Bounded so that data turning
    // compressible again (the next file of a backup) loses compression for at most MaxSkip blocks: space, never data.
    internal const int MaxSkip = 16;

    private readonly Chunk[] _chunks;
    private readonly byte[] _probe = new byte[ProbeLength];
    private int _incompressibleStreak;
    private int _skipGap;
    private int _skipLeft;

    private readonly int _processors;
    private readonly int _maxSkip;

    /// <param name="level">zstd level.</param>
    /// <param name="parallelism">Most chunks one block is cut into.</param>
    /// <param name="processors">Cores the process may use (tests: a fixed number); default the machine's.</param>
    /// <param name="maxSkip">Most blocks stored without a probe after refusals (benchmarks: 0 probes every block).</param>
    public ChunkedCompressor(int level, int parallelism, int? processors = null, int maxSkip = MaxSkip)
    {
        _processors = processors ?? Environment.ProcessorCount;
        _maxSkip = Math.Clamp(maxSkip, 0, 1024);
        _chunks = new Chunk[Math.Clamp(parallelism, 1, 8)];
        for (var i = 0; i < _chunks.Length; i++)
        {
            _chunks[i] = new Chunk(level);
        }
    }

    /// <summary>The number of frames a block of <paramref name="length"/> bytes is cut into.</summary>
    public int ChunksFor(int length) => Math.Clamp(length / MinChunkLength, 1, _chunks.Length);

    /// <summary>The destination length <see cref="TryCompress"/> needs for a block of <paramref name="length"/> bytes.</summary>
    public int DestinationLengthFor(int length)
    {
        var n = ChunksFor(length);
        return n == 1 ? length : LayoutLength(length, n);
    }

    // Chunk regions: zstd's bound for each chunk, back to back (the last chunk takes the remainder of the block).
    private static int LayoutLength(int length, int n)
    {
        var step = length / n;
        return ((n - 1) * Compressor.GetCompressBound(step)) + Compressor.GetCompressBound(length - ((n - 1) * step));
    }

    /// <summary>
    /// Compresses <paramref name="source"/> into <paramref name="destination"/> (at least
    /// <see cref="DestinationLengthFor"/> long). False when the result would be longer than <paramref name="limit"/>
    /// bytes. One frame is given only <paramref name="limit"/> bytes, so zstd gives up early on incompressible data;
    /// chunks get zstd's bound each, so a block whose second half does not compress still stores its first half
    /// compressed (a chunk that does not compress becomes a frame of raw blocks, a few bytes longer than the chunk).
    /// After two blocks in a row that did not compress, a block is probed first (its first 16 KiB must shrink by 1/32):
    /// a stream of incompressible data — a backup application's own compression or encryption, a benchmark's noise —
    /// then costs a 16 KiB attempt per block instead of a whole one, and each refused probe stores the next 1, 2, 4 …
    /// 16 blocks without one. A block whose head does not compress but whose rest would is then stored as is: space,
    /// never data, is what that costs.
    /// </summary>
    public bool TryCompress(ReadOnlyMemory<byte> source, byte[] destination, int limit, out int written)
    {
        written = 0;
        if (TrySkip())
        {
            return false;
        }

        var probing = _incompressibleStreak >= StreakBeforeProbing;
        if (probing && source.Length > 2 * ProbeLength
            && !_chunks[0].Compress(source.Span[..ProbeLength], _probe.AsSpan(0, ProbeLength - (ProbeLength / 32)), out _))
        {
            ProbeRefusals++;
            BackOff();
            return false;
        }

        var compressed = TryCompressBlock(source, destination, limit, out written);
        if (compressed)
        {
            _incompressibleStreak = 0;
            _skipGap = 0;
        }
        else if (probing)
        {
            BackOff(); // tried whole (too small to probe, or its head compressed) and still refused
        }
        else
        {
            _incompressibleStreak++;
        }

        return compressed;
    }

    /// <summary>
    /// True, and counted as that block's turn, when the stream is backing off and the next block is to be stored as is
    /// without any attempt. A writer asks before it rents a destination for <see cref="TryCompress"/>, so a skipped
    /// block costs neither a probe nor a pool round trip for a block-sized buffer (a small saving: tapeperf could not
    /// tell the two apart, docs/benchmarks.md session 14).
    /// </summary>
    public bool TrySkip()
    {
        if (_incompressibleStreak < StreakBeforeProbing || _skipLeft == 0)
        {
            return false;
        }

        _skipLeft--;
        SkippedBlocks++;
        return true;
    }

    private void BackOff()
    {
        _skipGap = Math.Min(Math.Max(1, _skipGap * 2), _maxSkip);
        _skipLeft = _skipGap;
    }

    /// <summary>Blocks stored as is because their probe did not compress (for tests).</summary>
    internal long ProbeRefusals { get; private set; }

    /// <summary>Blocks stored as is without a probe while the stream keeps refusing (for tests).</summary>
    internal long SkippedBlocks { get; private set; }

    private bool TryCompressBlock(ReadOnlyMemory<byte> source, byte[] destination, int limit, out int written)
    {
        var others = Interlocked.Increment(ref s_compressing) - 1;
        try
        {
            var n = Math.Min(ChunksFor(source.Length), Math.Max(1, _processors - others));
            if (n == 1 || LayoutLength(source.Length, n) > destination.Length)
            {
                return _chunks[0].Compress(source.Span, destination.AsSpan(0, limit), out written);
            }

            return TryCompressChunks(source, n, destination, limit, out written);
        }
        finally
        {
            Interlocked.Decrement(ref s_compressing);
        }
    }

    private bool TryCompressChunks(ReadOnlyMemory<byte> source, int n, byte[] destination, int limit, out int written)
    {
        written = 0;

        // Chunk i reads source[i*step, ...) and writes into its own region of the destination (zstd's bound for it);
        // the regions follow each other, so no two chunks touch the same bytes.
        var step = source.Length / n;
        var stepBound = Compressor.GetCompressBound(step);
        for (var i = 1; i < n; i++)
        {
            var start = i * step;
            var length = i == n - 1 ? source.Length - start : step;
            _chunks[i].Prepare(source.Slice(start, length), destination, i * stepBound, Compressor.GetCompressBound(length));
            ThreadPool.UnsafeQueueUserWorkItem(_chunks[i], preferLocal: false);
        }

        var ok = _chunks[0].Compress(source.Span[..step], destination.AsSpan(0, stepBound), out var first);
        for (var i = 1; i < n; i++)
        {
            ok &= _chunks[i].RunOrWait(); // every chunk must finish before the destination is touched or reused
        }

        if (!ok)
        {
            return false;
        }

        var total = first;
        for (var i = 1; i < n; i++)
        {
            total += _chunks[i].Written;
        }

        if (total > limit)
        {
            return false;
        }

        // Close the gaps: each frame moves down to follow the previous one (never onto a frame not yet moved, since
        // every frame ends before its region does).
        var end = first;
        for (var i = 1; i < n; i++)
        {
            var c = _chunks[i];
            destination.AsSpan(c.DestinationStart, c.Written).CopyTo(destination.AsSpan(end));
            end += c.Written;
        }

        written = end;
        return true;
    }

    public void Dispose()
    {
        foreach (var c in _chunks)
        {
            c.Dispose();
        }
    }

    /// <summary>One chunk's zstd context and its pending work; queued on the pool or claimed by the writer itself.</summary>
    private sealed class Chunk(int level) : IThreadPoolWorkItem, IDisposable
    {
        private const int Idle = 0, Claimed = 1, Done = 2;

        private readonly Compressor _compressor = new(level);
        private readonly ManualResetEventSlim _done = new(initialState: true);
        private ReadOnlyMemory<byte> _source;
        private byte[]? _destination;
        private int _room;
        private int _state = Done;
        private bool _ok;

        public int DestinationStart { get; private set; }

        public int Written { get; private set; }

        public bool Compress(ReadOnlySpan<byte> source, Span<byte> destination, out int written)
        {
            try
            {
                return _compressor.TryWrap(source, destination, out written);
            }
            catch (ZstdException)
            {
                written = 0; // the block is then stored as is: compression is an optimisation, never a failure
                return false;
            }
        }

        public void Prepare(ReadOnlyMemory<byte> source, byte[] destination, int start, int room)
        {
            _source = source;
            _destination = destination;
            DestinationStart = start;
            _room = room;
            _ok = false;
            Written = 0;
            _done.Reset();
            Volatile.Write(ref _state, Idle); // publishes the fields above to whichever thread claims it
        }

        /// <summary>Runs the chunk here if no pool thread has claimed it; otherwise waits for that thread.</summary>
        public bool RunOrWait()
        {
            if (Interlocked.CompareExchange(ref _state, Claimed, Idle) == Idle)
            {
                Run();
            }
            else
            {
                _done.Wait();
            }

            return _ok;
        }

        // A pool thread that comes late (the writer ran the chunk itself, maybe already for a later block) finds it
        // claimed or done and leaves it alone.
        public void Execute()
        {
            if (Interlocked.CompareExchange(ref _state, Claimed, Idle) == Idle)
            {
                Run();
            }
        }

        private void Run()
        {
            try
            {
                _ok = Compress(_source.Span, _destination.AsSpan(DestinationStart, _room), out var written);
                Written = written;
            }
            catch (Exception)
            {
                // On a pool thread an escaping exception would end the process and leave the writer waiting; the block
                // is stored as is instead (compression is an optimisation, never a failure).
                _ok = false;
            }
            finally
            {
                _source = default;
                _destination = null;
                Volatile.Write(ref _state, Done);
                _done.Set();
            }
        }

        public void Dispose()
        {
            _compressor.Dispose();
            _done.Dispose();
        }
    }
}

using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// The model-based random test of <see cref="TapePositioningModelTests"/> (same <see cref="TapeModel"/>, commands and
/// runner) on the parts of SSC-4 it leaves out: fixed-block mode, early warning / programmable early warning / end of
/// partition, and WORM cartridges.
/// </summary>
/// <remarks>
/// Early warning and the end of the partition are compared at every write, not only where they are certain: with
/// compression off (DCE=0) the medium's accounting is exact and documented (docs/media-format.md "Capacity": a 32-byte
/// header plus the payload per record, early warning the last EarlyWarningBytes of the capacity), so the model computes
/// where each record ends. Each seed must reach the interesting outcomes, listed per test.
/// </remarks>
public sealed class TapeModelEdgeTests
{
    private const int OperationsPerSeed = 500;

    // Keeps the tape short, so spaces and locates regularly reach BOP, filemarks and EOD.
    private const int ObjectsBeforeTrim = 96;

    /// <summary>
    /// A 1.4 MB partition with a 128 KiB early-warning zone and PEWS 1 (PEW 10^6 bytes before early warning), so
    /// writes of up to a few tens of KiB reach PEW, early warning and the end many times per seed.
    /// </summary>
    private static readonly TapeCapacity SmallTape = new(1_400_000, 128 * 1024);

    public static TheoryData<int> Seeds => [1, 2, 3, 5, 8, 13];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task FixedBlockMode_DriveMatchesSsc4Model(int seed)
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 16 * TapeHarness.MiB);
        var generator = new FixedModeGenerator(new Random(seed));
        var outcomes = await TapeModelRunner.RunAsync(h, new TapeModel(), seed, OperationsPerSeed, generator.Next);

        TapeModelRunner.AssertReached(
            outcomes,
            seed,
            "FIXED GOOD",
            "FIXED FILEMARK",
            "FIXED FILEMARK after blocks",
            "FIXED EOD",
            "FIXED EOD after blocks",
            "FIXED ILI",
            "FIXED ILI after blocks",
            "FIXED INVALID",
            "FIXED WRITE GOOD",
            "FIXED WRITE INVALID",
            "ILI");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task EarlyWarningAndEndOfPartition_DriveMatchesSsc4Model(int seed)
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: SmallTape.Capacity, earlyWarning: SmallTape.EarlyWarning);
        await DisableCompressionAsync(h);
        var pewsPage = await ModeSenseAsync(h, 0x10, 0x01);
        var model = new TapeModel(capacity: SmallTape);
        var generator = new CapacityGenerator(new Random(seed), pewsPage);
        var outcomes = await TapeModelRunner.RunAsync(h, model, seed, OperationsPerSeed, generator.Next);

        TapeModelRunner.AssertReached(
            outcomes,
            seed,
            "GOOD",
            "EW|EXACT EW",
            "PEW|EXACT PEW",
            "OVERFLOW|EXACT OVERFLOW",
            "FIXED EW",
            "FIXED PEW|FILEMARKS PEW",
            "FIXED OVERFLOW",
            "FILEMARKS EW",
            "FILEMARKS OVERFLOW");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Worm_DriveMatchesSsc4Model(int seed)
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(worm: true);
        var generator = new WormGenerator(new Random(seed));
        var outcomes = await TapeModelRunner.RunAsync(h, new TapeModel(worm: true), seed, OperationsPerSeed, generator.Next);

        TapeModelRunner.AssertReached(
            outcomes,
            seed,
            "GOOD",
            "WORM",
            "ERASE WORM",
            "OVER FILEMARKS",
            "WORM after ALLOW OVERWRITE",
            "FILEMARK",
            "EOD");
    }

    /// <summary>Data Compression mode page DCE=0: blocks are stored as they are, so the model knows every record's size.</summary>
    private static async Task DisableCompressionAsync(TapeHarness h)
    {
        var list = await ModeSenseAsync(h, 0x0F, 0x00);
        list[0] = 0;
        list[4 + 2] &= 0x7F;
        await h.Good(SpcCdb.ModeSelect6(list.Length), list);
        Assert.False(h.Drive.CompressionEnabled);
    }

    private static async Task<byte[]> ModeSenseAsync(TapeHarness h, byte page, byte subpage)
    {
        var t = await h.Run(SpcCdb.ModeSense6(page, subpage, dbd: true));
        t.AssertGood();
        return t.Data();
    }

    /// <summary>Prefixes the outcome kind, and marks an exception that still returned data.</summary>
    private static Operation Tagged(Operation op, string prefix) =>
        op with
        {
            Apply = m =>
            {
                var o = op.Apply(m);
                var suffix = o.Key is not null && o.Data.Length > 0 ? " after blocks" : string.Empty;
                return o with { Kind = prefix + o.Kind + suffix };
            },
        };

    /// <summary>
    /// Block lengths of 512, 1000, 1024 and 4096 bytes (and now and then one beyond READ BLOCK LIMITS, refused), fixed
    /// writes of 0-4 blocks, variable writes that often match one of those lengths and often do not: a tape mixes
    /// both, so fixed reads meet blocks of the wrong length, filemarks and EOD after some good blocks.
    /// </summary>
    private sealed class FixedModeGenerator(Random rng)
    {
        private static readonly int[] Lengths = [512, 1000, 1024, 4096];
        private readonly Queue<Func<TapeModel, Operation>> _pending = new();
        private int _nextSeed = 1;
        private bool _started;

        public Operation Next(TapeModel m)
        {
            if (!_started)
            {
                _started = true;
                return TapeModelOperations.ModeSelectBlockLength(Lengths[rng.Next(Lengths.Length)]);
            }

            if (_pending.TryDequeue(out var pending))
            {
                return pending(m);
            }

            if (m.BlockLength != 0 && rng.Next(12) == 0)
            {
                QueueShortFile(m);
                return _pending.Dequeue()(m);
            }

            if (m.Count > ObjectsBeforeTrim && rng.Next(3) == 0)
            {
                return TapeModelOperations.Locate10((uint)rng.Next((m.Count / 2) + 1));
            }

            var sixteen = rng.Next(2) == 0;
            var roll = rng.Next(100);
            if (roll is >= 38 and < 68 && m.Position == m.Count && m.Count > 0 && rng.Next(3) != 0)
            {
                // Writes leave the position at EOD; read from inside the tape more often than not, often from a block
                // of the mode's length, so a fixed read transfers some blocks before it meets what ends it.
                var fitting = Enumerable.Range(0, m.Count).Where(i => !m.IsFilemark(i) && m[i].Length == m.BlockLength).ToArray();
                return TapeModelOperations.Locate10((uint)(fitting.Length > 0 && rng.Next(2) == 0 ? fitting[rng.Next(fitting.Length)] : rng.Next(m.Count)));
            }

            return roll switch
            {
                < 3 => TapeModelOperations.ModeSelectBlockLength(BlockLength()),
                < 22 => Tagged(WriteFixed(m, rng.Next(5)), "FIXED WRITE "),
                < 31 => TapeModelOperations.Write(RecordLength(m), _nextSeed++),
                < 38 => TapeModelOperations.WriteFilemarks(rng.Next(3)),
                < 60 => Tagged(TapeModelOperations.ReadFixed(rng.Next(9), sili: rng.Next(16) == 0, m.BlockLength), "FIXED "),
                < 68 => TapeModelOperations.Read(ReadLength(m), sili: rng.Next(3) == 0),
                < 75 => TapeModelOperations.SpaceBlocks(sixteen, rng.Next(-6, 7)),
                < 80 => TapeModelOperations.SpaceFilemarks(sixteen, rng.Next(-3, 4)),
                < 83 => TapeModelOperations.SpaceEndOfData(sixteen),
                < 91 => TapeModelOperations.Locate10((uint)rng.Next(m.Count + 2)),
                < 95 => TapeModelOperations.Rewind(),
                < 96 => TapeModelOperations.ReadBlockLimits(),
                < 98 => BeyondMaximumTransfer(m),
                _ => TapeModelOperations.Erase(longErase: false),
            };
        }

        /// <summary>
        /// A few blocks of the mode's length ended by a filemark, a block of another length or EOD, then a fixed read of
        /// more blocks than that from the first: the read transfers the good blocks and stops at what ends them.
        /// </summary>
        private void QueueShortFile(TapeModel m)
        {
            var blocks = rng.Next(1, 4);
            var first = m.Position;
            _pending.Enqueue(m => Tagged(WriteFixed(m, blocks), "FIXED WRITE "));
            switch (rng.Next(3))
            {
                case 0:
                    _pending.Enqueue(_ => TapeModelOperations.WriteFilemarks(1));
                    break;
                case 1:
                    _pending.Enqueue(m => TapeModelOperations.Write(m.BlockLength + (rng.Next(2) == 0 ? -1 : 1), _nextSeed++));
                    break;
                default:
                    break; // the blocks end at EOD
            }

            _pending.Enqueue(_ => TapeModelOperations.Locate10((uint)first));
            _pending.Enqueue(m => Tagged(TapeModelOperations.ReadFixed(blocks + rng.Next(1, 3), sili: false, m.BlockLength), "FIXED "));
        }

        /// <summary>One transfer of more than the drive's 64 MiB: refused before any data moves.</summary>
        private Operation BeyondMaximumTransfer(TapeModel m)
        {
            var blocks = (int)(TapeModelOperations.MaxFixedTransferBytes / Math.Max(1, m.BlockLength)) + 1;
            return rng.Next(2) == 0
                ? Tagged(TapeModelOperations.ReadFixed(blocks, sili: false, m.BlockLength), "FIXED ")
                : Tagged(WriteFixed(m, blocks), "FIXED WRITE ");
        }

        private Operation WriteFixed(TapeModel m, int blocks)
        {
            var op = TapeModelOperations.WriteFixed(blocks, m.BlockLength, _nextSeed);
            _nextSeed += Math.Min(blocks, 8);
            return op;
        }

        private int BlockLength() => rng.Next(20) switch
        {
            0 => 0,
            1 => TapeModelOperations.MaxBlockLength + 1,
            _ => Lengths[rng.Next(Lengths.Length)],
        };

        private int RecordLength(TapeModel m) => rng.Next(4) switch
        {
            0 when m.BlockLength != 0 => m.BlockLength,
            1 => Lengths[rng.Next(Lengths.Length)],
            2 => 0,
            _ => rng.Next(1, 4097),
        };

        private int ReadLength(TapeModel m)
        {
            var atBlock = m.Position < m.Count && !m.IsFilemark(m.Position);
            var r = atBlock ? m[m.Position].Length : rng.Next(1, 4097);
            return rng.Next(2) == 0 ? Math.Max(1, r + rng.Next(-16, 17)) : r;
        }
    }

    /// <summary>
    /// Mostly appends of 1 B to 48 KiB (variable) or 1-6 blocks of 4 KiB (fixed), and records sized to end exactly at,
    /// one byte before or one byte after PEW, early warning or the end of the partition; filemarks; reads, spaces and
    /// locates over the full tape; now and then a jump back to rewrite from the middle, so each seed fills the tape
    /// several times. PEWS goes between 0 and 1 MB now and then.
    /// </summary>
    private sealed class CapacityGenerator(Random rng, byte[] pewsPage)
    {
        private int _nextSeed = 1;
        private bool _pewsSet;

        public Operation Next(TapeModel m)
        {
            if (!_pewsSet)
            {
                _pewsSet = true;
                return TapeModelOperations.ModeSelectPews(pewsPage, 1);
            }

            var full = m.Capacity!.Capacity - m.OffsetOf(m.Count) < 64 * 1024;
            if (full && rng.Next(10) == 0)
            {
                return rng.Next(2) == 0
                    ? TapeModelOperations.Locate10((uint)rng.Next((m.Count / 2) + 1))
                    : TapeModelOperations.Rewind();
            }

            var sixteen = rng.Next(2) == 0;
            var roll = rng.Next(100);
            return roll switch
            {
                < 2 => TapeModelOperations.ModeSelectPews(pewsPage, rng.Next(2)),
                < 4 => TapeModelOperations.ModeSelectBlockLength(rng.Next(2) == 0 ? 0 : 4096),
                < 30 => TapeModelOperations.Write(RecordLength(), _nextSeed++),
                < 42 => Tagged(Boundary(m), "EXACT "),
                < 54 => m.BlockLength == 0 ? TapeModelOperations.ModeSelectBlockLength(4096) : Tagged(WriteFixed(m), "FIXED "),
                < 64 => Tagged(TapeModelOperations.WriteFilemarks(rng.Next(4)), "FILEMARKS "),
                < 72 => TapeModelOperations.Read(ReadLength(m), sili: rng.Next(4) == 0),
                < 78 => TapeModelOperations.SpaceBlocks(sixteen, rng.Next(-8, 9)),
                < 81 => TapeModelOperations.SpaceFilemarks(sixteen, rng.Next(-3, 4)),
                < 88 => TapeModelOperations.SpaceEndOfData(sixteen),
                < 94 => TapeModelOperations.Locate10((uint)rng.Next(m.Count + 2)),
                < 96 => TapeModelOperations.Rewind(),
                < 98 => TapeModelOperations.Locate16Object(Math.Max(0, m.Count - rng.Next(8))),
                _ => TapeModelOperations.Erase(longErase: rng.Next(2) == 0),
            };
        }

        private int RecordLength() => rng.Next(10) switch
        {
            0 => rng.Next(1, 65),
            1 => rng.Next(49152, 98305),
            _ => rng.Next(1, 49153),
        };

        /// <summary>A record that ends at a boundary ahead (PEW, early warning, the end) −1, +0 or +1 byte.</summary>
        private Operation Boundary(TapeModel m)
        {
            var start = m.OffsetOf(m.Position) + TapeModel.RecordHeaderBytes;
            var boundaries = new[] { m.PewOffset, m.EarlyWarningOffset, m.Capacity!.Capacity }.Where(b => b > start).ToArray();
            var length = boundaries.Length == 0
                ? rng.Next(1, 4097)
                : (int)Math.Clamp(boundaries[rng.Next(boundaries.Length)] - start + rng.Next(-1, 2), 1, TapeModelOperations.MaxBlockLength);
            return TapeModelOperations.Write(length, _nextSeed++);
        }

        private Operation WriteFixed(TapeModel m)
        {
            var blocks = rng.Next(1, 7);
            var op = TapeModelOperations.WriteFixed(blocks, m.BlockLength, _nextSeed);
            _nextSeed += blocks;
            return op;
        }

        private int ReadLength(TapeModel m)
        {
            var atBlock = m.Position < m.Count && !m.IsFilemark(m.Position);
            return atBlock && rng.Next(4) != 0 ? m[m.Position].Length : rng.Next(1, 65537);
        }
    }

    /// <summary>
    /// Appends and filemark runs (two filemarks closing a file, as applications do), then spaces back over them to
    /// write over the trailing filemarks, which WORM MODE FILEMARK RESTRICTIONS 02h allows except over the first of the
    /// run; writes, filemarks and erases anywhere else, which WORM refuses; ALLOW OVERWRITE followed by a write there.
    /// </summary>
    private sealed class WormGenerator(Random rng)
    {
        private int _nextSeed = 1;
        private bool _afterAllowOverwrite;
        private bool _writeNext;

        public Operation Next(TapeModel m)
        {
            if (_writeNext)
            {
                _writeNext = false;
                return rng.Next(2) == 0
                    ? Tagged(TapeModelOperations.Write(rng.Next(1, 4097), _nextSeed++), string.Empty)
                    : Tagged(TapeModelOperations.WriteFilemarks(rng.Next(1, 3)), string.Empty);
            }

            if (m.Position == m.Count && m.Count > 0 && m.IsFilemark(m.Count - 1) && rng.Next(4) == 0)
            {
                // The append of an application that closed its volume with filemarks: back over one, then write.
                _writeNext = true;
                return TapeModelOperations.SpaceFilemarks(rng.Next(2) == 0, -1);
            }

            if (_afterAllowOverwrite)
            {
                _afterAllowOverwrite = false;
                var then = rng.Next(3) switch
                {
                    0 => TapeModelOperations.WriteFilemarks(1),
                    1 => TapeModelOperations.Erase(longErase: false),
                    _ => TapeModelOperations.Write(rng.Next(1, 4097), _nextSeed++),
                };
                return Tagged(then, string.Empty, " after ALLOW OVERWRITE");
            }

            var sixteen = rng.Next(2) == 0;
            var roll = rng.Next(100);
            switch (roll)
            {
                case < 20:
                    return Tagged(TapeModelOperations.Write(rng.Next(10) == 0 ? 0 : rng.Next(1, 4097), _nextSeed++), string.Empty);
                case < 30:
                    return Tagged(TapeModelOperations.WriteFilemarks(rng.Next(5) == 0 ? 0 : rng.Next(1, 4)), string.Empty);
                case < 42:
                    return TapeModelOperations.Read(rng.Next(1, 4097), sili: true);
                case < 50:
                    return TapeModelOperations.SpaceBlocks(sixteen, rng.Next(-4, 5));
                case < 62:
                    // From EOD, back over one or two of the trailing filemarks (or into the data).
                    return TapeModelOperations.SpaceFilemarks(sixteen, m.Position == m.Count ? -rng.Next(1, 3) : rng.Next(-2, 3));
                case < 70:
                    return TapeModelOperations.SpaceEndOfData(sixteen);
                case < 78:
                    return TapeModelOperations.Locate10((uint)rng.Next(m.Count + 2));
                case < 80:
                    return TapeModelOperations.Rewind();
                case < 86:
                    return Tagged(TapeModelOperations.Erase(longErase: rng.Next(2) == 0), "ERASE ");
                default:
                    var identifier = rng.Next(8) == 0 ? rng.Next(m.Count + 2) : m.Position;
                    _afterAllowOverwrite = identifier == m.Position && m.Position < m.Count;
                    return TapeModelOperations.AllowOverwrite(identifier);
            }
        }

        /// <summary>A write or WRITE FILEMARKS that wrote something off EOD did so over trailing filemarks: tagged so each seed must reach it.</summary>
        private static Operation Tagged(Operation op, string prefix, string suffix = "") =>
            op with
            {
                Apply = m =>
                {
                    var (position, count) = (m.Position, m.Count);
                    var o = op.Apply(m);
                    var kind = o.Kind == "GOOD" && position < count && m.Position > position ? "OVER FILEMARKS" : o.Kind;
                    return o with { Kind = prefix + kind + suffix };
                },
            };
    }
}

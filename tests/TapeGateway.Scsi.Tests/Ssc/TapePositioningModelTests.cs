using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// Model-based random test of SSC-4 positioning in variable-block mode. A reference model that knows only the standard
/// (the tape as a list of logical objects, the position as a logical object number: 0 = BOP, Count = EOD) and the
/// drive get the same random WRITE / WRITE FILEMARKS / READ / SPACE / LOCATE / REWIND / ERASE commands; status, sense
/// key, ASC/ASCQ, FM/EOM/ILI, VALID + INFORMATION, the data read and READ POSITION (short, long and extended forms)
/// must agree after every command.
/// </summary>
/// <remarks>
/// Where SSC-4 leaves the answer to the device, the model takes the drive's choice; each such place says so. A failure
/// names the seed, the operation index and the operations before it, enough to replay the sequence.
/// </remarks>
public sealed class TapePositioningModelTests
{
    private const int OperationsPerSeed = 600;
    private const int HistoryShown = 12;

    // Keeps the tape short, so spaces and locates regularly reach BOP, filemarks and EOD.
    private const int ObjectsBeforeTrim = 96;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(8)]
    [InlineData(13)]
    [InlineData(21)]
    [InlineData(34)]
    [InlineData(55)]
    [InlineData(89)]
    [InlineData(144)]
    [InlineData(233)]
    public async Task RandomCommands_DriveMatchesSsc4Model(int seed)
    {
        var h = new TapeHarness();
        await h.LoadNewAsync(capacity: 16 * TapeHarness.MiB);
        var model = new TapeModel();
        var generator = new OperationGenerator(new Random(seed));
        var history = new Queue<string>();
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < OperationsPerSeed; i++)
        {
            var op = generator.Next(model);
            var before = model.Describe();
            var expected = op.Apply(model);
            var task = await h.Run(op.Cdb, op.DataOut, expected: op.ExpectedLength);
            var failure = Compare(task, expected);
            history.Enqueue($"#{i} {op.Text} at {before} -> {Summarise(task)}");
            if (history.Count > HistoryShown)
            {
                history.Dequeue();
            }

            if (failure is null)
            {
                failure = await ComparePositionAsync(h, model, i);
            }

            if (failure is not null)
            {
                Assert.Fail(
                    $"seed {seed}, operation #{i} ({op.Text}): {failure}{Environment.NewLine}" +
                    $"model now: {model.Describe()}{Environment.NewLine}" +
                    $"expected: {expected}{Environment.NewLine}" +
                    $"last operations (position before each, drive's answer):{Environment.NewLine}  " +
                    string.Join(Environment.NewLine + "  ", history));
            }

            outcomes[expected.Kind] = outcomes.GetValueOrDefault(expected.Kind) + 1;
        }

        // The sequence reached every exception condition, not only the easy paths.
        foreach (var kind in new[] { "GOOD", "FILEMARK", "EOD", "BOP", "ILI" })
        {
            Assert.True(outcomes.GetValueOrDefault(kind) > 0, $"seed {seed}: no {kind} outcome in {OperationsPerSeed} operations");
        }
    }

    private static string? Compare(ScsiTask task, Outcome expected)
    {
        if (expected.Key is null)
        {
            if (task.Status != ScsiStatus.Good)
            {
                return $"expected GOOD, drive answered {Summarise(task)}";
            }
        }
        else
        {
            if (task.Status != ScsiStatus.CheckCondition)
            {
                return $"expected CHECK CONDITION {expected}, drive answered {task.Status}";
            }

            var (key, asc, ascq) = SenseDataBuilder.Parse(task.Sense);
            if ((key, asc, ascq) != (expected.Key.Value, expected.Asc, expected.Ascq))
            {
                return $"sense {key} {asc:X2}/{ascq:X2}, expected {expected.Key} {expected.Asc:X2}/{expected.Ascq:X2}";
            }

            if (task.Flags() != expected.Flags)
            {
                return $"sense flags {task.Flags()}, expected {expected.Flags}";
            }

            if (task.Information() != expected.Information)
            {
                return $"VALID/INFORMATION {Show(task.Information())}, expected {Show(expected.Information)}";
            }
        }

        if (!task.DataIn.Span.SequenceEqual(expected.Data))
        {
            return $"Data-In of {task.DataIn.Length} bytes differs from the expected {expected.Data.Length}";
        }

        return null;
    }

    /// <summary>READ POSITION in the short (00h), long (06h) or extended (08h) form, in turn.</summary>
    private static async Task<string?> ComparePositionAsync(TapeHarness h, TapeModel model, int index)
    {
        var position = model.Position;
        var bop = position == 0 ? 0x80 : 0x00; // nothing is near early warning: EOP, BPEW stay clear; buffer is empty
        var form = (index % 4) switch { 0 => (byte)0x00, 2 => (byte)0x08, _ => (byte)0x06 };
        var t = await h.Run(Cdb.ReadPosition(form, allocation: (ushort)(form == 0x08 ? 32 : 0)));
        if (t.Status != ScsiStatus.Good)
        {
            return $"READ POSITION {form:X2}h answered {Summarise(t)}";
        }

        var d = t.DataIn.Span;
        var expected = new byte[form == 0x00 ? 20 : 32];
        expected[0] = (byte)bop;
        switch (form)
        {
            case 0x00:
                // FIRST and LAST LOGICAL OBJECT LOCATION: both the position, as nothing is buffered.
                BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(4), (uint)position);
                BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(8), (uint)position);
                break;
            case 0x06:
                BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(8), position);
                BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(16), model.FilemarksBefore(position));
                break;
            default:
                BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(2), 0x1C);
                BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(8), position);
                BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(16), position);
                break;
        }

        return d.SequenceEqual(expected)
            ? null
            : $"READ POSITION {form:X2}h returned {Convert.ToHexString(d)}, expected {Convert.ToHexString(expected)}";
    }

    private static string Show(long? information) => information is { } v ? $"VALID {v}" : "not VALID";

    private static string Summarise(ScsiTask task)
    {
        if (task.Status != ScsiStatus.CheckCondition)
        {
            return $"{task.Status}, {task.DataIn.Length} bytes in";
        }

        var (key, asc, ascq) = SenseDataBuilder.Parse(task.Sense);
        return $"{key} {asc:X2}/{ascq:X2} [{task.Flags()}] {Show(task.Information())}, {task.DataIn.Length} bytes in";
    }

    /// <summary>Block payloads: a third compress well (so DCE's compressed records are read back too), the rest do not.</summary>
    private static byte[] Payload(int length, int seed)
    {
        if (seed % 3 != 0)
        {
            return TapeHarness.Block(length, seed);
        }

        var b = new byte[length];
        for (var i = 0; i < b.Length; i++)
        {
            b[i] = (byte)(seed + (i % 11));
        }

        return b;
    }

    /// <summary>What a command must answer: GOOD (Key null) or CHECK CONDITION with this sense, and its Data-In.</summary>
    private sealed record Outcome(string Kind, SenseKey? Key, byte Asc, byte Ascq, SenseFlags Flags, long? Information, byte[] Data)
    {
        public static Outcome Good(byte[]? data = null) => new("GOOD", null, 0, 0, SenseFlags.None, null, data ?? []);

        /// <summary>SSC-4 filemark detected: NO SENSE, FM, 00/01.</summary>
        public static Outcome Filemark(long residue) => new("FILEMARK", SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, residue, []);

        /// <summary>SSC-4 end-of-data detected: BLANK CHECK 00/05 (EOM clear: the tapes here never reach early warning).</summary>
        public static Outcome EndOfData(long? residue) => new("EOD", SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, residue, []);

        /// <summary>SSC-4 beginning-of-partition detected: NO SENSE, EOM, 00/04.</summary>
        public static Outcome BeginningOfPartition(long residue) => new("BOP", SenseKey.NoSense, 0x00, 0x04, SenseFlags.EndOfMedium, residue, []);

        /// <summary>SSC-4 incorrect length: NO SENSE, ILI, 00/00, INFORMATION = requested − actual length.</summary>
        public static Outcome IncorrectLength(long residue, byte[] data) => new("ILI", SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength, residue, data);

        public override string ToString() =>
            Key is null ? $"GOOD, {Data.Length} bytes in" : $"{Key} {Asc:X2}/{Ascq:X2} [{Flags}] {Show(Information)}, {Data.Length} bytes in";
    }

    private readonly record struct TapeObject(bool IsFilemark, int Length, int Seed);

    /// <summary>The tape as SSC-4 describes it: a sequence of logical objects and a position between two of them.</summary>
    private sealed class TapeModel
    {
        private readonly List<TapeObject> _objects = [];

        /// <summary>Logical object number of the next object: 0 is BOP, <see cref="Count"/> is EOD.</summary>
        public int Position { get; set; }

        public int Count => _objects.Count;

        public int FilemarkCount => FilemarksBefore(Count);

        public TapeObject this[int index] => _objects[index];

        public bool IsFilemark(int index) => _objects[index].IsFilemark;

        public int FilemarksBefore(int position)
        {
            var n = 0;
            for (var i = 0; i < position; i++)
            {
                n += _objects[i].IsFilemark ? 1 : 0;
            }

            return n;
        }

        /// <summary>Position on the EOP side of the <paramref name="file"/>-th filemark (0 = BOP), or null if there is none.</summary>
        public int? StartOfFile(int file)
        {
            if (file == 0)
            {
                return 0;
            }

            var seen = 0;
            for (var i = 0; i < _objects.Count; i++)
            {
                if (_objects[i].IsFilemark && ++seen == file)
                {
                    return i + 1;
                }
            }

            return null;
        }

        /// <summary>SSC-4: writing (or erasing) at a position makes it the new EOD; whatever followed is gone.</summary>
        public void TruncateAtPosition() => _objects.RemoveRange(Position, _objects.Count - Position);

        public void Append(TapeObject o)
        {
            TruncateAtPosition();
            _objects.Add(o);
            Position++;
        }

        /// <summary>Objects as B(length) / F, with | at the position, e.g. "B12 F | B300 F F (pos 2/5)".</summary>
        public string Describe()
        {
            var parts = new List<string>();
            for (var i = 0; i <= _objects.Count; i++)
            {
                if (i == Position)
                {
                    parts.Add("|");
                }

                if (i < _objects.Count)
                {
                    parts.Add(_objects[i].IsFilemark ? "F" : $"B{_objects[i].Length}");
                }
            }

            return $"[{string.Join(' ', parts)}] (pos {Position}/{_objects.Count})";
        }
    }

    /// <summary>A command, its Data-Out, and what SSC-4 says it does to the model and answers.</summary>
    private sealed record Operation(string Text, byte[] Cdb, byte[]? DataOut, uint ExpectedLength, Func<TapeModel, Outcome> Apply);

    private sealed class OperationGenerator(Random rng)
    {
        private int _nextSeed = 1;

        public Operation Next(TapeModel m)
        {
            if (m.Count > ObjectsBeforeTrim && rng.Next(3) == 0)
            {
                return Locate10((uint)rng.Next((m.Count / 2) + 1));
            }

            var sixteen = rng.Next(2) == 0;
            var roll = rng.Next(100);
            return roll switch
            {
                < 22 => Write(RecordLength()),
                < 30 => WriteFilemarks(rng.Next(4)),
                < 50 => Read(ReadLength(m), sili: rng.Next(4) == 0),
                < 64 => SpaceBlocks(sixteen, SpaceCount(6, sixteen)),
                < 73 => SpaceFilemarks(sixteen, SpaceCount(4, sixteen)),
                < 76 => SpaceEndOfData(sixteen),
                < 83 => Locate10((uint)rng.Next(m.Count + 3)),
                < 86 => Locate16Object(rng.Next(m.Count + 3)),
                < 92 => Locate16File(rng.Next(m.FilemarkCount + 2)),
                < 96 => Rewind(),
                _ => Erase(longErase: rng.Next(2) == 0),
            };
        }

        private int RecordLength() => rng.Next(10) switch
        {
            0 => 0, // WRITE(6) with TRANSFER LENGTH 0: no block, no motion
            1 => 1,
            2 => 4096,
            _ => rng.Next(1, 4097),
        };

        /// <summary>Exactly the next block's length often (the GOOD path), otherwise near it or anything.</summary>
        private int ReadLength(TapeModel m)
        {
            var atBlock = m.Position < m.Count && !m.IsFilemark(m.Position);
            var r = atBlock ? m[m.Position].Length : rng.Next(1, 4097);
            return rng.Next(12) switch
            {
                < 5 => r,
                < 8 => Math.Max(1, r + rng.Next(-16, 17)),
                8 => 0, // READ(6) with TRANSFER LENGTH 0: no data, no motion
                _ => rng.Next(1, 8193),
            };
        }

        /// <summary>Mostly small counts (0 included); now and then one far beyond the tape, as mt eom's 0x7FFFFF.</summary>
        private long SpaceCount(int small, bool sixteen)
        {
            if (rng.Next(16) != 0)
            {
                return rng.Next(-small, small + 1);
            }

            var big = sixteen ? rng.NextInt64(1000, int.MaxValue) : rng.Next(1000, 0x7FFFFF + 1);
            return rng.Next(2) == 0 ? big : -big;
        }

        private Operation Write(int length)
        {
            var seed = _nextSeed++;
            var data = length == 0 ? [] : Payload(length, seed);
            return new($"WRITE(6) {length}", Cdb.Write(length), data, (uint)length, m =>
            {
                if (length > 0)
                {
                    m.Append(new TapeObject(false, length, seed));
                }

                return Outcome.Good();
            });
        }

        private static Operation WriteFilemarks(int count) =>
            new($"WRITE FILEMARKS(6) {count}", Cdb.WriteFilemarks(count), null, 0, m =>
            {
                // A count of 0 only flushes the buffer (SSC-4 WRITE FILEMARKS): no motion, nothing truncated.
                for (var i = 0; i < count; i++)
                {
                    m.Append(new TapeObject(true, 0, 0));
                }

                return Outcome.Good();
            });

        /// <summary>
        /// SSC-4 READ(6), FIXED=0, block length 0: the next object decides. SILI=1 suppresses both the underlength and,
        /// as the mode block length is 0, the overlength incorrect-length report.
        /// </summary>
        private static Operation Read(int length, bool sili) =>
            new($"READ(6) {length}{(sili ? " SILI" : string.Empty)}", Cdb.Read(length, sili: sili), null, (uint)length, m =>
            {
                if (length == 0)
                {
                    return Outcome.Good();
                }

                if (m.Position == m.Count)
                {
                    return Outcome.EndOfData(length); // position unchanged: still at EOD
                }

                var o = m[m.Position];
                m.Position++; // past a filemark (EOP side) or past the block, whatever its length
                if (o.IsFilemark)
                {
                    return Outcome.Filemark(length);
                }

                var block = Payload(o.Length, o.Seed);
                var data = block.AsSpan(0, Math.Min(length, o.Length)).ToArray();
                return length == o.Length || sili ? Outcome.Good(data) : Outcome.IncorrectLength((long)length - o.Length, data);
            });

        /// <summary>
        /// SSC-4 SPACE, code 000b: a filemark stops it (forward: EOP side, reverse: BOP side; not counted); EOD or BOP
        /// stop it. INFORMATION = |count| − blocks spaced: never negative, whatever the direction.
        /// </summary>
        private static Operation SpaceBlocks(bool sixteen, long count) =>
            Space(sixteen, 0, count, "blocks", m =>
            {
                var wanted = Math.Abs(count);
                for (long spaced = 0; spaced < wanted; spaced++)
                {
                    if (count > 0)
                    {
                        if (m.Position == m.Count)
                        {
                            return Outcome.EndOfData(wanted - spaced);
                        }

                        m.Position++;
                        if (m.IsFilemark(m.Position - 1))
                        {
                            return Outcome.Filemark(wanted - spaced);
                        }
                    }
                    else
                    {
                        if (m.Position == 0)
                        {
                            return Outcome.BeginningOfPartition(wanted - spaced);
                        }

                        m.Position--;
                        if (m.IsFilemark(m.Position))
                        {
                            return Outcome.Filemark(wanted - spaced);
                        }
                    }
                }

                return Outcome.Good();
            });

        /// <summary>
        /// SSC-4 SPACE, code 001b: forward ends on the EOP side of the n-th filemark, reverse on its BOP side; EOD or
        /// BOP stop it with INFORMATION = |count| − filemarks spaced.
        /// </summary>
        private static Operation SpaceFilemarks(bool sixteen, long count) =>
            Space(sixteen, 1, count, "filemarks", m =>
            {
                var wanted = Math.Abs(count);
                long crossed = 0;
                while (crossed < wanted)
                {
                    if (count > 0)
                    {
                        if (m.Position == m.Count)
                        {
                            return Outcome.EndOfData(wanted - crossed);
                        }

                        crossed += m.IsFilemark(m.Position) ? 1 : 0;
                        m.Position++;
                    }
                    else
                    {
                        if (m.Position == 0)
                        {
                            return Outcome.BeginningOfPartition(wanted - crossed);
                        }

                        m.Position--;
                        crossed += m.IsFilemark(m.Position) ? 1 : 0;
                    }
                }

                return Outcome.Good();
            });

        private static Operation SpaceEndOfData(bool sixteen) =>
            Space(sixteen, 3, 0, "end of data", m =>
            {
                m.Position = m.Count;
                return Outcome.Good();
            });

        private static Operation Space(bool sixteen, int code, long count, string what, Func<TapeModel, Outcome> apply) =>
            new(
                $"SPACE({(sixteen ? 16 : 6)}) {what} {count}",
                sixteen ? Cdb.Space16(code, count) : Cdb.Space(code, (int)count),
                null,
                0,
                apply);

        private static Operation Locate10(uint identifier) =>
            new($"LOCATE(10) {identifier}", Cdb.Locate10(identifier), null, 0, m => LocateObject(m, identifier));

        private static Operation Locate16Object(long identifier) =>
            new($"LOCATE(16) object {identifier}", Cdb.Locate16(identifier, destType: 0), null, 0, m => LocateObject(m, identifier));

        /// <summary>
        /// SSC-4 LOCATE to a logical object: EOD itself is a valid destination (the append point); beyond it, BLANK
        /// CHECK 00/05 positioned at EOD. SSC-4 asks for no INFORMATION here; the model follows the drive (VALID clear).
        /// </summary>
        private static Outcome LocateObject(TapeModel m, long identifier)
        {
            if (identifier > m.Count)
            {
                m.Position = m.Count;
                return Outcome.EndOfData(null);
            }

            m.Position = (int)identifier;
            return Outcome.Good();
        }

        /// <summary>
        /// SSC-4 LOCATE(16), DEST_TYPE 001b: the BOP side of the first object of logical file f, i.e. just after the
        /// f-th filemark (f = 0: BOP). A file that does not exist is end-of-data, positioned at EOD. The file that
        /// begins after a tape's last filemark exists even while empty (its start is EOD): GOOD, as the drive does.
        /// </summary>
        private static Operation Locate16File(int file) =>
            new($"LOCATE(16) file {file}", Cdb.Locate16(file, destType: 1), null, 0, m =>
            {
                if (m.StartOfFile(file) is { } start)
                {
                    m.Position = start;
                    return Outcome.Good();
                }

                m.Position = m.Count;
                return Outcome.EndOfData(null);
            });

        private static Operation Rewind() =>
            new("REWIND", Cdb.Rewind(), null, 0, m =>
            {
                m.Position = 0;
                return Outcome.Good();
            });

        /// <summary>
        /// SSC-4 ERASE(6): the current position becomes EOD (LONG=1 also erases the rest of the partition). The position
        /// stays where it was, as HP's LTO references say of the short erase; for LONG=1 the model follows the drive.
        /// </summary>
        private static Operation Erase(bool longErase) =>
            new($"ERASE(6){(longErase ? " LONG" : string.Empty)}", Cdb.Erase(longErase), null, 0, m =>
            {
                m.TruncateAtPosition();
                return Outcome.Good();
            });
    }
}

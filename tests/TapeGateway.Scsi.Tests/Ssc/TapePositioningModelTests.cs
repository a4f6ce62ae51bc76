namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// Model-based random test of SSC-4 positioning in variable-block mode. A reference model that knows only the standard
/// (the tape as a list of logical objects, the position as a logical object number: 0 = BOP, Count = EOD) and the
/// drive get the same random WRITE / WRITE FILEMARKS / READ / SPACE / LOCATE / REWIND / ERASE commands; status, sense
/// key, ASC/ASCQ, FM/EOM/ILI, VALID + INFORMATION, the data read and READ POSITION (short, long and extended forms)
/// must agree after every command. The model (<see cref="TapeModel"/>), the commands' SSC-4 semantics
/// (<see cref="TapeModelOperations"/>) and the runner (<see cref="TapeModelRunner"/>) are shared with
/// <see cref="TapeModelEdgeTests"/> (fixed-block mode, early warning and end of partition, WORM).
/// </summary>
/// <remarks>
/// Where SSC-4 leaves the answer to the device, the model takes the drive's choice; each such place says so. A failure
/// names the seed, the operation index and the operations before it, enough to replay the sequence.
/// </remarks>
public sealed class TapePositioningModelTests
{
    private const int OperationsPerSeed = 600;

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
        var generator = new OperationGenerator(new Random(seed));
        var outcomes = await TapeModelRunner.RunAsync(h, new TapeModel(), seed, OperationsPerSeed, generator.Next);

        // Every operation was run on both and compared (the runner fails at the first difference)...
        Assert.Equal(OperationsPerSeed, outcomes.Values.Sum());

        // ...and the sequence reached every exception condition, not only the easy paths.
        TapeModelRunner.AssertReached(outcomes, seed, "GOOD", "FILEMARK", "EOD", "BOP", "ILI");
    }

    private sealed class OperationGenerator(Random rng)
    {
        private int _nextSeed = 1;

        public Operation Next(TapeModel m)
        {
            if (m.Count > ObjectsBeforeTrim && rng.Next(3) == 0)
            {
                return TapeModelOperations.Locate10((uint)rng.Next((m.Count / 2) + 1));
            }

            var sixteen = rng.Next(2) == 0;
            var roll = rng.Next(100);
            return roll switch
            {
                < 22 => TapeModelOperations.Write(RecordLength(), _nextSeed++),
                < 30 => TapeModelOperations.WriteFilemarks(rng.Next(4)),
                < 50 => TapeModelOperations.Read(ReadLength(m), sili: rng.Next(4) == 0),
                < 64 => TapeModelOperations.SpaceBlocks(sixteen, SpaceCount(6, sixteen)),
                < 73 => TapeModelOperations.SpaceFilemarks(sixteen, SpaceCount(4, sixteen)),
                < 76 => TapeModelOperations.SpaceEndOfData(sixteen),
                < 83 => TapeModelOperations.Locate10((uint)rng.Next(m.Count + 3)),
                < 86 => TapeModelOperations.Locate16Object(rng.Next(m.Count + 3)),
                < 92 => TapeModelOperations.Locate16File(rng.Next(m.FilemarkCount + 2)),
                < 96 => TapeModelOperations.Rewind(),
                _ => TapeModelOperations.Erase(longErase: rng.Next(2) == 0),
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
    }
}

using System.Diagnostics;
using System.Reflection;
using TapeGateway.Benchmarks.Harness;
using Xunit.Abstractions;

namespace TapeGateway.Integration.Tests;

[CollectionDefinition(nameof(WriteAllocationCollection), DisableParallelization = true)]
public sealed class WriteAllocationCollection;

/// <summary>
/// Gate for the whole WRITE(6) path in one process: SCSI Command PDU (immediate data, then R2T and Data-Out beyond
/// FirstBurstLength) on a loopback socket → IscsiConnection → ScsiTask → the drive → TapeImage → ITapeStore → SCSI
/// Response. The initiator (<see cref="RawInitiator"/>, blocking socket, preallocated buffers) allocates nothing, so
/// the process-wide count (GC.GetTotalAllocatedBytes, precise; this collection runs alone) is the target's. Minimum
/// of three rounds: the runtime and the shared ArrayPool occasionally allocate for themselves. The bound is below the
/// smallest object, so one allocation per command fails it. The benchmark (IscsiTapeWriteBenchmarks) uses the same rig.
/// </summary>
[Collection(nameof(WriteAllocationCollection))]
public sealed class WriteAllocationTests(ITestOutputHelper output)
{
    private const int Commands = 2 * TapeDriveRig.RewindEvery;

    /// <summary>An object header plus method table pointer: no allocation is smaller (64-bit).</summary>
    private const double SmallestObject = 24;

    /// <summary>Record sizes: all immediate data (64 KiB), and immediate data plus an R2T'd Data-Out burst (320 KiB).</summary>
    public static TheoryData<RigStore, int, int> Shapes() => new()
    {
        { RigStore.Memory, 64 * 1024, 1 },
        { RigStore.Memory, 320 * 1024, 4 },
        { RigStore.File, 64 * 1024, 4 },
        { RigStore.File, 320 * 1024, 1 },
        { RigStore.Tiered, 64 * 1024, 4 },
        { RigStore.Tiered, 320 * 1024, 1 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task Write6_over_iscsi_allocates_nothing_per_command_in_steady_state(RigStore store, int recordBytes, int depth)
    {
        // The tier's cache persists its small state file at durability points (a REWIND after writes is one), a few
        // KiB each, never per command; so for it the measured rounds stream without REWIND, as a backup does.
        var measuredRewindEvery = store == RigStore.Tiered ? 0 : TapeDriveRig.RewindEvery;
        var capacity = (4L * TapeDriveRig.RewindEvery + (store == RigStore.Tiered ? 8 * Commands : 0)) * recordBytes;
        await using var rig = store == RigStore.Tiered
            ? await IscsiTapeRig.CreateAsync(await TieredTapeRig.CreateDriveAsync(capacity, compression: false), recordBytes, depth)
            : await IscsiTapeRig.CreateAsync(store, capacity, compression: false, recordBytes, depth);
        var initiator = rig.Initiator;
        long sequence = 0;

        // Warm-up past a rewind: pools filled, every buffer grown, the index chunk allocated, methods tiered up.
        Assert.Equal(0, initiator.WriteBurst(1, recordBytes, 4 * TapeDriveRig.RewindEvery, depth, ref sequence, TapeDriveRig.RewindEvery));

        await AssertNothingAllocatedPerCommandAsync(
            () => initiator.WriteBurst(1, recordBytes, Commands, depth, ref sequence, measuredRewindEvery),
            Commands,
            $"WRITE(6) over iSCSI ({store}, {recordBytes} B, depth {depth})");
    }

    /// <summary>
    /// The streaming READ(6) path: read-ahead work item, the read-ahead buffer swapped into the task as its Data-In
    /// (ScsiTask.Adopt), 256 KiB Data-In PDUs in gathered sends (header + segment, reusable SocketAsyncEventArgs).
    /// </summary>
    [Theory]
    [InlineData(RigStore.Memory)]
    [InlineData(RigStore.File)]
    public async Task Read6_streaming_over_iscsi_allocates_nothing_per_command_in_steady_state(RigStore store)
    {
        const int recordBytes = 256 * 1024;
        const int records = 200;
        await using var rig = await IscsiTapeRig.CreateAsync(store, 4L * TapeDriveRig.RewindEvery * recordBytes, compression: false, recordBytes, 4);
        var initiator = rig.Initiator;
        long sequence = 0;
        Assert.Equal(0, initiator.WriteBurst(1, recordBytes, records, 4, ref sequence, rewindEvery: 0));

        // Warm-up: pools filled, both swapped buffers grown, methods tiered up (reads rewind and stream the tape).
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(0, initiator.ReadBurst(1, recordBytes, records));
        }

        await AssertNothingAllocatedPerCommandAsync(
            () =>
            {
                var failures = 0;
                for (var i = 0; i < 5; i++)
                {
                    failures += initiator.ReadBurst(1, recordBytes, records);
                }

                return failures;
            },
            5 * (records + 1), // each burst is a REWIND and the READs
            $"READ(6) over iSCSI ({store}, {recordBytes} B)");
    }

    /// <summary>
    /// Runs <paramref name="round"/> (returning its failed commands) up to eight times, stopping after three once one is
    /// clean, and holds the best round below one object per command. Reported only after the last round: the test
    /// output is processed by the runner on other threads, which the process-wide count would see. On a loaded machine
    /// the runtime's own background work (tiering, thread injection) can land in a few rounds in a row; the bound on
    /// the best round stays.
    /// </summary>
    private async Task AssertNothingAllocatedPerCommandAsync(Func<int> round, int commandsPerRound, string what)
    {
        var rounds = new List<double>(8);
        var failures = 0;
        for (var i = 0; i < 8 && (i < 3 || rounds.Min() >= SmallestObject); i++)
        {
            if (i > 0 && rounds[^1] >= SmallestObject)
            {
                // The count is process-wide: background work of tests that ran before this collection (CI once saw
                // 1.1-1.9 MB per round for half a second, then nothing) is given time to end before the next round.
                await Task.Delay(250);
            }

            var before = GC.GetTotalAllocatedBytes(precise: true);
            failures += round();
            rounds.Add((GC.GetTotalAllocatedBytes(precise: true) - before) / (double)commandsPerRound);
        }

        var best = rounds.Min();
        output.WriteLine($"B/command per round of {commandsPerRound} commands: {string.Join(" / ", rounds.Select(r => r.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.Equal(0, failures);

        // Debug builds compile async state machines as classes (one object per call), so only Release is held to 0.
        var debugBuild = typeof(Iscsi.Connection.IscsiConnection).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true;
        Assert.True(debugBuild || best < SmallestObject, $"{best:F1} bytes allocated per {what}");
    }
}

using System.Diagnostics;
using System.Reflection;
using TapeGateway.Benchmarks.Harness;
using Xunit.Abstractions;

namespace TapeGateway.Scsi.Tests.Ssc;

[CollectionDefinition(nameof(WriteAllocationCollection), DisableParallelization = true)]
public sealed class WriteAllocationCollection;

/// <summary>
/// Gate for the WRITE(6) path through the drive (LU pipeline → TapeDriveLogicalUnit → TapeImage → ITapeStore):
/// nothing allocated per command in steady state. Measured process-wide (GC.GetTotalAllocatedBytes, precise), because
/// the command runs on a thread-pool worker, with this collection running alone; the minimum of three rounds, because
/// the runtime and the shared ArrayPool occasionally allocate for themselves (a thread, a pool refill). The bound is
/// below the smallest object: one allocation per command would fail it. The same rig drives the benchmark
/// (tools/TapeGateway.Benchmarks, TapeDriveWriteBenchmarks), so both measure the same path.
/// </summary>
[Collection(nameof(WriteAllocationCollection))]
public sealed class WriteAllocationTests(ITestOutputHelper output)
{
    private const int RecordBytes = 64 * 1024;
    private const int Commands = 2 * TapeDriveRig.RewindEvery;

    /// <summary>An object header plus method table pointer: no allocation is smaller (64-bit).</summary>
    private const double SmallestObject = 24;

    public static TheoryData<RigStore, int> Shapes() => new()
    {
        { RigStore.Memory, 1 },
        { RigStore.Memory, 4 },
        { RigStore.File, 1 },
        { RigStore.File, 4 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task Write6_allocates_nothing_per_command_in_steady_state(RigStore store, int depth)
    {
        await using var rig = await TapeDriveRig.CreateAsync(store, 4L * TapeDriveRig.RewindEvery * RecordBytes, compression: false);

        // Warm-up past a rewind: pools filled, every buffer grown, the index chunk allocated, methods tiered up.
        Assert.Equal(0, await rig.WriteAsync(RecordBytes, 4 * TapeDriveRig.RewindEvery, depth));

        // Reported only after the last round: the test output is processed by the runner on other threads, which the
        // process-wide count would see.
        // Up to eight rounds, stopping after three once one is clean: on a loaded machine the runtime's own background
        // work (tiering, thread injection) can land in a few rounds in a row; the bound on the best round stays.
        var rounds = new List<double>();
        var failures = 0;
        for (var round = 0; round < 8 && (round < 3 || rounds.Min() >= SmallestObject); round++)
        {
            if (round > 0 && rounds[^1] >= SmallestObject)
            {
                // The count is process-wide: background work of tests that ran before this collection (CI once saw
                // 1.1-1.9 MB per round for half a second, then nothing) is given time to end before the next round.
                await Task.Delay(250);
            }

            var before = GC.GetTotalAllocatedBytes(precise: true);
            failures += await rig.WriteAsync(RecordBytes, Commands, depth);
            rounds.Add((GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Commands);
        }

        var best = rounds.Min();
        output.WriteLine($"B/command per round of {Commands} commands: {string.Join(" / ", rounds.Select(r => r.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}");

        Assert.Equal(0, failures);

        // Debug builds compile async state machines as classes (one object per call), so only Release is held to 0.
        var debugBuild = typeof(TapeGateway.Scsi.Ssc.TapeDriveLogicalUnit).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true;
        Assert.True(debugBuild || best < SmallestObject, $"{best:F1} bytes allocated per WRITE(6) ({store}, depth {depth})");
    }
}

using BenchmarkDotNet.Attributes;
using TapeGateway.Benchmarks.Harness;

namespace TapeGateway.Benchmarks;

/// <summary>
/// WRITE(6) through the SSC drive's command pipeline (<see cref="Scsi.Ssc.TapeDriveLogicalUnit"/> → TapeImage →
/// ITapeStore) in steady state, with recycled ScsiTasks as the iSCSI transport recycles them.
/// Goal: 0 B allocated per command (gate: tests/TapeGateway.Scsi.Tests/Ssc/WriteAllocationTests.cs). Depth 4 keeps
/// four commands queued on the drive's serialisation gate, as tapeperf -q 4 does. Every 256th command is a REWIND
/// (IMMED=0, a durability point) so the tape stays bounded; its cost is part of the measurement.
/// </summary>
[MemoryDiagnoser]
public class TapeDriveWriteBenchmarks
{
    private const int Batch = 64;

    private TapeDriveRig _rig = null!;

    [Params(RigStore.Memory, RigStore.File)]
    public RigStore Store { get; set; }

    [Params(262144)]
    public int RecordBytes { get; set; }

    [Params(1, 4)]
    public int Depth { get; set; }

    [GlobalSetup]
    public async Task Setup() => _rig = await TapeDriveRig.CreateAsync(Store, 4L * TapeDriveRig.RewindEvery * RecordBytes, compression: false);

    [GlobalCleanup]
    public async Task Cleanup() => await _rig.DisposeAsync();

    [Benchmark(OperationsPerInvoke = Batch, Description = "WRITE(6) via TapeDriveLogicalUnit")]
    public ValueTask<int> Write() => _rig.WriteAsync(RecordBytes, Batch, Depth);
}

/// <summary>
/// WRITE(6) over the whole in-process iSCSI path: SCSI Command PDU with immediate data (and R2T + Data-Out beyond
/// FirstBurstLength) on a loopback socket → IscsiConnection → ScsiTask → the drive → TapeImage → ITapeStore → SCSI
/// Response. The initiator (<see cref="RawInitiator"/>) allocates nothing, so the figure is the target's.
/// Goal: 0 B per command (gate: tests/TapeGateway.Integration.Tests/WriteAllocationTests.cs).
/// </summary>
[MemoryDiagnoser]
public class IscsiTapeWriteBenchmarks
{
    private const int Batch = 64;
    private IscsiTapeRig _rig = null!;
    private long _sequence;

    [Params(RigStore.Memory, RigStore.File)]
    public RigStore Store { get; set; }

    [Params(262144, 1048576)]
    public int RecordBytes { get; set; }

    [Params(1, 4)]
    public int Depth { get; set; }

    [GlobalSetup]
    public async Task Setup() =>
        _rig = await IscsiTapeRig.CreateAsync(Store, 4L * TapeDriveRig.RewindEvery * RecordBytes, compression: false, RecordBytes, Depth);

    [GlobalCleanup]
    public async Task Cleanup() => await _rig.DisposeAsync();

    [Benchmark(OperationsPerInvoke = Batch, Description = "WRITE(6) via iSCSI (loopback)")]
    public int Write() => _rig.Initiator.WriteBurst(1, RecordBytes, Batch, Depth, ref _sequence, TapeDriveRig.RewindEvery);
}

using System.Runtime.CompilerServices;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi;
using TapeGateway.Scsi.Ssc;

namespace TapeGateway.Benchmarks.Harness;

/// <summary>Where the rig's tape image lives.</summary>
public enum RigStore
{
    /// <summary><see cref="MemoryTapeStore"/>: every store call completes synchronously.</summary>
    Memory,

    /// <summary><see cref="LocalFileTapeStore"/> on a temp file: real positional I/O, as a local image runs it.</summary>
    File,

    /// <summary>
    /// The object-store tier's cache (<c>TieredTapeStore</c>), the server's default data path; created by
    /// <c>TieredTapeRig</c> (Harness/TieredTapeRig.cs), where the Storage layer is referenced.
    /// </summary>
    Tiered,
}

/// <summary>
/// One SSC drive (IBM ULT3580-TD5 personality) at LUN 1 of a target, with a fresh tape loaded and the unit attentions
/// of the load consumed. Shared by the allocation benchmarks (tools/TapeGateway.Benchmarks) and the allocation gate
/// tests, which link this file, so both measure the same thing.
/// </summary>
public sealed class TapeDriveRig : IAsyncDisposable
{
    public const string TargetName = "iqn.2026-11.org.tapegateway.bench:vtl";

    /// <summary>Every this many commands one is a REWIND, so an unbounded stream of writes fits a bounded tape.</summary>
    public const int RewindEvery = 256;

    private readonly IAsyncDisposable? _owner;
    private readonly ScsiTask _rewind = new();
    private ScsiTask[] _tasks = [];
    private ValueTask[] _pending = [];
    private long _sequence;

    private TapeDriveRig(ScsiTargetDevice target, TapeDriveLogicalUnit drive, ItNexus nexus, TapeImage image, IAsyncDisposable? owner)
    {
        _owner = owner;
        Target = target;
        Drive = drive;
        Nexus = nexus;
        Image = image;
    }

    public ScsiTargetDevice Target { get; }

    public TapeDriveLogicalUnit Drive { get; }

    /// <summary>The nexus the rig's own commands use (the iSCSI path creates its own at login).</summary>
    public ItNexus Nexus { get; }

    public TapeImage Image { get; }

    public static async Task<TapeDriveRig> CreateAsync(RigStore store, long capacityBytes, bool compression)
    {
        switch (store)
        {
            case RigStore.File:
                var directory = new TempDirectory();
                return await CreateAsync(options => TapeImage.CreateFileAsync(Path.Combine(directory.Path, "tape.tgt"), options), capacityBytes, compression, directory);
            case RigStore.Memory:
                return await CreateAsync(options => TapeImage.CreateAsync(new MemoryTapeStore(), options), capacityBytes, compression, owner: null);
            default:
                throw new ArgumentException("RigStore.Tiered: use TieredTapeRig.CreateDriveAsync", nameof(store));
        }
    }

    /// <summary>
    /// A rig over an image <paramref name="createImage"/> makes; <paramref name="owner"/> (whatever holds the image's
    /// store: a temp directory, a data tier) is disposed after the tape is ejected.
    /// </summary>
    public static async Task<TapeDriveRig> CreateAsync(Func<TapeImageOptions, ValueTask<TapeImage>> createImage, long capacityBytes, bool compression, IAsyncDisposable? owner)
    {
        var target = new ScsiTargetDevice(TargetName);
        var drive = new TapeDriveLogicalUnit(new Lun(1), TapeDrivePersonality.IbmUlt3580Td5, "1013000001");
        target.Add(drive);
        var image = await createImage(new TapeImageOptions { CapacityBytes = capacityBytes });
        var nexus = new ItNexus("iqn.2026-11.tools:bench", 0x23D000000001, TargetName, 1);
        target.NexusCreated(nexus);
        await drive.LoadAsync(image, new LoadedCartridge("BNC001L5", LtoGeneration.Lto5, false, false, false, capacityBytes, "SNBNC001L5"), CancellationToken.None);
        while (drive.UnitAttentions.TryTake(nexus, out _))
        {
        }

        var rig = new TapeDriveRig(target, drive, nexus, image, owner);
        await rig.SetCompressionAsync(compression);
        return rig;
    }

    /// <summary>
    /// DCE of the Data Compression mode page by MODE SENSE(6) + MODE SELECT(6), as tools/bench/tape-ctl.c does: the
    /// drive ships with DCE=1 and the streaming benchmarks run with DCE=0 (incompressible data).
    /// </summary>
    public async Task SetCompressionAsync(bool enabled)
    {
        var sense = await RunAsync([0x1A, 0x00, TapeDriveLogicalUnit.DataCompressionPage, 0, 64, 0], null);
        var data = sense.DataIn.ToArray();
        var offset = 4 + data[3];
        var pageLength = data[offset + 1] + 2;
        var select = new byte[4 + pageLength];
        select[2] = (byte)(data[2] & 0x70);
        data.AsSpan(offset, pageLength).CopyTo(select.AsSpan(4));
        select[4] &= 0x7F; // PS is reserved in MODE SELECT
        select[4 + 2] = (byte)(enabled ? select[4 + 2] | 0x80 : select[4 + 2] & 0x7F);
        var result = await RunAsync([0x15, 0x10, 0, 0, (byte)select.Length, 0], select);
        if (result.Status != ScsiStatus.Good || Drive.CompressionEnabled != enabled)
        {
            throw new InvalidOperationException($"MODE SELECT DCE={enabled} failed: {result.Status}");
        }
    }

    /// <summary>
    /// <paramref name="count"/> WRITE(6) commands of <paramref name="length"/> bytes, <paramref name="depth"/> at a time
    /// queued on the drive (as the transport hands them over in CmdSN order), on recycled tasks; a REWIND after every
    /// <see cref="RewindEvery"/> writes. Returns how many did not end GOOD.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> WriteAsync(int length, int count, int depth)
    {
        if (_tasks.Length < depth)
        {
            _tasks = [.. Enumerable.Range(0, depth).Select(_ => new ScsiTask())];
            _pending = new ValueTask[depth];
        }

        var failures = 0;
        for (var done = 0; done < count; done += depth)
        {
            var n = Math.Min(depth, count - done);
            for (var i = 0; i < n; i++)
            {
                PrepareWrite(_tasks[i], length);
                _pending[i] = Target.ExecuteAsync(_tasks[i]);
            }

            for (var i = 0; i < n; i++)
            {
                await _pending[i].ConfigureAwait(false);
                failures += _tasks[i].Status == ScsiStatus.Good ? 0 : 1;
            }

            for (var i = 0; i < n; i++)
            {
                if (++_sequence % RewindEvery == 0)
                {
                    PrepareRewind(_rewind);
                    await Target.ExecuteAsync(_rewind).ConfigureAwait(false);
                    failures += _rewind.Status == ScsiStatus.Good ? 0 : 1;
                }
            }
        }

        return failures;
    }

    /// <summary>One command through the target (not on the measured path: allocates a task).</summary>
    public async Task<ScsiTask> RunAsync(byte[] cdb, byte[]? dataOut)
    {
        var task = new ScsiTask();
        var full = new byte[16];
        cdb.CopyTo(full, 0);
        task.SetCdb(full);
        task.Nexus = Nexus;
        task.Lun = new Lun(1);
        if (dataOut is not null)
        {
            task.Direction = DataDirection.Write;
            task.ExpectedDataTransferLength = (uint)dataOut.Length;
            dataOut.CopyTo(task.PrepareDataOut(dataOut.Length));
            task.CompleteDataOut(dataOut.Length);
        }
        else
        {
            task.Direction = DataDirection.Read;
            task.ExpectedDataTransferLength = 255;
            task.PrepareDataOut(0);
            task.CompleteDataOut(0);
        }

        await Target.ExecuteAsync(task);
        return task;
    }

    /// <summary>
    /// Readies a recycled task for WRITE(6) of <paramref name="length"/> bytes the way the iSCSI transport does
    /// (reset, CDB, Data-Out buffer from the pool, Data-Out complete), without copying a payload into it.
    /// </summary>
    public void PrepareWrite(ScsiTask task, int length)
    {
        task.Reset();
        Span<byte> cdb = stackalloc byte[16];
        cdb.Clear();
        cdb[0] = 0x0A;
        cdb[2] = (byte)(length >> 16);
        cdb[3] = (byte)(length >> 8);
        cdb[4] = (byte)length;
        task.SetCdb(cdb);
        task.Nexus = Nexus;
        task.Lun = new Lun(1);
        task.Direction = DataDirection.Write;
        task.ExpectedDataTransferLength = (uint)length;
        task.PrepareDataOut(length);
        task.CompleteDataOut(length);
    }

    /// <summary>Readies a recycled task for REWIND (IMMED=0: a durability point).</summary>
    public void PrepareRewind(ScsiTask task)
    {
        task.Reset();
        Span<byte> cdb = stackalloc byte[16];
        cdb.Clear();
        cdb[0] = 0x01;
        task.SetCdb(cdb);
        task.Nexus = Nexus;
        task.Lun = new Lun(1);
        task.Direction = DataDirection.None;
        task.PrepareDataOut(0);
        task.CompleteDataOut(0);
    }

    public async ValueTask DisposeAsync()
    {
        var medium = await Drive.EjectAsync(force: true, CancellationToken.None);
        if (medium is not null)
        {
            await medium.DisposeAsync();
        }

        if (_owner is not null)
        {
            await _owner.DisposeAsync();
        }

    }
}

/// <summary>A temp directory deleted with everything in it when disposed.</summary>
public sealed class TempDirectory : IAsyncDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("tapegw-bench-").FullName;

    public ValueTask DisposeAsync()
    {
        Directory.Delete(Path, recursive: true);
        return ValueTask.CompletedTask;
    }
}

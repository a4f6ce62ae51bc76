using TapeGateway.Media.Tape;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// A multi-partition <see cref="ITapeMedium"/> for the SCSI layer's partition tests while TapeImage still answers for
/// partition 0 only: one in-memory TapeImage per partition, the active one serving every verb without a partition
/// argument. It follows the interface contract (FORMAT with a layout, LOCATE with a partition change, REWIND and load
/// at BOP of partition 0, MAM per partition, SET CAPACITY back to one partition), nothing more.
/// </summary>
internal sealed class PartitionedTapeFake : ITapeMedium
{
    private readonly List<TapeImage> _partitions = [];
    private long _capacity;
    private int _active;
    private bool _writeProtected;

    private PartitionedTapeFake(long capacity)
    {
        _capacity = capacity;
        NativeCapacityBytes = capacity;
    }

    public static async Task<PartitionedTapeFake> CreateAsync(long capacity, IReadOnlyList<TapeAttribute>? attributes = null)
    {
        var fake = new PartitionedTapeFake(capacity);
        fake._partitions.Add(await NewPartitionAsync(capacity, attributes ?? []));
        return fake;
    }

    public Guid MediumId { get; } = Guid.NewGuid();

    public bool IsWorm => false;

    public bool IsWriteProtected => _writeProtected;

    public long NativeCapacityBytes { get; }

    public long CapacityBytes => _capacity;

    public long EarlyWarningBytes => Active.EarlyWarningBytes;

    public long ProgrammableEarlyWarningBytes
    {
        get => Active.ProgrammableEarlyWarningBytes;
        set => Active.ProgrammableEarlyWarningBytes = value;
    }

    public TapeRecoveryInfo Recovery => _partitions[0].Recovery;

    public int PartitionCount => _partitions.Count;

    /// <summary>How many times FORMAT reached the medium (a refused FORMAT must not).</summary>
    public int FormatCount { get; private set; }

    private TapeImage Active => _partitions[_active];

    public TapePartitionInfo GetPartition(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, _partitions.Count);
        var p = _partitions[partition];
        var at = p.ReadPosition();
        return new TapePartitionInfo(partition, p.CapacityBytes, p.EarlyWarningBytes, at.BytesUsed, at.EndOfDataObjectNumber);
    }

    public TapePosition ReadPosition() => Active.ReadPosition() with { Partition = _active };

    public ValueTask<TapeResult> WriteBlockAsync(ReadOnlyMemory<byte> data, bool compress, CancellationToken ct = default) =>
        Guarded(() => Active.WriteBlockAsync(data, compress, ct));

    public ValueTask<TapeResult> WriteFilemarksAsync(int count, bool immediate, CancellationToken ct = default) =>
        Guarded(() => Active.WriteFilemarksAsync(count, immediate, ct));

    public ValueTask<TapeResult> ReadBlockAsync(Memory<byte> destination, CancellationToken ct = default) => Active.ReadBlockAsync(destination, ct);

    public ValueTask<TapeResult> SpaceBlocksAsync(long count, CancellationToken ct = default) => Active.SpaceBlocksAsync(count, ct);

    public ValueTask<TapeResult> SpaceFilemarksAsync(long count, CancellationToken ct = default) => Active.SpaceFilemarksAsync(count, ct);

    public ValueTask<TapeResult> SpaceToEndOfDataAsync(CancellationToken ct = default) => Active.SpaceToEndOfDataAsync(ct);

    public ValueTask<TapeResult> LocateAsync(long logicalObjectNumber, CancellationToken ct = default) => Active.LocateAsync(logicalObjectNumber, ct);

    public async ValueTask<TapeResult> LocateAsync(int partition, long logicalObjectNumber, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, _partitions.Count);
        await Active.FlushAsync(ct);
        _active = partition;
        return await Active.LocateAsync(logicalObjectNumber, ct);
    }

    public async ValueTask<TapeResult> RewindAsync(CancellationToken ct = default)
    {
        await Active.FlushAsync(ct);
        _active = 0;
        return await Active.RewindAsync(ct);
    }

    public ValueTask<TapeResult> EraseAsync(CancellationToken ct = default) => Guarded(() => Active.EraseAsync(ct));

    public async ValueTask<TapeResult> SetCapacityAsync(long capacityBytes, CancellationToken ct = default)
    {
        if (_writeProtected)
        {
            return TapeResult.Of(TapeCondition.WriteProtected);
        }

        await RebuildAsync([capacityBytes]);
        _capacity = capacityBytes;
        return TapeResult.Ok;
    }

    public async ValueTask<TapeResult> FormatPartitionsAsync(IReadOnlyList<long> capacities, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(capacities);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacities.Count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacities.Count, TapePartitionInfo.MaxPartitions);
        if (capacities.Any(c => c < 1) || capacities.Sum() > _capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(capacities));
        }

        if (_writeProtected)
        {
            return TapeResult.Of(TapeCondition.WriteProtected);
        }

        FormatCount++;
        await RebuildAsync(capacities);
        return TapeResult.Ok;
    }

    public bool TryGetAttribute(int partition, ushort id, out ReadOnlyMemory<byte> value) => _partitions[partition].TryGetAttribute(id, out value);

    public IReadOnlyList<ushort> GetAttributeIds(int partition) => _partitions[partition].GetAttributeIds();

    public ValueTask<TapeResult> WriteAttributesAsync(int partition, IReadOnlyList<TapeAttribute> attributes, CancellationToken ct = default) =>
        _writeProtected ? ValueTask.FromResult(TapeResult.Of(TapeCondition.WriteProtected)) : _partitions[partition].WriteAttributesAsync(attributes, ct);

    public ValueTask FlushAsync(CancellationToken ct = default) => Active.FlushAsync(ct);

    public void SetWriteProtected(bool writeProtected) => _writeProtected = writeProtected;

    public bool TryGetAttribute(ushort id, out ReadOnlyMemory<byte> value) => TryGetAttribute(0, id, out value);

    public IReadOnlyList<ushort> GetAttributeIds() => GetAttributeIds(0);

    public ValueTask<TapeResult> WriteAttributesAsync(IReadOnlyList<TapeAttribute> attributes, CancellationToken ct = default) =>
        WriteAttributesAsync(0, attributes, ct);

    public ValueTask<long> IncrementLoadCountAsync(CancellationToken ct = default) => _partitions[0].IncrementLoadCountAsync(ct);

    public async ValueTask UnloadAsync(CancellationToken ct = default)
    {
        foreach (var p in _partitions)
        {
            await p.UnloadAsync(ct);
        }
    }

    public ValueTask DisposeAsync() => UnloadAsync();

    private static async Task<TapeImage> NewPartitionAsync(long capacity, IReadOnlyList<TapeAttribute> attributes) =>
        await TapeImage.CreateAsync(new MemoryTapeStore(), new TapeImageOptions { CapacityBytes = capacity, InitialAttributes = attributes });

    private ValueTask<TapeResult> Guarded(Func<ValueTask<TapeResult>> verb) =>
        _writeProtected ? ValueTask.FromResult(TapeResult.Of(TapeCondition.WriteProtected)) : verb();

    /// <summary>All data lost, attributes kept per partition number (the cartridge memory survives a format).</summary>
    private async Task RebuildAsync(IReadOnlyList<long> capacities)
    {
        var rebuilt = new List<TapeImage>();
        for (var k = 0; k < capacities.Count; k++)
        {
            var kept = new List<TapeAttribute>();
            if (k < _partitions.Count)
            {
                foreach (var id in _partitions[k].GetAttributeIds())
                {
                    if (_partitions[k].TryGetAttribute(id, out var v))
                    {
                        kept.Add(new TapeAttribute(id, v.ToArray()));
                    }
                }
            }

            rebuilt.Add(await NewPartitionAsync(capacities[k], kept));
        }

        foreach (var old in _partitions)
        {
            await old.UnloadAsync();
        }

        _partitions.Clear();
        _partitions.AddRange(rebuilt);
        _active = 0;
    }
}

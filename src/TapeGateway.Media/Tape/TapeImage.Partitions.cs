namespace TapeGateway.Media.Tape;

// Partition verbs of ITapeMedium. Single-partition media only so far: the layout verbs accept partition 0 alone.
public sealed partial class TapeImage
{
    public int PartitionCount => 1;

    public TapePartitionInfo GetPartition(int partition)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        ArgumentOutOfRangeException.ThrowIfNotEqual(partition, 0);
        return new TapePartitionInfo(0, _capacityBytes, _earlyWarningBytes, UsedBytes, _index.Count);
    }

    public ValueTask<TapeResult> LocateAsync(int partition, long logicalObjectNumber, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(partition, 0);
        return LocateAsync(logicalObjectNumber, ct);
    }

    public async ValueTask<TapeResult> FormatPartitionsAsync(IReadOnlyList<long> capacities, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(capacities);
        ArgumentOutOfRangeException.ThrowIfNotEqual(capacities.Count, 1);
        ArgumentOutOfRangeException.ThrowIfNotEqual(capacities[0], _capacityBytes);
        Enter();
        try
        {
            if (_writeProtected)
            {
                return TapeResult.Of(TapeCondition.WriteProtected);
            }

            if (_superblock.Worm && (_index.Count > 0 || _damagedTail))
            {
                return TapeResult.Of(TapeCondition.WormOverwrite);
            }

            _position = 0;
            await TruncateAtPositionAsync(ct).ConfigureAwait(false);
            _changedSinceOpen = true;
            await SyncAsync(ct).ConfigureAwait(false);
            await _store.FlushAsync(ct).ConfigureAwait(false);
            return TapeResult.Ok;
        }
        finally
        {
            Exit();
        }
    }

    public bool TryGetAttribute(int partition, ushort id, out ReadOnlyMemory<byte> value)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(partition, 0);
        return TryGetAttribute(id, out value);
    }

    public IReadOnlyList<ushort> GetAttributeIds(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(partition, 0);
        return GetAttributeIds();
    }

    public ValueTask<TapeResult> WriteAttributesAsync(int partition, IReadOnlyList<TapeAttribute> attributes, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(partition, 0);
        return WriteAttributesAsync(attributes, ct);
    }
}

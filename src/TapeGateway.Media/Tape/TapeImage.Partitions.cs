using System.Buffers.Binary;

namespace TapeGateway.Media.Tape;

// Partitions (SSC-4 §4.2.3 partitions within a volume), docs/media-format.md "Partitions". Every partition lives in
// the one append-only record stream, log-structured: a record names its partition and its object number there, each
// partition has its own index, and a write in the middle of a partition supersedes that partition's later objects.
// Superseded records at the end of the stream are cut physically (as on a single-partition medium, which this keeps
// byte for byte); elsewhere they stay in the stream as garbage that the next mount's scan skips.
public sealed partial class TapeImage
{
    // One index per partition; a single-partition medium keeps the one without record sizes (no extra memory).
    private TapeIndex[] _partitions;
    private readonly long[] _partitionCapacity = new long[TapePartitionInfo.MaxPartitions];
    private readonly long[] _partitionEarlyWarning = new long[TapePartitionInfo.MaxPartitions];
    private int _active; // the partition every verb without a partition argument acts on

    // The tail run: the records from _runStart to _end all belong to _runPartition (-1: the run is empty). A superseded
    // record inside it can be cut physically, since everything after it is that partition's and superseded too —
    // unless a record at or after it hid older records of the partition (a logical supersede or a partition end, up to
    // _runHideEnd): cutting it would bring those back at the next mount.
    private long _runStart;
    private int _runPartition = -1;
    private long _runHideEnd;
    private bool _hideNext; // the next record appended supersedes objects logically (it hides older records)

    // Partitioned media: every record of the stream as a version-2 checkpoint entry, for the unload's checkpoint.
    private TapeRecordLog? _log;

    public int PartitionCount => _partitions.Length;

    private long ActiveCapacity => _partitions.Length > 1 ? _partitionCapacity[_active] : _capacityBytes;

    private long ActiveEarlyWarning => _partitions.Length > 1 ? _partitionEarlyWarning[_active] : _earlyWarningBytes;

    private long TotalObjects
    {
        get
        {
            long total = 0;
            foreach (var p in _partitions)
            {
                total += p.Count;
            }

            return total;
        }
    }

    /// <summary>Bytes of the active partition's records before object <paramref name="objectNumber"/> (≤ EOD).</summary>
    private long UsedBefore(long objectNumber) =>
        _partitions.Length > 1 ? _index.UsedBefore(objectNumber) : OffsetOf(objectNumber) - TapeFormat.DataStart;

    /// <summary>Stored payload length of the active partition's record <paramref name="objectNumber"/>, as the index knows it.</summary>
    private long StoredSizeOf(long objectNumber)
    {
        if (_partitions.Length > 1)
        {
            return _index.RecordBytes(objectNumber) - TapeFormat.RecordHeaderSize;
        }

        // One partition: records are contiguous, so the next record's offset tells this one's size.
        var next = objectNumber + 1 < _index.Count ? _index.OffsetOf(objectNumber + 1) : _end;
        return next - _index.OffsetOf(objectNumber) - TapeFormat.RecordHeaderSize;
    }

    public TapePartitionInfo GetPartition(int partition)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        CheckPartition(partition);
        if (_partitions.Length == 1)
        {
            return new TapePartitionInfo(0, _capacityBytes, _earlyWarningBytes, _end - TapeFormat.DataStart, _index.Count);
        }

        var index = _partitions[partition];
        return new TapePartitionInfo(partition, _partitionCapacity[partition], _partitionEarlyWarning[partition], index.UsedBefore(index.Count), index.Count);
    }

    public ValueTask<TapeResult> LocateAsync(int partition, long logicalObjectNumber, CancellationToken ct = default)
    {
        CheckPartition(partition);
        return LocateCoreAsync(partition, logicalObjectNumber, ct);
    }

    private void CheckPartition(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, _partitions.Length);
    }

    private void SwitchTo(int partition)
    {
        _active = partition;
        _index = _partitions[partition];
    }

    /// <summary>
    /// FORMAT MEDIUM with a layout. Two durable steps, each atomic, as SET CAPACITY: the whole stream is cut at BOP
    /// (truncate, mark lowered, fsync), then the attribute area gets the new layout (shadow slot, fsync). A crash
    /// between them leaves an empty medium with its old layout: the command never completed.
    /// </summary>
    public async ValueTask<TapeResult> FormatPartitionsAsync(IReadOnlyList<long> capacities, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(capacities);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacities.Count, 1, nameof(capacities));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacities.Count, TapePartitionInfo.MaxPartitions, nameof(capacities));
        long sum = 0;
        foreach (var c in capacities)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(c, 1, nameof(capacities));
            sum += c;
            ArgumentOutOfRangeException.ThrowIfGreaterThan(sum, _capacityBytes, nameof(capacities));
        }

        // One partition is the medium's whole effective capacity (SET CAPACITY, not FORMAT MEDIUM, makes it smaller).
        if (capacities.Count == 1)
        {
            ArgumentOutOfRangeException.ThrowIfNotEqual(capacities[0], _capacityBytes, nameof(capacities));
        }

        Enter();
        try
        {
            if (_writeProtected)
            {
                return TapeResult.Of(TapeCondition.WriteProtected);
            }

            // WORM: only a cartridge that was never written may be formatted, as for SET CAPACITY.
            if (_superblock.Worm && (TotalObjects > 0 || _damagedTail))
            {
                return TapeResult.Of(TapeCondition.WormOverwrite);
            }

            byte[]? layout = null;
            if (capacities.Count > 1)
            {
                layout = new byte[1 + (8 * capacities.Count)];
                layout[0] = (byte)capacities.Count;
                for (var k = 0; k < capacities.Count; k++)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(layout.AsSpan(1 + (8 * k)), capacities[k]);
                }

                // Nothing may change if the entry does not fit (39 bytes at most: it practically always does).
                if (_attributes.EncodedLength + TapeFormat.AttributeEntryHeaderSize + layout.Length > TapeFormat.MaxAttributeBytes)
                {
                    return TapeResult.Of(TapeCondition.AttributeSpaceExhausted);
                }
            }

            var changesLayout = layout is not null || _partitions.Length > 1;
            await CutEverythingAsync(ct).ConfigureAwait(false);
            if (changesLayout)
            {
                // The new partitions are blank, their MAM included; partition 0's MAM and the load count stay.
                _attributes.SetEntry(TapeFormat.PartitionLayoutKey, layout);
                _attributes.RemoveMamFrom(1);
                await PersistAttributesAsync(ct).ConfigureAwait(false);
                ApplyLayout(layout is null ? null : [.. capacities]);
            }

            return TapeResult.Ok;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Every object of every partition is lost, durably (truncate at the data start, lower the mark, fsync); the
    /// position is BOP of partition 0.
    /// </summary>
    private async ValueTask CutEverythingAsync(CancellationToken ct)
    {
        if (!_volumeChanged)
        {
            await NoteVolumeChangeAsync(ct).ConfigureAwait(false);
        }

        SwitchTo(0);
        _position = 0;
        if (_partitions.Length > 1)
        {
            foreach (var p in _partitions)
            {
                p.TruncateTo(0);
            }

            _end = TapeFormat.DataStart;
            _runPartition = -1;
            _hideNext = false;
            _log?.Clear();
            if (_store.Length != _end || _markEnd > _end)
            {
                await CutAsync(_end, ct).ConfigureAwait(false);
            }
        }
        else
        {
            await TruncateAtPositionAsync(ct).ConfigureAwait(false);
        }

        _changedSinceOpen = true;
        await SyncAsync(ct).ConfigureAwait(false);
        await _store.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the layout entry (format 1.2) after the effective capacity is known. An entry that cannot be right (bad
    /// length, count, a capacity ≤ 0, more than the effective capacity in all) is ignored: one partition.
    /// </summary>
    private void LoadLayout()
    {
        if (!_attributes.TryGetEntry(TapeFormat.PartitionLayoutKey, out var entry) || entry.Length < 1)
        {
            return;
        }

        int count = entry[0];
        if (count < 2 || count > TapePartitionInfo.MaxPartitions || entry.Length != 1 + (8 * count))
        {
            return;
        }

        var capacities = new long[count];
        long sum = 0;
        for (var k = 0; k < count; k++)
        {
            capacities[k] = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(1 + (8 * k)));
            if (capacities[k] <= 0 || capacities[k] > _capacityBytes - sum)
            {
                return;
            }

            sum += capacities[k];
        }

        ApplyLayout(capacities);
    }

    /// <summary>
    /// Makes the in-memory structures match a layout (null: one partition) on an empty stream. The early-warning zone
    /// of each partition keeps the share of the tape it had at creation, as a scaled capacity's does.
    /// </summary>
    private void ApplyLayout(long[]? capacities)
    {
        if (capacities is null)
        {
            _partitions = [_partitions[0].TracksSizes ? new TapeIndex() : _partitions[0]];
            _log = null;
        }
        else
        {
            _partitions = new TapeIndex[capacities.Length];
            for (var k = 0; k < capacities.Length; k++)
            {
                _partitions[k] = new TapeIndex(trackSizes: true);
                _partitionCapacity[k] = capacities[k];
                _partitionEarlyWarning[k] = (long)((Int128)_superblock.EarlyWarningBytes * capacities[k] / _superblock.CapacityBytes);
            }

            _log = new TapeRecordLog();
        }

        _runPartition = -1;
        _runStart = _runHideEnd = _end;
        _hideNext = false;
        SwitchTo(0);
    }

    /// <summary>
    /// Whether the open-time scan takes a structurally valid record. One partition: today's strict rule (partition 0,
    /// object number = ordinal), which also rejects a record left at the wrong place. Partitioned: the partition exists
    /// and the object number is at most its EOD (less: the record superseded what followed); the EOD seal belongs to
    /// partition 0 at its EOD.
    /// </summary>
    private bool AcceptsOnReplay(in RecordHeader header, long ordinal)
    {
        if (_partitions.Length == 1)
        {
            return header.Partition == 0 && header.ObjectNumber == ordinal && header.Type != RecordType.PartitionEnd;
        }

        if (header.Partition >= _partitions.Length)
        {
            return false;
        }

        var count = _partitions[header.Partition].Count;
        return header.Type == RecordType.EndOfData
            ? header.Partition == 0 && header.ObjectNumber == count
            : header.ObjectNumber <= count;
    }

    /// <summary>Applies one accepted record of a partitioned medium during the open-time scan.</summary>
    private void Replay(in RecordHeader header, long offset, long recordEnd)
    {
        var index = _partitions[header.Partition];
        _hideNext = header.ObjectNumber < index.Count;
        _log?.Append(header.Type, header.Partition, header.StoredLength, _hideNext, header.ObjectNumber);
        index.TruncateTo(header.ObjectNumber);
        if (header.Type != RecordType.PartitionEnd)
        {
            index.Append(offset, header.Type == RecordType.Filemark, recordEnd - offset);
        }

        NoteRun(header.Partition, offset, recordEnd);
    }

    /// <summary>Tracks the tail run after a record of <paramref name="partition"/> was appended at <paramref name="start"/>.</summary>
    private void NoteRun(int partition, long start, long end)
    {
        if (_runPartition != partition)
        {
            _runPartition = partition;
            _runStart = start;
            _runHideEnd = start;
        }

        if (_hideNext)
        {
            _runHideEnd = end;
            _hideNext = false;
        }
    }

    /// <summary>
    /// Partitioned media: makes the position the end of the active partition. A superseded record in the tail run
    /// (and after any record there that hid older ones) is cut physically, exactly as on one partition; otherwise the
    /// records stay where they are and the next record appended (or a partition-end record) supersedes them for the
    /// next mount. Either way the append point is the end of the stream.
    /// </summary>
    private ValueTask SupersedeAtPositionAsync(CancellationToken ct)
    {
        var cutAt = _end;
        if (_position < _index.Count)
        {
            var superseded = _index.OffsetOf(_position);
            if (_runPartition == _active && superseded >= _runHideEnd)
            {
                // Past the run's last hiding record every record is an append of this partition, so the records cut
                // are exactly its objects from the position on: the log's last entries.
                cutAt = superseded;
                _log?.RemoveLast(_index.Count - _position);
                if (cutAt == _runStart)
                {
                    _runPartition = -1;
                }
            }
            else
            {
                _hideNext = true;
            }

            _index.TruncateTo(_position);
        }

        _end = cutAt;
        return _store.Length != cutAt || _markEnd > cutAt ? CutAsync(cutAt, ct) : ValueTask.CompletedTask;
    }

    /// <summary>ERASE in a partition whose erased records cannot be cut: a partition-end record at its new EOD.</summary>
    private async ValueTask AppendPartitionEndAsync(CancellationToken ct)
    {
        var start = _end;
        TapeFormat.WriteRecordHeader(_writeHeader, RecordType.PartitionEnd, false, 0, 0, _position, TapeFormat.Crc([]), _active);
        await _store.WriteAsync(start, _writeHeader, ct).ConfigureAwait(false);
        _end = start + TapeFormat.RecordHeaderSize;
        _log?.Append(RecordType.PartitionEnd, _active, 0, _hideNext, _position);
        NoteRun(_active, start, _end);
        _dirty = true;
    }

    public bool TryGetAttribute(int partition, ushort id, out ReadOnlyMemory<byte> value)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        CheckPartition(partition);
        return _attributes.TryGet(partition, id, out value);
    }

    public IReadOnlyList<ushort> GetAttributeIds(int partition)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        CheckPartition(partition);
        return _attributes.Ids(partition);
    }

    public async ValueTask<TapeResult> WriteAttributesAsync(int partition, IReadOnlyList<TapeAttribute> attributes, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        CheckPartition(partition);
        foreach (var a in attributes)
        {
            if (a.Value.Length > ushort.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(attributes), $"Attribute 0x{a.Id:X4} is longer than 65535 bytes.");
            }
        }

        Enter();
        try
        {
            if (_writeProtected)
            {
                return TapeResult.Of(TapeCondition.WriteProtected);
            }

            if (_attributes.EncodedLengthAfter(partition, attributes) > TapeFormat.MaxAttributeBytes)
            {
                return TapeResult.Of(TapeCondition.AttributeSpaceExhausted);
            }

            _attributes.Apply(partition, attributes);
            await PersistAttributesAsync(ct).ConfigureAwait(false);
            return TapeResult.Ok;
        }
        finally
        {
            Exit();
        }
    }
}

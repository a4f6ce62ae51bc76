using System.Buffers;
using System.IO.Hashing;
using static TapeGateway.Media.Tape.TapeIndexCheckpoint;

namespace TapeGateway.Media.Tape;

public sealed partial class TapeImage
{
    private const int CheckpointChunk = 1 << 20;

    /// <summary>Sealed at mount but without a usable checkpoint: the unload writes one if the tape may be written.</summary>
    private bool _checkpointMissing;

    /// <summary>
    /// Rebuilds the index from the checkpoint behind the EOD seal instead of scanning every record header. Used only
    /// when everything agrees: trailer and header checksums, the payload hash, sizes that add up to exactly the EOD
    /// offset, a durable-end mark covering the EOD record, and the headers of the EOD record and the last record read
    /// back with the object numbers the checkpoint implies. Any write after the seal cuts the image at EOD first, so a
    /// checkpoint can only be current or absent. False (index left empty) means: scan. A single-partition medium takes
    /// only version 1, a partitioned one only version 2 (<see cref="TryLoadPartitionedCheckpointAsync"/>).
    /// </summary>
    private async ValueTask<bool> TryLoadCheckpointAsync(CancellationToken ct)
    {
        var length = _store.Length;
        if (length < MinImageLength)
        {
            return false;
        }

        var small = new byte[TrailerSize];
        if (!await ReadFullyAsync(length - TrailerSize, small.AsMemory(0, TrailerSize), ct).ConfigureAwait(false)
            || !TryReadTrailer(small, out var at, out var checkpointLength, out var payloadHash)
            || at < TapeFormat.DataStart + TapeFormat.RecordHeaderSize
            || at > length - TrailerSize - checkpointLength || at + checkpointLength + TrailerSize != length)
        {
            return false;
        }

        var payloadLength = checkpointLength - HeaderSize;
        if (!await ReadFullyAsync(at, small.AsMemory(0, HeaderSize), ct).ConfigureAwait(false)
            || !TryReadHeader(small, out var version, out var count, out var eod, out var partitions)
            || eod != at - TapeFormat.RecordHeaderSize || eod + TapeFormat.RecordHeaderSize > _markEnd
            || count > payloadLength || count > (eod - TapeFormat.DataStart) / TapeFormat.RecordHeaderSize)
        {
            return false;
        }

        // Version 1 describes one contiguous partition, version 2 an interleaved stream: neither is read as the other.
        if (_partitions.Length > 1)
        {
            return version == PartitionedVersion && partitions == _partitions.Length
                && await TryLoadPartitionedCheckpointAsync(at + HeaderSize, payloadLength, payloadHash, count, eod, small, ct).ConfigureAwait(false);
        }

        if (version != TapeIndexCheckpoint.Version)
        {
            return false;
        }

        if (!await ReadFullyAsync(eod, small.AsMemory(0, TapeFormat.RecordHeaderSize), ct).ConfigureAwait(false)
            || !TapeFormat.TryReadRecordHeader(small.AsSpan(0, TapeFormat.RecordHeaderSize), count, out var eodHeader)
            || eodHeader.Type != RecordType.EndOfData)
        {
            return false;
        }

        if (!await DecodeCheckpointAsync(at + HeaderSize, payloadLength, payloadHash, count, eod, ct).ConfigureAwait(false))
        {
            _index.TruncateTo(0);
            return false;
        }

        // The last record's header, read where the checkpoint puts it, must be that record (the EOD header was checked).
        if (count > 0)
        {
            var last = _index.OffsetOf(count - 1);
            if (!await ReadFullyAsync(last, small.AsMemory(0, TapeFormat.RecordHeaderSize), ct).ConfigureAwait(false)
                || !TapeFormat.TryReadRecordHeader(small.AsSpan(0, TapeFormat.RecordHeaderSize), count - 1, out var lastHeader)
                || lastHeader.Type is not (RecordType.Data or RecordType.Filemark)
                || (lastHeader.Type == RecordType.Filemark) != _index.IsFilemark(count - 1)
                || last + TapeFormat.RecordHeaderSize + lastHeader.StoredLength != eod)
            {
                _index.TruncateTo(0);
                return false;
            }
        }

        _end = eod;
        _sealed = true;
        _dirty = false;
        Recovery = new TapeRecoveryInfo(WasSealed: true, DiscardedBytes: 0, ObjectCount: count, DamagedAt: null, FromCheckpoint: true);
        return true;
    }

    private async ValueTask<bool> DecodeCheckpointAsync(long payloadOffset, long payloadLength, ulong expectedHash, long count, long eod, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CheckpointChunk);
        try
        {
            var hash = new XxHash3();
            var pos = TapeFormat.DataStart;
            long decoded = 0;
            var carry = 0; // bytes of an entry cut by the chunk boundary, moved to the front of the buffer
            for (long read = 0; read < payloadLength;)
            {
                var want = (int)Math.Min(CheckpointChunk - carry, payloadLength - read);
                if (!await ReadFullyAsync(payloadOffset + read, buffer.AsMemory(carry, want), ct).ConfigureAwait(false))
                {
                    return false;
                }

                hash.Append(buffer.AsSpan(carry, want));
                read += want;
                var available = carry + want;
                var i = 0;
                while (i < available)
                {
                    if (!TryReadEntry(buffer.AsSpan(i, available - i), out var size, out var filemark, out var used))
                    {
                        if (read == payloadLength || available - i >= MaxEntryBytes)
                        {
                            return false; // truncated at the very end, or an over-long entry
                        }

                        break;
                    }

                    var valid = filemark
                        ? size == TapeFormat.RecordHeaderSize
                        : size > TapeFormat.RecordHeaderSize && size <= TapeFormat.RecordHeaderSize + TapeFormat.MaxBlockLength;
                    if (!valid || decoded == count || pos + size > eod)
                    {
                        return false;
                    }

                    _index.Append(pos, filemark);
                    pos += size;
                    decoded++;
                    i += used;
                }

                carry = available - i;
                buffer.AsSpan(i, carry).CopyTo(buffer);
            }

            return carry == 0 && decoded == count && pos == eod && hash.GetCurrentHashAsUInt64() == expectedHash;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Appends the checkpoint after the EOD record at <see cref="_end"/> (which must be written already): header,
    /// varint record sizes, trailer. Streams through one pooled chunk, so a tape of millions of records costs no large
    /// buffer. Skipped when the payload would pass <see cref="MaxPayloadBytes"/> (the next mount scans).
    /// </summary>
    private async ValueTask WriteCheckpointAsync(CancellationToken ct)
    {
        if (_partitions.Length > 1)
        {
            if (_log is { } log)
            {
                await WritePartitionedCheckpointAsync(log, ct).ConfigureAwait(false);
            }

            return;
        }

        var count = _index.Count;
        if (count * 5 > MaxPayloadBytes) // ≤ 5 bytes per entry: a record is at most 32 + 2^24 bytes
        {
            return;
        }

        var at = _end + TapeFormat.RecordHeaderSize;
        var buffer = ArrayPool<byte>.Shared.Rent(CheckpointChunk);
        try
        {
            WriteHeader(buffer, count, _end);
            await _store.WriteAsync(at, buffer.AsMemory(0, HeaderSize), ct).ConfigureAwait(false);
            var hash = new XxHash3();
            long written = 0;
            var fill = 0;
            var nextFilemark = 0;
            for (long lon = 0; lon < count; lon++)
            {
                if (fill > CheckpointChunk - MaxEntryBytes)
                {
                    hash.Append(buffer.AsSpan(0, fill));
                    await _store.WriteAsync(at + HeaderSize + written, buffer.AsMemory(0, fill), ct).ConfigureAwait(false);
                    written += fill;
                    fill = 0;
                }

                var filemark = nextFilemark < _index.FilemarkCount && _index.FilemarkAt(nextFilemark) == lon;
                if (filemark)
                {
                    nextFilemark++;
                }

                fill += WriteEntry(buffer.AsSpan(fill), OffsetOf(lon + 1) - _index.OffsetOf(lon), filemark);
            }

            hash.Append(buffer.AsSpan(0, fill));
            WriteTrailer(buffer.AsSpan(fill), at, HeaderSize + written + fill, hash.GetCurrentHashAsUInt64());
            await _store.WriteAsync(at + HeaderSize + written, buffer.AsMemory(0, fill + TrailerSize), ct).ConfigureAwait(false);
            _checkpointMissing = false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Version 2 (partitioned media): replays the entries (one per record in stream order) through the same acceptance
    /// rule and the same replay as the header scan, so the partitions' indexes, the tail run and the end of the stream
    /// come out exactly as a scan would build them. Trusted only if every entry is legal and accepted, the sizes add up
    /// to exactly the EOD offset, the seal is partition 0's at its replayed EOD, and the last record's header, read
    /// where the checkpoint puts it, is the record the last entry describes. Otherwise everything is forgotten: scan.
    /// </summary>
    private async ValueTask<bool> TryLoadPartitionedCheckpointAsync(long payloadOffset, long payloadLength, ulong expectedHash, long count, long eod, byte[] small, CancellationToken ct)
    {
        if (!await ReadFullyAsync(eod, small.AsMemory(0, TapeFormat.RecordHeaderSize), ct).ConfigureAwait(false)
            || !TapeFormat.TryParseRecordHeader(small.AsSpan(0, TapeFormat.RecordHeaderSize), out var eodHeader)
            || eodHeader.Type != RecordType.EndOfData)
        {
            return false;
        }

        var last = await ReplayCheckpointAsync(payloadOffset, payloadLength, expectedHash, count, eod, ct).ConfigureAwait(false);

        // The seal closes partition 0 at its EOD, as the scan's acceptance rule demands of it.
        var valid = last is not null && AcceptsOnReplay(eodHeader, 0);
        if (valid && last is { Offset: >= 0 } l)
        {
            valid = await ReadFullyAsync(l.Offset, small.AsMemory(0, TapeFormat.RecordHeaderSize), ct).ConfigureAwait(false)
                && TapeFormat.TryParseRecordHeader(small.AsSpan(0, TapeFormat.RecordHeaderSize), out var lastHeader)
                && lastHeader.Type == l.Header.Type && lastHeader.Partition == l.Header.Partition
                && lastHeader.ObjectNumber == l.Header.ObjectNumber && lastHeader.StoredLength == l.Header.StoredLength
                && l.Offset + TapeFormat.RecordHeaderSize + lastHeader.StoredLength == eod;
        }

        if (!valid)
        {
            ForgetStream();
            return false;
        }

        _end = eod;
        _sealed = true;
        _dirty = false;
        Recovery = new TapeRecoveryInfo(WasSealed: true, DiscardedBytes: 0, ObjectCount: TotalObjects, DamagedAt: null, FromCheckpoint: true);
        return true;
    }

    /// <summary>
    /// Decodes and replays the version-2 entries. Returns the last record (offset, header as the entry describes it;
    /// offset -1 for an empty stream), or null when anything is wrong: a malformed or illegal entry, one the scan would
    /// not accept, sizes that do not end exactly at <paramref name="eod"/>, a count or hash that disagrees.
    /// </summary>
    private async ValueTask<(long Offset, RecordHeader Header)?> ReplayCheckpointAsync(long payloadOffset, long payloadLength, ulong expectedHash, long count, long eod, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CheckpointChunk);
        try
        {
            var hash = new XxHash3();
            var pos = TapeFormat.DataStart;
            long decoded = 0;
            (long Offset, RecordHeader Header) last = (-1, default);
            var carry = 0; // bytes of an entry cut by the chunk boundary, moved to the front of the buffer
            for (long read = 0; read < payloadLength;)
            {
                var want = (int)Math.Min(CheckpointChunk - carry, payloadLength - read);
                if (!await ReadFullyAsync(payloadOffset + read, buffer.AsMemory(carry, want), ct).ConfigureAwait(false))
                {
                    return null;
                }

                hash.Append(buffer.AsSpan(carry, want));
                read += want;
                var available = carry + want;
                var i = 0;
                while (i < available)
                {
                    if (!TryReadPartitionedEntry(buffer.AsSpan(i, available - i), out var type, out var partition, out var stored, out var lon, out var used))
                    {
                        if (read == payloadLength || available - i >= MaxPartitionedEntryBytes)
                        {
                            return null; // truncated at the very end, or malformed
                        }

                        break;
                    }

                    var recordEnd = pos + TapeFormat.RecordHeaderSize + stored;
                    if (decoded == count || partition >= _partitions.Length || recordEnd > eod)
                    {
                        return null;
                    }

                    // Without an object number the record was appended at its partition's EOD at this point.
                    var header = new RecordHeader(type, false, stored, stored, 0, partition, lon >= 0 ? lon : _partitions[partition].Count);
                    if (!AcceptsOnReplay(header, decoded))
                    {
                        return null;
                    }

                    Replay(header, pos, recordEnd);
                    last = (pos, header);
                    pos = recordEnd;
                    decoded++;
                    i += used;
                }

                carry = available - i;
                buffer.AsSpan(i, carry).CopyTo(buffer);
            }

            return carry == 0 && decoded == count && pos == eod && hash.GetCurrentHashAsUInt64() == expectedHash ? last : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Back to the state before any record was replayed (a refused checkpoint), so the scan starts clean.</summary>
    private void ForgetStream()
    {
        foreach (var p in _partitions)
        {
            p.TruncateTo(0);
        }

        _log?.Clear();
        _runPartition = -1;
        _runStart = _runHideEnd = 0;
        _hideNext = false;
    }

    /// <summary>
    /// Version 2: the log of every record in the stream, written like version 1 (header, entries, trailer through one
    /// pooled chunk). Skipped when the log overflowed or does not add up to the stream (the next mount scans).
    /// </summary>
    private async ValueTask WritePartitionedCheckpointAsync(TapeRecordLog log, CancellationToken ct)
    {
        if (log.Overflowed || log.RecordBytes != _end - TapeFormat.DataStart)
        {
            return;
        }

        var at = _end + TapeFormat.RecordHeaderSize;
        var buffer = ArrayPool<byte>.Shared.Rent(CheckpointChunk);
        try
        {
            WritePartitionedHeader(buffer, log.Count, _end, _partitions.Length);
            await _store.WriteAsync(at, buffer.AsMemory(0, HeaderSize), ct).ConfigureAwait(false);
            var hash = new XxHash3();
            long written = 0;
            while (true)
            {
                // Leaves room for the trailer in the last chunk, so header, entries and trailer stay three kinds of append.
                var fill = log.CopyTo(written, buffer.AsSpan(0, CheckpointChunk - TrailerSize));
                hash.Append(buffer.AsSpan(0, fill));
                if (written + fill == log.Length)
                {
                    WriteTrailer(buffer.AsSpan(fill), at, HeaderSize + log.Length, hash.GetCurrentHashAsUInt64());
                    await _store.WriteAsync(at + HeaderSize + written, buffer.AsMemory(0, fill + TrailerSize), ct).ConfigureAwait(false);
                    break;
                }

                await _store.WriteAsync(at + HeaderSize + written, buffer.AsMemory(0, fill), ct).ConfigureAwait(false);
                written += fill;
            }

            _checkpointMissing = false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>ITapeStore.ReadAsync returns fewer bytes only at the end of the store: short means absent.</summary>
    private async ValueTask<bool> ReadFullyAsync(long offset, Memory<byte> destination, CancellationToken ct) =>
        await _store.ReadAsync(offset, destination, ct).ConfigureAwait(false) == destination.Length;
}

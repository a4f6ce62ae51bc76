using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using TapeGateway.Core.Buffers;
using TapeGateway.Core.Threading;
using ZstdSharp;

namespace TapeGateway.Media.Tape;

/// <summary>
/// A tape image (format 1, docs/media-format.md) on an <see cref="ITapeStore"/>, with the tape verbs of
/// <see cref="ITapeMedium"/>. Position, EOD and filemarks come from an in-memory <see cref="TapeIndex"/> rebuilt at
/// open by one sequential header scan; the store is touched only to read or write records and for durability.
/// </summary>
/// <remarks>
/// Durability model: record bytes are written straight to the store (the page cache is our drive buffer) and made
/// durable (fsync) at WRITE FILEMARKS without IMMED, FLUSH, repositioning after writes, REWIND and unload. After each
/// fsync a small durable-end mark records how far the record stream is known durable; records before it are trusted
/// at open on their header CRC, records after it must also pass their payload CRC or the tail is cut there.
/// </remarks>
public sealed partial class TapeImage : ITapeMedium
{
    private const int ScanWindow = 1024 * 1024;

    private readonly ITapeStore _store;
    private readonly SuperblockInfo _superblock;
    private readonly TapeMountOptions _mount;
    private TapeIndex _index; // the active partition's (the only one on a single-partition medium)
    private readonly TapeAttributeArea _attributes = new();
    private readonly byte[] _writeHeader = new byte[TapeFormat.RecordHeaderSize];
    private readonly byte[] _readHeader = new byte[TapeFormat.RecordHeaderSize];
    private readonly byte[] _markBuffer = new byte[TapeFormat.MarkSlotSize];

    // Reused part lists for the store's gathered write and scatter read (header + payload in one operation).
    private readonly ReadOnlyMemory<byte>[] _writeParts = new ReadOnlyMemory<byte>[2];
    private readonly Memory<byte>[] _readParts = new Memory<byte>[2];

    // Read-ahead of the next data record (see ScheduleReadAhead). Everything below is guarded by _aheadLock, which the
    // background read holds for its whole duration, so a verb that enters waits for it instead of racing it.
    private readonly Lock _aheadLock = new();
    private readonly byte[] _aheadHeaderBytes = new byte[TapeFormat.RecordHeaderSize];
    private readonly Memory<byte>[] _aheadParts = new Memory<byte>[2];
    private ReadAheadWork? _aheadWork;
    private int _aheadVersion; // bumped by every verb: a queued read-ahead that sees another version does nothing
    private int _aheadScheduledVersion;
    private bool _aheadQueued;
    private long _aheadTarget = -1; // record the queued read-ahead is for
    private long _aheadLon = -1; // record whose verified payload _aheadBuffer holds, or -1
    private RecordHeader _aheadRecord;

    // Kept for the mount (grown to the largest record read ahead) rather than rented per record: rented on a worker
    // and returned on the read loop, shared-pool arrays would pile up in thread slots and rents would allocate.
    private byte[]? _aheadBuffer;

    // A compressed or encrypted record the read-ahead has also decoded (decrypted, expanded): the logical block, and
    // for an encrypted one the key it used (the READ takes it only if that is still the drive's decryption key).
    private byte[]? _aheadPlain;
    private bool _aheadDecoded;
    private TapeCipher? _aheadPlainKey;

    private ChunkedCompressor? _compressor;
    private Decompressor? _decompressor;

    private long _end; // store offset where the next record goes (= offset of EOD)
    private long _position; // logical object number of the next object to read or write
    private ulong _markSequence;
    private long _markEnd; // value of the newest durable-end mark written
    private bool _dirty; // records written since the last fsync
    private bool _changedSinceOpen;
    private bool _volumeChanged; // VOLUME CHANGE REFERENCE already advanced this mount
    private bool _sealed; // an EOD seal sits at _end
    private long _capacityBytes; // effective capacity: the superblock's, or what SET CAPACITY chose (attribute area)
    private long _earlyWarningBytes;
    private long _pewBytes; // programmable early warning: distance before early warning, 0 = off
    private bool _pewReported; // PEW reported since the position was last on the BOP side of it
    private bool _damagedTail;
    private bool _writeProtected;
    private int _busy;
    private bool _closed;

    private TapeImage(ITapeStore store, SuperblockInfo superblock, TapeMountOptions mount)
    {
        _store = store;
        _superblock = superblock;
        _mount = mount;
        _writeProtected = mount.ReadOnly;
        _capacityBytes = superblock.CapacityBytes;
        _earlyWarningBytes = superblock.EarlyWarningBytes;
        _index = new TapeIndex();
        _partitions = [_index];
    }

    public Guid MediumId => _superblock.MediumId;

    public bool IsWorm => _superblock.Worm;

    public bool IsWriteProtected => _writeProtected;

    public long NativeCapacityBytes => _superblock.CapacityBytes;

    public long CapacityBytes => _capacityBytes;

    public long EarlyWarningBytes => _earlyWarningBytes;

    /// <inheritdoc/>
    public TapeEncryption? Encryption { get; set; }

    public long ProgrammableEarlyWarningBytes
    {
        get => _pewBytes;
        set
        {
            var bytes = Math.Clamp(value, 0, _capacityBytes - _earlyWarningBytes);
            if (bytes != _pewBytes)
            {
                // A zone that moved has not been reported yet.
                _pewBytes = bytes;
                _pewReported = false;
            }
        }
    }

    public TapeRecoveryInfo Recovery { get; private set; }

    /// <summary>Session counters for LOG SENSE (data compression / volume statistics pages).</summary>
    public TapeStatistics Statistics { get; } = new();

    // Capacity is counted in bytes of the active partition's records (headers + stored payloads), not in store
    // offsets: on a partitioned medium the partitions' records interleave in one stream.
    private long UsedBytes => UsedBefore(_index.Count);

    private long EarlyWarningStart => ActiveCapacity - ActiveEarlyWarning;

    private long ProgrammableEarlyWarningStart => Math.Max(0, EarlyWarningStart - _pewBytes);

    /// <summary>
    /// What a successful write whose last record ends at <paramref name="end"/> (bytes used in the partition) reports (SSC-4 programmable early
    /// warning, as the IBM LTO SCSI Reference §4.8 words it): PROGRAMMABLE EARLY WARNING DETECTED once per entry into the
    /// zone past PEW, by the first write that completes there; it is reported before early warning when that write
    /// also crosses early warning, and by a later write when the one that entered the zone could not report it (a
    /// LOCATE or SPACE took the position there, or the write met another exception). Otherwise early warning inside
    /// its zone (every write there, SSC-4 §4.2.5).
    /// </summary>
    private TapeResult WriteCompleted(long end)
    {
        if (_pewBytes > 0 && !_pewReported && end > ProgrammableEarlyWarningStart)
        {
            _pewReported = true;
            return TapeResult.Of(TapeCondition.ProgrammableEarlyWarning);
        }

        return end > EarlyWarningStart ? TapeResult.Of(TapeCondition.EarlyWarning) : TapeResult.Ok;
    }

    // ---- Create / open --------------------------------------------------------------------------------------------

    /// <summary>Formats an empty store as a new tape and returns it mounted at BOP.</summary>
    public static async ValueTask<TapeImage> CreateAsync(ITapeStore store, TapeImageOptions options, TapeMountOptions? mount = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        if (store.Length != 0)
        {
            throw new InvalidOperationException("A tape can only be created on an empty store.");
        }

        var ew = options.ResolvedEarlyWarningBytes;
        if (options.CapacityBytes < TapeImageOptions.MinimumCapacityBytes || ew < 0 || ew >= options.CapacityBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Capacity must be at least 64 KiB and the early-warning zone smaller than it.");
        }

        var info = new SuperblockInfo(options.CapacityBytes, ew, options.Worm, Guid.NewGuid(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var meta = new byte[TapeFormat.DataStart];
        TapeFormat.WriteSuperblock(meta, info);
        TapeFormat.WriteMark(meta.AsSpan((int)TapeFormat.MarkSlotOffset, TapeFormat.MarkSlotSize), 1, TapeFormat.DataStart);

        var attributes = new TapeAttributeArea();
        if (attributes.EncodedLengthAfter(options.InitialAttributes) > TapeFormat.MaxAttributeBytes)
        {
            throw new ArgumentException("Initial attributes do not fit the attribute area.", nameof(options));
        }

        attributes.Apply(options.InitialAttributes);
        attributes.Encode(meta.AsSpan((int)TapeFormat.AttributeSlotOffset, TapeFormat.AttributeSlotSize), 1);

        await store.WriteAsync(0, meta, ct).ConfigureAwait(false);
        await store.FlushAsync(ct).ConfigureAwait(false);
        return await OpenAsync(store, mount, ct).ConfigureAwait(false);
    }

    /// <summary>Creates a new tape image file (fails if it exists).</summary>
    public static async ValueTask<TapeImage> CreateFileAsync(string path, TapeImageOptions options, TapeMountOptions? mount = null, CancellationToken ct = default)
    {
        var store = LocalFileTapeStore.Create(path);
        try
        {
            return await CreateAsync(store, options, mount, ct).ConfigureAwait(false);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens (mounts) an existing tape image file at BOP.</summary>
    public static async ValueTask<TapeImage> OpenFileAsync(string path, TapeMountOptions? mount = null, CancellationToken ct = default)
    {
        var store = LocalFileTapeStore.Open(path);
        try
        {
            return await OpenAsync(store, mount, ct).ConfigureAwait(false);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Mounts a tape: validates the superblock, picks the newest valid mark and attribute slot, rebuilds the index with
    /// one sequential header scan, cuts a torn tail, and positions at BOP. The image owns <paramref name="store"/>.
    /// </summary>
    public static async ValueTask<TapeImage> OpenAsync(ITapeStore store, TapeMountOptions? mount = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (store.Length < TapeFormat.DataStart)
        {
            throw new InvalidDataException("Not a TapeGateway tape image (shorter than its metadata region).");
        }

        var meta = ArrayPool<byte>.Shared.Rent((int)TapeFormat.DataStart);
        try
        {
            var n = await store.ReadAsync(0, meta.AsMemory(0, (int)TapeFormat.DataStart), ct).ConfigureAwait(false);
            if (n < TapeFormat.DataStart)
            {
                throw new InvalidDataException("Tape image metadata region is truncated.");
            }

            var image = new TapeImage(store, TapeFormat.ReadSuperblock(meta), mount ?? TapeMountOptions.Default);
            image.LoadMark(meta);
            image.LoadAttributes(meta);

            if (!await image.TryLoadCheckpointAsync(ct).ConfigureAwait(false))
            {
                await image.RecoverAsync(ct).ConfigureAwait(false);
            }

            return image;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(meta);
        }
    }

    private void LoadMark(byte[] meta)
    {
        _markEnd = TapeFormat.DataStart; // no valid mark: trust nothing, verify every payload
        for (var slot = 0; slot < 2; slot++)
        {
            var span = meta.AsSpan((int)TapeFormat.MarkSlotOffset + (slot * TapeFormat.MarkSlotSize), TapeFormat.MarkSlotSize);
            if (TapeFormat.TryReadMark(span, out var seq, out var end) && seq >= _markSequence && end >= TapeFormat.DataStart)
            {
                _markSequence = seq;
                _markEnd = end;
            }
        }
    }

    private void LoadAttributes(byte[] meta)
    {
        List<KeyValuePair<int, byte[]>>? best = null;
        ulong bestSeq = 0;
        for (var slot = 0; slot < 2; slot++)
        {
            var span = meta.AsSpan((int)TapeFormat.AttributeSlotOffset + (slot * TapeFormat.AttributeSlotSize), TapeFormat.AttributeSlotSize);
            if (TapeAttributeArea.TryDecode(span, out var seq, out var entries) && (best is null || seq > bestSeq))
            {
                best = entries;
                bestSeq = seq;
            }
        }

        if (best is not null)
        {
            _attributes.Load(best, bestSeq);
        }

        // A scaled capacity (SET CAPACITY) travels with the attribute area, so it is exactly as durable and atomic as
        // the slot that carries it. A value outside the legal range (a damaged or forged entry) is ignored: full capacity.
        if (_attributes.TryGetEntry(TapeFormat.ScaledCapacityKey, out var scaled) && scaled.Length == 8)
        {
            var capacity = BinaryPrimitives.ReadInt64LittleEndian(scaled);
            if (capacity >= Math.Min(TapeImageOptions.MinimumCapacityBytes, _superblock.CapacityBytes) && capacity <= _superblock.CapacityBytes)
            {
                ApplyCapacity(capacity);
            }
        }

        LoadLayout();
        if (_attributes.TryGetEntry(TapeFormat.LifetimeStatisticsKey, out var lifetime))
        {
            Statistics.TryLoadPrior(lifetime); // a malformed entry counts from zero rather than failing the mount
        }
    }

    /// <summary>
    /// Makes <paramref name="capacity"/> the effective capacity. The early-warning zone keeps the share of the tape it
    /// had at creation (SSC-4 §4.2.5 leaves its size to the device): a scaled tape warns as far from its new end, in
    /// proportion, as the full tape did, and the zone stays smaller than the capacity.
    /// </summary>
    private void ApplyCapacity(long capacity)
    {
        _capacityBytes = capacity;
        _earlyWarningBytes = capacity == _superblock.CapacityBytes
            ? _superblock.EarlyWarningBytes
            : (long)((Int128)_superblock.EarlyWarningBytes * capacity / _superblock.CapacityBytes);
        _pewBytes = Math.Clamp(_pewBytes, 0, _capacityBytes - _earlyWarningBytes);
        _pewReported = false;
    }

    /// <summary>
    /// One sequential scan over record headers (read through a 1 MiB window, so small records cost no extra I/O and
    /// large payloads are skipped). Why a scan and not a persisted index: the headers are the only thing that can
    /// never disagree with the data, and a torn tail must be found by reading it anyway; see docs/media-format.md.
    /// </summary>
    private async ValueTask RecoverAsync(CancellationToken ct)
    {
        var trusted = _markEnd;
        var storeLength = _store.Length;
        var window = ArrayPool<byte>.Shared.Rent(ScanWindow);
        var pos = TapeFormat.DataStart;
        long windowStart = 0;
        var windowLength = 0;
        long lon = 0;
        bool torn = false, sealedTape = false;
        long? damagedAt = null;
        try
        {
            while (pos < storeLength)
            {
                if (pos + TapeFormat.RecordHeaderSize > storeLength)
                {
                    torn = true; // half a header: the write never completed
                    break;
                }

                if (windowLength == 0 || pos < windowStart || pos + TapeFormat.RecordHeaderSize > windowStart + windowLength)
                {
                    windowStart = pos;
                    windowLength = await _store.ReadAsync(pos, window.AsMemory(0, ScanWindow), ct).ConfigureAwait(false);
                }

                var headerBytes = window.AsSpan((int)(pos - windowStart), TapeFormat.RecordHeaderSize);
                if (!TapeFormat.TryParseRecordHeader(headerBytes, out var header) || !AcceptsOnReplay(header, lon))
                {
                    // Inside the durable region a bad header is media damage: keep the bytes, stop the tape there.
                    // Beyond it, it is a write that never became durable: cut.
                    if (pos + TapeFormat.RecordHeaderSize <= trusted)
                    {
                        damagedAt = pos;
                    }
                    else
                    {
                        torn = true;
                    }

                    break;
                }

                if (header.Type == RecordType.EndOfData)
                {
                    sealedTape = true;
                    break;
                }

                var recordEnd = pos + TapeFormat.RecordHeaderSize + header.StoredLength;
                if (recordEnd > storeLength)
                {
                    torn = true;
                    break;
                }

                if (recordEnd > trusted && header.StoredLength > 0
                    && !await PayloadIntactAsync(pos + TapeFormat.RecordHeaderSize, header, window, windowStart, windowLength, ct).ConfigureAwait(false))
                {
                    torn = true;
                    break;
                }

                if (_partitions.Length > 1)
                {
                    Replay(header, pos, recordEnd);
                }
                else
                {
                    _index.Append(pos, header.Type == RecordType.Filemark);
                }

                pos = recordEnd;
                lon++;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(window);
        }

        _end = pos;
        _sealed = sealedTape;
        _checkpointMissing = sealedTape;

        // Records past the mark were readable, but after a process (not OS) crash they may exist only in the page
        // cache: the next durability point must fsync them before the mark may cover them.
        _dirty = _markEnd < _end;
        _damagedTail = damagedAt is not null;
        long discarded = 0;
        if (torn)
        {
            discarded = storeLength - pos;
            if (!_mount.ReadOnly)
            {
                // Cut now, so a later append can never leave old torn bytes between new records.
                await CutAsync(pos, ct).ConfigureAwait(false);
            }
        }

        Recovery = new TapeRecoveryInfo(sealedTape, discarded, TotalObjects, damagedAt);
    }

    private async ValueTask<bool> PayloadIntactAsync(long payloadOffset, RecordHeader header, byte[] window, long windowStart, int windowLength, CancellationToken ct)
    {
        if (payloadOffset >= windowStart && payloadOffset + header.StoredLength <= windowStart + windowLength)
        {
            return TapeFormat.Crc(window.AsSpan((int)(payloadOffset - windowStart), header.StoredLength)) == header.PayloadCrc;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(header.StoredLength);
        try
        {
            var n = await _store.ReadAsync(payloadOffset, buffer.AsMemory(0, header.StoredLength), ct).ConfigureAwait(false);
            return n == header.StoredLength && TapeFormat.Crc(buffer.AsSpan(0, n)) == header.PayloadCrc;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // ---- Durability helpers ---------------------------------------------------------------------------------------

    /// <summary>
    /// Writes the durable-end mark into the older slot. Invariant: the value is never larger than what an fsync has
    /// already covered, so the mark can only under-state durability (costing verification at open), never over-state it.
    /// </summary>
    private ValueTask WriteMarkAsync(long durableEnd, CancellationToken ct)
    {
        _markSequence++;
        _markEnd = durableEnd;
        TapeFormat.WriteMark(_markBuffer, _markSequence, durableEnd);
        var slot = (long)(_markSequence % 2);
        return _store.WriteAsync(TapeFormat.MarkSlotOffset + (slot * TapeFormat.MarkSlotSize), _markBuffer, ct);
    }

    /// <summary>Durability point: fsync the records written so far, then advance the mark.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SyncAsync(CancellationToken ct)
    {
        if (_mount.ReadOnly)
        {
            return;
        }

        if (_dirty)
        {
            await _store.FlushAsync(ct).ConfigureAwait(false);
            _dirty = false;
        }

        if (_markEnd < _end)
        {
            // Durable itself only at the next fsync; until then the older mark is used, which is merely slower.
            await WriteMarkAsync(_end, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Cuts the record stream at <paramref name="offset"/> durably before anything new is appended: pending records
    /// are fsynced first (the lowered mark must not claim undurable bytes), then truncate + lower the mark + fsync.
    /// Without this, a crash after an overwrite could resurrect old records, or mix old and new bytes under a mark
    /// that trusts them.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CutAsync(long offset, CancellationToken ct)
    {
        if (_dirty)
        {
            await _store.FlushAsync(ct).ConfigureAwait(false);
            _dirty = false;
        }

        if (_store.Length != offset)
        {
            await _store.SetLengthAsync(offset, ct).ConfigureAwait(false);
        }

        if (_markEnd > offset)
        {
            await WriteMarkAsync(offset, ct).ConfigureAwait(false);
        }

        await _store.FlushAsync(ct).ConfigureAwait(false);
        _sealed = false;
        _damagedTail = false;
    }

    // ---- Verb plumbing --------------------------------------------------------------------------------------------

    /// <param name="keepReadAhead">
    /// READ keeps a finished read-ahead (it may be the record it wants); every other verb drops it, as it may change
    /// the tape or move away for good.
    /// </param>
    private void Enter(bool keepReadAhead = false)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("Overlapping tape verbs: the drive must issue one at a time.");
        }

        // Waits for a read-ahead in progress (bounded: it only reads what the store has at hand) and cancels a queued one.
        lock (_aheadLock)
        {
            _aheadVersion++;
            if (!keepReadAhead)
            {
                DropReadAheadLocked();
            }
        }
    }

    private void Exit()
    {
        // Back on the BOP side of PEW (SSC-4: the zone was left toward BOP), the next entry is reported again.
        if (_pewReported && UsedBefore(_position) <= ProgrammableEarlyWarningStart)
        {
            _pewReported = false;
        }

        Volatile.Write(ref _busy, 0);
    }

    /// <summary>Store offset of a record (or of EOD); lets tests damage exactly one record.</summary>
    internal long RecordOffset(long objectNumber) => OffsetOf(objectNumber);

    private long OffsetOf(long objectNumber) => objectNumber < _index.Count ? _index.OffsetOf(objectNumber) : _end;

    /// <summary>
    /// Checks that a write (block, filemarks, erase) may start at the current position. Pure: nothing is changed, so a
    /// refused write leaves the tape as it was.
    /// </summary>
    private TapeCondition? CheckWritable(bool erase = false)
    {
        if (_writeProtected)
        {
            return TapeCondition.WriteProtected;
        }

        // WORM (SSC-4 WORM mode): appending at EOD is the only write that leaves existing data intact, except over
        // the filemarks that immediately precede EOD: all of them but the one closest to BOP may be overwritten
        // (WORM MODE FILEMARK RESTRICTIONS 02h of the Medium Configuration mode page, as IBM LTO drives report), so
        // an application that closes a volume with two filemarks can back over the second and append.
        // ERASE gets no such allowance: on WORM it only ever succeeds at EOD. Nothing else opens WORM data: ALLOW
        // OVERWRITE only lifts append-only mode, and "a write type command shall be processed following the WORM rules"
        // (IBM LTO SCSI Reference §4.2.3, after SSC-4 append-only mode).
        if (_superblock.Worm && _position < _index.Count && (erase || !OnlyTrailingFilemarksFollowOne()))
        {
            return TapeCondition.WormOverwrite;
        }

        return null;
    }

    /// <summary>
    /// True when every object from the current position to EOD is a filemark and so is the one just before it: the
    /// position is inside the run of filemarks that precedes EOD, past its first (BOP-side) filemark.
    /// </summary>
    private bool OnlyTrailingFilemarksFollowOne()
    {
        var from = _position - 1;
        if (from < 0)
        {
            return false;
        }

        var filemarksFrom = _index.FilemarkCount - _index.FilemarksBefore(from);
        return filemarksFrom == _index.Count - from;
    }

    /// <summary>
    /// Makes the current position the end of the tape (tape semantics: writing at p discards every object ≥ p).
    /// Cheap when already there: the common append path does nothing.
    /// </summary>
    private ValueTask TruncateAtPositionAsync(CancellationToken ct)
    {
        if (!_volumeChanged)
        {
            return ChangeVolumeThenTruncateAsync(ct);
        }

        if (_partitions.Length > 1)
        {
            return SupersedeAtPositionAsync(ct);
        }

        var offset = OffsetOf(_position);
        _index.TruncateTo(_position);
        _end = offset;

        // Not an async method: the append path must not pay for a state machine.
        return _store.Length != offset || _markEnd > offset ? CutAsync(offset, ct) : ValueTask.CompletedTask;
    }


    private async ValueTask ChangeVolumeThenTruncateAsync(CancellationToken ct)
    {
        await NoteVolumeChangeAsync(ct).ConfigureAwait(false);
        await TruncateAtPositionAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// SPC-4 VOLUME CHANGE REFERENCE (MAM 0009h): changed each time the data on the medium is changed — here, once per
    /// mount, before the first verb that changes data (write, filemarks, erase, format, set capacity), made durable
    /// first so that no crash can leave changed data under the old value. LTFS compares it with the value in its index
    /// to notice a tape written by someone else. Kept as 4 bytes big-endian, as the attribute is reported.
    /// </summary>
    private async ValueTask NoteVolumeChangeAsync(CancellationToken ct)
    {
        _volumeChanged = true;
        if (_mount.ReadOnly)
        {
            return;
        }

        uint value = 0;
        if (_attributes.TryGet(MamAttributeId.VolumeChangeReference, out var current) && current.Length == 4)
        {
            value = BinaryPrimitives.ReadUInt32BigEndian(current.Span);
        }

        var next = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(next, unchecked(value + 1));
        await StoreAttributesAsync([new TapeAttribute(MamAttributeId.VolumeChangeReference, next)], ct).ConfigureAwait(false);
    }

    // ---- Write ----------------------------------------------------------------------------------------------------

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeResult> WriteBlockAsync(ReadOnlyMemory<byte> data, bool compress, CancellationToken ct = default)
    {
        if (data.IsEmpty || data.Length > TapeFormat.MaxBlockLength)
        {
            throw new ArgumentOutOfRangeException(nameof(data), data.Length, $"Block length must be 1..{TapeFormat.MaxBlockLength}.");
        }

        Enter();
        byte[]? rented = null;
        try
        {
            if (CheckWritable() is { } refused)
            {
                return TapeResult.Of(refused);
            }

            var payload = data;
            var compressed = false;
            if (compress && data.Length > 64)
            {
                // Keep the compressed form only if it is strictly smaller than the block.
                _compressor ??= new ChunkedCompressor(_mount.CompressionLevel, _mount.CompressionParallelism);
                if (!_compressor.TrySkip())
                {
                    rented = ArrayPool<byte>.Shared.Rent(_compressor.DestinationLengthFor(data.Length));
                    if (_compressor.TryCompress(data, rented, data.Length - 1, out var written) && written < data.Length)
                    {
                        payload = rented.AsMemory(0, written);
                        compressed = true;
                    }
                }
            }

            var encrypted = false;
            if (Encryption?.Encrypt is { } cipher)
            {
                // SSC-4 §4.2.21: the drive compresses, then encrypts (encrypted data does not compress).
                var envelope = ArrayPool<byte>.Shared.Rent(payload.Length + cipher.Overhead);
                cipher.Seal(payload.Span, data.Length, compressed, envelope.AsSpan(0, payload.Length + cipher.Overhead));
                payload = envelope.AsMemory(0, payload.Length + cipher.Overhead);
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }

                rented = envelope;
                encrypted = true;
            }

            var usedEnd = UsedBefore(_position) + TapeFormat.RecordHeaderSize + payload.Length;
            if (usedEnd > ActiveCapacity)
            {
                // SSC-4: a write that cannot complete before the end of the partition is refused whole.
                return TapeResult.Of(TapeCondition.VolumeOverflow);
            }

            await TruncateAtPositionAsync(ct).ConfigureAwait(false);
            var start = _end; // the append point once the position is the end of the partition
            var recordEnd = start + TapeFormat.RecordHeaderSize + payload.Length;
            TapeFormat.WriteRecordHeader(_writeHeader, RecordType.Data, compressed, payload.Length, data.Length, _position, TapeFormat.Crc(payload.Span), _active, encrypted);

            // Header and payload in one store operation: one system call (pwritev) and one thread-pool hop per record.
            _writeParts[0] = _writeHeader;
            _writeParts[1] = payload;
            try
            {
                await _store.WriteGatherAsync(start, _writeParts, ct).ConfigureAwait(false);
            }
            finally
            {
                _writeParts[1] = default; // the caller's buffer is not ours to keep
            }

            Appended(start, recordEnd, filemark: false);
            Statistics.OnWrite(data.Length, payload.Length, compressed);
            return WriteCompleted(usedEnd);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }

            Exit();
        }
    }

    private void Appended(long start, long recordEnd, bool filemark)
    {
        if (_partitions.Length > 1)
        {
            _index.Append(start, filemark, recordEnd - start);
            _log?.Append(filemark ? RecordType.Filemark : RecordType.Data, _active, (int)(recordEnd - start - TapeFormat.RecordHeaderSize), _hideNext, _position);
            NoteRun(_active, start, recordEnd);
        }
        else
        {
            _index.Append(start, filemark);
        }

        _end = recordEnd;
        _position++;
        _dirty = true;
        _changedSinceOpen = true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeResult> WriteFilemarksAsync(int count, bool immediate, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Enter();
        try
        {
            if (count == 0)
            {
                // SSC-4 WRITE FILEMARKS with count 0: only synchronise buffered objects to the medium.
                if (!immediate)
                {
                    await SyncAsync(ct).ConfigureAwait(false);
                }

                return TapeResult.Ok;
            }

            if (CheckWritable() is { } refused)
            {
                return TapeResult.Of(refused);
            }

            var fits = (int)Math.Min(count, Math.Max(0, ActiveCapacity - UsedBefore(_position)) / TapeFormat.RecordHeaderSize);
            if (fits > 0)
            {
                await TruncateAtPositionAsync(ct).ConfigureAwait(false);
                await WriteFilemarkRecordsAsync(_end, fits, ct).ConfigureAwait(false);
            }

            if (!immediate)
            {
                await SyncAsync(ct).ConfigureAwait(false);
            }

            if (fits < count)
            {
                return TapeResult.Of(TapeCondition.VolumeOverflow, count - fits);
            }

            return WriteCompleted(UsedBefore(_position));
        }
        finally
        {
            Exit();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteFilemarkRecordsAsync(long start, int count, CancellationToken ct)
    {
        const int Batch = 1024;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(count, Batch) * TapeFormat.RecordHeaderSize);
        try
        {
            var done = 0;
            while (done < count)
            {
                var n = Math.Min(count - done, Batch);
                for (var i = 0; i < n; i++)
                {
                    TapeFormat.WriteRecordHeader(buffer.AsSpan(i * TapeFormat.RecordHeaderSize, TapeFormat.RecordHeaderSize), RecordType.Filemark, false, 0, 0, _position + i, TapeFormat.Crc([]), _active);
                }

                var offset = start + ((long)done * TapeFormat.RecordHeaderSize);
                await _store.WriteAsync(offset, buffer.AsMemory(0, n * TapeFormat.RecordHeaderSize), ct).ConfigureAwait(false);
                for (var i = 0; i < n; i++)
                {
                    var recordStart = offset + ((long)i * TapeFormat.RecordHeaderSize);
                    Appended(recordStart, recordStart + TapeFormat.RecordHeaderSize, filemark: true);
                }

                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeResult> EraseAsync(CancellationToken ct = default)
    {
        Enter();
        try
        {
            if (CheckWritable(erase: true) is { } refused)
            {
                return TapeResult.Of(refused);
            }

            await TruncateAtPositionAsync(ct).ConfigureAwait(false);
            if (_hideNext)
            {
                // The erased records are not at the end of the stream and cannot be cut: a partition-end record
                // says so to the next mount.
                await AppendPartitionEndAsync(ct).ConfigureAwait(false);
            }

            _changedSinceOpen = true;

            // ERASE is a long operation on real tape; make its effect durable so a crash cannot bring data back.
            await SyncAsync(ct).ConfigureAwait(false);
            await _store.FlushAsync(ct).ConfigureAwait(false);
            return TapeResult.Ok;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// SET CAPACITY (SSC-4 §7.11): every object is lost and the capacity becomes <paramref name="capacityBytes"/>.
    /// Two durable steps, each atomic: first the erase (cut at BOP, mark lowered, fsync), then the attribute area with
    /// the new capacity (shadow slot, fsync). A crash between them leaves an empty tape at its old capacity: the
    /// command never completed, and no state exists where old data sits beyond a smaller capacity.
    /// </summary>
    public async ValueTask<TapeResult> SetCapacityAsync(long capacityBytes, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, Math.Min(TapeImageOptions.MinimumCapacityBytes, NativeCapacityBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacityBytes, NativeCapacityBytes);
        Enter();
        try
        {
            if (_writeProtected)
            {
                return TapeResult.Of(TapeCondition.WriteProtected);
            }

            // WORM: only a cartridge that was never written may be scaled (HP LTO-4 reference, SET CAPACITY); data,
            // even a damaged tail, would be lost. The rule FORMAT MEDIUM and ERASE follow.
            if (_superblock.Worm && (_index.Count > 0 || _damagedTail))
            {
                return TapeResult.Of(TapeCondition.WormOverwrite);
            }

            // Nothing of the area may change if the entry does not fit (it always does: 14 bytes).
            var value = capacityBytes == NativeCapacityBytes ? null : new byte[8];
            if (value is not null && _attributes.EncodedLength + TapeFormat.AttributeEntryHeaderSize + value.Length > TapeFormat.MaxAttributeBytes)
            {
                return TapeResult.Of(TapeCondition.AttributeSpaceExhausted);
            }

            await CutEverythingAsync(ct).ConfigureAwait(false);

            // Full capacity removes the entry, so the tape is again exactly what it was before any SET CAPACITY.
            if (value is not null)
            {
                BinaryPrimitives.WriteInt64LittleEndian(value, capacityBytes);
            }

            _attributes.SetEntry(TapeFormat.ScaledCapacityKey, value);

            // A partitioned medium becomes one partition again in the same atomic update (the layout may not fit the
            // new capacity); the other partitions' MAM goes with them.
            var wasPartitioned = _partitions.Length > 1;
            if (wasPartitioned)
            {
                _attributes.SetEntry(TapeFormat.PartitionLayoutKey, null);
                _attributes.RemoveMamFrom(1);
            }

            await PersistAttributesAsync(ct).ConfigureAwait(false);
            ApplyCapacity(capacityBytes);
            if (wasPartitioned)
            {
                ApplyLayout(null);
            }
            return TapeResult.Ok;
        }
        finally
        {
            Exit();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FlushAsync(CancellationToken ct = default)
    {
        Enter();
        try
        {
            await SyncAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            Exit();
        }
    }

    public void SetWriteProtected(bool writeProtected) => _writeProtected = writeProtected || _mount.ReadOnly;

    // ---- Read -----------------------------------------------------------------------------------------------------

    public ValueTask<TapeResult> ReadBlockAsync(Memory<byte> destination, CancellationToken ct = default) =>
        ReadBlockAsync(destination, null, ct);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeResult> ReadBlockAsync(Memory<byte> destination, IDataBufferAdopter? owner, CancellationToken ct = default)
    {
        var result = await ReadBlockCoreAsync(destination, owner, ct).ConfigureAwait(false);

        // After Exit, so the work item does not find the verb still running; the drive issues nothing in between.
        if (result.Condition is TapeCondition.Ok or TapeCondition.IncorrectLength)
        {
            ScheduleReadAhead();
        }

        return result;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TapeResult> ReadBlockCoreAsync(Memory<byte> destination, IDataBufferAdopter? owner, CancellationToken ct)
    {
        Enter(keepReadAhead: true);
        try
        {
            if (_position >= _index.Count)
            {
                // SSC-4 READ at EOD: BLANK CHECK, position unchanged. A damaged tail is not blank: report it.
                return TapeResult.Of(_damagedTail ? TapeCondition.MediumError : TapeCondition.EndOfData);
            }

            if (_index.IsFilemark(_position))
            {
                // SSC-4 READ: a filemark ends the read and the position moves past it (EOP side).
                _position++;
                return TapeResult.Of(TapeCondition.FilemarkDetected);
            }

            var offset = _index.OffsetOf(_position);
            var lon = _position;
            _position++; // an unreadable block is passed over, so the application can go on with the next one
            return TryTakeReadAhead(lon, out var header, out var ahead)
                ? DeliverReadAhead(header, ahead, destination, owner)
                : await ReadDataRecordAsync(offset, lon, destination, ct).ConfigureAwait(false);
        }
        finally
        {
            Exit();
        }
    }

    /// <inheritdoc/>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeObjectInfo> DescribeNextObjectAsync(CancellationToken ct = default)
    {
        Enter(keepReadAhead: true);
        byte[]? record = null;
        byte[]? plain = null;
        try
        {
            var lon = _position;
            if (lon >= _index.Count)
            {
                return new TapeObjectInfo(TapeObjectKind.EndOfData, lon);
            }

            if (_index.IsFilemark(lon))
            {
                return new TapeObjectInfo(TapeObjectKind.Filemark, lon);
            }

            var stored = StoredSizeOf(lon);
            if (stored <= 0 || stored > TapeFormat.MaxBlockLength + TapeFormat.MaxEncryptedOverhead)
            {
                return new TapeObjectInfo(TapeObjectKind.Unreadable, lon);
            }

            var length = TapeFormat.RecordHeaderSize + (int)stored;
            record = ArrayPool<byte>.Shared.Rent(length);
            var n = await _store.ReadAsync(_index.OffsetOf(lon), record.AsMemory(0, length), ct).ConfigureAwait(false);
            if (n != length
                || !TapeFormat.TryReadRecordHeader(record.AsSpan(0, TapeFormat.RecordHeaderSize), _active, lon, out var header)
                || header.Type != RecordType.Data || header.StoredLength != stored
                || TapeFormat.Crc(record.AsSpan(TapeFormat.RecordHeaderSize, (int)stored)) != header.PayloadCrc)
            {
                return new TapeObjectInfo(TapeObjectKind.Unreadable, lon);
            }

            if (!header.Encrypted)
            {
                return new TapeObjectInfo(TapeObjectKind.Block, lon, header.Compressed);
            }

            var payload = record.AsSpan(TapeFormat.RecordHeaderSize, (int)stored);
            if (!TapeCipher.Envelope.TryParse(payload, out var envelope))
            {
                return new TapeObjectInfo(TapeObjectKind.Unreadable, lon);
            }

            bool? opens = null;
            if (Encryption?.Decrypt is { } cipher)
            {
                plain = ArrayPool<byte>.Shared.Rent(envelope.CipherTextLength);
                opens = cipher.TryOpen(payload, header.LogicalLength, header.Compressed, plain.AsSpan(0, envelope.CipherTextLength));
                CryptographicOperations.ZeroMemory(plain.AsSpan(0, envelope.CipherTextLength));
            }

            return new TapeObjectInfo(TapeObjectKind.Block, lon, header.Compressed, true,
                envelope.UnauthenticatedKad(payload).ToArray(), envelope.AuthenticatedKad(payload).ToArray(), opens);
        }
        finally
        {
            if (record is not null)
            {
                ArrayPool<byte>.Shared.Return(record);
            }

            if (plain is not null)
            {
                ArrayPool<byte>.Shared.Return(plain);
            }

            Exit();
        }
    }

    // ---- Read-ahead ---------------------------------------------------------------------------------------------

    /// <summary>
    /// After a READ, the next data record is read and verified in the background (by the connection's thread once it has
    /// sent the data and waits for the next command, else a thread-pool work item) while the host is busy with this one — as a real drive's read-ahead buffer does. Only from what the store has at hand
    /// (<see cref="ITapeStore.TryReadCached"/>: page cache, no disk wait), so the next verb never waits long for it.
    /// Invisible to tape semantics: the position moves only when a READ takes the record, the CRC is checked before
    /// it is kept, and every other verb drops it.
    /// </summary>
    private void ScheduleReadAhead()
    {
        var next = _position;
        if (next >= _index.Count || _index.IsFilemark(next))
        {
            return;
        }

        lock (_aheadLock)
        {
            _aheadTarget = next;
            _aheadScheduledVersion = _aheadVersion;
            if (_aheadQueued)
            {
                return; // the queued work item reads the new target
            }

            _aheadQueued = true;
        }

        IdleWork.Queue(_aheadWork ??= new ReadAheadWork(this));
    }

    private void RunReadAhead()
    {
        lock (_aheadLock)
        {
            _aheadQueued = false;
            var lon = _aheadTarget;

            // A verb has started since this was scheduled (it owns the index now), or the record is in hand already.
            if (Volatile.Read(ref _busy) != 0 || _closed || lon < 0 || lon == _aheadLon || _aheadScheduledVersion != _aheadVersion)
            {
                return;
            }

            var offset = _index.OffsetOf(lon);
            var stored = StoredSizeOf(lon);
            if (stored <= 0 || stored > TapeFormat.MaxBlockLength)
            {
                return;
            }

            DropReadAheadLocked();
            if (_aheadBuffer is null || _aheadBuffer.Length < stored)
            {
                if (_aheadBuffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(_aheadBuffer);
                }

                _aheadBuffer = ArrayPool<byte>.Shared.Rent((int)stored);
            }

            var buffer = _aheadBuffer;
            _aheadParts[0] = _aheadHeaderBytes;
            _aheadParts[1] = buffer.AsMemory(0, (int)stored);
            bool cached;
            int n;
            try
            {
                cached = _store.TryReadCached(offset, _aheadParts, out n);
            }
            catch (IOException)
            {
                cached = false; // the READ itself will meet the error and report it
                n = 0;
            }
            finally
            {
                _aheadParts[1] = default;
            }

            if (cached && n == TapeFormat.RecordHeaderSize + stored
                && TapeFormat.TryReadRecordHeader(_aheadHeaderBytes, _active, lon, out var header)
                && header.Type == RecordType.Data && header.StoredLength == stored
                && TapeFormat.Crc(buffer.AsSpan(0, (int)stored)) == header.PayloadCrc)
            {
                _aheadRecord = header;
                _aheadLon = lon;
                if (header.Encrypted || header.Compressed)
                {
                    DecodeAheadLocked(header, buffer.AsSpan(0, (int)stored));
                }
            }
        }
    }

    /// <summary>
    /// Decodes the record the read-ahead holds (decrypts and/or expands it), so that a streaming READ of compressed or
    /// encrypted data waits for zstd and the cipher as little as one of plain data waits for the CRC: at one command
    /// at a time the host is busy with the previous block meanwhile. Any failure, and any block the READ must refuse
    /// (encrypted without a key, plain in DECRYPT mode), just leaves it to the READ, which reports it.
    /// </summary>
    private void DecodeAheadLocked(RecordHeader header, ReadOnlySpan<byte> payload)
    {
        var key = Encryption?.Decrypt;
        if (header.Encrypted ? key is null : Encryption is { RequireEncrypted: true })
        {
            return;
        }

        var logical = header.LogicalLength;
        if (_aheadPlain is null || _aheadPlain.Length < logical)
        {
            if (_aheadPlain is not null)
            {
                CryptographicOperations.ZeroMemory(_aheadPlain);
                ArrayPool<byte>.Shared.Return(_aheadPlain);
            }

            _aheadPlain = ArrayPool<byte>.Shared.Rent(logical);
        }

        try
        {
            // The READ path's decoder, not a second one: a verb entering waits for this (see RunReadAhead).
            _aheadDecoded = Decode(header, payload, key, _aheadPlain.AsSpan(0, logical)) == TapeCondition.Ok;
            _aheadPlainKey = _aheadDecoded && header.Encrypted ? key : null;
        }
        catch (ObjectDisposedException)
        {
            // The drive replaced its key (SECURITY PROTOCOL OUT) meanwhile: the READ decrypts with the new one.
            _aheadDecoded = false;
        }
    }

    private bool TryTakeReadAhead(long lon, out RecordHeader header, out byte[] buffer)
    {
        lock (_aheadLock)
        {
            if (_aheadLon == lon && _aheadBuffer is { } b)
            {
                // The buffer stays the image's: no read-ahead runs before this READ has copied out of it.
                header = _aheadRecord;
                buffer = b;
                _aheadLon = -1;
                return true;
            }

            DropReadAheadLocked();
        }

        header = default;
        buffer = null!;
        return false;
    }

    private void DropReadAheadLocked()
    {
        _aheadLon = -1;
        _aheadDecoded = false;
        _aheadPlainKey = null;
    }

    /// <summary>The logical object whose verified payload the read-ahead holds, or -1 (for tests, which wait on it).</summary>
    internal long ReadAheadObject
    {
        get
        {
            lock (_aheadLock)
            {
                return _aheadLon;
            }
        }
    }

    private TapeResult DeliverReadAhead(RecordHeader header, byte[] stored, Memory<byte> destination, IDataBufferAdopter? owner)
    {
        var decoded = _aheadDecoded;
        var plainKey = _aheadPlainKey;
        _aheadDecoded = false; // no read-ahead runs while this verb is in progress, so nothing else touches these
        _aheadPlainKey = null;
        var usable = header.Encrypted
            ? plainKey is not null && ReferenceEquals(plainKey, Encryption?.Decrypt)
            : Encryption is not { RequireEncrypted: true };
        if (decoded && usable && _aheadPlain is { } plain)
        {
            var logical = header.LogicalLength;
            if (owner is not null && logical == destination.Length)
            {
                lock (_aheadLock)
                {
                    _aheadPlain = owner.Adopt(plain, logical);
                }
            }
            else
            {
                var transfer = Math.Min(logical, destination.Length);
                plain.AsSpan(0, transfer).CopyTo(destination.Span);
            }

            Statistics.OnRead(logical, header.StoredLength);
            return Completed(logical, Math.Min(logical, destination.Length), destination.Length) with { Encrypted = header.Encrypted };
        }

        if (owner is null || header.Compressed || header.Encrypted || header.LogicalLength != destination.Length || Encryption is { RequireEncrypted: true })
        {
            return Deliver(header, stored.AsSpan(0, header.StoredLength), destination);
        }

        // The streaming case: the verified record is exactly what the host asked for, so the buffer itself becomes the
        // Data-In and the destination's buffer becomes the next read-ahead's (a swap: neither side allocates). No
        // read-ahead runs while this verb is in progress (RunReadAhead checks _busy), so nothing reads the old one.
        lock (_aheadLock)
        {
            _aheadBuffer = owner.Adopt(stored, header.LogicalLength);
        }

        Statistics.OnRead(header.LogicalLength, header.StoredLength);
        return Completed(header.LogicalLength, header.LogicalLength, destination.Length);
    }

    /// <summary>
    /// Hands a record whose stored bytes have passed their CRC to the caller: as is, or decoded (decrypted, expanded),
    /// truncated to the caller's buffer when the record is longer (SSC-4 incorrect length: the rest of the record is
    /// skipped).
    /// </summary>
    private TapeResult Deliver(RecordHeader header, ReadOnlySpan<byte> source, Memory<byte> destination)
    {
        // SSC-4 §4.2.21: in DECRYPT mode a plain block is refused; an encrypted block is returned only decrypted, and
        // without a key, or with one that does not open it, the drive reports it and moves on.
        var cipher = Encryption?.Decrypt;
        if (header.Encrypted ? cipher is null : Encryption is { RequireEncrypted: true })
        {
            return TapeResult.Of(header.Encrypted ? TapeCondition.EncryptedBlock : TapeCondition.UnencryptedBlock);
        }

        var logical = header.LogicalLength;
        var transfer = Math.Min(logical, destination.Length);
        if (!header.Compressed && !header.Encrypted)
        {
            source[..transfer].CopyTo(destination.Span);
            Statistics.OnRead(logical, header.StoredLength);
            return Completed(logical, transfer, destination.Length);
        }

        // Decoded straight into the caller's buffer when the whole block fits (cleared again if the key fails).
        var whole = logical <= destination.Length ? null : ArrayPool<byte>.Shared.Rent(logical);
        try
        {
            var target = whole is null ? destination.Span[..logical] : whole.AsSpan(0, logical);
            if (Decode(header, source, cipher, target) is not TapeCondition.Ok and var failed)
            {
                return TapeResult.Of(failed);
            }

            if (whole is not null)
            {
                target[..transfer].CopyTo(destination.Span);
            }

            Statistics.OnRead(logical, header.StoredLength);
            return Completed(logical, transfer, destination.Length) with { Encrypted = header.Encrypted };
        }
        finally
        {
            if (whole is not null)
            {
                CryptographicOperations.ZeroMemory(whole.AsSpan(0, logical));
                ArrayPool<byte>.Shared.Return(whole);
            }
        }
    }

    /// <summary>
    /// Decodes a CRC-clean payload into exactly its logical block (<paramref name="logical"/>): decrypted with
    /// <paramref name="key"/> if encrypted (SSC-4 §4.2.21: compressed first, then encrypted), expanded if compressed.
    /// DecryptionFailed when the key does not open it; MediumError when what the payload holds disagrees with its
    /// header (a writer bug or a forged image).
    /// </summary>
    private TapeCondition Decode(RecordHeader header, ReadOnlySpan<byte> payload, TapeCipher? key, Span<byte> logical)
    {
        _decompressor ??= new Decompressor();
        if (!header.Encrypted)
        {
            return TryDecompress(_decompressor, payload, logical, logical.Length) ? TapeCondition.Ok : TapeCondition.MediumError;
        }

        if (!TapeCipher.Envelope.TryParse(payload, out var envelope) || (!header.Compressed && envelope.CipherTextLength != logical.Length))
        {
            return TapeCondition.MediumError;
        }

        if (!header.Compressed)
        {
            return key!.TryOpen(payload, logical.Length, compressed: false, logical) ? TapeCondition.Ok : TapeCondition.DecryptionFailed;
        }

        var stored = ArrayPool<byte>.Shared.Rent(envelope.CipherTextLength);
        try
        {
            var compressed = stored.AsSpan(0, envelope.CipherTextLength);
            if (!key!.TryOpen(payload, logical.Length, compressed: true, compressed))
            {
                return TapeCondition.DecryptionFailed;
            }

            return TryDecompress(_decompressor, compressed, logical, logical.Length) ? TapeCondition.Ok : TapeCondition.MediumError;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(stored.AsSpan(0, envelope.CipherTextLength));
            ArrayPool<byte>.Shared.Return(stored);
        }
    }

    /// <summary>The image's one read-ahead work item, reused: queuing it allocates nothing.</summary>
    private sealed class ReadAheadWork(TapeImage image) : IThreadPoolWorkItem
    {
        public void Execute() => image.RunReadAhead();
    }

    /// <summary>
    /// Reads the data record at <paramref name="offset"/>. The index knows where the next record starts, hence this
    /// record's stored length: when it fits the caller's buffer, header and payload come in one store operation,
    /// the payload straight into the buffer (one system call, and no hop at all when the store serves it from cache).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TapeResult> ReadDataRecordAsync(long offset, long lon, Memory<byte> destination, CancellationToken ct)
    {
        var stored = StoredSizeOf(lon);
        int n;
        var payloadRead = 0;
        byte[]? whole = null; // the payload when it does not fit the caller's buffer (an encrypted block, a short READ)
        try
        {
            if (stored > 0 && stored <= destination.Length)
            {
                _readParts[0] = _readHeader;
                _readParts[1] = destination[..(int)stored];
                try
                {
                    n = await _store.ReadScatterAsync(offset, _readParts, ct).ConfigureAwait(false);
                }
                finally
                {
                    _readParts[1] = default;
                }

                payloadRead = Math.Max(0, n - TapeFormat.RecordHeaderSize);
            }
            else if (stored > 0 && stored <= TapeFormat.MaxBlockLength + TapeFormat.MaxEncryptedOverhead)
            {
                // Header and payload in one store operation here too, into a buffer of ours.
                whole = ArrayPool<byte>.Shared.Rent((int)stored);
                _readParts[0] = _readHeader;
                _readParts[1] = whole.AsMemory(0, (int)stored);
                try
                {
                    n = await _store.ReadScatterAsync(offset, _readParts, ct).ConfigureAwait(false);
                }
                finally
                {
                    _readParts[1] = default;
                }

                payloadRead = Math.Max(0, n - TapeFormat.RecordHeaderSize);
            }
            else
            {
                n = await _store.ReadAsync(offset, _readHeader, ct).ConfigureAwait(false);
            }

            if (n < TapeFormat.RecordHeaderSize || !TapeFormat.TryReadRecordHeader(_readHeader, _active, lon, out var header) || header.Type != RecordType.Data)
            {
                return TapeResult.Of(TapeCondition.MediumError);
            }

            // The payload is in hand already (the caller's buffer or ours) unless the header disagrees with the index (then
            // it is read again below, by the header's length, and the CRC decides).
            var inHand = payloadRead == header.StoredLength && stored == header.StoredLength;
            if (whole is not null && inHand)
            {
                if (TapeFormat.Crc(whole.AsSpan(0, header.StoredLength)) != header.PayloadCrc)
                {
                    return TapeResult.Of(TapeCondition.MediumError);
                }

                return Deliver(header, whole.AsSpan(0, header.StoredLength), destination);
            }

            var inDestination = inHand && whole is null;
            var payloadOffset = offset + TapeFormat.RecordHeaderSize;
            var logical = header.LogicalLength;
            var transfer = Math.Min(logical, destination.Length);

            if (!header.Compressed && !header.Encrypted && header.StoredLength <= destination.Length)
            {
                // Common case: straight into the caller's buffer, verify there.
                var target = destination[..header.StoredLength];
                if (!inDestination)
                {
                    n = await _store.ReadAsync(payloadOffset, target, ct).ConfigureAwait(false);
                    if (n != header.StoredLength)
                    {
                        return TapeResult.Of(TapeCondition.MediumError);
                    }
                }

                if (TapeFormat.Crc(target.Span) != header.PayloadCrc)
                {
                    return TapeResult.Of(TapeCondition.MediumError);
                }

                if (Encryption is { RequireEncrypted: true })
                {
                    return TapeResult.Of(TapeCondition.UnencryptedBlock);
                }

                Statistics.OnRead(logical, header.StoredLength);
                return Completed(logical, transfer, destination.Length);
            }

            var storedBytes = ArrayPool<byte>.Shared.Rent(header.StoredLength);
            try
            {
                if (inDestination)
                {
                    // A compressed payload was read into the caller's buffer, where it would overlap its own expansion.
                    destination.Span[..header.StoredLength].CopyTo(storedBytes);
                }
                else
                {
                    n = await _store.ReadAsync(payloadOffset, storedBytes.AsMemory(0, header.StoredLength), ct).ConfigureAwait(false);
                    if (n != header.StoredLength)
                    {
                        return TapeResult.Of(TapeCondition.MediumError);
                    }
                }

                if (TapeFormat.Crc(storedBytes.AsSpan(0, header.StoredLength)) != header.PayloadCrc)
                {
                    return TapeResult.Of(TapeCondition.MediumError);
                }

                return Deliver(header, storedBytes.AsSpan(0, header.StoredLength), destination);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(storedBytes);
            }
        }
        finally
        {
            if (whole is not null)
            {
                ArrayPool<byte>.Shared.Return(whole);
            }
        }
    }

    private static bool TryDecompress(Decompressor decompressor, ReadOnlySpan<byte> source, Span<byte> target, int expected)
    {
        try
        {
            return decompressor.TryUnwrap(source, target, out var written) && written == expected;
        }
        catch (ZstdException)
        {
            // The CRC matched, so this is a writer bug or a forged image; either way the data is not trustworthy.
            return false;
        }
    }

    private static TapeResult Completed(int blockLength, int transferred, int requested) =>
        blockLength == requested
            ? new TapeResult(TapeCondition.Ok, 0, blockLength, transferred)
            : new TapeResult(TapeCondition.IncorrectLength, 0, blockLength, transferred);

    // ---- Positioning ----------------------------------------------------------------------------------------------

    /// <summary>
    /// SSC-4 requires buffered objects to reach the medium before the position changes; we also make them durable so
    /// a LOCATE away from freshly written data can never leave it in limbo.
    /// </summary>
    private ValueTask BeforeMoveAsync(CancellationToken ct) => _dirty ? SyncAsync(ct) : ValueTask.CompletedTask;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeResult> SpaceBlocksAsync(long count, CancellationToken ct = default)
    {
        Enter();
        try
        {
            await BeforeMoveAsync(ct).ConfigureAwait(false);
            return count >= 0 ? SpaceBlocksForward(count) : SpaceBlocksReverse(-count);
        }
        finally
        {
            Exit();
        }
    }

    private TapeResult SpaceBlocksForward(long count)
    {
        if (count == 0)
        {
            return TapeResult.Ok; // SSC-4 SPACE: a zero count is not an error and causes no movement
        }

        var start = _position;
        var target = start + count;
        var k = _index.FilemarksBefore(start);
        if (k < _index.FilemarkCount && _index.FilemarkAt(k) < target)
        {
            // A filemark before the target stops the space on its EOP side; it is not counted as a block.
            var mark = _index.FilemarkAt(k);
            _position = mark + 1;
            return TapeResult.Of(TapeCondition.FilemarkDetected, count - (mark - start));
        }

        if (target > _index.Count)
        {
            _position = _index.Count;
            return TapeResult.Of(TapeCondition.EndOfData, count - (_index.Count - start));
        }

        _position = target;
        return TapeResult.Ok;
    }

    private TapeResult SpaceBlocksReverse(long count)
    {
        var start = _position;
        var target = start - count;
        var k = _index.FilemarksBefore(start);
        if (k > 0 && _index.FilemarkAt(k - 1) >= target)
        {
            // Reverse: stop on the BOP side of the filemark (SSC-4 SPACE), blocks crossed = those after it.
            var mark = _index.FilemarkAt(k - 1);
            _position = mark;
            return TapeResult.Of(TapeCondition.FilemarkDetected, count - (start - mark - 1));
        }

        if (target < 0)
        {
            _position = 0;
            return TapeResult.Of(TapeCondition.BeginningOfMedium, count - start);
        }

        _position = target;
        return TapeResult.Ok;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeResult> SpaceFilemarksAsync(long count, CancellationToken ct = default)
    {
        Enter();
        try
        {
            await BeforeMoveAsync(ct).ConfigureAwait(false);
            if (count == 0)
            {
                return TapeResult.Ok;
            }

            var k = _index.FilemarksBefore(_position); // filemarks behind us; index k is the next one ahead
            if (count > 0)
            {
                var available = _index.FilemarkCount - k;
                if (count <= available)
                {
                    _position = _index.FilemarkAt((int)(k + count - 1)) + 1; // EOP side of the last one crossed
                    return TapeResult.Ok;
                }

                _position = _index.Count;
                return TapeResult.Of(TapeCondition.EndOfData, count - available);
            }

            var wanted = -count;
            if (wanted <= k)
            {
                _position = _index.FilemarkAt((int)(k - wanted)); // BOP side of the last one crossed
                return TapeResult.Ok;
            }

            _position = 0;
            return TapeResult.Of(TapeCondition.BeginningOfMedium, wanted - k);
        }
        finally
        {
            Exit();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeResult> SpaceToEndOfDataAsync(CancellationToken ct = default)
    {
        Enter();
        try
        {
            await BeforeMoveAsync(ct).ConfigureAwait(false);
            _position = _index.Count;
            return TapeResult.Ok;
        }
        finally
        {
            Exit();
        }
    }

    public ValueTask<TapeResult> LocateAsync(long logicalObjectNumber, CancellationToken ct = default) =>
        LocateCoreAsync(-1, logicalObjectNumber, ct);

    /// <param name="partition">Partition to make active first, or -1 to stay in the active one.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TapeResult> LocateCoreAsync(int partition, long logicalObjectNumber, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(logicalObjectNumber);
        Enter();
        try
        {
            await BeforeMoveAsync(ct).ConfigureAwait(false);
            if (partition >= 0)
            {
                SwitchTo(partition);
            }

            // EOD itself is a valid destination (that is where an append goes); beyond it SSC-4 LOCATE reports
            // end-of-data detected with the position left at EOD.
            if (logicalObjectNumber > _index.Count)
            {
                _position = _index.Count;
                return TapeResult.Of(TapeCondition.EndOfData);
            }

            _position = logicalObjectNumber;
            return TapeResult.Ok;
        }
        finally
        {
            Exit();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TapeResult> RewindAsync(CancellationToken ct = default)
    {
        Enter();
        try
        {
            await SyncAsync(ct).ConfigureAwait(false);

            // BOP of the active partition, as SSC drives describe REWIND ("the beginning of the currently active
            // partition") and as Linux st assumes: st keeps its partition number across MTREW and only LOCATEs with
            // CHANGE PARTITION when the partition it wants differs from the one it believes is active. A move to
            // partition 0 here would leave st reading partition 0's data while it reports partition 1. LOAD and a
            // mount position at BOP of partition 0 (the drive does that with LocateAsync(0, 0)).
            _position = 0;
            return TapeResult.Ok;
        }
        finally
        {
            Exit();
        }
    }

    public TapePosition ReadPosition()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        var position = _position;
        var file = _index.FilemarksBefore(position);
        var fileStart = file == 0 ? 0 : _index.FilemarkAt(file - 1) + 1;
        return new TapePosition(
            Partition: _active,
            LogicalObjectNumber: position,
            FileNumber: file,
            BlockNumberInFile: position - fileStart,
            AtBeginningOfPartition: position == 0,
            BeyondEarlyWarning: UsedBefore(position) > EarlyWarningStart,
            BeyondProgrammableEarlyWarning: _pewBytes > 0 && UsedBefore(position) > ProgrammableEarlyWarningStart,
            EndOfDataObjectNumber: _index.Count,
            BytesUsed: UsedBytes,
            CapacityBytes: ActiveCapacity,
            EarlyWarningBytes: ActiveEarlyWarning);
    }

    // ---- Attributes -----------------------------------------------------------------------------------------------

    public bool TryGetAttribute(ushort id, out ReadOnlyMemory<byte> value)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        return _attributes.TryGet(id, out value);
    }

    public IReadOnlyList<ushort> GetAttributeIds()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        return _attributes.Ids();
    }

    public ValueTask<TapeResult> WriteAttributesAsync(IReadOnlyList<TapeAttribute> attributes, CancellationToken ct = default) =>
        WriteAttributesAsync(0, attributes, ct);

    public async ValueTask<long> IncrementLoadCountAsync(CancellationToken ct = default)
    {
        Enter();
        try
        {
            long count = 0;
            if (_attributes.TryGet(MamAttributeId.LoadCount, out var current) && current.Length == 8)
            {
                count = BinaryPrimitives.ReadInt64BigEndian(current.Span);
            }

            count++;
            if (_mount.ReadOnly)
            {
                return count; // nothing may touch a read-only image; the count is reported, not stored
            }

            var value = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(value, count);
            await StoreAttributesAsync([new TapeAttribute(MamAttributeId.LoadCount, value)], ct).ConfigureAwait(false);
            return count;
        }
        finally
        {
            Exit();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TapeResult> StoreAttributesAsync(IReadOnlyList<TapeAttribute> attributes, CancellationToken ct)
    {
        if (_attributes.EncodedLengthAfter(attributes) > TapeFormat.MaxAttributeBytes)
        {
            return TapeResult.Of(TapeCondition.AttributeSpaceExhausted);
        }

        _attributes.Apply(attributes);
        await PersistAttributesAsync(ct).ConfigureAwait(false);
        return TapeResult.Ok;
    }

    /// <summary>
    /// Writes the whole in-memory attribute area (MAM and internal entries) into the older slot and fsyncs: the other
    /// slot keeps the previous version until the fsync completes, so the update is all or nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PersistAttributesAsync(CancellationToken ct)
    {
        var sequence = _attributes.Sequence + 1;
        var slot = ArrayPool<byte>.Shared.Rent(TapeFormat.AttributeSlotSize);
        try
        {
            var length = _attributes.Encode(slot, sequence);
            var offset = TapeFormat.AttributeSlotOffset + ((long)(sequence % 2) * TapeFormat.AttributeSlotSize);
            await _store.WriteAsync(offset, slot.AsMemory(0, length), ct).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(slot);
        }

        // The other slot still holds the previous version until this fsync completes: all or nothing.
        await _store.FlushAsync(ct).ConfigureAwait(false);
        _dirty = false;
        _attributes.Sequence = sequence;
        if (_markEnd < _end)
        {
            await WriteMarkAsync(_end, ct).ConfigureAwait(false);
        }
    }

    // ---- Unload ---------------------------------------------------------------------------------------------------

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask UnloadAsync(CancellationToken ct = default)
    {
        if (_closed)
        {
            return;
        }

        Enter();
        try
        {
            // The lifetime counters go to the attribute area first, as a drive writes its cartridge memory at unload.
            if (!_mount.ReadOnly && !_damagedTail && Statistics.ChangedThisMount)
            {
                await StoreLifetimeStatisticsAsync(ct).ConfigureAwait(false);
            }

            // A tape sealed by an older version (or whose checkpoint was refused) gets one now, if it may be written.
            var addCheckpoint = _sealed && _checkpointMissing && !_writeProtected;
            if (!_mount.ReadOnly && !_damagedTail && (_changedSinceOpen || (!_sealed && !_writeProtected) || addCheckpoint))
            {
                if (!_sealed)
                {
                    // The EOD seal: an explicit end-of-data record so the next mount knows the tape left cleanly.
                    TapeFormat.WriteRecordHeader(_writeHeader, RecordType.EndOfData, false, 0, 0, _partitions[0].Count, TapeFormat.Crc([]));
                    await _store.WriteAsync(_end, _writeHeader, ct).ConfigureAwait(false);
                    _sealed = true;

                    addCheckpoint = true;
                }

                if (addCheckpoint)
                {
                    // Behind the seal, so the next mount need not read every record header (docs/media-format.md). A
                    // checkpoint torn by a crash, or refused at mount, goes first: only the seal stays.
                    if (_store.Length != _end + TapeFormat.RecordHeaderSize)
                    {
                        await _store.SetLengthAsync(_end + TapeFormat.RecordHeaderSize, ct).ConfigureAwait(false);
                    }

                    await WriteCheckpointAsync(ct).ConfigureAwait(false);
                }

                await _store.FlushAsync(ct).ConfigureAwait(false);
                _dirty = false;
                await WriteMarkAsync(_end + TapeFormat.RecordHeaderSize, ct).ConfigureAwait(false);
                await _store.FlushAsync(ct).ConfigureAwait(false);
            }
            else if (_dirty)
            {
                await SyncAsync(ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _closed = true;
            _compressor?.Dispose();
            _decompressor?.Dispose();
            lock (_aheadLock)
            {
                if (_aheadBuffer is { } ahead)
                {
                    _aheadBuffer = null;
                    ArrayPool<byte>.Shared.Return(ahead);
                }

                if (_aheadPlain is { } plainAhead)
                {
                    _aheadPlain = null;
                    _aheadDecoded = false;
                    _aheadPlainKey = null;
                    CryptographicOperations.ZeroMemory(plainAhead);
                    ArrayPool<byte>.Shared.Return(plainAhead);
                }
            }

            Exit();
            await _store.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask StoreLifetimeStatisticsAsync(CancellationToken ct)
    {
        var entry = Statistics.EncodeLifetime();
        var had = _attributes.TryGetEntry(TapeFormat.LifetimeStatisticsKey, out var previous);
        _attributes.SetEntry(TapeFormat.LifetimeStatisticsKey, entry);
        if (_attributes.EncodedLength > TapeFormat.MaxAttributeBytes)
        {
            // The host's attributes filled the area: the counters are dropped rather than any attribute.
            _attributes.SetEntry(TapeFormat.LifetimeStatisticsKey, had ? previous : null);
            return;
        }

        await PersistAttributesAsync(ct).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => UnloadAsync(CancellationToken.None);
}

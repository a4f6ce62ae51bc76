namespace TapeGateway.Media.Tape;

/// <summary>
/// Counters for LOG SENSE pages (data compression, volume statistics) and MAM: this mount's, kept in memory, and the
/// volume's lifetime totals, which are this mount's plus what earlier mounts left in the image
/// (<see cref="TapeFormat.LifetimeStatisticsKey"/>, written when the tape is unloaded, as a drive updates the cartridge
/// memory at unload). Updated by the single verb in progress; read by anyone (values may be momentarily stale).
/// </summary>
public sealed class TapeStatistics
{
    private long _priorHostBytesWritten;
    private long _priorHostBytesRead;
    private long _priorBlocksWritten;
    private long _priorBlocksRead;

    private long _hostBytesWritten;
    private long _mediumBytesWritten;
    private long _blocksWritten;
    private long _compressedBlocksWritten;
    private long _hostBytesRead;
    private long _mediumBytesRead;
    private long _blocksRead;

    /// <summary>Uncompressed bytes received from the host.</summary>
    public long HostBytesWritten => Volatile.Read(ref _hostBytesWritten);

    /// <summary>Payload bytes stored for them (after compression).</summary>
    public long MediumBytesWritten => Volatile.Read(ref _mediumBytesWritten);

    public long BlocksWritten => Volatile.Read(ref _blocksWritten);

    public long CompressedBlocksWritten => Volatile.Read(ref _compressedBlocksWritten);

    public long HostBytesRead => Volatile.Read(ref _hostBytesRead);

    /// <summary>Payload bytes read from the medium for them (compressed, encrypted: as stored).</summary>
    public long MediumBytesRead => Volatile.Read(ref _mediumBytesRead);

    public long BlocksRead => Volatile.Read(ref _blocksRead);

    /// <summary>Uncompressed bytes the host has written to this volume over its life, this mount included.</summary>
    public long LifetimeHostBytesWritten => _priorHostBytesWritten + HostBytesWritten;

    public long LifetimeHostBytesRead => _priorHostBytesRead + HostBytesRead;

    public long LifetimeBlocksWritten => _priorBlocksWritten + BlocksWritten;

    public long LifetimeBlocksRead => _priorBlocksRead + BlocksRead;

    /// <summary>True once this mount has read or written a block (the lifetime totals then need storing).</summary>
    public bool ChangedThisMount => BlocksWritten != 0 || BlocksRead != 0;

    /// <summary>The stored totals of earlier mounts (4 × int64 little endian: bytes written, bytes read, blocks
    /// written, blocks read); false, and nothing taken, when the entry is malformed.</summary>
    internal bool TryLoadPrior(ReadOnlySpan<byte> entry)
    {
        if (entry.Length != LifetimeEntryLength)
        {
            return false;
        }

        var values = new long[4];
        for (var i = 0; i < 4; i++)
        {
            values[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(entry[(i * 8)..]);
            if (values[i] < 0)
            {
                return false;
            }
        }

        (_priorHostBytesWritten, _priorHostBytesRead, _priorBlocksWritten, _priorBlocksRead) = (values[0], values[1], values[2], values[3]);
        return true;
    }

    /// <summary>The lifetime totals as they are to be stored at unload.</summary>
    internal byte[] EncodeLifetime()
    {
        var entry = new byte[LifetimeEntryLength];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(entry, LifetimeHostBytesWritten);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(8), LifetimeHostBytesRead);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(16), LifetimeBlocksWritten);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(24), LifetimeBlocksRead);
        return entry;
    }

    internal const int LifetimeEntryLength = 32;

    internal void OnWrite(int hostBytes, int mediumBytes, bool compressed)
    {
        Volatile.Write(ref _hostBytesWritten, _hostBytesWritten + hostBytes);
        Volatile.Write(ref _mediumBytesWritten, _mediumBytesWritten + mediumBytes);
        Volatile.Write(ref _blocksWritten, _blocksWritten + 1);
        if (compressed)
        {
            Volatile.Write(ref _compressedBlocksWritten, _compressedBlocksWritten + 1);
        }
    }

    internal void OnRead(int hostBytes, int mediumBytes)
    {
        Volatile.Write(ref _hostBytesRead, _hostBytesRead + hostBytes);
        Volatile.Write(ref _mediumBytesRead, _mediumBytesRead + mediumBytes);
        Volatile.Write(ref _blocksRead, _blocksRead + 1);
    }
}

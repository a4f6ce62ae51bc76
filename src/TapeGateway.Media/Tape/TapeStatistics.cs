namespace TapeGateway.Media.Tape;

/// <summary>
/// Per-mount counters (not persisted) for LOG SENSE pages such as data compression and volume statistics.
/// Updated by the single verb in progress; read by anyone (values may be momentarily stale).
/// </summary>
public sealed class TapeStatistics
{
    private long _hostBytesWritten;
    private long _mediumBytesWritten;
    private long _blocksWritten;
    private long _compressedBlocksWritten;
    private long _hostBytesRead;
    private long _blocksRead;

    /// <summary>Uncompressed bytes received from the host.</summary>
    public long HostBytesWritten => Volatile.Read(ref _hostBytesWritten);

    /// <summary>Payload bytes stored for them (after compression).</summary>
    public long MediumBytesWritten => Volatile.Read(ref _mediumBytesWritten);

    public long BlocksWritten => Volatile.Read(ref _blocksWritten);

    public long CompressedBlocksWritten => Volatile.Read(ref _compressedBlocksWritten);

    public long HostBytesRead => Volatile.Read(ref _hostBytesRead);

    public long BlocksRead => Volatile.Read(ref _blocksRead);

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

    internal void OnRead(int hostBytes)
    {
        Volatile.Write(ref _hostBytesRead, _hostBytesRead + hostBytes);
        Volatile.Write(ref _blocksRead, _blocksRead + 1);
    }
}

using TapeGateway.Core.Scsi;

namespace TapeGateway.Scsi.Spc;

/// <summary>
/// The buffers READ BUFFER and WRITE BUFFER reach (SPC-4 READ BUFFER / WRITE BUFFER commands): one data buffer per
/// logical unit (buffer ID 0, modes 02h/03h) and one echo buffer per I_T nexus (modes 0Ah/0Bh). They are scratch
/// memory for testing the path between initiator and device: nothing written to them reaches a medium or survives a
/// restart of the gateway, and they never grow beyond <see cref="DataCapacity"/> and <see cref="EchoCapacity"/>.
/// </summary>
public sealed class DiagnosticBuffers
{
    /// <summary>BUFFER CAPACITY of the data buffer; fits the 3-byte field of the READ BUFFER descriptor.</summary>
    public const int DataCapacity = 64 * 1024;

    /// <summary>
    /// BUFFER CAPACITY of the echo buffer; SPC-4 limits the echo buffer descriptor's field to 13 bits (at most 8191),
    /// and initiators use the echo buffer for short transfer tests.
    /// </summary>
    public const int EchoCapacity = 4 * 1024;

    private readonly Lock _lock = new();
    private readonly Dictionary<long, byte[]> _echo = [];
    private byte[]? _data;

    /// <summary>Copies <paramref name="source"/> into the data buffer at <paramref name="offset"/> (already range-checked).</summary>
    public void WriteData(int offset, ReadOnlySpan<byte> source)
    {
        lock (_lock)
        {
            // Allocated on first write: most units never see a WRITE BUFFER, and unwritten bytes read back as zero.
            _data ??= new byte[DataCapacity];
            source.CopyTo(_data.AsSpan(offset));
        }
    }

    /// <summary>Copies the data buffer from <paramref name="offset"/> into <paramref name="destination"/> (zeros if never written).</summary>
    public void ReadData(int offset, Span<byte> destination)
    {
        lock (_lock)
        {
            if (_data is null)
            {
                destination.Clear();
            }
            else
            {
                _data.AsSpan(offset, destination.Length).CopyTo(destination);
            }
        }
    }

    /// <summary>Replaces the echo buffer of <paramref name="nexus"/> with <paramref name="source"/> (at most <see cref="EchoCapacity"/>).</summary>
    public void WriteEcho(ItNexus? nexus, ReadOnlySpan<byte> source)
    {
        lock (_lock)
        {
            _echo[Key(nexus)] = source.ToArray();
        }
    }

    /// <summary>The echo buffer of <paramref name="nexus"/>, or null when no WRITE BUFFER echo mode completed on it.</summary>
    public byte[]? ReadEcho(ItNexus? nexus)
    {
        lock (_lock)
        {
            return _echo.GetValueOrDefault(Key(nexus));
        }
    }

    /// <summary>An I_T nexus that is gone takes its echo buffer with it.</summary>
    public void Forget(ItNexus nexus)
    {
        lock (_lock)
        {
            _echo.Remove(nexus.Id);
        }
    }

    /// <summary>A hard reset empties every buffer, as a power cycle would.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _data = null;
            _echo.Clear();
        }
    }

    // Nexus ids start at 1; 0 stands for a task without a nexus (tests that drive a unit directly).
    private static long Key(ItNexus? nexus) => nexus?.Id ?? 0;
}

namespace TapeGateway.Media.Tape;

/// <summary>
/// <see cref="ITapeStore"/> in memory: for tests (crash images are just byte arrays) and as the smallest reference
/// implementation. Every operation completes synchronously; <see cref="FlushAsync"/> records the durable length.
/// </summary>
public sealed class MemoryTapeStore : ITapeStore
{
    private byte[] _bytes;
    private long _length;

    public MemoryTapeStore()
        : this([])
    {
    }

    /// <summary>Starts from a copy of an existing image, e.g. a simulated crash image.</summary>
    public MemoryTapeStore(ReadOnlySpan<byte> image)
    {
        _bytes = image.ToArray();
        _length = image.Length;
    }

    public long Length => _length;

    /// <summary>Number of <see cref="FlushAsync"/> calls: lets tests assert where durability points happen.</summary>
    public int FlushCount { get; private set; }

    /// <summary>A copy of the current bytes (what a crash right now would leave if every write had reached the disk).</summary>
    public byte[] ToArray() => _bytes.AsSpan(0, (int)_length).ToArray();

    public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (offset >= _length)
        {
            return ValueTask.FromResult(0);
        }

        var n = (int)Math.Min(destination.Length, _length - offset);
        _bytes.AsSpan((int)offset, n).CopyTo(destination.Span);
        return ValueTask.FromResult(n);
    }

    /// <summary>Everything is in memory: always at once (so tests exercise the image's read-ahead).</summary>
    public bool TryReadCached(long offset, IReadOnlyList<Memory<byte>> destinations, out int bytesRead)
    {
        bytesRead = 0;
        foreach (var destination in destinations)
        {
            if (offset + bytesRead >= _length)
            {
                break;
            }

            var n = (int)Math.Min(destination.Length, _length - (offset + bytesRead));
            _bytes.AsSpan((int)(offset + bytesRead), n).CopyTo(destination.Span);
            bytesRead += n;
            if (n < destination.Length)
            {
                break;
            }
        }

        return true;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var end = offset + source.Length;
        EnsureCapacity(end);
        source.Span.CopyTo(_bytes.AsSpan((int)offset));
        _length = Math.Max(_length, end);
        return ValueTask.CompletedTask;
    }

    public ValueTask SetLengthAsync(long length, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        EnsureCapacity(length);
        if (length > _length)
        {
            _bytes.AsSpan((int)_length, (int)(length - _length)).Clear();
        }

        _length = length;
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        FlushCount++;
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private void EnsureCapacity(long length)
    {
        if (length > int.MaxValue)
        {
            throw new IOException("MemoryTapeStore is limited to 2 GiB.");
        }

        if (length > _bytes.Length)
        {
            Array.Resize(ref _bytes, (int)Math.Max(length, Math.Min(int.MaxValue, (long)_bytes.Length * 2)));
        }
    }
}

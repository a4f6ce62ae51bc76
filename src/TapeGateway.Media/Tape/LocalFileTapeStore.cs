using Microsoft.Win32.SafeHandles;

namespace TapeGateway.Media.Tape;

/// <summary>
/// <see cref="ITapeStore"/> over one local file with positional I/O (<see cref="RandomAccess"/>): no FileStream
/// buffering, no shared file pointer, no per-call allocation beyond what the runtime pools per handle.
/// </summary>
public sealed class LocalFileTapeStore : ITapeStore
{
    private readonly SafeFileHandle _handle;
    private long _length;

    private LocalFileTapeStore(SafeFileHandle handle)
    {
        _handle = handle;
        _length = RandomAccess.GetLength(handle);
    }

    public string Path { get; private init; } = "";

    public long Length => _length;

    /// <summary>Creates a new, empty file; fails if it already exists so an existing tape is never clobbered.</summary>
    public static LocalFileTapeStore Create(string path) =>
        new(File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            Path = path,
        };

    /// <summary>
    /// Opens an existing file exclusively (on Unix .NET maps FileShare.None to an advisory exclusive lock), so two
    /// drives can never mount the same cartridge.
    /// </summary>
    public static LocalFileTapeStore Open(string path) =>
        new(File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            Path = path,
        };

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var n = await RandomAccess.ReadAsync(_handle, destination[total..], offset + total, ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        var end = offset + source.Length;
        if (end > _length)
        {
            _length = end;
        }

        return RandomAccess.WriteAsync(_handle, source, offset, ct);
    }

    public ValueTask SetLengthAsync(long length, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        RandomAccess.SetLength(_handle, length);
        _length = length;
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();

        // fsync covers both data and the file size, which is what truncation-before-append relies on.
        RandomAccess.FlushToDisk(_handle);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _handle.Dispose();
        return ValueTask.CompletedTask;
    }
}

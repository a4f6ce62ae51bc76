using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace TapeGateway.Storage;

/// <summary>SHA-256 of a file's first bytes, read in 1 MiB steps (from the page cache, where segments usually are).</summary>
internal static class FileSha256
{
    private const int Chunk = 1 << 20;

    /// <summary>The lowercase hex SHA-256 of bytes [0, <paramref name="length"/>), or null when the file is shorter.</summary>
    public static string? TryCompute(SafeFileHandle handle, long length, CancellationToken cancellationToken)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(Chunk);
        try
        {
            for (long offset = 0; offset < length;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var n = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(Chunk, length - offset)), offset);
                if (n == 0)
                {
                    return null;
                }

                sha.AppendData(buffer, 0, n);
                offset += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

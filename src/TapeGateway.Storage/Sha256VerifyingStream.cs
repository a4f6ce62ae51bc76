using System.Security.Cryptography;

namespace TapeGateway.Storage;

/// <summary>
/// A read-only pass-through that hashes what it returns and, at the end of the data, compares the SHA-256 and the length
/// with what was recorded at write time. The mismatch surfaces as <see cref="ObjectCorruptedException"/> from the read
/// that would have returned 0, so a consumer that reads to the end can never take corrupted bytes for good ones.
/// </summary>
public sealed class Sha256VerifyingStream : Stream
{
    private readonly Stream _inner;
    private readonly string _expectedSha256;
    private readonly long _expectedLength;
    private readonly string _key;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _read;
    private bool _verified;

    public Sha256VerifyingStream(Stream inner, string expectedSha256, long expectedLength, string key)
    {
        _inner = inner;
        _expectedSha256 = expectedSha256;
        _expectedLength = expectedLength;
        _key = key;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => _expectedLength;

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        // A zero-length read request says nothing about the end of the stream, so it must not trigger the check.
        if (buffer.IsEmpty)
        {
            return 0;
        }

        var n = _inner.Read(buffer);
        return Account(buffer[..n]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        var n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..n]);
    }

    private int Account(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0)
        {
            _hash.AppendData(data);
            _read += data.Length;
            return data.Length;
        }

        if (_verified)
        {
            return 0;
        }

        _verified = true;
        var actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (_read != _expectedLength || !string.Equals(actual, _expectedSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ObjectCorruptedException(
                $"object '{_key}' failed its integrity check: read {_read} bytes with SHA-256 {actual}, recorded {_expectedLength} bytes with SHA-256 {_expectedSha256}")
            { Key = _key };
        }

        return 0;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        _hash.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}

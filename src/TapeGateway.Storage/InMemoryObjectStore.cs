using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace TapeGateway.Storage;

/// <summary>
/// An object store in a dictionary, for unit tests. It follows the AWS semantics the gateway relies on: archived objects
/// refuse reads until restored (the restore is immediate), If-None-Match, 416 ranges, SHA-256 verification on read.
/// </summary>
public sealed class InMemoryObjectStore : IObjectStore
{
    private readonly ConcurrentDictionary<string, Entry> _objects = new(StringComparer.Ordinal);
    private readonly Lock _commitLock = new();
    private readonly TimeProvider _time;

    public InMemoryObjectStore(TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
    }

    private sealed record Entry(
        byte[] Data,
        string ETag,
        DateTimeOffset LastModified,
        StorageClass StorageClass,
        IReadOnlyDictionary<string, string> Metadata,
        DateTimeOffset? RestoreExpiry);

    public int Count => _objects.Count;

    /// <summary>The SHA-256 is computed while storing (and returned), so nobody needs to hash first.</summary>
    public bool NeedsSha256BeforePut => false;

    public async Task<PutResult> PutAsync(string key, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        ArgumentNullException.ThrowIfNull(content);
        options ??= new PutOptions();
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        var data = buffer.ToArray();
        var sha = Convert.ToHexStringLower(SHA256.HashData(data));
        ObjectKeys.CheckExpected(key, options.ExpectedSha256, sha);
        var entry = new Entry(
            data,
            ETagOf(data),
            _time.GetUtcNow(),
            options.StorageClass,
            ObjectKeys.WithSha256(options.Metadata, sha),
            null);
        lock (_commitLock)
        {
            if (options.IfNoneMatch && _objects.ContainsKey(key))
            {
                throw new PreconditionFailedException($"'{key}' already exists (If-None-Match: *)") { Key = key };
            }

            _objects[key] = entry;
        }

        return new PutResult(key, data.Length, sha, entry.ETag);
    }

    public Task<ObjectReadResult> GetAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        var entry = Find(key);
        ObjectKeys.EnsureReadable(key, entry.StorageClass, RestoreOf(entry));
        var (offset, count) = ObjectKeys.Resolve(key, range, entry.Data.Length);
        Stream stream = new MemoryStream(entry.Data, (int)offset, (int)count, writable: false);
        if (range is null)
        {
            stream = new Sha256VerifyingStream(stream, entry.Metadata[ObjectMetadataKeys.Sha256], entry.Data.Length, key);
        }

        return Task.FromResult(new ObjectReadResult(stream, entry.Data.Length, range));
    }

    public Task<ObjectInfo> HeadAsync(string key, CancellationToken cancellationToken = default) => Task.FromResult(InfoOf(key, Find(key)));

    public async IAsyncEnumerable<ObjectSummary> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var snapshot = _objects.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .ToList();
        foreach (var (key, e) in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ObjectSummary(key, e.Data.Length, e.ETag, e.LastModified, e.StorageClass);
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        _objects.TryRemove(key, out _);
        return Task.CompletedTask;
    }

    public Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CopyOptions? options = null, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(destinationKey, nameof(destinationKey));
        options ??= new CopyOptions();
        var source = Find(sourceKey);
        if (sourceKey == destinationKey && source.StorageClass == options.StorageClass)
        {
            // S3 rejects a copy onto itself that changes nothing (400 InvalidRequest); so do we, to stay a faithful fake.
            throw new ArgumentException($"copying '{sourceKey}' onto itself without changing the storage class changes nothing");
        }

        var copy = source with { LastModified = _time.GetUtcNow(), StorageClass = options.StorageClass, RestoreExpiry = null };
        _objects[destinationKey] = copy;
        return Task.FromResult(InfoOf(destinationKey, copy));
    }

    public Task<RestoreRequestResult> RequestRestoreAsync(string key, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Days);
        lock (_commitLock)
        {
            var entry = Find(key);
            if (!entry.StorageClass.IsArchive())
            {
                throw new InvalidObjectStateException($"'{key}' is not archived; there is nothing to restore") { Key = key, StorageClass = entry.StorageClass };
            }

            var wasRestored = RestoreOf(entry).State == RestoreState.Restored;
            _objects[key] = entry with { RestoreExpiry = _time.GetUtcNow().AddDays(options.Days) };
            return Task.FromResult(wasRestored ? RestoreRequestResult.AlreadyRestored : RestoreRequestResult.Accepted);
        }
    }

    /// <summary>Flips one bit of the stored bytes, keeping the recorded SHA-256: bit rot, for integrity tests.</summary>
    internal void CorruptForTesting(string key, long offset)
    {
        var entry = Find(key);
        var data = (byte[])entry.Data.Clone();
        data[offset] ^= 0x01;
        _objects[key] = entry with { Data = data };
    }

    private Entry Find(string key)
    {
        ObjectKeys.Validate(key);
        return _objects.TryGetValue(key, out var entry)
            ? entry
            : throw new ObjectNotFoundException($"no object '{key}'") { Key = key };
    }

    private RestoreStatus RestoreOf(Entry e) => ObjectKeys.LocalRestoreStatus(e.StorageClass, e.RestoreExpiry, _time.GetUtcNow());

    private ObjectInfo InfoOf(string key, Entry e) =>
        new(key, e.Data.Length, e.ETag, e.LastModified, e.StorageClass, e.Metadata, RestoreOf(e));

    // Same shape as a single-part S3 ETag (quoted hex MD5), so callers never depend on which store they talk to.
#pragma warning disable CA5351 // MD5 is the S3 ETag format here, not a security measure.
    internal static string ETagOf(ReadOnlySpan<byte> data) => $"\"{Convert.ToHexStringLower(MD5.HashData(data))}\"";
#pragma warning restore CA5351
}

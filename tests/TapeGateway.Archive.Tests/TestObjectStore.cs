using TapeGateway.Storage;

namespace TapeGateway.Archive.Tests;

/// <summary>
/// An <see cref="InMemoryObjectStore"/> with knobs: fail the Nth copy or delete (a crash mid-run), keep restores
/// "in progress" until released (AWS takes hours; the in-memory store restores at once), count calls.
/// </summary>
public sealed class TestObjectStore(TimeProvider time) : IObjectStore
{
    private readonly InMemoryObjectStore _inner = new(time);
    private int _copies;
    private int _deletes;

    public InMemoryObjectStore Inner => _inner;

    public int Copies => Volatile.Read(ref _copies);

    /// <summary>The copy with this 1-based number throws (once).</summary>
    public int? FailCopyNumber { get; set; }

    /// <summary>The delete with this 1-based number throws (once).</summary>
    public int? FailDeleteNumber { get; set; }

    /// <summary>While true, a restored object still reports InProgress (and so is not readable).</summary>
    public bool HoldRestores { get; set; }

    public List<string> RestoreRequests { get; } = [];

    /// <summary>RestoreObject answers 501 (Ceph RGW), and archived objects stay readable.</summary>
    public bool RestoreNotSupported { get; set; }

    public Func<string, Task>? BeforeCopy { get; set; }

    /// <summary>AWS: CopyObject from a GLACIER / DEEP_ARCHIVE source needs a restore first (403 InvalidObjectState).</summary>
    public bool RefuseArchivedCopySource { get; set; }

    public Task<PutResult> PutAsync(string key, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default) =>
        _inner.PutAsync(key, content, options, cancellationToken);

    /// <summary>The bucket has S3 Object Lock: <see cref="ApplyRetentionAsync"/> records and returns true.</summary>
    public bool ObjectLock { get; set; }

    public Dictionary<string, ObjectRetention> Retentions { get; } = new(StringComparer.Ordinal);

    public Task<bool> ApplyRetentionAsync(string key, ObjectRetention retention, CancellationToken cancellationToken = default)
    {
        if (!ObjectLock)
        {
            return Task.FromResult(false);
        }

        lock (Retentions)
        {
            Retentions[key] = retention;
        }

        return Task.FromResult(true);
    }

    public Task<ObjectReadResult> GetAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default) =>
        _inner.GetAsync(key, range, cancellationToken);

    public async Task<ObjectInfo> HeadAsync(string key, CancellationToken cancellationToken = default)
    {
        var info = await _inner.HeadAsync(key, cancellationToken);
        return HoldRestores && info.Restore.State == RestoreState.Restored ? info with { Restore = new RestoreStatus(RestoreState.InProgress) } : info;
    }

    public IAsyncEnumerable<ObjectSummary> ListAsync(string prefix, CancellationToken cancellationToken = default) =>
        _inner.ListAsync(prefix, cancellationToken);

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Increment(ref _deletes) == FailDeleteNumber)
        {
            FailDeleteNumber = null;
            throw new TransientObjectStoreException("simulated crash during delete") { Key = key };
        }

        return _inner.DeleteAsync(key, cancellationToken);
    }

    public async Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CopyOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (BeforeCopy is { } hook)
        {
            await hook(destinationKey);
        }

        if (RefuseArchivedCopySource)
        {
            var source = await _inner.HeadAsync(sourceKey, cancellationToken);
            if (source.StorageClass.IsArchive() && source.Restore.State != RestoreState.Restored)
            {
                throw new InvalidObjectStateException($"'{sourceKey}' must be restored before it can be copied") { Key = sourceKey };
            }
        }

        if (Interlocked.Increment(ref _copies) == FailCopyNumber)
        {
            FailCopyNumber = null;
            throw new TransientObjectStoreException("simulated crash during copy") { Key = destinationKey };
        }

        return await _inner.CopyAsync(sourceKey, destinationKey, options, cancellationToken);
    }

    public async Task<RestoreRequestResult> RequestRestoreAsync(string key, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        lock (RestoreRequests)
        {
            RestoreRequests.Add(key);
        }

        if (RestoreNotSupported)
        {
            throw new ObjectStoreNotSupportedException("RestoreObject: 501 Not Implemented") { Key = key };
        }

        var result = await _inner.RequestRestoreAsync(key, options, cancellationToken);
        return HoldRestores ? RestoreRequestResult.Accepted : result;
    }

    public async Task<IReadOnlyList<ObjectSummary>> ListAllAsync(string prefix)
    {
        var list = new List<ObjectSummary>();
        await foreach (var o in _inner.ListAsync(prefix))
        {
            list.Add(o);
        }

        return list;
    }
}

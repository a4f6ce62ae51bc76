using TapeGateway.Storage;

namespace TapeGateway.Storage.Tests.Tapes;

/// <summary>An object store that can be made to fail or stall puts and gets, like a bucket that went away.</summary>
internal sealed class FaultyObjectStore : IObjectStore
{
    private readonly IObjectStore _inner;
    private TaskCompletionSource _putGate = Completed();

    public FaultyObjectStore(IObjectStore inner) => _inner = inner;

    /// <summary>Puts throw a transient error (503-like), as while the endpoint is down.</summary>
    public bool FailPuts { get; set; }

    public bool FailGets { get; set; }

    public int Puts;

    /// <summary>Puts that found the gate closed (<see cref="StallPuts"/>) and waited.</summary>
    public int StalledPuts;

    /// <summary>Puts wait until <see cref="ReleasePuts"/>.</summary>
    public void StallPuts() => _putGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ReleasePuts() => _putGate.TrySetResult();

    private static TaskCompletionSource Completed()
    {
        var t = new TaskCompletionSource();
        t.SetResult();
        return t;
    }

    public async Task<PutResult> PutAsync(string key, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        var gate = _putGate.Task;
        if (!gate.IsCompleted)
        {
            Interlocked.Increment(ref StalledPuts);
        }

        await gate.WaitAsync(cancellationToken);
        if (FailPuts)
        {
            throw new TransientObjectStoreException("injected: endpoint unreachable") { Key = key };
        }

        Interlocked.Increment(ref Puts);
        return await _inner.PutAsync(key, content, options, cancellationToken);
    }

    /// <summary>Every key a GET asked for, in order (ranged GETs of one object repeat it).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Gets { get; } = new();

    public Task<ObjectReadResult> GetAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        Gets.Enqueue(key);
        return FailGets ? throw new TransientObjectStoreException("injected: endpoint unreachable") { Key = key } : _inner.GetAsync(key, range, cancellationToken);
    }

    public Task<ObjectInfo> HeadAsync(string key, CancellationToken cancellationToken = default) => _inner.HeadAsync(key, cancellationToken);

    public IAsyncEnumerable<ObjectSummary> ListAsync(string prefix, CancellationToken cancellationToken = default) => _inner.ListAsync(prefix, cancellationToken);

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => _inner.DeleteAsync(key, cancellationToken);

    public Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CopyOptions? options = null, CancellationToken cancellationToken = default) =>
        _inner.CopyAsync(sourceKey, destinationKey, options, cancellationToken);

    public Task<RestoreRequestResult> RequestRestoreAsync(string key, RestoreOptions options, CancellationToken cancellationToken = default) =>
        _inner.RequestRestoreAsync(key, options, cancellationToken);
}

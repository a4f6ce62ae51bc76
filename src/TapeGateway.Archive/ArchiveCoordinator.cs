namespace TapeGateway.Archive;

/// <summary>
/// One archive-side operation at a time, for both jobs. Quartz's [DisallowConcurrentExecution] keeps each job from
/// overlapping itself, but archiving and retrieval touch the same tiers: a retrieval copying a tape back while the
/// archive job purges that tape's library copy (after a cancelled retrieval) would leave an orphaned copy. Operator
/// calls only change the catalog, with guarded transitions, and never take this lock.
/// </summary>
public sealed class ArchiveCoordinator : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<IDisposable> EnterAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        return new Releaser(_gate);
    }

    public void Dispose() => _gate.Dispose();

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}

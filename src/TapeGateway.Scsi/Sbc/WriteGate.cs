namespace TapeGateway.Scsi.Sbc;

/// <summary>
/// Orders writes on one logical unit. Ordinary writes (WRITE, WRITE SAME, UNMAP, …) enter shared and run
/// concurrently; read-modify-write commands (COMPARE AND WRITE, ORWRITE) enter exclusive, so no other write can land
/// between their read and their write (SBC-3 §5.2: the compare and the write are one atomic operation with respect
/// to other commands that change the medium). Reads never enter: a read concurrent with a write may see either
/// version of a block, as on a real disk.
/// <para>
/// Shared holders take one of <see cref="Slots"/> semaphore slots; an exclusive holder first takes a mutex (so two
/// exclusive entrants cannot each hold half of the slots) and then every slot. SemaphoreSlim serves asynchronous
/// waiters in FIFO order, so a waiting exclusive entrant is not starved by a stream of shared ones.
/// </para>
/// </summary>
internal sealed class WriteGate
{
    private const int Slots = 64;
    private readonly SemaphoreSlim _slots = new(Slots, Slots);
    private readonly SemaphoreSlim _exclusive = new(1, 1);

    public async ValueTask<Releaser> EnterSharedAsync(CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        return new Releaser(this, exclusive: false);
    }

    public async ValueTask<Releaser> EnterExclusiveAsync(CancellationToken ct)
    {
        await _exclusive.WaitAsync(ct).ConfigureAwait(false);
        var taken = 0;
        try
        {
            for (; taken < Slots; taken++)
            {
                await _slots.WaitAsync(ct).ConfigureAwait(false);
            }
        }
        catch
        {
            if (taken > 0)
            {
                _slots.Release(taken);
            }

            _exclusive.Release();
            throw;
        }

        return new Releaser(this, exclusive: true);
    }

    public readonly struct Releaser(WriteGate gate, bool exclusive) : IDisposable
    {
        public void Dispose()
        {
            if (gate is null)
            {
                return;
            }

            if (exclusive)
            {
                gate._slots.Release(Slots);
                gate._exclusive.Release();
            }
            else
            {
                gate._slots.Release();
            }
        }
    }
}

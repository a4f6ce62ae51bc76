namespace TapeGateway.Scsi.Commands;

/// <summary>
/// The per-unit FIFO gate that runs <see cref="CommandFlags.Serialized"/> commands one at a time, in the order they
/// arrive. Unlike <see cref="SemaphoreSlim"/>, waiting allocates nothing: waiters are caller-owned, reusable nodes
/// linked into an intrusive queue, and ownership is handed to the head waiter directly on exit (no thundering herd,
/// no barging), so the arrival order — the transport's CmdSN order — is the execution order.
/// </summary>
internal sealed class CommandGate
{
    private readonly Lock _lock = new();
    private bool _held;
    private Waiter? _head;
    private Waiter? _tail;

    /// <summary>Takes the gate if it is free; otherwise queues <paramref name="waiter"/>, which is granted it later.</summary>
    /// <returns>true when the caller now holds the gate.</returns>
    public bool EnterOrQueue(Waiter waiter)
    {
        lock (_lock)
        {
            if (!_held)
            {
                _held = true;
                return true;
            }

            waiter.Next = null;
            waiter.Queued = true;
            if (_tail is null)
            {
                _head = waiter;
            }
            else
            {
                _tail.Next = waiter;
            }

            _tail = waiter;
            return false;
        }
    }

    /// <summary>
    /// Leaves the gate. If someone is waiting, ownership passes to the first waiter, which is returned: the caller
    /// must call <see cref="Waiter.OnGranted"/> on it (outside any lock of its own). Otherwise the gate is free.
    /// </summary>
    public Waiter? ExitAndTakeNext()
    {
        lock (_lock)
        {
            var next = _head;
            if (next is null)
            {
                _held = false;
                return null;
            }

            _head = next.Next;
            if (_head is null)
            {
                _tail = null;
            }

            next.Next = null;
            next.Queued = false;
            return next;
        }
    }

    /// <summary>Removes a waiter that has not been granted the gate yet (its command was aborted).</summary>
    /// <returns>false when it was granted already (or never queued): the grant wins.</returns>
    public bool TryRemove(Waiter waiter)
    {
        lock (_lock)
        {
            if (!waiter.Queued)
            {
                return false;
            }

            Waiter? previous = null;
            for (var w = _head; w is not null; previous = w, w = w.Next)
            {
                if (!ReferenceEquals(w, waiter))
                {
                    continue;
                }

                if (previous is null)
                {
                    _head = w.Next;
                }
                else
                {
                    previous.Next = w.Next;
                }

                if (ReferenceEquals(_tail, w))
                {
                    _tail = previous;
                }

                w.Next = null;
                w.Queued = false;
                return true;
            }

            return false;
        }
    }

    /// <summary>
    /// Waits for the gate outside the command pipeline (the changer loading or ejecting a cartridge). Allocates when it
    /// has to wait, which is fine for these rare callers. Dispose the result to leave.
    /// </summary>
    public async ValueTask<IDisposable> EnterAsync(CancellationToken ct)
    {
        var waiter = new AsyncWaiter(this);
        if (!EnterOrQueue(waiter))
        {
            using (ct.UnsafeRegister(static s => ((AsyncWaiter)s!).Cancel(), waiter))
            {
                await waiter.Granted.Task.ConfigureAwait(false);
            }
        }

        return waiter;
    }

    /// <summary>A queue node. Implementations decide what being granted the gate means.</summary>
    internal abstract class Waiter
    {
        internal Waiter? Next { get; set; }

        internal bool Queued { get; set; }

        /// <summary>Called once the waiter owns the gate; it must eventually leave through <see cref="ExitAndTakeNext"/>.</summary>
        public abstract void OnGranted();
    }

    private sealed class AsyncWaiter(CommandGate gate) : Waiter, IDisposable
    {
        private int _released;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void OnGranted() => Granted.TrySetResult();

        public void Cancel()
        {
            if (gate.TryRemove(this))
            {
                Granted.TrySetCanceled();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.ExitAndTakeNext()?.OnGranted();
            }
        }
    }
}

using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace TapeGateway.Storage;

/// <summary>
/// Work for the <see cref="BackgroundWorkScheduler"/>: <see cref="Execute"/> runs on a low-priority worker,
/// <see cref="Completed"/> afterwards on the scheduler's relay thread at normal priority.
/// </summary>
public interface IBackgroundWorkItem
{
    /// <summary>The CPU-heavy part. Must not wake thread-pool work itself: that belongs in <see cref="Completed"/>.</summary>
    void Execute();

    /// <summary>
    /// Wakes whoever waits for the result (completes a task, signals the uploader). Also called, without
    /// <see cref="Execute"/>, for an item still queued when the scheduler is disposed.
    /// </summary>
    void Completed();
}

/// <summary>
/// Dedicated threads at a lower OS scheduling priority for work whose only deadline is "soon": copying and hashing
/// tape segments the hosts have already been told are safe (they are durable in the local cache) on their way to the
/// object store.
/// </summary>
/// <remarks>
/// A backup host streaming to a drive waits on every command; an upload waits on nothing but the upload buffer's
/// bound. On a small appliance both compete for the same cores, and the thread pool cannot tell them apart: a burst of
/// segment uploads took CPU from the drives that were being read. Here the kernel arbitrates. On Linux each worker
/// raises its own nice value (setpriority(2) with a thread id addresses that thread only), so it gets what the drives
/// leave idle and a small CFS share when they are saturated — never nothing, so the upload buffer still drains.
/// A thread created by a thread inherits its nice value, and the thread pool creates workers on whichever thread
/// queues work; so workers never queue to the pool: whatever an item wakes (a task continuation, a signal) is woken by
/// the relay thread, which runs at normal priority. Elsewhere than Linux the workers run at normal priority.
/// </remarks>
public sealed partial class BackgroundWorkScheduler : IDisposable
{
    private readonly ConcurrentQueue<IBackgroundWorkItem> _work = new();
    private readonly ConcurrentQueue<IBackgroundWorkItem> _done = new();
    private readonly SemaphoreSlim _workAvailable = new(0);
    private readonly SemaphoreSlim _doneAvailable = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread[] _workers;
    private readonly Thread _relay;
    private int _lowered;
    private int _disposed;
    private int _hurry;

    /// <param name="threads">Worker threads: the most cores background work may take when the drives are idle.</param>
    /// <param name="nice">Linux nice increment for the workers (0–19; 0 = the same priority as everything else).</param>
    public BackgroundWorkScheduler(int threads, int nice)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(nice);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nice, 19);
        Nice = nice;

        // All threads are created here, by the (normal-priority) constructing thread; workers lower themselves.
        _relay = new Thread(Relay) { IsBackground = true, Name = "tg-background-relay" };
        _relay.Start();
        _workers = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            _workers[i] = new Thread(Work) { IsBackground = true, Name = $"tg-background-{i}" };
            _workers[i].Start();
        }
    }

    /// <summary>The nice increment asked for.</summary>
    public int Nice { get; }

    /// <summary>Worker threads.</summary>
    public int Threads => _workers.Length;

    /// <summary>How many workers run with <see cref="Nice"/> applied (0 where the OS has no per-thread priority).</summary>
    public int LoweredThreads => Volatile.Read(ref _lowered);

    /// <summary>
    /// True while someone waits for background work to finish (a host write waiting for upload-buffer space): then new
    /// work runs on the thread pool at normal priority, because the wait itself is on the host's critical path now.
    /// </summary>
    public bool Hurried => Volatile.Read(ref _hurry) > 0;

    /// <summary>Runs new work at normal priority until the returned scope is disposed (scopes nest).</summary>
    public HurryScope Hurry()
    {
        Interlocked.Increment(ref _hurry);
        return new HurryScope(this);
    }

    /// <summary>Queues a reusable item; nothing is allocated.</summary>
    public void UnsafeQueue(IBackgroundWorkItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _work.Enqueue(item);
        _workAvailable.Release();
    }

    /// <summary>
    /// Has the relay thread call <paramref name="item"/>'s <see cref="IBackgroundWorkItem.Completed"/> (again), e.g.
    /// from the middle of a long <see cref="IBackgroundWorkItem.Execute"/> that has something to report already.
    /// </summary>
    public void Relay(IBackgroundWorkItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        _done.Enqueue(item);
        _doneAvailable.Release();
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a worker. The task completes from the relay thread and its continuations run
    /// on the thread pool, never on the worker: whatever the caller does next is not background work.
    /// </summary>
    public Task<T> Run<T>(Func<T> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (Hurried)
        {
            return Task.Run(work, cancellationToken);
        }

        var item = new RunItem<T>(work, cancellationToken);
        UnsafeQueue(item);
        return item.Task;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        foreach (var thread in _workers)
        {
            thread.Join(TimeSpan.FromSeconds(5));
        }

        _relay.Join(TimeSpan.FromSeconds(5));

        // Nobody runs these any more: let their waiters go (a Run task fails with ObjectDisposedException).
        while (_work.TryDequeue(out var item))
        {
            item.Completed();
        }

        while (_done.TryDequeue(out var item))
        {
            item.Completed();
        }
    }

    private void Work()
    {
        if (Nice > 0 && OperatingSystem.IsLinux() && LowerPriority(Nice))
        {
            Interlocked.Increment(ref _lowered);
        }

        try
        {
            while (true)
            {
                _workAvailable.Wait(_stop.Token);
                if (!_work.TryDequeue(out var item))
                {
                    continue;
                }

                item.Execute();
                Relay(item);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private void Relay()
    {
        try
        {
            while (true)
            {
                _doneAvailable.Wait(_stop.Token);
                if (_done.TryDequeue(out var item))
                {
                    item.Completed();
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private static bool LowerPriority(int nice)
    {
        try
        {
            // PRIO_PROCESS (0) with a thread id: on Linux that one thread (setpriority(2), NOTES).
            return NativeMethods.setpriority(0, NativeMethods.gettid(), nice) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Ends a <see cref="Hurry"/>.</summary>
    public readonly struct HurryScope(BackgroundWorkScheduler scheduler) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref scheduler._hurry);
    }

    private sealed class RunItem<T>(Func<T> work, CancellationToken cancellationToken) : IBackgroundWorkItem
    {
        private readonly TaskCompletionSource<T> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _error;
        private bool _ran;

        public Task<T> Task => _tcs.Task;

        public void Execute()
        {
            _ran = true;
            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                _result = work();
            }
            catch (Exception ex)
            {
                _error = ex;
            }
        }

        public void Completed()
        {
            if (!_ran)
            {
                _tcs.TrySetException(new ObjectDisposedException(nameof(BackgroundWorkScheduler)));
            }
            else if (_error is OperationCanceledException oce)
            {
                _tcs.TrySetCanceled(oce.CancellationToken);
            }
            else if (_error is not null)
            {
                _tcs.TrySetException(_error);
            }
            else
            {
                _tcs.TrySetResult(_result!);
            }
        }
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", SetLastError = true)]
        internal static partial int setpriority(int which, int who, int prio);

        [LibraryImport("libc")]
        internal static partial int gettid();
    }
}

namespace TapeGateway.Core.Threading;

/// <summary>
/// Short CPU-only work (a drive's read-ahead from the page cache) that a thread which is about to wait for its
/// initiator runs itself, instead of waking a pool worker for it. An iSCSI connection's receive thread opts in: it has
/// just sent the response and would otherwise sleep in <c>recv</c> while the host digests the data, and on a small
/// virtual machine a thread wake-up costs about as much as the work. Everywhere else the work goes to the thread pool.
/// </summary>
public static class IdleWork
{
    [ThreadStatic]
    private static Queue<IThreadPoolWorkItem>? t_queue;

    /// <summary>Runs <paramref name="item"/> when this thread next goes idle, or on the thread pool if it never will.</summary>
    public static void Queue(IThreadPoolWorkItem item)
    {
        if (t_queue is { } queue)
        {
            queue.Enqueue(item);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(item, preferLocal: false);
        }
    }

    /// <summary>Makes the calling thread collect idle work; it must then call <see cref="RunQueued"/> before it waits.</summary>
    public static void Attach() => t_queue ??= new Queue<IThreadPoolWorkItem>();

    /// <summary>Runs what was queued on this thread, including work queued meanwhile.</summary>
    public static void RunQueued()
    {
        var queue = t_queue;
        while (queue is not null && queue.TryDequeue(out var item))
        {
            item.Execute();
        }
    }
}

namespace TapeGateway.Storage.Tests;

/// <summary>The whole filesystem store contract again, with every put's copy and hash on the background workers.</summary>
public sealed class FileSystemObjectStoreOnBackgroundWorkersContract : FileSystemObjectStoreContract
{
    private static readonly BackgroundWorkScheduler Workers = new(threads: 2, nice: 5);

    public FileSystemObjectStoreOnBackgroundWorkersContract()
        : base(Workers)
    {
    }
}

public sealed class BackgroundWorkSchedulerTests : IDisposable
{
    private readonly BackgroundWorkScheduler _workers = new(threads: 2, nice: 7);

    public void Dispose() => _workers.Dispose();

    [Fact]
    public async Task Tasks_run_on_the_named_workers_at_the_lowered_priority()
    {
        var (name, nice) = await _workers.Run(() => (Thread.CurrentThread.Name, OwnNice()));

        Assert.StartsWith("tg-background-", name, StringComparison.Ordinal);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(7, nice);

            // The other worker lowers its own priority when it starts, which may be after this task ran.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (_workers.LoweredThreads < 2 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(5);
            }

            Assert.Equal(2, _workers.LoweredThreads);
        }

        // The caller's own priority is untouched (setpriority addressed the worker's thread id only).
        Assert.NotEqual(7, OwnNice());
    }

    [Fact]
    public async Task Work_items_run_and_a_failing_task_reports_its_exception()
    {
        var item = new CountingItem();
        for (var i = 0; i < 100; i++)
        {
            _workers.UnsafeQueue(item);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref item.Count) < 100 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        while (Volatile.Read(ref item.Completions) < 100 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.Equal(100, Volatile.Read(ref item.Count));
        Assert.Equal(100, Volatile.Read(ref item.Completions));
        Assert.True(item.OnWorker);
        Assert.True(item.CompletedOnRelay);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => _workers.Run<int>(() => throw new InvalidOperationException("boom")));
        Assert.Equal("boom", ex.Message);
        Assert.Equal(42, await _workers.Run(() => 42)); // the worker survived the failure
    }

    [Fact]
    public async Task Disposing_fails_what_is_still_queued_and_refuses_more()
    {
        var workers = new BackgroundWorkScheduler(threads: 1, nice: 0);
        using var gate = new ManualResetEventSlim();
        var blocked = workers.Run(() => gate.Wait(TimeSpan.FromSeconds(10)));
        var queued = workers.Run(() => 1);
        var disposing = Task.Run(workers.Dispose);
        await Task.Delay(50);
        gate.Set();
        await disposing;

        Assert.True(await blocked);
        if (!queued.IsCompletedSuccessfully)
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(() => queued);
        }

        Assert.Throws<ObjectDisposedException>(() => workers.UnsafeQueue(new CountingItem()));
    }

    [Fact]
    public async Task While_hurried_new_work_runs_at_normal_priority_off_the_workers()
    {
        using (_workers.Hurry())
        using (_workers.Hurry())
        {
            Assert.True(_workers.Hurried);
            var (name, nice) = await _workers.Run(() => (Thread.CurrentThread.Name, OwnNice()));
            Assert.False(name?.StartsWith("tg-background-", StringComparison.Ordinal) ?? false);
            Assert.Equal(0, nice);
        }

        Assert.False(_workers.Hurried);
        var (after, _) = await _workers.Run(() => (Thread.CurrentThread.Name, 0));
        Assert.StartsWith("tg-background-", after, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackgroundWorkScheduler(0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackgroundWorkScheduler(1, 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackgroundWorkScheduler(1, -1));
    }

    /// <summary>This thread's nice value: field 19 of /proc/thread-self/stat (after the parenthesised name).</summary>
    private static int OwnNice()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture); // field 3 is fields[0]
    }

    private sealed class CountingItem : IBackgroundWorkItem
    {
        public int Count;
        public int Completions;
        public volatile bool OnWorker = true;
        public volatile bool CompletedOnRelay = true;

        public void Execute()
        {
            if (Thread.CurrentThread.Name?.StartsWith("tg-background-", StringComparison.Ordinal) != true || OwnNice() != 7 && OperatingSystem.IsLinux())
            {
                OnWorker = false;
            }

            Interlocked.Increment(ref Count);
        }

        public void Completed()
        {
            // The relay wakes waiters at normal priority, so thread-pool threads it may create do not inherit the nice.
            if (Thread.CurrentThread.Name != "tg-background-relay" || OwnNice() != 0)
            {
                CompletedOnRelay = false;
            }

            Interlocked.Increment(ref Completions);
        }
    }
}

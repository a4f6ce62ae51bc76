namespace TapeGateway.Storage.S3.GlacierEmulation;

/// <summary>What a RestoreObject request did, in AWS terms (the HTTP status the handler answers with).</summary>
internal enum RestoreRequestOutcome
{
    /// <summary>A restore started: 202 Accepted.</summary>
    Started,

    /// <summary>A restore of this object is still running: 409 RestoreAlreadyInProgress.</summary>
    AlreadyInProgress,

    /// <summary>The object was already restored and its expiry has been moved: 200 OK.</summary>
    AlreadyRestored,
}

/// <summary>The emulated restore state of one archived object at a point in time.</summary>
internal readonly record struct EmulatedRestore(RestoreState State, DateTimeOffset? Expiry = null)
{
    public static EmulatedRestore None { get; } = new(RestoreState.Archived);
}

/// <summary>
/// The restores the emulation has granted, in memory. A restore completes <c>delay</c> after it was requested and
/// then lasts until its expiry, which AWS computes as completion time + Days, rounded up to the next midnight UTC.
/// </summary>
/// <remarks>
/// Nothing is persisted: a process restart forgets every emulated restore, in progress or done, and the objects are
/// archived again. That is safe because the caller's recovery is the same as after a restore expires on AWS: HEAD shows
/// no restore, and it requests one again.
/// </remarks>
internal sealed class GlacierRestoreLedger
{
    // Expired entries are dropped when looked at; a sweep above this size bounds what a long run leaves behind.
    private const int SweepThreshold = 4096;

    private readonly Dictionary<S3ObjectAddress, Entry> _entries = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;

    public GlacierRestoreLedger(TimeSpan restoreDelay, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(restoreDelay, TimeSpan.Zero);
        RestoreDelay = restoreDelay;
        _time = timeProvider ?? TimeProvider.System;
    }

    public TimeSpan RestoreDelay { get; }

    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>
    /// AWS RestoreObject semantics: the first request starts a restore (202); a repeat while it runs is refused (409
    /// RestoreAlreadyInProgress); a repeat once restored re-computes the expiry from now (200), which is how a caller
    /// extends a restored copy's lifetime.
    /// </summary>
    public RestoreRequestOutcome Request(S3ObjectAddress address, int days)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(days);
        lock (_lock)
        {
            var now = Now;
            if (_entries.TryGetValue(address, out var entry) && entry.Expiry > now)
            {
                if (now < entry.ReadyAt)
                {
                    return RestoreRequestOutcome.AlreadyInProgress;
                }

                _entries[address] = entry with { Expiry = ExpiryOf(now, days) };
                return RestoreRequestOutcome.AlreadyRestored;
            }

            if (_entries.Count >= SweepThreshold)
            {
                Sweep(now);
            }

            var ready = now + RestoreDelay;
            _entries[address] = new Entry(ready, ExpiryOf(ready, days));
            return RestoreRequestOutcome.Started;
        }
    }

    /// <summary>Archived (no restore, or an expired one), InProgress, or Restored with its expiry.</summary>
    public EmulatedRestore StatusOf(S3ObjectAddress address)
    {
        lock (_lock)
        {
            var now = Now;
            if (!_entries.TryGetValue(address, out var entry))
            {
                return EmulatedRestore.None;
            }

            if (entry.Expiry <= now)
            {
                _entries.Remove(address);
                return EmulatedRestore.None;
            }

            return now < entry.ReadyAt ? new EmulatedRestore(RestoreState.InProgress) : new EmulatedRestore(RestoreState.Restored, entry.Expiry);
        }
    }

    /// <summary>The object was overwritten (put, copied onto) or deleted: the new object, if any, has never been restored.</summary>
    public void Forget(S3ObjectAddress address)
    {
        lock (_lock)
        {
            _entries.Remove(address);
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// AWS: "Amazon S3 calculates the expiry date by adding the number of days that you specify in the restoration
    /// request to the time when the requested restoration is completed, and then rounding to the next day at midnight
    /// UTC" (S3 User Guide, Restoring an archived object).
    /// </summary>
    internal static DateTimeOffset ExpiryOf(DateTimeOffset completed, int days) =>
        new(completed.UtcDateTime.AddDays(days).Date.AddDays(1), TimeSpan.Zero);

    private void Sweep(DateTimeOffset now)
    {
        foreach (var address in _entries.Where(e => e.Value.Expiry <= now).Select(e => e.Key).ToList())
        {
            _entries.Remove(address);
        }
    }

    private sealed record Entry(DateTimeOffset ReadyAt, DateTimeOffset Expiry);
}

namespace TapeGateway.Storage;

/// <summary>
/// Retries <see cref="TransientObjectStoreException"/> with capped exponential backoff and "full jitter"
/// (a uniformly random delay in [0, min(cap, base * 2^attempt)]), which AWS recommends so that many clients that failed
/// together do not retry together. Everything else (not found, corruption, preconditions) fails at once.
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>Total attempts, the first included.</summary>
    public int MaxAttempts { get; init; } = 6;

    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Throttling gets a longer floor: retrying a 503 SlowDown early only adds to the overload.</summary>
    public TimeSpan ThrottlingMinDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Tests replace the clock so they do not sleep.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Tests pin the jitter; production uses the shared thread-safe generator.</summary>
    public Func<double> Random { get; init; } = System.Random.Shared.NextDouble;

    public static RetryPolicy Default { get; } = new();

    /// <summary>One attempt, no retry: for tests that must see the first error.</summary>
    public static RetryPolicy None { get; } = new() { MaxAttempts = 1 };

    /// <summary>The delay before retry number <paramref name="attempt"/> (1 = the first retry).</summary>
    public TimeSpan DelayFor(int attempt, bool throttling)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(attempt);
        var ceiling = BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        ceiling = Math.Min(ceiling, MaxDelay.TotalMilliseconds);
        var delay = ceiling * Random();
        if (throttling)
        {
            delay = Math.Max(delay, Math.Min(ThrottlingMinDelay.TotalMilliseconds, MaxDelay.TotalMilliseconds));
        }

        return TimeSpan.FromMilliseconds(delay);
    }

    public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation(cancellationToken).ConfigureAwait(false);
            }
            catch (TransientObjectStoreException ex) when (attempt < MaxAttempts && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(DelayFor(attempt, ex.IsThrottling), TimeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public Task ExecuteAsync(Func<CancellationToken, Task> operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return ExecuteAsync<bool>(
            async ct =>
            {
                await operation(ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }
}

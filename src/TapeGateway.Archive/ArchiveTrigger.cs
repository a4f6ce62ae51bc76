using Microsoft.Extensions.Logging;
using Quartz;

namespace TapeGateway.Archive;

/// <summary>Starts the archive or retrieval job now rather than at its next scheduled tick.</summary>
public interface IArchiveTrigger
{
    /// <summary>Asks for an archive run; returns at once (callers hold the library's move lock).</summary>
    void RequestArchiveRun();

    /// <summary>Asks for a retrieval run; returns at once.</summary>
    void RequestRetrievalRun();
}

/// <summary>
/// <see cref="IScheduler.TriggerJob(JobKey, CancellationToken)"/> on the Quartz scheduler. Fire and forget: a trigger that
/// is lost (scheduler not started yet, shutting down) costs only the wait for the next cron tick, which finds the same
/// work in the catalog.
/// </summary>
internal sealed partial class QuartzArchiveTrigger(ISchedulerFactory schedulers, ILogger<QuartzArchiveTrigger> logger) : IArchiveTrigger
{
    public void RequestArchiveRun() => _ = TriggerAsync(ArchiveJob.Key);

    public void RequestRetrievalRun() => _ = TriggerAsync(RetrievalJob.Key);

    private async Task TriggerAsync(JobKey key)
    {
        try
        {
            // Before the scheduler started, the trigger simply waits for the start; after shutdown it throws.
            var scheduler = await schedulers.GetScheduler().ConfigureAwait(false);
            await scheduler.TriggerJob(key).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SchedulerException or InvalidOperationException or ObjectDisposedException)
        {
            LogTriggerFailed(logger, key.Name, ex.Message);
        }
    }

    [LoggerMessage(EventId = 530, Level = LogLevel.Warning, Message = "Could not trigger the {Job} job now ({Reason}); its schedule picks the work up")]
    private static partial void LogTriggerFailed(ILogger logger, string job, string reason);
}

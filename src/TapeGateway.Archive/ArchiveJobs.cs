using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Quartz;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Archive;

/// <summary>
/// Quartz job: one <see cref="TapeArchiver.RunPendingAsync"/> pass. Scheduled by <c>TapeGateway:Archive:Schedule</c> and
/// triggered at once by every export. [DisallowConcurrentExecution]: a trigger that arrives while a pass runs waits
/// for it and then finds whatever is new in the catalog.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class ArchiveJob(IServiceProvider services, ILogger<ArchiveJob> logger) : IJob
{
    public static readonly JobKey Key = new("archive", "tapegateway");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        // Resolved per run, not injected: without a data tier (local-disk tapes only) the job has nothing to do, and a
        // missing registration must not fail every tick.
        if (services.GetService<ITapeDataTier>() is null)
        {
            return;
        }

        var outcomes = await services.GetRequiredService<TapeArchiver>().RunPendingAsync(cancellationToken).ConfigureAwait(false);
        var failed = outcomes.Count(o => o.Value == ArchiveOutcome.Failed);
        if (failed > 0)
        {
            LogFailures(logger, failed, outcomes.Count);
        }
    }

    [LoggerMessage(EventId = 540, Level = LogLevel.Warning, Message = "Archive pass: {Failed} of {Total} tape(s) failed; they are retried at the next run")]
    private static partial void LogFailures(ILogger logger, int failed, int total);
}

/// <summary>Quartz job: one <see cref="TapeRetriever.RunPendingAsync"/> pass (restore polling and copy-back).</summary>
[DisallowConcurrentExecution]
public sealed partial class RetrievalJob(IServiceProvider services, ILogger<RetrievalJob> logger) : IJob
{
    public static readonly JobKey Key = new("retrieval", "tapegateway");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        if (services.GetService<ITapeDataTier>() is null)
        {
            return;
        }

        var outcomes = await services.GetRequiredService<TapeRetriever>().RunPendingAsync(cancellationToken).ConfigureAwait(false);
        var failed = outcomes.Count(o => o.Value == RetrievalOutcome.Failed);
        if (failed > 0)
        {
            LogFailures(logger, failed, outcomes.Count);
        }
    }

    [LoggerMessage(EventId = 541, Level = LogLevel.Warning, Message = "Retrieval pass: {Failed} of {Total} tape(s) failed; they are retried at the next run")]
    private static partial void LogFailures(ILogger logger, int failed, int total);
}

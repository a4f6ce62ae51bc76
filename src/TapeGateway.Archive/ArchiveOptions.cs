using Microsoft.Extensions.Options;
using Quartz;
using TapeGateway.Storage;

namespace TapeGateway.Archive;

/// <summary>Bound from <c>TapeGateway:Archive</c>. Validated at start (<see cref="ArchiveOptionsValidator"/>).</summary>
public sealed class ArchiveOptions
{
    public const string SectionName = "TapeGateway:Archive";

    /// <summary>
    /// Whether an eject to an I/E slot archives the tape. Archiving also needs a tape data tier (the S3 library tier);
    /// without one an export stays a plain move, as before archiving existed.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Quartz cron (seconds first) of the archive job. Every 10 s by default: an export also triggers the job at once,
    /// so the schedule only picks up work a restart or a failure left behind.
    /// </summary>
    public string Schedule { get; set; } = "0/10 * * * * ?";

    /// <summary>Quartz cron of the retrieval job, which polls restores; null or empty means <see cref="Schedule"/>.</summary>
    public string? RetrievalSchedule { get; set; }

    /// <summary>
    /// How long an ejected tape waits IN TRANSIT TO VTS before archiving starts: a grace period in which the backup
    /// application (or the operator) can still take it back. Zero by default, as on AWS.
    /// </summary>
    public TimeSpan MinimumExportAge { get; set; } = TimeSpan.Zero;

    /// <summary>S3 Glacier retrieval tier for restores: Expedited, Standard or Bulk (Deep Archive has no Expedited).</summary>
    public RestoreTier RestoreTier { get; set; } = RestoreTier.Standard;

    /// <summary>Days a restored (temporary) copy stays readable; the gateway copies it back well within that.</summary>
    public int RestoreDays { get; set; } = 1;

    public string EffectiveRetrievalSchedule => string.IsNullOrWhiteSpace(RetrievalSchedule) ? Schedule : RetrievalSchedule;
}

internal sealed class ArchiveOptionsValidator : IValidateOptions<ArchiveOptions>
{
    public ValidateOptionsResult Validate(string? name, ArchiveOptions options)
    {
        var problems = new List<string>();
        if (!CronExpression.TryParse(options.Schedule, out _))
        {
            problems.Add($"{ArchiveOptions.SectionName}:Schedule '{options.Schedule}' is not a Quartz cron expression (e.g. \"0/10 * * * * ?\").");
        }

        if (!string.IsNullOrWhiteSpace(options.RetrievalSchedule) && !CronExpression.TryParse(options.RetrievalSchedule, out _))
        {
            problems.Add($"{ArchiveOptions.SectionName}:RetrievalSchedule '{options.RetrievalSchedule}' is not a Quartz cron expression.");
        }

        if (options.MinimumExportAge < TimeSpan.Zero)
        {
            problems.Add($"{ArchiveOptions.SectionName}:MinimumExportAge must not be negative.");
        }

        if (options.RestoreDays is < 1 or > 365)
        {
            problems.Add($"{ArchiveOptions.SectionName}:RestoreDays must be 1–365 (is {options.RestoreDays}).");
        }

        if (!Enum.IsDefined(options.RestoreTier))
        {
            problems.Add($"{ArchiveOptions.SectionName}:RestoreTier must be Expedited, Standard or Bulk.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

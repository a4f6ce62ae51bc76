using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Quartz;
using TapeGateway.Library;

namespace TapeGateway.Archive;

public static class ArchiveServiceCollectionExtensions
{
    /// <summary>
    /// Adds archive-on-export, retrieval and pool moves (section <c>TapeGateway:Archive</c>): the options (validated at
    /// start), <see cref="TapeArchiver"/>, <see cref="TapeRetriever"/>, <see cref="ArchiveOperations"/>, the
    /// <see cref="ArchiveExportHandler"/> in place of the library's default, and a Quartz scheduler with
    /// <see cref="ArchiveJob"/> and <see cref="RetrievalJob"/> on their cron schedules (a hosted service that waits for a
    /// running pass at shutdown). Call it after <c>AddTapeLibrary</c>, so the scheduler starts after the library and
    /// stops before it. The archiver and retriever need an <see cref="Storage.Tapes.ITapeDataTier"/> registration
    /// (the S3 tape tier); until there is one, exports stay plain moves and the jobs do nothing.
    /// </summary>
    public static IServiceCollection AddTapeArchive(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!configuration.GetValue(LibraryOptions.SectionName + ":Enabled", true))
        {
            // No library, no catalog: nothing to archive.
            return services;
        }

        var section = configuration.GetSection(ArchiveOptions.SectionName);
        services.AddOptions<ArchiveOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ArchiveOptions>, ArchiveOptionsValidator>());

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ArchiveCoordinator>();
        services.TryAddSingleton<IArchiveTrigger, QuartzArchiveTrigger>();
        services.TryAddSingleton<TapeArchiver>();
        services.TryAddSingleton<TapeRetriever>();
        services.TryAddSingleton<ArchiveOperations>();

        // Replaces the library's NoExportHandler whichever of the two registrations ran first.
        services.RemoveAll<IExportHandler>();
        services.AddSingleton<IExportHandler, ArchiveExportHandler>();

        // The triggers need their cron when the scheduler is configured, before options exist; an invalid one is
        // reported here with the key to fix rather than as a Quartz parse error.
        var options = section.Get<ArchiveOptions>() ?? new ArchiveOptions();
        var problems = new ArchiveOptionsValidator().Validate(null, options);
        if (problems.Failed)
        {
            throw new OptionsValidationException(ArchiveOptions.SectionName, typeof(ArchiveOptions), problems.Failures);
        }

        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(o =>
            {
                // Quartz keeps started schedulers in a process-wide repository by name; a unique name keeps two hosts
                // in one process (the in-process tests) from sharing one scheduler and each other's DI container.
                o.InstanceName = "TapeGateway-" + Guid.NewGuid().ToString("N")[..8];

                // Every pass is restart-safe, so a shutdown may cancel a long upload or copy instead of waiting it out.
                o.ShutdownJobInterruption = ShutdownJobInterruption.Always;
            });
            q.AddJob<ArchiveJob>(j => j.WithIdentity(ArchiveJob.Key).StoreDurably());
            q.AddTrigger(t => t.ForJob(ArchiveJob.Key).WithIdentity("archive-schedule", ArchiveJob.Key.Group)
                .WithCronSchedule(options.Schedule));
            q.AddJob<RetrievalJob>(j => j.WithIdentity(RetrievalJob.Key).StoreDurably());
            q.AddTrigger(t => t.ForJob(RetrievalJob.Key).WithIdentity("retrieval-schedule", RetrievalJob.Key.Group)
                .WithCronSchedule(options.EffectiveRetrievalSchedule));
        });
        services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        return services;
    }
}

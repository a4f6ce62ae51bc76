using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Quartz;
using TapeGateway.Catalog;

namespace TapeGateway.Archive.Tests;

/// <summary>The Quartz wiring of AddTapeArchive: jobs resolve from DI, a trigger runs them at once, options are checked.</summary>
[Collection(QuartzCollection.Name)]
public sealed class QuartzJobTests
{
    [Fact]
    public async Task Triggering_the_jobs_through_quartz_archives_and_retrieves_an_exported_tape()
    {
        // A long schedule, so only the explicit triggers run the jobs.
        await using var h = await ArchiveHarness.StartAsync(new Dictionary<string, string?> { ["TapeGateway:Archive:Schedule"] = "0 0 0 1 1 ? 2099" });
        var scheduler = await h.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        Assert.StartsWith("TapeGateway-", scheduler.SchedulerName, StringComparison.Ordinal);
        await scheduler.Start();
        try
        {
            var trigger = new QuartzArchiveTrigger(h.Services.GetRequiredService<ISchedulerFactory>(), NullLogger<QuartzArchiveTrigger>.Instance);
            await h.CreateTapeAsync("QTZ001", slot: 1);
            await h.ExportAsync(1, ArchiveHarness.FirstImportExport);

            trigger.RequestArchiveRun();
            await WaitForStateAsync(h, "QTZ001", TapeState.Archived);

            Assert.True((await h.Operations.RetrieveAsync("QTZ001", "api", CancellationToken.None)).Succeeded);
            trigger.RequestRetrievalRun();
            await WaitForStateAsync(h, "QTZ001", TapeState.Retrieved);
        }
        finally
        {
            await scheduler.Shutdown(waitForJobsToComplete: true);
        }
    }

    [Theory]
    [InlineData("TapeGateway:Archive:Schedule", "every ten seconds")]
    [InlineData("TapeGateway:Archive:RestoreDays", "0")]
    [InlineData("TapeGateway:Archive:MinimumExportAge", "-00:01:00")]
    public void Bad_settings_stop_the_start_naming_the_key(string key, string value)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [key] = value })
            .Build();

        var ex = Assert.Throws<OptionsValidationException>(() => { new ServiceCollection().AddTapeArchive(configuration); });

        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }

    private static async Task WaitForStateAsync(ArchiveHarness h, string barcode, TapeState state)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await h.TapeAsync(barcode)).State != state)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{barcode} did not reach {state.ToAwsString()}; it is {(await h.TapeAsync(barcode)).State.ToAwsString()}");
            await Task.Delay(20);
        }
    }
}

/// <summary>
/// Quartz keeps started schedulers in a process-wide repository by name, so two hosts' schedulers must not run at the
/// same time in one test process: the classes that start one share this (serial) collection.
/// </summary>
[CollectionDefinition(Name)]
public sealed class QuartzCollection
{
    public const string Name = "quartz";
}

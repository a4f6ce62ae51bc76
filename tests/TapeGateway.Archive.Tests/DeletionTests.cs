using TapeGateway.Catalog;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Archive.Tests;

/// <summary>Deleting a tape removes its data even when the tier is still busy with it, and never leaves it DELETING.</summary>
public sealed class DeletionTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_tape_deleted_while_the_tier_still_publishes_it_waits_for_the_tier_and_ends_deleted_with_its_objects_gone()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("DEL001", slot: 1);
        await h.Tier.EnsureUploadedAsync("DEL001", None);
        Assert.NotEmpty(await h.ObjectsAsync(TapeTier.Library, "DEL001"));

        lock (h.Tier.Busy)
        {
            h.Tier.Busy.Add("DEL001"); // a publish of the just-unloaded tape is running
        }

        var delete = h.Library.DeleteTapeAsync("DEL001", "api", bypassGovernanceRetention: false, None);
        await Task.Delay(400);
        Assert.False(delete.IsCompleted);
        Assert.Equal(TapeState.Deleting, (await h.TapeAsync("DEL001")).State);

        // The changer is not held while the delete waits for the tier.
        Assert.NotNull(await h.Library.GetCatalogInventoryAsync(None).WaitAsync(TimeSpan.FromSeconds(5)));

        lock (h.Tier.Busy)
        {
            h.Tier.Busy.Remove("DEL001");
        }

        var result = await delete.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.Succeeded);
        Assert.Equal(TapeState.Deleted, result.ActualState);
        Assert.Equal(TapeState.Deleted, (await h.TapeAsync("DEL001")).State);
        Assert.Empty(await h.ObjectsAsync(TapeTier.Library, "DEL001"));
        Assert.Contains("DEL001", h.Tier.Purged);
    }

    [Fact]
    public async Task A_tape_left_deleting_by_a_stop_is_finished_at_the_next_start()
    {
        await using var h = await ArchiveHarness.StartAsync();
        await h.CreateTapeAsync("DEL002", slot: 2);
        await h.Tier.EnsureUploadedAsync("DEL002", None);

        // The catalog step committed, then the gateway stopped before the data went.
        Assert.True((await h.Tapes.DeleteTapeAsync("DEL002", "api", false, None)).Succeeded);
        Assert.Equal(TapeState.Deleting, (await h.TapeAsync("DEL002")).State);
        Assert.NotEmpty(await h.ObjectsAsync(TapeTier.Library, "DEL002"));

        await h.Library.FinishPendingDeletionsAsync(None);
        Assert.Equal(TapeState.Deleted, (await h.TapeAsync("DEL002")).State);
        Assert.Empty(await h.ObjectsAsync(TapeTier.Library, "DEL002"));
        Assert.Contains(await h.Tapes.GetEventsAsync("DEL002"), e => e.Actor == "gateway:start");
    }
}

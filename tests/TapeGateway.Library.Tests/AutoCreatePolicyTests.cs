using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TapeGateway.Catalog;
using TapeGateway.Scsi.Smc;

namespace TapeGateway.Library.Tests;

/// <summary>AWS automatic tape creation through the library: set a policy, import, export, full I/E slots, start-up.</summary>
public sealed class AutoCreatePolicyTests
{
    // The harness library: storage 1–10, I/E 11–14, drives 10001–10002.
    private const ushort Slot1 = 1;
    private const ushort Slot2 = 2;
    private const ushort Drive0 = 10001;
    private const long SmallTape = 16 * TapeCapacity.MiB;

    private static AutoCreatePolicyRequest Policy(string prefix, int minimum) => new(prefix, minimum, SmallTape, Pool.GlacierId, Worm: false);

    private static async Task<List<Tape>> TapesAsync(LibraryTestHarness h, string prefix) =>
        [.. await h.Library.ListTapesAsync(new TapeFilter { BarcodePrefix = prefix }, CancellationToken.None)];

    private static bool InImportExport(LibraryTestHarness h, Tape t) =>
        t.ElementAddress is int a && h.Library.Geometry.TypeOf((ushort)a) == Scsi.Smc.ElementType.ImportExport;

    [Fact]
    public async Task Setting_a_policy_fills_the_IE_slots_up_to_its_minimum_at_once_and_raises_a_unit_attention()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        var attentions = 0;
        h.Library.InventoryChangedExternally += () => attentions++;

        var result = await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 2), CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(["AUT001", "AUT002"], result.Outcome!.Created);
        Assert.Equal(0, result.Outcome.Shortfall);
        var tapes = await TapesAsync(h, "AUT");
        Assert.Equal(2, tapes.Count);
        Assert.All(tapes, t => Assert.True(InImportExport(h, t) && t.State == TapeState.Available && t.CapacityBytes == SmallTape));
        Assert.Equal(1, attentions);

        // Satisfied already: setting it again (or any later run) creates nothing and raises nothing.
        var again = await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 2), CancellationToken.None);
        Assert.Empty(again.Outcome!.Created);
        Assert.Equal(1, attentions);
        var listed = Assert.Single(await h.Library.ListAutoCreatePoliciesAsync(CancellationToken.None));
        Assert.Equal(2, listed.AvailableInImportExport);
    }

    [Fact]
    public async Task Importing_a_tape_spawns_exactly_one_replacement_with_the_next_barcode()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        Assert.True((await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 2), CancellationToken.None)).Succeeded);
        var attentions = 0;
        h.Library.InventoryChangedExternally += () => attentions++;
        var mailslot = (ushort)(await h.WhereIsAsync("AUT001"))!.Value;

        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(mailslot, Slot1, "scsi:test", CancellationToken.None));

        var tapes = await TapesAsync(h, "AUT");
        Assert.Equal(["AUT001", "AUT002", "AUT003"], tapes.Select(t => t.Barcode));
        Assert.Equal(Slot1, await h.WhereIsAsync("AUT001"));
        Assert.True(InImportExport(h, tapes[2]));
        Assert.Equal(1, attentions);

        // An import straight into a drive is an import too.
        var second = (ushort)(await h.WhereIsAsync("AUT002"))!.Value;
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(second, Drive0, "scsi:test", CancellationToken.None));
        Assert.Equal(["AUT001", "AUT002", "AUT003", "AUT004"], (await TapesAsync(h, "AUT")).Select(t => t.Barcode));
        Assert.Equal(2, attentions);
    }

    [Fact]
    public async Task Exports_and_moves_inside_the_library_create_nothing()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        Assert.True((await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 1), CancellationToken.None)).Succeeded);
        await h.CreateTapeAsync("OUT001");
        var attentions = 0;
        h.Library.InventoryChangedExternally += () => attentions++;
        var freeMailslot = (ushort)(h.Library.Geometry.ImportExport.FirstAddress + 1);

        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Slot2, "scsi:test", CancellationToken.None));
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot2, Drive0, "scsi:test", CancellationToken.None));
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Drive0, freeMailslot, "scsi:test", CancellationToken.None));

        Assert.Equal(["AUT001"], (await TapesAsync(h, "AUT")).Select(t => t.Barcode));
        Assert.Equal("OUT001", Assert.Single(h.Exports.Exported).Barcode);
        Assert.Equal(0, attentions);
    }

    [Fact]
    public async Task With_no_free_IE_slot_the_policy_is_stored_the_shortfall_logged_and_the_next_import_fills_one()
    {
        var log = new RecordingLogger<TapeLibrary>();
        await using var h = await LibraryTestHarness.StartAsync(configure: s => s.AddSingleton<ILogger<TapeLibrary>>(log));
        var r = await h.Library.CreateTapesAsync(
            new CreateTapesRequest { LibraryId = h.Library.LibraryId, BarcodePrefix = "OTH", Count = 4, CapacityBytes = SmallTape },
            CancellationToken.None);
        Assert.True(r.Succeeded, r.Message);

        var result = await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 2), CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.Empty(result.Outcome!.Created);
        Assert.Equal(2, result.Outcome.Shortfall);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("AUT is 2 tape(s) short", StringComparison.Ordinal));

        // The import frees one I/E slot: one replacement, still one short, and the move itself is unaffected.
        var mailslot = (ushort)(await h.WhereIsAsync("OTH001"))!.Value;
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(mailslot, Slot1, "scsi:test", CancellationToken.None));

        var aut = Assert.Single(await TapesAsync(h, "AUT"));
        Assert.Equal("AUT001", aut.Barcode);
        Assert.Equal(mailslot, aut.ElementAddress);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("AUT is 1 tape(s) short", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_policy_run_is_logged_and_never_fails_the_move()
    {
        var log = new RecordingLogger<TapeLibrary>();
        await using var h = await LibraryTestHarness.StartAsync(configure: s => s.AddSingleton<ILogger<TapeLibrary>>(log));
        Assert.True((await h.Library.SetAutoCreatePolicyAsync(Policy("BRK", 1), CancellationToken.None)).Succeeded);
        var first = Assert.Single(await TapesAsync(h, "BRK"));
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync((ushort)first.ElementAddress!.Value, Slot2, "scsi:test", CancellationToken.None));
        Assert.Equal(2, (await TapesAsync(h, "BRK")).Count);

        // From now on the catalog refuses every BRK tape, as a full disk or a broken database would.
        await using (var c = await h.Services.GetRequiredService<CatalogConnectionFactory>().OpenAsync())
        {
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TRIGGER refuse_brk BEFORE INSERT ON tapes WHEN NEW.barcode GLOB 'BRK*' BEGIN SELECT RAISE(ABORT, 'simulated catalog failure'); END;";
            await cmd.ExecuteNonQueryAsync();
        }

        var second = (ushort)(await h.WhereIsAsync("BRK002"))!.Value;
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(second, Slot1, "scsi:test", CancellationToken.None));

        Assert.Equal(Slot1, await h.WhereIsAsync("BRK002"));
        Assert.Equal(2, (await TapesAsync(h, "BRK")).Count);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("import of BRK002", StringComparison.Ordinal) && e.Exception is not null);
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Drive0, "scsi:test", CancellationToken.None));
    }

    [Fact]
    public async Task Deleting_a_waiting_tape_through_the_operator_API_tops_the_policy_up_again()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        Assert.True((await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 1), CancellationToken.None)).Succeeded);

        Assert.True((await h.Library.DeleteTapeAsync("AUT001", "api", bypassGovernanceRetention: false, CancellationToken.None)).Succeeded);

        var replacement = Assert.Single(await TapesAsync(h, "AUT"));
        Assert.Equal("AUT002", replacement.Barcode);
        Assert.True(InImportExport(h, replacement));
    }

    [Fact]
    public async Task Refused_policies_change_nothing()
    {
        await using var h = await LibraryTestHarness.StartAsync();

        var badPrefix = await h.Library.SetAutoCreatePolicyAsync(Policy("ab1", 1), CancellationToken.None);
        var badMinimum = await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 11), CancellationToken.None);
        var badPool = await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 1) with { PoolId = "NOWHERE" }, CancellationToken.None);
        var wormData = await h.Library.SetAutoCreatePolicyAsync(Policy("AUT", 1) with { Worm = true, MediaSuffix = "L5" }, CancellationToken.None);

        Assert.Equal(AutoCreatePolicyError.Invalid, badPrefix.Error);
        Assert.Contains("not a valid barcode prefix", badPrefix.Message, StringComparison.Ordinal);
        Assert.Equal(AutoCreatePolicyError.Invalid, badMinimum.Error);
        Assert.Contains("1–10", badMinimum.Message, StringComparison.Ordinal);
        Assert.Equal(AutoCreatePolicyError.PoolNotFound, badPool.Error);
        Assert.Equal(AutoCreatePolicyError.Invalid, wormData.Error);
        Assert.Contains("WORM", wormData.Message, StringComparison.Ordinal);
        Assert.Empty(await h.Library.ListAutoCreatePoliciesAsync(CancellationToken.None));
        Assert.Empty(await TapesAsync(h, "AUT"));
    }

    [Fact]
    public async Task Configured_policies_are_stored_and_applied_at_start_and_survive_a_restart()
    {
        var directory = Directory.CreateTempSubdirectory("tg-library-").FullName;
        var config = new Dictionary<string, string?>
        {
            ["TapeGateway:Library:AutoCreatePolicies:0:Prefix"] = "CFG",
            ["TapeGateway:Library:AutoCreatePolicies:0:MinimumAvailable"] = "2",
            ["TapeGateway:Library:AutoCreatePolicies:0:CapacityMiB"] = "16",
            ["TapeGateway:Library:AutoCreatePolicies:0:Pool"] = "Deep Archive",
            ["TapeGateway:Library:AutoCreatePolicies:0:MediaSuffix"] = "L5",
        };
        var h = await LibraryTestHarness.StartAsync(directory, config);
        var policy = Assert.Single(await h.Library.ListAutoCreatePoliciesAsync(CancellationToken.None));
        Assert.Equal(new AutoCreatePolicy(h.Library.LibraryId, "CFG", 2, SmallTape, Pool.DeepArchiveId, false, "L5"), policy.Policy);
        Assert.Equal(["CFG001L5", "CFG002L5"], (await TapesAsync(h, "CFG")).Select(t => t.Barcode));
        var mailslot = (ushort)(await h.WhereIsAsync("CFG001L5"))!.Value;
        await h.StopAsync();

        // A tape leaves the I/E slots behind the library's back (a catalog move, as if made while the gateway was down;
        // this start runs the stored policy too, but the tape is still there then): the next start tops the slots up.
        var offline = await LibraryTestHarness.StartAsync(directory);
        Assert.True((await offline.Tapes.MoveAsync(offline.Library.LibraryId, mailslot, Slot1, "test")).Succeeded);
        await offline.StopAsync();

        await using var restarted = await LibraryTestHarness.StartAsync(directory, config);
        Assert.Equal(["CFG001L5", "CFG002L5", "CFG003L5"], (await TapesAsync(restarted, "CFG")).Select(t => t.Barcode));
    }

    [Fact]
    public async Task Bad_configured_policies_stop_the_start_with_messages_naming_the_key()
    {
        var directory = Directory.CreateTempSubdirectory("tg-library-").FullName;
        try
        {
            var invalid = await Assert.ThrowsAsync<OptionsValidationException>(() => LibraryTestHarness.StartAsync(directory, new Dictionary<string, string?>
            {
                ["TapeGateway:Library:AutoCreatePolicies:0:Prefix"] = "ab1",
                ["TapeGateway:Library:AutoCreatePolicies:0:MinimumAvailable"] = "11",
                ["TapeGateway:Library:AutoCreatePolicies:1:Prefix"] = "TST",
                ["TapeGateway:Library:AutoCreatePolicies:1:CapacityMiB"] = "0",
                ["TapeGateway:Library:AutoCreatePolicies:1:MediaSuffix"] = "XX",
            }));
            Assert.Contains(invalid.Failures, f => f.StartsWith("TapeGateway:Library:AutoCreatePolicies:0:Prefix 'ab1'", StringComparison.Ordinal));
            Assert.Contains("TapeGateway:Library:AutoCreatePolicies:0:MinimumAvailable must be 1–10 (is 11).", invalid.Failures);
            Assert.Contains(invalid.Failures, f => f.StartsWith("TapeGateway:Library:AutoCreatePolicies:1: Tape capacity 0 bytes", StringComparison.Ordinal));
            Assert.Contains(invalid.Failures, f => f.StartsWith("TapeGateway:Library:AutoCreatePolicies:1:MediaSuffix 'XX'", StringComparison.Ordinal));

            var noPool = await Assert.ThrowsAsync<InvalidOperationException>(() => LibraryTestHarness.StartAsync(directory, new Dictionary<string, string?>
            {
                ["TapeGateway:Library:AutoCreatePolicies:0:Prefix"] = "TST",
                ["TapeGateway:Library:AutoCreatePolicies:0:CapacityMiB"] = "16",
                ["TapeGateway:Library:AutoCreatePolicies:0:Pool"] = "Nowhere",
            }));
            Assert.Equal("TapeGateway:Library:AutoCreatePolicies:0:Pool 'Nowhere' does not exist (standard pools: GLACIER, DEEP_ARCHIVE).", noPool.Message);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

using Microsoft.Extensions.Options;
using TapeGateway.Catalog;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Ssc;
using ElementType = TapeGateway.Scsi.Smc.ElementType;

namespace TapeGateway.Library.Tests;

public sealed class TapeLibraryTests
{
    private const ushort Slot1 = 1;
    private const ushort Slot2 = 2;
    private const ushort Mailslot = 11;
    private const ushort Drive0 = 10001;
    private const ushort Drive1 = 10002;

    [Fact]
    public async Task Geometry_follows_the_AWS_layout_and_drive_descriptors_carry_the_drive_serials()
    {
        await using var h = await LibraryTestHarness.StartAsync();

        Assert.Equal(new ElementRange(1, 10), h.Library.Geometry.Storage);
        Assert.Equal(new ElementRange(11, 4), h.Library.Geometry.ImportExport);
        Assert.Equal(new ElementRange(10001, 2), h.Library.Geometry.DataTransfer);
        Assert.Equal(h.Drives.Select(d => d.SerialNumber), h.Library.Drives.Select(d => d.SerialNumber));
        Assert.Equal([Drive0, Drive1], h.Library.Drives.Select(d => d.ElementAddress));
        Assert.All(h.Library.Drives, d => Assert.Equal("ULT3580-TD5", d.ProductId));
    }

    [Fact]
    public async Task Element_status_reports_barcodes_sources_and_operator_placed_mailslot_tapes()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("AAA001L5");
        await h.CreateTapeAsync("IEE001L5", TapePlacement.ImportExport);

        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));
        var elements = await h.Library.GetElementsAsync(CancellationToken.None);

        var drive = Assert.Single(elements, e => e.Address == Drive0);
        Assert.True(drive.Full);
        Assert.Equal("AAA001L5", drive.VolumeTag);
        Assert.Equal(Slot1, drive.SourceAddress);
        var mail = Assert.Single(elements, e => e.Address == Mailslot);
        Assert.True(mail.PlacedByOperator);
        Assert.Equal([ElementType.MediumTransport, ElementType.Storage, ElementType.ImportExport, ElementType.DataTransfer],
            elements.Select(e => e.Type).Distinct());
    }

    [Fact]
    public async Task A_tape_put_back_through_a_drive_reports_its_own_slot_as_source_and_was_not_placed_by_an_operator()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("HOME01L5");
        await h.CreateTapeAsync("MAIL01L5", TapePlacement.ImportExport);
        foreach (var slot in new ushort[] { Slot1, Mailslot })
        {
            Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(slot, Drive0, "test", CancellationToken.None));
            Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Drive0, slot, "test", CancellationToken.None));
        }

        // SMC-3: the source storage element address "may or may not be the same as this element"; IMPEXP=0 because the
        // medium transport, not an operator, put the cartridge in the mailslot.
        var elements = await h.Library.GetElementsAsync(CancellationToken.None);
        var home = Assert.Single(elements, e => e.Address == Slot1);
        Assert.Equal(Slot1, home.SourceAddress);
        var mail = Assert.Single(elements, e => e.Address == Mailslot);
        Assert.Equal(Mailslot, mail.SourceAddress);
        Assert.False(mail.PlacedByOperator);
    }

    [Fact]
    public async Task Exchange_swap_reports_where_each_tape_came_from_not_the_parking_slot()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("SWPA01L5");
        await h.CreateTapeAsync("SWPB01L5");

        // One picker: the tape from slot 2 waits in free slot 3 while the other goes from slot 1 to slot 2.
        Assert.Equal(ChangerResult.Ok, await h.Library.ExchangeAsync(Slot1, Slot2, Slot1, "test", CancellationToken.None));

        var elements = await h.Library.GetElementsAsync(CancellationToken.None);
        Assert.Equal(("SWPB01L5", (ushort?)Slot2), elements.Where(e => e.Address == Slot1).Select(e => (e.VolumeTag, e.SourceAddress)).Single());
        Assert.Equal(("SWPA01L5", (ushort?)Slot1), elements.Where(e => e.Address == Slot2).Select(e => (e.VolumeTag, e.SourceAddress)).Single());
    }

    [Fact]
    public async Task A_failed_exchange_leaves_every_source_address_as_it_was()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("XFAA01L5");
        await h.CreateTapeAsync("XFAB01L5");
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));
        h.Drives[0].IsRemovalPrevented = true;

        // Slot 2 → slot 3 succeeds, drive → slot 2 is refused, slot 3 → slot 2 undoes the first step.
        Assert.Equal(ChangerResult.MediumRemovalPrevented, await h.Library.ExchangeAsync(Drive0, Slot2, 3, "test", CancellationToken.None));

        var elements = await h.Library.GetElementsAsync(CancellationToken.None);
        var slot2 = Assert.Single(elements, e => e.Address == Slot2);
        Assert.Equal(("XFAB01L5", (ushort?)null, false), (slot2.VolumeTag, slot2.SourceAddress, slot2.Full && elements.Single(e => e.Address == 3).Full));
        Assert.Equal(Slot1, Assert.Single(elements, e => e.Address == Drive0).SourceAddress);
    }

    [Fact]
    public async Task Move_slot_to_drive_creates_the_image_and_loads_it_with_catalog_cartridge_info()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("GEN001L4");

        var result = await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None);

        Assert.Equal(ChangerResult.Ok, result);
        Assert.True(File.Exists(h.Library.ImagePath("GEN001L4")));
        var drive = h.Drives[0];
        Assert.NotNull(drive.Medium);
        Assert.Equal(16 * TapeCapacity.MiB, drive.Medium!.CapacityBytes);
        Assert.Equal(LtoGeneration.Lto4, drive.Cartridge!.Generation);
        Assert.False(drive.Cartridge.ReadOnly);
        Assert.Equal(32, drive.Cartridge.MediumSerialNumber.Length);
        Assert.Equal(Drive0, await h.WhereIsAsync("GEN001L4"));
    }

    [Fact]
    public async Task Move_drive_to_slot_closes_the_image_and_records_used_bytes()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("USE001");
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));
        await h.Drives[0].Medium!.WriteBlockAsync(new byte[100_000], compress: false);
        await h.Drives[0].Medium!.WriteFilemarksAsync(1, immediate: false);

        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Drive0, Slot2, "test", CancellationToken.None));

        Assert.False(h.Drives[0].HasMedium);
        var tape = await h.Tapes.GetTapeAsync("USE001");
        Assert.Equal(Slot2, tape!.ElementAddress);
        Assert.True(tape.UsedBytes >= 100_000, $"used bytes {tape.UsedBytes}");
        Assert.Equal(LtoGeneration.Lto5, TapeLibrary.DescribeCartridge(tape, TapeDrivePersonality.IbmUlt3580Td5).Cartridge!.Generation);
    }

    [Fact]
    public async Task The_configured_compression_level_is_what_the_drives_compress_with()
    {
        // The same compressible record through a library at level -7 and at level 9: both read back whole, and the
        // stronger level stores it in fewer bytes (what the medium counts, as log page 1Bh reports it).
        var record = new byte[256 * 1024];
        var words = "tape drive record filemark changer slot barcode backup restore catalog "u8.ToArray();
        var random = new Random(11);
        for (var i = 0; i < record.Length; i++)
        {
            record[i] = i % 9 == 0 ? (byte)random.Next(32, 127) : words[(i * 7 + (i / 64)) % words.Length];
        }

        var stored = new List<long>();
        foreach (var level in new[] { "-7", "9" })
        {
            await using var h = await LibraryTestHarness.StartAsync(extra: new Dictionary<string, string?> { ["TapeGateway:Library:CompressionLevel"] = level });
            await h.CreateTapeAsync("LVL001");
            Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));
            var medium = (TapeImage)h.Drives[0].Medium!;
            Assert.True((await medium.WriteBlockAsync(record, compress: true)).IsOk);
            Assert.True((await medium.LocateAsync(0)).IsOk);
            var back = new byte[record.Length];
            Assert.True((await medium.ReadBlockAsync(back)).IsOk);
            Assert.Equal(record, back);
            Assert.Equal(1, medium.Statistics.CompressedBlocksWritten);
            stored.Add(medium.Statistics.MediumBytesWritten);
        }

        Assert.True(stored[1] < stored[0], $"level 9 stored {stored[1]} bytes, level -7 {stored[0]}");
    }

    [Fact]
    public async Task Removal_prevented_refuses_the_move_and_changes_nothing()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("PRV001");
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));
        h.Drives[0].IsRemovalPrevented = true;

        Assert.Equal(ChangerResult.MediumRemovalPrevented, await h.Library.MoveAsync(Drive0, Slot1, "test", CancellationToken.None));

        Assert.True(h.Drives[0].HasMedium);
        Assert.Equal(Drive0, await h.WhereIsAsync("PRV001"));
    }

    [Theory]
    [InlineData(9999, 10001, ChangerResult.InvalidElement)]
    [InlineData(0, 10001, ChangerResult.InvalidElement)]
    [InlineData(1, 0, ChangerResult.InvalidElement)]
    [InlineData(2, 10001, ChangerResult.SourceEmpty)]
    [InlineData(1, 3, ChangerResult.DestinationFull)]
    public async Task Bad_moves_map_to_changer_results(int source, int destination, ChangerResult expected)
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("BAD001");
        await h.CreateTapeAsync("BAD002");
        await h.CreateTapeAsync("BAD003");
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot2, 5, "test", CancellationToken.None));

        Assert.Equal(expected, await h.Library.MoveAsync((ushort)source, (ushort)destination, "test", CancellationToken.None));
    }

    [Fact]
    public async Task A_failed_load_rolls_the_catalog_back()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("RBK001");
        h.Drives[0].FailNextLoad = true;

        Assert.Equal(ChangerResult.InternalError, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));

        Assert.Equal(Slot1, await h.WhereIsAsync("RBK001"));
        Assert.False(h.Drives[0].HasMedium);
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));
    }

    [Fact]
    public async Task Newer_generations_are_incompatible_and_two_back_loads_read_only()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("NEW001L6");
        await h.CreateTapeAsync("OLD001L3");

        Assert.Equal(ChangerResult.IncompatibleMedium, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot2, Drive1, "test", CancellationToken.None));
        Assert.True(h.Drives[1].Cartridge!.ReadOnly);
    }

    [Fact]
    public async Task Moving_into_a_mailslot_is_an_export_and_reaches_the_export_seam()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("EXP001");

        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Mailslot, "scsi:test", CancellationToken.None));

        var exported = Assert.Single(h.Exports.Exported);
        Assert.Equal(new ExportedTape("EXP001", Slot1, Mailslot, "scsi:test"), exported);

        // AWS-Gateway-VTL refuses I/E → I/E (SMC device capabilities page); I/E → storage is an import.
        Assert.Equal(ChangerResult.InvalidElement, await h.Library.MoveAsync(Mailslot, Mailslot + 1, "test", CancellationToken.None));
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Mailslot, Slot1, "test", CancellationToken.None));
        Assert.Single(h.Exports.Exported);
    }

    [Fact]
    public async Task Exchange_swaps_a_slot_and_a_drive_or_changes_nothing()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        await h.CreateTapeAsync("XCA001");
        await h.CreateTapeAsync("XCB001");
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot2, Drive0, "test", CancellationToken.None));

        Assert.Equal(ChangerResult.Ok, await h.Library.ExchangeAsync(Slot1, Drive0, Slot1, "test", CancellationToken.None));
        Assert.Equal(Drive0, await h.WhereIsAsync("XCA001"));
        Assert.Equal(Slot1, await h.WhereIsAsync("XCB001"));
        Assert.Equal("XCA001", h.Drives[0].Cartridge!.Barcode);

        h.Drives[0].IsRemovalPrevented = true;
        Assert.Equal(ChangerResult.MediumRemovalPrevented, await h.Library.ExchangeAsync(Slot1, Drive0, Slot1, "test", CancellationToken.None));
        Assert.Equal(Drive0, await h.WhereIsAsync("XCA001"));
        Assert.Equal(Slot1, await h.WhereIsAsync("XCB001"));
    }

    [Fact]
    public async Task Creating_and_deleting_tapes_raise_inventory_changed_and_delete_removes_the_image()
    {
        await using var h = await LibraryTestHarness.StartAsync();
        var changes = 0;
        h.Library.InventoryChangedExternally += () => changes++;
        await h.CreateTapeAsync("DEL001");
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Slot1, Drive0, "test", CancellationToken.None));

        var inDrive = await h.Library.DeleteTapeAsync("DEL001", "test", false, CancellationToken.None);
        Assert.Equal(DeleteTapeStatus.TapeInDrive, inDrive.Status);
        Assert.Equal(ChangerResult.Ok, await h.Library.MoveAsync(Drive0, Slot1, "test", CancellationToken.None));
        var deleted = await h.Library.DeleteTapeAsync("DEL001", "test", false, CancellationToken.None);

        Assert.True(deleted.Succeeded, deleted.Message);
        Assert.False(File.Exists(h.Library.ImagePath("DEL001")));
        Assert.Equal(TapeState.Deleted, (await h.Tapes.GetTapeAsync("DEL001"))!.State);
        Assert.Equal(2, changes);
    }

    [Fact]
    public async Task A_tape_left_in_a_drive_is_reloaded_at_the_next_start_with_its_data()
    {
        var h1 = await LibraryTestHarness.StartAsync();
        await h1.CreateTapeAsync("RST001");
        Assert.Equal(ChangerResult.Ok, await h1.Library.MoveAsync(Slot1, Drive1, "test", CancellationToken.None));
        await h1.Drives[1].Medium!.WriteBlockAsync(new byte[] { 1, 2, 3, 4 }, compress: false);
        await h1.StopAsync();
        Assert.False(h1.Drives[1].HasMedium);

        await using var h2 = await LibraryTestHarness.StartAsync(h1.Directory);

        Assert.Equal("RST001", h2.Drives[1].LoadedBarcode);
        var buffer = new byte[4];
        Assert.Equal(TapeCondition.Ok, (await h2.Drives[1].Medium!.ReadBlockAsync(buffer)).Condition);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, buffer);
    }

    [Fact]
    public async Task Startup_tapes_are_created_in_their_slots_once()
    {
        var extra = new Dictionary<string, string?>
        {
            ["TapeGateway:Library:Tapes:0:Barcode"] = "HRN001L4,HRN002L4",
            ["TapeGateway:Library:Tapes:0:Slot"] = "3",
            ["TapeGateway:Library:Tapes:1:Barcode"] = "MLS001L4",
            ["TapeGateway:Library:Tapes:1:Slot"] = "12",
        };
        var h1 = await LibraryTestHarness.StartAsync(extra: extra);
        Assert.Equal(3, await h1.WhereIsAsync("HRN001L4"));
        Assert.Equal(4, await h1.WhereIsAsync("HRN002L4"));
        Assert.Equal(12, await h1.WhereIsAsync("MLS001L4"));

        // Configured into their slots, not moved there by the robot: no source, and IMPEXP in the mailslot.
        var elements = await h1.Library.GetElementsAsync(CancellationToken.None);
        Assert.All(elements.Where(e => e.Full), e => Assert.Null(e.SourceAddress));
        Assert.True(elements.Single(e => e.Address == 12).PlacedByOperator);
        Assert.Equal(ChangerResult.Ok, await h1.Library.MoveAsync(3, 7, "test", CancellationToken.None));
        await h1.StopAsync();

        await using var h2 = await LibraryTestHarness.StartAsync(h1.Directory, extra);
        Assert.Equal(7, await h2.WhereIsAsync("HRN001L4"));
        Assert.Equal(3, (await h2.Library.ListTapesAsync(null, CancellationToken.None)).Count);
    }

    [Theory]
    [InlineData("ChangerPersonality", "ACME-9000", "ChangerPersonality 'ACME-9000' is unknown")]
    [InlineData("DrivePersonality", "SONY-AIT", "DrivePersonality 'SONY-AIT' is unknown")]
    [InlineData("FirstImportExportAddress", "5", "overlap")]
    [InlineData("Drives", "0", "Drives must be 1–256")]
    [InlineData("TargetPrefix", "IQN.BAD", "TargetPrefix")]
    [InlineData("CompressionLevel", "10", "CompressionLevel must be -7–9 (is 10)")]
    [InlineData("CompressionLevel", "-8", "CompressionLevel must be -7–9 (is -8)")]
    public void Invalid_configuration_is_rejected_with_the_key_named(string key, string value, string expected)
    {
        var options = new LibraryOptions { StorageSlots = 10, ImportExportSlots = 4, Drives = 2 };
        typeof(LibraryOptions).GetProperty(key)!.SetValue(options, key is "Drives" or "FirstImportExportAddress" or "CompressionLevel" ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : value);

        var result = new LibraryOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Startup_tape_outside_the_slots_is_rejected()
    {
        var options = new LibraryOptions { StorageSlots = 10, ImportExportSlots = 1, Drives = 2, Tapes = [new InitialTapeOptions { Barcode = "HRN001L4,HRN002L4", Slot = 10 }] };

        var result = new LibraryOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Tapes:0:Slot 10..11", result.FailureMessage, StringComparison.Ordinal);
        Assert.Equal(ValidateOptionsResult.Success, new LibraryOptionsValidator().Validate(null, new LibraryOptions()));
    }
}

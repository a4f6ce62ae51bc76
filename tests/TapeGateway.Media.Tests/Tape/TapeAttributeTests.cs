using System.Buffers.Binary;
using TapeGateway.Media.Tape;
using static TapeGateway.Media.Tests.Tape.TapeTestKit;

namespace TapeGateway.Media.Tests.Tape;

public sealed class TapeAttributeTests
{
    private static byte[] Ascii(string s) => System.Text.Encoding.ASCII.GetBytes(s);

    [Fact]
    public async Task Initial_and_written_attributes_persist_across_remounts()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store, attributes:
        [
            new TapeAttribute(MamAttributeId.Barcode, Ascii("ABC123L5")),
            new TapeAttribute(MamAttributeId.MediumSerialNumber, Ascii("SN0001")),
        ]))
        {
            var coherency = new byte[] { 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42, 0, 4, 1, 2, 3, 4 };
            var r = await tape.WriteAttributesAsync(
            [
                new TapeAttribute(MamAttributeId.ApplicationVendor, Ascii("TAPEGW  ")),
                new TapeAttribute(MamAttributeId.ApplicationName, Ascii("tests")),
                new TapeAttribute(MamAttributeId.ApplicationVersion, Ascii("1.0")),
                new TapeAttribute(MamAttributeId.VolumeCoherencyInformation, coherency),
            ]);
            Assert.Equal(TapeCondition.Ok, r.Condition);
            Assert.Equal(1, await tape.IncrementLoadCountAsync());
        }

        await using (var again = await ReopenAsync(store))
        {
            Assert.True(again.TryGetAttribute(MamAttributeId.Barcode, out var barcode));
            Assert.Equal("ABC123L5", System.Text.Encoding.ASCII.GetString(barcode.Span));
            Assert.True(again.TryGetAttribute(MamAttributeId.MediumSerialNumber, out _));
            Assert.True(again.TryGetAttribute(MamAttributeId.VolumeCoherencyInformation, out var vci));
            Assert.Equal(22, vci.Length);
            Assert.Equal(
                [MamAttributeId.LoadCount, MamAttributeId.MediumSerialNumber, MamAttributeId.ApplicationVendor, MamAttributeId.ApplicationName,
                 MamAttributeId.ApplicationVersion, MamAttributeId.Barcode, MamAttributeId.VolumeCoherencyInformation],
                again.GetAttributeIds());
            Assert.Equal(2, await again.IncrementLoadCountAsync());

            // An empty value deletes (SPC-4 WRITE ATTRIBUTE).
            await again.WriteAttributesAsync([new TapeAttribute(MamAttributeId.ApplicationName, ReadOnlyMemory<byte>.Empty)]);
            Assert.False(again.TryGetAttribute(MamAttributeId.ApplicationName, out _));
        }

        await using var third = await ReopenAsync(store);
        Assert.False(third.TryGetAttribute(MamAttributeId.ApplicationName, out _));
        Assert.True(third.TryGetAttribute(MamAttributeId.LoadCount, out var count));
        Assert.Equal(2, BinaryPrimitives.ReadInt64BigEndian(count.Span));
    }

    [Fact]
    public async Task Torn_attribute_slot_falls_back_to_the_previous_version()
    {
        var store = new MemoryTapeStore();
        await using (var tape = await NewTapeAsync(store))
        {
            await tape.WriteAttributesAsync([new TapeAttribute(MamAttributeId.Barcode, Ascii("OLD"))]); // sequence 2 -> slot 0
            await tape.WriteAttributesAsync([new TapeAttribute(MamAttributeId.Barcode, Ascii("NEW"))]); // sequence 3 -> slot 1
        }

        var image = store.ToArray();
        image[TapeFormat.AttributeSlotOffset + TapeFormat.AttributeSlotSize + 20] ^= 0x55; // damage the newest slot
        await using var again = await ReopenAsync(new MemoryTapeStore(image));
        Assert.True(again.TryGetAttribute(MamAttributeId.Barcode, out var barcode));
        Assert.Equal("OLD", System.Text.Encoding.ASCII.GetString(barcode.Span));
    }

    [Fact]
    public async Task Attributes_that_do_not_fit_change_nothing()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        await tape.WriteAttributesAsync([new TapeAttribute(MamAttributeId.Barcode, Ascii("KEEP"))]);
        var r = await tape.WriteAttributesAsync(
        [
            new TapeAttribute(0x1000, new byte[40_000]),
            new TapeAttribute(0x1001, new byte[40_000]),
        ]);
        Assert.Equal(TapeCondition.AttributeSpaceExhausted, r.Condition);
        Assert.False(tape.TryGetAttribute(0x1000, out _));
        Assert.True(tape.TryGetAttribute(MamAttributeId.Barcode, out _));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await tape.WriteAttributesAsync([new TapeAttribute(1, new byte[70_000])]));
    }

    [Fact]
    public async Task Load_count_is_maintained_even_when_write_protected()
    {
        var store = new MemoryTapeStore();
        await using var tape = await NewTapeAsync(store);
        tape.SetWriteProtected(true);
        Assert.Equal(1, await tape.IncrementLoadCountAsync());
        Assert.Equal(TapeCondition.WriteProtected, (await tape.WriteAttributesAsync([new TapeAttribute(MamAttributeId.Barcode, Ascii("X"))])).Condition);
    }

    [Fact]
    public async Task Attribute_writes_are_durable_immediately()
    {
        var store = new MemoryTapeStore();
        var tape = await NewTapeAsync(store);
        var flushes = store.FlushCount;
        await tape.WriteAttributesAsync([new TapeAttribute(MamAttributeId.MediaPool, Ascii("pool-a"))]);
        Assert.True(store.FlushCount > flushes);

        // Crash right after (no unload): the attribute is there.
        await using var crashed = await ReopenAsync(new MemoryTapeStore(store.ToArray()));
        Assert.True(crashed.TryGetAttribute(MamAttributeId.MediaPool, out _));
    }
}

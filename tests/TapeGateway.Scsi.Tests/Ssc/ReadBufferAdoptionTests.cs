using System.Buffers;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// A streaming READ(6) takes the drive's read-ahead buffer as its Data-In (<see cref="ScsiTask.Adopt"/>) instead of a
/// copy; what the host receives must be the same bytes, residues and positions either way.
/// </summary>
public sealed class ReadBufferAdoptionTests
{
    [Fact]
    public async Task Streaming_reads_through_the_read_ahead_return_every_record_intact()
    {
        var h = new TapeHarness();
        var image = await h.LoadNewAsync();
        var blocks = Enumerable.Range(0, 12).Select(i => TapeHarness.Block(48 * 1024, 500 + i)).ToArray();
        foreach (var b in blocks)
        {
            await h.WriteRecordAsync(b);
        }

        await h.Good(Cdb.WriteFilemarks(1));
        await h.Good(Cdb.Rewind());
        for (var i = 0; i < blocks.Length; i++)
        {
            if (i > 0)
            {
                await WaitForReadAheadAsync(image, i); // so the READ meets the record in the read-ahead buffer
            }

            var t = await h.Run(Cdb.Read(blocks[i].Length));
            t.AssertGood();
            Assert.Equal(blocks[i], t.Data());
        }

        (await h.Run(Cdb.Read(1024))).AssertSense(SenseKey.NoSense, 0x00, 0x01); // the filemark, as before
        Assert.Equal(blocks.Length + 1, (await h.LongPositionAsync()).Object);
    }

    [Fact]
    public async Task A_read_ahead_record_read_with_a_larger_buffer_still_reports_incorrect_length_with_its_residue()
    {
        var h = new TapeHarness();
        var image = await h.LoadNewAsync();
        var blocks = Enumerable.Range(0, 2).Select(i => TapeHarness.Block(8 * 1024, 600 + i)).ToArray();
        foreach (var b in blocks)
        {
            await h.WriteRecordAsync(b);
        }

        await h.Good(Cdb.Rewind());
        (await h.Run(Cdb.Read(8 * 1024))).AssertGood();
        await WaitForReadAheadAsync(image, 1);

        var t = await h.Run(Cdb.Read(10 * 1024));
        t.AssertSense(SenseKey.NoSense, 0x00, 0x00);
        Assert.Equal(blocks[1], t.Data());
        Assert.Equal(2 * 1024, ReadInformation(t));
    }

    [Fact]
    public void A_task_adopts_only_pooled_arrays_and_hands_back_the_one_it_held()
    {
        var task = new ScsiTask();
        Assert.Null(task.Adopt(ArrayPool<byte>.Shared.Rent(4096), 100)); // nothing held yet
        var held = task.DataIn;
        Assert.Equal(100, held.Length);

        var next = ArrayPool<byte>.Shared.Rent(8192);
        next.AsSpan(0, 10).Fill(7);
        var previous = task.Adopt(next, 10);
        Assert.NotNull(previous);
        Assert.Equal(4096, previous.Length);
        Assert.Equal(Enumerable.Repeat((byte)7, 10), task.DataIn.ToArray());

        Assert.Throws<ArgumentException>(() => task.Adopt(new byte[3000], 10)); // not a pool's size: could not go back
        Assert.Throws<ArgumentOutOfRangeException>(() => task.Adopt(ArrayPool<byte>.Shared.Rent(64), 65));
        Assert.Equal(10, task.DataIn.Length); // a refused adoption changes nothing
    }

    private static long ReadInformation(ScsiTask t)
    {
        var s = t.Sense;
        Assert.True((s[0] & 0x80) != 0, "VALID: INFORMATION holds the residue");
        Assert.True((s[2] & 0x20) != 0, "ILI");
        return System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(s[3..7]);
    }

    private static async Task WaitForReadAheadAsync(TapeImage image, long objectNumber)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (image.ReadAheadObject != objectNumber)
        {
            Assert.True(DateTime.UtcNow < deadline, $"record {objectNumber} was never read ahead");
            await Task.Delay(1);
        }
    }
}

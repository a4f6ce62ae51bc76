using System.Buffers;
using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Sbc;

public sealed partial class DiskLogicalUnit
{
    /// <summary>WRITE SAME writes its pattern in pieces of this size so one command never holds a huge buffer.</summary>
    private const int WriteSameChunkBytes = 1 << 20;

    /// <summary>
    /// SBC-3 §5.28 UNMAP. Only on thin units (LBPU=1); a fully provisioned unit answers INVALID COMMAND OPERATION
    /// CODE, which is what libiscsi unmap_vpd expects when LBPU=0. ANCHOR=1 is INVALID FIELD IN CDB (ANC_SUP=0).
    /// Parameter list (§5.28.2): UNMAP DATA LENGTH (n-1), UNMAP BLOCK DESCRIPTOR DATA LENGTH (n-7), 4 reserved, then
    /// 16-byte descriptors (LBA, NUMBER OF LOGICAL BLOCKS, reserved). PARAMETER LIST LENGTH 0 transfers nothing and
    /// is not an error; 1-7 cannot hold the header (PARAMETER LIST LENGTH ERROR). An incomplete trailing descriptor
    /// is ignored. Every descriptor is validated before any block is unmapped: too many descriptors or too many
    /// blocks in total are INVALID FIELD IN PARAMETER LIST, a range beyond the capacity is LBA OUT OF RANGE.
    /// </summary>
    private static async ValueTask<CommandOutcome> UnmapAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var anchor = (task.Cdb[1] & 0x01) != 0;
        var listLength = BinaryPrimitives.ReadUInt16BigEndian(task.Cdb[7..]);
        if (!unit.IsThin)
        {
            return CommandOutcome.Fail(SenseReason.InvalidCommandOperationCode, SenseDetails.CdbField(0));
        }

        if (anchor)
        {
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        if (unit.IsWriteProtected)
        {
            return CommandOutcome.Fail(SenseReason.WriteProtected);
        }

        task.CommandTransferLength = listLength;
        if (listLength == 0)
        {
            return CommandOutcome.Good;
        }

        if (listLength < 8)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var received = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        var list = received[..Math.Min(received.Length, listLength)];
        if (list.Length < 8)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var (outcome, extents) = unit.ParseUnmapList(list.Span);
        if (!outcome.IsGood || extents.Count == 0)
        {
            return outcome;
        }

        using (await unit._writes.EnterSharedAsync(task.Aborted).ConfigureAwait(false))
        {
            foreach (var (lba, blocks) in extents)
            {
                var done = await unit.DeallocateAsync(lba, blocks, task.Aborted).ConfigureAwait(false);
                if (!done.IsGood)
                {
                    return done;
                }
            }
        }

        return CommandOutcome.Good;
    }

    private (CommandOutcome Outcome, List<(long Lba, long Blocks)> Extents) ParseUnmapList(ReadOnlySpan<byte> list)
    {
        var extents = new List<(long, long)>();
        var dataLength = BinaryPrimitives.ReadUInt16BigEndian(list);
        var descriptorLength = BinaryPrimitives.ReadUInt16BigEndian(list[2..]);
        if (descriptorLength > 0 && dataLength < descriptorLength + 6)
        {
            // The two lengths disagree about how much follows; guessing which one is right could unmap the wrong
            // blocks, so refuse (T10 reflector, Feb 2015: "treat that as an error").
            return (CommandOutcome.InvalidParameterField(0), extents);
        }

        var count = Math.Min(descriptorLength, list.Length - 8) / 16;
        if (count > Limits.MaximumUnmapBlockDescriptorCount)
        {
            return (CommandOutcome.InvalidParameterField(2), extents);
        }

        var total = 0UL;
        for (var i = 0; i < count; i++)
        {
            var d = list.Slice(8 + (16 * i), 16);
            var lba = BinaryPrimitives.ReadUInt64BigEndian(d);
            var blocks = BinaryPrimitives.ReadUInt32BigEndian(d[8..]);
            if (!InRange(lba, blocks))
            {
                return (CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange), extents);
            }

            total += blocks;
            if (total > Limits.MaximumUnmapLbaCount)
            {
                return (CommandOutcome.InvalidParameterField(8 + (16 * i) + 8), extents);
            }

            if (blocks > 0)
            {
                extents.Add(((long)lba, blocks));
            }
        }

        return (CommandOutcome.Good, extents);
    }

    /// <summary>
    /// SBC-3 §5.44 WRITE SAME(10) and §5.45 WRITE SAME(16): one block of Data-Out written to every block of the
    /// range. NUMBER OF LOGICAL BLOCKS 0 means "through the last LBA" (WSNZ=0) and is held to MAXIMUM WRITE SAME
    /// LENGTH like an explicit count (libiscsi writesame*_0blocks). UNMAP=1 with an all-zero pattern deallocates
    /// instead (LBPRZ=1 makes the result identical); UNMAP=1 on a fully provisioned unit is INVALID FIELD IN CDB, as
    /// LBPWS/LBPWS10 are zero there. WRITE SAME(16) NDOB=1: no Data-Out, the pattern is zeros. ANCHOR (ANC_SUP=0),
    /// PBDATA and LBDATA (no protection information / LBA stamping) are INVALID FIELD IN CDB. The Data-Out must be
    /// exactly one block.
    /// </summary>
    private static async ValueTask<CommandOutcome> WriteSameAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        var sixteen = task.OperationCode == WriteSame16;
        var flags = cdb.Flags;
        var unmap = (flags & 0x08) != 0;
        var noDataOut = sixteen && (flags & 0x01) != 0;
        if (cdb.Protect != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 7);
        }

        if ((flags & 0x10) != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 4);
        }

        if ((flags & 0x06) != 0)
        {
            return CommandOutcome.InvalidCdbField(1, (flags & 0x04) != 0 ? 2 : 1);
        }

        if (unmap && !unit.IsThin)
        {
            return CommandOutcome.InvalidCdbField(1, 3);
        }

        if (cdb.Lba > (ulong)unit.BlockCount)
        {
            return CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
        }

        var blocks = cdb.Blocks == 0 ? (ulong)unit.BlockCount - cdb.Lba : cdb.Blocks;
        if (unit.Limits.MaximumWriteSameLength != 0 && blocks > unit.Limits.MaximumWriteSameLength)
        {
            return CommandOutcome.InvalidCdbField(cdb.LengthOffset);
        }

        if (!unit.InRange(cdb.Lba, blocks))
        {
            return CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
        }

        if (unit.IsWriteProtected)
        {
            return CommandOutcome.Fail(SenseReason.WriteProtected);
        }

        var blockSize = unit.BlockSize;
        task.CommandTransferLength = noDataOut ? 0 : blockSize;
        var pattern = ReadOnlyMemory<byte>.Empty;
        if (!noDataOut)
        {
            var data = await task.ReceiveDataOutAsync().ConfigureAwait(false);
            if (data.Length != blockSize)
            {
                return CommandOutcome.Fail(SenseReason.InvalidFieldInCommandInformationUnit);
            }

            pattern = data;
        }

        if (blocks == 0)
        {
            return CommandOutcome.Good;
        }

        using (await unit._writes.EnterSharedAsync(task.Aborted).ConfigureAwait(false))
        {
            // UNMAP=1 deallocates whatever the pattern (as LIO does, and as libiscsi's writesame*_unmap tests expect):
            // with LBPRZ=1 the blocks then read back as zeros.
            if (unmap)
            {
                return await unit.DeallocateAsync((long)cdb.Lba, (long)blocks, task.Aborted).ConfigureAwait(false);
            }

            return await unit.WritePatternAsync(cdb.Lba, blocks, pattern, task.Aborted).ConfigureAwait(false);
        }
    }

    private async ValueTask<CommandOutcome> WritePatternAsync(ulong lba, ulong blocks, ReadOnlyMemory<byte> pattern, CancellationToken ct)
    {
        var chunkBlocks = (int)Math.Min(blocks, (ulong)Math.Max(1, WriteSameChunkBytes / BlockSize));
        var buffer = ArrayPool<byte>.Shared.Rent(chunkBlocks * BlockSize);
        try
        {
            var chunk = buffer.AsMemory(0, chunkBlocks * BlockSize);
            if (pattern.IsEmpty)
            {
                chunk.Span.Clear();
            }
            else
            {
                for (var i = 0; i < chunkBlocks; i++)
                {
                    pattern.Span.CopyTo(chunk.Span[(i * BlockSize)..]);
                }
            }

            for (var done = 0UL; done < blocks;)
            {
                var n = (int)Math.Min((ulong)chunkBlocks, blocks - done);
                var written = await WriteBlocksAsync(lba + done, chunk[..(n * BlockSize)], forceUnitAccess: false, ct).ConfigureAwait(false);
                if (!written.IsGood)
                {
                    return written;
                }

                done += (ulong)n;
            }

            return CommandOutcome.Good;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask<CommandOutcome> DeallocateAsync(long lba, long blocks, CancellationToken ct)
    {
        try
        {
            await Volume.UnmapAsync(lba, blocks, ct).ConfigureAwait(false);
            return CommandOutcome.Good;
        }
        catch (IOException)
        {
            return CommandOutcome.Fail(SenseReason.WriteError, SenseDetails.Info(lba));
        }
    }

    /// <summary>
    /// SBC-3 §5.4 GET LBA STATUS (SERVICE ACTION IN(16) / 12h). Reports provisioning status extents starting at
    /// STARTING LOGICAL BLOCK ADDRESS, as many as fit in the ALLOCATION LENGTH (at least one, at most 64, stopping at
    /// the end of the medium). Parameter data: PARAMETER DATA LENGTH (n-3), 4 reserved, then 16-byte descriptors:
    /// LBA, NUMBER OF LOGICAL BLOCKS, PROVISIONING STATUS (0h mapped, 1h deallocated). A starting LBA past the last
    /// one is LBA OUT OF RANGE.
    /// </summary>
    private static async ValueTask<CommandOutcome> GetLbaStatusAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var start = BinaryPrimitives.ReadUInt64BigEndian(task.Cdb[2..]);
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[10..]);
        if (start >= (ulong)unit.BlockCount)
        {
            return CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
        }

        var maxDescriptors = (int)Math.Clamp((allocationLength - Math.Min(allocationLength, 8u)) / 16, 1u, 64u);
        var data = task.GetDataInBuffer(8 + (16 * maxDescriptors));
        var lba = (long)start;
        var n = 0;
        while (n < maxDescriptors && lba < unit.BlockCount)
        {
            var (mapped, count) = await unit.Volume.GetProvisioningStatusAsync(lba, task.Aborted).ConfigureAwait(false);
            count = Math.Min(count, uint.MaxValue);
            var d = data.Span.Slice(8 + (16 * n), 16);
            BinaryPrimitives.WriteUInt64BigEndian(d, (ulong)lba);
            BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)count);
            d[12] = mapped ? (byte)0x00 : (byte)0x01;
            lba += count;
            n++;
        }

        var length = 8 + (16 * n);
        BinaryPrimitives.WriteUInt32BigEndian(data.Span, (uint)(length - 4));
        task.TrimDataIn((int)Math.Min(length, allocationLength));
        return CommandOutcome.Good;
    }
}

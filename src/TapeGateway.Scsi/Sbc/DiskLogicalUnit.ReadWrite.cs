using System.Buffers;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Sbc;

public sealed partial class DiskLogicalUnit
{
    /*
     * Order of checks for every data command (as LIO's sbc_parse_cdb / sbc_check_prot and libiscsi expect):
     *  1. CDB fields: protection fields must be zero (we report PROTECT=0 in INQUIRY), reserved codes, lengths above
     *     the Block Limits maxima -> INVALID FIELD IN CDB with the field pointer.
     *  2. Range: LBA + length beyond the capacity -> LOGICAL BLOCK ADDRESS OUT OF RANGE (SBC-3 §4.5), also for a
     *     length of zero (libiscsi *_0blocks: LBA = capacity + 1 with length 0 is out of range).
     *  3. Write protection -> DATA PROTECT, WRITE PROTECTED (SBC-3 §4.11) for every command that changes the medium.
     *  4. Data-Out: fewer bytes than the CDB asks for -> ILLEGAL REQUEST, INVALID FIELD IN COMMAND INFORMATION UNIT
     *     with nothing written (the FCP-4 option libiscsi's *_residuals tests accept); more bytes -> the excess is
     *     ignored and the transport reports the residual from CommandTransferLength.
     */

    /// <summary>SBC-3 §5.10-5.13 READ(6/10/12/16). READ(6) TRANSFER LENGTH 0 means 256 blocks; the others transfer nothing.</summary>
    private static async ValueTask<CommandOutcome> ReadAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        var blocks = task.OperationCode == Read6 && cdb.Blocks == 0 ? 256u : cdb.Blocks;
        if (cdb.Protect != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 7);
        }

        if (blocks > unit.Limits.MaximumTransferLength)
        {
            // SBC-3 §6.5.3: a transfer above MAXIMUM TRANSFER LENGTH is INVALID FIELD IN CDB.
            return CommandOutcome.InvalidCdbField(cdb.LengthOffset);
        }

        if (!unit.InRange(cdb.Lba, blocks))
        {
            return CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
        }

        var bytes = (int)blocks * unit.BlockSize;
        task.CommandTransferLength = bytes;
        if (bytes == 0)
        {
            return CommandOutcome.Good;
        }

        // IBlockVolume.ReadAsync fills every byte (holes and short files read as zeros), so no need to zero it first.
        var buffer = task.GetDataInBuffer(bytes, clear: false);
        try
        {
            await unit.Volume.ReadAsync((long)cdb.Lba, buffer, task.Aborted).ConfigureAwait(false);
        }
        catch (IOException)
        {
            task.TrimDataIn(0);
            return CommandOutcome.Fail(SenseReason.UnrecoveredReadError, SenseDetails.Info((long)cdb.Lba));
        }

        return CommandOutcome.Good;
    }

    /// <summary>
    /// How many bytes of whole blocks to write when the initiator sent <paramref name="received"/> bytes for a command
    /// that asked for <paramref name="wanted"/>. FCP-4 §9.4.2 (which iSCSI initiators and libiscsi's residual tests
    /// follow): when the expected transfer length is shorter than the CDB's, process the command normally but move only
    /// what was transferred — the transport reports the overflow residual. A trailing partial block is not written.
    /// </summary>
    private int WholeBlocks(int received, int wanted) => Math.Min(received, wanted) / BlockSize * BlockSize;

    /// <summary>
    /// The part WRITE and WRITE AND VERIFY share: range/protection checks, the command's transfer length for the
    /// transport's residual, and the Data-Out clipped to whole blocks (<see cref="WholeBlocks"/>). An empty result
    /// with a GOOD outcome means there is nothing to write.
    /// </summary>
    private async ValueTask<(CommandOutcome Outcome, ReadOnlyMemory<byte> Data)> ReceiveWriteDataAsync(ScsiTask task, BlockCdb cdb, uint blocks)
    {
        var check = CheckWrite(cdb, blocks);
        if (!check.IsGood)
        {
            return (check, default);
        }

        var bytes = (int)blocks * BlockSize;
        task.CommandTransferLength = bytes;
        if (bytes == 0)
        {
            return (CommandOutcome.Good, default);
        }

        var data = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        return (CommandOutcome.Good, data[..WholeBlocks(data.Length, bytes)]);
    }

    /// <summary>
    /// SBC-3 §5.33-5.36 WRITE(6/10/12/16). FUA=1 (or WCE=0) makes the data durable before GOOD; DPO is a cache
    /// retention hint we accept and ignore. Byte 1 bit 1 (FUA_NV, obsolete) is ignored.
    /// </summary>
    private static async ValueTask<CommandOutcome> WriteAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        var blocks = task.OperationCode == Write6 && cdb.Blocks == 0 ? 256u : cdb.Blocks;
        var (outcome, data) = await unit.ReceiveWriteDataAsync(task, cdb, blocks).ConfigureAwait(false);
        if (!outcome.IsGood || data.IsEmpty)
        {
            return outcome;
        }

        using (await unit._writes.EnterSharedAsync(task.Aborted).ConfigureAwait(false))
        {
            return await unit.WriteBlocksAsync(cdb.Lba, data, cdb.Fua, task.Aborted).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// SBC-3 §5.38-5.40 WRITE AND VERIFY(10/12/16). The data is written durably (verification reads the medium, so it
    /// must be on it); BYTCHK 00b then verifies the blocks are readable, 01b also compares them with the Data-Out
    /// (MISCOMPARE with the byte offset in INFORMATION). BYTCHK 10b/11b are reserved for this command.
    /// </summary>
    private static async ValueTask<CommandOutcome> WriteAndVerifyAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        var byteCheck = (cdb.Flags >> 1) & 0x03;
        if (byteCheck > 1)
        {
            return CommandOutcome.InvalidCdbField(1, 2);
        }

        var (outcome, data) = await unit.ReceiveWriteDataAsync(task, cdb, cdb.Blocks).ConfigureAwait(false);
        if (!outcome.IsGood || data.IsEmpty)
        {
            return outcome;
        }

        using (await unit._writes.EnterSharedAsync(task.Aborted).ConfigureAwait(false))
        {
            var written = await unit.WriteBlocksAsync(cdb.Lba, data, forceUnitAccess: true, task.Aborted).ConfigureAwait(false);
            if (!written.IsGood)
            {
                return written;
            }
        }

        return await unit.CompareWithMediumAsync(cdb.Lba, data, repeatPerBlock: false, byteCheck == 1, task.Aborted).ConfigureAwait(false);
    }

    /// <summary>
    /// SBC-3 §5.29-5.31 VERIFY(10/12/16). BYTCHK 00b: medium verification only — after the range check the blocks are
    /// read (a file has no ECC to exercise, but a failing read is reported as MEDIUM ERROR). 01b: the Data-Out
    /// (VERIFICATION LENGTH blocks) is compared with the medium. 11b: one block of Data-Out is compared with every
    /// block in the range. 10b is reserved. A miscompare is MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION with the
    /// offset of the first differing byte in the Data-Out buffer in INFORMATION (VALID=1).
    /// </summary>
    private static async ValueTask<CommandOutcome> VerifyAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        var byteCheck = (cdb.Flags >> 1) & 0x03;
        if (cdb.Protect != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 7);
        }

        if (byteCheck == 0b10)
        {
            return CommandOutcome.InvalidCdbField(1, 2);
        }

        if (byteCheck == 0b01 && cdb.Blocks > unit.Limits.MaximumTransferLength)
        {
            return CommandOutcome.InvalidCdbField(cdb.LengthOffset);
        }

        if (!unit.InRange(cdb.Lba, cdb.Blocks))
        {
            return CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
        }

        if (cdb.Blocks == 0)
        {
            task.CommandTransferLength = 0;
            return CommandOutcome.Good;
        }

        if (byteCheck == 0)
        {
            task.CommandTransferLength = 0;
            return await unit.CompareWithMediumAsync(cdb.Lba, ReadOnlyMemory<byte>.Empty, repeatPerBlock: false, compare: false, task.Aborted, cdb.Blocks)
                .ConfigureAwait(false);
        }

        var expected = byteCheck == 0b11 ? unit.BlockSize : (int)cdb.Blocks * unit.BlockSize;
        task.CommandTransferLength = expected;
        var data = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (data.Length < expected)
        {
            return CommandOutcome.Fail(SenseReason.InvalidFieldInCommandInformationUnit);
        }

        return await unit.CompareWithMediumAsync(cdb.Lba, data[..expected], repeatPerBlock: byteCheck == 0b11, compare: true, task.Aborted, cdb.Blocks)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// SBC-3 §5.2 COMPARE AND WRITE (VMware ATS). The Data-Out holds NUMBER OF LOGICAL BLOCKS of verify data followed
    /// by as many blocks of write data; under the exclusive write gate the blocks are read and compared with the
    /// verify data, and only on a full match is the write data written. On a miscompare nothing is written and the
    /// sense is MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION with INFORMATION = offset of the first differing byte.
    /// NUMBER OF LOGICAL BLOCKS above MAXIMUM COMPARE AND WRITE LENGTH is INVALID FIELD IN CDB (byte 13); 0 is not
    /// an error and transfers nothing. A Data-Out length other than exactly 2 x NUMBER OF LOGICAL BLOCKS blocks is
    /// rejected (libiscsi compareandwrite_invalid_dataout_size).
    /// </summary>
    private static async ValueTask<CommandOutcome> CompareAndWriteAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        var blocks = task.Cdb[13];
        if (cdb.Protect != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 7);
        }

        // NUMBER OF LOGICAL BLOCKS 0 is a no-op (SBC-3 §5.2), but not when Data-Out comes with it: the count was
        // meant to be larger than one byte can hold (an initiator asking for 256 blocks sends 0), so refuse it.
        if (blocks > unit.Limits.MaximumCompareAndWriteLength
            || (blocks == 0 && task.ExpectedDataTransferLength > 0 && (task.Direction & DataDirection.Write) != 0))
        {
            return CommandOutcome.InvalidCdbField(13);
        }

        if (!unit.InRange(cdb.Lba, blocks))
        {
            return CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
        }

        if (unit.IsWriteProtected)
        {
            return CommandOutcome.Fail(SenseReason.WriteProtected);
        }

        var half = blocks * unit.BlockSize;
        task.CommandTransferLength = 2 * half;
        if (blocks == 0)
        {
            return CommandOutcome.Good;
        }

        var data = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (data.Length != 2 * half)
        {
            return CommandOutcome.Fail(SenseReason.InvalidFieldInCommandInformationUnit);
        }

        var current = ArrayPool<byte>.Shared.Rent(half);
        try
        {
            using (await unit._writes.EnterExclusiveAsync(task.Aborted).ConfigureAwait(false))
            {
                var read = await unit.ReadBlocksAsync(cdb.Lba, current.AsMemory(0, half), task.Aborted).ConfigureAwait(false);
                if (!read.IsGood)
                {
                    return read;
                }

                var verify = data.Span[..half];
                var same = verify.CommonPrefixLength(current.AsSpan(0, half));
                if (same < half)
                {
                    return CommandOutcome.Fail(SenseReason.MiscompareDuringVerify, SenseDetails.Info(same));
                }

                return await unit.WriteBlocksAsync(cdb.Lba, data.Slice(half, half), cdb.Fua, task.Aborted).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
        }
    }

    /// <summary>
    /// SBC-3 §5.5 ORWRITE(16): each block becomes the bitwise OR of its current contents and the Data-Out, read and
    /// written under the exclusive write gate so no other write interleaves. BMOP/ORPROTECT are not supported
    /// (ORPROTECT must be zero); group number ignored.
    /// </summary>
    private static async ValueTask<CommandOutcome> OrWriteAsync(DiskLogicalUnit unit, ScsiTask task)
    {
        var cdb = BlockCdb.Parse(task.Cdb);
        var check = unit.CheckWrite(cdb, cdb.Blocks);
        if (!check.IsGood)
        {
            return check;
        }

        var bytes = (int)cdb.Blocks * unit.BlockSize;
        task.CommandTransferLength = bytes;
        if (bytes == 0)
        {
            return CommandOutcome.Good;
        }

        var data = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (data.Length < bytes)
        {
            return CommandOutcome.Fail(SenseReason.InvalidFieldInCommandInformationUnit);
        }

        var merged = ArrayPool<byte>.Shared.Rent(bytes);
        try
        {
            using (await unit._writes.EnterExclusiveAsync(task.Aborted).ConfigureAwait(false))
            {
                var read = await unit.ReadBlocksAsync(cdb.Lba, merged.AsMemory(0, bytes), task.Aborted).ConfigureAwait(false);
                if (!read.IsGood)
                {
                    return read;
                }

                Or(merged.AsSpan(0, bytes), data.Span[..bytes]);
                return await unit.WriteBlocksAsync(cdb.Lba, merged.AsMemory(0, bytes), cdb.Fua, task.Aborted).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(merged);
        }
    }

    private static void Or(Span<byte> target, ReadOnlySpan<byte> source)
    {
        for (var i = 0; i < target.Length; i++)
        {
            target[i] |= source[i];
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /// <summary>Steps 1-3 of the check order for commands that write <paramref name="blocks"/> from Data-Out.</summary>
    private CommandOutcome CheckWrite(in BlockCdb cdb, uint blocks)
    {
        if (cdb.Protect != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 7);
        }

        if (blocks > Limits.MaximumTransferLength)
        {
            return CommandOutcome.InvalidCdbField(cdb.LengthOffset);
        }

        if (!InRange(cdb.Lba, blocks))
        {
            return CommandOutcome.Fail(SenseReason.LogicalBlockAddressOutOfRange);
        }

        return IsWriteProtected ? CommandOutcome.Fail(SenseReason.WriteProtected) : CommandOutcome.Good;
    }

    /// <summary>Writes through the volume; FUA also when the initiator turned the write cache off (WCE=0).</summary>
    private async ValueTask<CommandOutcome> WriteBlocksAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess, CancellationToken ct)
    {
        try
        {
            await Volume.WriteAsync((long)lba, data, forceUnitAccess || !WriteCacheEnabled, ct).ConfigureAwait(false);
            return CommandOutcome.Good;
        }
        catch (IOException)
        {
            return CommandOutcome.Fail(SenseReason.WriteError, SenseDetails.Info((long)lba));
        }
    }

    private async ValueTask<CommandOutcome> ReadBlocksAsync(ulong lba, Memory<byte> destination, CancellationToken ct)
    {
        try
        {
            await Volume.ReadAsync((long)lba, destination, ct).ConfigureAwait(false);
            return CommandOutcome.Good;
        }
        catch (IOException)
        {
            return CommandOutcome.Fail(SenseReason.UnrecoveredReadError, SenseDetails.Info((long)lba));
        }
    }

    /// <summary>
    /// Reads the range in chunks of at most MAXIMUM TRANSFER LENGTH and, when <paramref name="compare"/> is set,
    /// compares it with <paramref name="expected"/> (the whole range, or one block repeated for every block when
    /// <paramref name="repeatPerBlock"/>). Returns MISCOMPARE with the Data-Out byte offset of the first difference.
    /// </summary>
    private async ValueTask<CommandOutcome> CompareWithMediumAsync(
        ulong lba, ReadOnlyMemory<byte> expected, bool repeatPerBlock, bool compare, CancellationToken ct, uint? blockCount = null)
    {
        var blocks = blockCount ?? (uint)(expected.Length / BlockSize);
        var chunkBlocks = (int)Math.Min(blocks, Math.Max(1u, Limits.MaximumTransferLength));
        var buffer = ArrayPool<byte>.Shared.Rent(chunkBlocks * BlockSize);
        try
        {
            for (var done = 0u; done < blocks;)
            {
                var n = (int)Math.Min((uint)chunkBlocks, blocks - done);
                var chunk = buffer.AsMemory(0, n * BlockSize);
                var read = await ReadBlocksAsync(lba + done, chunk, ct).ConfigureAwait(false);
                if (!read.IsGood)
                {
                    return read;
                }

                if (compare && Miscompare(chunk.Span, expected.Span, repeatPerBlock, done) is { } offset)
                {
                    return CommandOutcome.Fail(SenseReason.MiscompareDuringVerify, SenseDetails.Info(offset));
                }

                done += (uint)n;
            }

            return CommandOutcome.Good;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private long? Miscompare(ReadOnlySpan<byte> medium, ReadOnlySpan<byte> expected, bool repeatPerBlock, uint firstBlock)
    {
        if (!repeatPerBlock)
        {
            var start = (int)firstBlock * BlockSize;
            var same = medium.CommonPrefixLength(expected.Slice(start, medium.Length));
            return same < medium.Length ? start + same : null;
        }

        // BYTCHK 11b: the single Data-Out block is compared with every block; the offset is within that block.
        for (var at = 0; at < medium.Length; at += BlockSize)
        {
            var same = medium.Slice(at, BlockSize).CommonPrefixLength(expected);
            if (same < BlockSize)
            {
                return same;
            }
        }

        return null;
    }
}

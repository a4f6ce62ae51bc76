using System.Buffers;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Ssc;

public sealed partial class TapeDriveLogicalUnit
{
    public const byte Verify6 = 0x13;

    /*
     * SSC-4 VERIFY(6): byte 1 VTE (bit 5), VLBPM (bit 4), VBF (bit 3), IMMED (bit 2), BYTCMP (bit 1), FIXED (bit 0);
     * bytes 2-4 VERIFICATION LENGTH. Backup software verifies a tape after writing it without moving the data to the
     * host: the drive reads the blocks exactly as READ would (every read checks the block's CRC32C) and moves the
     * position the same way; with BYTCMP=1 it also compares them with the Data-Out bytes.
     *  - VTE=0, VBF=0: FIXED=0 verifies one block of VERIFICATION LENGTH bytes (a block of another length is reported
     *    like READ without SILI: ILI, INFORMATION = requested − actual length, positioned after it); FIXED=1 verifies
     *    VERIFICATION LENGTH blocks of the mode block length (a block of another length ends it: ILI, INFORMATION =
     *    blocks not verified).
     *  - VBF=1: VERIFICATION LENGTH counts filemarks; blocks of any length are verified until that many filemarks
     *    have been crossed (positioned after the last). End of data first: BLANK CHECK 00/05, INFORMATION = filemarks
     *    not crossed.
     *  - VTE=1: every block and filemark up to end-of-data is verified, then GOOD, positioned at end-of-data.
     *  - Otherwise as READ: a filemark is NO SENSE 00/01 with FM, end-of-data BLANK CHECK 00/05, a CRC failure MEDIUM
     *    ERROR 11/00, each with INFORMATION = the residue (bytes for FIXED=0, blocks for FIXED=1).
     *  - A miscompare (BYTCMP=1) is MISCOMPARE 1D/00, INFORMATION = the residue counting the block that differed,
     *    positioned after that block.
     *  - VLBPM=1 (verify the logical block protection method's information) needs a method in the Control Data
     *    Protection page; the blocks are stored without it and the information is derived from the block the medium
     *    has just checked against its CRC32C, so it verifies exactly as VLBPM=0 does.
     *  - Refused with INVALID FIELD IN CDB: VLBPM=1 while the method is 00h (no protection, SSC-4 logical block
     *    protection), BYTCMP=1 with VTE or VBF, VTE with VBF, FIXED=1 in variable-block mode.
     *  - IMMED=1 is accepted; status still follows the verification (IMMED only permits earlier status).
     */
    private static async ValueTask<CommandOutcome> VerifyAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var vte = (cdb[1] & 0x20) != 0;
        var vlbpm = (cdb[1] & 0x10) != 0;
        var vbf = (cdb[1] & 0x08) != 0;
        var byteCompare = (cdb[1] & 0x02) != 0;
        var fixedMode = (cdb[1] & 0x01) != 0;
        var length = Read24(cdb[2..]);
        if (vlbpm && unit.ProtectionMethod == LogicalBlockProtection.None)
        {
            return CommandOutcome.InvalidCdbField(1, 4);
        }

        if (vte && vbf)
        {
            return CommandOutcome.InvalidCdbField(1, 5);
        }

        if (byteCompare && (vte || vbf))
        {
            return CommandOutcome.InvalidCdbField(1, 1);
        }

        if (!unit.TryGetReadableMedium(out var medium, out var failure))
        {
            return failure;
        }

        medium.Encryption = unit.EncryptionFor(task.Nexus);
        var blockLength = (int)unit.BlockLength;
        if (fixedMode && !vte && !vbf && blockLength == 0)
        {
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        if (vte || vbf)
        {
            return await VerifyToMarkAsync(unit, task, medium, vte ? long.MaxValue : length).ConfigureAwait(false);
        }

        if (length == 0)
        {
            return CommandOutcome.Good;
        }

        var blocks = fixedMode ? length : 1;
        var size = fixedMode ? blockLength : length;
        if ((long)blocks * size > MaxFixedTransferBytes && fixedMode)
        {
            return CommandOutcome.InvalidCdbField(2);
        }

        ReadOnlyMemory<byte> expected = default;
        if (byteCompare)
        {
            expected = await task.ReceiveDataOutAsync().ConfigureAwait(false);
            if (expected.Length < (long)blocks * size)
            {
                return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
            }
        }

        var scratch = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            for (var i = 0; i < blocks; i++)
            {
                var r = await medium.ReadBlockAsync(scratch.AsMemory(0, size), task.Aborted).ConfigureAwait(false);
                long residue = fixedMode ? blocks - i : length;
                switch (r.Condition)
                {
                    case TapeCondition.Ok:
                        break;
                    case TapeCondition.IncorrectLength:
                        return CommandOutcome.Fail(SenseReason.IncorrectLengthIndicated,
                            SenseDetails.Info(fixedMode ? residue : (long)length - r.BlockLength));
                    default:
                        return unit.ReadFailure(r.Condition, residue);
                }

                if (byteCompare && !scratch.AsSpan(0, size).SequenceEqual(expected.Span.Slice(i * size, size)))
                {
                    return CommandOutcome.Fail(SenseReason.MiscompareDuringVerify, SenseDetails.Info(residue));
                }
            }

            return CommandOutcome.Good;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>VBF / VTE: verifies blocks of any length until <paramref name="filemarks"/> filemarks are crossed or EOD.</summary>
    private static async ValueTask<CommandOutcome> VerifyToMarkAsync(TapeDriveLogicalUnit unit, ScsiTask task, ITapeMedium medium, long filemarks)
    {
        var toEnd = filemarks == long.MaxValue;
        if (filemarks == 0)
        {
            return CommandOutcome.Good;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(unit.Personality.MaxBlockLength);
        try
        {
            var crossed = 0L;
            while (true)
            {
                var r = await medium.ReadBlockAsync(scratch.AsMemory(0, unit.Personality.MaxBlockLength), task.Aborted).ConfigureAwait(false);
                switch (r.Condition)
                {
                    case TapeCondition.Ok or TapeCondition.IncorrectLength:
                        continue;
                    case TapeCondition.FilemarkDetected:
                        if (++crossed == filemarks)
                        {
                            return CommandOutcome.Good;
                        }

                        continue;
                    case TapeCondition.EndOfData when toEnd:
                        return CommandOutcome.Good;
                    default:
                        return unit.ReadFailure(r.Condition, toEnd ? 0 : filemarks - crossed);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }
}

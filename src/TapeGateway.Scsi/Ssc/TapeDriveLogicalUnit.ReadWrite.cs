using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Ssc;

public sealed partial class TapeDriveLogicalUnit
{
    /// <summary>Largest fixed-block-mode READ/WRITE we accept in one command (16 MiB blocks × count could be huge).</summary>
    internal const int MaxFixedTransferBytes = 64 * 1024 * 1024;

    /*
     * SSC-4 READ(6) (implicit address command set):
     *  byte 1: SILI (bit 1) | FIXED (bit 0); bytes 2-4 TRANSFER LENGTH (bytes when FIXED=0, blocks when FIXED=1).
     * Outcomes (SSC-4 READ(6) and §4.2 "incorrect length", "filemark", "end-of-data"):
     *  - record == request: GOOD.
     *  - variable mode, record shorter: CHECK CONDITION, NO SENSE, ILI, INFORMATION = request − record (positive);
     *    longer: ILI, INFORMATION = request − record (negative), the data truncated to the request. SILI=1 suppresses
     *    the underlength report, and the overlength one while the mode block length is 0 (variable mode).
     *  - fixed mode: a block of the wrong length ends the transfer: ILI, INFORMATION = blocks requested − blocks
     *    read, the incorrect-length block not counted (and not transferred); position after it.
     *  - filemark: NO SENSE 00/01 with FM, INFORMATION = residue (bytes in variable mode, blocks in fixed); positioned
     *    after the filemark.
     *  - end of data: BLANK CHECK 00/05, INFORMATION = residue; position unchanged.
     *  - CRC failure: MEDIUM ERROR 11/00, INFORMATION = residue; positioned after the bad block (TapeAlert 03/04/05).
     * Data-In carries only the bytes actually transferred, and CommandTransferLength is set to that number, so the
     * iSCSI underflow residual is requested − transferred (RFC 7143 §11.4.5.1; the tgt bug in RESULTS.md failure 4).
     */
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<CommandOutcome> ReadAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var fixedMode = (cdb[1] & 0x01) != 0;
        var sili = (cdb[1] & 0x02) != 0;
        var length = Read24(cdb[2..]);
        if (!unit.TryGetReadableMedium(out var medium, out var failure))
        {
            task.CommandTransferLength = 0;
            return failure;
        }

        medium.Encryption = unit.EncryptionFor(task.Nexus);
        var blockLength = unit.BlockLength;
        if (fixedMode && sili)
        {
            // SSC-4 READ(6): SILI=1 with FIXED=1 is an error.
            return CommandOutcome.InvalidCdbField(1, 1);
        }

        if (fixedMode && blockLength == 0)
        {
            // FIXED=1 in variable-block mode (block length 0) is an error.
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        if (length == 0)
        {
            // TRANSFER LENGTH 0: no data, no motion, not an error.
            task.CommandTransferLength = 0;
            return CommandOutcome.Good;
        }

        var method = unit.ReadProtectionMethod;
        if (!fixedMode)
        {
            return method == LogicalBlockProtection.None
                ? await ReadVariableAsync(unit, task, medium, length, sili, blockLength).ConfigureAwait(false)
                : await ReadVariableProtectedAsync(unit, task, medium, length, sili, blockLength, method).ConfigureAwait(false);
        }

        var total = (long)length * blockLength;
        if (total > MaxFixedTransferBytes)
        {
            return CommandOutcome.InvalidCdbField(2);
        }

        if (method != LogicalBlockProtection.None && blockLength <= LogicalBlockProtection.InformationLength)
        {
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        return await ReadFixedAsync(unit, task, medium, length, (int)blockLength, method).ConfigureAwait(false);
    }

    /*
     * READ with LBP_R (SSC-4 logical block protection): the application sees every block followed by its protection
     * information, so a block of n bytes on the medium is n + 4 bytes long for READ, and incorrect-length handling
     * applies to that length: a request of exactly n + 4 is GOOD; a shorter one gets the first bytes of data +
     * protection information and ILI with a negative INFORMATION; a longer one gets all n + 4 bytes and ILI with a
     * positive INFORMATION (SILI as for any read). The information is computed from the block as read, which the
     * medium has already checked against its own CRC32C.
     */
    private static async ValueTask<CommandOutcome> ReadVariableProtectedAsync(TapeDriveLogicalUnit unit, ScsiTask task, ITapeMedium medium, int length, bool sili, uint modeBlockLength, byte method)
    {
        var buffer = task.GetDataInBuffer(length, clear: false);
        var r = await medium.ReadBlockAsync(buffer, task.Aborted).ConfigureAwait(false);
        if (r.Condition is not (TapeCondition.Ok or TapeCondition.IncorrectLength))
        {
            task.TrimDataIn(0);
            task.CommandTransferLength = 0;
            return unit.ReadFailure(r.Condition, length);
        }

        var record = r.Condition == TapeCondition.Ok ? length : r.BlockLength;
        var protectedLength = (long)record + LogicalBlockProtection.InformationLength;
        var transferred = (int)Math.Min(length, protectedLength);
        if (record < length)
        {
            Span<byte> information = stackalloc byte[LogicalBlockProtection.InformationLength];
            LogicalBlockProtection.Write(method, buffer.Span[..record], information);
            information[..(transferred - record)].CopyTo(buffer.Span[record..]);
        }

        task.TrimDataIn(transferred);
        task.CommandTransferLength = transferred;
        if (protectedLength == length)
        {
            return CommandOutcome.Good;
        }

        if (sili && (protectedLength < length || modeBlockLength == 0))
        {
            return CommandOutcome.Good;
        }

        return CommandOutcome.Fail(SenseReason.IncorrectLengthIndicated, SenseDetails.Info(length - protectedLength));
    }

    private static async ValueTask<CommandOutcome> ReadVariableAsync(TapeDriveLogicalUnit unit, ScsiTask task, ITapeMedium medium, int length, bool sili, uint modeBlockLength)
    {
        // Not zeroed first: Ok means the record filled it exactly, anything else trims Data-In to what was read. The
        // medium may hand its read-ahead buffer to the task instead of filling this one (one copy less per record).
        var buffer = task.GetDataInBuffer(length, clear: false);
        var r = await medium.ReadBlockAsync(buffer, task, task.Aborted).ConfigureAwait(false);
        switch (r.Condition)
        {
            case TapeCondition.Ok:
                task.CommandTransferLength = length;
                return CommandOutcome.Good;
            case TapeCondition.IncorrectLength:
                task.TrimDataIn(r.BytesTransferred);
                task.CommandTransferLength = r.BytesTransferred;
                var underlength = r.BlockLength < length;
                if (sili && (underlength || modeBlockLength == 0))
                {
                    return CommandOutcome.Good;
                }

                return CommandOutcome.Fail(SenseReason.IncorrectLengthIndicated, SenseDetails.Info((long)length - r.BlockLength));
            default:
                task.TrimDataIn(0);
                task.CommandTransferLength = 0;
                return unit.ReadFailure(r.Condition, length);
        }
    }

    /// <summary>
    /// Fixed-block READ; with LBP_R (<paramref name="method"/> not 00h) each mode-length block the application gets is
    /// the stored block of (block length − 4) bytes followed by its protection information, as LBP_W wrote it.
    /// </summary>
    private static async ValueTask<CommandOutcome> ReadFixedAsync(TapeDriveLogicalUnit unit, ScsiTask task, ITapeMedium medium, int blocks, int blockLength, byte method)
    {
        var buffer = task.GetDataInBuffer(blocks * blockLength, clear: false);
        var stored = method == LogicalBlockProtection.None ? blockLength : blockLength - LogicalBlockProtection.InformationLength;
        for (var i = 0; i < blocks; i++)
        {
            var block = buffer.Slice(i * blockLength, blockLength);
            var r = await medium.ReadBlockAsync(block[..stored], task.Aborted).ConfigureAwait(false);
            if (r.Condition == TapeCondition.Ok)
            {
                if (stored != blockLength)
                {
                    LogicalBlockProtection.Write(method, block.Span[..stored], block.Span[stored..]);
                }

                continue;
            }

            var transferred = i * blockLength;
            task.TrimDataIn(transferred);
            task.CommandTransferLength = transferred;
            return r.Condition == TapeCondition.IncorrectLength
                ? CommandOutcome.Fail(SenseReason.IncorrectLengthIndicated, SenseDetails.Info(blocks - i))
                : unit.ReadFailure(r.Condition, blocks - i);
        }

        task.CommandTransferLength = (long)blocks * blockLength;
        return CommandOutcome.Good;
    }

    /// <summary>Maps a read that moved no data to its sense (SSC-4 READ(6) exception conditions).</summary>
    private CommandOutcome ReadFailure(TapeCondition condition, long residue)
    {
        switch (condition)
        {
            case TapeCondition.FilemarkDetected:
                return CommandOutcome.Fail(SenseReason.FilemarkDetected, SenseDetails.Info(residue));
            case TapeCondition.EndOfData:
                return CommandOutcome.Fail(SenseReason.BlankCheckEndOfData, SenseDetails.Info(residue));

            // SSC-4 §4.2.21 data encryption: the block is passed over, nothing of it is returned.
            case TapeCondition.EncryptedBlock:
                return CommandOutcome.Fail(SenseReason.UnableToDecryptData, SenseDetails.Info(residue));
            case TapeCondition.DecryptionFailed:
                return CommandOutcome.Fail(SenseReason.IncorrectDataEncryptionKey, SenseDetails.Info(residue));
            case TapeCondition.UnencryptedBlock:
                return CommandOutcome.Fail(SenseReason.UnencryptedDataEncounteredWhileDecrypting, SenseDetails.Info(residue));
            default:
                lock (_lock)
                {
                    _counters.ReadUncorrected++;
                    SetAlertLocked(TapeAlertFlag.HardError);
                    SetAlertLocked(TapeAlertFlag.Media);
                    SetAlertLocked(TapeAlertFlag.ReadFailure);
                }

                return CommandOutcome.Fail(SenseReason.UnrecoveredReadError, SenseDetails.Info(residue));
        }
    }

    /*
     * SSC-4 WRITE(6): byte 1 FIXED (bit 0); bytes 2-4 TRANSFER LENGTH. Variable mode writes one block of TRANSFER
     * LENGTH bytes (at most READ BLOCK LIMITS' maximum); fixed mode writes TRANSFER LENGTH blocks of the mode block
     * length. With DCE=1 (Data Compression page) blocks are stored compressed.
     *  - inside the early-warning zone the write still succeeds: CHECK CONDITION, NO SENSE, EOM, 00/02, INFORMATION 0
     *    (SSC-4 §4.2 early warning; applications then finish the volume); past the programmable early-warning point
     *    (PEWS of the Device Configuration Extension page, off by default) the first write to complete reports 00/07
     *    likewise, before early warning if it crosses both (the medium keeps track, see TapeImage.WriteCompleted);
     *  - at the physical end: VOLUME OVERFLOW, EOM, 00/02, INFORMATION = what was not written (the transfer length in
     *    variable mode, the blocks not written in fixed mode);
     *  - DATA PROTECT 27/00 (write protected), 30/05 (generation the drive cannot write), 30/0C (WORM overwrite).
     * The Data-Out buffer is handed to the medium as is: no copy and, with a synchronous store, no allocation.
     */
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<CommandOutcome> WriteAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var fixedMode = (cdb[1] & 0x01) != 0;
        var length = Read24(cdb[2..]);
        if (!unit.TryGetWritableMedium(out var medium, out var failure))
        {
            return failure;
        }

        var blockLength = unit.BlockLength;
        if (fixedMode && blockLength == 0)
        {
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        long bytes = fixedMode ? (long)length * blockLength : length;
        task.CommandTransferLength = bytes;
        if (length == 0)
        {
            return CommandOutcome.Good;
        }

        if ((!fixedMode && (length > unit.Personality.MaxBlockLength || length < unit.Personality.MinBlockLength))
            || bytes > MaxFixedTransferBytes)
        {
            return CommandOutcome.InvalidCdbField(2);
        }

        var data = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (data.Length < bytes)
        {
            // A record must not be cut short by a short Data-Out: refuse it whole, write nothing.
            return CommandOutcome.InvalidCdbField(2);
        }

        var compress = unit.CompressionEnabled;
        medium.Encryption = unit.EncryptionFor(task.Nexus);

        // SSC-4 logical block protection, LBP_W: each block as transferred ends with its protection information; the
        // drive checks it and stores the block without it. A block that fails the check is not written.
        var method = unit.WriteProtectionMethod;
        var information = method == LogicalBlockProtection.None ? 0 : LogicalBlockProtection.InformationLength;
        if (!fixedMode)
        {
            if (information != 0)
            {
                if (length <= information)
                {
                    return CommandOutcome.InvalidCdbField(2);
                }

                if (!LogicalBlockProtection.Check(method, data.Span[..(length - information)], data.Span[(length - information)..length]))
                {
                    return CommandOutcome.Fail(SenseReason.LogicalBlockGuardCheckFailed, SenseDetails.Info(length));
                }
            }

            var r = await medium.WriteBlockAsync(data[..(length - information)], compress, task.Aborted).ConfigureAwait(false);
            return unit.WriteOutcome(r.Condition, length);
        }

        if (information != 0 && blockLength <= information)
        {
            // The mode block length has no room for data besides the protection information.
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        // The command reports a warning its blocks met once all are written. SSC-4 programmable early warning: PEW is
        // reported before the early-warning CHECK CONDITION, so the block that crossed PEW decides over later ones.
        var warning = TapeCondition.Ok;
        var stored = (int)blockLength - information;
        for (var i = 0; i < length; i++)
        {
            var block = data.Slice(i * (int)blockLength, (int)blockLength);
            if (information != 0 && !LogicalBlockProtection.Check(method, block.Span[..stored], block.Span[stored..]))
            {
                return CommandOutcome.Fail(SenseReason.LogicalBlockGuardCheckFailed, SenseDetails.Info(length - i));
            }

            var r = await medium.WriteBlockAsync(block[..stored], compress, task.Aborted).ConfigureAwait(false);
            if (r.Condition is TapeCondition.EarlyWarning or TapeCondition.ProgrammableEarlyWarning)
            {
                warning = warning == TapeCondition.ProgrammableEarlyWarning ? warning : r.Condition;
            }
            else if (r.Condition != TapeCondition.Ok)
            {
                return unit.WriteOutcome(r.Condition, length - i);
            }
        }

        return unit.WriteOutcome(warning, 0);
    }

    /// <summary>Maps a write verb's condition to status and sense (SSC-4 WRITE(6), WRITE FILEMARKS, §4.2 EOM handling).</summary>
    private CommandOutcome WriteOutcome(TapeCondition condition, long residue)
    {
        switch (condition)
        {
            case TapeCondition.Ok:
                return CommandOutcome.Good;
            case TapeCondition.EarlyWarning:
                return CommandOutcome.Fail(SenseReason.EarlyWarning, SenseDetails.Info(0));
            case TapeCondition.ProgrammableEarlyWarning:
                // SSC-4 programmable early warning: the write completed; NO SENSE, EOM, 00/07, reported once per entry
                // into the zone past PEW (READ POSITION's BPEW says it from then on).
                return CommandOutcome.Fail(SenseReason.ProgrammableEarlyWarning, SenseDetails.Info(0));
            case TapeCondition.VolumeOverflow:
                return CommandOutcome.Fail(SenseReason.VolumeOverflow, SenseDetails.Info(residue));
            case TapeCondition.WriteProtected:
                SetAlert(TapeAlertFlag.WriteProtect);
                return CommandOutcome.Fail(SenseReason.WriteProtected);
            case TapeCondition.WormOverwrite:
                return CommandOutcome.Fail(SenseReason.WormMediumOverwriteAttempted);
            default:
                lock (_lock)
                {
                    _counters.WriteUncorrected++;
                    SetAlertLocked(TapeAlertFlag.HardError);
                    SetAlertLocked(TapeAlertFlag.WriteFailure);
                }

                return CommandOutcome.Fail(SenseReason.WriteError, SenseDetails.Info(residue));
        }
    }

    /*
     * SSC-4 WRITE FILEMARKS(6): byte 1 WSMK (bit 1, setmarks: not supported) | IMMED (bit 0); bytes 2-4 FILEMARK
     * COUNT. WRITE FILEMARKS(16) (explicit address): byte 1 FCS/LCS (not supported) | IMMED; byte 3 PARTITION;
     * bytes 4-11 LOGICAL OBJECT IDENTIFIER, which must be the current position; bytes 12-14 FILEMARK COUNT.
     * A count of 0 only makes buffered objects durable (st's MTWEOF 0 / close path); that is allowed on a protected
     * tape. IMMED=0: every object is durable before GOOD.
     */
    private static async ValueTask<CommandOutcome> WriteFilemarksAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var sixteen = cdb[0] == WriteFilemarks16;
        var immediate = (cdb[1] & 0x01) != 0;
        int count;
        if (sixteen)
        {
            if ((cdb[1] & 0x0C) != 0)
            {
                return CommandOutcome.InvalidCdbField(1, 3);
            }

            count = Read24(cdb[12..]);
        }
        else
        {
            if ((cdb[1] & 0x02) != 0)
            {
                return CommandOutcome.InvalidCdbField(1, 1);
            }

            count = Read24(cdb[2..]);
        }

        if (!unit.TryGetReadableMedium(out var medium, out var failure))
        {
            return failure;
        }

        unit.ApplyProgrammableEarlyWarning(medium); // readable is enough here: a count of 0 only synchronises

        if (sixteen)
        {
            var position = medium.ReadPosition();
            if (cdb[3] != position.Partition)
            {
                return CommandOutcome.InvalidCdbField(3);
            }

            if (BinaryPrimitives.ReadUInt64BigEndian(cdb[4..]) != (ulong)position.LogicalObjectNumber)
            {
                return CommandOutcome.InvalidCdbField(4);
            }
        }

        if (count == 0)
        {
            await medium.WriteFilemarksAsync(0, immediate, task.Aborted).ConfigureAwait(false);
            return CommandOutcome.Good;
        }

        if (!unit.TryGetWritableMedium(out medium, out failure))
        {
            return failure;
        }

        var r = await medium.WriteFilemarksAsync(count, immediate, task.Aborted).ConfigureAwait(false);
        return unit.WriteOutcome(r.Condition, r.Residue);
    }

    internal static int Read24(ReadOnlySpan<byte> b) => (b[0] << 16) | (b[1] << 8) | b[2];
}

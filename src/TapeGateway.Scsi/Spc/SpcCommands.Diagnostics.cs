using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

public static partial class SpcCommands
{
    public const byte ReceiveDiagnosticResults = 0x1C;
    public const byte SendDiagnostic = 0x1D;

    /// <summary>SPC-4 §7.2.1 table 449: the Supported Diagnostic Pages page, the only diagnostic page we have.</summary>
    private const byte SupportedDiagnosticPages = 0x00;

    /// <summary>
    /// SPC-4 §6.32 SEND DIAGNOSTIC. Backup software and drive utilities run the default self-test (SELFTEST=1) as a
    /// health check of a drive or a library; a virtual unit has no mechanics to exercise, so the self-test checks
    /// what the unit reports about itself (<see cref="LogicalUnit.CheckReady"/> failures other than a missing medium
    /// are failures) and passes otherwise. The foreground short and extended self-tests (codes 101b, 110b) are the
    /// same test. Background self-tests (001b, 010b, 100b) would need the self-test results log page, which we do not
    /// keep: INVALID FIELD IN CDB. With SELFTEST=0 the parameter list may carry only the Supported Diagnostic Pages
    /// page (PF=1), which has no effect: every other page is INVALID FIELD IN PARAMETER LIST.
    /// </summary>
    private static async ValueTask<CommandOutcome> SendDiagnosticAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var code = cdb[1] >> 5;
        var pf = (cdb[1] & 0x10) != 0;
        var selfTest = (cdb[1] & 0x04) != 0;
        var listLength = BinaryPrimitives.ReadUInt16BigEndian(cdb[3..]);
        if (selfTest)
        {
            // SPC-4 §6.32: with SELFTEST=1 the SELF-TEST CODE is 000b and no parameter list follows.
            if (code != 0)
            {
                return CommandOutcome.InvalidCdbField(1, 7);
            }

            return listLength != 0 ? CommandOutcome.InvalidCdbField(3) : SelfTest(unit);
        }

        switch (code)
        {
            case 0:
                break;
            case 5 or 6:
                // Foreground short / extended self-test: no parameter list (SPC-4 §6.32, table 202).
                return listLength != 0 ? CommandOutcome.InvalidCdbField(3) : SelfTest(unit);
            default:
                return CommandOutcome.InvalidCdbField(1, 7);
        }

        if (listLength == 0)
        {
            return CommandOutcome.Good;
        }

        if (!pf)
        {
            // A vendor-specific parameter list: we define none.
            return CommandOutcome.InvalidCdbField(1, 4);
        }

        var received = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (received.Length < listLength || listLength < 4)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var list = received.Span[..listLength];
        if (list[0] != SupportedDiagnosticPages)
        {
            return CommandOutcome.InvalidParameterField(0);
        }

        return BinaryPrimitives.ReadUInt16BigEndian(list[2..]) != listLength - 4
            ? CommandOutcome.InvalidParameterField(2)
            : CommandOutcome.Good;
    }

    private static CommandOutcome SelfTest(LogicalUnit unit)
    {
        var reason = unit.CheckReady();
        return reason is SenseReason.None or SenseReason.MediumNotPresent or SenseReason.MediumNotPresentTrayClosed
            ? CommandOutcome.Good
            : CommandOutcome.Fail(reason);
    }

    /// <summary>
    /// SPC-4 §6.27 RECEIVE DIAGNOSTIC RESULTS: PCV=1 asks for a page by code (only 00h exists); PCV=0 returns the
    /// page a previous SEND DIAGNOSTIC asked for, which can only have been 00h too (the PAGE CODE is then ignored).
    /// </summary>
    private static ValueTask<CommandOutcome> ReceiveDiagnosticResultsAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var pcv = (cdb[1] & 0x01) != 0;
        if (pcv && cdb[2] != SupportedDiagnosticPages)
        {
            return CommandOutcome.InvalidCdbField(2);
        }

        var allocationLength = BinaryPrimitives.ReadUInt16BigEndian(cdb[3..]);
        var data = task.GetDataInBuffer(5).Span;
        data[0] = SupportedDiagnosticPages;
        data[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(data[2..], 1);
        data[4] = SupportedDiagnosticPages;
        return Respond(task, 5, allocationLength);
    }
}

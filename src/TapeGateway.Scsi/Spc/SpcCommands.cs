using System.Text;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;

namespace TapeGateway.Scsi.Spc;

/// <summary>
/// The SPC-4 commands every device type shares. Device types call <see cref="Register{TUnit}"/> while building their
/// <see cref="CommandTable{TUnit}"/>; handlers take the non-generic <see cref="LogicalUnit"/> (the delegate is
/// contravariant) and reach device-type behaviour through its virtual hooks.
/// CDB usage bitmaps (SPC-4 §6.35.3) have a one for every bit the handler evaluates; bits that are reserved,
/// obsolete or only checked to be rejected (NACA, 3RDPTY, CMDDT) are reported as zero.
/// </summary>
public static partial class SpcCommands
{
    public const byte TestUnitReady = 0x00;
    public const byte RequestSense = 0x03;
    public const byte Inquiry = 0x12;
    public const byte ModeSelect6 = 0x15;
    public const byte Reserve6 = 0x16;
    public const byte Release6 = 0x17;
    public const byte ModeSense6 = 0x1A;
    public const byte LogSense = 0x4D;
    public const byte ModeSelect10 = 0x55;
    public const byte Reserve10 = 0x56;
    public const byte Release10 = 0x57;
    public const byte ModeSense10 = 0x5A;
    public const byte PersistentReserveIn = 0x5E;
    public const byte PersistentReserveOut = 0x5F;
    public const byte ReportLuns = 0xA0;
    public const byte MaintenanceIn = 0xA3;
    public const byte ReportSupportedOperationCodesAction = 0x0C;
    public const byte ReportSupportedTaskManagementFunctionsAction = 0x0D;

    /// <summary>SPC-4 §5.12.1 table 64 "allowed" for both reservation families (and SPC-2 §5.5.1 where noted).</summary>
    private const CommandFlags AllowedUnderPersistent = CommandFlags.AllowedUnderWriteExclusive | CommandFlags.AllowedUnderExclusiveAccess;

    /// <summary>Adds the shared SPC-4 commands to a device type's table.</summary>
    public static CommandTable<TUnit> Register<TUnit>(CommandTable<TUnit> table)
        where TUnit : LogicalUnit<TUnit>
    {
        ArgumentNullException.ThrowIfNull(table);

        // SPC-4 §5.14: INQUIRY and REPORT LUNS neither report nor clear a unit attention; REQUEST SENSE reports it
        // as its data. SPC-2 §5.5.1: INQUIRY, REQUEST SENSE, REPORT LUNS and RELEASE pass a RESERVE by another nexus.
        table.Add(Inquiry, "INQUIRY", InquiryAsync,
            CommandFlags.IgnoresUnitAttention | CommandFlags.AllowedUnderAnyReservation,
            [Inquiry, 0x01, 0xFF, 0xFF, 0xFF, 0x00], "SPC-4 6.6");
        table.Add(ReportLuns, "REPORT LUNS", ReportLunsAsync,
            CommandFlags.IgnoresUnitAttention | CommandFlags.AllowedUnderAnyReservation,
            [ReportLuns, 0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4 6.33");
        table.Add(RequestSense, "REQUEST SENSE", RequestSenseAsync,
            CommandFlags.ReportsUnitAttention | CommandFlags.AllowedUnderAnyReservation,
            [RequestSense, 0x01, 0x00, 0x00, 0xFF, 0x00], "SPC-4 6.29");
        table.Add(TestUnitReady, "TEST UNIT READY", TestUnitReadyAsync,
            AllowedUnderPersistent,
            [TestUnitReady, 0x00, 0x00, 0x00, 0x00, 0x00], "SPC-4 6.37");

        // MODE SENSE is allowed under Write Exclusive only (table 64); MODE SELECT never passes a reservation.
        table.Add(ModeSense6, "MODE SENSE(6)", ModeSenseAsync,
            CommandFlags.AllowedUnderWriteExclusive,
            [ModeSense6, 0x08, 0xFF, 0xFF, 0xFF, 0x00], "SPC-4 6.11");
        table.Add(ModeSense10, "MODE SENSE(10)", ModeSenseAsync,
            CommandFlags.AllowedUnderWriteExclusive,
            [ModeSense10, 0x18, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00], "SPC-4 6.12");
        table.Add(ModeSelect6, "MODE SELECT(6)", ModeSelectAsync,
            CommandFlags.Serialized,
            [ModeSelect6, 0x11, 0x00, 0x00, 0xFF, 0x00], "SPC-4 6.9");
        table.Add(ModeSelect10, "MODE SELECT(10)", ModeSelectAsync,
            CommandFlags.Serialized,
            [ModeSelect10, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00], "SPC-4 6.10");

        table.Add(LogSense, "LOG SENSE", LogSenseAsync,
            AllowedUnderPersistent,
            [LogSense, 0x00, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00], "SPC-4 6.8");

        table.Add(MaintenanceIn, ReportSupportedOperationCodesAction, "REPORT SUPPORTED OPERATION CODES", ReportSupportedOperationCodesAsync,
            AllowedUnderPersistent,
            [MaintenanceIn, 0x1F, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4 6.35");
        table.Add(MaintenanceIn, ReportSupportedTaskManagementFunctionsAction, "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", ReportSupportedTaskManagementFunctionsAsync,
            AllowedUnderPersistent,
            [MaintenanceIn, 0x1F, 0x80, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4 6.36");

        // Table 64: RECEIVE DIAGNOSTIC RESULTS passes Write Exclusive only, SEND DIAGNOSTIC no reservation.
        table.Add(SendDiagnostic, "SEND DIAGNOSTIC", SendDiagnosticAsync, CommandFlags.None,
            [SendDiagnostic, 0xF4, 0x00, 0xFF, 0xFF, 0x00], "SPC-4 6.32");
        table.Add(ReceiveDiagnosticResults, "RECEIVE DIAGNOSTIC RESULTS", ReceiveDiagnosticResultsAsync, CommandFlags.AllowedUnderWriteExclusive,
            [ReceiveDiagnosticResults, 0x01, 0xFF, 0xFF, 0xFF, 0x00], "SPC-4 6.27");

        // The device clock (REPORT TIMESTAMP passes both persistent reservation types, as REPORT SUPPORTED OPERATION
        // CODES does; SET TIMESTAMP changes the unit's state and passes none) and the scratch buffers of READ BUFFER
        // (passes Write Exclusive) and WRITE BUFFER (passes none). Section numbers are left out: cited by command name.
        table.Add(MaintenanceIn, ReportTimestampAction, "REPORT TIMESTAMP", ReportTimestampAsync, AllowedUnderPersistent,
            [MaintenanceIn, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4");
        table.Add(MaintenanceOut, SetTimestampAction, "SET TIMESTAMP", SetTimestampAsync, CommandFlags.None,
            [MaintenanceOut, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4");
        table.Add(ReadBuffer, "READ BUFFER", ReadBufferAsync, CommandFlags.AllowedUnderWriteExclusive,
            [ReadBuffer, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00], "SPC-4");
        table.Add(WriteBuffer, "WRITE BUFFER", WriteBufferAsync, CommandFlags.None,
            [WriteBuffer, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00], "SPC-4");

        table.Add(Reserve6, "RESERVE(6)", ReserveAsync, CommandFlags.None,
            [Reserve6, 0x00, 0x00, 0x00, 0x00, 0x00], "SPC-2 7.21");
        table.Add(Reserve10, "RESERVE(10)", ReserveAsync, CommandFlags.None,
            [Reserve10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], "SPC-2 7.22");
        table.Add(Release6, "RELEASE(6)", ReleaseAsync, CommandFlags.AllowedUnderReserve,
            [Release6, 0x00, 0x00, 0x00, 0x00, 0x00], "SPC-2 7.17");
        table.Add(Release10, "RELEASE(10)", ReleaseAsync, CommandFlags.AllowedUnderReserve,
            [Release10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], "SPC-2 7.18");

        byte[] prIn = [PersistentReserveIn, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00];
        table.Add(PersistentReserveIn, 0x00, "PERSISTENT RESERVE IN (READ KEYS)", PersistentReserveInAsync, AllowedUnderPersistent, prIn, "SPC-4 6.16.2");
        table.Add(PersistentReserveIn, 0x01, "PERSISTENT RESERVE IN (READ RESERVATION)", PersistentReserveInAsync, AllowedUnderPersistent, prIn, "SPC-4 6.16.3");
        table.Add(PersistentReserveIn, 0x02, "PERSISTENT RESERVE IN (REPORT CAPABILITIES)", PersistentReserveInAsync, AllowedUnderPersistent, prIn, "SPC-4 6.16.4");
        table.Add(PersistentReserveIn, 0x03, "PERSISTENT RESERVE IN (READ FULL STATUS)", PersistentReserveInAsync, AllowedUnderPersistent, prIn, "SPC-4 6.16.5");

        // PERSISTENT RESERVE OUT passes reservations (table 64): which nexus may do what is decided per service action.
        byte[] prOut = [PersistentReserveOut, 0x1F, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00];
        // Blocking: with APTPL the new state is written and fsynced (IPersistentReservationStore.Save) before GOOD.
        const CommandFlags prOutFlags = AllowedUnderPersistent | CommandFlags.Serialized | CommandFlags.Blocking;
        table.Add(PersistentReserveOut, 0x00, "PERSISTENT RESERVE OUT (REGISTER)", PersistentReserveOutAsync, prOutFlags, prOut, "SPC-4 6.17.2");
        table.Add(PersistentReserveOut, 0x01, "PERSISTENT RESERVE OUT (RESERVE)", PersistentReserveOutAsync, prOutFlags, prOut, "SPC-4 6.17.2");
        table.Add(PersistentReserveOut, 0x02, "PERSISTENT RESERVE OUT (RELEASE)", PersistentReserveOutAsync, prOutFlags, prOut, "SPC-4 6.17.2");
        table.Add(PersistentReserveOut, 0x03, "PERSISTENT RESERVE OUT (CLEAR)", PersistentReserveOutAsync, prOutFlags, prOut, "SPC-4 6.17.2");
        table.Add(PersistentReserveOut, 0x04, "PERSISTENT RESERVE OUT (PREEMPT)", PersistentReserveOutAsync, prOutFlags, prOut, "SPC-4 6.17.2");
        table.Add(PersistentReserveOut, 0x05, "PERSISTENT RESERVE OUT (PREEMPT AND ABORT)", PersistentReserveOutAsync, prOutFlags, prOut, "SPC-4 6.17.2");
        table.Add(PersistentReserveOut, 0x06, "PERSISTENT RESERVE OUT (REGISTER AND IGNORE EXISTING KEY)", PersistentReserveOutAsync, prOutFlags, prOut, "SPC-4 6.17.2");
        return table;
    }

    /// <summary>
    /// The table of the stand-in for LUNs without a logical unit (SPC-4 §6.6.1, §6.29, §6.33): everything else gets
    /// LOGICAL UNIT NOT SUPPORTED from <see cref="MissingLun"/> itself.
    /// </summary>
    internal static CommandTable<MissingLun> RegisterForMissingLun(CommandTable<MissingLun> table)
    {
        table.Add(Inquiry, "INQUIRY", InquiryAsync, CommandFlags.IgnoresUnitAttention | CommandFlags.AllowedUnderAnyReservation,
            [Inquiry, 0x01, 0xFF, 0xFF, 0xFF, 0x00], "SPC-4 6.6");
        table.Add(ReportLuns, "REPORT LUNS", ReportLunsAsync, CommandFlags.IgnoresUnitAttention | CommandFlags.AllowedUnderAnyReservation,
            [ReportLuns, 0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4 6.33");
        table.Add(RequestSense, "REQUEST SENSE", RequestSenseAsync, CommandFlags.ReportsUnitAttention | CommandFlags.AllowedUnderAnyReservation,
            [RequestSense, 0x01, 0x00, 0x00, 0xFF, 0x00], "SPC-4 6.29");
        return table;
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /// <summary>Clips the produced Data-In to the allocation length (SPC-4 §4.2.5.6): fields keep their full values.</summary>
    private static CommandOutcome Respond(ScsiTask task, int produced, long allocationLength)
    {
        task.TrimDataIn((int)Math.Min(produced, allocationLength));
        return CommandOutcome.Good;
    }

    /// <summary>SPC-4 §4.4.1: ASCII fields are left-aligned and padded with spaces; only 20h–7Eh are allowed.</summary>
    internal static void WriteAscii(Span<byte> destination, string value)
    {
        destination.Fill((byte)' ');
        var n = Math.Min(destination.Length, value.Length);
        for (var i = 0; i < n; i++)
        {
            var c = value[i];
            destination[i] = c is >= ' ' and <= '~' ? (byte)c : (byte)' ';
        }
    }

    /// <summary>Writes a UTF-8 name NUL-terminated and padded with NULs to a multiple of four (SPC-4 §7.8.6.11).</summary>
    private static int WriteNameString(Span<byte> destination, string name, int maxLength)
    {
        var length = PaddedNameLength(name, maxLength);
        destination[..length].Clear();
        if (Encoding.UTF8.GetByteCount(name) < length)
        {
            Encoding.UTF8.GetBytes(name.AsSpan(), destination);
        }
        else
        {
            // Longer than a designator can hold (never for valid iSCSI names, RFC 7143 §4.2.7.1: 223 bytes).
            Encoding.UTF8.GetBytes(name).AsSpan(0, length - 1).CopyTo(destination);
        }

        return length;
    }

    private static int PaddedNameLength(string name, int maxLength)
    {
        var length = (Encoding.UTF8.GetByteCount(name) + 1 + 3) & ~3;
        return Math.Min(length, maxLength & ~3);
    }
}

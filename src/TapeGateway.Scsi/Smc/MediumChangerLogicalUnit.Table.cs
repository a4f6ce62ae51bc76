using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Smc;

public sealed partial class MediumChangerLogicalUnit
{
    public const byte InitializeElementStatus = 0x07;
    public const byte OpenCloseImportExportElement = 0x1B;
    public const byte PreventAllowMediumRemoval = 0x1E;
    public const byte PositionToElement = 0x2B;
    public const byte InitializeElementStatusWithRange = 0x37;
    public const byte MoveMedium = 0xA5;
    public const byte ExchangeMedium = 0xA6;
    public const byte ReadElementStatus = 0xB8;

    /// <summary>
    /// Reservations (SPC-4 §5.12.1 table 64 applied to SMC-3 commands): READ ELEMENT STATUS only reads, so it passes a
    /// Write Exclusive reservation held by another nexus; everything that moves media or changes the changer's state
    /// (MOVE, EXCHANGE, POSITION, INITIALIZE, PREVENT, OPEN/CLOSE) conflicts with any reservation of another nexus.
    /// Commands that move media or change shared state are Serialized: one robot, one move at a time.
    /// </summary>
    /// <remarks>
    /// Every changer command reaches the library backend — the SQLite catalog, tape images opened, sealed and fsynced
    /// on a move — so all of them are <see cref="CommandFlags.Blocking"/>: they run on a worker, never on a
    /// connection's read loop. A changer command is rare; the hop costs nothing that matters.
    /// </remarks>
    private const CommandFlags Mover = CommandFlags.Serialized | CommandFlags.Blocking;

    private static CommandTable<MediumChangerLogicalUnit> BuildCommandTable()
    {
        var t = SpcCommands.Register(new CommandTable<MediumChangerLogicalUnit>());

        // CDB usage bitmaps (SPC-4 §6.35.3): a one for every bit the handler evaluates. Byte 1 bits 7-5 are the
        // obsolete SCSI-2 LUN field, which the Linux ch driver and mtx still fill in: reserved, ignored, reported 0.
        t.Add(ReadElementStatus, "READ ELEMENT STATUS", ReadElementStatusAsync, CommandFlags.AllowedUnderWriteExclusive | CommandFlags.Blocking,
            [ReadElementStatus, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0x03, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SMC-3 6.10");
        t.Add(MoveMedium, "MOVE MEDIUM", MoveMediumAsync, Mover,
            [MoveMedium, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x00], "SMC-3 6.7");
        t.Add(ExchangeMedium, "EXCHANGE MEDIUM", ExchangeMediumAsync, Mover,
            [ExchangeMedium, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x03, 0x00], "SMC-3 6.3");
        t.Add(PositionToElement, "POSITION TO ELEMENT", PositionToElementAsync, Mover,
            [PositionToElement, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x00], "SMC-3 POSITION TO ELEMENT");
        t.Add(InitializeElementStatus, "INITIALIZE ELEMENT STATUS", InitializeElementStatusAsync, Mover,
            [InitializeElementStatus, 0x00, 0x00, 0x00, 0x00, 0x00], "SMC-3 INITIALIZE ELEMENT STATUS");
        t.Add(InitializeElementStatusWithRange, "INITIALIZE ELEMENT STATUS WITH RANGE", InitializeElementStatusAsync, Mover,
            [InitializeElementStatusWithRange, 0x03, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00], "SMC-3 INITIALIZE ELEMENT STATUS WITH RANGE");
        t.Add(PreventAllowMediumRemoval, "PREVENT ALLOW MEDIUM REMOVAL", PreventAllowMediumRemovalAsync, Mover,
            [PreventAllowMediumRemoval, 0x00, 0x00, 0x00, 0x03, 0x00], "SMC-3 / SPC-4 PREVENT ALLOW MEDIUM REMOVAL");
        t.Add(OpenCloseImportExportElement, "OPEN/CLOSE IMPORT/EXPORT ELEMENT", OpenCloseImportExportElementAsync, Mover,
            [OpenCloseImportExportElement, 0x00, 0xFF, 0xFF, 0x1F, 0x00], "SMC-3 OPEN/CLOSE IMPORT/EXPORT ELEMENT");
        return t;
    }
}

using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Ssc;

public sealed partial class TapeDriveLogicalUnit
{
    public const byte Rewind = 0x01;
    public const byte FormatMedium = 0x04;
    public const byte ReadBlockLimits = 0x05;
    public const byte Read6 = 0x08;
    public const byte Write6 = 0x0A;
    public const byte SetCapacity = 0x0B;
    public const byte WriteFilemarks6 = 0x10;
    public const byte Space6 = 0x11;
    public const byte Erase6 = 0x19;
    public const byte LoadUnload = 0x1B;
    public const byte PreventAllowMediumRemoval = 0x1E;
    public const byte Locate10 = 0x2B;
    public const byte ReadPosition = 0x34;
    public const byte ReportDensitySupport = 0x44;
    public const byte LogSelect = 0x4C;
    public const byte WriteFilemarks16 = 0x80;
    public const byte AllowOverwrite = 0x82;
    public const byte ReadAttribute = 0x8C;
    public const byte WriteAttribute = 0x8D;
    public const byte Space16 = 0x91;
    public const byte Locate16 = 0x92;
    public const byte ServiceActionIn12 = 0xAB;
    public const byte ReadMediaSerialNumberAction = 0x01;

    /// <summary>
    /// SPC-4 §5.12.1 table 64 / SSC-4 Annex (reservations): commands that only report state pass every persistent
    /// reservation; reads pass Write Exclusive; anything that moves the tape or changes the medium conflicts.
    /// Every tape command is serialized: position is shared state, and SSC-4 §4.2 requires commands to take effect
    /// in the order received.
    /// </summary>
    private const CommandFlags Query = CommandFlags.AllowedUnderWriteExclusive | CommandFlags.AllowedUnderExclusiveAccess | CommandFlags.Serialized;

    private const CommandFlags ReadLike = CommandFlags.AllowedUnderWriteExclusive | CommandFlags.Serialized;

    private const CommandFlags Motion = CommandFlags.Serialized;

    /// <summary>
    /// Commands that write the image or reach a durability point (fsync) block on the store, so they run on a worker
    /// (<see cref="CommandFlags.Blocking"/>). READ(6) does not: the store serves page-cache hits without blocking and
    /// queues only real disk reads, so a read streamed back at queue depth 1 costs no thread hop.
    /// </summary>
    private const CommandFlags MotionBlocking = Motion | CommandFlags.Blocking;

    private const CommandFlags ReadLikeBlocking = ReadLike | CommandFlags.Blocking;

    private static CommandTable<TapeDriveLogicalUnit> BuildCommandTable()
    {
        var t = SpcCommands.Register(new CommandTable<TapeDriveLogicalUnit>());

        t.Add(Rewind, "REWIND", RewindAsync, MotionBlocking, [Rewind, 0x01, 0x00, 0x00, 0x00, 0x00], "SSC-4");
        t.Add(ReadBlockLimits, "READ BLOCK LIMITS", ReadBlockLimitsAsync, Query & ~CommandFlags.Serialized,
            [ReadBlockLimits, 0x01, 0x00, 0x00, 0x00, 0x00], "SSC-4");
        t.Add(Read6, "READ(6)", ReadAsync, ReadLike, [Read6, 0x03, 0xFF, 0xFF, 0xFF, 0x00], "SSC-4");
        t.Add(Write6, "WRITE(6)", WriteAsync, MotionBlocking, [Write6, 0x01, 0xFF, 0xFF, 0xFF, 0x00], "SSC-4");
        t.Add(WriteFilemarks6, "WRITE FILEMARKS(6)", WriteFilemarksAsync, MotionBlocking, [WriteFilemarks6, 0x01, 0xFF, 0xFF, 0xFF, 0x00], "SSC-4");
        t.Add(WriteFilemarks16, "WRITE FILEMARKS(16)", WriteFilemarksAsync, MotionBlocking,
            [WriteFilemarks16, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00], "SSC-4");
        t.Add(Space6, "SPACE(6)", SpaceAsync, ReadLikeBlocking, [Space6, 0x0F, 0xFF, 0xFF, 0xFF, 0x00], "SSC-4");
        t.Add(Space16, "SPACE(16)", SpaceAsync, ReadLikeBlocking,
            [Space16, 0x0F, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SSC-4");
        t.Add(Locate10, "LOCATE(10)", LocateAsync, ReadLikeBlocking,
            [Locate10, 0x07, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x00], "SSC-4");
        t.Add(Locate16, "LOCATE(16)", LocateAsync, ReadLikeBlocking,
            [Locate16, 0x3B, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00], "SSC-4");
        byte[] readPosition = [ReadPosition, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00];
        t.Add(ReadPosition, 0x00, "READ POSITION (SHORT FORM - BLOCK ID)", ReadPositionAsync, Query, readPosition, "SSC-4");
        t.Add(ReadPosition, 0x01, "READ POSITION (SHORT FORM - VENDOR SPECIFIC)", ReadPositionAsync, Query, readPosition, "SSC-4");
        t.Add(ReadPosition, 0x06, "READ POSITION (LONG FORM)", ReadPositionAsync, Query, readPosition, "SSC-4");
        t.Add(ReadPosition, 0x08, "READ POSITION (EXTENDED FORM)", ReadPositionAsync, Query, readPosition, "SSC-4");
        t.Add(Verify6, "VERIFY(6)", VerifyAsync, ReadLikeBlocking, [Verify6, 0x2F, 0xFF, 0xFF, 0xFF, 0x00], "SSC-4");
        t.Add(Erase6, "ERASE(6)", EraseAsync, MotionBlocking, [Erase6, 0x03, 0x00, 0x00, 0x00, 0x00], "SSC-4");
        t.Add(FormatMedium, "FORMAT MEDIUM", FormatMediumAsync, MotionBlocking, [FormatMedium, 0x03, 0x0F, 0xFF, 0xFF, 0x00], "SSC-4 7.2");
        t.Add(SetCapacity, "SET CAPACITY", SetCapacityAsync, MotionBlocking, [SetCapacity, 0x01, 0x00, 0xFF, 0xFF, 0x00], "SSC-4 7.11");
        t.Add(LoadUnload, "LOAD UNLOAD", LoadUnloadAsync, MotionBlocking, [LoadUnload, 0x01, 0x00, 0x00, 0x0F, 0x00], "SSC-4");
        t.Add(PreventAllowMediumRemoval, "PREVENT ALLOW MEDIUM REMOVAL", PreventAllowAsync, Motion,
            [PreventAllowMediumRemoval, 0x00, 0x00, 0x00, 0x03, 0x00], "SSC-4 / SPC-4");
        t.Add(ReportDensitySupport, "REPORT DENSITY SUPPORT", ReportDensitySupportAsync, Query,
            [ReportDensitySupport, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00], "SSC-4");
        t.Add(LogSelect, "LOG SELECT", LogSelectAsync, Motion,
            [LogSelect, 0x03, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00], "SPC-4");
        t.Add(AllowOverwrite, "ALLOW OVERWRITE", AllowOverwriteAsync, Motion,
            [AllowOverwrite, 0x00, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00], "SSC-4");
        t.Add(ReadAttribute, "READ ATTRIBUTE", ReadAttributeAsync, Query,
            [ReadAttribute, 0x1F, 0x00, 0x00, 0x00, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00], "SPC-4");
        t.Add(WriteAttribute, "WRITE ATTRIBUTE", WriteAttributeAsync, MotionBlocking,
            [WriteAttribute, 0x01, 0x00, 0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4");
        t.Add(SecurityProtocolIn, "SECURITY PROTOCOL IN", SecurityProtocolInAsync, Query,
            [SecurityProtocolIn, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4 6.30 / SSC-4 8.5");
        t.Add(SecurityProtocolOut, "SECURITY PROTOCOL OUT", SecurityProtocolOutAsync, Motion,
            [SecurityProtocolOut, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4 6.31 / SSC-4 8.5");
        t.Add(ServiceActionIn12, ReadMediaSerialNumberAction, "READ MEDIA SERIAL NUMBER", ReadMediaSerialNumberAsync, Query,
            [ServiceActionIn12, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], "SPC-4");
        return t;
    }
}

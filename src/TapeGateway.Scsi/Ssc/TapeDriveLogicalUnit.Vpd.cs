using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Ssc;

/// <summary>
/// Device-type and vendor VPD pages of the tape drive (INQUIRY with EVPD=1). The SPC-4 pages 00h, 80h, 83h and 86h
/// are built by <see cref="SpcCommands"/>; this file answers the SSC-4 pages B0h-B2h and, for IBM personalities, the
/// IBM vendor pages C0h and C1h. Page 00h lists exactly <see cref="LogicalUnit.ExtraVpdPages"/> next to the SPC ones,
/// and every page not listed there is INVALID FIELD IN CDB.
/// </summary>
public sealed partial class TapeDriveLogicalUnit
{
    private const byte VpdSequentialAccessCapabilities = 0xB0;
    private const byte VpdManufacturerAssignedSerialNumber = 0xB1;
    private const byte VpdTapeAlertSupportedFlags = 0xB2;
    private const byte VpdIbmDriveComponentRevisionLevels = 0xC0;
    private const byte VpdIbmDriveSerialNumbers = 0xC1;

    /// <summary>Bit n-1 set for every TapeAlert flag n this drive can raise: the members of <see cref="TapeAlertFlag"/>.</summary>
    internal static ulong SupportedTapeAlertFlags { get; } = Enum.GetValues<TapeAlertFlag>().Aggregate(0UL, static (mask, flag) => mask | (1UL << ((int)flag - 1)));

    /// <summary>The manufacturer-assigned serial number (VPD B1h; IBM VPD C1h manufacturing serial number).</summary>
    public string ManufacturerSerialNumber { get; }

    /// <summary>The tape drive's device-type and vendor VPD pages for its personality, ascending.</summary>
    public override IReadOnlyList<byte> ExtraVpdPages { get; }

    /*
     * B3h AUTOMATION DEVICE SERIAL NUMBER is left out on purpose: SSC-4 has the drive report the serial number an
     * automation device (the library) gave it over an automation/drive interface (ADC). This drive has no such port;
     * the changer is a separate SMC logical unit and reports its own serial in its VPD 80h.
     */
    private static byte[] BuildVpdPageList(TapeDrivePersonality personality) =>
        personality.IbmVpd is null
            ? [VpdSequentialAccessCapabilities, VpdManufacturerAssignedSerialNumber, VpdTapeAlertSupportedFlags]
            : [VpdSequentialAccessCapabilities, VpdManufacturerAssignedSerialNumber, VpdTapeAlertSupportedFlags, VpdIbmDriveComponentRevisionLevels, VpdIbmDriveSerialNumbers];

    /// <summary>Writes the page after its 4-byte header and returns its PAGE LENGTH, or -1 for a page we do not serve.</summary>
    public override int WriteVpdPage(byte page, Span<byte> destination)
    {
        if (!ExtraVpdPages.Contains(page))
        {
            return -1;
        }

        return page switch
        {
            VpdSequentialAccessCapabilities => WriteSequentialAccessCapabilities(destination),
            VpdManufacturerAssignedSerialNumber => WriteManufacturerAssignedSerialNumber(destination),
            VpdTapeAlertSupportedFlags => WriteTapeAlertSupportedFlags(destination),
            VpdIbmDriveComponentRevisionLevels => WriteIbmDriveComponentRevisionLevels(destination, Personality.IbmVpd!),
            VpdIbmDriveSerialNumbers => WriteIbmDriveSerialNumbers(destination),
            _ => -1,
        };
    }

    /// <summary>
    /// SSC-4 Sequential-Access Device Capabilities VPD page (B0h), PAGE LENGTH 0002h: byte 4 bit 0 WORM
    /// (WORM media supported), bit 1 TSMC (tape stream mirroring, not supported).
    /// </summary>
    private int WriteSequentialAccessCapabilities(Span<byte> d)
    {
        d[..2].Clear();
        d[0] = Personality.SupportsWorm ? (byte)0x01 : (byte)0x00;
        return 2;
    }

    /// <summary>
    /// SSC-4 §8.4.3 Manufacturer-assigned Serial Number VPD page (B1h): PAGE LENGTH n-3, then the MANUFACTURER-ASSIGNED
    /// SERIAL NUMBER as right-aligned ASCII. The page exists so the manufacturer's serial survives a library assigning
    /// the drive another one for VPD 80h; sized to the serial, as 80h is (at most 252 bytes, one page of ours).
    /// </summary>
    private int WriteManufacturerAssignedSerialNumber(Span<byte> d)
    {
        var length = Math.Min(ManufacturerSerialNumber.Length, 252);
        SpcCommands.WriteAscii(d[..length], ManufacturerSerialNumber[^length..]);
        return length;
    }

    /// <summary>
    /// SSC-4 TapeAlert Supported Flags VPD page (B2h), PAGE LENGTH 0008h: a 64-bit map, byte 4 bit 7 = flag 01h down to
    /// byte 11 bit 0 = flag 40h, set for each flag the drive can raise. Those are exactly the <see cref="TapeAlertFlag"/>
    /// values the drive sets into log page 2Eh, so the two never disagree.
    /// </summary>
    private static int WriteTapeAlertSupportedFlags(Span<byte> d)
    {
        d[..8].Clear();
        for (var flag = 1; flag <= 64; flag++)
        {
            if ((SupportedTapeAlertFlags & (1UL << (flag - 1))) != 0)
            {
                d[(flag - 1) / 8] |= (byte)(0x80 >> ((flag - 1) % 8));
            }
        }

        return 8;
    }

    /// <summary>
    /// IBM LTO vendor page C0h, Drive Component Revision Levels (IBM LTO SCSI Reference, INQUIRY; layout as sg3_utils'
    /// sg_vpd decodes it for IBM LTO, "dcrl"), PAGE LENGTH 27h: bytes 4-15 code name, 16-22 time (hhmmss), 23-30 date
    /// (yyyymmdd), 31-42 platform, ASCII and space padded. The code name is the product revision level of standard
    /// INQUIRY, so ITDT-style tools show the same firmware level in both.
    /// </summary>
    private int WriteIbmDriveComponentRevisionLevels(Span<byte> d, IbmDriveVpd vpd)
    {
        SpcCommands.WriteAscii(d[..12], Personality.ProductRevision);
        SpcCommands.WriteAscii(d.Slice(12, 7), vpd.BuildTime);
        SpcCommands.WriteAscii(d.Slice(19, 8), vpd.BuildDate);
        SpcCommands.WriteAscii(d.Slice(27, 12), vpd.Platform);
        return 0x27;
    }

    /// <summary>
    /// IBM LTO vendor page C1h, Drive Serial Numbers (IBM LTO SCSI Reference, INQUIRY; layout as sg_vpd decodes it for
    /// IBM LTO, "dsn"), PAGE LENGTH 18h: bytes 4-15 manufacturing serial number (as B1h), bytes 16-27 reported serial
    /// number (as 80h), 12 ASCII bytes each, left-aligned and space padded (a longer serial is cut to 12).
    /// </summary>
    private int WriteIbmDriveSerialNumbers(Span<byte> d)
    {
        SpcCommands.WriteAscii(d[..12], ManufacturerSerialNumber);
        SpcCommands.WriteAscii(d.Slice(12, 12), Identity.SerialNumber);
        return 0x18;
    }
}

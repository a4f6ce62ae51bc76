using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;

namespace TapeGateway.Scsi.Spc;

public static partial class SpcCommands
{
    public const int StandardInquiryLength = 96;

    private const byte VpdSupportedPages = 0x00;
    private const byte VpdUnitSerialNumber = 0x80;
    private const byte VpdDeviceIdentification = 0x83;
    private const byte VpdExtendedInquiry = 0x86;

    /// <summary>Largest VPD page we build (device-type pages included); well inside INQUIRY's 16-bit allocation length.</summary>
    private const int MaxVpdLength = 4096;

    private static ValueTask<CommandOutcome> InquiryAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        if ((cdb[1] & 0x02) != 0)
        {
            // CMDDT was made obsolete by SPC-3; SPC-4 §6.6.1 treats it as reserved.
            return CommandOutcome.InvalidCdbField(1, 1);
        }

        var evpd = (cdb[1] & 0x01) != 0;
        var page = cdb[2];
        var allocationLength = BinaryPrimitives.ReadUInt16BigEndian(cdb[3..]);
        if (!evpd)
        {
            if (page != 0)
            {
                // SPC-4 §6.6.1: a page code with EVPD=0 is an error.
                return CommandOutcome.InvalidCdbField(2);
            }

            var data = task.GetDataInBuffer(StandardInquiryLength).Span;
            WriteStandardInquiry(unit, data);
            return Respond(task, StandardInquiryLength, allocationLength);
        }

        return WriteVpdPage(unit, task, page, allocationLength);
    }

    /*
     * SPC-4 §6.6.2 standard INQUIRY data, 96 bytes so the eight version descriptors (58-73) fit:
     *  0 PQ|PDT   1 RMB   2 VERSION   3 NORMACA|HISUP|RESPONSE DATA FORMAT   4 ADDITIONAL LENGTH
     *  5 SCCS|ACC|TPGS|3PC|PROTECT   6 ENCSERV|MULTIP|...   7 CMDQUE   8-15 VENDOR   16-31 PRODUCT   32-35 REVISION
     */
    private static void WriteStandardInquiry(LogicalUnit unit, Span<byte> d)
    {
        d[0] = PeripheralByte(unit);
        d[1] = unit.RemovableMedium ? (byte)0x80 : (byte)0;
        d[2] = unit.VersionDescriptorLevel;
        d[3] = 0x10 | 0x02; // HISUP: LUNs are hierarchical (SAM-5 §4.7); response data format 2.
        d[4] = StandardInquiryLength - 5;
        d[5] = 0x00; // no ALUA (TPGS 00b), no third-party copy, no protection information.
        d[6] = 0x00;
        d[7] = 0x02; // CMDQUE: full task management model (SAM-5), required with VERSION >= 5.
        WriteAscii(d.Slice(8, 8), unit.Identity.VendorId);
        WriteAscii(d.Slice(16, 16), unit.Identity.ProductId);
        WriteAscii(d.Slice(32, 4), unit.Identity.ProductRevision);
        var descriptors = unit.VersionDescriptors;
        for (var i = 0; i < Math.Min(8, descriptors.Count); i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d[(58 + (2 * i))..], descriptors[i]);
        }
    }

    private static byte PeripheralByte(LogicalUnit unit) => (byte)((unit.PeripheralQualifier << 5) | ((byte)unit.DeviceType & 0x1F));

    /// <summary>The VPD pages served, ascending and without duplicates (SPC-4 §7.8.13; libiscsi checks the order).</summary>
    internal static List<byte> SupportedVpdPages(LogicalUnit unit)
    {
        if (unit.PeripheralQualifier != 0)
        {
            return [VpdSupportedPages];
        }

        var pages = new List<byte> { VpdSupportedPages, VpdUnitSerialNumber, VpdDeviceIdentification, VpdExtendedInquiry };
        foreach (var p in unit.ExtraVpdPages)
        {
            if (!pages.Contains(p))
            {
                pages.Add(p);
            }
        }

        pages.Sort();
        return pages;
    }

    private static CommandOutcome WriteVpdPage(LogicalUnit unit, ScsiTask task, byte page, int allocationLength)
    {
        var supported = SupportedVpdPages(unit);
        if (!supported.Contains(page))
        {
            return CommandOutcome.InvalidCdbField(2);
        }

        var d = task.GetDataInBuffer(MaxVpdLength).Span;
        d[0] = PeripheralByte(unit);
        d[1] = page;
        int length;
        switch (page)
        {
            case VpdSupportedPages:
                for (var i = 0; i < supported.Count; i++)
                {
                    d[4 + i] = supported[i];
                }

                length = supported.Count;
                break;
            case VpdUnitSerialNumber:
                // SPC-4 §7.8.15: the serial number is right-aligned ASCII; we size the page to it instead of padding.
                length = Math.Min(unit.Identity.SerialNumber.Length, 252);
                WriteAscii(d.Slice(4, length), unit.Identity.SerialNumber);
                break;
            case VpdDeviceIdentification:
                length = WriteDeviceIdentification(unit, task.Nexus, d[4..]);
                break;
            case VpdExtendedInquiry:
                // SPC-4 §7.8.7: only the task attributes are worth reporting; the transport delivers tasks in CmdSN
                // order and honours HEAD OF QUEUE, ORDERED and SIMPLE (HEADSUP, ORDSUP, SIMPSUP).
                length = 0x3C;
                d[5] = 0x07;
                break;
            default:
                length = unit.WriteVpdPage(page, d[4..]);
                if (length < 0)
                {
                    return CommandOutcome.InvalidCdbField(2);
                }

                break;
        }

        BinaryPrimitives.WriteUInt16BigEndian(d[2..], (ushort)length);
        task.TrimDataIn(4 + length);
        return Respond(task, 4 + length, allocationLength);
    }

    /*
     * SPC-4 §7.8.6 designation descriptors: byte 0 PROTOCOL IDENTIFIER|CODE SET, byte 1 PIV|ASSOCIATION|TYPE,
     * byte 3 length. Logical unit: NAA (binary) and T10 vendor ID (ASCII). Target port (association 01b, iSCSI
     * protocol 5h, PIV=1): relative target port (type 4h) and SCSI name string (type 8h, "iqn…,t,0x…"). Target device
     * (association 10b): SCSI name string of the target.
     */
    private static int WriteDeviceIdentification(LogicalUnit unit, ItNexus? nexus, Span<byte> d)
    {
        var n = 0;

        d[n] = 0x01;
        d[n + 1] = 0x03;
        d[n + 3] = 8;
        BinaryPrimitives.WriteUInt64BigEndian(d[(n + 4)..], unit.Identity.NaaIdentifier);
        n += 12;

        var serial = unit.Identity.SerialNumber;
        var t10Length = Math.Min(8 + 16 + serial.Length, 252);
        d[n] = 0x02;
        d[n + 1] = 0x01;
        d[n + 3] = (byte)t10Length;
        WriteAscii(d.Slice(n + 4, 8), unit.Identity.VendorId);
        WriteAscii(d.Slice(n + 12, 16), unit.Identity.ProductId);
        WriteAscii(d.Slice(n + 28, t10Length - 24), serial);
        n += 4 + t10Length;

        if (nexus is not null)
        {
            d[n] = 0x51;
            d[n + 1] = 0x94;
            d[n + 3] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(d[(n + 6)..], nexus.RelativeTargetPortId);
            n += 8;

            d[n] = 0x53;
            d[n + 1] = 0x98;
            var portLength = WriteNameString(d[(n + 4)..], nexus.TargetPortName, 252);
            d[n + 3] = (byte)portLength;
            n += 4 + portLength;
        }

        var targetName = unit.Target?.Name ?? nexus?.TargetName;
        if (targetName is not null)
        {
            d[n] = 0x53;
            d[n + 1] = 0xA8;
            var nameLength = WriteNameString(d[(n + 4)..], targetName, 252);
            d[n + 3] = (byte)nameLength;
            n += 4 + nameLength;
        }

        return n;
    }
}

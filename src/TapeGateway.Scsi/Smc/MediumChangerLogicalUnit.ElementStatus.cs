using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Smc;

public sealed partial class MediumChangerLogicalUnit
{
    public const int ElementStatusHeaderLength = 8;
    public const int ElementStatusPageHeaderLength = 8;
    public const int ElementDescriptorBaseLength = 12;
    public const int VolumeTagLength = 36;

    /// <summary>Code set, identifier type, reserved, IDENTIFIER LENGTH: present in every descriptor (length 0 without DVCID).</summary>
    public const int IdentifierHeaderLength = 4;

    /// <summary>BYTE COUNT OF REPORT AVAILABLE is a 24-bit field (SMC-3 §6.10.2).</summary>
    public const int MaxReportBytes = 0xFF_FFFF;

    private const int T10VendorAndProductLength = 8 + 16;

    /*
     * SMC-3 §6.10 READ ELEMENT STATUS (B8h, 12 bytes):
     *  1  obsolete LUN (7-5, ignored) | VOLTAG (4) | ELEMENT TYPE CODE (3-0: 0 all, 1 MT, 2 ST, 3 I/E, 4 DT)
     *  2-3 STARTING ELEMENT ADDRESS     4-5 NUMBER OF ELEMENTS
     *  6  CURDATA (1) | DVCID (0)       7-9 ALLOCATION LENGTH
     * Data: an 8-byte element status data header, then one element status page per run of elements of one type, each
     * an 8-byte page header and fixed-length element descriptors.
     *
     * Selection follows the libraries' documented behaviour (StorageTek, Quantum, IBM): elements of the requested type
     * whose address is >= STARTING ELEMENT ADDRESS, in ascending address order, at most NUMBER OF ELEMENTS of them
     * (the address need not be an element itself). When no element qualifies the answer is ILLEGAL REQUEST, INVALID
     * ELEMENT ADDRESS: mtx's "all elements" polling loop relies on exactly that to learn it has reached the end.
     *
     * Allocation length (SMC-3 §6.10.2, SPC-4 §4.2.5.6): nothing in the headers is adjusted to it — NUMBER OF ELEMENTS
     * AVAILABLE, BYTE COUNT OF REPORT AVAILABLE and every page's BYTE COUNT OF DESCRIPTOR DATA AVAILABLE describe the
     * whole report — and the data is cut at ALLOCATION LENGTH bytes, even inside a descriptor. mtx first asks with a
     * buffer it estimates, reads bytes 5-7 and asks again with 8 + that count when the first answer was short.
     *
     * CURDATA ("do not move the robot to find out") is accepted and ignored: status always comes from the catalog.
     */
    private static async ValueTask<CommandOutcome> ReadElementStatusAsync(MediumChangerLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var volTag = (cdb[1] & 0x10) != 0;
        var typeCode = cdb[1] & 0x0F;
        if (typeCode > (int)ElementType.DataTransfer)
        {
            return CommandOutcome.InvalidCdbField(1, 3);
        }

        var start = BinaryPrimitives.ReadUInt16BigEndian(cdb[2..]);
        var requested = BinaryPrimitives.ReadUInt16BigEndian(cdb[4..]);
        var dvcid = (cdb[6] & 0x01) != 0;
        var allocationLength = (cdb[7] << 16) | (cdb[8] << 8) | cdb[9];

        var all = await unit.Backend.GetElementsAsync(task.Aborted).ConfigureAwait(false);
        var selected = Select(all, (ElementType)typeCode, start);
        if (selected.Count == 0)
        {
            return InvalidElement(2);
        }

        var layout = new ReportLayout(volTag, dvcid ? unit.DvcidIdentifierLength() : 0);

        // Take at most NUMBER OF ELEMENTS, and no more than fits the 24-bit BYTE COUNT OF REPORT AVAILABLE (only a
        // library of tens of thousands of elements with long identifiers could reach it); mtx continues from the next
        // address when fewer than requested come back.
        var take = 0;
        long reportBytes = 0;
        for (var i = 0; i < selected.Count && take < requested; i++)
        {
            var pageHeader = i == 0 || selected[i].Type != selected[i - 1].Type ? ElementStatusPageHeaderLength : 0;
            var next = reportBytes + pageHeader + layout.DescriptorLength(selected[i].Type);
            if (next > MaxReportBytes)
            {
                break;
            }

            reportBytes = next;
            take++;
        }

        var length = (int)Math.Min(ElementStatusHeaderLength + reportBytes, allocationLength);
        var data = task.GetDataInBuffer(length).Span;
        var writer = new ReportWriter(data);

        Span<byte> header = stackalloc byte[ElementStatusHeaderLength];
        header.Clear();
        if (take > 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(header, selected[0].Address);
        }

        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)take);
        WriteUInt24(header[5..], (int)reportBytes);
        writer.Write(header);

        Span<byte> descriptor = stackalloc byte[ElementDescriptorBaseLength + VolumeTagLength + IdentifierHeaderLength + 255];
        var drives = unit.Backend.Drives;
        for (var i = 0; i < take && !writer.Full; i++)
        {
            var element = selected[i];
            var descriptorLength = layout.DescriptorLength(element.Type);
            if (i == 0 || element.Type != selected[i - 1].Type)
            {
                var run = 1;
                while (i + run < take && selected[i + run].Type == element.Type)
                {
                    run++;
                }

                header.Clear();
                header[0] = (byte)element.Type;
                header[1] = (byte)(volTag ? 0x80 : 0x00); // PVOLTAG; AVOLTAG (bit 6) never: no alternate tags.
                BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)descriptorLength);
                WriteUInt24(header[5..], run * descriptorLength);
                writer.Write(header);
            }

            var d = descriptor[..descriptorLength];
            unit.WriteDescriptor(element, layout, drives, d);
            writer.Write(d);
        }

        return CommandOutcome.Good;
    }

    /// <summary>Elements of <paramref name="type"/> (or all) at or above <paramref name="start"/>, by address.</summary>
    private static List<ElementStatus> Select(IReadOnlyList<ElementStatus> all, ElementType type, ushort start)
    {
        var result = new List<ElementStatus>();
        foreach (var e in all)
        {
            if ((type == ElementType.All || e.Type == type) && e.Address >= start)
            {
                result.Add(e);
            }
        }

        result.Sort(static (a, b) => a.Address.CompareTo(b.Address));
        return result;
    }

    /*
     * SMC-3 §6.10 element descriptors, common part (bytes 0-11):
     *  0-1 ELEMENT ADDRESS
     *  2   MT: EXCEPT(2) FULL(0); ST and DT: ACCESS(3) EXCEPT(2) FULL(0);
     *      I/E: OIR(7) CMC(6) INENAB(5) EXENAB(4) ACCESS(3) EXCEPT(2) IMPEXP(1) FULL(0)
     *  4   ADDITIONAL SENSE CODE   5 ADDITIONAL SENSE CODE QUALIFIER (why EXCEPT is set)
     *  6   DT only: NOT BUS(7) ID VALID(5) LU VALID(4) LOGICAL UNIT NUMBER(2-0)   7 DT: SCSI BUS ADDRESS
     *  9   SVALID(7) INVERT(6) ED(3) MEDIUM TYPE(2-0)     10-11 SOURCE STORAGE ELEMENT ADDRESS
     * then PRIMARY VOLUME TAG INFORMATION (36 bytes, with VOLTAG: 32 bytes of ASCII volume identifier left-aligned
     * and space-padded, 2 reserved, 2 VOLUME SEQUENCE NUMBER), then the device identifier: CODE SET (n, bits 3-0),
     * ASSOCIATION/IDENTIFIER TYPE (n+1), reserved, IDENTIFIER LENGTH (n+3), IDENTIFIER. Without DVCID, or for
     * elements other than drives, the identifier length is 0 — the 4 bytes stay, so descriptors are 16 bytes bare and
     * 52 with VOLTAG, as IBM's and StorageTek's libraries report.
     */
    private void WriteDescriptor(ElementStatus e, in ReportLayout layout, IReadOnlyList<DriveDescriptor> drives, Span<byte> d)
    {
        d.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(d, e.Address);
        byte flags = 0;
        if (e.Full)
        {
            flags |= 0x01;
        }

        if (e.Exception)
        {
            flags |= 0x04;
        }

        switch (e.Type)
        {
            case ElementType.Storage or ElementType.DataTransfer:
                flags |= (byte)(e.Accessible ? 0x08 : 0);
                break;
            case ElementType.ImportExport:
                // INENAB and EXENAB: the mailslot can both import and export. ACCESS=0 while an initiator has opened it
                // for the operator (OPEN/CLOSE IMPORT/EXPORT ELEMENT). IMPEXP: the medium was put there by an operator
                // (a tape created or retrieved into the mailslot), not by the robot — only meaningful when full.
                flags |= 0x20 | 0x10;
                flags |= (byte)(e.Accessible && !IsImportExportOpen(e.Address) ? 0x08 : 0);
                flags |= (byte)(e.Full && e.PlacedByOperator ? 0x02 : 0);
                break;
        }

        d[2] = flags;
        d[4] = e.AdditionalSenseCode;
        d[5] = e.AdditionalSenseQualifier;

        var drive = e.Type == ElementType.DataTransfer ? FindDrive(drives, e.Address) : null;
        if (drive?.Lun is { } lun && lun.Value <= 7)
        {
            // LU VALID with the drive's LUN (3 bits) and ID VALID=0: the Linux ch driver then looks the drive up at the
            // changer's own target id with this LUN — right exactly when the drive is a LUN of the changer's target,
            // which is when the library service fills in DriveDescriptor.Lun. Otherwise ch prints "ID/LUN unknown".
            d[6] = (byte)(0x10 | lun.Value);
        }

        if (e.Full && e.SourceAddress is { } source)
        {
            d[9] = 0x80; // SVALID
            BinaryPrimitives.WriteUInt16BigEndian(d[10..], source);
        }

        var n = ElementDescriptorBaseLength;
        if (layout.VolumeTag)
        {
            if (e.Full && !string.IsNullOrEmpty(e.VolumeTag))
            {
                // Reported in full (up to 32 characters) whatever the personality's MaxBarcodeLength: see ChangerPersonality.
                Spc.SpcCommands.WriteAscii(d.Slice(n, 32), e.VolumeTag);
            }

            n += VolumeTagLength;
        }

        if (layout.IdentifierLength > 0 && drive is not null)
        {
            // T10 vendor ID based identifier (code set 2 ASCII, identifier type 1, association 0 = the drive's logical
            // unit): vendor 8 + product 16 + serial, the serial left-aligned and space-padded to the common width. It
            // must equal the drive's VPD 80h serial: NetBackup and Veeam map drives to robot positions with it.
            d[n] = 0x02;
            d[n + 1] = 0x01;
            d[n + 3] = (byte)layout.IdentifierLength;
            Spc.SpcCommands.WriteAscii(d.Slice(n + 4, 8), drive.VendorId);
            Spc.SpcCommands.WriteAscii(d.Slice(n + 12, 16), drive.ProductId);
            Spc.SpcCommands.WriteAscii(d.Slice(n + 4 + T10VendorAndProductLength, layout.IdentifierLength - T10VendorAndProductLength), drive.SerialNumber);
        }
    }

    /// <summary>
    /// Identifier length of DVCID descriptors: vendor + product + a serial field as wide as the longest drive serial,
    /// at least the personality's width. Every drive descriptor in a page has the same length (SMC-3 ELEMENT
    /// DESCRIPTOR LENGTH is per page), so shorter serials are space-padded.
    /// </summary>
    internal int DvcidIdentifierLength()
    {
        var serial = Personality.DvcidSerialLength;
        foreach (var drive in Backend.Drives)
        {
            serial = Math.Max(serial, drive.SerialNumber.Length);
        }

        return Math.Min(T10VendorAndProductLength + serial, 255);
    }

    private static DriveDescriptor? FindDrive(IReadOnlyList<DriveDescriptor> drives, ushort address)
    {
        foreach (var d in drives)
        {
            if (d.ElementAddress == address)
            {
                return d;
            }
        }

        return null;
    }

    private static void WriteUInt24(Span<byte> d, int value)
    {
        d[0] = (byte)(value >> 16);
        d[1] = (byte)(value >> 8);
        d[2] = (byte)value;
    }

    /// <summary>Which optional parts each descriptor carries, and so its length per element type.</summary>
    private readonly record struct ReportLayout(bool VolumeTag, int IdentifierLength)
    {
        public int DescriptorLength(ElementType type) =>
            ElementDescriptorBaseLength + (VolumeTag ? VolumeTagLength : 0) + IdentifierHeaderLength
            + (type == ElementType.DataTransfer ? IdentifierLength : 0);
    }

    /// <summary>Appends to the Data-In buffer and silently drops what lies beyond the allocation length.</summary>
    private ref struct ReportWriter(Span<byte> destination)
    {
        private readonly Span<byte> _destination = destination;
        private int _position;

        public readonly bool Full => _position >= _destination.Length;

        public void Write(scoped ReadOnlySpan<byte> bytes)
        {
            var room = _destination.Length - _position;
            if (room > 0)
            {
                bytes[..Math.Min(room, bytes.Length)].CopyTo(_destination[_position..]);
            }

            _position += bytes.Length;
        }
    }
}

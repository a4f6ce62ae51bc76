using System.Buffers.Binary;
using System.Text;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Ssc;

public sealed partial class TapeDriveLogicalUnit
{
    private const int AttributeHeaderLength = 5;

    /// <summary>
    /// Bytes of attribute space in a tape image (docs/media-format.md: one 64 KiB slot minus its 16-byte header and
    /// CRC); each stored attribute costs 6 bytes of entry header plus its value.
    /// </summary>
    private const int MamCapacityBytes = (64 * 1024) - 16 - 4;

    /// <summary>
    /// SPC-4 READ ATTRIBUTE / WRITE ATTRIBUTE attribute formats (byte 2 bits 1-0): 00b binary, 01b ASCII, 10b text.
    /// </summary>
    private enum AttributeFormat : byte
    {
        Binary = 0,
        Ascii = 1,
        Text = 2,
    }

    /// <summary>
    /// The MAM attributes this drive knows (SPC-4 attribute tables, SSC-4 Annex: device 0000h-03FFh, medium
    /// 0400h-07FFh — both read only — and host 0800h-0BFFh, writable): identifier, format, length (0 = variable).
    /// Host attributes not listed here are refused; backup applications only write the standard ones.
    /// </summary>
    private static readonly (ushort Id, AttributeFormat Format, int Length)[] s_attributes =
    [
        (MamAttributeId.RemainingCapacityInPartition, AttributeFormat.Binary, 8),
        (MamAttributeId.MaximumCapacityInPartition, AttributeFormat.Binary, 8),
        (MamAttributeId.LoadCount, AttributeFormat.Binary, 8),
        (MamAttributeId.MamSpaceRemaining, AttributeFormat.Binary, 8),
        (MamAttributeId.InitializationCount, AttributeFormat.Binary, 2),
        (MamAttributeId.VolumeChangeReference, AttributeFormat.Binary, 4),
        (MamAttributeId.TotalMBytesWrittenInMediumLife, AttributeFormat.Binary, 8),
        (MamAttributeId.TotalMBytesReadInMediumLife, AttributeFormat.Binary, 8),
        (MamAttributeId.TotalMBytesWrittenInCurrentLoad, AttributeFormat.Binary, 8),
        (MamAttributeId.TotalMBytesReadInCurrentLoad, AttributeFormat.Binary, 8),
        (MamAttributeId.MediumManufacturer, AttributeFormat.Ascii, 8),
        (MamAttributeId.MediumSerialNumber, AttributeFormat.Ascii, 32),
        (0x0405, AttributeFormat.Binary, 1), // MEDIUM DENSITY CODE
        (MamAttributeId.MediumManufactureDate, AttributeFormat.Ascii, 8),
        (MamAttributeId.MamCapacity, AttributeFormat.Binary, 8),
        (MamAttributeId.MediumType, AttributeFormat.Binary, 1),
        (MamAttributeId.ApplicationVendor, AttributeFormat.Ascii, 8),
        (MamAttributeId.ApplicationName, AttributeFormat.Ascii, 32),
        (MamAttributeId.ApplicationVersion, AttributeFormat.Ascii, 8),
        (MamAttributeId.UserMediumTextLabel, AttributeFormat.Text, 160),
        (MamAttributeId.DateAndTimeLastWritten, AttributeFormat.Ascii, 12),
        (0x0805, AttributeFormat.Binary, 1), // TEXT LOCALIZATION IDENTIFIER
        (MamAttributeId.Barcode, AttributeFormat.Ascii, 32),
        (0x0807, AttributeFormat.Text, 80), // OWNING HOST TEXTUAL NAME
        (MamAttributeId.MediaPool, AttributeFormat.Text, 160),
        (0x0809, AttributeFormat.Ascii, 16), // PARTITION USER TEXT LABEL
        (0x080A, AttributeFormat.Binary, 1), // LOAD/UNLOAD AT PARTITION
        (MamAttributeId.ApplicationFormatVersion, AttributeFormat.Ascii, 16),
        (MamAttributeId.VolumeCoherencyInformation, AttributeFormat.Binary, 0),
        (MamAttributeId.MediumGloballyUniqueIdentifier, AttributeFormat.Binary, 36),
        (0x0821, AttributeFormat.Binary, 36), // MEDIA POOL GLOBALLY UNIQUE IDENTIFIER
    ];

    private static bool IsReadOnlyAttribute(ushort id) => id < 0x0800;

    /// <summary>
    /// SPC-4 MAM attribute identifier ranges: 1400h-17FFh are host vendor-specific attributes, whose meaning, format
    /// and length the application defines; the drive stores whatever a WRITE ATTRIBUTE gives it (IBM LTO drives keep
    /// them in cartridge memory; LTFS keeps its volume lock state in 1623h). Stored per partition like the standard
    /// host attributes; READ ATTRIBUTE reports them with FORMAT 00h (binary), as the image keeps values only.
    /// </summary>
    private static bool IsHostVendorSpecificAttribute(ushort id) => id is >= 0x1400 and <= 0x17FF;

    private static (ushort Id, AttributeFormat Format, int Length)? FindAttribute(ushort id)
    {
        foreach (var a in s_attributes)
        {
            if (a.Id == id)
            {
                return a;
            }
        }

        return null;
    }

    /// <summary>
    /// The value of attribute <paramref name="id"/> of <paramref name="partition"/> as the drive reports it: device
    /// attributes computed from the image (capacity of that partition in MiB, load count), medium attributes from the
    /// image or the library's cartridge record, host attributes as stored for that partition. Null when the attribute
    /// has no value. Device and medium attributes other than the two capacities describe the cartridge, not a
    /// partition (SPC-4 MAM: one cartridge memory), so every partition answers them as partition 0 does; host
    /// attributes are kept per partition (LTFS writes VOLUME COHERENCY INFORMATION to each partition).
    /// </summary>
    private byte[]? GetAttributeValue(ITapeMedium medium, int partition, ushort id)
    {
        var cartridge = _cartridge;
        switch (id)
        {
            case MamAttributeId.RemainingCapacityInPartition:
                return Binary(8, (ulong)(medium.GetPartition(partition).RemainingBytes / MiB));
            case MamAttributeId.MaximumCapacityInPartition:
                return Binary(8, (ulong)(medium.GetPartition(partition).CapacityBytes / MiB));
            case MamAttributeId.MamSpaceRemaining:
                {
                    // One cartridge memory holds the attributes of every partition.
                    var used = 0;
                    for (var k = 0; k < medium.PartitionCount; k++)
                    {
                        foreach (var aid in medium.GetAttributeIds(k))
                        {
                            if (medium.TryGetAttribute(k, aid, out var v))
                            {
                                used += 6 + v.Length;
                            }
                        }
                    }

                    return Binary(8, (ulong)Math.Max(0, MamCapacityBytes - used));
                }

            case MamAttributeId.TotalMBytesWrittenInMediumLife:
                return Binary(8, (ulong)(((medium as TapeImage)?.Statistics.LifetimeHostBytesWritten ?? 0) / MiB));
            case MamAttributeId.TotalMBytesReadInMediumLife:
                return Binary(8, (ulong)(((medium as TapeImage)?.Statistics.LifetimeHostBytesRead ?? 0) / MiB));
            case MamAttributeId.TotalMBytesWrittenInCurrentLoad:
                return Binary(8, (ulong)(((medium as TapeImage)?.Statistics.HostBytesWritten ?? 0) / MiB));
            case MamAttributeId.TotalMBytesReadInCurrentLoad:
                return Binary(8, (ulong)(((medium as TapeImage)?.Statistics.HostBytesRead ?? 0) / MiB));
            case MamAttributeId.MediumManufacturer when !medium.TryGetAttribute(id, out _):
                return Ascii(8, DefaultMediumManufacturer);
            case MamAttributeId.MediumSerialNumber when !medium.TryGetAttribute(id, out _) && cartridge is not null:
                return Ascii(32, cartridge.MediumSerialNumber);
            case 0x0405 when cartridge is not null:
                return [cartridge.Generation.DensityCode];
            case MamAttributeId.MediumType:
                return [cartridge is { Cleaning: true } ? LtoGeneration.MamMediumTypeCleaning
                    : medium.IsWorm ? LtoGeneration.MamMediumTypeWorm : LtoGeneration.MamMediumTypeData];
            case MamAttributeId.MamCapacity:
                return Binary(8, (ulong)MamCapacityBytes);
            case MamAttributeId.VolumeChangeReference when !medium.TryGetAttribute(id, out _):
                return Binary(4, 0); // a cartridge never written since it was made
        }

        return medium.TryGetAttribute(IsReadOnlyAttribute(id) ? 0 : partition, id, out var value) ? value.ToArray() : null;
    }

    /// <summary>MAM MEDIUM MANUFACTURER (0400h) of a cartridge made by this gateway, unless the image stores another.</summary>
    internal const string DefaultMediumManufacturer = "TAPEGW";

    /// <summary>The medium manufacturer as MAM 0400h reports it, without its padding.</summary>
    private static string MediumManufacturerOf(ITapeMedium medium) =>
        medium.TryGetAttribute(MamAttributeId.MediumManufacturer, out var stored)
            ? System.Text.Encoding.ASCII.GetString(stored.Span).Trim()
            : DefaultMediumManufacturer;

    private static byte[] Binary(int length, ulong value)
    {
        var b = new byte[length];
        for (var i = length - 1; i >= 0; i--)
        {
            b[i] = (byte)value;
            value >>= 8;
        }

        return b;
    }

    private static byte[] Ascii(int length, string value)
    {
        var b = new byte[length];
        SpcCommands.WriteAscii(b, value);
        return b;
    }

    /// <summary>
    /// Identifiers with a value now in <paramref name="partition"/>: the computed ones, the cartridge's stored device and
    /// medium attributes (partition 0's) and the partition's host attributes, ascending.
    /// </summary>
    private SortedSet<ushort> PresentAttributeIds(ITapeMedium medium, int partition)
    {
        var ids = new SortedSet<ushort>(medium.GetAttributeIds(0).Where(IsReadOnlyAttribute));
        ids.UnionWith(medium.GetAttributeIds(partition).Where(id => !IsReadOnlyAttribute(id)));
        foreach (var a in s_attributes)
        {
            if (a.Id < 0x0800 && GetAttributeValue(medium, partition, a.Id) is not null)
            {
                ids.Add(a.Id);
            }
        }

        return ids;
    }

    /*
     * SPC-4 READ ATTRIBUTE: byte 1 SERVICE ACTION (bits 4-0); byte 5 LOGICAL VOLUME NUMBER; byte 7 PARTITION NUMBER;
     * bytes 8-9 FIRST ATTRIBUTE IDENTIFIER; bytes 10-13 ALLOCATION LENGTH; byte 14 CACHE (bit 0).
     *  00h ATTRIBUTE VALUES: 4-byte AVAILABLE DATA, then attributes with id >= FIRST: id (2), READ ONLY (bit 7) |
     *      FORMAT (bits 1-0), length (2), value. FIRST must name an attribute present in that partition, else
     *      INVALID FIELD IN CDB at byte 8.
     *  01h ATTRIBUTE LIST / 05h SUPPORTED ATTRIBUTES: 4-byte AVAILABLE DATA, then 2-byte identifiers.
     *  02h LOGICAL VOLUME LIST / 03h PARTITION LIST: AVAILABLE DATA (2) = 2, FIRST (1) = 0, NUMBER (1): one volume;
     *      the loaded medium's partitions (1 without a threaded cartridge).
     * One volume: LOGICAL VOLUME NUMBER other than 0 is INVALID FIELD IN CDB. PARTITION NUMBER must name a partition
     * of the loaded medium (0 without one), else INVALID FIELD IN CDB at byte 7 (SPC-4 READ ATTRIBUTE: a partition
     * that does not exist). The list forms need no medium (they describe the drive); values need a threaded cartridge.
     */
    private static ValueTask<CommandOutcome> ReadAttributeAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var serviceAction = cdb[1] & 0x1F;
        var first = BinaryPrimitives.ReadUInt16BigEndian(cdb[8..]);
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]);
        if (serviceAction is not (0x00 or 0x01 or 0x02 or 0x03 or 0x05))
        {
            return CommandOutcome.InvalidCdbField(1, 4);
        }

        if (cdb[5] != 0)
        {
            return CommandOutcome.InvalidCdbField(5);
        }

        var partitions = unit.CurrentMedium is { } loaded && SafePartitions(loaded) is { } known ? known.Length : 1;
        var partition = cdb[7];
        if (partition >= partitions)
        {
            return CommandOutcome.InvalidCdbField(7);
        }

        if (allocationLength < 4)
        {
            // SPC-4 READ ATTRIBUTE: an allocation length below 4 cannot hold the header.
            return CommandOutcome.InvalidCdbField(10);
        }

        if (serviceAction is 0x02 or 0x03)
        {
            var l = task.GetDataInBuffer(4).Span;
            BinaryPrimitives.WriteUInt16BigEndian(l, 2);
            l[3] = (byte)(serviceAction == 0x03 ? partitions : 1);
            return Clip(task, 4, allocationLength);
        }

        if (serviceAction == 0x05)
        {
            var s = task.GetDataInBuffer(4 + (2 * s_attributes.Length)).Span;
            BinaryPrimitives.WriteUInt32BigEndian(s, (uint)(2 * s_attributes.Length));
            var at = 4;
            foreach (var a in s_attributes.OrderBy(a => a.Id))
            {
                BinaryPrimitives.WriteUInt16BigEndian(s[at..], a.Id);
                at += 2;
            }

            return Clip(task, at, allocationLength);
        }

        if (!unit.TryGetMedium(out var medium, out var failure))
        {
            return failure;
        }

        if (partition >= medium.PartitionCount)
        {
            return CommandOutcome.InvalidCdbField(7);
        }

        var ids = unit.PresentAttributeIds(medium, partition);
        if (serviceAction == 0x01)
        {
            var d = task.GetDataInBuffer(4 + (2 * ids.Count)).Span;
            var at = 4;
            foreach (var id in ids)
            {
                BinaryPrimitives.WriteUInt16BigEndian(d[at..], id);
                at += 2;
            }

            BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(at - 4));
            return Clip(task, at, allocationLength);
        }

        var values = new List<(ushort Id, byte[] Value)>();
        var total = 4;
        foreach (var id in ids)
        {
            if (id >= first && unit.GetAttributeValue(medium, partition, id) is { } v)
            {
                values.Add((id, v));
                total += AttributeHeaderLength + v.Length;
            }
        }

        if (values.Count == 0 || values[0].Id != first)
        {
            // SPC-4 READ ATTRIBUTE (ATTRIBUTE VALUES): a FIRST ATTRIBUTE IDENTIFIER in the unsupported or nonexistent
            // state terminates the command with ILLEGAL REQUEST, INVALID FIELD IN CDB. Real drives do so (an IBM LTO
            // drive for a host attribute never written; LTFS takes that answer to mean "absent"), rather than
            // returning the attributes that follow it.
            return CommandOutcome.InvalidCdbField(8);
        }

        var data = task.GetDataInBuffer(total).Span;
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(total - 4));
        var p = 4;
        foreach (var (id, v) in values)
        {
            var format = FindAttribute(id)?.Format ?? AttributeFormat.Binary;
            BinaryPrimitives.WriteUInt16BigEndian(data[p..], id);
            data[p + 2] = (byte)((IsReadOnlyAttribute(id) ? 0x80 : 0) | (byte)format);
            BinaryPrimitives.WriteUInt16BigEndian(data[(p + 3)..], (ushort)v.Length);
            v.CopyTo(data[(p + 5)..]);
            p += AttributeHeaderLength + v.Length;
        }

        return Clip(task, total, allocationLength);
    }

    private static CommandOutcome Clip(ScsiTask task, int produced, uint allocationLength)
    {
        task.TrimDataIn((int)Math.Min(produced, allocationLength));
        return CommandOutcome.Good;
    }

    /*
     * SPC-4 WRITE ATTRIBUTE: byte 1 WTC (bit 0: write-through cache; we always write through); byte 5 LOGICAL VOLUME
     * NUMBER; byte 7 PARTITION NUMBER; bytes 10-13 PARAMETER LIST LENGTH. Parameter data: PARAMETER DATA LENGTH (4,
     * ignored), then attributes in READ ATTRIBUTE's format up to PARAMETER LIST LENGTH. Every attribute is checked
     * before any is stored (all or none): device and medium attributes are read only, host vendor-specific ones
     * (1400h-17FFh) take any length, other unknown identifiers are not supported — ILLEGAL REQUEST 26/00
     * INVALID FIELD IN PARAMETER LIST pointing at the identifier; a length that does not match the attribute's is
     * 26/00 pointing at the length. A zero length deletes the attribute. The image stores them durably.
     * A write-protected cartridge refuses with DATA PROTECT 27/00. PARTITION NUMBER names the partition whose host
     * attributes are written; one the loaded medium does not have is INVALID FIELD IN CDB at byte 7.
     */
    private static async ValueTask<CommandOutcome> WriteAttributeAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        if (cdb[5] != 0)
        {
            return CommandOutcome.InvalidCdbField(5);
        }

        var listLength = BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]);
        if (!unit.TryGetMedium(out var medium, out var failure))
        {
            return failure;
        }

        var partition = cdb[7];
        if (partition >= medium.PartitionCount)
        {
            return CommandOutcome.InvalidCdbField(7);
        }

        if (listLength == 0)
        {
            return CommandOutcome.Good;
        }

        if (listLength < 4)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var received = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (received.Length < listLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        // SPC-4 WRITE ATTRIBUTE parameter list: PARAMETER DATA LENGTH "should contain the number of bytes of attribute
        // data and shall be ignored by the device server"; the attributes are the PARAMETER LIST LENGTH bytes after it,
        // and one that the list length cuts short is PARAMETER LIST LENGTH ERROR. (IBM's LTFS puts the whole list's
        // length there, 4 more than follow, and real IBM drives accept it.)
        var list = received[..(int)listLength];
        var changes = new List<TapeAttribute>();
        var at = 4;
        var end = (int)listLength;
        while (at < end)
        {
            var span = list.Span;
            if (end - at < AttributeHeaderLength)
            {
                return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
            }

            var id = BinaryPrimitives.ReadUInt16BigEndian(span[at..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(span[(at + 3)..]);
            if (at + AttributeHeaderLength + length > end)
            {
                return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
            }

            if (!IsHostVendorSpecificAttribute(id))
            {
                if (IsReadOnlyAttribute(id) || FindAttribute(id) is not { } known)
                {
                    return CommandOutcome.InvalidParameterField(at);
                }

                if (length != 0 && known.Length != 0 && length != known.Length)
                {
                    return CommandOutcome.InvalidParameterField(at + 3);
                }
            }

            changes.Add(new TapeAttribute(id, list.Slice(at + AttributeHeaderLength, length).ToArray()));
            at += AttributeHeaderLength + length;
        }

        if (unit.IsWriteProtected)
        {
            unit.SetAlert(TapeAlertFlag.WriteProtect);
            return CommandOutcome.Fail(SenseReason.WriteProtected);
        }

        if (changes.Count == 0)
        {
            return CommandOutcome.Good;
        }

        var r = await medium.WriteAttributesAsync(partition, changes, task.Aborted).ConfigureAwait(false);
        return r.Condition switch
        {
            TapeCondition.Ok => CommandOutcome.Good,
            TapeCondition.WriteProtected => CommandOutcome.Fail(SenseReason.WriteProtected),
            // Not enough attribute space: reported as INVALID FIELD IN PARAMETER LIST at the first attribute (SPC-4
            // has a dedicated 55/06 AUXILIARY MEMORY OUT OF SPACE we do not have in the shared table).
            _ => CommandOutcome.InvalidParameterField(4),
        };
    }

    /*
     * SPC-4 READ MEDIA SERIAL NUMBER (SERVICE ACTION IN(12) 01h): bytes 6-9 ALLOCATION LENGTH. Data: MEDIA SERIAL
     * NUMBER LENGTH (4, a multiple of 4) then the serial, space padded. NOT READY 3A/00 without a cartridge.
     */
    private static ValueTask<CommandOutcome> ReadMediaSerialNumberAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[6..]);
        if (!unit.TryGetMedium(out _, out var failure))
        {
            return failure;
        }

        var serial = unit.LoadedCartridge?.MediumSerialNumber ?? string.Empty;
        var padded = (Encoding.ASCII.GetByteCount(serial) + 3) & ~3;
        var d = task.GetDataInBuffer(4 + padded).Span;
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)padded);
        SpcCommands.WriteAscii(d.Slice(4, padded), serial);
        return Clip(task, 4 + padded, allocationLength);
    }

    /// <summary>
    /// CAPACITY of a density descriptor: the generation's native capacity, and with MEDIA=1 the loaded cartridge's as it
    /// stands (IBM LTO SCSI reference: "the actual capacity for the loaded tape"), i.e. scaled by SET CAPACITY in the
    /// proportion the image's effective capacity bears to the capacity it was made with.
    /// </summary>
    private static long DensityCapacityBytes(LtoGeneration generation, ITapeMedium? loaded) =>
        loaded is null || loaded.NativeCapacityBytes <= 0 || loaded.CapacityBytes == loaded.NativeCapacityBytes
            ? generation.NativeCapacityBytes
            : (long)((Int128)generation.NativeCapacityBytes * loaded.CapacityBytes / loaded.NativeCapacityBytes);

    /*
     * SSC-4 REPORT DENSITY SUPPORT: byte 1 MEDIUM TYPE (bit 1) | MEDIA (bit 0); bytes 7-8 ALLOCATION LENGTH.
     * Header: AVAILABLE DENSITY SUPPORT LENGTH (2), reserved (2). MEDIA=0: every density the drive reads; MEDIA=1: the
     * mounted cartridge's (NOT READY without one).
     * Density support descriptor (52 bytes): 0 PRIMARY DENSITY CODE, 1 SECONDARY DENSITY CODE, 2 WRTOK (7) | DUP (6) |
     * DEFLT (5) | DLV (0), 3-4 DESCRIPTOR LENGTH (0031h), 5-7 BITS PER MM, 8-9 MEDIA WIDTH (0.1 mm), 10-11 TRACKS,
     * 12-15 CAPACITY (MB), 16-23 ASSIGNING ORGANIZATION, 24-31 DENSITY NAME, 32-51 DESCRIPTION.
     * Medium type descriptor (56 bytes, MEDIUM TYPE=1): 0 MEDIUM TYPE, 2-3 DESCRIPTOR LENGTH (0034h), 4 NUMBER OF
     * DENSITY CODES, 5-13 PRIMARY DENSITY CODES, 14-15 MEDIA WIDTH, 16-17 MEDIUM LENGTH (m), 20-27 ASSIGNING
     * ORGANIZATION, 28-35 MEDIUM TYPE NAME, 36-55 DESCRIPTION.
     */
    private static ValueTask<CommandOutcome> ReportDensitySupportAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var media = (cdb[1] & 0x01) != 0;
        var mediumType = (cdb[1] & 0x02) != 0;
        var allocationLength = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        var personality = unit.Personality;
        IReadOnlyList<LtoGeneration> generations = personality.ReadableGenerations;
        LoadedCartridge? cartridge = null;
        ITapeMedium? loaded = null;
        if (media)
        {
            if (!unit.TryGetMedium(out var medium, out var failure))
            {
                return failure;
            }

            loaded = medium;
            cartridge = unit.LoadedCartridge;
            generations = cartridge is null ? [] : [cartridge.Generation];
        }

        if (!mediumType)
        {
            var length = 4 + (52 * generations.Count);
            var d = task.GetDataInBuffer(length).Span;
            BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)(length - 2));
            for (var i = 0; i < generations.Count; i++)
            {
                var g = generations[i];
                var e = d.Slice(4 + (52 * i), 52);
                var writable = personality.CanWrite(g) && (cartridge is null || !unit.IsWriteProtected);
                e[0] = g.DensityCode;
                e[1] = g.DensityCode;
                e[2] = (byte)((writable ? 0x80 : 0) | (g == (cartridge?.Generation ?? personality.Generation) ? 0x20 : 0) | 0x01);
                BinaryPrimitives.WriteUInt16BigEndian(e[3..], 0x0031);
                e[5] = (byte)(g.BitsPerMm >> 16);
                e[6] = (byte)(g.BitsPerMm >> 8);
                e[7] = (byte)g.BitsPerMm;
                BinaryPrimitives.WriteUInt16BigEndian(e[8..], 127); // 12.7 mm (half inch)
                BinaryPrimitives.WriteUInt16BigEndian(e[10..], (ushort)g.Tracks);
                BinaryPrimitives.WriteUInt32BigEndian(e[12..], (uint)(DensityCapacityBytes(g, loaded) / 1_000_000));
                SpcCommands.WriteAscii(e.Slice(16, 8), "LTO-CVE");
                SpcCommands.WriteAscii(e.Slice(24, 8), g.Name);
                SpcCommands.WriteAscii(e.Slice(32, 20), "Ultrium " + g.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/" + (g.Number <= 4 ? "8T" : "16T"));
            }

            return Clip(task, length, allocationLength);
        }

        var types = new List<(byte Type, LtoGeneration Generation, bool Worm)>();
        foreach (var g in generations)
        {
            if (cartridge is null || !cartridge.Worm)
            {
                types.Add((g.DataMediumType, g, false));
            }

            if (g.WormMediumType != 0 && personality.SupportsWorm && (cartridge is null || cartridge.Worm))
            {
                types.Add((g.WormMediumType, g, true));
            }
        }

        var total = 4 + (56 * types.Count);
        var m = task.GetDataInBuffer(total).Span;
        BinaryPrimitives.WriteUInt16BigEndian(m, (ushort)(total - 2));
        for (var i = 0; i < types.Count; i++)
        {
            var (type, g, worm) = types[i];
            var e = m.Slice(4 + (56 * i), 56);
            e[0] = type;
            BinaryPrimitives.WriteUInt16BigEndian(e[2..], 0x0034);
            e[4] = 1;
            e[5] = g.DensityCode;
            BinaryPrimitives.WriteUInt16BigEndian(e[14..], 127);
            BinaryPrimitives.WriteUInt16BigEndian(e[16..], 846);
            SpcCommands.WriteAscii(e.Slice(20, 8), "LTO-CVE");
            SpcCommands.WriteAscii(e.Slice(28, 8), g.Name + (worm ? "W" : string.Empty));
            SpcCommands.WriteAscii(e.Slice(36, 20), "Ultrium " + g.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) + (worm ? " WORM" : " Data"));
        }

        return Clip(task, total, allocationLength);
    }
}

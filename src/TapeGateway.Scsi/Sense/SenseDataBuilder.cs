using System.Buffers.Binary;

namespace TapeGateway.Scsi.Sense;

public enum SenseFormat : byte
{
    /// <summary>SPC-4 §4.5.3 fixed format, response code 0x70 (current) / 0x71 (deferred).</summary>
    Fixed,

    /// <summary>SPC-4 §4.5.2 descriptor format, response code 0x72 / 0x73.</summary>
    Descriptor,
}

/// <summary>Optional details that go with a <see cref="SenseReason"/>.</summary>
public readonly record struct SenseDetails
{
    /// <summary>INFORMATION field (residue, LBA, element address…); null leaves VALID clear.</summary>
    public long? Information { get; init; }

    /// <summary>Sense-key specific field pointer (SPC-4 §4.5.2.4.2): byte offset in the CDB or parameter list.</summary>
    public ushort? FieldPointer { get; init; }

    /// <summary>Bit pointer within <see cref="FieldPointer"/> (0–7), if it points at a bit.</summary>
    public byte? BitPointer { get; init; }

    /// <summary>True when the field pointer refers to the CDB (C/D bit), false for the parameter list.</summary>
    public bool InCdb { get; init; }

    /// <summary>Extra flags OR-ed into the table's flags (e.g. EOM with a filemark).</summary>
    public SenseFlags ExtraFlags { get; init; }

    /// <summary>Deferred error (response code 0x71/0x73).</summary>
    public bool Deferred { get; init; }

    public static SenseDetails Info(long information) => new() { Information = information };

    public static SenseDetails CdbField(int bytePointer, int? bitPointer = null) =>
        new() { FieldPointer = (ushort)bytePointer, BitPointer = bitPointer is null ? null : (byte)bitPointer, InCdb = true };

    public static SenseDetails ParameterField(int bytePointer, int? bitPointer = null) =>
        new() { FieldPointer = (ushort)bytePointer, BitPointer = bitPointer is null ? null : (byte)bitPointer, InCdb = false };
}

/// <summary>
/// Writes sense data for a <see cref="SenseReason"/> in either format into a caller's span. No allocation.
/// </summary>
public static class SenseDataBuilder
{
    public const int FixedLength = 18;

    public static int Write(Span<byte> destination, SenseReason reason, SenseFormat format, in SenseDetails details = default)
    {
        var entry = SenseTable.Get(reason);
        var flags = entry.Flags | details.ExtraFlags;
        return format == SenseFormat.Fixed
            ? WriteFixed(destination, entry, flags, details)
            : WriteDescriptor(destination, entry, flags, details);
    }

    /*
     * SPC-4 §4.5.3 fixed format:
     *  0  VALID | RESPONSE CODE (70h/71h)     8-11 COMMAND-SPECIFIC INFORMATION
     *  2  FILEMARK|EOM|ILI|rsvd|SENSE KEY     12   ASC      13 ASCQ
     *  3-6 INFORMATION                         14   FRU      15-17 SKSV | SENSE KEY SPECIFIC
     *  7  ADDITIONAL SENSE LENGTH (n-7)
     */
    private static int WriteFixed(Span<byte> d, SenseEntry e, SenseFlags flags, in SenseDetails details)
    {
        var s = d[..FixedLength];
        s.Clear();
        s[0] = (byte)(details.Deferred ? 0x71 : 0x70);
        // Four bytes: an unsigned value up to FFFFFFFFh, or a negative SSC residue (two's complement). A value that
        // fits neither (a SPACE(16) residue beyond 2^32) leaves VALID 0 rather than reporting a truncated number; the
        // descriptor format carries all eight bytes.
        if (details.Information is { } info && info is >= int.MinValue and <= uint.MaxValue)
        {
            s[0] |= 0x80;
            BinaryPrimitives.WriteUInt32BigEndian(s[3..], unchecked((uint)info));
        }

        s[2] = (byte)((byte)flags | (byte)e.Key);
        s[7] = FixedLength - 8;
        s[12] = e.Asc;
        s[13] = e.Ascq;
        WriteSenseKeySpecific(s[15..18], details);
        return FixedLength;
    }

    /*
     * SPC-4 §4.5.2 descriptor format: 8-byte header (72h, key, ASC, ASCQ, …, additional length) followed by
     * descriptors: 00h information (12 bytes), 02h sense-key specific (8 bytes), 04h stream commands (4 bytes).
     */
    private static int WriteDescriptor(Span<byte> d, SenseEntry e, SenseFlags flags, in SenseDetails details)
    {
        d[..8].Clear();
        d[0] = (byte)(details.Deferred ? 0x73 : 0x72);
        d[1] = (byte)e.Key;
        d[2] = e.Asc;
        d[3] = e.Ascq;
        var n = 8;
        if (details.Information is { } info)
        {
            var desc = d.Slice(n, 12);
            desc.Clear();
            desc[0] = 0x00;
            desc[1] = 0x0A;
            desc[2] = 0x80; // VALID
            BinaryPrimitives.WriteInt64BigEndian(desc[4..], info);
            n += 12;
        }

        if (details.FieldPointer is not null)
        {
            var desc = d.Slice(n, 8);
            desc.Clear();
            desc[0] = 0x02;
            desc[1] = 0x06;
            WriteSenseKeySpecific(desc.Slice(4, 3), details);
            n += 8;
        }

        if ((flags & (SenseFlags.Filemark | SenseFlags.EndOfMedium | SenseFlags.IncorrectLength)) != 0)
        {
            var desc = d.Slice(n, 4);
            desc.Clear();
            desc[0] = 0x04; // stream commands descriptor (SPC-4 §4.5.2.6)
            desc[1] = 0x02;
            desc[3] = (byte)flags;
            n += 4;
        }

        d[7] = (byte)(n - 8);
        return n;
    }

    private static void WriteSenseKeySpecific(Span<byte> sks, in SenseDetails details)
    {
        if (details.FieldPointer is not { } pointer)
        {
            return;
        }

        sks[0] = 0x80; // SKSV
        if (details.InCdb)
        {
            sks[0] |= 0x40; // C/D
        }

        if (details.BitPointer is { } bit)
        {
            sks[0] |= (byte)(0x08 | (bit & 0x7)); // BPV + bit pointer
        }

        BinaryPrimitives.WriteUInt16BigEndian(sks[1..], pointer);
    }

    /// <summary>Reads key/ASC/ASCQ back from sense in either format (tests, REQUEST SENSE format conversion).</summary>
    public static (SenseKey Key, byte Asc, byte Ascq) Parse(ReadOnlySpan<byte> sense)
    {
        if (sense.Length < 4)
        {
            return (SenseKey.NoSense, 0, 0);
        }

        return (sense[0] & 0x7F) switch
        {
            0x72 or 0x73 => ((SenseKey)(sense[1] & 0x0F), sense[2], sense[3]),
            _ when sense.Length >= 14 => ((SenseKey)(sense[2] & 0x0F), sense[12], sense[13]),
            _ => (SenseKey.NoSense, 0, 0),
        };
    }
}

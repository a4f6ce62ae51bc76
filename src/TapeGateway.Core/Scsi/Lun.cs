using System.Buffers.Binary;

namespace TapeGateway.Core.Scsi;

/// <summary>
/// A logical unit number in SAM-5 §4.7 form. The wire carries 8 bytes; we support the peripheral (00b) and
/// flat-space (01b) single-level addressing methods, which is what every initiator we meet sends for LUNs below 16384.
/// </summary>
public readonly record struct Lun(ushort Value)
{
    public const int MaxFlat = 0x3FFF;

    /// <summary>Decodes the first level of an 8-byte LUN. Returns false for multi-level or unsupported methods.</summary>
    public static bool TryDecode(ulong wire, out Lun lun)
    {
        var first = (ushort)(wire >> 48);
        var rest = wire & 0x0000_FFFF_FFFF_FFFFUL;
        lun = default;
        if (rest != 0)
        {
            return false;
        }

        switch (first >> 14)
        {
            case 0b00: // peripheral device addressing: bus 0 only.
                if ((first & 0x3F00) != 0)
                {
                    return false;
                }

                lun = new Lun((ushort)(first & 0xFF));
                return true;
            case 0b01: // flat space addressing
                lun = new Lun((ushort)(first & 0x3FFF));
                return true;
            default:
                return false;
        }
    }

    /// <summary>Encodes as SAM-5 peripheral addressing below 256 and flat space above, as Linux and libiscsi expect.</summary>
    public ulong Encode() => Value < 256 ? (ulong)Value << 48 : (ulong)(0x4000 | Value) << 48;

    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt64BigEndian(destination, Encode());

    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

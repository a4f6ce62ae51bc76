namespace TapeGateway.Media.Tape;

/// <summary>
/// Well-known medium auxiliary memory attribute identifiers (SPC-4 READ ATTRIBUTE / WRITE ATTRIBUTE attribute
/// tables). The image stores any ushort id as opaque bytes; formatting (binary / ASCII, lengths) is the SSC layer's.
/// </summary>
public static class MamAttributeId
{
    // Device type attributes (maintained by the device).
    public const ushort RemainingCapacityInPartition = 0x0000;
    public const ushort MaximumCapacityInPartition = 0x0001;
    public const ushort LoadCount = 0x0003;
    public const ushort MamSpaceRemaining = 0x0004;
    public const ushort InitializationCount = 0x0007;
    public const ushort VolumeChangeReference = 0x0009;
    public const ushort TotalMBytesWrittenInMediumLife = 0x0220;
    public const ushort TotalMBytesReadInMediumLife = 0x0221;
    public const ushort TotalMBytesWrittenInCurrentLoad = 0x0222;
    public const ushort TotalMBytesReadInCurrentLoad = 0x0223;

    // Medium type attributes.
    public const ushort MediumManufacturer = 0x0400;
    public const ushort MediumSerialNumber = 0x0401;
    public const ushort MediumManufactureDate = 0x0406;
    public const ushort MamCapacity = 0x0407;
    public const ushort MediumType = 0x0408;

    // Host type attributes (written by the application).
    public const ushort ApplicationVendor = 0x0800;
    public const ushort ApplicationName = 0x0801;
    public const ushort ApplicationVersion = 0x0802;
    public const ushort UserMediumTextLabel = 0x0803;
    public const ushort DateAndTimeLastWritten = 0x0804;
    public const ushort Barcode = 0x0806;
    public const ushort MediaPool = 0x0808;
    public const ushort ApplicationFormatVersion = 0x080B;
    public const ushort VolumeCoherencyInformation = 0x080C;
    public const ushort MediumGloballyUniqueIdentifier = 0x0820;
}

/// <summary>One attribute value; an empty <see cref="Value"/> in a write deletes the attribute (SPC-4 WRITE ATTRIBUTE).</summary>
public readonly record struct TapeAttribute(ushort Id, ReadOnlyMemory<byte> Value);

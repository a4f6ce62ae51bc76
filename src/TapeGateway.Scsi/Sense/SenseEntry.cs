namespace TapeGateway.Scsi.Sense;

/// <summary>SPC-4 §4.5.6 sense keys.</summary>
public enum SenseKey : byte
{
    NoSense = 0x0,
    RecoveredError = 0x1,
    NotReady = 0x2,
    MediumError = 0x3,
    HardwareError = 0x4,
    IllegalRequest = 0x5,
    UnitAttention = 0x6,
    DataProtect = 0x7,
    BlankCheck = 0x8,
    VendorSpecific = 0x9,
    CopyAborted = 0xA,
    AbortedCommand = 0xB,
    VolumeOverflow = 0xD,
    Miscompare = 0xE,
    Completed = 0xF,
}

/// <summary>Stream-command bits in byte 2 of fixed sense (SSC-4 §4.2.15) and their descriptor equivalents.</summary>
[Flags]
public enum SenseFlags : byte
{
    None = 0,
    Filemark = 0x80,
    EndOfMedium = 0x40,
    IncorrectLength = 0x20,
}

public readonly record struct SenseEntry(SenseKey Key, byte Asc, byte Ascq, SenseFlags Flags = SenseFlags.None);

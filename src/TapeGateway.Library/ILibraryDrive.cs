using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Ssc;

namespace TapeGateway.Library;

/// <summary>
/// What the library needs from a drive: the SSC logical unit's load/eject surface plus where it is reachable. A seam so
/// the library's move logic is testable without a SCSI drive (tests use a fake); production wraps
/// <see cref="TapeDriveLogicalUnit"/> in <see cref="ScsiLibraryDrive"/>.
/// </summary>
public interface ILibraryDrive
{
    /// <summary>Zero-based drive index (catalog <c>drives.drive_index</c>, mtx "Data Transfer Element N").</summary>
    int Index { get; }

    ushort ElementAddress { get; }

    /// <summary>VPD 80h serial number; the changer's DVCID reports the same string (SMC-3 §6.10.5).</summary>
    string SerialNumber { get; }

    string VendorId { get; }

    string ProductId { get; }

    TapeDrivePersonality Personality { get; }

    /// <summary>The iSCSI target the drive is presented in, and its LUN there.</summary>
    string TargetName { get; }

    Lun Lun { get; }

    bool HasMedium { get; }

    string? LoadedBarcode { get; }

    /// <summary>PREVENT ALLOW MEDIUM REMOVAL is in effect on the drive (SSC-4 §7.5 / SPC-4 §6.13).</summary>
    bool IsRemovalPrevented { get; }

    /// <summary>Threads the cartridge (auto-load, SSC-4 §4.2.19) and queues UNIT ATTENTION 28/00 for every nexus.</summary>
    ValueTask LoadAsync(ITapeMedium medium, LoadedCartridge cartridge, CancellationToken ct);

    /// <summary>
    /// Takes the cartridge out: null when removal is prevented and not <paramref name="force"/>; otherwise flushes
    /// and returns the medium for the library to close (null also when the drive holds none).
    /// </summary>
    ValueTask<ITapeMedium?> EjectAsync(bool force, CancellationToken ct);

    /// <summary>The drive unloaded itself (SCSI LOAD UNLOAD with LOAD=0); the tape stays in the drive element.</summary>
    event Action<ILibraryDrive>? Unloaded;

    /// <summary>The mode parameters the application has set (null for a drive without an SSC logical unit).</summary>
    DriveMode? Mode => null;
}

/// <summary>
/// A drive's current mode parameters, for operators: the block descriptor's BLOCK LENGTH (0 = variable-block mode,
/// SSC-4 §8.3.2), DCE of the Data Compression page, and the Control Data Protection page's method and LBP_W/LBP_R.
/// </summary>
public readonly record struct DriveMode(uint BlockLength, bool Compression, byte ProtectionMethod, bool ProtectsWrites, bool ProtectsReads, DriveEncryptionMode? Encryption = null);

/// <summary>The production <see cref="ILibraryDrive"/>: an SSC logical unit presented at a target/LUN.</summary>
public sealed class ScsiLibraryDrive : ILibraryDrive
{
    public ScsiLibraryDrive(int index, ushort elementAddress, TapeDriveLogicalUnit unit, TapeDrivePersonality personality, string targetName)
    {
        ArgumentNullException.ThrowIfNull(unit);
        Index = index;
        ElementAddress = elementAddress;
        Unit = unit;
        Personality = personality;
        TargetName = targetName;
        unit.Unloaded += _ => Unloaded?.Invoke(this);
    }

    public TapeDriveLogicalUnit Unit { get; }

    public int Index { get; }

    public ushort ElementAddress { get; }

    public string SerialNumber => Unit.Identity.SerialNumber;

    public string VendorId => Unit.Identity.VendorId;

    public string ProductId => Unit.Identity.ProductId;

    public TapeDrivePersonality Personality { get; }

    public string TargetName { get; }

    public Lun Lun => Unit.Lun;

    public bool HasMedium => Unit.HasMedium;

    public string? LoadedBarcode => Unit.LoadedBarcode;

    public bool IsRemovalPrevented => Unit.IsRemovalPrevented;

    public DriveMode? Mode => new DriveMode(Unit.BlockLength, Unit.CompressionEnabled, Unit.ProtectionMethod, Unit.ProtectsWrites, Unit.ProtectsReads, Unit.EncryptionMode);

    public event Action<ILibraryDrive>? Unloaded;

    public ValueTask LoadAsync(ITapeMedium medium, LoadedCartridge cartridge, CancellationToken ct) => Unit.LoadAsync(medium, cartridge, ct);

    public ValueTask<ITapeMedium?> EjectAsync(bool force, CancellationToken ct) => Unit.EjectAsync(force, ct);
}

namespace TapeGateway.Media.Tape;

/// <summary>
/// Outcome of a tape verb. These are medium facts, not sense data: the SSC layer maps each one to a sense key,
/// additional sense code and the FM/EOM/ILI bits.
/// </summary>
public enum TapeCondition
{
    /// <summary>The verb completed as asked.</summary>
    Ok,

    /// <summary>
    /// A filemark stopped a read or a SPACE over blocks. Read/space forward: positioned after it (EOP side);
    /// space reverse: positioned before it (BOP side). SSC-4 READ(6) and SPACE(6).
    /// </summary>
    FilemarkDetected,

    /// <summary>End of data was reached before the verb could complete; positioned at EOD (SSC-4 "EOD detected").</summary>
    EndOfData,

    /// <summary>A reverse movement hit the beginning of the partition; positioned at BOP (SSC-4 "BOP detected").</summary>
    BeginningOfMedium,

    /// <summary>
    /// The write (block or filemarks) succeeded but the medium is now inside its early-warning zone
    /// (SSC-4 early warning: the application should finish and change volumes).
    /// </summary>
    EarlyWarning,

    /// <summary>
    /// The write (block or filemarks) succeeded and ended past the programmable early-warning point, set that far before
    /// early warning (SSC-4 programmable early warning). Reported once per entry into that zone, by the first write to
    /// complete in it (before <see cref="EarlyWarning"/> when one write crosses both); not again until the position has
    /// been back before the point.
    /// </summary>
    ProgrammableEarlyWarning,

    /// <summary>The write did not fit before the physical end of the partition; nothing of the refused object was written.</summary>
    VolumeOverflow,

    /// <summary>
    /// The stored object failed its integrity check (header or payload CRC, undecodable compressed data) or the
    /// image is damaged at this position. No data is returned as valid.
    /// </summary>
    MediumError,

    /// <summary>
    /// The block read is longer or shorter than the buffer. <see cref="TapeResult.BlockLength"/> holds the real block
    /// length; the data transferred is truncated to the buffer. The SSC layer decides on ILI and the residue.
    /// </summary>
    IncorrectLength,

    /// <summary>The cartridge is write-protected; nothing was changed.</summary>
    WriteProtected,

    /// <summary>WORM medium: the write would have overwritten or erased existing data (only appends at EOD are allowed).</summary>
    WormOverwrite,

    /// <summary>The attribute (MAM) area has no room for the requested attribute values; nothing was changed.</summary>
    AttributeSpaceExhausted,

    /// <summary>
    /// The block is encrypted and the drive has no key to decrypt it (SSC-4 §4.2.21: decryption disabled). No data;
    /// positioned after the block.
    /// </summary>
    EncryptedBlock,

    /// <summary>The block is encrypted and the drive's key does not decrypt it (another key). No data; positioned after it.</summary>
    DecryptionFailed,

    /// <summary>
    /// The block is not encrypted but the drive only accepts encrypted blocks (decryption mode DECRYPT). No data;
    /// positioned after it.
    /// </summary>
    UnencryptedBlock,
}

/// <summary>
/// Result of a tape verb. <see cref="Residue"/> is a non-negative count of the objects (blocks or filemarks) the verb
/// did not process: SSC-4 puts "requested minus actual" into the INFORMATION field, and the SSC layer applies the
/// sign convention for reverse movements.
/// </summary>
/// <param name="Encrypted">A block read was stored encrypted (and decrypted with the drive's key).</param>
public readonly record struct TapeResult(TapeCondition Condition, long Residue = 0, int BlockLength = 0, int BytesTransferred = 0, bool Encrypted = false)
{
    public static TapeResult Ok => default;

    public bool IsOk => Condition == TapeCondition.Ok;

    public static TapeResult Of(TapeCondition condition, long residue = 0) => new(condition, residue);
}

using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>One logical object: a block of <paramref name="Length"/> bytes (content: <see cref="TapeModel.Payload"/>) or a filemark.</summary>
internal readonly record struct TapeObject(bool IsFilemark, int Length, int Seed)
{
    public static TapeObject Filemark { get; } = new(true, 0, 0);
}

/// <summary>
/// The medium's size as docs/media-format.md accounts it: every record (block or filemark) takes a 32-byte header plus
/// its stored payload, and the early-warning zone is the last <paramref name="EarlyWarning"/> bytes of
/// <paramref name="Capacity"/>. Exact only while the drive stores blocks uncompressed (DCE=0).
/// </summary>
internal sealed record TapeCapacity(long Capacity, long EarlyWarning);

/// <summary>
/// The tape as SSC-4 describes it: a sequence of logical objects and a position between two of them (logical object
/// number: 0 is BOP, <see cref="Count"/> is EOD), plus the drive state SSC-4 makes visible to the commands modelled: the
/// mode block length, WORM, and where early warning and programmable early warning sit.
/// </summary>
internal sealed class TapeModel(bool worm = false, TapeCapacity? capacity = null)
{
    public const int RecordHeaderBytes = 32;

    private readonly List<TapeObject> _objects = [];

    /// <summary>Logical object number of the next object: 0 is BOP, <see cref="Count"/> is EOD.</summary>
    public int Position { get; set; }

    public int Count => _objects.Count;

    public int FilemarkCount => FilemarksBefore(Count);

    public TapeObject this[int index] => _objects[index];

    /// <summary>Mode parameter block descriptor BLOCK LENGTH: 0 = variable-block mode (SSC-4 §8.3.2).</summary>
    public int BlockLength { get; set; }

    public bool Worm { get; } = worm;

    /// <summary>Null when the tape is too short to get near early warning (and its stored sizes may be compressed).</summary>
    public TapeCapacity? Capacity { get; } = capacity;

    /// <summary>Size of the programmable-early-warning zone before early warning (PEWS × 10^6 bytes); 0 = none.</summary>
    public long PewBytes { get; private set; }

    /// <summary>
    /// PROGRAMMABLE EARLY WARNING DETECTED was returned since the position was last on the BOP side of PEW. SSC-4
    /// reports it once per entry into the zone: by the write that enters it, or, when that one could not report it
    /// (another exception, or the position got there by a LOCATE or SPACE), by the next write that ends in the zone or
    /// beyond early warning; leaving the zone toward BOP arms it again.
    /// </summary>
    public bool PewReported { get; set; }

    public long EarlyWarningOffset => Capacity is { } c ? c.Capacity - c.EarlyWarning : long.MaxValue;

    public long PewOffset => EarlyWarningOffset - PewBytes;

    /// <summary>READ POSITION EOP: positioned between early warning and the end of the partition.</summary>
    public bool BeyondEarlyWarning => Capacity is not null && OffsetOf(Position) > EarlyWarningOffset;

    /// <summary>READ POSITION BPEW: positioned past PEW (in the zone or past early warning), PEWS set.</summary>
    public bool BeyondPew => Capacity is not null && PewBytes > 0 && OffsetOf(Position) > PewOffset;

    /// <summary>Block payloads: a third compress well (so DCE's compressed records are read back too), the rest do not.</summary>
    public static byte[] Payload(int length, int seed)
    {
        if (seed % 3 != 0)
        {
            return TapeHarness.Block(length, seed);
        }

        var b = new byte[length];
        for (var i = 0; i < b.Length; i++)
        {
            b[i] = (byte)(seed + (i % 11));
        }

        return b;
    }

    public bool IsFilemark(int index) => _objects[index].IsFilemark;

    public int FilemarksBefore(int position)
    {
        var n = 0;
        for (var i = 0; i < position; i++)
        {
            n += _objects[i].IsFilemark ? 1 : 0;
        }

        return n;
    }

    /// <summary>Bytes of the medium the objects before <paramref name="position"/> take: header + payload each.</summary>
    public long OffsetOf(int position)
    {
        long offset = 0;
        for (var i = 0; i < position; i++)
        {
            offset += RecordHeaderBytes + _objects[i].Length;
        }

        return offset;
    }

    /// <summary>Position on the EOP side of the <paramref name="file"/>-th filemark (0 = BOP), or null if there is none.</summary>
    public int? StartOfFile(int file)
    {
        if (file == 0)
        {
            return 0;
        }

        var seen = 0;
        for (var i = 0; i < _objects.Count; i++)
        {
            if (_objects[i].IsFilemark && ++seen == file)
            {
                return i + 1;
            }
        }

        return null;
    }

    /// <summary>SSC-4: writing (or erasing) at a position makes it the new EOD; whatever followed is gone.</summary>
    public void TruncateAtPosition() => _objects.RemoveRange(Position, _objects.Count - Position);

    public void Append(TapeObject o)
    {
        TruncateAtPosition();
        _objects.Add(o);
        Position++;
    }

    /// <summary>
    /// SSC-4 WORM mode with the Medium Configuration page's WORM MODE LABEL RESTRICTIONS 00h (no logical block may be
    /// overwritten) and WORM MODE FILEMARK RESTRICTIONS 02h (the filemarks immediately preceding EOD may be, except the
    /// one closest to BOP): a write is allowed at EOD, or where only filemarks lie between the position and EOD and a
    /// filemark lies just before the position. ERASE has no filemark allowance.
    /// </summary>
    public bool WormRefuses(bool erase)
    {
        if (!Worm || Position == Count)
        {
            return false;
        }

        if (erase || Position == 0 || !_objects[Position - 1].IsFilemark)
        {
            return true;
        }

        for (var i = Position; i < Count; i++)
        {
            if (!_objects[i].IsFilemark)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>SSC-4 early warning / programmable early warning for a write that completed with its last record ending at <paramref name="end"/>.</summary>
    public Outcome WriteCompleted(long end)
    {
        if (Capacity is null)
        {
            return Outcome.Good();
        }

        if (PewBytes > 0 && !PewReported && end > PewOffset)
        {
            // SSC-4 programmable early warning: reported before the early-warning CHECK CONDITION when a write crosses
            // both, and by the first write in the zone when the one that entered it did not report it.
            PewReported = true;
            return Outcome.ProgrammableEarlyWarning();
        }

        return end > EarlyWarningOffset ? Outcome.EarlyWarning() : Outcome.Good();
    }

    /// <summary>PEWS of the Device Configuration Extension mode page; the drive clamps it to the space before early warning.</summary>
    public void SetPews(int megabytes)
    {
        var bytes = Math.Clamp(megabytes * 1_000_000L, 0, Capacity is null ? long.MaxValue : EarlyWarningOffset);
        if (bytes != PewBytes)
        {
            PewBytes = bytes;
            PewReported = false;
        }
    }

    /// <summary>Back on the BOP side of PEW, the next entry into the zone is reported again.</summary>
    public void AfterCommand()
    {
        if (PewReported && OffsetOf(Position) <= PewOffset)
        {
            PewReported = false;
        }
    }

    /// <summary>Objects as B(length) / F, with | at the position, e.g. "[B12 F | B300 F F] (pos 2/5)", and the drive state.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        for (var i = 0; i <= _objects.Count; i++)
        {
            if (i == Position)
            {
                parts.Add("|");
            }

            if (i < _objects.Count)
            {
                parts.Add(_objects[i].IsFilemark ? "F" : $"B{_objects[i].Length}");
            }
        }

        var state = $"[{string.Join(' ', parts)}] (pos {Position}/{_objects.Count}";
        if (BlockLength != 0)
        {
            state += $", fixed {BlockLength}";
        }

        if (Capacity is { } c)
        {
            state += $", {OffsetOf(Position)}/{OffsetOf(Count)} of {c.Capacity} bytes, EW at {EarlyWarningOffset}";
            state += PewBytes > 0 ? $", PEW at {PewOffset}{(PewReported ? " reported" : string.Empty)}" : string.Empty;
        }

        return state + (Worm ? ", WORM)" : ")");
    }
}

/// <summary>What a command must answer: GOOD (Key null) or CHECK CONDITION with this sense, and its Data-In.</summary>
internal sealed record Outcome(string Kind, SenseKey? Key, byte Asc, byte Ascq, SenseFlags Flags, long? Information, byte[] Data)
{
    public static Outcome Good(byte[]? data = null) => new("GOOD", null, 0, 0, SenseFlags.None, null, data ?? []);

    /// <summary>SSC-4 filemark detected: NO SENSE, FM, 00/01; fixed mode returns the blocks before the filemark.</summary>
    public static Outcome Filemark(long residue, byte[]? data = null) =>
        new("FILEMARK", SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark, residue, data ?? []);

    /// <summary>
    /// SSC-4 end-of-data detected: BLANK CHECK 00/05; fixed mode returns the blocks before EOD. The drive leaves EOM
    /// clear even when EOD lies past early warning, and the model follows it: drive references (IBM's VERIFY text) set
    /// EOM there, but the SSC-4 wording for READ and SPACE could not be checked.
    /// </summary>
    public static Outcome EndOfData(long? residue, byte[]? data = null) =>
        new("EOD", SenseKey.BlankCheck, 0x00, 0x05, SenseFlags.None, residue, data ?? []);

    /// <summary>SSC-4 beginning-of-partition detected: NO SENSE, EOM, 00/04.</summary>
    public static Outcome BeginningOfPartition(long residue) => new("BOP", SenseKey.NoSense, 0x00, 0x04, SenseFlags.EndOfMedium, residue, []);

    /// <summary>SSC-4 incorrect length: NO SENSE, ILI, 00/00; INFORMATION = requested − actual (bytes or blocks).</summary>
    public static Outcome IncorrectLength(long residue, byte[] data) => new("ILI", SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength, residue, data);

    /// <summary>SSC-4 early warning: the write completed; NO SENSE, EOM, 00/02, INFORMATION 0 (nothing left unwritten).</summary>
    public static Outcome EarlyWarning() => new("EW", SenseKey.NoSense, 0x00, 0x02, SenseFlags.EndOfMedium, 0, []);

    /// <summary>SSC-4 programmable early warning: the write completed; NO SENSE, EOM, 00/07, INFORMATION 0.</summary>
    public static Outcome ProgrammableEarlyWarning() => new("PEW", SenseKey.NoSense, 0x00, 0x07, SenseFlags.EndOfMedium, 0, []);

    /// <summary>SSC-4 end of partition: VOLUME OVERFLOW, EOM, 00/02, INFORMATION = what was not written.</summary>
    public static Outcome VolumeOverflow(long residue) => new("OVERFLOW", SenseKey.VolumeOverflow, 0x00, 0x02, SenseFlags.EndOfMedium, residue, []);

    /// <summary>SSC-4 WORM: DATA PROTECT 30/0C WORM MEDIUM - OVERWRITE ATTEMPTED, nothing changed.</summary>
    public static Outcome WormOverwrite() => new("WORM", SenseKey.DataProtect, 0x30, 0x0C, SenseFlags.None, null, []);

    public static Outcome InvalidCdbField() => new("INVALID", SenseKey.IllegalRequest, 0x24, 0x00, SenseFlags.None, null, []);

    public static Outcome InvalidParameterField() => new("INVALID", SenseKey.IllegalRequest, 0x26, 0x00, SenseFlags.None, null, []);

    public static string Show(long? information) => information is { } v ? $"VALID {v}" : "not VALID";

    public override string ToString() =>
        Key is null ? $"GOOD, {Data.Length} bytes in" : $"{Key} {Asc:X2}/{Ascq:X2} [{Flags}] {Show(Information)}, {Data.Length} bytes in";
}

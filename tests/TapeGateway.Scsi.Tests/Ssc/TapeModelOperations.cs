using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>A command, its Data-Out, and what SSC-4 says it does to the model and answers.</summary>
internal sealed record Operation(string Text, byte[] Cdb, byte[]? DataOut, uint ExpectedLength, Func<TapeModel, Outcome> Apply);

/// <summary>
/// The commands of the model test and their SSC-4 semantics. Where SSC-4 leaves the answer to the device, the model
/// takes the drive's choice; each such place says so.
/// </summary>
internal static class TapeModelOperations
{
    /// <summary>READ BLOCK LIMITS of the IBM TD5 personality: granularity 0, 8 MiB maximum, 1 byte minimum.</summary>
    public const int MaxBlockLength = 8 * 1024 * 1024;

    /// <summary>The drive's bound on one fixed-mode transfer (block length × count); SSC-4 leaves it to the device.</summary>
    public const long MaxFixedTransferBytes = 64 * 1024 * 1024;

    /// <summary>
    /// SSC-4 WRITE(6), FIXED=0: one block of <paramref name="length"/> bytes at the position (TRANSFER LENGTH 0: no
    /// block, no motion). WORM refuses it off EOD; a record that would not fit before the end of the partition is not
    /// written at all: VOLUME OVERFLOW with INFORMATION = the transfer length, position unchanged.
    /// </summary>
    public static Operation Write(int length, int seed)
    {
        var data = length == 0 ? [] : TapeModel.Payload(length, seed);
        return new($"WRITE(6) {length}", Cdb.Write(length), data, (uint)length, m =>
        {
            if (length == 0)
            {
                return Outcome.Good();
            }

            if (m.WormRefuses(erase: false))
            {
                return Outcome.WormOverwrite();
            }

            var end = m.OffsetOf(m.Position) + TapeModel.RecordHeaderBytes + length;
            if (m.Capacity is { } c && end > c.Capacity)
            {
                return Outcome.VolumeOverflow(length);
            }

            m.Append(new TapeObject(false, length, seed));
            return m.WriteCompleted(end);
        });
    }

    /// <summary>
    /// SSC-4 WRITE(6), FIXED=1: <paramref name="blocks"/> blocks of the mode block length (<paramref name="blockLength"/>,
    /// what the generator saw; FIXED=1 in variable-block mode is INVALID FIELD IN CDB). At the end of the partition the
    /// blocks that fit are written: VOLUME OVERFLOW, INFORMATION = blocks not written. A warning met on the way is
    /// reported once all blocks are written, programmable early warning before early warning.
    /// </summary>
    public static Operation WriteFixed(int blocks, int blockLength, int firstSeed)
    {
        var data = new byte[(long)blocks * blockLength <= MaxFixedTransferBytes ? blocks * blockLength : 0];
        for (var i = 0; i < data.Length / Math.Max(1, blockLength); i++)
        {
            TapeModel.Payload(blockLength, firstSeed + i).CopyTo(data, i * blockLength);
        }

        return new($"WRITE(6) FIXED {blocks}", Cdb.Write(blocks, fixedMode: true), data, (uint)data.Length, m =>
        {
            if (m.BlockLength == 0)
            {
                return Outcome.InvalidCdbField();
            }

            if (m.BlockLength != blockLength)
            {
                throw new InvalidOperationException($"generated for block length {blockLength}, applied at {m.BlockLength}");
            }

            if (blocks == 0)
            {
                return Outcome.Good();
            }

            if ((long)blocks * m.BlockLength > MaxFixedTransferBytes)
            {
                return Outcome.InvalidCdbField();
            }

            var warning = Outcome.Good();
            for (var i = 0; i < blocks; i++)
            {
                if (m.WormRefuses(erase: false))
                {
                    return Outcome.WormOverwrite();
                }

                var end = m.OffsetOf(m.Position) + TapeModel.RecordHeaderBytes + blockLength;
                if (m.Capacity is { } c && end > c.Capacity)
                {
                    return Outcome.VolumeOverflow(blocks - i);
                }

                m.Append(new TapeObject(false, blockLength, firstSeed + i));
                var w = m.WriteCompleted(end);
                warning = warning.Kind == "PEW" || w.Kind == "GOOD" ? warning : w;
            }

            return warning;
        });
    }

    /// <summary>
    /// SSC-4 WRITE FILEMARKS(6). A count of 0 only flushes the buffer: no motion, nothing truncated, GOOD even past early
    /// warning and on WORM. Filemarks that do not fit before the end: those that fit are written, VOLUME OVERFLOW with
    /// INFORMATION = filemarks not written.
    /// </summary>
    public static Operation WriteFilemarks(int count) =>
        new($"WRITE FILEMARKS(6) {count}", Cdb.WriteFilemarks(count), null, 0, m =>
        {
            if (count == 0)
            {
                return Outcome.Good();
            }

            if (m.WormRefuses(erase: false))
            {
                return Outcome.WormOverwrite();
            }

            var start = m.OffsetOf(m.Position);
            var fits = m.Capacity is { } c ? (int)Math.Min(count, (c.Capacity - start) / TapeModel.RecordHeaderBytes) : count;
            for (var i = 0; i < fits; i++)
            {
                m.Append(TapeObject.Filemark);
            }

            return fits < count
                ? Outcome.VolumeOverflow(count - fits)
                : m.WriteCompleted(start + ((long)count * TapeModel.RecordHeaderBytes));
        });

    /// <summary>
    /// SSC-4 READ(6), FIXED=0: the next object decides. SILI=1 suppresses the underlength incorrect-length report, and
    /// the overlength one only while the mode block length is 0 (variable-block mode).
    /// </summary>
    public static Operation Read(int length, bool sili) =>
        new($"READ(6) {length}{(sili ? " SILI" : string.Empty)}", Cdb.Read(length, sili: sili), null, (uint)length, m =>
        {
            if (length == 0)
            {
                return Outcome.Good();
            }

            if (m.Position == m.Count)
            {
                return Outcome.EndOfData(length); // position unchanged: still at EOD
            }

            var o = m[m.Position];
            m.Position++; // past a filemark (EOP side) or past the block, whatever its length
            if (o.IsFilemark)
            {
                return Outcome.Filemark(length);
            }

            var block = TapeModel.Payload(o.Length, o.Seed);
            var data = block.AsSpan(0, Math.Min(length, o.Length)).ToArray();
            var underlength = o.Length < length;
            return length == o.Length || (sili && (underlength || m.BlockLength == 0))
                ? Outcome.Good(data)
                : Outcome.IncorrectLength((long)length - o.Length, data);
        });

    /// <summary>
    /// SSC-4 READ(6), FIXED=1: <paramref name="blocks"/> blocks of the mode block length. SILI=1 with FIXED=1, and
    /// FIXED=1 in variable-block mode, are INVALID FIELD IN CDB. The transfer ends at the first exception, with the
    /// blocks before it in Data-In and INFORMATION = blocks requested − blocks read: a filemark (positioned after it),
    /// EOD (position unchanged), or a block of another length (ILI; not counted as read and not transferred, positioned
    /// after it: SSC-4 READ(6), and what Linux st expects when it backs up one record to re-read it).
    /// </summary>
    public static Operation ReadFixed(int blocks, bool sili, int blockLength) =>
        new(
            $"READ(6) FIXED {blocks}{(sili ? " SILI" : string.Empty)}",
            Cdb.Read(blocks, fixedMode: true, sili: sili),
            null,
            (uint)Math.Min((long)blocks * blockLength, MaxFixedTransferBytes),
            m =>
            {
                if (sili || m.BlockLength == 0)
                {
                    return Outcome.InvalidCdbField();
                }

                if (blocks == 0)
                {
                    return Outcome.Good();
                }

                if ((long)blocks * m.BlockLength > MaxFixedTransferBytes)
                {
                    return Outcome.InvalidCdbField();
                }

                var data = new List<byte>();
                for (var i = 0; i < blocks; i++)
                {
                    if (m.Position == m.Count)
                    {
                        return Outcome.EndOfData(blocks - i, [.. data]);
                    }

                    var o = m[m.Position];
                    m.Position++;
                    if (o.IsFilemark)
                    {
                        return Outcome.Filemark(blocks - i, [.. data]);
                    }

                    if (o.Length != m.BlockLength)
                    {
                        return Outcome.IncorrectLength(blocks - i, [.. data]);
                    }

                    data.AddRange(TapeModel.Payload(o.Length, o.Seed));
                }

                return Outcome.Good([.. data]);
            });

    /// <summary>
    /// SSC-4 SPACE, code 000b: a filemark stops it (forward: EOP side, reverse: BOP side; not counted); EOD or BOP
    /// stop it. INFORMATION = |count| − blocks spaced: never negative, whatever the direction.
    /// </summary>
    public static Operation SpaceBlocks(bool sixteen, long count) =>
        Space(sixteen, 0, count, "blocks", m =>
        {
            var wanted = Math.Abs(count);
            for (long spaced = 0; spaced < wanted; spaced++)
            {
                if (count > 0)
                {
                    if (m.Position == m.Count)
                    {
                        return Outcome.EndOfData(wanted - spaced);
                    }

                    m.Position++;
                    if (m.IsFilemark(m.Position - 1))
                    {
                        return Outcome.Filemark(wanted - spaced);
                    }
                }
                else
                {
                    if (m.Position == 0)
                    {
                        return Outcome.BeginningOfPartition(wanted - spaced);
                    }

                    m.Position--;
                    if (m.IsFilemark(m.Position))
                    {
                        return Outcome.Filemark(wanted - spaced);
                    }
                }
            }

            return Outcome.Good();
        });

    /// <summary>
    /// SSC-4 SPACE, code 001b: forward ends on the EOP side of the n-th filemark, reverse on its BOP side; EOD or
    /// BOP stop it with INFORMATION = |count| − filemarks spaced.
    /// </summary>
    public static Operation SpaceFilemarks(bool sixteen, long count) =>
        Space(sixteen, 1, count, "filemarks", m =>
        {
            var wanted = Math.Abs(count);
            long crossed = 0;
            while (crossed < wanted)
            {
                if (count > 0)
                {
                    if (m.Position == m.Count)
                    {
                        return Outcome.EndOfData(wanted - crossed);
                    }

                    crossed += m.IsFilemark(m.Position) ? 1 : 0;
                    m.Position++;
                }
                else
                {
                    if (m.Position == 0)
                    {
                        return Outcome.BeginningOfPartition(wanted - crossed);
                    }

                    m.Position--;
                    crossed += m.IsFilemark(m.Position) ? 1 : 0;
                }
            }

            return Outcome.Good();
        });

    public static Operation SpaceEndOfData(bool sixteen) =>
        Space(sixteen, 3, 0, "end of data", m =>
        {
            m.Position = m.Count;
            return Outcome.Good();
        });

    public static Operation Locate10(uint identifier) =>
        new($"LOCATE(10) {identifier}", Cdb.Locate10(identifier), null, 0, m => LocateObject(m, identifier));

    public static Operation Locate16Object(long identifier) =>
        new($"LOCATE(16) object {identifier}", Cdb.Locate16(identifier, destType: 0), null, 0, m => LocateObject(m, identifier));

    /// <summary>
    /// SSC-4 LOCATE(16), DEST_TYPE 001b: the BOP side of the first object of logical file f, i.e. just after the
    /// f-th filemark (f = 0: BOP). A file that does not exist is end-of-data, positioned at EOD. The file that
    /// begins after a tape's last filemark exists even while empty (its start is EOD): GOOD, as the drive does.
    /// </summary>
    public static Operation Locate16File(int file) =>
        new($"LOCATE(16) file {file}", Cdb.Locate16(file, destType: 1), null, 0, m =>
        {
            if (m.StartOfFile(file) is { } start)
            {
                m.Position = start;
                return Outcome.Good();
            }

            m.Position = m.Count; // spaced over every filemark there is: INFORMATION the files short
            return Outcome.EndOfData(file - m.FilemarkCount);
        });

    public static Operation Rewind() =>
        new("REWIND", Cdb.Rewind(), null, 0, m =>
        {
            m.Position = 0;
            return Outcome.Good();
        });

    /// <summary>
    /// SSC-4 ERASE(6): the current position becomes EOD (LONG=1 also erases the rest of the partition). The position
    /// stays where it was, as HP's LTO references say of the short erase; for LONG=1 the model follows the drive. On
    /// WORM only at EOD (no filemark allowance: the Medium Configuration page's restrictions are about overwriting).
    /// </summary>
    public static Operation Erase(bool longErase) =>
        new($"ERASE(6){(longErase ? " LONG" : string.Empty)}", Cdb.Erase(longErase), null, 0, m =>
        {
            if (m.WormRefuses(erase: true))
            {
                return Outcome.WormOverwrite();
            }

            m.TruncateAtPosition();
            return Outcome.Good();
        });

    /// <summary>
    /// MODE SELECT(6) with a block descriptor (SSC-4 §8.3.2): BLOCK LENGTH 0 selects variable-block mode, a length within
    /// READ BLOCK LIMITS fixed-block mode; any other is INVALID FIELD IN PARAMETER LIST and changes nothing.
    /// </summary>
    public static Operation ModeSelectBlockLength(int blockLength)
    {
        var list = Cdb.BlockDescriptorList((uint)blockLength);
        return new($"MODE SELECT(6) block length {blockLength}", SpcCdb.ModeSelect6(list.Length), list, (uint)list.Length, m =>
        {
            if (blockLength > MaxBlockLength)
            {
                return Outcome.InvalidParameterField();
            }

            m.BlockLength = blockLength;
            return Outcome.Good();
        });
    }

    /// <summary>
    /// MODE SELECT(6) of the Device Configuration Extension page (10h/01h) with PEWS = <paramref name="megabytes"/>;
    /// <paramref name="page"/> is the page as MODE SENSE(6) with DBD returned it (header included).
    /// </summary>
    public static Operation ModeSelectPews(byte[] page, int megabytes)
    {
        var list = (byte[])page.Clone();
        list[0] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
        list[4 + 6] = (byte)(megabytes >> 8);
        list[4 + 7] = (byte)megabytes;
        return new($"MODE SELECT(6) PEWS {megabytes}", SpcCdb.ModeSelect6(list.Length), list, (uint)list.Length, m =>
        {
            m.SetPews(megabytes);
            return Outcome.Good();
        });
    }

    /// <summary>READ BLOCK LIMITS: granularity 0, MAXIMUM BLOCK LENGTH LIMIT 800000h (8 MiB), MINIMUM 1; whatever the medium or mode.</summary>
    public static Operation ReadBlockLimits() =>
        new("READ BLOCK LIMITS", Cdb.ReadBlockLimits(), null, 6, _ =>
            Outcome.Good([0x00, 0x80, 0x00, 0x00, 0x00, 0x01]));

    /// <summary>
    /// ALLOW OVERWRITE, current position (SSC-4; opcode 82h). The drive has no append-only mode (WRITE MODE 0 of the
    /// Device Configuration Extension page, not changeable), so it changes nothing a write does: on a WORM cartridge the
    /// WORM rules still decide ("a write type command shall be processed following the WORM rules", IBM LTO SCSI
    /// Reference §4.2.3). A position other than the current one is refused; the model follows the drive's INVALID FIELD
    /// IN CDB (the IBM reference names SEQUENTIAL POSITIONING ERROR; see the report).
    /// </summary>
    public static Operation AllowOverwrite(long identifier) =>
        new($"ALLOW OVERWRITE {identifier}", Cdb.AllowOverwrite(identifier), null, 0, m =>
            identifier == m.Position ? Outcome.Good() : Outcome.InvalidCdbField());

    /// <summary>
    /// SSC-4 LOCATE to a logical object: EOD itself is a valid destination (the append point); beyond it, BLANK
    /// CHECK 00/05 positioned at EOD, INFORMATION the objects short of the destination (requested minus actual
    /// position, as drive references give it for LOCATE, e.g. Exabyte's; SSC-4 does not forbid it).
    /// </summary>
    private static Outcome LocateObject(TapeModel m, long identifier)
    {
        if (identifier > m.Count)
        {
            m.Position = m.Count;
            return Outcome.EndOfData(identifier - m.Count);
        }

        m.Position = (int)identifier;
        return Outcome.Good();
    }

    private static Operation Space(bool sixteen, int code, long count, string what, Func<TapeModel, Outcome> apply) =>
        new(
            $"SPACE({(sixteen ? 16 : 6)}) {what} {count}",
            sixteen ? Cdb.Space16(code, count) : Cdb.Space(code, (int)count),
            null,
            0,
            apply);
}

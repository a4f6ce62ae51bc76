using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;
using TapeGateway.Scsi.Ssc;
using TapeGateway.Scsi.Tests.Spc;
using SpcCdb = TapeGateway.Scsi.Tests.Spc.Scsi;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// Fuzzing of the SSC tape drive, as the changer and the disk have it: random CDBs (the drive's own opcodes, as REPORT
/// SUPPORTED OPERATION CODES lists them, plus random opcodes) with random or mutated-valid Data-Out. Every answer is
/// GOOD, CHECK CONDITION with a real sense or RESERVATION CONFLICT — never an exception, never the internal-failure
/// sense (HARDWARE ERROR 44/00).
/// <para>
/// Data integrity without a second SSC model: the fuzz runs against a write-protected "vault" tape whose records are
/// known (every write-type command must be refused with DATA PROTECT 27/00 WRITE PROTECTED, so the records
/// must read back byte for byte), then destructively against a scratch tape, where the only claims are the ones that
/// hold whatever the fuzz did: a record appended at end of data reads back, and the image still opens. The vault,
/// unloaded meanwhile, is verified again at the end.
/// </para>
/// </summary>
public sealed class TapeDriveFuzzTests
{
    private const int CheckpointInterval = 250;

    /// <summary>Largest Data-In any fuzzed command may produce: the largest record the fuzz can write is 64 KiB.</summary>
    private const int MaxSaneDataIn = 1024 * 1024;

    /// <summary>The vault tape: record lengths in order, 0 for a filemark.</summary>
    private static readonly int[] s_vaultLayout = [1, 80, 512, 4096, 32768, 3, 0, 1024, 2048, 0, 777];

    /// <summary>Host attributes (SPC-4 MAM host type attributes) with their lengths, 0 = variable.</summary>
    private static readonly (ushort Id, int Length)[] s_hostAttributes =
    [
        (0x0800, 8), (0x0801, 32), (0x0802, 8), (0x0803, 160), (0x0804, 12), (0x0805, 1), (0x0806, 32), (0x0807, 80),
        (0x0808, 160), (0x0809, 16), (0x080A, 1), (0x080B, 16), (0x080C, 0), (0x0820, 36), (0x0821, 36),
    ];

    /// <summary>
    /// Commands with allocation or transfer lengths far beyond anything the drive holds: answered with what exists,
    /// never allocated at the requested size (or, for READ, at most the 24-bit transfer length).
    /// </summary>
    private static readonly (byte[] Cdb, byte[]? DataOut)[] s_huge =
    [
        (Cdb.Read(8 * 1024 * 1024), null),
        (Cdb.Read(0xFF_FFFF), null),
        (Cdb.Read(8 * 1024 * 1024, sili: true), null),
        (Cdb.ReadAttribute(0x00, allocation: 0xFFFF_FFFF), null),
        (Cdb.ReadAttribute(0x01, allocation: 0xFFFF_FFFF), null),
        (Cdb.ReadAttribute(0x05, allocation: 0xFFFF_FFFF), null),
        (Cdb.ReadMediaSerialNumber(0xFFFF_FFFF), null),
        (Cdb.ReportDensity(allocation: 0xFFFF), null),
        (Cdb.ReportDensity(media: true, mediumType: true, allocation: 0xFFFF), null),
        (Cdb.ReadPosition(0x08, 0xFFFF), null),
        (SpcCdb.ModeSense10(0x3F, 0xFF, allocation: 0xFFFF), null),
        (SpcCdb.LogSense(0x00, allocation: 0xFFFF), null),
        (SpcCdb.LogSense(0x2E, allocation: 0xFFFF), null),
        (SpcCdb.Inquiry(allocation: 0xFFFF), null),
        (SpcCdb.Inquiry(evpd: true, page: 0x83, allocation: 0xFFFF), null),
        (SpcCdb.PrIn(0x03, 0xFFFF), null),
        (SpcCdb.ReportSupportedOperationCodes(0, allocation: 0xFFFF_FFFF), null),
        (SpcCdb.ReportLuns(0, 0xFFFF_FFFF), null),
        (Cdb.WriteAttribute(unchecked((int)0xFFFF_FFFF)), new byte[64]),
        (Cdb.Write(0xFF_FFFF), new byte[512]),
        (Cdb.Write(8 * 1024 * 1024), new byte[512]),
    ];

    [Fact]
    public async Task RandomCdbs_AnswerSanely_AndProtectedRecordsSurvive()
    {
        var h = new TapeHarness();
        var rng = new Random(13579);
        var opcodes = await SupportedOpcodesAsync(h);
        var answered = new Dictionary<ScsiStatus, int>();

        // Phase 1: the vault. Written while writable, then loaded as a write-protected cartridge (what the library
        // does for a read-only cartridge). Every command is fuzzed, destructive ones included.
        var vaultStore = new MemoryTapeStore();
        var vault = await TapeImage.CreateAsync(vaultStore, new TapeImageOptions { CapacityBytes = 16 * TapeHarness.MiB });
        await LoadAsync(h, vault, TapeHarness.Cartridge("VLT001L5"));
        await WriteVaultAsync(h);
        await VerifyVaultAsync(h);
        await EjectAsync(h, vault);

        vault = await TapeImage.OpenAsync(vaultStore);
        await LoadAsync(h, vault, TapeHarness.Cartridge("VLT001L5", readOnly: true));
        var refusedWrites = 0;
        await FuzzAsync(h, rng, opcodes, 1500, answered, (_, t) =>
        {
            if (t.Status == ScsiStatus.CheckCondition && SenseDataBuilder.Parse(t.Sense) is (SenseKey.DataProtect, 0x27, 0x00))
            {
                refusedWrites++;
            }
        }, () => VerifyVaultAsync(h));
        await VerifyVaultAsync(h);
        await EjectAsync(h, vault);

        // The fuzz did try to write: the records survived refusals, not the absence of attempts.
        Assert.True(refusedWrites > 10, $"write-protect refusals: {refusedWrites}");

        // Phase 2: a writable scratch tape with data, filemarks and EOD; anything goes, including ERASE and FORMAT.
        var scratchStore = new MemoryTapeStore();
        var scratch = await TapeImage.CreateAsync(scratchStore, new TapeImageOptions { CapacityBytes = 16 * TapeHarness.MiB });
        await LoadAsync(h, scratch, TapeHarness.Cartridge("SCR001L5"));
        await h.WriteRecordsAsync(5, 1000);
        await h.Good(Cdb.WriteFilemarks(1));
        await h.WriteRecordsAsync(3, 300, seed: 50);
        await h.Good(Cdb.WriteFilemarks(2));
        await h.WriteRecordsAsync(2, 4000, seed: 70);
        await h.Good(Cdb.Rewind());
        var probes = 0;
        var destructive = 0;
        await FuzzAsync(h, rng, opcodes, 1500, answered, (cdb, t) =>
        {
            // FORMAT MEDIUM, ERASE, a WRITE that wrote
            if (t.Status == ScsiStatus.Good && (cdb[0] is 0x04 or 0x19 || (cdb[0] == 0x0A && t.CommandTransferLength > 0)))
            {
                destructive++;
            }
        }, () => ProbeAppendAsync(h, probes++));
        await ProbeAppendAsync(h, probes++);
        await EjectAsync(h, scratch);
        Assert.True(destructive > 5, $"data-changing commands that ran: {destructive}");

        // The scratch image still opens after all that, and positions.
        scratch = await TapeImage.OpenAsync(scratchStore);
        await LoadAsync(h, scratch, TapeHarness.Cartridge("SCR001L5"));
        await h.LongPositionAsync();
        await h.Good(Cdb.Space(3, 0));
        await ProbeAppendAsync(h, probes++);
        await EjectAsync(h, scratch);

        // The vault, unloaded through phase 2 and reopened writable: still exactly its records.
        vault = await TapeImage.OpenAsync(vaultStore);
        await LoadAsync(h, vault, TapeHarness.Cartridge("VLT001L5"));
        await VerifyVaultAsync(h);
        await EjectAsync(h, vault);

        // Both paths were exercised: commands that ran, and commands refused with sense.
        Assert.True(answered.GetValueOrDefault(ScsiStatus.Good) > 300, $"GOOD answers: {answered.GetValueOrDefault(ScsiStatus.Good)}");
        Assert.True(answered.GetValueOrDefault(ScsiStatus.CheckCondition) > 300, $"CHECK CONDITION answers: {answered.GetValueOrDefault(ScsiStatus.CheckCondition)}");
    }

    /// <summary>
    /// MODE SELECT(6)/(10) with mutated valid parameter lists (header, block descriptor, pages 01h, 0Ah, 0Ah/01h, 0Fh,
    /// 10h, 10h/01h, 11h, 1Ch, 1Dh): a refused MODE SELECT changes nothing (SPC-4 §6.9: the device server validates
    /// the whole parameter list before it changes any value), and an accepted one changes only changeable bits
    /// (SPC-4 §7.5.7).
    /// </summary>
    [Fact]
    public async Task ModeSelect_MutatedParameterLists_RefusedChangesNothing()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        await h.WriteRecordsAsync(3, 512);
        var rng = new Random(8642);
        var changeable = (await SenseModesAsync(h, ModePageControl.Changeable)).AsSpan(16).ToArray();
        var refused = 0;
        var accepted = 0;
        for (var i = 0; i < 1500; i++)
        {
            var template = await SenseModesAsync(h, ModePageControl.Current);
            var ten = rng.Next(2) == 0;
            var list = ModeSelectList(rng, ten, template);
            var cdb = ten ? SpcCdb.ModeSelect10(list.Length) : SpcCdb.ModeSelect6(list.Length);
            if (rng.Next(10) == 0)
            {
                cdb[1] = (byte)rng.Next(256); // PF=0, SP=1 and reserved bits
            }

            if (rng.Next(10) == 0)
            {
                cdb[ten ? 8 : 4] = (byte)rng.Next(256); // a PARAMETER LIST LENGTH that disagrees with the list
            }

            var t = await h.Run(cdb, list);
            t.AssertSaneAnswer(cdb);
            h.Consume(h.B);
            var after = await SenseModesAsync(h, ModePageControl.Current);
            if (t.Status == ScsiStatus.Good)
            {
                accepted++;
                for (var b = 16; b < after.Length; b++)
                {
                    Assert.True(((template[b] ^ after[b]) & ~changeable[b - 16]) == 0, $"byte {b} changed outside the changeable mask by {Hex(cdb, list)}");
                }
            }
            else
            {
                refused++;
                Assert.True(template.AsSpan().SequenceEqual(after), $"refused MODE SELECT changed the mode data: {Hex(cdb, list)}\n{Convert.ToHexString(template)}\n{Convert.ToHexString(after)}");
            }
        }

        Assert.True(accepted > 100 && refused > 100, $"accepted {accepted}, refused {refused}");
    }

    /// <summary>
    /// WRITE ATTRIBUTE with mutated attribute lists: a refused list changes no attribute (SPC-4 WRITE ATTRIBUTE: the
    /// list is checked before any attribute is written), an accepted one leaves each attribute with the last value
    /// the list gave it (length 0 deletes it).
    /// </summary>
    [Fact]
    public async Task WriteAttribute_MutatedLists_AllOrNothing()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var rng = new Random(97531);
        var refused = 0;
        var accepted = 0;
        for (var i = 0; i < 1500; i++)
        {
            var before = await ReadHostAttributesAsync(h);
            var list = AttributeList(rng);
            var cdb = Cdb.WriteAttribute(list.Length);
            MutateWriteAttributeCdb(rng, cdb);
            var t = await h.Run(cdb, list);
            t.AssertSaneAnswer(cdb);
            var after = await ReadHostAttributesAsync(h);
            if (t.Status != ScsiStatus.Good)
            {
                refused++;
                Assert.Equal(before, after);
                continue;
            }

            accepted++;
            var expected = new SortedDictionary<ushort, string>(before);
            var listLength = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(cdb.AsSpan(10)), (uint)list.Length);
            if (listLength >= 4)
            {
                // The attributes run to PARAMETER LIST LENGTH; PARAMETER DATA LENGTH is ignored (SPC-4 WRITE ATTRIBUTE).
                var end = listLength;
                for (var at = 4; at < end;)
                {
                    var id = BinaryPrimitives.ReadUInt16BigEndian(list.AsSpan(at));
                    var length = BinaryPrimitives.ReadUInt16BigEndian(list.AsSpan(at + 3));
                    if (length == 0)
                    {
                        expected.Remove(id);
                    }
                    else
                    {
                        expected[id] = Convert.ToHexString(list, at + 5, length);
                    }

                    at += 5 + length;
                }
            }

            Assert.Equal(expected, after);
        }

        Assert.True(accepted > 100 && refused > 100, $"accepted {accepted}, refused {refused}");
    }

    /// <summary>
    /// PERSISTENT RESERVE OUT with mutated parameter lists from two nexuses: sane answers, and a refused command
    /// (CHECK CONDITION or RESERVATION CONFLICT) changes neither the registrations, the reservation nor the PRgeneration
    /// (SPC-4 §6.17: PRGENERATION counts completed PERSISTENT RESERVE OUT commands only).
    /// </summary>
    [Fact]
    public async Task PersistentReserveOut_MutatedLists_RefusedChangesNothing()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var rng = new Random(24680);
        var refused = 0;
        var accepted = 0;
        for (var i = 0; i < 1500; i++)
        {
            var before = await ReservationStateAsync(h);
            var (cdb, data) = PrOutCommand(rng);
            var t = await h.Run(cdb, data, rng.Next(2) == 0 ? h.A : h.B);
            t.AssertSaneAnswer(cdb);
            var after = await ReservationStateAsync(h);
            if (t.Status == ScsiStatus.Good)
            {
                accepted++;
            }
            else
            {
                refused++;
                Assert.True(before == after, $"refused PERSISTENT RESERVE OUT changed the reservation state: {Hex(cdb, data)}\n{before}\n{after}");
            }
        }

        Assert.True(accepted > 100 && refused > 100, $"accepted {accepted}, refused {refused}");
    }

    /// <summary>
    /// Found by the mutation fuzz: MODE SELECT with a valid block descriptor (fixed 4096-byte blocks) and an invalid
    /// DEVICE-SPECIFIC PARAMETER (SPEED 0Ah) was refused with INVALID FIELD IN PARAMETER LIST but had already switched
    /// the drive to fixed-block mode. A refused MODE SELECT changes no parameter (SPC-4 §6.9).
    /// </summary>
    [Fact]
    public async Task ModeSelect_InvalidDeviceSpecificParameter_LeavesTheBlockLengthAlone()
    {
        var h = new TapeHarness();
        await h.LoadNewAsync();
        var list = Cdb.BlockDescriptorList(4096);
        list[2] = 0x0A; // BUFFERED MODE 000b, SPEED 0Ah: only SPEED 0 is supported
        var t = await h.Run(SpcCdb.ModeSelect6(list.Length), list);
        t.AssertInvalidParameterField(2);
        Assert.Equal(0u, h.Drive.BlockLength);

        list[2] = 0x10;
        await h.Good(SpcCdb.ModeSelect6(list.Length), list);
        Assert.Equal(4096u, h.Drive.BlockLength);
    }

    // ---- the fuzz loop -------------------------------------------------------------------------------------------

    private static async Task FuzzAsync(TapeHarness h, Random rng, byte[] opcodes, int count, Dictionary<ScsiStatus, int> answered, Action<byte[], ScsiTask> observe, Func<Task> checkpoint)
    {
        var template = await SenseModesAsync(h, ModePageControl.Current);
        for (var i = 0; i < count; i++)
        {
            var huge = i % 50 == 25;
            var (cdb, dataOut) = huge ? s_huge[(i / 50) % s_huge.Length] : RandomCommand(rng, opcodes, template);
            var t = await h.Run(cdb, dataOut);
            t.AssertSaneAnswer(cdb);
            Assert.True(t.DataIn.Length <= MaxSaneDataIn, $"{t.DataIn.Length} bytes of Data-In for {Convert.ToHexString(cdb)}");
            answered[t.Status] = answered.GetValueOrDefault(t.Status) + 1;
            observe(cdb, t);
            h.Consume(h.B); // B sends nothing: its unit attentions would only pile up

            // The fuzz unloads the tape now and then (LOAD UNLOAD, LOAD=0); reload it mostly, so most commands meet a
            // threaded tape, but not always, so commands also meet an unloaded one.
            if (!h.Drive.IsReady && rng.Next(4) != 0)
            {
                await EnsureReadyAsync(h);
            }

            if ((i + 1) % CheckpointInterval == 0)
            {
                await EnsureReadyAsync(h);
                await checkpoint();
                template = await SenseModesAsync(h, ModePageControl.Current);
            }
        }
    }

    private static (byte[] Cdb, byte[]? DataOut) RandomCommand(Random rng, byte[] opcodes, byte[] modeTemplate)
    {
        var cdb = new byte[16];
        rng.NextBytes(cdb);
        var opcode = rng.Next(5) == 0 ? (byte)rng.Next(256) : opcodes[rng.Next(opcodes.Length)];
        cdb[0] = opcode;
        var length = (opcode >> 5) switch { 0 => 6, 1 or 2 => 10, 5 => 12, _ => 16 };
        if (rng.Next(2) == 0)
        {
            Tame(rng, cdb, length);
        }

        switch (opcode)
        {
            case 0x08 or 0x0A or 0x13:
                // READ/WRITE/VERIFY stay below 64 KiB: the huge transfers come from s_huge, a few times each.
                cdb[2] = 0;
                break;
            case 0x10:
                // Below 256 filemarks: millions of them would fill the scratch tape in one command.
                cdb[2] = 0;
                cdb[3] = 0;
                break;
            case 0x80:
                cdb[12] = 0;
                cdb[13] = 0;
                break;
        }

        cdb[length - 1] &= unchecked((byte)~0x04); // no NACA
        byte[]? dataOut = null;
        var wellFormed = rng.Next(3) != 0;
        switch (opcode)
        {
            case 0x15 or 0x55 when wellFormed:
                dataOut = ModeSelectList(rng, opcode == 0x55, modeTemplate);
                if (rng.Next(8) != 0)
                {
                    SetModeSelectLength(cdb, opcode == 0x55, dataOut.Length);
                }

                break;
            case 0x8D when wellFormed:
                dataOut = AttributeList(rng);
                BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), (uint)dataOut.Length);
                MutateWriteAttributeCdb(rng, cdb);
                break;
            case 0x5F when wellFormed:
                (var prCdb, dataOut) = PrOutCommand(rng);
                prCdb.CopyTo(cdb, 0);
                break;
            case 0x0A when wellFormed:
                var transfer = TapeDriveLogicalUnit.Read24(cdb.AsSpan(2));
                dataOut = TapeHarness.Block(Math.Min(transfer, 64 * 1024), rng.Next());
                break;
            default:
                if (rng.Next(8) == 0)
                {
                    dataOut = TapeHarness.Block(rng.Next(0, 512), rng.Next());
                }

                break;
        }

        return (cdb[..length], dataOut);
    }

    /// <summary>Small lengths, counts and positions, so commands get past validation and really move or transfer.</summary>
    private static void Tame(Random rng, byte[] cdb, int length)
    {
        cdb[1] &= (byte)(rng.Next(2) == 0 ? 0x03 : 0x1F);
        var pageOrMsb = rng.Next(3) == 0 ? cdb[2] : (byte)0;
        cdb.AsSpan(2).Clear();
        cdb[2] = pageOrMsb;
        switch (length)
        {
            case 6:
                cdb[3] = (byte)(rng.Next(4) == 0 ? rng.Next(2) : 0);
                cdb[4] = (byte)rng.Next(256);
                if (cdb[0] == TapeDriveLogicalUnit.Space6 && rng.Next(3) == 0)
                {
                    cdb[2] = 0xFF; // a negative count: space backwards
                    cdb[3] = 0xFF;
                }

                break;
            case 10:
                cdb[3] = (byte)(rng.Next(4) == 0 ? rng.Next(256) : 0);
                cdb[6] = (byte)rng.Next(16);
                cdb[7] = (byte)(rng.Next(4) == 0 ? 1 : 0);
                cdb[8] = (byte)rng.Next(256);
                break;
            case 12:
                cdb[3] = (byte)(rng.Next(2) == 0 ? rng.Next(256) : 0);
                cdb[8] = (byte)(rng.Next(4) == 0 ? 1 : 0);
                cdb[9] = (byte)rng.Next(256);
                break;
            default:
                if (rng.Next(4) == 0)
                {
                    cdb.AsSpan(4, 7).Fill(0xFF); // a negative count or an identifier far away
                }

                cdb[8] = (byte)(rng.Next(4) == 0 ? rng.Next(12) : cdb[8]);
                cdb[11] = (byte)rng.Next(16);
                cdb[12] = (byte)(rng.Next(4) == 0 ? 1 : 0);
                cdb[13] = (byte)rng.Next(256);
                cdb[14] = (byte)rng.Next(4);
                break;
        }
    }

    // ---- parameter lists -----------------------------------------------------------------------------------------

    /// <summary>
    /// A MODE SELECT parameter list built from what MODE SENSE(10) reported (header, block descriptor, pages), with a
    /// random subset of the pages, a plausible or random block descriptor and device-specific parameter, then a few
    /// random byte changes and sometimes a truncation.
    /// </summary>
    private static byte[] ModeSelectList(Random rng, bool ten, byte[] modeSense10)
    {
        var pages = SplitPages(modeSense10.AsSpan(8 + BinaryPrimitives.ReadUInt16BigEndian(modeSense10.AsSpan(6))));
        var header = ten ? 8 : 4;
        var descriptor = rng.Next(3) != 0 ? 8 : 0;
        var chosen = new List<byte[]>();
        for (var n = rng.Next(4); n > 0; n--)
        {
            chosen.Add(pages[rng.Next(pages.Count)]);
        }

        var list = new byte[header + descriptor + chosen.Sum(p => p.Length)];
        var deviceSpecific = rng.Next(4) switch { 0 => (byte)rng.Next(256), 1 => (byte)0x00, _ => (byte)0x10 };
        if (ten)
        {
            list[3] = deviceSpecific;
            list[7] = (byte)descriptor;
        }
        else
        {
            list[2] = deviceSpecific;
            list[3] = (byte)descriptor;
        }

        if (descriptor != 0)
        {
            var d = list.AsSpan(header, 8);
            d[0] = rng.Next(4) switch { 0 => 0x00, 1 => 0x7F, 2 => LtoGeneration.Lto5.DensityCode, _ => (byte)rng.Next(256) };
            var blockLength = rng.Next(5) switch { 0 => 0, 1 => 512, 2 => 4096, 3 => 65536, _ => rng.Next(0x100_0000) };
            d[5] = (byte)(blockLength >> 16);
            d[6] = (byte)(blockLength >> 8);
            d[7] = (byte)blockLength;
        }

        var at = header + descriptor;
        foreach (var p in chosen)
        {
            p.CopyTo(list, at);
            at += p.Length;
        }

        for (var n = rng.Next(4); n > 0; n--)
        {
            var i = rng.Next(list.Length);
            list[i] = rng.Next(2) == 0 ? (byte)rng.Next(256) : (byte)(list[i] ^ (1 << rng.Next(8)));
        }

        return rng.Next(10) == 0 ? list[..rng.Next(list.Length)] : list;
    }

    private static void SetModeSelectLength(byte[] cdb, bool ten, int length)
    {
        if (ten)
        {
            BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), (ushort)length);
        }
        else
        {
            cdb[4] = (byte)length;
        }
    }

    private static List<byte[]> SplitPages(ReadOnlySpan<byte> pages)
    {
        var list = new List<byte[]>();
        while (pages.Length >= 2)
        {
            var length = (pages[0] & 0x40) != 0 ? 4 + BinaryPrimitives.ReadUInt16BigEndian(pages[2..]) : 2 + pages[1];
            var page = pages[..length].ToArray();
            page[0] &= 0x7F; // PS is reserved in MODE SELECT
            list.Add(page);
            pages = pages[length..];
        }

        return list;
    }

    /// <summary>
    /// A WRITE ATTRIBUTE parameter list (SPC-4): PARAMETER DATA LENGTH, then attributes — mostly known host attributes
    /// of the right length, sometimes a deletion (length 0), a read-only or unknown identifier or a wrong length —
    /// then a few random byte changes.
    /// </summary>
    private static byte[] AttributeList(Random rng)
    {
        var list = new List<byte>([0, 0, 0, 0]);
        for (var n = rng.Next(4); n > 0; n--)
        {
            var (id, length) = s_hostAttributes[rng.Next(s_hostAttributes.Length)];
            length = length == 0 ? rng.Next(1, 70) : length;
            switch (rng.Next(10))
            {
                case 0:
                    length = 0;
                    break;
                case 1:
                    id = (ushort)(rng.Next(2) == 0 ? rng.Next(0x0800) : rng.Next(0x0C00, 0x10000));
                    break;
                case 2:
                    length = rng.Next(0, 200);
                    break;
            }

            list.AddRange([(byte)(id >> 8), (byte)id, 0x01, (byte)(length >> 8), (byte)length]);
            for (var b = 0; b < length; b++)
            {
                list.Add((byte)rng.Next(0x20, 0x7F));
            }
        }

        var bytes = list.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)(bytes.Length - 4));
        for (var n = rng.Next(3); n > 0 && bytes.Length > 0; n--)
        {
            bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
        }

        return bytes;
    }

    private static void MutateWriteAttributeCdb(Random rng, byte[] cdb)
    {
        switch (rng.Next(12))
        {
            case 0:
                BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), (uint)rng.Next(0, 300)); // disagrees with the list
                break;
            case 1:
                cdb[5] = (byte)rng.Next(256); // LOGICAL VOLUME NUMBER
                break;
            case 2:
                cdb[7] = (byte)rng.Next(256); // PARTITION NUMBER
                break;
            case 3:
                cdb[1] = (byte)rng.Next(256); // WTC and reserved bits
                break;
        }
    }

    /// <summary>
    /// A PERSISTENT RESERVE OUT command: service action 0-7, a type from table 169 or random, keys from a small set so
    /// they sometimes match, random SPEC_I_PT/ALL_TG_PT/APTPL, sometimes a wrong PARAMETER LIST LENGTH or random bytes.
    /// </summary>
    private static (byte[] Cdb, byte[] Data) PrOutCommand(Random rng)
    {
        ulong[] keys = [0, 0x1111, 0x2222, 0xABCD_0000_0000_0001];
        byte[] types = [0, 1, 3, 5, 6, 7, 8, (byte)rng.Next(16)];
        var data = SpcCdb.PrOutData(keys[rng.Next(keys.Length)], keys[rng.Next(keys.Length)]);
        data[20] = (byte)(rng.Next(4) == 0 ? rng.Next(16) : 0);
        var cdb = SpcCdb.PrOut((byte)rng.Next(8), types[rng.Next(types.Length)], (byte)(rng.Next(8) == 0 ? rng.Next(16) : 0));
        if (rng.Next(8) == 0)
        {
            data = [.. data, .. TapeHarness.Block(rng.Next(1, 64), rng.Next())]; // transport IDs that may not parse
            BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(5), (uint)data.Length);
        }

        if (rng.Next(8) == 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(5), (uint)rng.Next(0, 40));
        }

        for (var n = rng.Next(3) == 0 ? rng.Next(1, 3) : 0; n > 0; n--)
        {
            data[rng.Next(data.Length)] = (byte)rng.Next(256);
        }

        return (cdb, data);
    }

    // ---- invariants ----------------------------------------------------------------------------------------------

    private static byte[] VaultRecord(int index) => TapeHarness.Block(s_vaultLayout[index], 1000 + index);

    private static async Task WriteVaultAsync(TapeHarness h)
    {
        for (var i = 0; i < s_vaultLayout.Length; i++)
        {
            if (s_vaultLayout[i] == 0)
            {
                await h.Good(Cdb.WriteFilemarks(1));
            }
            else
            {
                await h.WriteRecordAsync(VaultRecord(i));
            }
        }
    }

    /// <summary>From BOP: every record byte for byte, every filemark (NO SENSE 00/01), then EOD (BLANK CHECK 00/05).</summary>
    private static async Task VerifyVaultAsync(TapeHarness h)
    {
        await h.Good(Cdb.Rewind());
        for (var i = 0; i < s_vaultLayout.Length; i++)
        {
            if (s_vaultLayout[i] == 0)
            {
                (await h.Run(Cdb.Read(1024))).AssertSense(SenseKey.NoSense, 0x00, 0x01);
                continue;
            }

            var expected = VaultRecord(i);
            var t = await h.Run(Cdb.Read(expected.Length));
            t.AssertGood();
            Assert.True(expected.AsSpan().SequenceEqual(t.Data()), $"vault record {i} differs");
        }

        (await h.Run(Cdb.Read(1024))).AssertSense(SenseKey.BlankCheck, 0x00, 0x05);
        var (objects, files, _) = await h.LongPositionAsync();
        Assert.Equal(s_vaultLayout.Length, objects);
        Assert.Equal(s_vaultLayout.Count(l => l == 0), files);
    }

    /// <summary>
    /// What holds on the scratch tape whatever the fuzz did to it: at end of data a new record can be written, read
    /// back after spacing over it, and is followed by EOD (SSC-4 §4.2: WRITE establishes EOD after the record).
    /// </summary>
    private static async Task ProbeAppendAsync(TapeHarness h, int n)
    {
        var record = TapeHarness.Block(100 + (n % 7 * 300), 9000 + n);
        await h.LongPositionAsync();
        await h.Good(Cdb.Space(3, 0));
        var w = await h.Run(Cdb.Write(record.Length), record);
        if (w.Status != ScsiStatus.Good)
        {
            // Programmable early warning (the fuzz may set PEWS): the record is written, NO SENSE with EOM.
            Assert.Equal(SenseKey.NoSense, SenseDataBuilder.Parse(w.Sense).Key);
        }

        await h.Good(Cdb.Space(0, -1));
        var r = await h.Run(Cdb.Read(record.Length));
        r.AssertGood();
        Assert.True(record.AsSpan().SequenceEqual(r.Data()), $"probe record {n} differs");
        (await h.Run(Cdb.Read(record.Length))).AssertSense(SenseKey.BlankCheck, 0x00, 0x05);
    }

    /// <summary>The drive's opcodes, as REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35, all commands) lists them.</summary>
    private static async Task<byte[]> SupportedOpcodesAsync(TapeHarness h)
    {
        var t = await h.Run(SpcCdb.ReportSupportedOperationCodes(0));
        t.AssertGood();
        var d = t.Data();
        var length = BinaryPrimitives.ReadUInt32BigEndian(d);
        var opcodes = new SortedSet<byte>();
        for (var at = 4; at + 8 <= 4 + length; at += 8)
        {
            opcodes.Add(d[at]);
        }

        Assert.Contains(TapeDriveLogicalUnit.Locate16, opcodes);
        Assert.Contains(TapeDriveLogicalUnit.WriteAttribute, opcodes);
        return [.. opcodes];
    }

    /// <summary>MODE SENSE(10), all pages and subpages, with the block descriptor.</summary>
    private static async Task<byte[]> SenseModesAsync(TapeHarness h, ModePageControl pc)
    {
        var t = await h.Run(SpcCdb.ModeSense10(0x3F, 0xFF, (byte)pc, allocation: 0xFFFF));
        t.AssertGood();
        return t.Data();
    }

    /// <summary>
    /// Host attributes (READ ATTRIBUTE values, ids 0800h and up) as identifier → hex value. Read from 0000h (always
    /// present): FIRST ATTRIBUTE IDENTIFIER 0800h is INVALID FIELD IN CDB while APPLICATION VENDOR is not written.
    /// </summary>
    private static async Task<SortedDictionary<ushort, string>> ReadHostAttributesAsync(TapeHarness h)
    {
        var t = await h.Run(Cdb.ReadAttribute(0x00, first: 0x0000));
        t.AssertGood();
        var d = t.Data();
        var values = new SortedDictionary<ushort, string>();
        for (var at = 4; at < d.Length;)
        {
            var id = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at));
            var length = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at + 3));
            if (id >= 0x0800)
            {
                values[id] = Convert.ToHexString(d, at + 5, length);
            }

            at += 5 + length;
        }

        return values;
    }

    /// <summary>READ KEYS and READ RESERVATION (SPC-4 §6.16), PRGENERATION included, from nexus A.</summary>
    private static async Task<string> ReservationStateAsync(TapeHarness h)
    {
        h.Consume(h.A);
        h.Consume(h.B);
        var keys = await h.Run(SpcCdb.PrIn(0x00));
        keys.AssertGood();
        var reservation = await h.Run(SpcCdb.PrIn(0x01));
        reservation.AssertGood();
        return Convert.ToHexString(keys.Data()) + "/" + Convert.ToHexString(reservation.Data());
    }

    private static async Task LoadAsync(TapeHarness h, TapeImage image, LoadedCartridge cartridge)
    {
        await h.Drive.LoadAsync(image, cartridge, CancellationToken.None);
        h.Consume(h.A);
        h.Consume(h.B);
    }

    private static async Task EjectAsync(TapeHarness h, TapeImage image)
    {
        var medium = await h.Drive.EjectAsync(force: true, CancellationToken.None);
        Assert.Same(image, medium);
        await image.DisposeAsync();
    }

    /// <summary>Threads a tape the fuzz unloaded (LOAD UNLOAD, LOAD=1) and clears what the fuzz left for nexus A.</summary>
    private static async Task EnsureReadyAsync(TapeHarness h)
    {
        h.Consume(h.A);
        if (!h.Drive.IsReady)
        {
            Assert.True(h.Drive.HasMedium);
            await h.Good(Cdb.LoadUnload(load: true));
        }

        h.Consume(h.A);
    }

    private static string Hex(byte[] cdb, byte[]? data) => Convert.ToHexString(cdb) + " / " + (data is null ? "-" : Convert.ToHexString(data));
}

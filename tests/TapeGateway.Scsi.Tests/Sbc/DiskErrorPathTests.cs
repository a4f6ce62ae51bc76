using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Tests.Sbc;

/// <summary>
/// Table-driven error paths: CDB bytes (and optional Data-Out length) in, sense key / ASC / ASCQ out, on a thin
/// 1024-block, 512-byte volume. Each row names the rule it checks.
/// </summary>
public sealed class DiskErrorPathTests
{
    private const SenseKey Illegal = SenseKey.IllegalRequest;

    public static TheoryData<string, byte[], int, SenseKey, byte, byte> Cases => new()
    {
        // LBA range (SBC-3 §4.5), including zero-length transfers (libiscsi *_0blocks, *_beyond_eol).
        { "READ(10) 0 blocks one past the end", Cdb.Read10(1025, 0), 0, Illegal, 0x21, 0x00 },
        { "READ(10) last block + 1", Cdb.Read10(1023, 2), 0, Illegal, 0x21, 0x00 },
        { "READ(10) LBA -1", Cdb.Read10(0xFFFF_FFFF, 1), 0, Illegal, 0x21, 0x00 },
        { "READ(10) LBA 2^31", Cdb.Read10(0x8000_0000, 1), 0, Illegal, 0x21, 0x00 },
        { "READ(6) beyond end", Cdb.Rw6(0x08, 1024, 1), 0, Illegal, 0x21, 0x00 },
        { "READ(6) 0 = 256 blocks beyond end", Cdb.Rw6(0x08, 800, 0), 0, Illegal, 0x21, 0x00 },
        { "READ(12) beyond end", Cdb.Rw12(0xA8, 1000, 25), 0, Illegal, 0x21, 0x00 },
        { "READ(16) LBA 2^63", Cdb.Read16(0x8000_0000_0000_0000, 1), 0, Illegal, 0x21, 0x00 },
        { "READ(16) LBA -1 length wraps", Cdb.Read16(ulong.MaxValue, 2), 0, Illegal, 0x21, 0x00 },
        { "WRITE(10) beyond end", Cdb.Write10(1024, 1), 512, Illegal, 0x21, 0x00 },
        { "WRITE(16) 0 blocks past end", Cdb.Write16(1025, 0), 0, Illegal, 0x21, 0x00 },
        { "WRITE AND VERIFY(10) beyond end", Cdb.Rw10(0x2E, 1024, 1), 512, Illegal, 0x21, 0x00 },
        { "VERIFY(10) 0 blocks past end", Cdb.Verify10(1025, 0, 1), 0, Illegal, 0x21, 0x00 },
        { "VERIFY(16) beyond end", Cdb.Rw16(0x8F, 1023, 2), 0, Illegal, 0x21, 0x00 },
        { "ORWRITE beyond end", Cdb.Rw16(0x8B, 1024, 1), 512, Illegal, 0x21, 0x00 },
        { "PRE-FETCH(10) beyond end", Cdb.Rw10(0x34, 1023, 2), 0, Illegal, 0x21, 0x00 },
        { "PRE-FETCH(16) 0 blocks LBA -1", Cdb.Rw16(0x90, ulong.MaxValue, 0), 0, Illegal, 0x21, 0x00 },
        { "SYNCHRONIZE CACHE(10) beyond end", Cdb.Rw10(0x35, 1025, 0), 0, Illegal, 0x21, 0x00 },
        { "SYNCHRONIZE CACHE(16) beyond end", Cdb.Rw16(0x91, 1000, 100), 0, Illegal, 0x21, 0x00 },
        { "WRITE SAME(10) 0 blocks past end", Cdb.WriteSame10(1025, 0), 512, Illegal, 0x21, 0x00 },
        { "WRITE SAME(16) LBA 2^63", Cdb.WriteSame16(0x8000_0000_0000_0000, 0), 512, Illegal, 0x21, 0x00 },
        { "WRITE SAME(10) range beyond end", Cdb.WriteSame10(1000, 30), 512, Illegal, 0x21, 0x00 },
        { "COMPARE AND WRITE beyond end", Cdb.CompareAndWrite(1024, 1), 1024, Illegal, 0x21, 0x00 },
        { "GET LBA STATUS at capacity", Cdb.GetLbaStatus(1024), 0, Illegal, 0x21, 0x00 },
        { "UNMAP descriptor beyond end", Cdb.Unmap(24), -1, Illegal, 0x21, 0x00 },

        // Protection information fields (PROTECT=0 in INQUIRY, libiscsi *_rdprotect/_wrprotect/_vrprotect).
        { "READ(10) RDPROTECT=1", Cdb.Read10(0, 1, 0x20), 0, Illegal, 0x24, 0x00 },
        { "READ(16) RDPROTECT=7", Cdb.Read16(0, 1, 0xE0), 0, Illegal, 0x24, 0x00 },
        { "WRITE(10) WRPROTECT=1", Cdb.Write10(0, 1, 0x20), 512, Illegal, 0x24, 0x00 },
        { "WRITE(12) WRPROTECT=3", Cdb.Rw12(0xAA, 0, 1, 0x60), 512, Illegal, 0x24, 0x00 },
        { "VERIFY(10) VRPROTECT=1", Cdb.Verify10(0, 1, 1, 0x20), 512, Illegal, 0x24, 0x00 },
        { "WRITE AND VERIFY(16) WRPROTECT=2", Cdb.Rw16(0x8E, 0, 1, 0x40), 512, Illegal, 0x24, 0x00 },
        { "COMPARE AND WRITE WRPROTECT=1", Cdb.CompareAndWrite(0, 1, 0x20), 1024, Illegal, 0x24, 0x00 },
        { "WRITE SAME(10) WRPROTECT=1", Cdb.WriteSame10(0, 1, 0x20), 512, Illegal, 0x24, 0x00 },

        // Block limits (SBC-3 §6.5.3): 8 MiB / 512 = 16384 blocks, one block per COMPARE AND WRITE.
        { "READ(10) above MAXIMUM TRANSFER LENGTH", Cdb.Read10(0, 16385), 0, Illegal, 0x24, 0x00 },
        { "WRITE(16) above MAXIMUM TRANSFER LENGTH", Cdb.Write16(0, 16385), 0, Illegal, 0x24, 0x00 },
        { "COMPARE AND WRITE 2 blocks", Cdb.CompareAndWrite(0, 2), 2048, Illegal, 0x24, 0x00 },
        { "PRE-FETCH(16) above MAXIMUM PREFETCH LENGTH", Cdb.Rw16(0x90, 0, 16385), 0, Illegal, 0x24, 0x00 },

        // Reserved / unsupported CDB fields.
        { "VERIFY(10) BYTCHK=10b", Cdb.Verify10(0, 1, 2), 0, Illegal, 0x24, 0x00 },
        { "WRITE AND VERIFY(10) BYTCHK=11b", Cdb.Rw10(0x2E, 0, 1, 0x06), 512, Illegal, 0x24, 0x00 },
        { "WRITE SAME(10) ANCHOR", Cdb.WriteSame10(0, 1, 0x10), 512, Illegal, 0x24, 0x00 },
        { "WRITE SAME(10) ANCHOR+UNMAP", Cdb.WriteSame10(0, 1, 0x18), 512, Illegal, 0x24, 0x00 },
        { "WRITE SAME(16) ANCHOR", Cdb.WriteSame16(0, 1, 0x10), 512, Illegal, 0x24, 0x00 },
        { "WRITE SAME(10) PBDATA", Cdb.WriteSame10(0, 1, 0x04), 512, Illegal, 0x24, 0x00 },
        { "WRITE SAME(10) LBDATA", Cdb.WriteSame10(0, 1, 0x02), 512, Illegal, 0x24, 0x00 },
        { "WRITE SAME(16) LBDATA", Cdb.WriteSame16(0, 1, 0x02), 512, Illegal, 0x24, 0x00 },
        { "UNMAP ANCHOR", Cdb.Unmap(24, anchor: true), -1, Illegal, 0x24, 0x00 },
        { "START STOP UNIT reserved power condition", [0x1B, 0, 0, 0, 0x40, 0], 0, Illegal, 0x24, 0x00 },
        { "READ DEFECT DATA(10) reserved format", [0x37, 0, 0x07, 0, 0, 0, 0, 0, 32, 0], 0, Illegal, 0x24, 0x00 },
        { "SERVICE ACTION IN unknown action", Cdb.ServiceActionIn(0x11, 0, 32), 0, Illegal, 0x24, 0x00 },
        { "NACA bit in CONTROL", [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0x04], 0, Illegal, 0x24, 0x00 },
        { "FORMAT UNIT not supported", [0x04, 0, 0, 0, 0, 0], 0, Illegal, 0x20, 0x00 },

        // UNMAP parameter list validation (SBC-3 §5.28).
        { "UNMAP parameter list length 4", Cdb.Unmap(4), 4, Illegal, 0x1A, 0x00 },
        { "UNMAP data length shorter than descriptors", Cdb.Unmap(24), -2, Illegal, 0x26, 0x00 },
        { "UNMAP 257 descriptors", Cdb.Unmap(8 + (257 * 16)), -3, Illegal, 0x26, 0x00 },

        // Data-Out shorter than the CDB asks for: nothing written (libiscsi write*_residuals option b).
        { "COMPARE AND WRITE with 4 blocks of Data-Out", Cdb.CompareAndWrite(0, 1), 2048, Illegal, 0x0E, 0x03 },
        { "COMPARE AND WRITE with 1 block of Data-Out", Cdb.CompareAndWrite(0, 1), 512, Illegal, 0x0E, 0x03 },
        { "WRITE SAME(10) with half a block", Cdb.WriteSame10(0, 1, 0x08), 256, Illegal, 0x0E, 0x03 },
        { "WRITE SAME(10) with two blocks", Cdb.WriteSame10(0, 1, 0x08), 1024, Illegal, 0x0E, 0x03 },
        { "VERIFY(10) BYTCHK=1 short Data-Out", Cdb.Verify10(0, 2, 1), 512, Illegal, 0x0E, 0x03 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ErrorPath(string rule, byte[] cdb, int dataOut, SenseKey key, byte asc, byte ascq)
    {
        var disk = DiskHarness.Create();
        var before = await disk.ReadBlocksAsync(0, 4);
        var task = await disk.RunAsync(cdb, DataOut(dataOut));
        Assert.True(task.Status == Core.Scsi.ScsiStatus.CheckCondition, rule);
        TaskAssert.Sense(task, key, asc, ascq);
        Assert.Equal(0, task.DataInLength);
        Assert.Equal(before, await disk.ReadBlocksAsync(0, 4));
        Assert.Equal(0, disk.Memory.WriteCount);
        Assert.Equal(0, disk.Memory.UnmapCount);
    }

    /// <summary>Data-Out for a row: n bytes of 0xA5, or one of the canned UNMAP parameter lists for negative n.</summary>
    private static byte[]? DataOut(int n)
    {
        switch (n)
        {
            case 0:
                return null;
            case -1:
                return Cdb.UnmapList((1000, 25));
            case -2:
                var list = Cdb.UnmapList((0, 1));
                list[1] = 4; // UNMAP DATA LENGTH 4 < 16 + 6
                return list;
            case -3:
                return Cdb.UnmapList(Enumerable.Range(0, 257).Select(i => ((ulong)i, 1u)).ToArray());
            default:
                var data = new byte[n];
                data.AsSpan().Fill(0xA5);
                return data;
        }
    }

    [Fact]
    public async Task InvalidFieldInCdb_PointsAtTheField()
    {
        var disk = DiskHarness.Create();
        var task = await disk.RunAsync(Cdb.Read10(0, 1, 0x20));
        TaskAssert.FieldPointer(task, 1, 7);

        task = await disk.RunAsync(Cdb.Read10(0, 16385));
        TaskAssert.FieldPointer(task, 7);

        task = await disk.RunAsync(Cdb.CompareAndWrite(0, 2), new byte[2048]);
        TaskAssert.FieldPointer(task, 13);

        task = await disk.RunAsync(Cdb.WriteSame16(0, 1, 0x10), new byte[512]);
        TaskAssert.FieldPointer(task, 1, 4);
    }

    public static TheoryData<string, byte[], int> WriteCommands => new()
    {
        { "WRITE(6)", Cdb.Rw6(0x0A, 0, 1), 512 },
        { "WRITE(10)", Cdb.Write10(0, 1), 512 },
        { "WRITE(12)", Cdb.Rw12(0xAA, 0, 1), 512 },
        { "WRITE(16)", Cdb.Write16(0, 1), 512 },
        { "WRITE AND VERIFY(10)", Cdb.Rw10(0x2E, 0, 1), 512 },
        { "WRITE AND VERIFY(12)", Cdb.Rw12(0xAE, 0, 1), 512 },
        { "WRITE AND VERIFY(16)", Cdb.Rw16(0x8E, 0, 1), 512 },
        { "WRITE SAME(10)", Cdb.WriteSame10(0, 1), 512 },
        { "WRITE SAME(10) UNMAP", Cdb.WriteSame10(0, 1, 0x08), 512 },
        { "WRITE SAME(16)", Cdb.WriteSame16(0, 1), 512 },
        { "WRITE SAME(16) NDOB", Cdb.WriteSame16(0, 1, 0x09), 0 },
        { "UNMAP", Cdb.Unmap(24), 24 },
        { "COMPARE AND WRITE", Cdb.CompareAndWrite(0, 1), 1024 },
        { "ORWRITE(16)", Cdb.Rw16(0x8B, 0, 1), 512 },
    };

    [Theory]
    [MemberData(nameof(WriteCommands))]
    public async Task ReadOnlyVolume_EveryWriteCommand_IsWriteProtected(string name, byte[] cdb, int dataOut)
    {
        var disk = DiskHarness.Create(readOnly: true);
        var data = dataOut == 24 ? Cdb.UnmapList((0, 1)) : dataOut == 0 ? null : new byte[dataOut];
        var task = await disk.RunAsync(cdb, data);
        Assert.True(task.Status == Core.Scsi.ScsiStatus.CheckCondition, name);
        TaskAssert.WriteProtected(task);
    }

    [Fact]
    public async Task ReadOnlyVolume_ReadsAndSynchronizeCacheStillWork()
    {
        var disk = DiskHarness.Create(readOnly: true);
        TaskAssert.Good(await disk.RunAsync(Cdb.Read10(0, 4)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Rw10(0x35, 0, 0)));
        TaskAssert.Good(await disk.RunAsync(Cdb.Verify10(0, 4, 0)));
    }

    [Fact]
    public async Task ThickVolume_UnmapIsUnsupported_AndWriteSameUnmapIsInvalid()
    {
        var disk = DiskHarness.Create(thin: false);
        TaskAssert.Sense(await disk.RunAsync(Cdb.Unmap(24), Cdb.UnmapList((0, 1))), SenseKey.IllegalRequest, 0x20, 0x00);
        var ws = await disk.RunAsync(Cdb.WriteSame10(0, 1, 0x08), new byte[512]);
        TaskAssert.InvalidField(ws);
        TaskAssert.FieldPointer(ws, 1, 3);
        TaskAssert.InvalidField(await disk.RunAsync(Cdb.WriteSame16(0, 1, 0x08), new byte[512]));

        // WRITE SAME without UNMAP still writes.
        TaskAssert.Good(await disk.RunAsync(Cdb.WriteSame10(0, 2), new byte[512]));
    }
}

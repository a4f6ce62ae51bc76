using TapeGateway.Core.Scsi;
using TapeGateway.Media.Block;
using TapeGateway.Scsi;
using TapeGateway.Scsi.Sbc;

namespace TapeGateway.Fuzz.Targets;

/// <summary>
/// Random CDBs through a <see cref="DiskLogicalUnit"/> over a 2 MiB <see cref="InMemoryBlockVolume"/>, behind a
/// <see cref="ScsiTargetDevice"/> (so unknown LUNs hit the missing-LUN path too). The input is a sequence of commands
/// <c>selector(1) cdb(n) flags(1) edtl(2)</c>, run in order on one unit so stateful commands (MODE SELECT, reservations,
/// resets) matter. Findings: an exception escaping ExecuteAsync; a command that does not complete; HARDWARE ERROR /
/// INTERNAL TARGET FAILURE (44/00, which LogicalUnit reports when a handler threw); CHECK CONDITION without sense.
/// </summary>
public sealed class CdbTarget : IFuzzTarget
{
    private static readonly int[] s_cdbLengths = [6, 10, 12, 16];

    private static readonly byte[] s_opcodes =
    [
        0x00, 0x03, 0x12, 0x15, 0x16, 0x17, 0x1A, 0x1B, 0x1D, 0x25, 0x28, 0x2A, 0x2E, 0x2F, 0x35, 0x41, 0x42, 0x4D, 0x55, 0x56,
        0x57, 0x5A, 0x5E, 0x5F, 0x7F, 0x88, 0x89, 0x8A, 0x8E, 0x8F, 0x91, 0x93, 0x9E, 0xA0, 0xA3, 0xA8, 0xAA, 0x08, 0x0A, 0x04,
    ];

    public string Name => "cdb";

    public IReadOnlyList<byte[]> Seeds()
    {
        static byte[] Command(byte[] cdb, byte flags, ushort edtl) =>
            [(byte)(cdb.Length == 16 ? 3 : cdb.Length == 12 ? 2 : cdb.Length == 10 ? 1 : 0), .. cdb, flags, (byte)(edtl >> 8), (byte)edtl];

        return
        [
            [.. Command([0x12, 0, 0, 0, 96, 0], 1, 96), .. Command([0x00, 0, 0, 0, 0, 0], 0, 0)],
            [.. Command([0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 1, 32), .. Command([0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0], 1, 1024)],
            [.. Command([0x2A, 0, 0, 0, 0, 8, 0, 0, 2, 0], 2, 1024), .. Command([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0, 0)],
            [.. Command([0x5A, 0, 0x3F, 0xFF, 0, 0, 0, 0x10, 0, 0], 1, 4096), .. Command([0x1A, 0, 0x08, 0, 0xFF, 0], 1, 255)],
            [.. Command([0x5F, 0x00, 0, 0, 0, 0, 0, 0, 24, 0], 2, 24), .. Command([0x5E, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0], 1, 4096)],
            [.. Command([0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], 1, 4096), .. Command([0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], 1, 256)],
        ];
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        var volume = new InMemoryBlockVolume(4096, 512);
        var disk = new DiskLogicalUnit(new Lun(0), volume, "fuzz-volume");
        var target = new ScsiTargetDevice("iqn.2026-11.org.tapegateway:fuzz").Add(disk);
        var nexusA = new ItNexus("iqn.2026-11.org.test:a", 1, target.Name, 1);
        var nexusB = new ItNexus("iqn.2026-11.org.test:b", 2, target.Name, 1);
        target.NexusCreated(nexusA);
        target.NexusCreated(nexusB);
        var task = new ScsiTask();
        for (var count = 0; input.Length >= 1 && count < 64; count++)
        {
            var selector = input[0];
            var cdbLength = (selector & 0x80) != 0 ? 1 + (selector & 0x1F) : s_cdbLengths[selector & 3];
            if (input.Length < 1 + cdbLength)
            {
                break;
            }

            var cdb = input.Slice(1, cdbLength).ToArray();
            if ((selector & 0x40) != 0)
            {
                cdb[0] = s_opcodes[cdb[0] % s_opcodes.Length];
            }

            input = input[(1 + cdbLength)..];
            var flags = input.Length > 0 ? input[0] : (byte)0;
            var edtl = input.Length > 2 ? (input[1] << 8) | input[2] : 0;
            input = input.Length > 3 ? input[3..] : default;

            task.Reset();
            task.SetCdb(cdb);
            task.Lun = new Lun((ushort)((flags & 0x08) != 0 ? 3 : 0));
            task.Nexus = (flags & 0x04) != 0 ? nexusB : nexusA;
            task.Direction = (DataDirection)(flags & 0x03);
            task.ExpectedDataTransferLength = (uint)edtl;
            var writeLength = (flags & 0x02) != 0 ? edtl : 0;
            var dataOut = task.PrepareDataOut(writeLength);
            input[..Math.Min(writeLength, input.Length)].CopyTo(dataOut.Span);
            task.CompleteDataOut(writeLength);
            if ((flags & 0x30) == 0x30)
            {
                target.TaskManagement((TaskManagementEvent)((flags >> 6) % 5), task.Lun, task.Nexus);
            }

            Execute(target, task, cdb);
        }

        target.NexusLost(nexusA);
        target.NexusLost(nexusB);
    }

    private static void Execute(ScsiTargetDevice target, ScsiTask task, byte[] cdb)
    {
        var pending = target.ExecuteAsync(task).AsTask();
        if (!pending.Wait(TimeSpan.FromSeconds(10)))
        {
            throw new FuzzFindingException($"CDB {Convert.ToHexString(cdb)} did not complete within 10 s");
        }

        if (task.Status == ScsiStatus.CheckCondition && task.SenseLength == 0)
        {
            throw new FuzzFindingException($"CDB {Convert.ToHexString(cdb)}: CHECK CONDITION without sense data");
        }

        var sense = task.Sense;
        var (key, asc, ascq) = sense.Length >= 14 && (sense[0] & 0x7F) is 0x70 or 0x71
            ? (sense[2] & 0x0F, sense[12], sense[13])
            : sense.Length >= 4 ? (sense[1] & 0x0F, sense[2], sense[3]) : (0, (byte)0, (byte)0);
        if (key == 0x04 && asc == 0x44 && ascq == 0x00)
        {
            throw new FuzzFindingException($"CDB {Convert.ToHexString(cdb)}: a handler threw (LogicalUnit answered INTERNAL TARGET FAILURE)");
        }
    }
}

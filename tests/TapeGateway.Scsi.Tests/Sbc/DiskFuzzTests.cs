using TapeGateway.Scsi.Tests.Spc;

namespace TapeGateway.Scsi.Tests.Sbc;

/// <summary>
/// Random CDBs against a disk: every answer is GOOD, CHECK CONDITION with a real sense or RESERVATION CONFLICT — never
/// an exception, never the internal-failure sense (HARDWARE ERROR 44/00).
/// </summary>
public sealed class DiskFuzzTests
{
    [Fact]
    public async Task RandomCdbs_NeverCrash()
    {
        var h = DiskHarness.Create(blocks: 2048);
        var rng = new Random(2468);
        var opcodes = new byte[]
        {
            0x00, 0x03, 0x08, 0x0A, 0x12, 0x15, 0x1A, 0x1B, 0x1C, 0x1D, 0x25, 0x28, 0x2A, 0x2E, 0x2F, 0x35, 0x41, 0x42,
            0x4D, 0x55, 0x5A, 0x5E, 0x5F, 0x88, 0x89, 0x8A, 0x8E, 0x8F, 0x91, 0x93, 0x9E, 0xA0, 0xA3, 0xA8, 0xAA,
        };
        var answered = new Dictionary<TapeGateway.Core.Scsi.ScsiStatus, int>();
        for (var i = 0; i < 3000; i++)
        {
            var cdb = new byte[16];
            rng.NextBytes(cdb);
            cdb[0] = rng.Next(5) == 0 ? (byte)rng.Next(256) : opcodes[rng.Next(opcodes.Length)];
            if (rng.Next(2) == 0)
            {
                // small LBAs and lengths half of the time, so commands really transfer data
                for (var b = 2; b < 14; b++)
                {
                    cdb[b] = b is 5 or 9 ? (byte)rng.Next(4) : (byte)0;
                }
            }

            var control = (cdb[0] >> 5) switch { 0 => 5, 1 or 2 => 9, 5 => 11, _ => 15 };
            cdb[control] &= unchecked((byte)~0x04); // no NACA
            var dataOut = new byte[rng.Next(3) == 0 ? rng.Next(0, 4096) : 0]; // the transport always ends Data-Out, if only with none
            var t = await h.RunAsync(cdb, dataOut);
            t.AssertSaneAnswer(cdb);
            answered[t.Status] = answered.GetValueOrDefault(t.Status) + 1;
        }

        // Both paths were exercised: commands that ran, and commands refused with sense.
        Assert.True(answered.GetValueOrDefault(TapeGateway.Core.Scsi.ScsiStatus.Good) > 100, $"GOOD answers: {answered.GetValueOrDefault(TapeGateway.Core.Scsi.ScsiStatus.Good)}");
        Assert.True(answered.GetValueOrDefault(TapeGateway.Core.Scsi.ScsiStatus.CheckCondition) > 100, "CHECK CONDITION answers");
    }
}

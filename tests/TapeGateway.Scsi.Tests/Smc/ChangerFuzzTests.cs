using TapeGateway.Scsi.Tests.Spc;

namespace TapeGateway.Scsi.Tests.Smc;

/// <summary>
/// Random CDBs against the changer: every answer is GOOD, CHECK CONDITION with a real sense or RESERVATION CONFLICT —
/// never an exception, never the internal-failure sense (HARDWARE ERROR 44/00), and the inventory keeps every tape.
/// </summary>
public sealed class ChangerFuzzTests
{
    [Fact]
    public async Task RandomCdbs_NeverCrash_AndNoTapeIsLost()
    {
        var h = new ChangerHarness();
        var rng = new Random(4321);
        var opcodes = new byte[] { 0x00, 0x03, 0x07, 0x12, 0x15, 0x16, 0x17, 0x1A, 0x1C, 0x1D, 0x1E, 0x2B, 0x37, 0x4C, 0x4D, 0x55, 0x5A, 0x5E, 0x5F, 0xA0, 0xA3, 0xA5, 0xA6, 0xB8 };
        ushort[] addresses = [0, 10, 11, 500, 501, 1000, 1001, 1002, 1003, 1004, 999, 0xFFFF];
        var tapesBefore = h.Backend.TapeCount;
        for (var i = 0; i < 3000; i++)
        {
            var cdb = new byte[12];
            rng.NextBytes(cdb);
            cdb[0] = rng.Next(5) == 0 ? (byte)rng.Next(256) : opcodes[rng.Next(opcodes.Length)];
            if (rng.Next(2) == 0)
            {
                // element addresses that exist half of the time, so moves really happen
                for (var at = 2; at <= 8; at += 2)
                {
                    var a = addresses[rng.Next(addresses.Length)];
                    cdb[at] = (byte)(a >> 8);
                    cdb[at + 1] = (byte)a;
                }
            }

            var control = (cdb[0] >> 5) switch { 0 => 5, 1 or 2 => 9, 5 => 11, _ => 11 };
            cdb[control] &= unchecked((byte)~0x04); // no NACA
            var dataOut = rng.Next(3) == 0 ? TapeGateway.Scsi.Tests.Ssc.TapeHarness.Block(rng.Next(0, 512), i) : []; // Data-Out always ends, if only empty
            var t = await h.Run(cdb, h.A, dataOut);
            t.AssertSaneAnswer(cdb);

            h.Consume(h.A);
        }

        Assert.Equal(tapesBefore, h.Backend.TapeCount);
    }
}

using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

public static partial class SpcCommands
{
    public const byte MaintenanceOut = 0xA4;
    public const byte ReportTimestampAction = 0x0F;
    public const byte SetTimestampAction = 0x0F;

    /// <summary>REPORT TIMESTAMP parameter data and SET TIMESTAMP parameter list: both 12 bytes, TIMESTAMP in bytes 4-9.</summary>
    private const int TimestampParameterLength = 12;

    /// <summary>
    /// SPC-4 REPORT TIMESTAMP (MAINTENANCE IN, service action 0Fh): the device clock (<see cref="DeviceClock"/>) and the
    /// origin of its last initialization, in the 12-byte parameter data (TIMESTAMP PARAMETER DATA LENGTH 0Ah),
    /// clipped to the allocation length.
    /// </summary>
    private static ValueTask<CommandOutcome> ReportTimestampAsync(LogicalUnit unit, ScsiTask task)
    {
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[6..]);
        var (milliseconds, origin) = unit.Clock.Read();
        var data = task.GetDataInBuffer(TimestampParameterLength).Span;
        BinaryPrimitives.WriteUInt16BigEndian(data, TimestampParameterLength - 2);
        data[2] = (byte)((byte)origin & 0x07);
        WriteUInt48BigEndian(data[4..], milliseconds);
        return Respond(task, TimestampParameterLength, allocationLength);
    }

    /// <summary>
    /// SPC-4 SET TIMESTAMP (MAINTENANCE OUT, service action 0Fh). Refused with INVALID FIELD IN CDB while the Control
    /// Extension mode page's SCSIP bit is zero (there is no CDB field at fault, so no field pointer). A PARAMETER LIST
    /// LENGTH of zero changes nothing; any length other than the 12-byte list is a PARAMETER LIST LENGTH ERROR. A
    /// TIMESTAMP whose most significant byte is above F0h is INVALID FIELD IN PARAMETER LIST. On success every other
    /// I_T nexus gets the unit attention TIMESTAMP CHANGED (2A/10).
    /// </summary>
    private static async ValueTask<CommandOutcome> SetTimestampAsync(LogicalUnit unit, ScsiTask task)
    {
        if (!unit.ModePages.ScsiPrecedence)
        {
            return CommandOutcome.Fail(SenseReason.InvalidFieldInCdb);
        }

        var listLength = BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[6..]);
        if (listLength == 0)
        {
            return CommandOutcome.Good;
        }

        if (listLength != TimestampParameterLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var received = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (received.Length < TimestampParameterLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var list = received.Span;
        if (list[4] > 0xF0)
        {
            return CommandOutcome.InvalidParameterField(4);
        }

        unit.Clock.Set(ReadUInt48BigEndian(list[4..]));
        unit.UnitAttentions.AddAllExcept(task.Nexus, SenseReason.TimestampChanged);
        return CommandOutcome.Good;
    }

    private static void WriteUInt48BigEndian(Span<byte> destination, long value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)value);
    }

    private static long ReadUInt48BigEndian(ReadOnlySpan<byte> source) =>
        ((long)BinaryPrimitives.ReadUInt16BigEndian(source) << 32) | BinaryPrimitives.ReadUInt32BigEndian(source[2..]);
}

using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

public static partial class SpcCommands
{
    public const byte WriteBuffer = 0x3B;
    public const byte ReadBuffer = 0x3C;

    /// <summary>SPC-4 READ BUFFER / WRITE BUFFER MODE field values we implement; every other mode is refused.</summary>
    private const byte BufferModeData = 0x02;
    private const byte BufferModeDescriptor = 0x03;
    private const byte BufferModeEcho = 0x0A;
    private const byte BufferModeEchoDescriptor = 0x0B;

    /// <summary>READ BUFFER descriptor and echo buffer descriptor: 4 bytes each.</summary>
    private const int BufferDescriptorLength = 4;

    /// <summary>
    /// The data buffer's address checks both READ BUFFER and WRITE BUFFER make in mode 02h: only buffer ID 0 exists,
    /// and an offset past its capacity is INVALID FIELD IN CDB at BUFFER OFFSET. Null when the address is valid.
    /// </summary>
    private static CommandOutcome? DataBufferAddressError(byte bufferId, int offset) =>
        bufferId != 0 ? CommandOutcome.InvalidCdbField(2)
        : offset > DiagnosticBuffers.DataCapacity ? CommandOutcome.InvalidCdbField(3)
        : null;

    /// <summary>
    /// SPC-4 READ BUFFER(10). Mode 02h returns data-buffer bytes from BUFFER OFFSET, as many as the allocation length
    /// asks and the buffer holds (an allocation length past the end is clipped, as every allocation length is);
    /// 03h the descriptor (OFFSET BOUNDARY 0: any byte offset; BUFFER CAPACITY 64 KiB; all zeros for a buffer ID we
    /// lack, as SPC-4 requires); 0Ah what the last WRITE BUFFER echo mode on this I_T nexus wrote, or COMMAND
    /// SEQUENCE ERROR when there was none; 0Bh the echo buffer descriptor (EBOS=0: echo buffers are per I_T nexus and
    /// never overwritten by another). Other modes (combined header and data, vendor specific, expander, error
    /// history) are INVALID FIELD IN CDB at the MODE field.
    /// </summary>
    private static ValueTask<CommandOutcome> ReadBufferAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var mode = (byte)(cdb[1] & 0x1F);
        var bufferId = cdb[2];
        var offset = ReadUInt24BigEndian(cdb[3..]);
        var allocationLength = ReadUInt24BigEndian(cdb[6..]);
        switch (mode)
        {
            case BufferModeData:
                {
                    if (DataBufferAddressError(bufferId, offset) is { } refused)
                    {
                        return refused;
                    }

                    // Never more than the buffer holds, whatever the CDB asks for.
                    var length = Math.Min(allocationLength, DiagnosticBuffers.DataCapacity - offset);
                    unit.Buffers.ReadData(offset, task.GetDataInBuffer(length, clear: false).Span);
                    return CommandOutcome.Good;
                }

            case BufferModeDescriptor:
                {
                    var data = task.GetDataInBuffer(BufferDescriptorLength).Span;
                    if (bufferId == 0)
                    {
                        data[0] = 0; // OFFSET BOUNDARY: 2^0, any byte offset
                        WriteUInt24BigEndian(data[1..], DiagnosticBuffers.DataCapacity);
                    }

                    return Respond(task, BufferDescriptorLength, allocationLength);
                }

            case BufferModeEcho:
                {
                    // BUFFER ID and BUFFER OFFSET are ignored in the echo modes (SPC-4).
                    if (unit.Buffers.ReadEcho(task.Nexus) is not { } echo)
                    {
                        return CommandOutcome.Fail(SenseReason.CommandSequenceError);
                    }

                    var length = Math.Min(allocationLength, echo.Length);
                    echo.AsSpan(0, length).CopyTo(task.GetDataInBuffer(length, clear: false).Span);
                    return CommandOutcome.Good;
                }

            case BufferModeEchoDescriptor:
                {
                    var data = task.GetDataInBuffer(BufferDescriptorLength).Span;
                    BinaryPrimitives.WriteUInt16BigEndian(data[2..], DiagnosticBuffers.EchoCapacity & 0x1FFF);
                    return Respond(task, BufferDescriptorLength, allocationLength);
                }

            default:
                return CommandOutcome.InvalidCdbField(1, 4);
        }
    }

    /// <summary>
    /// SPC-4 WRITE BUFFER. Mode 02h writes the data buffer (buffer ID 0) at BUFFER OFFSET; a transfer past the buffer's
    /// capacity is INVALID FIELD IN CDB (at BUFFER OFFSET when the offset alone is past it, else at PARAMETER LIST
    /// LENGTH) and changes nothing. Mode 0Ah replaces this I_T nexus's echo buffer (BUFFER ID and OFFSET ignored).
    /// The buffers are memory only: nothing reaches a medium. Download microcode (04h-07h, 0Dh-0Fh) and every other
    /// mode are INVALID FIELD IN CDB at the MODE field: there is no firmware to replace.
    /// </summary>
    private static async ValueTask<CommandOutcome> WriteBufferAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var mode = (byte)(cdb[1] & 0x1F);
        var bufferId = cdb[2];
        var offset = ReadUInt24BigEndian(cdb[3..]);
        var listLength = ReadUInt24BigEndian(cdb[6..]);
        switch (mode)
        {
            case BufferModeData:
                if (DataBufferAddressError(bufferId, offset) is { } refused)
                {
                    return refused;
                }

                if (listLength > DiagnosticBuffers.DataCapacity - offset)
                {
                    return CommandOutcome.InvalidCdbField(6);
                }

                break;
            case BufferModeEcho:
                if (listLength > DiagnosticBuffers.EchoCapacity)
                {
                    return CommandOutcome.InvalidCdbField(6);
                }

                break;
            default:
                return CommandOutcome.InvalidCdbField(1, 4);
        }

        var data = ReadOnlyMemory<byte>.Empty;
        if (listLength > 0)
        {
            data = await task.ReceiveDataOutAsync().ConfigureAwait(false);
            if (data.Length < listLength)
            {
                return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
            }

            data = data[..listLength];
        }

        if (mode == BufferModeData)
        {
            unit.Buffers.WriteData(offset, data.Span);
        }
        else
        {
            unit.Buffers.WriteEcho(task.Nexus, data.Span);
        }

        return CommandOutcome.Good;
    }

    private static int ReadUInt24BigEndian(ReadOnlySpan<byte> source) => (source[0] << 16) | (source[1] << 8) | source[2];

    private static void WriteUInt24BigEndian(Span<byte> destination, int value)
    {
        destination[0] = (byte)(value >> 16);
        destination[1] = (byte)(value >> 8);
        destination[2] = (byte)value;
    }
}

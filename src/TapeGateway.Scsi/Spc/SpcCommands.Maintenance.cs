using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

public static partial class SpcCommands
{
    private static ValueTask<CommandOutcome> TestUnitReadyAsync(LogicalUnit unit, ScsiTask task)
    {
        var reason = unit.CheckReady();
        return reason == SenseReason.None ? CommandOutcome.Good : CommandOutcome.Fail(reason);
    }

    /// <summary>
    /// SPC-4 §6.29: the sense data a CHECK CONDITION would have carried, as Data-In with GOOD status — a pending unit
    /// attention first (and it is cleared), else the not-ready reason, else NO SENSE.
    /// </summary>
    private static ValueTask<CommandOutcome> RequestSenseAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var format = (cdb[1] & 0x01) != 0 ? SenseFormat.Descriptor : SenseFormat.Fixed;
        var allocationLength = cdb[4];
        if (!unit.UnitAttentions.TryTake(task.Nexus, out var reason))
        {
            reason = unit.CheckReady();
        }

        var data = task.GetDataInBuffer(ScsiTask.MaxSenseLength).Span;
        var n = SenseDataBuilder.Write(data, reason, format);
        task.TrimDataIn(n);
        return Respond(task, n, allocationLength);
    }

    /// <summary>SPC-4 §6.33. Answered by any LU (and the missing-LUN stand-in) from the target's LUN map.</summary>
    private static ValueTask<CommandOutcome> ReportLunsAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var select = cdb[2];
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        if (allocationLength < 16)
        {
            return CommandOutcome.InvalidCdbField(6);
        }

        if (select > 0x02)
        {
            return CommandOutcome.InvalidCdbField(2);
        }

        // 01h asks for well-known logical units only; we have none.
        var units = select == 0x01 || unit.Target is null ? [] : unit.Target.Units.ToArray();
        var length = 8 + (8 * units.Length);
        var data = task.GetDataInBuffer(length).Span;
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(8 * units.Length));
        for (var i = 0; i < units.Length; i++)
        {
            units[i].Lun.WriteTo(data[(8 + (8 * i))..]);
        }

        if (task.Nexus is not null)
        {
            unit.UnitAttentions.Clear(task.Nexus, SenseReason.ReportedLunsDataChanged);
        }

        return Respond(task, length, allocationLength);
    }

    /// <summary>SPC-4 §6.35 REPORT SUPPORTED OPERATION CODES.</summary>
    private static ValueTask<CommandOutcome> ReportSupportedOperationCodesAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var rctd = (cdb[2] & 0x80) != 0;
        var options = cdb[2] & 0x07;
        var opcode = cdb[3];
        var serviceAction = BinaryPrimitives.ReadUInt16BigEndian(cdb[4..]);
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        var commands = unit.SupportedCommands;

        if (options == 0)
        {
            // §6.35.2: all commands, 8-byte descriptors, 20 with a command timeouts descriptor (CTDP).
            var size = rctd ? 20 : 8;
            var length = 4 + (commands.Count * size);
            var data = task.GetDataInBuffer(length).Span;
            BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(length - 4));
            var at = 4;
            foreach (var c in commands)
            {
                var d = data.Slice(at, size);
                d[0] = c.OperationCode;
                BinaryPrimitives.WriteUInt16BigEndian(d[2..], c.ServiceAction ?? 0);
                d[5] = (byte)((rctd ? 0x02 : 0) | (c.ServiceAction is null ? 0 : 0x01));
                BinaryPrimitives.WriteUInt16BigEndian(d[6..], (ushort)c.CdbUsage.Length);
                if (rctd)
                {
                    WriteTimeoutsDescriptor(unit, c.OperationCode, c.ServiceAction, d[8..]);
                }

                at += size;
            }

            return Respond(task, length, allocationLength);
        }

        var hasServiceActions = false;
        foreach (var c in commands)
        {
            hasServiceActions |= c.OperationCode == opcode && c.ServiceAction is not null;
        }

        SupportedCommand? found = null;
        switch (options)
        {
            case 1:
                // §6.35.1: 001b names an opcode without service actions; asking it for one that has them is an error.
                if (hasServiceActions)
                {
                    return CommandOutcome.InvalidCdbField(3);
                }

                found = Find(commands, opcode, null);
                break;
            case 2:
                if (!hasServiceActions)
                {
                    return CommandOutcome.InvalidCdbField(3);
                }

                found = Find(commands, opcode, serviceAction);
                break;
            case 3:
                // 011b: opcode + service action when the opcode has them; otherwise only SA 0 is "the command".
                found = hasServiceActions ? Find(commands, opcode, serviceAction)
                    : serviceAction == 0 ? Find(commands, opcode, null) : null;
                break;
            default:
                return CommandOutcome.InvalidCdbField(2, 2);
        }

        {
            // §6.35.3 one_command parameter data: SUPPORT 011b (supported as the standard says) or 001b (not supported).
            var usage = found?.CdbUsage ?? [];
            var timeouts = rctd && found is not null ? 12 : 0;
            var length = 4 + usage.Length + timeouts;
            var data = task.GetDataInBuffer(length).Span;
            data[1] = (byte)((timeouts > 0 ? 0x80 : 0) | (found is null ? 0x01 : 0x03));
            BinaryPrimitives.WriteUInt16BigEndian(data[2..], (ushort)usage.Length);
            usage.CopyTo(data[4..]);
            if (timeouts > 0)
            {
                WriteTimeoutsDescriptor(unit, opcode, found!.Value.ServiceAction, data[(4 + usage.Length)..]);
            }

            return Respond(task, length, allocationLength);
        }
    }

    private static SupportedCommand? Find(IReadOnlyList<SupportedCommand> commands, byte opcode, ushort? serviceAction)
    {
        foreach (var c in commands)
        {
            if (c.OperationCode == opcode && c.ServiceAction == serviceAction)
            {
                return c;
            }
        }

        return null;
    }

    /// <summary>SPC-4 §6.35.4 command timeouts descriptor: length 0Ah, nominal and recommended timeouts in seconds.</summary>
    private static void WriteTimeoutsDescriptor(LogicalUnit unit, byte opcode, ushort? serviceAction, Span<byte> d)
    {
        var (nominal, recommended) = unit.GetCommandTimeouts(opcode, serviceAction);
        d[..12].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(d, 0x0A);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], nominal);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], recommended);
    }

    /// <summary>
    /// SPC-4 §6.36: ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET and TARGET RESET (iSCSI TARGET
    /// WARM RESET) are supported; CLEAR ACA (no NACA), QUERY TASK and WAKEUP are not (RFC 7143 has no QUERY TASK).
    /// </summary>
    private static ValueTask<CommandOutcome> ReportSupportedTaskManagementFunctionsAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var extended = (cdb[2] & 0x80) != 0;
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        var length = extended ? 16 : 4;
        var data = task.GetDataInBuffer(length).Span;
        data[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02; // ATS, ATSS, CTSS, LURS, TRS
        if (extended)
        {
            data[3] = 0x0C; // ADDITIONAL DATA LENGTH of the extended format; no TMF timeouts reported.
        }

        return Respond(task, length, allocationLength);
    }

    /// <summary>
    /// SPC-4 §6.8 LOG SENSE. The shared part serves page 00h (supported pages, and 00h/FFh supported pages and
    /// subpages); device types add pages through <see cref="LogicalUnit.ExtraLogPages"/> and WriteLogPage.
    /// </summary>
    private static ValueTask<CommandOutcome> LogSenseAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        if ((cdb[1] & 0x01) != 0)
        {
            // SP: we keep no saveable log parameters.
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        var pageControl = (byte)(cdb[2] >> 6);
        var page = (byte)(cdb[2] & 0x3F);
        var subpage = cdb[3];
        var parameterPointer = BinaryPrimitives.ReadUInt16BigEndian(cdb[5..]);
        var allocationLength = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        var extra = unit.ExtraLogPages;

        if (page == 0x00 && subpage is 0x00 or 0xFF)
        {
            var perEntry = subpage == 0 ? 1 : 2;
            var entries = subpage == 0 ? 1 + extra.Count : 2 + extra.Count;
            var length = 4 + (entries * perEntry);
            var data = task.GetDataInBuffer(length).Span;
            data[0] = (byte)(subpage == 0 ? 0x00 : 0x40); // SPF for the subpage list
            data[1] = subpage;
            BinaryPrimitives.WriteUInt16BigEndian(data[2..], (ushort)(length - 4));
            var at = 4;
            if (subpage == 0)
            {
                data[at++] = 0x00;
            }
            else
            {
                data[at++] = 0x00;
                data[at++] = 0x00;
                data[at++] = 0x00;
                data[at++] = 0xFF;
            }

            foreach (var p in extra)
            {
                data[at++] = p;
                if (subpage != 0)
                {
                    data[at++] = 0x00;
                }
            }

            return Respond(task, length, allocationLength);
        }

        var buffer = task.GetDataInBuffer(MaxVpdLength).Span;
        var written = unit.WriteLogPage(page, subpage, pageControl, parameterPointer, buffer);
        if (written < 0)
        {
            return CommandOutcome.InvalidCdbField(2, 5);
        }

        task.TrimDataIn(written);
        return Respond(task, written, allocationLength);
    }
}

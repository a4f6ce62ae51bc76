using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

public static partial class SpcCommands
{
    private const int PersistentReserveOutBasicLength = 24;

    /// <summary>
    /// SPC-2 §7.21/§7.22 RESERVE(6)/(10): logical-unit reservations only. A RESERVE by another nexus never reaches
    /// here (the pipeline reports the conflict); a persistent reservation makes every RESERVE conflict because we
    /// report CRH=0 (SPC-4 §5.12.3).
    /// </summary>
    private static ValueTask<CommandOutcome> ReserveAsync(LogicalUnit unit, ScsiTask task)
    {
        if (CheckLegacyReservationCdb(task.Cdb) is { } invalid)
        {
            return invalid;
        }

        if (unit.Reservations.HasPersistentReservation)
        {
            return CommandOutcome.Conflict;
        }

        return unit.Reservations.TryReserve(task.Nexus) ? CommandOutcome.Good : CommandOutcome.Conflict;
    }

    /// <summary>SPC-2 §7.17/§7.18 RELEASE(6)/(10): releasing a reservation held by someone else is a GOOD no-op.</summary>
    private static ValueTask<CommandOutcome> ReleaseAsync(LogicalUnit unit, ScsiTask task)
    {
        if (CheckLegacyReservationCdb(task.Cdb) is { } invalid)
        {
            return invalid;
        }

        if (unit.Reservations.HasPersistentReservation)
        {
            return CommandOutcome.Conflict;
        }

        unit.Reservations.Release(task.Nexus);
        return CommandOutcome.Good;
    }

    /// <summary>Third-party (3RDPTY), extent and long-ID reservations are not supported (SPC-2 §7.21.1).</summary>
    private static CommandOutcome? CheckLegacyReservationCdb(ReadOnlySpan<byte> cdb)
    {
        if ((cdb[1] & 0x10) != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 4);
        }

        if ((cdb[0] is Reserve10 or Release10) && (cdb[1] & 0x02) != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 1);
        }

        if ((cdb[1] & 0x01) != 0)
        {
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        return null;
    }

    /// <summary>SPC-4 §6.16 PERSISTENT RESERVE IN.</summary>
    private static ValueTask<CommandOutcome> PersistentReserveInAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var serviceAction = cdb[1] & 0x1F;
        var allocationLength = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);

        // SPC-4 §5.12.3 (as LIO): PR commands meet RESERVATION CONFLICT while an SPC-2 reservation exists.
        if (unit.Reservations.ReserveHolder is not null)
        {
            return CommandOutcome.Conflict;
        }

        var state = unit.Reservations.Snapshot();
        var registrations = state.Registrations;
        int length;
        Span<byte> data;
        switch (serviceAction)
        {
            case 0x00:
                // READ KEYS: PRGENERATION, ADDITIONAL LENGTH, then every registered key.
                length = 8 + (8 * registrations.Count);
                data = task.GetDataInBuffer(length).Span;
                BinaryPrimitives.WriteUInt32BigEndian(data, state.Generation);
                BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)(length - 8));
                for (var i = 0; i < registrations.Count; i++)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(data[(8 + (8 * i))..], registrations[i].Key);
                }

                break;
            case 0x01:
                // READ RESERVATION: key of the holder (0 for all-registrants types, §6.16.3.2), SCOPE|TYPE at byte 21.
                length = state.Type == PersistentReservationType.None ? 8 : 24;
                data = task.GetDataInBuffer(length).Span;
                BinaryPrimitives.WriteUInt32BigEndian(data, state.Generation);
                BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)(length - 8));
                if (state.Type != PersistentReservationType.None)
                {
                    var key = state.HolderIndex >= 0 ? registrations[state.HolderIndex].Key : 0UL;
                    BinaryPrimitives.WriteUInt64BigEndian(data[8..], key);
                    data[21] = (byte)state.Type; // scope 0h: logical unit
                }

                break;
            case 0x02:
                // REPORT CAPABILITIES (§6.16.4): ATP_C and PTPL_C; TMV with ALLOW COMMANDS 001b (TEST UNIT READY
                // passes WE/EA reservations); all six types.
                length = 8;
                data = task.GetDataInBuffer(length).Span;
                BinaryPrimitives.WriteUInt16BigEndian(data, 8);
                data[2] = 0x04 | 0x01;
                data[3] = (byte)(0x80 | 0x10 | (unit.Reservations.PersistThroughPowerLoss ? 0x01 : 0x00));
                data[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
                data[5] = 0x01; // EX_AC_AR
                break;
            case 0x03:
                length = WriteFullStatus(task, state);
                break;
            default:
                // Unreachable: the command table only routes the four service actions above.
                return CommandOutcome.InvalidCdbField(1, 4);
        }

        return Respond(task, length, allocationLength);
    }

    /*
     * READ FULL STATUS (§6.16.5): per registration a 24-byte descriptor (key, ALL_TG_PT|R_HOLDER, SCOPE|TYPE,
     * RELATIVE TARGET PORT IDENTIFIER, ADDITIONAL DESCRIPTOR LENGTH) followed by the initiator's TransportID in iSCSI
     * format 01b (§7.6.4.6: "name,i,0xISID", NUL-terminated, padded to a multiple of four, at least 20 bytes).
     */
    private static int WriteFullStatus(ScsiTask task, PersistentReservationSnapshot state)
    {
        var length = 8;
        foreach (var r in state.Registrations)
        {
            length += 24 + TransportIdLength(r.InitiatorPortName);
        }

        var data = task.GetDataInBuffer(length).Span;
        BinaryPrimitives.WriteUInt32BigEndian(data, state.Generation);
        BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)(length - 8));
        var at = 8;
        for (var i = 0; i < state.Registrations.Count; i++)
        {
            var r = state.Registrations[i];
            var d = data[at..];
            BinaryPrimitives.WriteUInt64BigEndian(d, r.Key);
            var holder = state.Type != PersistentReservationType.None
                && (state.HolderIndex == i || ReservationState.IsAllRegistrants(state.Type));
            d[12] = (byte)((r.AllTargetPorts ? 0x02 : 0) | (holder ? 0x01 : 0));
            d[13] = holder ? (byte)state.Type : (byte)0;
            BinaryPrimitives.WriteUInt16BigEndian(d[18..], r.AllTargetPorts ? (ushort)0 : r.RelativeTargetPortId);
            var transportIdLength = TransportIdLength(r.InitiatorPortName);
            BinaryPrimitives.WriteUInt32BigEndian(d[20..], (uint)transportIdLength);
            var id = d.Slice(24, transportIdLength);
            id[0] = 0x45; // FORMAT CODE 01b (initiator port), PROTOCOL IDENTIFIER 5h (iSCSI)
            var nameLength = WriteNameString(id[4..], r.InitiatorPortName, transportIdLength - 4);
            BinaryPrimitives.WriteUInt16BigEndian(id[2..], (ushort)nameLength);
            at += 24 + transportIdLength;
        }

        return length;
    }

    private static int TransportIdLength(string initiatorPortName) => 4 + Math.Max(PaddedNameLength(initiatorPortName, 1020), 16);

    /// <summary>SPC-4 §6.17 PERSISTENT RESERVE OUT with the basic 24-byte parameter list (§6.17.3).</summary>
    private static async ValueTask<CommandOutcome> PersistentReserveOutAsync(LogicalUnit unit, ScsiTask task)
    {
        var serviceAction = task.Cdb[1] & 0x1F;
        var scope = task.Cdb[2] >> 4;
        var typeCode = (byte)(task.Cdb[2] & 0x0F);
        var listLength = BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[5..]);

        if (unit.Reservations.ReserveHolder is not null)
        {
            return CommandOutcome.Conflict;
        }

        if (listLength < PersistentReserveOutBasicLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var received = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (received.Length < PersistentReserveOutBasicLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        return ExecutePersistentReserveOut(unit, task.Nexus, serviceAction, scope, typeCode, listLength, received.Span);
    }

    private static CommandOutcome ExecutePersistentReserveOut(
        LogicalUnit unit, ItNexus nexus, int serviceAction, int scope, byte typeCode, uint listLength, ReadOnlySpan<byte> p)
    {
        var flags = p[20];
        if ((flags & 0x08) != 0)
        {
            // SPEC_I_PT: we report SIP_C=0 (§6.17.3).
            return CommandOutcome.InvalidParameterField(20, 3);
        }

        if (listLength != PersistentReserveOutBasicLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var key = BinaryPrimitives.ReadUInt64BigEndian(p);
        var serviceActionKey = BinaryPrimitives.ReadUInt64BigEndian(p[8..]);
        var allTargetPorts = (flags & 0x04) != 0;
        var aptpl = (flags & 0x01) != 0;
        var reservations = unit.Reservations;

        if (serviceAction is 0x01 or 0x02 or 0x04 or 0x05)
        {
            // SCOPE and TYPE matter to RESERVE, RELEASE and PREEMPT only (§6.17.1); LU_SCOPE is the only scope left.
            if (scope != 0)
            {
                return CommandOutcome.InvalidCdbField(2, 7);
            }

            if (!ReservationState.IsValidType(typeCode))
            {
                return CommandOutcome.InvalidCdbField(2, 3);
            }
        }

        var type = (PersistentReservationType)typeCode;
        return serviceAction switch
        {
            0x00 => reservations.Register(nexus, key, serviceActionKey, ignoreExisting: false, allTargetPorts, aptpl),
            0x06 => reservations.Register(nexus, key, serviceActionKey, ignoreExisting: true, allTargetPorts, aptpl),
            0x01 => reservations.Reserve(nexus, key, type),
            0x02 => reservations.ReleasePersistent(nexus, key, type),
            0x03 => reservations.Clear(nexus, key),
            0x04 => reservations.Preempt(nexus, key, serviceActionKey, type, abort: false),
            0x05 => reservations.Preempt(nexus, key, serviceActionKey, type, abort: true),
            _ => CommandOutcome.InvalidCdbField(1, 4),
        };
    }
}

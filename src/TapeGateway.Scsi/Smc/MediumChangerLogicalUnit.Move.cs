using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Smc;

public sealed partial class MediumChangerLogicalUnit
{
    /// <summary>
    /// SMC-3 §6.7 MOVE MEDIUM: bytes 2-3 TRANSPORT ELEMENT ADDRESS (0 = the default transport), 4-5 SOURCE ADDRESS,
    /// 6-7 DESTINATION ADDRESS, byte 10 bit 0 INVERT. Checks in the order a library makes them: CDB fields, element
    /// addresses and the Device Capabilities matrix (INVALID ELEMENT ADDRESS 21/01), I/E element opened for an operator
    /// (NOT READY 04/03), an export while PREVENT ALLOW MEDIUM REMOVAL holds (MEDIUM REMOVAL PREVENTED 53/02); then the
    /// backend decides source empty (3B/0E), destination full (3B/0D), busy (04/01), incompatible medium (30/00).
    /// </summary>
    private static async ValueTask<CommandOutcome> MoveMediumAsync(MediumChangerLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        if ((cdb[10] & 0x01) != 0)
        {
            // INVERT: our transport cannot rotate media (page 1Eh ROTATE=0).
            return CommandOutcome.InvalidCdbField(10, 0);
        }

        var transport = BinaryPrimitives.ReadUInt16BigEndian(cdb[2..]);
        var source = BinaryPrimitives.ReadUInt16BigEndian(cdb[4..]);
        var destination = BinaryPrimitives.ReadUInt16BigEndian(cdb[6..]);
        if (unit.CheckTransport(transport) is { } badTransport)
        {
            return badTransport;
        }

        if (!unit.TryStorageType(source, out var sourceType))
        {
            return InvalidElement(4);
        }

        if (!unit.TryStorageType(destination, out var destinationType))
        {
            return InvalidElement(6);
        }

        if (!unit.Personality.MoveCapabilities.Allows(sourceType, destinationType))
        {
            return InvalidElement(6);
        }

        if (unit.IsImportExportOpen(source) || unit.IsImportExportOpen(destination))
        {
            return CommandOutcome.Fail(SenseReason.LogicalUnitNotReadyManualIntervention);
        }

        if (destinationType == ElementType.ImportExport && unit.MediumRemovalPrevented)
        {
            return CommandOutcome.Fail(SenseReason.MediumRemovalPrevented);
        }

        var result = await unit.Backend.MoveAsync(source, destination, Actor(task), task.Aborted).ConfigureAwait(false);
        if (result == ChangerResult.Ok && (sourceType == ElementType.ImportExport || destinationType == ElementType.ImportExport))
        {
            unit.UnitAttentions.AddAllExcept(task.Nexus, SenseReason.ImportOrExportElementAccessed);
        }

        return ToOutcome(result);
    }

    /// <summary>
    /// SMC-3 §6.3 EXCHANGE MEDIUM: the medium in SOURCE (4-5) goes to FIRST DESTINATION (6-7) and the medium that was
    /// there goes to SECOND DESTINATION (8-9), which may be the source itself (a swap). Byte 10: INV1 (bit 0), INV2
    /// (bit 1). Personalities whose hardware has no exchange (page 1Fh bytes 12-15 all zero) answer INVALID COMMAND
    /// OPERATION CODE as that hardware does. Each leg must be allowed by the exchange matrix (in either direction: the
    /// page draws it per pair); refusals as for MOVE MEDIUM.
    /// </summary>
    private static async ValueTask<CommandOutcome> ExchangeMediumAsync(MediumChangerLogicalUnit unit, ScsiTask task)
    {
        if (!unit.Personality.SupportsExchange)
        {
            return CommandOutcome.Fail(SenseReason.InvalidCommandOperationCode, SenseDetails.CdbField(0));
        }

        var cdb = task.Cdb;
        if ((cdb[10] & 0x03) != 0)
        {
            return CommandOutcome.InvalidCdbField(10, (cdb[10] & 0x01) != 0 ? 0 : 1);
        }

        var transport = BinaryPrimitives.ReadUInt16BigEndian(cdb[2..]);
        var source = BinaryPrimitives.ReadUInt16BigEndian(cdb[4..]);
        var first = BinaryPrimitives.ReadUInt16BigEndian(cdb[6..]);
        var second = BinaryPrimitives.ReadUInt16BigEndian(cdb[8..]);
        if (unit.CheckTransport(transport) is { } badTransport)
        {
            return badTransport;
        }

        if (!unit.TryStorageType(source, out var sourceType))
        {
            return InvalidElement(4);
        }

        if (!unit.TryStorageType(first, out var firstType))
        {
            return InvalidElement(6);
        }

        if (!unit.TryStorageType(second, out var secondType))
        {
            return InvalidElement(8);
        }

        var caps = unit.Personality.ExchangeCapabilities;
        if (!(caps.Allows(sourceType, firstType) || caps.Allows(firstType, sourceType)))
        {
            return InvalidElement(6);
        }

        if (!(caps.Allows(firstType, secondType) || caps.Allows(secondType, firstType)))
        {
            return InvalidElement(8);
        }

        if (unit.IsImportExportOpen(source) || unit.IsImportExportOpen(first) || unit.IsImportExportOpen(second))
        {
            return CommandOutcome.Fail(SenseReason.LogicalUnitNotReadyManualIntervention);
        }

        if ((firstType == ElementType.ImportExport || secondType == ElementType.ImportExport) && unit.MediumRemovalPrevented)
        {
            return CommandOutcome.Fail(SenseReason.MediumRemovalPrevented);
        }

        var result = await unit.Backend.ExchangeAsync(source, first, second, Actor(task), task.Aborted).ConfigureAwait(false);
        if (result == ChangerResult.Ok
            && (sourceType == ElementType.ImportExport || firstType == ElementType.ImportExport || secondType == ElementType.ImportExport))
        {
            unit.UnitAttentions.AddAllExcept(task.Nexus, SenseReason.ImportOrExportElementAccessed);
        }

        return ToOutcome(result);
    }

    /// <summary>
    /// SMC-3 POSITION TO ELEMENT (2Bh, 10 bytes): TRANSPORT ELEMENT ADDRESS 2-3, DESTINATION ELEMENT ADDRESS 4-5,
    /// INVERT byte 8 bit 0. A virtual robot has nowhere to travel: the addresses are validated (the destination must be
    /// an element that can hold a medium, as on IBM's 3584) and the answer is GOOD.
    /// </summary>
    private static ValueTask<CommandOutcome> PositionToElementAsync(MediumChangerLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        if ((cdb[8] & 0x01) != 0)
        {
            return CommandOutcome.InvalidCdbField(8, 0);
        }

        if (unit.CheckTransport(BinaryPrimitives.ReadUInt16BigEndian(cdb[2..])) is { } badTransport)
        {
            return badTransport;
        }

        return unit.TryStorageType(BinaryPrimitives.ReadUInt16BigEndian(cdb[4..]), out _)
            ? CommandOutcome.Good
            : InvalidElement(4);
    }

    /// <summary>
    /// SMC-3 INITIALIZE ELEMENT STATUS (07h) and INITIALIZE ELEMENT STATUS WITH RANGE (37h: byte 1 bit 0 RANGE, bit 1
    /// FAST; STARTING ELEMENT ADDRESS 2-3; NUMBER OF ELEMENTS 6-7). With RANGE=0 (and for 07h) the whole library is
    /// meant and the address fields are ignored; with RANGE=1 the starting address must be an element. FAST ("do not
    /// scan for media") changes nothing here: the backend's inventory is always current. The Linux ch driver sends
    /// 07h when it binds ("INITIALIZE ELEMENT STATUS, may take some time").
    /// </summary>
    private static async ValueTask<CommandOutcome> InitializeElementStatusAsync(MediumChangerLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        ushort first = 0;
        var count = ushort.MaxValue;
        if (task.OperationCode == InitializeElementStatusWithRange && (cdb[1] & 0x01) != 0)
        {
            first = BinaryPrimitives.ReadUInt16BigEndian(cdb[2..]);
            count = BinaryPrimitives.ReadUInt16BigEndian(cdb[6..]);
            if (unit.Geometry.TypeOf(first) is null)
            {
                return InvalidElement(2);
            }
        }

        await unit.Backend.InitializeElementStatusAsync(first, count, task.Aborted).ConfigureAwait(false);
        return CommandOutcome.Good;
    }

    /// <summary>
    /// PREVENT ALLOW MEDIUM REMOVAL (1Eh; SPC-4 §6.13, SMC-3): PREVENT (byte 4 bits 1-0) 01b keeps media inside the
    /// library — the mailslot stays closed (OPEN IMPORT/EXPORT ELEMENT is refused) and, because on a virtual library a
    /// medium moved into an I/E element leaves it (AWS: exported media are archived), moves into I/E elements are
    /// refused with MEDIUM REMOVAL PREVENTED. 00b releases this nexus's prevention; the condition lasts while any nexus
    /// holds one, and ends with the nexus or a reset. 10b/11b are reserved for changers: INVALID FIELD IN CDB.
    /// </summary>
    private static ValueTask<CommandOutcome> PreventAllowMediumRemovalAsync(MediumChangerLogicalUnit unit, ScsiTask task)
    {
        var prevent = task.Cdb[4] & 0x03;
        if (prevent > 1)
        {
            return CommandOutcome.InvalidCdbField(4, 1);
        }

        unit.SetPrevent(task.Nexus, prevent == 1);
        return CommandOutcome.Good;
    }

    /// <summary>
    /// SMC-3 OPEN/CLOSE IMPORT/EXPORT ELEMENT (1Bh, 6 bytes): ELEMENT ADDRESS 2-3 (an I/E element), ACTION CODE byte 4
    /// bits 4-0: 00h OPEN (hand the mailslot to the operator), 01h CLOSE (back to the robot); others reserved. While
    /// open, the element reports ACCESS=0 and moves through it are NOT READY, MANUAL INTERVENTION REQUIRED. OPEN is
    /// refused with MEDIUM REMOVAL PREVENTED while PREVENT ALLOW MEDIUM REMOVAL holds. Closing an opened element
    /// tells the other nexuses IMPORT OR EXPORT ELEMENT ACCESSED: an operator may have changed its contents.
    /// </summary>
    private static ValueTask<CommandOutcome> OpenCloseImportExportElementAsync(MediumChangerLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var address = BinaryPrimitives.ReadUInt16BigEndian(cdb[2..]);
        var action = cdb[4] & 0x1F;
        if (action > 1)
        {
            return CommandOutcome.InvalidCdbField(4, 4);
        }

        if (unit.Geometry.TypeOf(address) != ElementType.ImportExport)
        {
            return InvalidElement(2);
        }

        if (action == 0)
        {
            if (unit.MediumRemovalPrevented)
            {
                return CommandOutcome.Fail(SenseReason.MediumRemovalPrevented);
            }

            unit.SetImportExportOpen(address, true);
            return CommandOutcome.Good;
        }

        if (unit.IsImportExportOpen(address))
        {
            unit.SetImportExportOpen(address, false);
            unit.UnitAttentions.AddAllExcept(task.Nexus, SenseReason.ImportOrExportElementAccessed);
        }

        return CommandOutcome.Good;
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /// <summary>SMC-3: TRANSPORT ELEMENT ADDRESS 0 selects the default transport; anything else must be one.</summary>
    private CommandOutcome? CheckTransport(ushort transport) =>
        transport == 0 || Geometry.TypeOf(transport) == ElementType.MediumTransport ? null : InvalidElement(2);

    /// <summary>An element that can hold a medium at rest (storage, I/E, data transfer; page 1Fh byte 2).</summary>
    private bool TryStorageType(ushort address, out ElementType type)
    {
        type = Geometry.TypeOf(address) ?? ElementType.All;
        return type is ElementType.Storage or ElementType.ImportExport or ElementType.DataTransfer;
    }

    /// <summary>ILLEGAL REQUEST, INVALID ELEMENT ADDRESS with the field pointer at the offending address field.</summary>
    private static CommandOutcome InvalidElement(int cdbByte) =>
        CommandOutcome.Fail(SenseReason.InvalidElementAddress, SenseDetails.CdbField(cdbByte));

    private static string Actor(ScsiTask task) => task.Nexus?.InitiatorPortName ?? "unknown";
}

using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

public static partial class SpcCommands
{
    /// <summary>SPC-4 §6.11 MODE SENSE(6) and §6.12 MODE SENSE(10).</summary>
    private static ValueTask<CommandOutcome> ModeSenseAsync(LogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var ten = cdb[0] == ModeSense10;
        var dbd = (cdb[1] & 0x08) != 0;
        var longLba = ten && (cdb[1] & 0x10) != 0;
        var pc = (ModePageControl)(cdb[2] >> 6);
        var page = (byte)(cdb[2] & 0x3F);
        var subpage = cdb[3];
        int allocationLength = ten ? BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]) : cdb[4];
        var pages = unit.ModePages;

        if (pc == ModePageControl.Saved)
        {
            // SPC-4 §6.11.1: PC 11b without saved-value support is SAVING PARAMETERS NOT SUPPORTED.
            return CommandOutcome.Fail(SenseReason.SavingParametersNotSupported, SenseDetails.CdbField(2, 7));
        }

        if (page == ModePageSet.AllPages)
        {
            if (subpage is not (0x00 or ModePageSet.AllSubpages))
            {
                return CommandOutcome.InvalidCdbField(3);
            }
        }
        else if (page == 0x00 && subpage == 0x00)
        {
            // Page 00h (vendor specific, no page format): header and block descriptor only, as real drives answer.
            // Linux st sends exactly this at every open to learn density, block size and write protection.
        }
        else if (!pages.HasPageCode(page))
        {
            return CommandOutcome.InvalidCdbField(2, 5);
        }

        unit.RefreshModePages();
        var headerLength = ten ? 8 : 4;
        var descriptor = dbd ? null : unit.GetModeBlockDescriptor(pc);
        var descriptorLength = descriptor is null ? 0 : longLba ? 16 : 8;
        var capacity = headerLength + descriptorLength + pages.TotalLength;
        var data = task.GetDataInBuffer(capacity).Span;
        var pageBytes = page == 0x00 && subpage == 0x00 ? 0 : pages.WritePages(page, subpage, pc, data[(headerLength + descriptorLength)..]);
        if (pageBytes < 0)
        {
            return CommandOutcome.InvalidCdbField(3);
        }

        var length = Math.Min(headerLength + descriptorLength + pageBytes, capacity);
        if (ten)
        {
            // MODE DATA LENGTH excludes itself (SPC-4 §7.5.4) and is not reduced by the allocation length.
            BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)(length - 2));
            data[2] = unit.MediumType;
            data[3] = unit.DeviceSpecificParameter;
            data[4] = (byte)(descriptorLength == 16 ? 0x01 : 0x00); // LONGLBA
            BinaryPrimitives.WriteUInt16BigEndian(data[6..], (ushort)descriptorLength);
        }
        else
        {
            length = Math.Min(length, 256);
            data[0] = (byte)(length - 1);
            data[1] = unit.MediumType;
            data[2] = unit.DeviceSpecificParameter;
            data[3] = (byte)descriptorLength;
        }

        if (descriptor is { } bd)
        {
            WriteBlockDescriptor(bd, data.Slice(headerLength, descriptorLength));
        }

        task.TrimDataIn(length);
        return Respond(task, length, allocationLength);
    }

    /*
     * SPC-4 §7.5.5 short block descriptor: DENSITY CODE, NUMBER OF BLOCKS (3 bytes, FFFFFFh when larger), reserved,
     * BLOCK LENGTH (3 bytes). SBC-3 §6.4.2.3 long LBA descriptor: NUMBER OF BLOCKS (8), reserved (4), BLOCK LENGTH (4).
     */
    private static void WriteBlockDescriptor(in ModeBlockDescriptor bd, Span<byte> d)
    {
        if (d.Length == 16)
        {
            BinaryPrimitives.WriteUInt64BigEndian(d, bd.BlockCount);
            BinaryPrimitives.WriteUInt32BigEndian(d[12..], bd.BlockLength);
            return;
        }

        var blocks = (uint)Math.Min(bd.BlockCount, 0xFF_FFFFUL);
        BinaryPrimitives.WriteUInt32BigEndian(d, blocks);
        d[0] = bd.DensityCode;
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], Math.Min(bd.BlockLength, 0xFF_FFFFU));
        d[4] = 0;
    }

    /// <summary>SPC-4 §6.9 MODE SELECT(6) and §6.10 MODE SELECT(10).</summary>
    private static async ValueTask<CommandOutcome> ModeSelectAsync(LogicalUnit unit, ScsiTask task)
    {
        var ten = task.Cdb[0] == ModeSelect10;
        var pf = (task.Cdb[1] & 0x10) != 0;
        if ((task.Cdb[1] & 0x01) != 0)
        {
            // SPC-4 §6.9: SP=1 on a unit that keeps no saved pages is INVALID FIELD IN CDB.
            return CommandOutcome.InvalidCdbField(1, 0);
        }

        int listLength = ten ? BinaryPrimitives.ReadUInt16BigEndian(task.Cdb[7..]) : task.Cdb[4];
        if (listLength == 0)
        {
            return CommandOutcome.Good;
        }

        var received = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (received.Length < listLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        return ApplyModeSelect(unit, task, ten, pf, received.Span[..listLength]);
    }

    private static CommandOutcome ApplyModeSelect(LogicalUnit unit, ScsiTask task, bool ten, bool pf, ReadOnlySpan<byte> list)
    {
        var headerLength = ten ? 8 : 4;
        if (list.Length < headerLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        // Header (SPC-4 §7.5.4): MODE DATA LENGTH is reserved in MODE SELECT; MEDIUM TYPE must be 00h or what we report.
        var mediumTypeAt = ten ? 2 : 1;
        if (!unit.IsValidMediumType(list[mediumTypeAt]))
        {
            return CommandOutcome.InvalidParameterField(mediumTypeAt);
        }

        var deviceSpecific = list[ten ? 3 : 2];
        var longLba = ten && (list[4] & 0x01) != 0;
        int descriptorLength = ten ? BinaryPrimitives.ReadUInt16BigEndian(list[6..]) : list[3];
        if (descriptorLength != 0 && descriptorLength != (longLba ? 16 : 8))
        {
            return CommandOutcome.InvalidParameterField(ten ? 6 : 3);
        }

        if (headerLength + descriptorLength > list.Length)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var pageData = list[(headerLength + descriptorLength)..];
        if (!pf && !pageData.IsEmpty)
        {
            // PF=0 means vendor-specific (SCSI-1) page format; we only parse SPC pages. A header and block descriptor
            // alone (as st and older tape software send) carry no pages and are accepted either way.
            return CommandOutcome.InvalidCdbField(1, 4);
        }

        var pages = unit.ModePages;
        unit.RefreshModePages();
        var (reason, offset, bit) = pages.Validate(pageData, headerLength + descriptorLength);
        if (reason != SenseReason.None)
        {
            return reason == SenseReason.InvalidFieldInParameterList
                ? CommandOutcome.InvalidParameterField(offset, bit)
                : CommandOutcome.Fail(reason);
        }

        // SPC-4 §6.9: a MODE SELECT that is refused changes no parameter, so every check that can fail runs before
        // anything is applied. The block descriptor is checked and applied in one step (it is the last check).
        if (!unit.IsValidDeviceSpecificParameter(deviceSpecific))
        {
            return CommandOutcome.InvalidParameterField(ten ? 3 : 2);
        }

        if (descriptorLength > 0)
        {
            var d = list.Slice(headerLength, descriptorLength);
            var requested = descriptorLength == 16
                ? new ModeBlockDescriptor(0, BinaryPrimitives.ReadUInt64BigEndian(d), BinaryPrimitives.ReadUInt32BigEndian(d[12..]))
                : new ModeBlockDescriptor(d[0], (ulong)((d[1] << 16) | (d[2] << 8) | d[3]), (uint)((d[5] << 16) | (d[6] << 8) | d[7]));
            if (!unit.TryApplyModeBlockDescriptor(requested))
            {
                return CommandOutcome.InvalidParameterField(headerLength);
            }
        }

        unit.ApplyDeviceSpecificParameter(deviceSpecific);
        var changed = pages.Apply(pageData);
        foreach (var (page, subpage) in changed)
        {
            unit.OnModePageChanged(page, subpage);
        }

        if (changed.Count > 0)
        {
            // SPC-4 §6.9: parameters shared by all I_T nexuses changed; everyone else hears MODE PARAMETERS CHANGED.
            unit.UnitAttentions.AddAllExcept(task.Nexus, SenseReason.ModeParametersChanged);
        }

        return CommandOutcome.Good;
    }
}

using TapeGateway.Core.Scsi;

namespace TapeGateway.Scsi.Commands;

/// <summary>
/// A device type's 256-entry opcode table, built once. Opcodes collide across device types (0x01 REWIND vs REZERO,
/// 0x1B LOAD UNLOAD vs START STOP UNIT, 0x2B LOCATE vs SEEK vs POSITION TO ELEMENT), so each device type owns one.
/// Opcodes with service actions (0x9E, 0xA3, 0x5E, 0x5F, …) hold a sub-table keyed by service action.
/// </summary>
public sealed class CommandTable<TUnit>
    where TUnit : LogicalUnit
{
    private readonly CommandDescriptor<TUnit>?[] _byOpcode = new CommandDescriptor<TUnit>?[256];
    private readonly Dictionary<ushort, CommandDescriptor<TUnit>>?[] _byServiceAction = new Dictionary<ushort, CommandDescriptor<TUnit>>?[256];
    private readonly List<CommandDescriptor<TUnit>> _all = [];

    public IReadOnlyList<CommandDescriptor<TUnit>> All => _all;

    public CommandTable<TUnit> Add(CommandDescriptor<TUnit> descriptor)
    {
        if (descriptor.ServiceAction is { } sa)
        {
            var map = _byServiceAction[descriptor.OperationCode] ??= [];
            if (!map.TryAdd(sa, descriptor))
            {
                throw new InvalidOperationException($"duplicate opcode {descriptor.OperationCode:X2}/{sa:X2}");
            }
        }
        else
        {
            if (_byOpcode[descriptor.OperationCode] is not null)
            {
                throw new InvalidOperationException($"duplicate opcode {descriptor.OperationCode:X2}");
            }

            _byOpcode[descriptor.OperationCode] = descriptor;
        }

        _all.Add(descriptor);
        return this;
    }

    public CommandTable<TUnit> Add(
        byte opcode,
        string name,
        CommandHandler<TUnit> handler,
        CommandFlags flags,
        byte[] cdbUsage,
        string spec) => Add(new CommandDescriptor<TUnit>(opcode, name, handler, flags, cdbUsage, null, spec));

    public CommandTable<TUnit> Add(
        byte opcode,
        ushort serviceAction,
        string name,
        CommandHandler<TUnit> handler,
        CommandFlags flags,
        byte[] cdbUsage,
        string spec) => Add(new CommandDescriptor<TUnit>(opcode, name, handler, flags, cdbUsage, serviceAction, spec));

    /// <summary>True when the opcode has service actions (RSOC reports SERVACTV for it).</summary>
    public bool HasServiceActions(byte opcode) => _byServiceAction[opcode] is not null;

    public CommandDescriptor<TUnit>? Find(byte opcode, ushort? serviceAction)
    {
        if (_byServiceAction[opcode] is { } map)
        {
            return serviceAction is { } sa && map.TryGetValue(sa, out var d) ? d : null;
        }

        return _byOpcode[opcode];
    }

    /// <summary>Finds the descriptor for a CDB: service action from byte 1 bits 4-0 (or bytes 8-9 for 0x7F).</summary>
    public CommandDescriptor<TUnit>? Find(ReadOnlySpan<byte> cdb, out bool invalidServiceAction)
    {
        invalidServiceAction = false;
        if (cdb.IsEmpty)
        {
            return null;
        }

        var opcode = cdb[0];
        if (_byServiceAction[opcode] is { } map)
        {
            ushort sa;
            if (opcode == 0x7F)
            {
                if (cdb.Length < 10)
                {
                    invalidServiceAction = true;
                    return null;
                }

                sa = (ushort)((cdb[8] << 8) | cdb[9]);
            }
            else
            {
                if (cdb.Length < 2)
                {
                    invalidServiceAction = true;
                    return null;
                }

                sa = (ushort)(cdb[1] & 0x1F);
            }

            if (map.TryGetValue(sa, out var d))
            {
                return d;
            }

            invalidServiceAction = true;
            return null;
        }

        return _byOpcode[opcode];
    }

    public static byte[] Usage(params byte[] bytes) => bytes;
}

/// <summary>The whole-table view of a descriptor that RSOC needs, without the handler's unit type.</summary>
public readonly record struct SupportedCommand(byte OperationCode, ushort? ServiceAction, byte[] CdbUsage, string Name, string SpecReference = "", CommandFlags Flags = CommandFlags.None);

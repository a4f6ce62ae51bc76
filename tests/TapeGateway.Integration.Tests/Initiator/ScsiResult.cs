using TapeGateway.Core.Scsi;

namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>Sense key and additional sense code of a CHECK CONDITION (SPC-4 §4.5), fixed or descriptor format.</summary>
public readonly record struct SenseCode(byte Key, byte Asc, byte Ascq)
{
    public const byte NotReady = 0x02;
    public const byte IllegalRequest = 0x05;
    public const byte UnitAttention = 0x06;
    public const byte AbortedCommand = 0x0B;

    /// <summary>Parses fixed (70h/71h) or descriptor (72h/73h) sense data; null when there is none or it is unreadable.</summary>
    public static SenseCode? Parse(ReadOnlySpan<byte> sense)
    {
        if (sense.Length < 2)
        {
            return null;
        }

        switch (sense[0] & 0x7F)
        {
            case 0x70 or 0x71 when sense.Length >= 14:
                return new SenseCode((byte)(sense[2] & 0x0F), sense[12], sense[13]);
            case 0x72 or 0x73 when sense.Length >= 4:
                return new SenseCode((byte)(sense[1] & 0x0F), sense[2], sense[3]);
            default:
                return null;
        }
    }

    public override string ToString() => $"{Key:X1}/{Asc:X2}/{Ascq:X2}";
}

/// <summary>Everything the initiator observed for one SCSI command (RFC 7143 §11.4, §11.7).</summary>
public sealed class ScsiResult
{
    public required uint Itt { get; init; }

    public required ScsiStatus Status { get; init; }

    /// <summary>iSCSI Response field (0 = command completed at target).</summary>
    public required byte Response { get; init; }

    /// <summary>Sense data without the 2-byte SenseLength prefix.</summary>
    public required byte[] Sense { get; init; }

    /// <summary>Data-In received, in offset order.</summary>
    public required byte[] Data { get; init; }

    public required bool ResidualOverflow { get; init; }

    public required bool ResidualUnderflow { get; init; }

    public required uint ResidualCount { get; init; }

    /// <summary>Status arrived in the last Data-In (phase collapse) rather than in a SCSI Response.</summary>
    public required bool StatusInDataIn { get; init; }

    public required int DataInPduCount { get; init; }

    public required int R2TCount { get; init; }

    /// <summary>Data-Out PDUs the initiator sent (immediate data excluded).</summary>
    public required int DataOutPduCount { get; init; }

    /// <summary>RFC violations the initiator noticed (DataSN gaps, offsets, burst sizes…); empty when all was well.</summary>
    public required IReadOnlyList<string> ProtocolViolations { get; init; }

    public SenseCode? SenseCode => Initiator.SenseCode.Parse(Sense);

    public override string ToString() =>
        $"status={Status} sense={SenseCode?.ToString() ?? "-"} data={Data.Length} " +
        $"residual={(ResidualOverflow ? "O" : ResidualUnderflow ? "U" : "-")}{ResidualCount}";
}

using System.Buffers.Binary;

namespace TapeGateway.Iscsi.Login;

/// <summary>
/// The fields of a Login Request BHS (RFC 7143 §11.12) the login state machine needs. <see cref="Parse"/> reads them
/// from a raw 48-byte BHS; the connection may also fill them from its own PDU codec.
/// </summary>
public readonly record struct LoginRequestFields
{
    /// <summary>T bit: the initiator wants to move to <see cref="NextStage"/>.</summary>
    public bool Transit { get; init; }

    /// <summary>C bit: the text continues in the next Login Request.</summary>
    public bool Continue { get; init; }

    /// <summary>CSG: the stage this request belongs to (raw 2-bit value; 2 and 3 are invalid here).</summary>
    public byte CurrentStage { get; init; }

    /// <summary>NSG: valid only when <see cref="Transit"/> is set.</summary>
    public byte NextStage { get; init; }

    public byte VersionMax { get; init; }

    public byte VersionMin { get; init; }

    /// <summary>ISID, 48 bits (bytes 8–13).</summary>
    public ulong Isid { get; init; }

    public ushort Tsih { get; init; }

    public uint InitiatorTaskTag { get; init; }

    public ushort Cid { get; init; }

    public uint CmdSn { get; init; }

    public uint ExpStatSn { get; init; }

    /// <summary>Reads the fields from a Login Request BHS (RFC 7143 §11.12 layout).</summary>
    public static LoginRequestFields Parse(ReadOnlySpan<byte> bhs)
    {
        if (bhs.Length < 48)
        {
            throw new ArgumentException("a BHS is 48 bytes", nameof(bhs));
        }

        var flags = bhs[1];
        return new LoginRequestFields
        {
            Transit = (flags & 0x80) != 0,
            Continue = (flags & 0x40) != 0,
            CurrentStage = (byte)((flags >> 2) & 0x3),
            NextStage = (byte)(flags & 0x3),
            VersionMax = bhs[2],
            VersionMin = bhs[3],
            Isid = ReadIsid(bhs[8..14]),
            Tsih = BinaryPrimitives.ReadUInt16BigEndian(bhs[14..]),
            InitiatorTaskTag = BinaryPrimitives.ReadUInt32BigEndian(bhs[16..]),
            Cid = BinaryPrimitives.ReadUInt16BigEndian(bhs[20..]),
            CmdSn = BinaryPrimitives.ReadUInt32BigEndian(bhs[24..]),
            ExpStatSn = BinaryPrimitives.ReadUInt32BigEndian(bhs[28..]),
        };
    }

    internal static ulong ReadIsid(ReadOnlySpan<byte> six)
    {
        ulong isid = 0;
        for (var i = 0; i < 6; i++)
        {
            isid = (isid << 8) | six[i];
        }

        return isid;
    }

    internal static void WriteIsid(Span<byte> six, ulong isid)
    {
        for (var i = 5; i >= 0; i--)
        {
            six[i] = (byte)isid;
            isid >>= 8;
        }
    }
}

/// <summary>
/// The Login Response fields decided by the login state machine (RFC 7143 §11.13). The connection adds StatSN,
/// ExpCmdSN and MaxCmdSN (or calls <see cref="WriteBhs"/>).
/// </summary>
public readonly record struct LoginResponseFields
{
    public bool Transit { get; init; }

    public bool Continue { get; init; }

    public LoginStage CurrentStage { get; init; }

    /// <summary>Meaningful only when <see cref="Transit"/> is set (0 otherwise).</summary>
    public LoginStage NextStage { get; init; }

    /// <summary>Highest version we support: always 0 (RFC 7143 §11.13.1).</summary>
    public byte VersionMax { get; init; }

    /// <summary>Version in use: always 0.</summary>
    public byte VersionActive { get; init; }

    /// <summary>Echo of the request ISID.</summary>
    public ulong Isid { get; init; }

    /// <summary>Request TSIH, or the TSIH assigned by <see cref="ILoginSessionBinder.Bind"/> in the final response.</summary>
    public ushort Tsih { get; init; }

    /// <summary>Echo of the request Initiator Task Tag.</summary>
    public uint InitiatorTaskTag { get; init; }

    public LoginStatus Status { get; init; }

    public byte StatusClass => Status.StatusClass();

    public byte StatusDetail => Status.StatusDetail();

    /// <summary>
    /// Writes a complete 48-byte Login Response BHS (opcode 0x23) with the given sequence numbers and data segment
    /// length. Convenience for the connection; it may equally use its own PDU writer.
    /// </summary>
    public void WriteBhs(Span<byte> bhs, int dataSegmentLength, uint statSn, uint expCmdSn, uint maxCmdSn)
    {
        if (bhs.Length < 48)
        {
            throw new ArgumentException("a BHS is 48 bytes", nameof(bhs));
        }

        bhs[..48].Clear();
        bhs[0] = 0x23;
        var flags = (byte)(((byte)CurrentStage & 0x3) << 2);
        if (Transit)
        {
            flags |= (byte)(0x80 | ((byte)NextStage & 0x3));
        }

        if (Continue)
        {
            flags |= 0x40;
        }

        bhs[1] = flags;
        bhs[2] = VersionMax;
        bhs[3] = VersionActive;
        bhs[5] = (byte)(dataSegmentLength >> 16);
        bhs[6] = (byte)(dataSegmentLength >> 8);
        bhs[7] = (byte)dataSegmentLength;
        LoginRequestFields.WriteIsid(bhs[8..14], Isid);
        BinaryPrimitives.WriteUInt16BigEndian(bhs[14..], Tsih);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[16..], InitiatorTaskTag);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[24..], statSn);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[28..], expCmdSn);
        BinaryPrimitives.WriteUInt32BigEndian(bhs[32..], maxCmdSn);
        bhs[36] = StatusClass;
        bhs[37] = StatusDetail;
    }
}

/// <summary>What to send back for one Login Request.</summary>
public sealed class LoginStep
{
    internal LoginStep(LoginResponseFields response, byte[] text, string? failureReason)
    {
        Response = response;
        TextBuffer = text;
        FailureReason = failureReason;
    }

    public LoginResponseFields Response { get; }

    /// <summary>The Login Response data segment (key=value pairs); owned by this step, empty when nothing to say.</summary>
    public ReadOnlyMemory<byte> Text => TextBuffer;

    /// <summary>True when this response ends the login with a failure status; close the connection after sending it.</summary>
    public bool IsReject => Response.Status != LoginStatus.Success;

    /// <summary>True when this response moves the connection to full feature phase (T=1, NSG=3, success).</summary>
    public bool EntersFullFeaturePhase =>
        Response.Status == LoginStatus.Success && Response.Transit && Response.NextStage == LoginStage.FullFeaturePhase;

    /// <summary>Human-readable reason for a reject (for logs; never contains secrets).</summary>
    public string? FailureReason { get; }

    internal byte[] TextBuffer { get; }
}

using System.Buffers.Binary;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>A PDU the target sent: copied out of the receive buffer, so it stays valid.</summary>
public sealed class ReceivedPdu
{
    public ReceivedPdu(byte[] header, byte[] data, bool dataDigestError)
    {
        Header = header;
        Data = data;
        DataDigestError = dataDigestError;
    }

    /// <summary>The 48-byte BHS.</summary>
    public byte[] Header { get; }

    public byte[] Data { get; }

    /// <summary>The data digest did not match (the PDU was framed correctly).</summary>
    public bool DataDigestError { get; }

    public IscsiOpcode Opcode => Bhs.Opcode(Header);

    public byte Flags => Header[1];

    public bool Final => Bhs.IsFinal(Header);

    public uint Itt => Bhs.InitiatorTaskTag(Header);

    public uint Word(int offset) => BinaryPrimitives.ReadUInt32BigEndian(Header.AsSpan(offset));

    /// <summary>StatSN (word 24) on PDUs that carry it.</summary>
    public uint StatSn => Word(24);

    public uint ExpCmdSn => Word(28);

    public uint MaxCmdSn => Word(32);

    public override string ToString() => $"{Opcode} itt=0x{Itt:x8} flags=0x{Flags:x2} dsl={Data.Length}";
}

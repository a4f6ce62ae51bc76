using TapeGateway.Core.Scsi;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// Transport-side state of one SCSI command on a connection: Data-Out accounting and R2T generation
/// (RFC 7143 §4.2.3.2, §11.8) around the <see cref="ScsiTask"/> handed to the target. Pooled per connection.
/// </summary>
internal sealed class IscsiTask
{
    public const uint ReservedTag = 0xFFFF_FFFF;

    public ScsiTask Scsi { get; } = new();

    public uint Itt { get; set; }

    public uint CmdSn { get; set; }

    /// <summary>Target transfer tag for this task's R2Ts (unique per connection while the task lives).</summary>
    public uint Ttt { get; set; }

    /// <summary>Bytes the initiator will write (EDTL of a write), 0 for reads.</summary>
    public int WriteLength { get; set; }

    /// <summary>Bytes the initiator will accept (EDTL of a read, or the bidirectional read EDTL).</summary>
    public int ReadLength { get; set; }

    /// <summary>Whether Data-Out is buffered (false when the transfer exceeds our per-command limit).</summary>
    public bool Buffered { get; set; }

    public int Received { get; set; }

    /// <summary>An unsolicited Data-Out sequence is still open (command had F=0 and InitialR2T=No).</summary>
    public bool UnsolicitedOpen { get; set; }

    /// <summary>End offset of the data covered by R2Ts sent so far.</summary>
    public int R2TIssuedUpTo { get; set; }

    public int OutstandingR2T { get; set; }

    /// <summary>DataSN the next Data-Out of the current sequence must carry (RFC 7143 §11.7.5).</summary>
    public uint ExpectedDataSn { get; set; }

    public uint NextR2TSn { get; set; }

    /// <summary>Data-In PDUs plus R2Ts sent, reported as ExpDataSN in the SCSI Response.</summary>
    public uint DataSnCount { get; set; }

    public bool Aborted { get; set; }

    /// <summary>Data-Out broke (DataSN error); later Data-Out PDUs for this task are discarded.</summary>
    public bool DataOutFailed { get; set; }

    public bool Finished { get; set; }

    /// <summary>Completes when the target has finished (or abandoned) the command and any response is written.</summary>
    public Task? Completion { get; set; }

    public bool DataOutComplete => !Buffered || Received >= WriteLength;

    public void Reset()
    {
        Scsi.Reset();
        Itt = 0;
        CmdSn = 0;
        Ttt = 0;
        WriteLength = 0;
        ReadLength = 0;
        Buffered = false;
        Received = 0;
        UnsolicitedOpen = false;
        R2TIssuedUpTo = 0;
        OutstandingR2T = 0;
        ExpectedDataSn = 0;
        NextR2TSn = 0;
        DataSnCount = 0;
        Aborted = false;
        DataOutFailed = false;
        Finished = false;
        Completion = null;
    }
}

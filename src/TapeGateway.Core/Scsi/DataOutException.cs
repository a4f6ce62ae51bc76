namespace TapeGateway.Core.Scsi;

/// <summary>
/// The transport could not deliver a command's Data-Out (a DataSN gap, a digest error on a data PDU). The SCSI
/// layer ends the command with ABORTED COMMAND / DATA PHASE ERROR (SPC-4 4B/00) so the initiator retries it.
/// </summary>
public sealed class DataOutException : Exception
{
    public DataOutException()
    {
    }

    public DataOutException(string message)
        : base(message)
    {
    }

    public DataOutException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

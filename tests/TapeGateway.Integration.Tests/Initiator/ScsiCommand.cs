using System.Threading.Channels;

namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>Per-command knobs for <see cref="TestInitiator.StartCommandAsync"/>.</summary>
public sealed record CommandOptions
{
    /// <summary>EDTL to announce instead of the data length (residual tests).</summary>
    public uint? ExpectedDataTransferLength { get; init; }

    /// <summary>Send with this CmdSN and do not advance the initiator's counter (window tests).</summary>
    public uint? CmdSn { get; init; }

    /// <summary>Set the I bit (immediate delivery).</summary>
    public bool Immediate { get; init; }

    /// <summary>Answer R2Ts with Data-Out; false leaves them in <see cref="ScsiCommand.R2Ts"/> (abort tests).</summary>
    public bool AnswerR2T { get; init; } = true;

    /// <summary>Task attribute (SAM-5: 1 = SIMPLE).</summary>
    public byte Attribute { get; init; } = 1;
}

/// <summary>A SCSI command in flight: its tags and the task that completes with its result.</summary>
public sealed class ScsiCommand : IAsyncDisposable
{
    private readonly TestInitiator _initiator;
    private readonly CancellationTokenSource _cancel = new();

    internal ScsiCommand(TestInitiator initiator, uint itt, uint cmdSn, ushort lun)
    {
        _initiator = initiator;
        Itt = itt;
        CmdSn = cmdSn;
        Lun = lun;
    }

    public uint Itt { get; }

    public uint CmdSn { get; }

    public ushort Lun { get; }

    /// <summary>Completes with the result, or faults (timeout, reject, closed connection).</summary>
    public Task<ScsiResult> Completion { get; internal set; } = null!;

    /// <summary>R2Ts the target sent (all of them, answered or not).</summary>
    public ChannelReader<ReceivedPdu> R2Ts => R2TChannel.Reader;

    internal Channel<ReceivedPdu> R2TChannel { get; } = Channel.CreateUnbounded<ReceivedPdu>();

    internal CancellationToken Cancellation => _cancel.Token;

    /// <summary>Waits for the next R2T (see <see cref="CommandOptions.AnswerR2T"/>).</summary>
    public async Task<ReceivedPdu> NextR2TAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? _initiator.Options.Timeout);
        return await R2Ts.ReadAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync();
        try
        {
            await Completion;
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or IscsiConnectionClosedException or IscsiRejectedException)
        {
        }

        _initiator.Unregister(Itt);
        _cancel.Dispose();
    }
}

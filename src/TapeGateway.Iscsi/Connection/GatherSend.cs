using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// One connection's reusable gathered send (header + data segment in one <c>sendmsg</c>): a
/// <see cref="SocketAsyncEventArgs"/> awaited as a <see cref="ValueTask{TResult}"/>, so a Data-In PDU allocates nothing
/// (the <see cref="Socket.SendAsync(IList{ArraySegment{byte}}, SocketFlags)"/> overload returns a new Task each time).
/// One send at a time: the connection's output is single-writer.
/// </summary>
internal sealed class GatherSend : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private readonly ArraySegment<byte>[] _parts = new ArraySegment<byte>[2];
    private ManualResetValueTaskSourceCore<int> _core;

    public GatherSend()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>Sends <paramref name="head"/> then <paramref name="data"/>; a stream socket sends all of both or fails.</summary>
    public ValueTask<int> SendAsync(Socket socket, ArraySegment<byte> head, ArraySegment<byte> data)
    {
        _core.Reset();
        _parts[0] = head;
        _parts[1] = data;
        BufferList = _parts; // copied into the args' own list (reused), so the array may change for the next send
        if (!socket.SendAsync(this))
        {
            Finish();
        }

        return new ValueTask<int>(this, _core.Version);
    }

    protected override void OnCompleted(SocketAsyncEventArgs e) => Finish();

    private void Finish()
    {
        _parts[0] = default;
        _parts[1] = default; // do not keep the task's Data-In buffer reachable from the connection
        if (SocketError == SocketError.Success)
        {
            _core.SetResult(BytesTransferred);
        }
        else
        {
            _core.SetException(new SocketException((int)SocketError));
        }
    }

    int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using TapeGateway.Core.Threading;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// A connection's socket I/O through libc on threads of its own, instead of <see cref="Socket"/>'s async methods.
/// Those put the descriptor in non-blocking mode and route every readiness event through the runtime's epoll thread,
/// which then wakes a pool worker: two thread wake-ups per PDU the initiator sends, and on a virtual machine each costs
/// tens of microseconds — at queue depth 1 (a tape drive streaming READs) more than the data transfer itself. Here a
/// receive thread blocks in <c>recv</c> and runs the read loop itself (the pipe's reader is scheduled inline), so a
/// command costs the one wake-up the kernel gives that thread. Sends are tried without blocking on the calling thread
/// (<c>sendmsg</c> with MSG_DONTWAIT); what the socket does not take at once goes to a send thread that blocks until the
/// peer has read enough (started the first time it is needed).
/// </summary>
/// <remarks>
/// Linux, 64-bit (<see cref="IsSupported"/>); elsewhere the connection uses a <see cref="NetworkStream"/>. The transport
/// owns the socket and disposes it when the owner and both threads are done with it (reference counted), so its
/// descriptor is never closed and reused underneath a blocked call; <see cref="Shutdown"/> wakes them both. Disposing
/// the socket directly would not do: the runtime waits for the handle's users, and the read loop runs on the receive
/// thread, which would then wait for itself.
/// </remarks>
internal sealed unsafe partial class SocketTransport : IValueTaskSource<int>, IValueTaskSource
{
    /// <summary>Bytes asked of the pipe for each <c>recv</c> (one pool block).</summary>
    private const int ReceiveBlock = PinnedBlockPool.BlockSize;

    private readonly Socket _socket;
    private readonly int _fd;
    private readonly Pipe _pipe;
    private readonly string _name;
    private readonly Lock _sendLock = new();
    private ManualResetValueTaskSourceCore<int> _core;
    private Thread? _sendThread;
    private SemaphoreSlim? _sendSignal;
    private MemoryHandle _pendingHeadPin;
    private MemoryHandle _pendingDataPin;
    private ReadOnlyMemory<byte> _pendingHead;
    private ReadOnlyMemory<byte> _pendingData;
    private int _pendingTotal;
    private int _pendingSent;
    private int _references = 1; // the owner's; each running thread holds one more
    private volatile bool _shutdown;

    /// <param name="maxPdu">Largest PDU the read loop may need whole in the pipe (see the pause threshold below).</param>
    public SocketTransport(Socket socket, int maxPdu, string name)
    {
        _socket = socket;
        _name = name;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        SetBlocking(_fd);

        // The writer (receive thread) pauses once this much is unread. The read loop consumes only whole PDUs, so the
        // threshold must exceed the largest one, or a half-received PDU would stop the thread that completes it.
        var pause = maxPdu + (2 * ReceiveBlock);
        _pipe = new Pipe(new PipeOptions(
            pool: PinnedBlockPool.Shared,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: pause,
            resumeWriterThreshold: pause,
            minimumSegmentSize: ReceiveBlock,
            useSynchronizationContext: false));
        Output = new SendStream(this);
    }

    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    /// <summary>What the initiator sent; the read loop's continuations run on the receive thread.</summary>
    public PipeReader Input => _pipe.Reader;

    /// <summary>A write-only stream over <see cref="SendAsync"/> for the connection's output pipe.</summary>
    public Stream Output { get; }

    /// <summary>Starts the receive thread.</summary>
    public void Start()
    {
        Interlocked.Increment(ref _references);
        var thread = new Thread(ReceiveLoop) { IsBackground = true, Name = "iscsi-rx " + _name };
        thread.UnsafeStart();
    }

    /// <summary>Ends both directions: a blocked <c>recv</c> returns end-of-stream, a blocked send fails.</summary>
    public void Shutdown()
    {
        _shutdown = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        _sendSignal?.Release();
    }

    /// <summary>Drops the owner's reference; the socket is disposed once both threads are gone.</summary>
    public void Release() => ReleaseReference();

    /// <summary>
    /// Sends <paramref name="head"/> then <paramref name="data"/> (either may be empty) as one gathered write. Completes
    /// at once when the socket takes everything; otherwise the send thread finishes it. One send at a time.
    /// </summary>
    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> data)
    {
        if (_shutdown)
        {
            return ValueTask.FromException<int>(new IOException("connection closed"));
        }

        var total = head.Length + data.Length;
        int sent;
        fixed (byte* h = head.Span)
        fixed (byte* d = data.Span)
        {
            sent = SendSome(h, head.Length, d, data.Length, 0, Native.MSG_DONTWAIT, out var errno);
            if (sent < 0)
            {
                if (errno != Native.EAGAIN)
                {
                    return ValueTask.FromException<int>(SendError(errno));
                }

                sent = 0;
            }
        }

        if (sent == total)
        {
            return new ValueTask<int>(total);
        }

        // The socket is full: the rest goes on the send thread, pinned until it is sent.
        lock (_sendLock)
        {
            _core.Reset();
            _pendingHead = head;
            _pendingData = data;
            _pendingHeadPin = head.Pin();
            _pendingDataPin = data.Pin();
            _pendingTotal = total;
            _pendingSent = sent;
            EnsureSendThread();
        }

        _sendSignal!.Release();
        return new ValueTask<int>(this, _core.Version);
    }

    private void EnsureSendThread()
    {
        if (_sendThread is not null)
        {
            return;
        }

        _sendSignal = new SemaphoreSlim(0);
        Interlocked.Increment(ref _references);
        _sendThread = new Thread(SendLoop) { IsBackground = true, Name = "iscsi-tx " + _name };
        _sendThread.UnsafeStart();
    }

    private void SendLoop()
    {
        try
        {
            while (true)
            {
                // A timed wait, so a shutdown that raced with the thread's start still ends it.
                if (!_sendSignal!.Wait(1000) && !_shutdown)
                {
                    continue;
                }

                int total;
                int sent;
                byte* h;
                byte* d;
                int headLength;
                int dataLength;
                lock (_sendLock)
                {
                    if (_pendingTotal == 0)
                    {
                        if (_shutdown)
                        {
                            return;
                        }

                        continue;
                    }

                    total = _pendingTotal;
                    sent = _pendingSent;
                    h = (byte*)_pendingHeadPin.Pointer;
                    d = (byte*)_pendingDataPin.Pointer;
                    headLength = _pendingHead.Length;
                    dataLength = _pendingData.Length;
                }

                Exception? error = null;
                while (sent < total)
                {
                    // Blocking: the kernel wakes this thread as the peer reads. Shutdown makes it fail (EPIPE).
                    var n = SendSome(h, headLength, d, dataLength, sent, 0, out var errno);
                    if (n < 0)
                    {
                        error = SendError(errno);
                        break;
                    }

                    sent += n;
                }

                lock (_sendLock)
                {
                    _pendingHeadPin.Dispose();
                    _pendingDataPin.Dispose();
                    _pendingHead = default;
                    _pendingData = default;
                    _pendingTotal = 0;
                }

                if (error is null)
                {
                    _core.SetResult(total);
                }
                else
                {
                    _core.SetException(error);
                }
            }
        }
        finally
        {
            ReleaseReference();
        }
    }

    /// <summary>One <c>sendmsg</c> of what is left after <paramref name="skip"/> bytes; retries EINTR; -1 with errno.</summary>
    private int SendSome(byte* head, int headLength, byte* data, int dataLength, int skip, int flags, out int errno)
    {
        var vectors = stackalloc IoVec[2];
        var count = 0;
        if (skip < headLength)
        {
            vectors[count++] = new IoVec(head + skip, headLength - skip);
            skip = 0;
        }
        else
        {
            skip -= headLength;
        }

        if (skip < dataLength)
        {
            vectors[count++] = new IoVec(data + skip, dataLength - skip);
        }

        if (count == 0)
        {
            errno = 0;
            return 0;
        }

        var message = default(MessageHeader);
        message.Iov = vectors;
        message.IovLength = (nuint)count;
        while (true)
        {
            var n = Native.sendmsg(_fd, &message, flags | Native.MSG_NOSIGNAL);
            if (n >= 0)
            {
                errno = 0;
                return (int)n;
            }

            errno = Marshal.GetLastPInvokeError();
            if (errno != Native.EINTR)
            {
                return -1;
            }
        }
    }

    private static IOException SendError(int errno) =>
        new($"send failed: {new SocketException(errno == Native.EPIPE ? (int)SocketError.Shutdown : (int)SocketError.SocketError).Message} (errno {errno})");

    private void ReceiveLoop()
    {
        var writer = _pipe.Writer;
        Exception? error = null;
        IdleWork.Attach();
        try
        {
            while (!_shutdown)
            {
                IdleWork.RunQueued();
                var memory = writer.GetMemory(ReceiveBlock);
                nint n;
                int errno;
                fixed (byte* p = memory.Span)
                {
                    // The pool's blocks are pinned arrays: nothing moves while the thread waits in the kernel.
                    n = Native.recv(_fd, p, (nuint)memory.Length, 0);
                    errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                }

                if (n == 0)
                {
                    break;
                }

                if (n < 0)
                {
                    if (errno == Native.EINTR)
                    {
                        continue;
                    }

                    if (!_shutdown)
                    {
                        error = new IOException($"recv failed (errno {errno})");
                    }

                    break;
                }

                writer.Advance((int)n);

                // The read loop runs inside this flush, up to its next wait for data or for something else.
                var flush = writer.FlushAsync();
                var result = flush.IsCompleted ? flush.Result : flush.AsTask().GetAwaiter().GetResult();
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
            // The reader completed (the connection is closing) while the thread was flushing.
        }
        catch (Exception ex)
        {
            // Idle work that failed unexpectedly ends this connection (the read loop reports it), not the process.
            error = ex;
        }
        finally
        {
            writer.Complete(error);
            ReleaseReference();
        }
    }

    private void ReleaseReference()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _socket.Dispose();
        }
    }

    private static void SetBlocking(int fd)
    {
        var flags = Native.fcntl(fd, Native.F_GETFL, 0);
        if (flags >= 0 && (flags & Native.O_NONBLOCK) != 0)
        {
            _ = Native.fcntl(fd, Native.F_SETFL, flags & ~Native.O_NONBLOCK);
        }
    }

    int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private ValueTask SendAllAsync(ReadOnlyMemory<byte> buffer)
    {
        var send = SendAsync(buffer, default);
        if (send.IsCompletedSuccessfully)
        {
            return default;
        }

        return send.IsCompleted ? new ValueTask(send.AsTask()) : new ValueTask(this, _core.Version);
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct IoVec(byte* start, int length)
    {
        public readonly byte* Base = start;
        public readonly nuint Length = (nuint)length;
    }

    /// <summary>struct msghdr on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>The output pipe's stream: writes are sends; nothing is read.</summary>
    private sealed class SendStream(SocketTransport transport) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            transport.SendAllAsync(buffer);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            transport.SendAllAsync(buffer.AsMemory(offset, count)).AsTask();

        public override void Write(byte[] buffer, int offset, int count) =>
            transport.SendAllAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private static partial class Native
    {
        public const int EINTR = 4;
        public const int EAGAIN = 11;
        public const int EPIPE = 32;
        public const int MSG_DONTWAIT = 0x40;
        public const int MSG_NOSIGNAL = 0x4000;
        public const int F_GETFL = 3;
        public const int F_SETFL = 4;
        public const int O_NONBLOCK = 0x800;

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint recv(int fd, byte* buffer, nuint length, int flags);

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint sendmsg(int fd, MessageHeader* message, int flags);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fcntl(int fd, int command, int argument);
    }
}

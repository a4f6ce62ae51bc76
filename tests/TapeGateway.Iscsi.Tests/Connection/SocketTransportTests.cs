using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using TapeGateway.Core.Threading;
using TapeGateway.Iscsi.Connection;

namespace TapeGateway.Iscsi.Tests.Connection;

/// <summary>
/// The connection's own socket I/O (receive thread, non-blocking sends finished by a send thread) against a real TCP
/// peer on loopback: byte order both ways, a send far larger than the socket buffers, shutdown waking blocked calls,
/// the socket closing only once the threads are gone, and idle work running on the receive thread.
/// </summary>
public sealed class SocketTransportTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Receives_every_byte_in_order_and_completes_at_end_of_stream()
    {
        using var rig = await Rig.StartAsync(maxPdu: 300 * 1024);
        if (rig is null)
        {
            return;
        }

        var (transport, peer) = (rig.Transport, rig.Peer);
        var sent = Pattern(3 * 1024 * 1024 + 17, seed: 1);
        var writer = Task.Run(async () =>
        {
            // Uneven pieces, so receive blocks and pipe segments never line up with what was sent.
            for (var offset = 0; offset < sent.Length;)
            {
                var n = Math.Min(sent.Length - offset, 1 + (offset % 70_001));
                await peer.SendAsync(sent.AsMemory(offset, n), SocketFlags.None);
                offset += n;
            }

            peer.Shutdown(SocketShutdown.Send);
        });

        var received = await ReadToEndAsync(transport.Input).WaitAsync(Timeout);
        await writer.WaitAsync(Timeout);
        Assert.Equal(sent, received);
    }

    [Fact]
    public async Task A_send_larger_than_the_socket_buffers_completes_once_the_peer_reads_it()
    {
        using var rig = await Rig.StartAsync(maxPdu: 65536);
        if (rig is null)
        {
            return;
        }

        var (transport, peer) = (rig.Transport, rig.Peer);
        var head = Pattern(48, seed: 2);
        var data = Pattern(32 * 1024 * 1024, seed: 3);

        var send = transport.SendAsync(head, data);
        Assert.False(send.IsCompleted); // nobody reads yet: the send thread has to finish it

        await Task.Delay(100);
        var received = new byte[head.Length + data.Length];
        var got = 0;
        while (got < received.Length)
        {
            var n = await peer.ReceiveAsync(received.AsMemory(got), SocketFlags.None).AsTask().WaitAsync(Timeout);
            Assert.True(n > 0, "peer saw end of stream early");
            got += n;
        }

        Assert.Equal(head.Length + data.Length, await send.AsTask().WaitAsync(Timeout));
        Assert.Equal(head, received.AsSpan(0, head.Length).ToArray());
        Assert.True(received.AsSpan(head.Length).SequenceEqual(data));

        // The next send after a handed-off one goes out on the fast path again.
        var small = Pattern(1000, seed: 4);
        Assert.Equal(small.Length, await transport.SendAsync(small, default).AsTask().WaitAsync(Timeout));
        var tail = new byte[small.Length];
        for (got = 0; got < tail.Length;)
        {
            got += await peer.ReceiveAsync(tail.AsMemory(got), SocketFlags.None).AsTask().WaitAsync(Timeout);
        }

        Assert.Equal(small, tail);
    }

    [Fact]
    public async Task Shutdown_fails_a_blocked_send_ends_the_input_and_closes_the_socket_after_the_threads()
    {
        using var rig = await Rig.StartAsync(maxPdu: 65536);
        if (rig is null)
        {
            return;
        }

        var (transport, server) = (rig.Transport, rig.Server);
        var send = transport.SendAsync(default, Pattern(32 * 1024 * 1024, seed: 5)); // the peer never reads
        Assert.False(send.IsCompleted);
        var read = transport.Input.ReadAsync().AsTask();

        transport.Shutdown();

        await Assert.ThrowsAsync<IOException>(() => send.AsTask().WaitAsync(Timeout));
        var result = await read.WaitAsync(Timeout);
        Assert.True(result.IsCompleted);
        transport.Input.AdvanceTo(result.Buffer.End);
        await transport.Input.CompleteAsync();
        await Assert.ThrowsAsync<IOException>(() => transport.SendAsync(new byte[1], default).AsTask());

        rig.Dispose();
        await WaitUntilAsync(() => server.SafeHandle.IsClosed);
    }

    [Fact]
    public async Task Idle_work_queued_by_the_read_loop_runs_on_the_receive_thread_before_it_waits_again()
    {
        using var rig = await Rig.StartAsync(maxPdu: 65536);
        if (rig is null)
        {
            return;
        }

        var (transport, peer) = (rig.Transport, rig.Peer);
        var work = new RecordingWork();
        var loop = Task.Run(async () =>
        {
            var result = await transport.Input.ReadAsync();
            var readerThread = Environment.CurrentManagedThreadId; // the inline continuation: the receive thread
            IdleWork.Queue(work);
            Assert.False(work.Ran.Task.IsCompleted); // not run inline: only once the thread is about to wait
            transport.Input.AdvanceTo(result.Buffer.End);
            return readerThread;
        });

        await Task.Delay(200); // the loop is waiting for data, so the receive thread resumes it
        await peer.SendAsync(new byte[] { 1, 2, 3 }, SocketFlags.None);
        var readerThread = await loop.WaitAsync(Timeout);
        var workThread = await work.Ran.Task.WaitAsync(Timeout);
        Assert.Equal(readerThread, workThread);

        // Off the receive thread, idle work goes to the thread pool.
        var pooled = new RecordingWork();
        IdleWork.Queue(pooled);
        Assert.NotEqual(readerThread, await pooled.Ran.Task.WaitAsync(Timeout));

    }

    [Fact]
    public void Pinned_pool_hands_each_block_out_once_and_refuses_oversized_requests()
    {
        var pool = PinnedBlockPool.Shared;
        var a = pool.Rent();
        var b = pool.Rent(PinnedBlockPool.BlockSize);
        Assert.Equal(PinnedBlockPool.BlockSize, a.Memory.Length);
        a.Dispose();
        a.Dispose(); // a second return must not put the block in the pool twice
        var c = pool.Rent();
        var d = pool.Rent();
        Assert.False(ReferenceEquals(c, d));
        Assert.False(c.Memory.Span.Overlaps(d.Memory.Span));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(PinnedBlockPool.BlockSize + 1));
        b.Dispose();
        c.Dispose();
        d.Dispose();
    }

    /// <summary>A transport started on the server side of a loopback connection, and its peer.</summary>
    private sealed class Rig : IDisposable
    {
        private bool _disposed;

        private Rig(SocketTransport transport, Socket server, Socket peer) => (Transport, Server, Peer) = (transport, server, peer);

        public SocketTransport Transport { get; }

        public Socket Server { get; }

        public Socket Peer { get; }

        /// <summary>Null where the transport does not exist (not Linux): the test has nothing to check there.</summary>
        public static async Task<Rig?> StartAsync(int maxPdu)
        {
            if (!SocketTransport.IsSupported)
            {
                return null;
            }

            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var accept = listener.AcceptAsync();
            await peer.ConnectAsync(listener.LocalEndPoint!);
            var server = await accept;
            server.NoDelay = true;
            var transport = new SocketTransport(server, maxPdu, "test");
            transport.Start();
            return new Rig(transport, server, peer);
        }

        /// <summary>What the connection does when it closes: shut down, drop its reference.</summary>
        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Transport.Shutdown();
            Transport.Release();
            Peer.Dispose();
        }
    }

    private static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        var all = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                await reader.CompleteAsync();
                return all.WrittenSpan.ToArray();
            }
        }
    }

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }

    private sealed class RecordingWork : IThreadPoolWorkItem
    {
        public TaskCompletionSource<int> Ran { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Execute() => Ran.TrySetResult(Environment.CurrentManagedThreadId);
    }
}

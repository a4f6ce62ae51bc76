using TapeGateway.Server;

// Let the socket engine run receive completions on its epoll thread instead of handing every one to a thread-pool
// worker: one thread wake-up less per PDU, measured +5–36 % tape throughput with four drives and less CPU per GB
// (docs/benchmarks.md). Safe because nothing blocks a connection's read loop: commands that may block (tape writes
// and durability points, changer commands, PERSISTENT RESERVE OUT) are CommandFlags.Blocking and run on workers, disk
// flushes run on the pool, tape reads from the page cache never wait (RWF_NOWAIT), and Kestrel hands requests to the
// pool itself. The runtime reads the variable once, when the first socket is created, so it must be set before the
// host starts; a value already in the environment (e.g. 0 to opt out) wins.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

var app = GatewayHost.Build(args);
await app.RunAsync();

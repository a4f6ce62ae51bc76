using TapeGateway.Server;

// DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS is deliberately left at the runtime's default (off). Running socket
// completions on the epoll thread was measured faster for iSCSI alone, but the AWS SDK unmarshals S3 responses with
// synchronous reads of the response stream: on the epoll thread such a read waits for data only that same thread can
// deliver, and every socket of the process stalls (seen as an archive copy and a drive hanging after a restart).
var app = GatewayHost.Build(args);
await app.RunAsync();

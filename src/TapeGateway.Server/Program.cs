using TapeGateway.Server;

var app = GatewayHost.Build(args);
await app.RunAsync();

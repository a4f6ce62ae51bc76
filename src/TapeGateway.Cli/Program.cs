using TapeGateway.Cli;

return await TapeGatewayCli.RunAsync(args, Console.Out, Console.Error);

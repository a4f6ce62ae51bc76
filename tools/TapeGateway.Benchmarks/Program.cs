using BenchmarkDotNet.Running;

// dotnet run -c Release --project tools/TapeGateway.Benchmarks -- --filter '*'
// dotnet run -c Release --project tools/TapeGateway.Benchmarks -- probe iscsi file 262144 4 20000 attribute
if (args.Length > 0 && args[0] == "probe")
{
    return await TapeGateway.Benchmarks.AllocationProbe.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(TapeGateway.Benchmarks.PduCodecBenchmarks).Assembly).Run(args);
return 0;

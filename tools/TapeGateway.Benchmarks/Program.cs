using BenchmarkDotNet.Running;

// dotnet run -c Release --project tools/TapeGateway.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(TapeGateway.Benchmarks.PduCodecBenchmarks).Assembly).Run(args);

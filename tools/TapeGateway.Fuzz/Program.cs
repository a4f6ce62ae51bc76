using System.Globalization;
using TapeGateway.Fuzz;
using TapeGateway.Fuzz.Targets;

// Usage:
//   TapeGateway.Fuzz <target|all> [iterations=100000] [seed=1] [crash-dir=fuzz-findings]   deterministic mutation loop
//   TapeGateway.Fuzz libfuzzer <target>                                                     SharpFuzz libFuzzer entry
//   TapeGateway.Fuzz afl <target>                                                           SharpFuzz AFL entry
//   TapeGateway.Fuzz replay <target> <file>...                                              run saved inputs
// Targets: pdu, login-text, login, cdb. Exit code 1 when a finding was recorded.
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: TapeGateway.Fuzz <pdu|login-text|login|cdb|all> [iterations] [seed] [crash-dir] | libfuzzer <target> | afl <target> | replay <target> <file>...");
    return 2;
}

switch (args[0])
{
    case "libfuzzer":
        {
            var target = FuzzTargetCatalog.Find(args[1]);
            SharpFuzz.Fuzzer.LibFuzzer.Run(span => target.Run(span));
            return 0;
        }

    case "afl":
        {
            var target = FuzzTargetCatalog.Find(args[1]);
            SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                target.Run(buffer.ToArray());
            });
            return 0;
        }

    case "replay":
        {
            var target = FuzzTargetCatalog.Find(args[1]);
            var failed = 0;
            foreach (var file in args.Skip(2))
            {
                var finding = FuzzRunner.RunOne(target, File.ReadAllBytes(file));
                Console.WriteLine($"{file}: {(finding is null ? "ok" : finding.Error.ToString())}");
                failed += finding is null ? 0 : 1;
            }

            return failed == 0 ? 0 : 1;
        }
}

var targets = args[0] == "all" ? FuzzTargetCatalog.All : [FuzzTargetCatalog.Find(args[0])];
var iterations = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
var seed = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
var crashDirectory = args.Length > 3 ? args[3] : "fuzz-findings";
var total = 0;
foreach (var target in targets)
{
    var started = DateTime.UtcNow;
    var findings = FuzzRunner.Run(target, iterations, seed, finding =>
    {
        Directory.CreateDirectory(crashDirectory);
        var path = Path.Combine(crashDirectory, $"{finding.Target}-{finding.Id}.bin");
        File.WriteAllBytes(path, finding.Input);
        File.WriteAllText(Path.ChangeExtension(path, ".txt"), finding.Error.ToString());
        Console.WriteLine($"FINDING {finding} -> {path}");
    });
    total += findings.Count;
    Console.WriteLine(FormattableString.Invariant(
        $"{target.Name}: {iterations} inputs, seed {seed}, {findings.Count} distinct findings, {(DateTime.UtcNow - started).TotalSeconds:F1} s"));
}

return total == 0 ? 0 : 1;

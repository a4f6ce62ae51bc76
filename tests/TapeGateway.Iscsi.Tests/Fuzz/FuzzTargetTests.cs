using TapeGateway.Fuzz;
using TapeGateway.Fuzz.Targets;

namespace TapeGateway.Iscsi.Tests.Fuzz;

/// <summary>
/// A bounded run of every fuzz target from tools/TapeGateway.Fuzz (fixed seed, so CI is deterministic), plus saved
/// regression inputs. Long runs: <c>dotnet run --project tools/TapeGateway.Fuzz -- all 1000000</c>.
/// </summary>
public class FuzzTargetTests
{
    private const int Iterations = 2_000;
    private const int Seed = 20_261_125;

    public static TheoryData<string> TargetNames()
    {
        var data = new TheoryData<string>();
        foreach (var target in FuzzTargetCatalog.All)
        {
            data.Add(target.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void Two_thousand_mutated_inputs_produce_no_findings(string name)
    {
        var findings = FuzzRunner.Run(FuzzTargetCatalog.Find(name), Iterations, Seed);

        Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings.Select(f => $"{f} input={Convert.ToHexString(f.Input)}")));
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void Every_seed_input_is_handled(string name)
    {
        var target = FuzzTargetCatalog.Find(name);

        Assert.NotEmpty(target.Seeds());
        Assert.All(target.Seeds(), seed => Assert.Null(FuzzRunner.RunOne(target, seed)));
    }

    /// <summary>
    /// Saved findings (Fuzz/Regressions/&lt;target&gt;-&lt;id&gt;.bin, as written by the fuzzer) and hand-picked edge inputs.
    /// </summary>
    public static TheoryData<string, string> RegressionInputs()
    {
        var data = new TheoryData<string, string>
        {
            { "pdu", "" },
            { "pdu", "0F00" + "3F" + new string('F', 94) },                     // digests, 256 KiB limit, all-ones BHS
            { "pdu", "0300" + "43" + "80" + "0000" + "FF" + "FFFFFF" + new string('0', 80) }, // max AHS and DSL
            { "pdu", "0800" + "05" + "80" + "0000" + "00" + "000003" + new string('0', 80) + "AABBCC" }, // 3 bytes + missing padding
            { "login-text", "00" + "3D" },                                      // "="
            { "login-text", "00" + "413D" + "C3" + "28" + "00" },              // invalid UTF-8 value
            { "login-text", "07" + "000000" },                                  // only NULs
            { "login", "87000004" + "3D3D3D00" },
            { "login", "FF00FFFF" },
            { "cdb", "43" + new string('F', 32) + "030010" },
            { "cdb", "80" + "00" + "00" },
            { "cdb", "9F" + new string('0', 64) + "FF" },
        };
        var directory = Path.Combine(AppContext.BaseDirectory, "Fuzz", "Regressions");
        if (Directory.Exists(directory))
        {
            foreach (var file in Directory.EnumerateFiles(directory, "*.bin").Order(StringComparer.Ordinal))
            {
                var target = Path.GetFileName(file).Split('-')[0];
                data.Add(target == "login" && Path.GetFileName(file).StartsWith("login-text", StringComparison.Ordinal) ? "login-text" : target,
                    Convert.ToHexString(File.ReadAllBytes(file)));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RegressionInputs))]
    public void Regression_input_is_handled_without_a_finding(string name, string hex)
    {
        var finding = FuzzRunner.RunOne(FuzzTargetCatalog.Find(name), Convert.FromHexString(hex));

        Assert.True(finding is null, finding?.ToString());
    }
}

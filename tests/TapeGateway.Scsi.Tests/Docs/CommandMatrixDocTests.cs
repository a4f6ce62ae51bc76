using System.Globalization;
using System.Text;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Block;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sbc;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Ssc;

namespace TapeGateway.Scsi.Tests.Docs;

/// <summary>
/// docs/scsi-commands.md carries one generated table per device type, rendered from the command tables themselves,
/// so the documentation cannot drift from the code. Run with UPDATE_DOCS=1 to rewrite the generated blocks.
/// </summary>
public sealed class CommandMatrixDocTests
{
    public static TheoryData<string> DeviceTypes => ["sbc", "ssc", "smc"];

    [Theory]
    [MemberData(nameof(DeviceTypes))]
    public void Generated_command_table_in_docs_matches_the_code(string deviceType)
    {
        var rendered = Render(Commands(deviceType));
        var path = Path.Combine(RepositoryRoot(), "docs", "scsi-commands.md");
        var doc = File.ReadAllText(path);
        var begin = $"<!-- BEGIN GENERATED: {deviceType} -->\n";
        var end = $"<!-- END GENERATED: {deviceType} -->";
        var start = doc.IndexOf(begin, StringComparison.Ordinal);
        var stop = doc.IndexOf(end, StringComparison.Ordinal);
        Assert.True(start >= 0 && stop > start, $"docs/scsi-commands.md lacks the generated block for {deviceType}");
        var current = doc[(start + begin.Length)..stop];
        if (Environment.GetEnvironmentVariable("UPDATE_DOCS") == "1" && current != rendered)
        {
            File.WriteAllText(path, doc[..(start + begin.Length)] + rendered + doc[stop..]);
            return;
        }

        Assert.Equal(rendered, current);
    }

    private static IReadOnlyList<SupportedCommand> Commands(string deviceType) => deviceType switch
    {
        "sbc" => new DiskLogicalUnit(new Lun(0), new InMemoryBlockVolume(1024, 512), "doc").SupportedCommands,
        "ssc" => new TapeDriveLogicalUnit(new Lun(0), TapeDrivePersonality.IbmUlt3580Td5, "DOC").SupportedCommands,
        "smc" => new MediumChangerLogicalUnit(new Lun(0), ChangerPersonality.AwsGatewayVtl, "DOC", Smc.ChangerHarness.Small()).SupportedCommands,
        _ => throw new ArgumentOutOfRangeException(nameof(deviceType)),
    };

    private static string Render(IReadOnlyList<SupportedCommand> commands)
    {
        var sb = new StringBuilder();
        sb.Append("| opcode | service action | command | CDB bytes | spec |\n|---|---|---|---|---|\n");
        foreach (var c in commands)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {c.OperationCode:X2}h | {(c.ServiceAction is { } sa ? sa.ToString("X2", CultureInfo.InvariantCulture) + "h" : "")} | {c.Name} | {c.CdbUsage.Length} | {c.SpecReference} |\n");
        }

        return sb.ToString();
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        // The source path, not the output folder: builds with --artifacts-path put the binaries outside the repo.
        var dir = new DirectoryInfo(Path.GetDirectoryName(sourceFile) ?? AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TapeGateway.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}

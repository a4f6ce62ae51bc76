using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace TapeGateway.Cli;

public static partial class TapeGatewayCli
{
    /// <summary><c>tapegw cache</c> (upload buffer and read cache) and <c>tapegw recover</c> (rebuild the catalog from the bucket).</summary>
    private static void AddTierCommands(RootCommand root, Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var cache = new Command("cache", "Show the tape cache: upload buffer (not yet in the object store) and read cache use.");
        cache.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var c = await GetJsonAsync(http, "/api/cache", ct);
            Table.Write(output, ["", "USED", "LIMIT"],
            [
                ["upload buffer", Bytes(c["uploadBufferUsedBytes"]), Bytes(c["uploadBufferBytes"])],
                ["read cache", Bytes(c["cacheUsedBytes"]), Bytes(c["cacheBytes"])],
            ]);
            output.WriteLine($"gateway id {Str(c["gatewayId"])}, segment size {Bytes(c["segmentSize"])}, upload failures {Str(c["uploadFailures"])}");
        }));
        root.Subcommands.Add(cache);

        var from = new Option<string?>("--from-gateway") { Description = "Gateway id whose tapes to recover (default: this gateway's)" };
        var recover = new Command(
            "recover",
            "Disaster recovery: rebuild the catalog from the manifests in the bucket. Complete tapes come back AVAILABLE, tapes that were in use RECOVERED (read-only), archived tapes ARCHIVED; tapes the catalog knows are left alone.")
        { from };
        recover.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            using var response = await http.PostAsJsonAsync("/api/recovery", new { sourceGatewayId = parse.GetValue(from) }, ct);
            var report = await ReadAsync(response, ct);
            var rows = (report["tapes"]?.AsArray() ?? []).Select(t => new[]
            {
                Str(t?["barcode"]), Str(t?["state"]) is { Length: > 0 } s ? s : "(skipped)", Bytes(t?["usedBytes"]), Str(t?["detail"]),
            });
            Table.Write(output, ["BARCODE", "STATE", "USED", "DETAIL"], rows);
            output.WriteLine(
                $"{Str(report["available"])} available, {Str(report["recovered"])} recovered (read-only), {Str(report["archived"])} archived, {Str(report["skipped"])} skipped");
        }));
        root.Subcommands.Add(recover);
    }
}

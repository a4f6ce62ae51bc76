using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TapeGateway.Cli;

/// <summary>
/// <c>tapegw</c>: the operator's command line over the gateway's management HTTP API (docs/real-clients.md).
/// Exit codes: 0 success; 1 bad command line (System.CommandLine's own parse errors are 1 too); 2 the gateway refused
/// the request (HTTP 4xx, its problem message is printed); 3 the gateway could not be reached or failed (HTTP 5xx).
/// </summary>
public static partial class TapeGatewayCli
{
    public const string DefaultUrl = "http://127.0.0.1:8260";

    public const int ExitOk = 0;
    public const int ExitUsage = 1;
    public const int ExitRefused = 2;
    public const int ExitUnavailable = 3;

    /// <summary>Runs one command line. <paramref name="httpFactory"/> lets tests hand in a client for an in-process host.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Func<Uri, HttpClient>? httpFactory = null, CancellationToken ct = default)
    {
        var root = Build(output, error, httpFactory ?? (uri => new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(60) }));
        return root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, ct);
    }

    internal static RootCommand Build(TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var url = new Option<string>("--url")
        {
            Description = "Management API of the gateway",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TAPEGW_URL") ?? DefaultUrl,
            Recursive = true,
        };
        var root = new RootCommand("TapeGateway operator CLI: virtual tapes, archive pools and retrieval, auto-create policies, library inventory and drives.");
        root.Options.Add(url);

        var tapes = new Command("tapes", "Create, list and delete virtual tapes.");
        tapes.Subcommands.Add(CreateCommand(url, output, error, httpFactory));
        tapes.Subcommands.Add(ListCommand(url, output, error, httpFactory));
        tapes.Subcommands.Add(DeleteCommand(url, output, error, httpFactory));
        AddArchiveCommands(root, tapes, url, output, error, httpFactory);
        AddTierCommands(root, url, output, error, httpFactory);
        root.Subcommands.Add(tapes);

        var library = new Command("library", "The tape library.");
        var all = new Option<bool>("--all") { Description = "List every element, empty ones too" };
        var show = new Command("show", "Show the inventory: every slot, mailslot and drive with its tape.") { all };
        show.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var inventory = await GetJsonAsync(http, "/api/library", ct);
            PrintInventory(output, inventory, parse.GetValue(all));
        }));
        library.Subcommands.Add(show);
        root.Subcommands.Add(library);

        // "variable, compression, LBP reed-solomon-crc WR, encrypting, decrypt mixed": what the application set with MODE
        // SELECT and SECURITY PROTOCOL OUT.
        static string Mode(JsonObject m)
        {
            var blocks = Str(m["blockLength"]) is "0" or "" ? "variable" : "fixed " + Str(m["blockLength"]);
            var compression = m["compression"]?.GetValue<bool>() == true ? ", compression" : "";
            var lbp = m["logicalBlockProtection"] is JsonObject l && Str(l["method"]) is { Length: > 0 } method && method != "none"
                ? $", LBP {method} {(l["write"]?.GetValue<bool>() == true ? "W" : "")}{(l["read"]?.GetValue<bool>() == true ? "R" : "")}"
                : "";
            var encryption = m["encryption"] is JsonObject e
                ? $", {(e["encrypt"]?.GetValue<bool>() == true ? "encrypting" : "not encrypting")}, decrypt {Str(e["decrypt"])}"
                : "";
            return blocks + compression + lbp + encryption;
        }

        // "wrote 120.5 MiB at 2.31:1, read 3.0 MiB": the loaded tape's traffic since the load and how it compressed.
        static string Load(JsonObject l)
        {
            static string MiB(JsonNode? bytes) => $"{(bytes?.GetValue<long>() ?? 0) / 1048576.0:0.0} MiB";
            var parts = new List<string>();
            if (l["bytesFromHost"]?.GetValue<long>() > 0)
            {
                parts.Add($"wrote {MiB(l["bytesFromHost"])}" + (l["writeCompressionRatio"] is JsonValue w ? $" at {w.GetValue<double>():0.00}:1" : ""));
            }

            if (l["bytesToHost"]?.GetValue<long>() > 0)
            {
                parts.Add($"read {MiB(l["bytesToHost"])}");
            }

            return parts.Count == 0 ? "-" : string.Join(", ", parts);
        }

        var drives = new Command("drives", "Show the drives: target, LUN, serial, loaded tape, position, mode (block length, compression, logical block protection, encryption) and the traffic since the load.");
        drives.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var list = (await GetJsonAsync(http, "/api/drives", ct)).AsArray();
            var rows = list.Select(d => new[]
            {
                Str(d?["index"]), Str(d?["elementAddress"]), Str(d?["target"]), Str(d?["lun"]), Str(d?["serial"]),
                Str(d?["barcode"]) is { Length: > 0 } b ? b : "-",
                d?["position"] is JsonObject p ? $"file {Str(p["fileNumber"])} block {Str(p["blockInFile"])}" : "-",
                d?["mode"] is JsonObject m ? Mode(m) : "-",
                d?["thisLoad"] is JsonObject l ? Load(l) : "-",
            });
            Table.Write(output, ["DRIVE", "ELEMENT", "TARGET", "LUN", "SERIAL", "TAPE", "POSITION", "MODE", "THIS LOAD"], rows);
        }));
        root.Subcommands.Add(drives);

        var policies = new Command("policies", "Automatic tape creation policies: keep N new tapes per barcode prefix in the I/E slots (AWS).");
        policies.Subcommands.Add(PolicyListCommand(url, output, error, httpFactory));
        policies.Subcommands.Add(PolicySetCommand(url, output, error, httpFactory));
        policies.Subcommands.Add(PolicyDeleteCommand(url, output, error, httpFactory));
        root.Subcommands.Add(policies);
        return root;
    }

    private static Command PolicyListCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var command = new Command("list", "List the policies with how many of their tapes wait in the I/E slots.");
        command.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var list = (await GetJsonAsync(http, "/api/auto-create-policies", ct)).AsArray();
            Table.Write(
                output,
                ["PREFIX", "MINIMUM", "AVAILABLE", "CAPACITY", "POOL", "WORM", "SUFFIX"],
                list.Select(p => new[]
                {
                    Str(p?["prefix"]), Str(p?["minimumAvailable"]), Str(p?["available"]), Bytes(p?["capacityBytes"]), Str(p?["pool"]),
                    p?["worm"]?.GetValue<bool>() == true ? "yes" : "no", Str(p?["mediaSuffix"]) is { Length: > 0 } m ? m : "-",
                }));
            output.WriteLine($"{list.Count} polic{(list.Count == 1 ? "y" : "ies")}");
        }));
        return command;
    }

    private static Command PolicySetCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var prefix = new Argument<string>("prefix") { Description = "Barcode prefix, 1–4 letters A–Z (barcodes are allocated sequentially)" };
        var minimum = new Option<int?>("--minimum", "-n") { Description = "AVAILABLE tapes to keep in the I/E slots (1–10)" };
        var capacityGiB = new Option<long?>("--capacity-gib") { Description = "Capacity of the created tapes in GiB (100–5120)" };
        var capacityBytes = new Option<long?>("--capacity-bytes") { Description = "Capacity in bytes instead (small tapes need AllowSmallTapes on the gateway)" };
        var pool = new Option<string?>("--pool") { Description = "Pool id or name: GLACIER (default), DEEP_ARCHIVE or a custom pool" };
        var worm = new Option<bool>("--worm") { Description = "Create write-once tapes" };
        var suffix = new Option<string?>("--media-suffix") { Description = "LTO media ID appended to generated barcodes, e.g. L5 (LV.. for WORM)" };
        var command = new Command("set", "Create or replace the policy for a prefix; it is applied at once.") { prefix, minimum, capacityGiB, capacityBytes, pool, worm, suffix };
        command.SetAction((parse, ct) =>
        {
            var p = parse.GetValue(prefix)!.ToUpperInvariant();
            var n = parse.GetValue(minimum);
            var gib = parse.GetValue(capacityGiB);
            var bytes = parse.GetValue(capacityBytes);
            if (n is null)
            {
                return Task.FromResult(Usage(error, "--minimum is required (1–10 tapes to keep in the I/E slots)."));
            }

            if (n is < 1 or > 10)
            {
                return Task.FromResult(Usage(error, $"--minimum must be 1–10 (got {n})."));
            }

            if (gib is not null && bytes is not null)
            {
                return Task.FromResult(Usage(error, "give --capacity-gib or --capacity-bytes, not both."));
            }

            if (gib is null && bytes is null)
            {
                return Task.FromResult(Usage(error, "--capacity-gib is required (the size of the tapes the policy creates)."));
            }

            return Call(parse, url, error, httpFactory, async http =>
            {
                var body = new JsonObject
                {
                    ["minimumAvailable"] = n,
                    ["capacityGiB"] = gib,
                    ["capacityBytes"] = bytes,
                    ["pool"] = parse.GetValue(pool),
                    ["worm"] = parse.GetValue(worm),
                    ["mediaSuffix"] = parse.GetValue(suffix)?.ToUpperInvariant(),
                };
                using var response = await http.PutAsJsonAsync("/api/auto-create-policies/" + Uri.EscapeDataString(p), body, ct);
                var json = await ReadAsync(response, ct);
                var created = json["created"]?.AsArray().Select(Str).ToList() ?? [];
                output.WriteLine($"Policy {p}: keep {n} tape(s) in the I/E slots; created {(created.Count == 0 ? "none" : string.Join(" ", created))}");
                if (json["applied"]?.GetValue<bool>() == false)
                {
                    output.WriteLine("warning: the policy is stored but applying it failed (see the gateway log); the next import retries.");
                }
                else if (json["shortfall"] is JsonValue v && v.TryGetValue<int>(out var shortfall) && shortfall > 0)
                {
                    output.WriteLine($"warning: {shortfall} tape(s) short of the minimum: no free I/E slot; the next import retries.");
                }
            });
        });
        return command;
    }

    private static Command PolicyDeleteCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var prefix = new Argument<string>("prefix") { Description = "The policy's barcode prefix" };
        var command = new Command("delete", "Delete a policy; the tapes it created stay.") { prefix };
        command.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var p = parse.GetValue(prefix)!.ToUpperInvariant();
            using var response = await http.DeleteAsync("/api/auto-create-policies/" + Uri.EscapeDataString(p), ct);
            await ReadAsync(response, ct);
            output.WriteLine($"Deleted policy {p}");
        }));
        return command;
    }

    private static Command CreateCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var count = new Option<int?>("--count", "-n") { Description = "How many tapes to create with --prefix (1–4096)" };
        var prefix = new Option<string?>("--prefix") { Description = "Barcode prefix, 1–4 letters A–Z (barcodes are allocated sequentially)" };
        var barcodes = new Option<string[]>("--barcode")
        {
            Description = "Explicit barcode (repeatable); 5–16 characters A–Z 0–9",
            AllowMultipleArgumentsPerToken = true,
        };
        var capacityGiB = new Option<long?>("--capacity-gib") { Description = "Capacity in GiB (100–5120; default 100)" };
        var capacityBytes = new Option<long?>("--capacity-bytes") { Description = "Capacity in bytes (small tapes need AllowSmallTapes on the gateway)" };
        var suffix = new Option<string?>("--media-suffix") { Description = "LTO media ID appended to generated barcodes, e.g. L5 (LV.. for WORM)" };
        var pool = new Option<string?>("--pool") { Description = "Pool id or name: GLACIER (default), DEEP_ARCHIVE or a custom pool" };
        var worm = new Option<bool>("--worm") { Description = "Write-once tapes" };
        var into = new Option<string>("--into")
        {
            Description = "Where new tapes appear: import-export (default, as AWS) or storage",
            DefaultValueFactory = _ => "import-export",
        };
        into.AcceptOnlyFromAmong("import-export", "storage");
        var command = new Command("create", "Create tapes (all or nothing).") { count, prefix, barcodes, capacityGiB, capacityBytes, suffix, pool, worm, into };
        command.SetAction((parse, ct) =>
        {
            var explicitBarcodes = parse.GetValue(barcodes) ?? [];
            var p = parse.GetValue(prefix);
            var n = parse.GetValue(count);
            if (explicitBarcodes.Length > 0 == (p is not null))
            {
                return Task.FromResult(Usage(error, "give either --prefix with --count, or one or more --barcode, not both."));
            }

            if (p is not null && n is null)
            {
                return Task.FromResult(Usage(error, "--count is required with --prefix."));
            }

            if (n is < 1 or > 4096)
            {
                return Task.FromResult(Usage(error, $"--count must be 1–4096 (got {n})."));
            }

            if (explicitBarcodes.Length > 0 && n is not null && n != explicitBarcodes.Length)
            {
                return Task.FromResult(Usage(error, $"--count {n} does not match the {explicitBarcodes.Length} --barcode values; leave --count out."));
            }

            if (parse.GetValue(capacityGiB) is not null && parse.GetValue(capacityBytes) is not null)
            {
                return Task.FromResult(Usage(error, "give --capacity-gib or --capacity-bytes, not both."));
            }

            return Call(parse, url, error, httpFactory, async http =>
            {
                var body = new JsonObject
                {
                    ["count"] = explicitBarcodes.Length > 0 ? null : n,
                    ["barcodePrefix"] = p,
                    ["barcodes"] = explicitBarcodes.Length > 0 ? new JsonArray([.. explicitBarcodes.Select(b => (JsonNode)b.ToUpperInvariant())]) : null,
                    ["capacityGiB"] = parse.GetValue(capacityGiB),
                    ["capacityBytes"] = parse.GetValue(capacityBytes),
                    ["mediaSuffix"] = parse.GetValue(suffix),
                    ["pool"] = parse.GetValue(pool),
                    ["worm"] = parse.GetValue(worm),
                    ["into"] = parse.GetValue(into),
                };
                using var response = await http.PostAsJsonAsync("/api/tapes", body, ct);
                var json = await ReadAsync(response, ct);
                var created = json["barcodes"]?.AsArray().Select(Str).ToList() ?? [];
                output.WriteLine($"Created {created.Count} tape(s): {string.Join(" ", created)}");
            });
        });
        return command;
    }

    private static Command ListCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var state = new Option<string?>("--state") { Description = "Only tapes in this state (AVAILABLE, ARCHIVED, …; comma-separated)" };
        var prefix = new Option<string?>("--prefix") { Description = "Only barcodes starting with this" };
        var command = new Command("list", "List the tapes of the library.") { state, prefix };
        command.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var query = new StringBuilder("/api/tapes");
            var sep = '?';
            foreach (var (key, value) in new[] { ("state", parse.GetValue(state)), ("prefix", parse.GetValue(prefix)) })
            {
                if (!string.IsNullOrEmpty(value))
                {
                    query.Append(sep).Append(key).Append('=').Append(Uri.EscapeDataString(value));
                    sep = '&';
                }
            }

            var list = (await GetJsonAsync(http, query.ToString(), ct)).AsArray();
            Table.Write(
                output,
                ["BARCODE", "STATE", "LOCATION", "CAPACITY", "USED", "POOL", "WORM"],
                list.Select(t => new[]
                {
                    Str(t?["barcode"]), Str(t?["state"]),
                    t?["element"] is null ? Str(t?["location"]) : $"{Str(t?["elementType"])} {Str(t?["element"])}",
                    Bytes(t?["capacityBytes"]), Bytes(t?["usedBytes"]), Str(t?["pool"]), t?["worm"]?.GetValue<bool>() == true ? "yes" : "no",
                }));
            output.WriteLine($"{list.Count} tape(s)");
        }));
        return command;
    }

    private static Command DeleteCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var barcode = new Argument<string>("barcode") { Description = "The tape to delete" };
        var bypass = new Option<bool>("--bypass-governance-retention") { Description = "Delete an archived tape still under governance retention" };
        var command = new Command("delete", "Delete a tape (AWS rules: not while in a drive, not a RETRIEVED tape, not under retention).") { barcode, bypass };
        command.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var b = parse.GetValue(barcode)!.ToUpperInvariant();
            var path = "/api/tapes/" + Uri.EscapeDataString(b) + (parse.GetValue(bypass) ? "?bypassGovernanceRetention=true" : "");
            using var response = await http.DeleteAsync(path, ct);
            await ReadAsync(response, ct);
            output.WriteLine($"Deleted {b}");
        }));
        return command;
    }

    private static void PrintInventory(TextWriter output, JsonNode inventory, bool all)
    {
        var changer = inventory["changer"];
        output.WriteLine($"Library {Str(inventory["name"])}: changer {Str(changer?["personality"])} at {Str(changer?["target"])} LUN {Str(changer?["lun"])}, serial {Str(changer?["serial"])}");
        var elements = inventory["elements"]!.AsArray().Where(e => Str(e?["type"]) != "transport").ToList();
        foreach (var type in new[] { "drive", "storage", "import-export" })
        {
            var ofType = elements.Where(e => Str(e?["type"]) == type).ToList();
            output.WriteLine($"{type}: {ofType.Count} element(s), {ofType.Count(e => e?["barcode"] is not null)} full");
        }

        Table.Write(
            output,
            ["ELEMENT", "TYPE", "TAPE", "STATE", "FROM"],
            elements.Where(e => all || e?["barcode"] is not null || Str(e?["type"]) == "drive").Select(e => new[]
            {
                Str(e?["address"]), Str(e?["type"]), Str(e?["barcode"]) is { Length: > 0 } b ? b : "-",
                Str(e?["state"]) is { Length: > 0 } s ? s : "-", Str(e?["source"]) is { Length: > 0 } f ? f : "-",
            }));
    }

    /// <summary>Runs one API call with the error policy: API refusal → its message and exit 2; unreachable → exit 3.</summary>
    private static async Task<int> Call(ParseResult parse, Option<string> urlOption, TextWriter error, Func<Uri, HttpClient> httpFactory, Func<HttpClient, Task> action)
    {
        var raw = parse.GetValue(urlOption) ?? DefaultUrl;
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
        {
            return Usage(error, $"--url '{raw}' is not an http(s) URL.");
        }

        using var http = httpFactory(baseUri);
        try
        {
            await action(http);
            return ExitOk;
        }
        catch (ApiException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message} (HTTP {(int)ex.Status})");
            return (int)ex.Status >= 500 ? ExitUnavailable : ExitRefused;
        }
        catch (HttpRequestException ex)
        {
            await error.WriteLineAsync($"error: cannot reach the gateway at {baseUri}: {ex.Message}");
            return ExitUnavailable;
        }
        catch (TaskCanceledException)
        {
            await error.WriteLineAsync($"error: the gateway at {baseUri} did not answer in time");
            return ExitUnavailable;
        }
    }

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine("error: " + message);
        return ExitUsage;
    }

    private static async Task<JsonNode> GetJsonAsync(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        return await ReadAsync(response, ct);
    }

    /// <summary>The body as JSON, or an <see cref="ApiException"/> carrying the problem+json detail.</summary>
    private static async Task<JsonNode> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonNode? json = null;
        try
        {
            json = text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's error page?): report the status with the raw text below.
        }

        if (!response.IsSuccessStatusCode)
        {
            var detail = json is JsonObject o ? Str(o["detail"]) ?? Str(o["title"]) : null;
            throw new ApiException(response.StatusCode, detail is { Length: > 0 } ? detail : text.Length > 0 ? text : response.ReasonPhrase ?? "request failed");
        }

        return json ?? new JsonObject();
    }

    private static string Str(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => node.ToJsonString(),
    };

    private static string Bytes(JsonNode? node)
    {
        if (node is not JsonValue v || !v.TryGetValue<long>(out var b))
        {
            return "-";
        }

        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = b;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return value.ToString(unit == 0 || value >= 100 ? "0" : "0.#", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private sealed class ApiException(System.Net.HttpStatusCode status, string message) : Exception(message)
    {
        public System.Net.HttpStatusCode Status { get; } = status;
    }
}

/// <summary>Plain aligned columns: readable in a terminal, stable for scripts and tests.</summary>
internal static class Table
{
    public static void Write(TextWriter output, string[] headers, IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        output.WriteLine(Line(headers, widths));
        foreach (var row in all)
        {
            output.WriteLine(Line(row, widths));
        }
    }

    private static string Line(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
}

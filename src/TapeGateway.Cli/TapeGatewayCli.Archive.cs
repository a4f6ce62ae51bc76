using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace TapeGateway.Cli;

/// <summary>Archive commands: pools, export status, cancel archival, retrieve (with a progress display), assign to pool.</summary>
public static partial class TapeGatewayCli
{
    private static void AddArchiveCommands(RootCommand root, Command tapes, Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        tapes.Subcommands.Add(ExportStatusCommand(url, output, error, httpFactory));
        tapes.Subcommands.Add(TapeActionCommand("cancel-archive", "Cancel archiving of an ejected tape (only while IN TRANSIT TO VTS); it is AVAILABLE again in its I/E slot.", "cancel-archive", url, output, error, httpFactory));
        tapes.Subcommands.Add(RetrieveCommand(url, output, error, httpFactory));
        tapes.Subcommands.Add(TapeActionCommand("cancel-retrieval", "Cancel a retrieval (RETRIEVING → ARCHIVED); what was copied back is deleted.", "cancel-retrieval", url, output, error, httpFactory));
        tapes.Subcommands.Add(AssignPoolCommand(url, output, error, httpFactory));

        var pools = new Command("pools", "Archive pools: where ejected tapes go (GLACIER or DEEP_ARCHIVE) and their retention lock.");
        pools.Subcommands.Add(PoolListCommand(url, output, error, httpFactory));
        pools.Subcommands.Add(PoolCreateCommand(url, output, error, httpFactory));
        pools.Subcommands.Add(PoolDeleteCommand(url, output, error, httpFactory));
        root.Subcommands.Add(pools);
    }

    private static Command ExportStatusCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var barcode = new Argument<string?>("barcode") { Description = "Only this tape", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "Also list ARCHIVED and RETRIEVED tapes, not only those in flight" };
        var command = new Command("export-status", "Tapes being archived or retrieved, with their progress.") { barcode, all };
        command.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var b = parse.GetValue(barcode);
            var path = "/api/archive/status?all=" + (parse.GetValue(all) || b is not null ? "true" : "false") +
                (b is null ? "" : "&barcode=" + Uri.EscapeDataString(b.ToUpperInvariant()));
            var status = await GetJsonAsync(http, path, ct);
            var list = status["tapes"]!.AsArray();
            Table.Write(
                output,
                ["BARCODE", "STATE", "PROGRESS", "POOL", "CLASS", "NOTE"],
                list.Select(t => new[]
                {
                    Str(t?["barcode"]), Str(t?["state"]), Percent(t?["progress"]), Str(t?["poolName"]),
                    Str(t?["archiveClass"]) is { Length: > 0 } c ? c : Str(t?["storageClass"]),
                    Note(t),
                }));
            output.WriteLine($"{list.Count} tape(s)");
            if (status["active"]?.GetValue<bool>() == false)
            {
                output.WriteLine("note: archiving is not active on this gateway (no S3 tape tier); ejected tapes stay in the I/E slots.");
            }
        }));
        return command;
    }

    private static string Note(JsonNode? t)
    {
        var notes = new List<string>();
        if (t?["poolMovePending"]?.GetValue<bool>() == true)
        {
            notes.Add("moving to " + Str(t["storageClass"]));
        }

        if (t?["libraryCopyPendingDeletion"]?.GetValue<bool>() == true)
        {
            notes.Add("library copy being deleted");
        }

        if (t?["retainUntil"] is JsonValue until && until.TryGetValue<DateTimeOffset>(out var u))
        {
            notes.Add($"{Str(t["retentionLock"]).ToLowerInvariant()} retention until {u.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}");
        }

        if (t?["element"] is JsonValue e)
        {
            notes.Add("in element " + Str(e));
        }

        return notes.Count == 0 ? "-" : string.Join("; ", notes);
    }

    private static string Percent(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<double>(out var p) ? p.ToString("0.#", CultureInfo.InvariantCulture) + "%" : "-";

    /// <summary>A POST /api/tapes/{barcode}/{action} with no body, printing the tape's new state.</summary>
    private static Command TapeActionCommand(string name, string description, string action, Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var barcode = new Argument<string>("barcode") { Description = "The tape" };
        var command = new Command(name, description) { barcode };
        command.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var b = parse.GetValue(barcode)!.ToUpperInvariant();
            using var response = await http.PostAsync($"/api/tapes/{Uri.EscapeDataString(b)}/{action}", null, ct);
            var json = await ReadAsync(response, ct);
            output.WriteLine($"{b}: {Str(json["state"])}");
        }));
        return command;
    }

    private static Command RetrieveCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var barcode = new Argument<string>("barcode") { Description = "The ARCHIVED tape to bring back (read-only, into an I/E slot)" };
        var wait = new Option<bool>("--wait") { Description = "Wait until the tape is RETRIEVED, showing the progress" };
        var interval = new Option<double>("--poll-seconds")
        {
            Description = "With --wait: seconds between status checks",
            DefaultValueFactory = _ => 5,
        };
        var command = new Command("retrieve", "Retrieve an archived tape (AWS RetrieveTapeArchive). Restores take hours on S3 Glacier.") { barcode, wait, interval };
        command.SetAction((parse, ct) =>
        {
            var seconds = parse.GetValue(interval);
            if (seconds is <= 0 or > 3600 || double.IsNaN(seconds))
            {
                return Task.FromResult(Usage(error, $"--poll-seconds must be above 0 and at most 3600 (got {seconds.ToString(CultureInfo.InvariantCulture)})."));
            }

            return Call(parse, url, error, httpFactory, async http =>
            {
                var b = parse.GetValue(barcode)!.ToUpperInvariant();
                using (var response = await http.PostAsync($"/api/tapes/{Uri.EscapeDataString(b)}/retrieve", null, ct))
                {
                    var json = await ReadAsync(response, ct);
                    output.WriteLine($"{b}: {Str(json["state"])}");
                }

                if (parse.GetValue(wait))
                {
                    await WaitForRetrievalAsync(http, b, TimeSpan.FromSeconds(seconds), output, ct);
                }
            });
        });
        return command;
    }

    /// <summary>Polls the export status until the tape is RETRIEVED, with a Spectre.Console progress bar.</summary>
    private static async Task WaitForRetrievalAsync(HttpClient http, string barcode, TimeSpan interval, TextWriter output, CancellationToken ct)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.Detect,
            Interactive = InteractionSupport.Detect,
        });
        string? final = null;
        JsonNode? last = null;
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask($"{barcode} RETRIEVING", autoStart: true, maxValue: 100);
                while (true)
                {
                    var status = await GetJsonAsync(http, $"/api/archive/status?all=true&barcode={Uri.EscapeDataString(barcode)}", ct);
                    last = status["tapes"]?.AsArray().FirstOrDefault();
                    var state = Str(last?["state"]);
                    if (last?["progress"] is JsonValue p && p.TryGetValue<double>(out var percent))
                    {
                        task.Value = percent;
                    }

                    task.Description = $"{barcode} {(state.Length == 0 ? "?" : state)}";
                    if (state != "RETRIEVING")
                    {
                        if (state == "RETRIEVED")
                        {
                            task.Value = 100;
                        }

                        task.StopTask();
                        final = state;
                        return;
                    }

                    await Task.Delay(interval, ct);
                }
            });

        if (final != "RETRIEVED")
        {
            throw new ApiException(
                System.Net.HttpStatusCode.Conflict,
                final is { Length: > 0 } ? $"{barcode} is {final}: the retrieval was cancelled or failed" : $"{barcode} is no longer on the archive side");
        }

        output.WriteLine($"{barcode} RETRIEVED: read-only in I/E element {Str(last?["element"])}");
    }

    private static Command AssignPoolCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var barcode = new Argument<string>("barcode") { Description = "An AVAILABLE or ARCHIVED tape" };
        var pool = new Option<string?>("--pool") { Description = "Target pool id or name (GLACIER → DEEP_ARCHIVE only, never back, for archived tapes)" };
        var bypass = new Option<bool>("--bypass-governance-retention") { Description = "Move an archived tape still under its pool's governance retention" };
        var command = new Command("assign-pool", "Move a tape to another pool (AWS AssignTapePool); an archived tape's objects are re-classed in the background.") { barcode, pool, bypass };
        command.SetAction((parse, ct) =>
        {
            var p = parse.GetValue(pool);
            if (string.IsNullOrWhiteSpace(p))
            {
                return Task.FromResult(Usage(error, "--pool is required (GLACIER, DEEP_ARCHIVE or a custom pool's id or name)."));
            }

            return Call(parse, url, error, httpFactory, async http =>
            {
                var b = parse.GetValue(barcode)!.ToUpperInvariant();
                using var response = await http.PostAsJsonAsync(
                    $"/api/tapes/{Uri.EscapeDataString(b)}/assign-pool",
                    new JsonObject { ["pool"] = p, ["bypassGovernanceRetention"] = parse.GetValue(bypass) },
                    ct);
                var json = await ReadAsync(response, ct);
                output.WriteLine($"{b}: pool {Str(json["pool"]?["name"])} ({Str(json["pool"]?["storageClass"])}), {Str(json["state"])}");
            });
        });
        return command;
    }

    private static Command PoolListCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var command = new Command("list", "List the pools.");
        command.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            var list = (await GetJsonAsync(http, "/api/pools", ct)).AsArray();
            Table.Write(
                output,
                ["ID", "NAME", "CLASS", "LOCK", "DAYS", "TYPE"],
                list.Select(p => new[]
                {
                    Str(p?["id"]), Str(p?["name"]), Str(p?["storageClass"]), Str(p?["retentionLock"]), Str(p?["retentionDays"]),
                    p?["standard"]?.GetValue<bool>() == true ? "standard" : "custom",
                }));
            output.WriteLine($"{list.Count} pool(s)");
        }));
        return command;
    }

    private static Command PoolCreateCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var name = new Option<string?>("--name") { Description = "Pool name, 2–100 characters" };
        var storageClass = new Option<string?>("--storage-class") { Description = "GLACIER or DEEP_ARCHIVE" };
        var retentionLock = new Option<string>("--retention-lock")
        {
            Description = "none (default), governance (bypass needs a flag) or compliance (nobody can delete before it ends)",
            DefaultValueFactory = _ => "none",
        };
        retentionLock.AcceptOnlyFromAmong("none", "governance", "compliance", "NONE", "GOVERNANCE", "COMPLIANCE");
        var days = new Option<int?>("--retention-days") { Description = "Retention period in days, 1–36500, with a lock" };
        var command = new Command("create", "Create a custom pool (immutable once created).") { name, storageClass, retentionLock, days };
        command.SetAction((parse, ct) =>
        {
            var n = parse.GetValue(name);
            var c = parse.GetValue(storageClass)?.ToUpperInvariant();
            var l = parse.GetValue(retentionLock)!.ToUpperInvariant();
            var d = parse.GetValue(days);
            if (string.IsNullOrWhiteSpace(n))
            {
                return Task.FromResult(Usage(error, "--name is required."));
            }

            if (c is not ("GLACIER" or "DEEP_ARCHIVE"))
            {
                return Task.FromResult(Usage(error, "--storage-class must be GLACIER or DEEP_ARCHIVE."));
            }

            if (l == "NONE" ? d is not (null or 0) : d is null or < 1 or > 36500)
            {
                return Task.FromResult(Usage(error, l == "NONE"
                    ? "--retention-days needs --retention-lock governance or compliance."
                    : $"--retention-days (1–36500) is required with a {l.ToLowerInvariant()} lock."));
            }

            return Call(parse, url, error, httpFactory, async http =>
            {
                using var response = await http.PostAsJsonAsync(
                    "/api/pools",
                    new JsonObject { ["name"] = n, ["storageClass"] = c, ["retentionLock"] = l, ["retentionDays"] = d },
                    ct);
                var json = await ReadAsync(response, ct);
                output.WriteLine($"Created pool {Str(json["name"])}: id {Str(json["id"])}, {Str(json["storageClass"])}, lock {Str(json["retentionLock"])} {Str(json["retentionDays"])} day(s)");
            });
        });
        return command;
    }

    private static Command PoolDeleteCommand(Option<string> url, TextWriter output, TextWriter error, Func<Uri, HttpClient> httpFactory)
    {
        var pool = new Argument<string>("pool") { Description = "Pool id or name (custom pools no tape uses)" };
        var command = new Command("delete", "Delete a custom pool that no tape or policy uses.") { pool };
        command.SetAction((parse, ct) => Call(parse, url, error, httpFactory, async http =>
        {
            using var response = await http.DeleteAsync("/api/pools/" + Uri.EscapeDataString(parse.GetValue(pool)!), ct);
            var json = await ReadAsync(response, ct);
            output.WriteLine($"Deleted pool {Str(json["name"])} ({Str(json["id"])})");
        }));
        return command;
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TapeGateway.Cli;

namespace TapeGateway.Library.Tests;

/// <summary>
/// /api/auto-create-policies and <c>tapegw policies</c> against the production host. A fixture of its own (5 I/E slots):
/// policies fill I/E slots, which the tape tests in <see cref="ManagementApiTests"/> need. Each test removes its policy
/// and the tapes it created, so the slots are free for the next.
/// </summary>
public sealed class AutoCreatePolicyApiTests(GatewayHostFixture fixture) : IClassFixture<GatewayHostFixture>
{
    private HttpClient Http => fixture.Client;

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private async Task RemoveAsync(string prefix, params string[] barcodes)
    {
        using (await Http.DeleteAsync("/api/auto-create-policies/" + prefix))
        {
            // 200 or 404 (the test may have deleted it already): either way it is gone.
        }

        foreach (var b in barcodes)
        {
            using var deleted = await Http.DeleteAsync("/api/tapes/" + b);
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }
    }

    [Fact]
    public async Task Put_stores_the_policy_and_fills_the_IE_slots_at_once_get_lists_it_and_delete_removes_it()
    {
        using var put = await Http.PutAsJsonAsync("/api/auto-create-policies/APL", new { minimumAvailable = 2, capacityGiB = 100, pool = "deep archive" });

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var json = await JsonAsync(put);
        Assert.Equal(["APL001", "APL002"], json.GetProperty("created").EnumerateArray().Select(b => b.GetString()));
        Assert.Equal(0, json.GetProperty("shortfall").GetInt32());
        Assert.True(json.GetProperty("applied").GetBoolean());
        Assert.Equal("DEEP_ARCHIVE", json.GetProperty("policy").GetProperty("pool").GetString());

        var list = await JsonAsync(await Http.GetAsync("/api/auto-create-policies"));
        var apl = Assert.Single(list.EnumerateArray(), p => p.GetProperty("prefix").GetString() == "APL");
        Assert.Equal(2, apl.GetProperty("minimumAvailable").GetInt32());
        Assert.Equal(2, apl.GetProperty("available").GetInt32());
        Assert.Equal(100L << 30, apl.GetProperty("capacityBytes").GetInt64());
        var tapes = await JsonAsync(await Http.GetAsync("/api/tapes?prefix=APL"));
        Assert.All(tapes.EnumerateArray(), t => Assert.Equal("import-export", t.GetProperty("elementType").GetString()));

        // Replacing the policy with a higher minimum tops up the difference only.
        using var raise = await Http.PutAsJsonAsync("/api/auto-create-policies/APL", new { minimumAvailable = 3, capacityGiB = 100 });
        Assert.Equal(["APL003"], (await JsonAsync(raise)).GetProperty("created").EnumerateArray().Select(b => b.GetString()));

        using var delete = await Http.DeleteAsync("/api/auto-create-policies/APL");
        using var again = await Http.DeleteAsync("/api/auto-create-policies/APL");
        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Contains("no auto-create policy for prefix APL", (await JsonAsync(again)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain((await JsonAsync(await Http.GetAsync("/api/auto-create-policies"))).EnumerateArray(), p => p.GetProperty("prefix").GetString() == "APL");
        await RemoveAsync("APL", "APL001", "APL002", "APL003");
    }

    [Fact]
    public async Task A_policy_short_of_IE_slots_is_stored_and_reports_the_shortfall()
    {
        using var put = await Http.PutAsJsonAsync("/api/auto-create-policies/SHRT", new { minimumAvailable = 10, capacityBytes = 16L << 20 });

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var json = await JsonAsync(put);
        var created = json.GetProperty("created").EnumerateArray().Select(b => b.GetString()!).ToArray();
        Assert.Equal(5, created.Length);
        Assert.Equal(5, json.GetProperty("shortfall").GetInt32());
        await RemoveAsync("SHRT", created);
    }

    [Theory]
    [InlineData("VAL", "{\"minimumAvailable\": 2", "not valid JSON")]
    [InlineData("VAL", "{}", "minimumAvailable (1–10) is required")]
    [InlineData("VAL", "{\"minimumAvailable\": 11, \"capacityGiB\": 100}", "minimumAvailable must be 1–10 (got 11)")]
    [InlineData("VAL", "{\"minimumAvailable\": 0, \"capacityGiB\": 100}", "minimumAvailable must be 1–10 (got 0)")]
    [InlineData("VAL", "{\"minimumAvailable\": 1}", "capacityGiB (or capacityBytes) is required")]
    [InlineData("VAL", "{\"minimumAvailable\": 1, \"capacityGiB\": 100, \"capacityBytes\": 5}", "not both")]
    [InlineData("VAL", "{\"minimumAvailable\": 1, \"capacityGiB\": 6000}", "outside 1–5120")]
    [InlineData("VAL", "{\"minimumAvailable\": 1, \"capacityBytes\": 12345}", "whole number of MiB")]
    [InlineData("VAL", "{\"minimumAvailable\": 1, \"capacityGiB\": 100, \"mediaSuffix\": \"XX\"}", "not an LTO data or WORM media ID")]
    [InlineData("VAL", "{\"minimumAvailable\": 1, \"capacityGiB\": 100, \"worm\": true, \"mediaSuffix\": \"L5\"}", "but the tape is WORM")]
    [InlineData("AB1", "{\"minimumAvailable\": 1, \"capacityGiB\": 100}", "'AB1' is not a valid barcode prefix")]
    [InlineData("abc", "{\"minimumAvailable\": 1, \"capacityGiB\": 100}", "'abc' is not a valid barcode prefix")]
    [InlineData("TOOLONG", "{\"minimumAvailable\": 1, \"capacityGiB\": 100}", "not a valid barcode prefix")]
    [InlineData("CLN", "{\"minimumAvailable\": 1, \"capacityGiB\": 100}", "cleaning")]
    public async Task Bad_policies_are_400_with_a_message_and_store_nothing(string prefix, string body, string expected)
    {
        using var response = await Http.PutAsync("/api/auto-create-policies/" + prefix, Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (await JsonAsync(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        var list = await JsonAsync(await Http.GetAsync("/api/auto-create-policies"));
        Assert.DoesNotContain(list.EnumerateArray(), p => p.GetProperty("prefix").GetString() == prefix);
    }

    [Fact]
    public async Task Unknown_pool_is_404_and_a_malformed_prefix_on_delete_is_400()
    {
        using var pool = await Http.PutAsJsonAsync("/api/auto-create-policies/POOL", new { minimumAvailable = 1, capacityGiB = 100, pool = "Nowhere" });
        using var badDelete = await Http.DeleteAsync("/api/auto-create-policies/ab1");
        using var unknown = await Http.DeleteAsync("/api/auto-create-policies/NONE");

        Assert.Equal(HttpStatusCode.NotFound, pool.StatusCode);
        Assert.Contains("Pool 'Nowhere' does not exist", (await JsonAsync(pool)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badDelete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Cli_sets_lists_and_deletes_policies()
    {
        var (rc, output, error) = await RunCliAsync("policies", "set", "clp", "--minimum", "1", "--capacity-gib", "100", "--pool", "GLACIER");
        Assert.True(rc == 0, error);
        Assert.Contains("Policy CLP: keep 1 tape(s) in the I/E slots; created CLP001", output, StringComparison.Ordinal);

        (rc, output, _) = await RunCliAsync("policies", "list");
        Assert.Equal(0, rc);
        Assert.Matches(@"CLP\s+1\s+1\s+100 GiB\s+GLACIER\s+no\s+-", output);

        (rc, output, _) = await RunCliAsync("policies", "set", "CLP", "--minimum", "1", "--capacity-gib", "100");
        Assert.Equal(0, rc);
        Assert.Contains("created none", output, StringComparison.Ordinal);

        (rc, output, _) = await RunCliAsync("policies", "delete", "clp");
        Assert.Equal(0, rc);
        Assert.Contains("Deleted policy CLP", output, StringComparison.Ordinal);
        await RemoveAsync("CLP", "CLP001");
    }

    [Fact]
    public async Task Cli_reports_usage_errors_and_refusals_with_exit_codes()
    {
        var (rc, _, error) = await RunCliAsync("policies", "set", "CLE", "--capacity-gib", "100");
        Assert.Equal(TapeGatewayCli.ExitUsage, rc);
        Assert.Contains("error: --minimum is required", error, StringComparison.Ordinal);

        (rc, _, error) = await RunCliAsync("policies", "set", "CLE", "--minimum", "11", "--capacity-gib", "100");
        Assert.Equal(TapeGatewayCli.ExitUsage, rc);
        Assert.Contains("error: --minimum must be 1–10 (got 11).", error, StringComparison.Ordinal);

        (rc, _, error) = await RunCliAsync("policies", "set", "CLE", "--minimum", "1");
        Assert.Equal(TapeGatewayCli.ExitUsage, rc);
        Assert.Contains("error: --capacity-gib is required", error, StringComparison.Ordinal);

        (rc, _, error) = await RunCliAsync("policies", "set", "CL1", "--minimum", "1", "--capacity-gib", "100");
        Assert.Equal(TapeGatewayCli.ExitRefused, rc);
        Assert.Contains("error: 'CL1' is not a valid barcode prefix: 1–4 letters A–Z. (HTTP 400)", error, StringComparison.Ordinal);

        (rc, _, error) = await RunCliAsync("policies", "set", "CLE", "--minimum", "1", "--capacity-gib", "100", "--pool", "Nowhere");
        Assert.Equal(TapeGatewayCli.ExitRefused, rc);
        Assert.Contains("Pool 'Nowhere' does not exist", error, StringComparison.Ordinal);

        (rc, _, error) = await RunCliAsync("policies", "delete", "NONE");
        Assert.Equal(TapeGatewayCli.ExitRefused, rc);
        Assert.Contains("error: There is no auto-create policy for prefix NONE. (HTTP 404)", error, StringComparison.Ordinal);

        (rc, _, _) = await RunCliAsync("policies", "set");
        Assert.Equal(TapeGatewayCli.ExitUsage, rc);
    }

    private async Task<(int ExitCode, string Output, string Error)> RunCliAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var rc = await TapeGatewayCli.RunAsync(["--url", fixture.BaseAddress.ToString(), .. args], output, error);
        return (rc, output.ToString(), error.ToString());
    }
}

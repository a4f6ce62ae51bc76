using System.Net;
using System.Text;
using TapeGateway.Cli;

namespace TapeGateway.Archive.Tests;

/// <summary><c>tapegw tapes retrieve --wait</c> against a scripted API: it polls until RETRIEVED and shows progress.</summary>
public sealed class CliRetrieveWaitTests
{
    private sealed class ScriptedApi(params string[] statusBodies) : HttpMessageHandler
    {
        private int _polls;

        public int Polls => _polls;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            var (status, body) = request.Method == HttpMethod.Post && path == "/api/tapes/RET001/retrieve"
                ? (HttpStatusCode.Accepted, "{\"barcode\":\"RET001\",\"state\":\"RETRIEVING\",\"progress\":0}")
                : path == "/api/archive/status"
                    ? (HttpStatusCode.OK, statusBodies[Math.Min(Interlocked.Increment(ref _polls) - 1, statusBodies.Length - 1)])
                    : (HttpStatusCode.NotFound, "{\"detail\":\"unexpected " + path + "\"}");
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
        }
    }

    private static string Status(string state, double progress, int? element = null) =>
        $"{{\"active\":true,\"tapes\":[{{\"barcode\":\"RET001\",\"state\":\"{state}\",\"progress\":{progress.ToString(System.Globalization.CultureInfo.InvariantCulture)},\"element\":{(element?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null")}}}]}}";

    private static async Task<(int Code, string Output, string Error, int Polls)> RunAsync(ScriptedApi api)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await TapeGatewayCli.RunAsync(
            ["tapes", "retrieve", "RET001", "--wait", "--poll-seconds", "0.01", "--url", "http://gateway.test/"],
            output,
            error,
            uri => new HttpClient(api, disposeHandler: false) { BaseAddress = uri });
        return (code, output.ToString(), error.ToString(), api.Polls);
    }

    [Fact]
    public async Task Waits_until_retrieved_and_reports_the_slot()
    {
        using var api = new ScriptedApi(Status("RETRIEVING", 0), Status("RETRIEVING", 50), Status("RETRIEVING", 75.5), Status("RETRIEVED", 100, 1601));

        var (code, output, error, polls) = await RunAsync(api);

        Assert.Equal(TapeGatewayCli.ExitOk, code);
        Assert.Equal("", error);
        Assert.Equal(4, polls);
        Assert.Contains("RET001: RETRIEVING", output, StringComparison.Ordinal);
        Assert.Contains("RET001 RETRIEVED: read-only in I/E element 1601", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_retrieval_ends_the_wait_with_a_refusal()
    {
        using var api = new ScriptedApi(Status("RETRIEVING", 10), Status("ARCHIVED", 100));

        var (code, _, error, _) = await RunAsync(api);

        Assert.Equal(TapeGatewayCli.ExitRefused, code);
        Assert.Contains("RET001 is ARCHIVED", error, StringComparison.Ordinal);
    }
}

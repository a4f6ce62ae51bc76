using System.Net;
using System.Text;
using System.Xml.Linq;
using Microsoft.Extensions.Time.Testing;
using TapeGateway.Storage.S3.GlacierEmulation;

namespace TapeGateway.Storage.Tests;

/// <summary>The emulation on the wire: what it answers itself, what it forwards, and what it changes on the way back.</summary>
public sealed class GlacierEmulationHandlerTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 10, 30, 0, TimeSpan.Zero);
    private static readonly TimeSpan Delay = TimeSpan.FromHours(4);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly FakeS3Handler _store = new();
    private readonly GlacierRestoreLedger _ledger;
    private readonly HttpClient _http;

    public GlacierEmulationHandlerTests()
    {
        _ledger = new GlacierRestoreLedger(Delay, _time);
        var handler = new GlacierEmulationHandler(_ledger, LookUpAsync, "b") { InnerHandler = _store };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://s3.test/") };
    }

    public void Dispose() => _http.Dispose();

    [Theory]
    [InlineData("GLACIER")]
    [InlineData("DEEP_ARCHIVE")]
    public async Task A_get_of_an_archived_object_is_refused_with_invalid_object_state(string storageClass)
    {
        _store.Add("b/cold", storageClass);

        using var response = await SendAsync(HttpMethod.Get, "b/cold");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var error = XDocument.Parse(await response.Content.ReadAsStringAsync()).Root!;
        Assert.Equal("Error", error.Name.LocalName);
        Assert.Equal("InvalidObjectState", error.Element("Code")!.Value);
        Assert.Equal(storageClass, error.Element("StorageClass")!.Value);
        Assert.NotEmpty(error.Element("RequestId")!.Value);
        Assert.Equal("application/xml", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(1, _store.Count("GET", "/b/cold")); // the class came from the store's own GET answer
    }

    [Fact]
    public async Task Reads_of_other_classes_and_sub_resources_pass_through()
    {
        _store.Add("b/warm", "STANDARD", [9, 8, 7]);
        _store.Add("b/cold", "GLACIER");

        using var warm = await SendAsync(HttpMethod.Get, "b/warm");
        Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        Assert.Equal([9, 8, 7], await warm.Content.ReadAsByteArrayAsync());
        Assert.False(warm.Headers.Contains("x-amz-restore"));

        using var tagging = await SendAsync(HttpMethod.Get, "b/cold?tagging");
        Assert.Equal(HttpStatusCode.OK, tagging.StatusCode);

        using var missing = await SendAsync(HttpMethod.Get, "b/none");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Restore_is_answered_here_202_then_409_while_running_then_200_once_done()
    {
        _store.Add("b/cold", "GLACIER");

        using (var first = await RestoreAsync("b/cold", 2))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        }

        using (var again = await RestoreAsync("b/cold", 2))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            Assert.Equal("RestoreAlreadyInProgress", await ErrorCodeAsync(again));
        }

        _time.Advance(Delay);
        using (var done = await RestoreAsync("b/cold", 2))
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        }

        Assert.Equal(0, _store.Count("POST", "/b/cold")); // RGW would have said 501
    }

    [Fact]
    public async Task Head_reports_the_restore_in_progress_then_its_expiry()
    {
        _store.Add("b/cold", "GLACIER");
        using (var archived = await SendAsync(HttpMethod.Head, "b/cold"))
        {
            Assert.Equal(HttpStatusCode.OK, archived.StatusCode);
            Assert.False(archived.Headers.Contains("x-amz-restore"));
        }

        (await RestoreAsync("b/cold", 3)).Dispose();
        Assert.Equal("ongoing-request=\"true\"", await RestoreHeaderAsync(HttpMethod.Head, "b/cold"));
        using (var refused = await SendAsync(HttpMethod.Get, "b/cold"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode); // still archived while the restore runs
        }

        _time.Advance(Delay);

        // Done at 14:30 on the 24th; + 3 days = the 27th 14:30, rounded up to the next midnight UTC.
        var expected = "ongoing-request=\"false\", expiry-date=\"Sat, 28 Nov 2026 00:00:00 GMT\"";
        Assert.Equal(expected, await RestoreHeaderAsync(HttpMethod.Head, "b/cold"));
        Assert.Equal(expected, await RestoreHeaderAsync(HttpMethod.Get, "b/cold"));
    }

    [Fact]
    public async Task A_restored_object_reads_until_its_expiry_and_a_repeat_restore_extends_it_from_now()
    {
        _store.Add("b/cold", "DEEP_ARCHIVE", [4, 5, 6]);
        (await RestoreAsync("b/cold", 1)).Dispose();
        _time.Advance(Delay);

        using (var read = await SendAsync(HttpMethod.Get, "b/cold"))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            Assert.Equal([4, 5, 6], await read.Content.ReadAsByteArrayAsync());
        }

        _time.Advance(TimeSpan.FromDays(1));
        using (var extended = await RestoreAsync("b/cold", 5))
        {
            Assert.Equal(HttpStatusCode.OK, extended.StatusCode);
        }

        // Extended on the 25th 14:30 for 5 days: the 30th 14:30, rounded up to 1 December.
        Assert.Equal(
            "ongoing-request=\"false\", expiry-date=\"Tue, 01 Dec 2026 00:00:00 GMT\"",
            await RestoreHeaderAsync(HttpMethod.Head, "b/cold"));

        _time.Advance(TimeSpan.FromDays(10));
        using (var expired = await SendAsync(HttpMethod.Get, "b/cold"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, expired.StatusCode);
        }

        using (var head = await SendAsync(HttpMethod.Head, "b/cold"))
        {
            Assert.False(head.Headers.Contains("x-amz-restore"));
        }

        using (var restartedRestore = await RestoreAsync("b/cold", 1))
        {
            Assert.Equal(HttpStatusCode.Accepted, restartedRestore.StatusCode);
        }
    }

    [Fact]
    public async Task Restore_answers_like_aws_for_missing_and_not_archived_objects_and_bad_requests()
    {
        _store.Add("b/warm", "STANDARD");
        _store.Add("b/cold", "GLACIER");

        using (var missing = await RestoreAsync("b/none", 1))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("NoSuchKey", await ErrorCodeAsync(missing));
        }

        using (var warm = await RestoreAsync("b/warm", 1))
        {
            Assert.Equal(HttpStatusCode.Forbidden, warm.StatusCode);
            Assert.Equal("InvalidObjectState", await ErrorCodeAsync(warm));
        }

        using (var noDays = await SendAsync(HttpMethod.Post, "b/cold?restore", "<RestoreRequest><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters></RestoreRequest>"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noDays.StatusCode);
        }

        using (var garbage = await SendAsync(HttpMethod.Post, "b/cold?restore", "<RestoreRequest><Days>"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
            Assert.Equal("MalformedXML", await ErrorCodeAsync(garbage));
        }

        Assert.Equal(0, _ledger.Count);
        Assert.Equal(0, _store.Count("POST", "/b/"));
    }

    [Fact]
    public async Task Overwriting_copying_onto_or_deleting_an_object_forgets_its_restore()
    {
        foreach (var key in new[] { "put", "copied", "deleted", "batch" })
        {
            _store.Add("b/" + key, "GLACIER");
            (await RestoreAsync("b/" + key, 1)).Dispose();
        }

        _store.Add("b/source", "STANDARD");
        _time.Advance(Delay);
        Assert.Equal(4, _ledger.Count);

        (await SendAsync(HttpMethod.Put, "b/put", "new bytes", ("x-amz-storage-class", "GLACIER"))).Dispose();
        (await SendAsync(HttpMethod.Put, "b/copied", null, ("x-amz-copy-source", "b%2Fsource"), ("x-amz-storage-class", "GLACIER"))).Dispose();
        (await SendAsync(HttpMethod.Delete, "b/deleted")).Dispose();
        (await SendAsync(HttpMethod.Post, "b?delete", "<Delete><Object><Key>batch</Key></Object></Delete>")).Dispose();

        Assert.Equal(0, _ledger.Count);
        using var reread = await SendAsync(HttpMethod.Get, "b/put");
        Assert.Equal(HttpStatusCode.Forbidden, reread.StatusCode);
    }

    [Fact]
    public async Task Tagging_an_object_or_uploading_a_part_does_not_forget_its_restore()
    {
        _store.Add("b/cold", "GLACIER");
        (await RestoreAsync("b/cold", 1)).Dispose();
        (await SendAsync(HttpMethod.Put, "b/cold?tagging", "<Tagging/>")).Dispose();
        (await SendAsync(HttpMethod.Put, "b/cold?partNumber=1&uploadId=u", "part")).Dispose();
        (await SendAsync(HttpMethod.Delete, "b/cold?uploadId=u")).Dispose();
        Assert.Equal(1, _ledger.Count);
    }

    [Fact]
    public async Task A_copy_from_an_archived_source_needs_a_restore_first()
    {
        _store.Add("b/archive/seg", "GLACIER", [1, 1, 1]);

        using (var refused = await SendAsync(HttpMethod.Put, "b/library/seg", null, ("x-amz-copy-source", "b%2Farchive%2Fseg")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("InvalidObjectState", await ErrorCodeAsync(refused));
        }

        using (var part = await SendAsync(HttpMethod.Put, "b/library/seg?partNumber=1&uploadId=u", null, ("x-amz-copy-source", "/b/archive/seg")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, part.StatusCode); // UploadPartCopy too
        }

        Assert.Equal(0, _store.Count("PUT", "/b/library/seg"));
        (await RestoreAsync("b/archive/seg", 1)).Dispose();
        _time.Advance(Delay);

        using var copied = await SendAsync(HttpMethod.Put, "b/library/seg", null, ("x-amz-copy-source", "b%2Farchive%2Fseg"));
        Assert.Equal(HttpStatusCode.OK, copied.StatusCode);
        Assert.Equal("STANDARD", _store.Objects["b/library/seg"].StorageClass);
    }

    [Fact]
    public void Addresses_parse_from_both_url_styles_and_from_copy_sources()
    {
        Assert.Equal(new S3ObjectAddress("b", "a b/c+d"), S3ObjectAddress.FromUri(new Uri("http://127.0.0.1:7480/b/a%20b/c%2Bd?x-id=GetObject"), "b"));
        Assert.Equal(new S3ObjectAddress("b", "k/x"), S3ObjectAddress.FromUri(new Uri("https://b.s3.us-east-1.amazonaws.com/k/x"), "b"));
        Assert.Equal(new S3ObjectAddress("b", string.Empty), S3ObjectAddress.FromUri(new Uri("http://h/b?delete"), "b"));
        Assert.Null(S3ObjectAddress.FromUri(new Uri("http://h/"), "b"));

        Assert.Equal(new S3ObjectAddress("b", "a/b c"), S3ObjectAddress.FromCopySource("b%2Fa%2Fb%20c"));
        Assert.Equal(new S3ObjectAddress("b", "k?"), S3ObjectAddress.FromCopySource("/b/k%3F?versionId=3"));
        Assert.Null(S3ObjectAddress.FromCopySource("just-a-bucket"));
    }

    [Fact]
    public void The_expiry_is_completion_plus_days_rounded_up_to_midnight_utc()
    {
        // The S3 User Guide's example: done Oct 15 2012 10:30 UTC, 3 days: expires Oct 19 00:00 UTC.
        var done = new DateTimeOffset(2012, 10, 15, 10, 30, 0, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2012, 10, 19, 0, 0, 0, TimeSpan.Zero), GlacierRestoreLedger.ExpiryOf(done, 3));
        Assert.Equal(new DateTimeOffset(2012, 10, 19, 0, 0, 0, TimeSpan.Zero), GlacierRestoreLedger.ExpiryOf(done.ToOffset(TimeSpan.FromHours(-9)), 3));
    }

    [Fact]
    public void A_zero_delay_restores_at_once()
    {
        var ledger = new GlacierRestoreLedger(TimeSpan.Zero, _time);
        var address = new S3ObjectAddress("b", "k");
        Assert.Equal(RestoreRequestOutcome.Started, ledger.Request(address, 1));
        Assert.Equal(RestoreState.Restored, ledger.StatusOf(address).State);
        Assert.Equal(RestoreRequestOutcome.AlreadyRestored, ledger.Request(address, 1));
    }

    private Task<string?> LookUpAsync(S3ObjectAddress address, CancellationToken cancellationToken) =>
        Task.FromResult(_store.Objects.TryGetValue(address.ToString(), out var found) ? found.StorageClass : null);

    private Task<HttpResponseMessage> RestoreAsync(string path, int days) =>
        SendAsync(
            HttpMethod.Post,
            path + "?restore",
            $"<RestoreRequest xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Days>{days}</Days><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters></RestoreRequest>");

    private async Task<string?> RestoreHeaderAsync(HttpMethod method, string path)
    {
        using var response = await SendAsync(method, path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.TryGetValues("x-amz-restore", out var values) ? values.Single() : null;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/xml");
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await _http.SendAsync(request);
    }

    private static async Task<string> ErrorCodeAsync(HttpResponseMessage response) =>
        XDocument.Parse(await response.Content.ReadAsStringAsync()).Root!.Element("Code")!.Value;
}

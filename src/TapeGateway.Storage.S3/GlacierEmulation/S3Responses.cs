using System.Globalization;
using System.Net;
using System.Text;
using System.Xml.Linq;

namespace TapeGateway.Storage.S3.GlacierEmulation;

/// <summary>Responses the emulation answers itself, shaped like S3's so the SDK parses them as it parses S3's.</summary>
internal static class S3Responses
{
    /// <summary>
    /// An S3 REST error: <c>&lt;Error&gt;&lt;Code/&gt;&lt;Message/&gt;...&lt;RequestId/&gt;&lt;/Error&gt;</c> (S3 API
    /// Reference, "Error responses"). The SDK turns Code into AmazonS3Exception.ErrorCode, which S3ObjectStore maps.
    /// </summary>
    public static HttpResponseMessage Error(
        HttpRequestMessage request, HttpStatusCode status, string code, string message, params (string Name, string Value)[] details)
    {
        var requestId = NewRequestId();
        var error = new XElement("Error", new XElement("Code", code), new XElement("Message", message));
        foreach (var (name, value) in details)
        {
            error.Add(new XElement(name, value));
        }

        error.Add(new XElement("RequestId", requestId));
        var xml = new XDocument(new XDeclaration("1.0", "UTF-8", null), error);
        var body = xml.Declaration + xml.ToString(SaveOptions.DisableFormatting);

        // HEAD responses carry no body (RFC 9110 §9.3.2); S3 sends only the status there, and so do we.
        var response = Empty(request, status, requestId);
        if (request.Method != HttpMethod.Head)
        {
            response.Content = new StringContent(body, Encoding.UTF8, "application/xml");
        }

        return response;
    }

    /// <summary>A successful response without a body (RestoreObject answers 200 or 202 with none).</summary>
    public static HttpResponseMessage Empty(HttpRequestMessage request, HttpStatusCode status, string? requestId = null)
    {
        var response = new HttpResponseMessage(status) { RequestMessage = request, Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("x-amz-request-id", requestId ?? NewRequestId());
        response.Headers.Date = DateTimeOffset.UtcNow;
        return response;
    }

    /// <summary>
    /// The x-amz-restore header of HeadObject / GetObject: <c>ongoing-request="true"</c> while a restore runs,
    /// <c>ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"</c> once done (RFC 1123 date).
    /// </summary>
    public static string RestoreHeader(EmulatedRestore restore) => restore.State switch
    {
        RestoreState.InProgress => "ongoing-request=\"true\"",
        RestoreState.Restored when restore.Expiry is { } expiry =>
            string.Create(CultureInfo.InvariantCulture, $"ongoing-request=\"false\", expiry-date=\"{expiry.UtcDateTime:R}\""),
        _ => throw new ArgumentOutOfRangeException(nameof(restore), restore, "no restore to report"),
    };

    private static string NewRequestId() => Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();
}

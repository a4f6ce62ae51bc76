using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace TapeGateway.Storage.Tests;

/// <summary>
/// A tiny path-style S3 behind the Glacier emulation, behaving like Ceph RGW where it matters: objects keep their
/// storage class, GET and HEAD report it in x-amz-storage-class, archived objects stay readable and RestoreObject is
/// 501. It records every request it receives so tests can prove what the emulation forwarded.
/// </summary>
internal sealed class FakeS3Handler : HttpMessageHandler
{
    public sealed record StoredObject(byte[] Data, string StorageClass, IReadOnlyDictionary<string, string> Metadata);

    public ConcurrentDictionary<string, StoredObject> Objects { get; } = new(StringComparer.Ordinal);

    /// <summary>"METHOD /bucket/key?query" of every request that reached the store.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public void Add(string bucketAndKey, string storageClass, byte[]? data = null) =>
        Objects[bucketAndKey] = new StoredObject(data ?? [1, 2, 3], storageClass, new Dictionary<string, string>());

    public int Count(string method, string pathAndQueryStart) =>
        Requests.Count(r => r.StartsWith(method + " " + pathAndQueryStart, StringComparison.Ordinal));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!;
        Requests.Enqueue($"{request.Method} {Uri.UnescapeDataString(uri.AbsolutePath)}{uri.Query}");
        var name = Uri.UnescapeDataString(uri.AbsolutePath).TrimStart('/');
        var query = uri.Query.TrimStart('?');
        var plain = query.Length == 0 || query.StartsWith("x-id=", StringComparison.Ordinal);

        if (request.Method == HttpMethod.Post && query.StartsWith("restore", StringComparison.Ordinal))
        {
            return Error(request, HttpStatusCode.NotImplemented, "NotImplemented");
        }

        if (request.Method == HttpMethod.Post && query.StartsWith("delete", StringComparison.Ordinal))
        {
            var body = await request.Content!.ReadAsStringAsync(cancellationToken);
            foreach (var key in System.Xml.Linq.XDocument.Parse(body).Descendants().Where(e => e.Name.LocalName == "Key"))
            {
                Objects.TryRemove(name + "/" + key.Value, out _);
            }

            return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = Xml("<DeleteResult/>") };
        }

        if (request.Method == HttpMethod.Put && plain)
        {
            var storageClass = request.Headers.TryGetValues("x-amz-storage-class", out var sc) ? sc.First() : "STANDARD";
            StoredObject stored;
            if (request.Headers.TryGetValues("x-amz-copy-source", out var source))
            {
                var from = Uri.UnescapeDataString(source.First()).TrimStart('/');
                if (!Objects.TryGetValue(from, out var original))
                {
                    return Error(request, HttpStatusCode.NotFound, "NoSuchKey");
                }

                stored = original with { StorageClass = storageClass };
                Objects[name] = stored;
                return new HttpResponseMessage(HttpStatusCode.OK)
                {
                    RequestMessage = request,
                    Content = Xml($"<CopyObjectResult><LastModified>{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ}</LastModified><ETag>{ETag(stored.Data)}</ETag></CopyObjectResult>"),
                };
            }

            var data = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var metadata = request.Headers.Where(h => h.Key.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase))
                .ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.First(), StringComparer.Ordinal);
            stored = new StoredObject(data, storageClass, metadata);
            Objects[name] = stored;
            var put = new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = new ByteArrayContent([]) };
            put.Headers.ETag = new System.Net.Http.Headers.EntityTagHeaderValue(ETag(data));
            return put;
        }

        if (request.Method == HttpMethod.Delete && plain)
        {
            Objects.TryRemove(name, out _);
            return new HttpResponseMessage(HttpStatusCode.NoContent) { RequestMessage = request };
        }

        if ((request.Method == HttpMethod.Get || request.Method == HttpMethod.Head) && name.Contains('/', StringComparison.Ordinal))
        {
            if (!Objects.TryGetValue(name, out var found))
            {
                return Error(request, HttpStatusCode.NotFound, "NoSuchKey");
            }

            if (query.Contains("tagging", StringComparison.Ordinal))
            {
                return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = Xml("<Tagging><TagSet/></Tagging>") };
            }

            var response = new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request };
            response.Content = request.Method == HttpMethod.Get ? new ByteArrayContent(found.Data) : new ByteArrayContent([]);
            response.Content.Headers.ContentLength = found.Data.Length;
            response.Content.Headers.LastModified = DateTimeOffset.UtcNow;
            response.Headers.ETag = new System.Net.Http.Headers.EntityTagHeaderValue(ETag(found.Data));

            // RGW reports the class on GET and HEAD, STANDARD included.
            response.Headers.TryAddWithoutValidation("x-amz-storage-class", found.StorageClass);
            foreach (var (key, value) in found.Metadata)
            {
                response.Headers.TryAddWithoutValidation(key, value);
            }

            return response;
        }

        return Error(request, HttpStatusCode.BadRequest, "InvalidRequest");
    }

    private static HttpResponseMessage Error(HttpRequestMessage request, HttpStatusCode status, string code) =>
        new(status) { RequestMessage = request, Content = request.Method == HttpMethod.Head ? new ByteArrayContent([]) : Xml($"<Error><Code>{code}</Code></Error>") };

    private static StringContent Xml(string body) =>
        new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + body, Encoding.UTF8, "application/xml");

#pragma warning disable CA5351 // the S3 ETag format, not security
    private static string ETag(byte[] data) => "\"" + Convert.ToHexStringLower(MD5.HashData(data)) + "\"";
#pragma warning restore CA5351

    public static string Rfc1123(DateTimeOffset time) => time.UtcDateTime.ToString("R", CultureInfo.InvariantCulture);
}

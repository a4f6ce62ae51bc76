using System.Net;
using System.Xml;
using System.Xml.Linq;
using Amazon.Runtime;

namespace TapeGateway.Storage.S3.GlacierEmulation;

/// <summary>
/// Looks up an object's storage class with a signed HEAD: the S3 wire name (STANDARD when S3 sends none), or null when
/// the object does not exist. Service errors surface as <see cref="AmazonServiceException"/>.
/// </summary>
internal delegate Task<string?> StorageClassLookup(S3ObjectAddress address, CancellationToken cancellationToken);

/// <summary>
/// AWS S3's archive-tier behaviour on top of a store that has storage classes but no Glacier (Ceph RGW 16 keeps
/// GLACIER / DEEP_ARCHIVE objects readable and answers RestoreObject with 501). It sits under the AWS SDK, between the
/// signer and the network, so the SDK and <see cref="S3ObjectStore"/> see exactly what AWS would send:
/// <list type="bullet">
/// <item>GET of an archived object without a completed restore: 403 InvalidObjectState (GetObject: "If the object you
/// are retrieving is stored in the S3 Glacier Flexible Retrieval or S3 Glacier Deep Archive storage class ... you must
/// first restore a copy using RestoreObject. Otherwise, this operation returns an InvalidObjectState error"). The
/// class comes from the store's own x-amz-storage-class response header, so this costs no extra request.</item>
/// <item>POST ?restore (RestoreObject) is answered here and never forwarded: 202 when a restore starts, 409
/// RestoreAlreadyInProgress while it runs, 200 once restored (the expiry is re-computed from now). 404 NoSuchKey for a
/// missing object and 403 InvalidObjectState for one that is not archived, as AWS answers.</item>
/// <item>HEAD / GET of an archived object carry <c>x-amz-restore</c> while a restore runs or its copy lives.</item>
/// <item>CopyObject / UploadPartCopy from an archived source that is not restored: 403 InvalidObjectState (CopyObject:
/// an archived source object must be restored before it can be used as the source of a copy).</item>
/// <item>A write to a key (PutObject, CopyObject onto it, CompleteMultipartUpload) or a delete (DeleteObject,
/// DeleteObjects) forgets its restore: the new object, if any, has never been restored.</item>
/// </list>
/// Everything else passes through untouched. Restore state lives in a <see cref="GlacierRestoreLedger"/>, in memory.
/// </summary>
internal sealed class GlacierEmulationHandler : DelegatingHandler
{
    private const string StorageClassHeader = "x-amz-storage-class";
    private const string CopySourceHeader = "x-amz-copy-source";

    private readonly GlacierRestoreLedger _ledger;
    private readonly StorageClassLookup _lookup;
    private readonly string? _bucket;

    /// <param name="ledger">Restore state, shared by every HttpClient the SDK creates for one store.</param>
    /// <param name="lookup">How to learn a storage class the current response does not carry (restore, copy source).</param>
    /// <param name="bucket">The store's bucket, to recognise virtual-hosted-style URLs; path style needs nothing.</param>
    public GlacierEmulationHandler(GlacierRestoreLedger ledger, StorageClassLookup lookup, string? bucket)
    {
        _ledger = ledger;
        _lookup = lookup;
        _bucket = bucket;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is not { } uri || S3ObjectAddress.FromUri(uri, _bucket) is not { } target)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var query = QueryNames(uri);
        var method = request.Method;
        if (!target.IsObject)
        {
            return method == HttpMethod.Post && query.Contains("delete")
                ? await DeleteObjectsAsync(request, target.Bucket, cancellationToken).ConfigureAwait(false)
                : await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        if (method == HttpMethod.Post && query.Contains("restore"))
        {
            return await RestoreAsync(request, target, cancellationToken).ConfigureAwait(false);
        }

        if ((method == HttpMethod.Get || method == HttpMethod.Head) && IsObjectItself(query, allowReadParameters: true))
        {
            return await ReadAsync(request, target, cancellationToken).ConfigureAwait(false);
        }

        if (method == HttpMethod.Put)
        {
            return await PutAsync(request, target, query, cancellationToken).ConfigureAwait(false);
        }

        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var replacesObject = method == HttpMethod.Post && query.Contains("uploadId"); // CompleteMultipartUpload
        var deletesObject = method == HttpMethod.Delete && IsObjectItself(query, allowReadParameters: false);
        if ((replacesObject && response.IsSuccessStatusCode) || (deletesObject && (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotFound)))
        {
            _ledger.Forget(target);
        }

        return response;
    }

    private async Task<HttpResponseMessage> ReadAsync(HttpRequestMessage request, S3ObjectAddress target, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.PartialContent)
            || !response.Headers.TryGetValues(StorageClassHeader, out var values)
            || values.FirstOrDefault() is not { } storageClass
            || !IsArchive(storageClass))
        {
            return response;
        }

        var restore = _ledger.StatusOf(target);
        if (restore.State == RestoreState.Restored || (restore.State == RestoreState.InProgress && request.Method == HttpMethod.Head))
        {
            response.Headers.TryAddWithoutValidation("x-amz-restore", S3Responses.RestoreHeader(restore));
            return response;
        }

        if (request.Method == HttpMethod.Head)
        {
            // Archived and never restored (or expired): AWS's HEAD simply has no x-amz-restore.
            return response;
        }

        // Throw away the store's answer, data and all: on AWS these bytes are not reachable until restored.
        response.Dispose();
        return S3Responses.Error(
            request, HttpStatusCode.Forbidden, "InvalidObjectState", "The operation is not valid for the object's storage class",
            ("StorageClass", storageClass));
    }

    private async Task<HttpResponseMessage> PutAsync(HttpRequestMessage request, S3ObjectAddress target, HashSet<string> query, CancellationToken cancellationToken)
    {
        if (request.Headers.TryGetValues(CopySourceHeader, out var values) && S3ObjectAddress.FromCopySource(values.First()) is { } source)
        {
            var refused = await CheckCopySourceAsync(request, source, cancellationToken).ConfigureAwait(false);
            if (refused is not null)
            {
                return refused;
            }
        }

        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);

        // PutObject and CopyObject (no sub-resource) replace the object; UploadPart(Copy), ?tagging, ?acl... do not.
        if (response.IsSuccessStatusCode && IsObjectItself(query, allowReadParameters: false))
        {
            _ledger.Forget(target);
        }

        return response;
    }

    private async Task<HttpResponseMessage?> CheckCopySourceAsync(HttpRequestMessage request, S3ObjectAddress source, CancellationToken cancellationToken)
    {
        string? storageClass;
        try
        {
            storageClass = await _lookup(source, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException ex)
        {
            return LookupFailed(request, ex);
        }

        // A missing source is the store's to report (404 NoSuchKey), exactly as it would without us.
        if (storageClass is null || !IsArchive(storageClass) || _ledger.StatusOf(source).State == RestoreState.Restored)
        {
            return null;
        }

        return S3Responses.Error(
            request, HttpStatusCode.Forbidden, "InvalidObjectState",
            "The source object of the COPY operation is not in the active tier and is only stored in Amazon S3 Glacier.",
            ("StorageClass", storageClass));
    }

    private async Task<HttpResponseMessage> RestoreAsync(HttpRequestMessage request, S3ObjectAddress target, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        int? days;
        try
        {
            days = ParseRestoreDays(body);
        }
        catch (XmlException)
        {
            return S3Responses.Error(
                request, HttpStatusCode.BadRequest, "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema");
        }

        if (days is not > 0)
        {
            // RestoreRequest.Days: "The Days element is required for regular restores" and at least 1.
            return S3Responses.Error(request, HttpStatusCode.BadRequest, "InvalidArgument", "Days must be a positive integer for a restore from an archive storage class");
        }

        string? storageClass;
        try
        {
            storageClass = await _lookup(target, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException ex)
        {
            return LookupFailed(request, ex);
        }

        if (storageClass is null)
        {
            return S3Responses.Error(request, HttpStatusCode.NotFound, "NoSuchKey", "The specified key does not exist.", ("Key", target.Key));
        }

        if (!IsArchive(storageClass))
        {
            return S3Responses.Error(
                request, HttpStatusCode.Forbidden, "InvalidObjectState", "Restore is not allowed for the object's current storage class",
                ("StorageClass", storageClass));
        }

        // RestoreObject: "If the object is not previously restored, then Amazon S3 returns 202 Accepted ... If the object
        // is previously restored, Amazon S3 returns 200 OK"; a repeat while in progress is 409 RestoreAlreadyInProgress.
        return _ledger.Request(target, days.Value) switch
        {
            RestoreRequestOutcome.Started => S3Responses.Empty(request, HttpStatusCode.Accepted),
            RestoreRequestOutcome.AlreadyRestored => S3Responses.Empty(request, HttpStatusCode.OK),
            _ => S3Responses.Error(request, HttpStatusCode.Conflict, "RestoreAlreadyInProgress", "Object restore is already in progress"),
        };
    }

    private async Task<HttpResponseMessage> DeleteObjectsAsync(HttpRequestMessage request, string bucket, CancellationToken cancellationToken)
    {
        // Read the key list before the request goes out; buffering the content keeps it sendable afterwards.
        var keys = new List<string>();
        if (request.Content is { } content)
        {
            await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var xml = XDocument.Parse(await content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
                keys.AddRange(xml.Descendants().Where(e => e.Name.LocalName == "Key").Select(e => e.Value));
            }
            catch (XmlException)
            {
                // Malformed: the store answers 400 MalformedXML and nothing is deleted.
            }
        }

        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            // Per-key failures inside a 200 are not told apart: forgetting the restore of an object that survived only
            // makes the caller restore it again, never lets it read an archived object.
            foreach (var key in keys)
            {
                _ledger.Forget(new S3ObjectAddress(bucket, key));
            }
        }

        return response;
    }

    private static HttpResponseMessage LookupFailed(HttpRequestMessage request, AmazonServiceException ex) =>
        S3Responses.Error(
            request,
            ex.StatusCode == 0 ? HttpStatusCode.InternalServerError : ex.StatusCode,
            string.IsNullOrEmpty(ex.ErrorCode) ? "InternalError" : ex.ErrorCode,
            ex.Message);

    /// <summary>The Days of a RestoreRequest body (namespace-agnostic: the SDK sends the S3 2006-03-01 namespace).</summary>
    internal static int? ParseRestoreDays(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        var days = XDocument.Parse(body).Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "Days")?.Value;
        return int.TryParse(days, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : null;
    }

    /// <summary>GLACIER and DEEP_ARCHIVE need a restore; every other class (STANDARD_IA, GLACIER_IR...) reads directly.</summary>
    private static bool IsArchive(string storageClass) => StorageClassNames.FromS3Name(storageClass).IsArchive();

    /// <summary>
    /// True when the query names no sub-resource (?acl, ?tagging, ?uploadId, ?restore...), so the request is about the
    /// object's data. GET and HEAD may also carry versionId, partNumber and response-* overrides and still read it.
    /// The SDK adds x-id=&lt;operation&gt; to some requests; it selects nothing.
    /// </summary>
    private static bool IsObjectItself(HashSet<string> query, bool allowReadParameters) =>
        query.All(name => name is "x-id" or "versionId"
            || (allowReadParameters && (name == "partNumber" || name.StartsWith("response-", StringComparison.Ordinal))));

    private static HashSet<string> QueryNames(Uri uri)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            names.Add(Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]));
        }

        return names;
    }
}

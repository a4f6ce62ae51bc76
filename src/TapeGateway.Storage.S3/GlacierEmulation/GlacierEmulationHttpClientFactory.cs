using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace TapeGateway.Storage.S3.GlacierEmulation;

/// <summary>
/// Gives the SDK (through <see cref="ClientConfig.HttpClientFactory"/>) HttpClients whose pipeline is
/// <see cref="GlacierEmulationHandler"/> over a plain socket handler, all sharing one <see cref="GlacierRestoreLedger"/>.
/// </summary>
internal sealed class GlacierEmulationHttpClientFactory : HttpClientFactory
{
    private readonly string? _bucket;
    private readonly Func<HttpMessageHandler>? _transport;
    private StorageClassLookup? _lookup;

    /// <param name="ledger">The restore state of the store this factory serves.</param>
    /// <param name="bucket">The store's bucket (recognises virtual-hosted-style URLs).</param>
    /// <param name="transport">The innermost handler; null is a SocketsHttpHandler set up from the SDK config. Tests pass a fake store.</param>
    public GlacierEmulationHttpClientFactory(GlacierRestoreLedger ledger, string? bucket, Func<HttpMessageHandler>? transport = null)
    {
        Ledger = ledger;
        _bucket = bucket;
        _transport = transport;
    }

    public GlacierRestoreLedger Ledger { get; }

    /// <summary>
    /// Storage-class lookups (for RestoreObject and copy sources) go through <paramref name="client"/>: the handler sits
    /// below the SDK's signer and cannot sign a request of its own, so the only signed HEAD it can get is one made by
    /// the client. That HEAD passes back through the handler, which only decorates HEADs, so there is no recursion.
    /// </summary>
    public void LookUpThrough(IAmazonS3 client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _lookup = async (address, ct) =>
        {
            try
            {
                var head = await client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = address.Bucket, Key = address.Key }, ct)
                    .ConfigureAwait(false);

                // S3 omits x-amz-storage-class for STANDARD objects.
                return head.StorageClass?.Value is { Length: > 0 } storageClass ? storageClass : "STANDARD";
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
        };
    }

    /// <summary>For tests: look storage classes up without an SDK client.</summary>
    internal void LookUpWith(StorageClassLookup lookup) => _lookup = lookup;

    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        ArgumentNullException.ThrowIfNull(clientConfig);
        var handler = new GlacierEmulationHandler(Ledger, LookUpAsync, _bucket)
        {
            InnerHandler = _transport?.Invoke() ?? CreateTransport(clientConfig),
        };
        var client = new HttpClient(handler);

        // With a factory the SDK applies none of its HTTP settings itself; these are the ones S3ObjectStore sets.
        if (clientConfig.Timeout is { } timeout)
        {
            client.Timeout = timeout;
        }

        return client;
    }

    // Cached per SDK client (null unique string), so the HttpClients are disposed with the AmazonS3Client that owns them.
    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    public override string? GetConfigUniqueString(IClientConfig clientConfig) => null;

    private Task<string?> LookUpAsync(S3ObjectAddress address, CancellationToken cancellationToken) =>
        (_lookup ?? throw new InvalidOperationException("the Glacier emulation has no storage-class lookup; call LookUpThrough(client)"))(address, cancellationToken);

    private static SocketsHttpHandler CreateTransport(IClientConfig clientConfig)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = clientConfig.AllowAutoRedirect,

            // Objects come back exactly as stored: undoing a Content-Encoding here would change the bytes the
            // SHA-256 check sees (the SDK's own handler does not decompress either).
            AutomaticDecompression = DecompressionMethods.None,
        };
        if (clientConfig.MaxConnectionsPerServer is { } connections)
        {
            handler.MaxConnectionsPerServer = connections;
        }

        if (clientConfig.ConnectTimeout is { } connectTimeout)
        {
            handler.ConnectTimeout = connectTimeout;
        }

        if (clientConfig.GetWebProxy() is { } proxy)
        {
            handler.Proxy = proxy;
            handler.UseProxy = true;
        }

        return handler;
    }
}

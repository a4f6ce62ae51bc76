using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.S3;

namespace TapeGateway.Storage.S3;

/// <summary>
/// An <see cref="AmazonS3Client"/> whose SigV4 signer can be handed a request body's SHA-256 that the caller already
/// computed, instead of reading the body once more to compute it.
/// </summary>
/// <remarks>
/// A signed, unchunked body needs its hash in x-amz-content-sha256 before the first header byte goes out, so the SDK
/// would hash every part inside the request, after the part took one of the store's upload slots. The store hashes
/// each part anyway (for the object's running SHA-256) before it queues for a slot; this moves the part's own hash
/// there too. S3 and RGW recompute it from what arrives and refuse a mismatch (400 XAmzContentSHA256Mismatch), so a
/// wrong hash can only fail a request, never store other bytes. SDK v4 drops an x-amz-content-sha256 header set
/// before signing and only honours <see cref="IRequest.PrecomputedContentSha256"/>, which a pipeline handler in front
/// of the signer is the one place to set.
/// </remarks>
internal sealed class PrecomputedPayloadS3Client : AmazonS3Client
{
    private readonly ConditionalWeakTable<AmazonWebServiceRequest, string> _hashes = [];

    public PrecomputedPayloadS3Client(AWSCredentials credentials, AmazonS3Config config)
        : base(credentials, config)
    {
    }

    public PrecomputedPayloadS3Client(AmazonS3Config config)
        : base(config)
    {
    }

    /// <summary>Signs <paramref name="request"/> (each attempt of it) with <paramref name="sha256"/> (lower-case hex) as its body's hash.</summary>
    public T WithPayloadHash<T>(T request, string sha256)
        where T : AmazonWebServiceRequest
    {
        _hashes.AddOrUpdate(request, sha256);
        return request;
    }

    protected override void CustomizeRuntimePipeline(RuntimePipeline pipeline)
    {
        base.CustomizeRuntimePipeline(pipeline);
        pipeline.AddHandlerBefore<Signer>(new PayloadHashHandler(this));
    }

    private sealed class PayloadHashHandler(PrecomputedPayloadS3Client client) : PipelineHandler
    {
        public override void InvokeSync(IExecutionContext executionContext)
        {
            Apply(executionContext);
            base.InvokeSync(executionContext);
        }

        public override Task<T> InvokeAsync<T>(IExecutionContext executionContext)
        {
            Apply(executionContext);
            return base.InvokeAsync<T>(executionContext);
        }

        private void Apply(IExecutionContext executionContext)
        {
            var context = executionContext.RequestContext;
            if (context.OriginalRequest is { } original && client._hashes.TryGetValue(original, out var sha256))
            {
                context.Request.PrecomputedContentSha256 = sha256;
            }
        }
    }
}

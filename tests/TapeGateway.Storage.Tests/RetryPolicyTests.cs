using System.Net;
using Amazon.S3;
using TapeGateway.Storage.S3;

namespace TapeGateway.Storage.Tests;

public sealed class RetryPolicyTests
{
    private static readonly RetryPolicy Fast = new() { MaxAttempts = 4, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5), ThrottlingMinDelay = TimeSpan.FromMilliseconds(2) };

    [Fact]
    public async Task Transient_failures_are_retried_until_success()
    {
        var calls = 0;
        var result = await Fast.ExecuteAsync(_ => ++calls < 3 ? throw new TransientObjectStoreException("503") : Task.FromResult(42));
        Assert.Equal(42, result);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task It_gives_up_after_max_attempts()
    {
        var calls = 0;
        await Assert.ThrowsAsync<TransientObjectStoreException>(() => Fast.ExecuteAsync<int>(_ =>
        {
            calls++;
            throw new TransientObjectStoreException("still down");
        }));
        Assert.Equal(4, calls);
    }

    [Fact]
    public async Task Permanent_errors_are_not_retried()
    {
        var calls = 0;
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Fast.ExecuteAsync<int>(_ =>
        {
            calls++;
            throw new ObjectNotFoundException("gone");
        }));
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Delays_grow_exponentially_with_full_jitter_and_a_cap()
    {
        var top = new RetryPolicy { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), Random = () => 1.0 };
        Assert.Equal(100, top.DelayFor(1, throttling: false).TotalMilliseconds, 3);
        Assert.Equal(400, top.DelayFor(3, throttling: false).TotalMilliseconds, 3);
        Assert.Equal(1000, top.DelayFor(10, throttling: false).TotalMilliseconds, 3);

        var bottom = top with { Random = () => 0.0 };
        Assert.Equal(0, bottom.DelayFor(5, throttling: false).TotalMilliseconds);
        Assert.Equal(500, bottom.DelayFor(5, throttling: true).TotalMilliseconds, 3); // throttling has a floor

        var jittered = Enumerable.Range(0, 50).Select(_ => RetryPolicy.Default.DelayFor(4, throttling: false)).Distinct().Count();
        Assert.True(jittered > 1, "delays must be randomized");
    }

    [Theory]
    [InlineData(HttpStatusCode.NotFound, "NoSuchKey", typeof(ObjectNotFoundException))]
    [InlineData(HttpStatusCode.NotFound, "NotFound", typeof(ObjectNotFoundException))]
    [InlineData(HttpStatusCode.PreconditionFailed, "PreconditionFailed", typeof(PreconditionFailedException))]
    [InlineData(HttpStatusCode.Forbidden, "InvalidObjectState", typeof(InvalidObjectStateException))]
    [InlineData(HttpStatusCode.RequestedRangeNotSatisfiable, "InvalidRange", typeof(RangeNotSatisfiableException))]
    [InlineData(HttpStatusCode.NotImplemented, "NotImplemented", typeof(ObjectStoreNotSupportedException))]
    [InlineData(HttpStatusCode.ServiceUnavailable, "SlowDown", typeof(TransientObjectStoreException))]
    [InlineData(HttpStatusCode.InternalServerError, "InternalError", typeof(TransientObjectStoreException))]
    [InlineData(HttpStatusCode.BadRequest, "BadDigest", typeof(TransientObjectStoreException))]
    [InlineData(HttpStatusCode.BadRequest, "XAmzContentSHA256Mismatch", typeof(TransientObjectStoreException))]
    [InlineData(HttpStatusCode.Forbidden, "AccessDenied", typeof(ObjectStoreException))]
    public void S3_errors_map_to_typed_exceptions(HttpStatusCode status, string code, Type expected)
    {
        var ex = new AmazonS3Exception("boom") { StatusCode = status, ErrorCode = code };
        var mapped = S3ObjectStore.Translate(ex, "key", CancellationToken.None);
        Assert.NotNull(mapped);
        Assert.Equal(expected, mapped.GetType());
        Assert.Equal("key", mapped.Key);
        Assert.Equal(code == "SlowDown", mapped is TransientObjectStoreException { IsThrottling: true });
    }

    [Fact]
    public void Our_own_cancellation_is_not_translated_but_an_sdk_timeout_is_transient()
    {
        using var cts = new CancellationTokenSource();
        Assert.IsType<TransientObjectStoreException>(S3ObjectStore.Translate(new TaskCanceledException(), "k", cts.Token));
        cts.Cancel();
        Assert.Null(S3ObjectStore.Translate(new TaskCanceledException(), "k", cts.Token));
        Assert.IsType<TransientObjectStoreException>(S3ObjectStore.Translate(new HttpRequestException("reset"), "k", CancellationToken.None));
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TapeGateway.Server;
using TapeGateway.Storage;
using TapeGateway.Storage.S3;

namespace TapeGateway.Integration.Tests.ObjectStore;

/// <summary>
/// The server's object store configuration against the RGW from tools/rgw/start.sh (TAPEGW_S3_ENDPOINT); skipped
/// without it. The bucket is created by the host at start and deleted at the end.
/// </summary>
public sealed class ObjectStoreRgwTests
{
    private static string? Endpoint => Environment.GetEnvironmentVariable("TAPEGW_S3_ENDPOINT") is { Length: > 0 } e ? e : null;

    [SkippableFact]
    public async Task The_host_creates_the_bucket_at_start_and_the_store_emulates_glacier()
    {
        Skip.If(Endpoint is null, "TAPEGW_S3_ENDPOINT is not set (start an S3 with tools/rgw/start.sh)");
        const string S = "TapeGateway:ObjectStore:";
        var bucket = $"glacier-srv-{Guid.NewGuid():N}"[..32];
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [S + "Kind"] = "S3",
            [S + "ServiceUrl"] = Endpoint,
            [S + "Bucket"] = bucket,
            [S + "ForcePathStyle"] = "true",
            [S + "AccessKey"] = Environment.GetEnvironmentVariable("TAPEGW_S3_ACCESS_KEY") ?? "TESTKEY",
            [S + "SecretKey"] = Environment.GetEnvironmentVariable("TAPEGW_S3_SECRET_KEY") ?? "TESTSECRET",
            [S + "EmulateGlacier"] = "true",
            [S + "CreateBucket"] = "true",
        }).Build();
        builder.Services.AddObjectStore(configuration);
        using var host = builder.Build();

        await host.StartAsync();
        var store = Assert.IsType<S3ObjectStore>(host.Services.GetRequiredService<IObjectStore>());
        try
        {
            await store.PutAsync("cold", new MemoryStream([1, 2, 3]), new PutOptions { StorageClass = StorageClass.Glacier });
            await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.GetAsync("cold"));
            Assert.Equal(RestoreRequestResult.Accepted, await store.RequestRestoreAsync("cold", new RestoreOptions(1)));
            await using var read = await store.GetAsync("cold");
            Assert.Equal(3, read.ObjectSize);
        }
        finally
        {
            await store.DeleteAsync("cold");
            using var raw = S3ObjectStore.CreateClient(new S3ObjectStoreOptions
            {
                Bucket = bucket,
                ServiceUrl = Endpoint,
                ForcePathStyle = true,
                AccessKey = Environment.GetEnvironmentVariable("TAPEGW_S3_ACCESS_KEY") ?? "TESTKEY",
                SecretKey = Environment.GetEnvironmentVariable("TAPEGW_S3_SECRET_KEY") ?? "TESTSECRET",
            });
            await raw.DeleteBucketAsync(bucket);
            await host.StopAsync();
        }
    }
}

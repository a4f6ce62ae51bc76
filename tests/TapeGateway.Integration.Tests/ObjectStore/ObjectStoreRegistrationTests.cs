using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TapeGateway.Server;
using TapeGateway.Server.Configuration;
using TapeGateway.Storage;
using TapeGateway.Storage.S3;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Integration.Tests.ObjectStore;

/// <summary><see cref="ObjectStoreRegistration.AddObjectStore"/>: which store the configuration yields, and what it refuses at start.</summary>
public sealed class ObjectStoreRegistrationTests : IDisposable
{
    private const string S = "TapeGateway:ObjectStore:";

    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("tapegw-objstore-").FullName;

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public void The_default_is_a_file_system_store_under_the_data_directory_for_gateway_vtl()
    {
        using var services = Build();

        var store = Assert.IsType<FileSystemObjectStore>(services.GetRequiredService<IObjectStore>());
        Assert.Equal(Path.Combine(_dataDirectory, "objects"), store.RootDirectory);
        Assert.True(Directory.Exists(store.RootDirectory));
        var layout = services.GetRequiredService<TapeObjectLayout>();
        Assert.Equal("vtl", layout.GatewayId);
        Assert.Equal("gateways/vtl/tapes/", layout.LibraryPrefix);
        Assert.Same(store, services.GetRequiredService<IObjectStore>());
    }

    [Fact]
    public void Paths_gateway_id_and_key_prefix_come_from_configuration()
    {
        var absolute = Path.Combine(_dataDirectory, "elsewhere");
        using var services = Build((S + "Kind", "filesystem"), (S + "Path", absolute), (S + "GatewayId", "gw-7"), (S + "KeyPrefix", "site-a"));

        Assert.Equal(absolute, Assert.IsType<FileSystemObjectStore>(services.GetRequiredService<IObjectStore>()).RootDirectory);
        var layout = services.GetRequiredService<TapeObjectLayout>();
        Assert.Equal("site-a/gateways/gw-7/tapes/", layout.LibraryPrefix);
    }

    [Theory]
    [InlineData("vtl", "vtl")]
    [InlineData("Main Library/2", "main-library-2")]
    [InlineData("  ", "vtl")]
    [InlineData("///", "vtl")]
    public void The_default_gateway_id_is_derived_from_the_library_name(string libraryName, string expected)
    {
        using var services = Build(("TapeGateway:Library:Name", libraryName));
        Assert.Equal(expected, services.GetRequiredService<TapeObjectLayout>().GatewayId);
    }

    [Fact]
    public void In_memory_is_available_for_tests()
    {
        using var services = Build((S + "Kind", "InMemory"));
        Assert.IsType<InMemoryObjectStore>(services.GetRequiredService<IObjectStore>());
    }

    [Fact]
    public void S3_settings_reach_the_store_without_contacting_it()
    {
        using var services = Build(
            (S + "Kind", "S3"),
            (S + "ServiceUrl", "http://127.0.0.1:1"),
            (S + "Bucket", "glacier-config-test"),
            (S + "ForcePathStyle", "true"),
            (S + "AccessKey", "AK"),
            (S + "SecretKey", "SK"),
            (S + "PartSize", "16777216"),
            (S + "MaxParallelParts", "2"),
            (S + "MaxPartsInFlight", "6"),
            (S + "ContentMd5", "true"),
            (S + "EmulateGlacier", "true"),
            (S + "GlacierRestoreDelaySeconds", "1.5"));

        var store = Assert.IsType<S3ObjectStore>(services.GetRequiredService<IObjectStore>());
        Assert.Equal("glacier-config-test", store.Bucket);
        var options = services.GetRequiredService<IOptions<ObjectStoreOptions>>().Value.ToS3Options();
        Assert.Equal(16 * S3ObjectStoreOptions.MiB, options.PartSize);
        Assert.Equal(2, options.MaxParallelParts);
        Assert.Equal(6, options.MaxPartsInFlight);
        Assert.True(options.ContentMd5);
        Assert.True(options.EmulateGlacier);
        Assert.Equal(TimeSpan.FromSeconds(1.5), options.GlacierRestoreDelay);
        Assert.True(options.ForcePathStyle);
    }

    [Fact]
    public void Without_keys_s3_uses_the_credential_chain()
    {
        using var services = Build((S + "Kind", "S3"), (S + "Bucket", "my-tapes"), (S + "Region", "eu-west-1"));
        var options = services.GetRequiredService<IOptions<ObjectStoreOptions>>().Value.ToS3Options();
        Assert.Null(options.AccessKey);
        Assert.Null(options.SecretKey);
        Assert.Null(options.ServiceUrl);
        Assert.Equal("eu-west-1", options.Region);
    }

    [Theory]
    [InlineData("Kind", "Tape", "TapeGateway:ObjectStore:Kind 'Tape' is not a store kind; use one of FileSystem, S3, InMemory.")]
    [InlineData("Kind", "1", "TapeGateway:ObjectStore:Kind '1' is not a store kind")]
    [InlineData("GatewayId", "a/b", "TapeGateway:ObjectStore:GatewayId 'a/b' cannot be used in object keys")]
    [InlineData("Path", " ", "TapeGateway:ObjectStore:Path is empty")]
    public void Bad_general_settings_are_refused_with_the_key_at_fault(string key, string value, string expected)
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Options((S + key, value)));
        Assert.Contains(ex.Failures, f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null, null, "TapeGateway:ObjectStore:Bucket is required when TapeGateway:ObjectStore:Kind is S3.")]
    [InlineData("Bucket", "Tapes_Bucket", "TapeGateway:ObjectStore:Bucket 'Tapes_Bucket' is not a valid S3 bucket name: only lower-case letters")]
    [InlineData("Bucket", "ab", "TapeGateway:ObjectStore:Bucket 'ab' is not a valid S3 bucket name: it must be 3 to 63 characters long")]
    [InlineData("Bucket", "a..b", "TapeGateway:ObjectStore:Bucket 'a..b' is not a valid S3 bucket name: it must not contain two adjacent periods")]
    [InlineData("Bucket", "192.168.5.4", "TapeGateway:ObjectStore:Bucket '192.168.5.4' is not a valid S3 bucket name: it must not be formatted as an IP address")]
    [InlineData("ServiceUrl", "127.0.0.1:7480", "TapeGateway:ObjectStore:ServiceUrl '127.0.0.1:7480' is not an absolute http:// or https:// URL")]
    [InlineData("ServiceUrl", "ftp://host/", "TapeGateway:ObjectStore:ServiceUrl 'ftp://host/' is not an absolute http:// or https:// URL")]
    [InlineData("AccessKey", "AK", "TapeGateway:ObjectStore:AccessKey and TapeGateway:ObjectStore:SecretKey go together")]
    [InlineData("PartSize", "1048576", "TapeGateway:ObjectStore:PartSize 1048576 is outside S3's part size limits")]
    [InlineData("MaxParallelParts", "0", "TapeGateway:ObjectStore:MaxParallelParts must be at least 1 (got 0).")]
    [InlineData("MaxPartsInFlight", "0", "TapeGateway:ObjectStore:MaxPartsInFlight must be at least 1 (got 0).")]
    [InlineData("GlacierRestoreDelaySeconds", "-1", "TapeGateway:ObjectStore:GlacierRestoreDelaySeconds must be a number of seconds, 0 or more (got -1).")]
    public void Bad_s3_settings_are_refused_with_the_key_at_fault(string? key, string? value, string expected)
    {
        var settings = new List<(string, string?)> { (S + "Kind", "S3") };
        if (key != "Bucket")
        {
            settings.Add((S + "Bucket", key is null ? null : "tapes"));
        }

        if (key is not null)
        {
            settings.Add((S + key, value));
        }

        var ex = Assert.Throws<OptionsValidationException>(() => Options([.. settings]));
        Assert.Contains(ex.Failures, f => f.StartsWith(expected, StringComparison.Ordinal));
        Assert.Single(ex.Failures);
    }

    [Fact]
    public void Glacier_emulation_is_refused_against_aws()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Options((S + "Kind", "S3"), (S + "Bucket", "tapes"), (S + "EmulateGlacier", "true")));
        Assert.Equal(["TapeGateway:ObjectStore:EmulateGlacier needs TapeGateway:ObjectStore:ServiceUrl: it is for S3-compatible stores without an archive tier; AWS S3 has the real one."], ex.Failures);
    }

    [Fact]
    public void S3_settings_do_not_matter_to_the_file_system_store()
    {
        var options = Options((S + "Bucket", "Not A Bucket"), (S + "PartSize", "1"));
        Assert.Equal(ObjectStoreKind.FileSystem, options.ParsedKind);
    }

    [Fact]
    public async Task A_bad_configuration_stops_the_host_at_start()
    {
        using var host = BuildHost((S + "Kind", "S3"), (S + "ServiceUrl", "not a url"));
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal(2, ex.Failures.Count()); // both problems at once: no bucket, bad URL
    }

    [Fact]
    public async Task The_host_opens_the_default_store_at_start()
    {
        using var host = BuildHost();
        await host.StartAsync();
        Assert.True(Directory.Exists(Path.Combine(_dataDirectory, "objects", ".tmp")));
        await host.StopAsync();
    }

    private ServiceProvider Build(params (string Key, string? Value)[] settings)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddObjectStore(Configuration(settings));
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    private ObjectStoreOptions Options(params (string Key, string? Value)[] settings)
    {
        using var services = Build(settings);
        return services.GetRequiredService<IOptions<ObjectStoreOptions>>().Value;
    }

    private IHost BuildHost(params (string Key, string? Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        builder.Services.AddObjectStore(Configuration(settings));
        return builder.Build();
    }

    private IConfiguration Configuration((string Key, string? Value)[] settings)
    {
        var values = new Dictionary<string, string?> { ["TapeGateway:DataDirectory"] = _dataDirectory };
        foreach (var (key, value) in settings)
        {
            values[key] = value;
        }

        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }
}

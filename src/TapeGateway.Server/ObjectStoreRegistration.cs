using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TapeGateway.Server.Configuration;
using TapeGateway.Storage;
using TapeGateway.Storage.S3;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Server;

public static class ObjectStoreRegistration
{
    /// <summary>
    /// Adds the object store configured in <c>TapeGateway:ObjectStore</c> (<see cref="ObjectStoreOptions"/>): a singleton
    /// <see cref="IObjectStore"/> (FileSystem by default, S3, or InMemory for tests), the singleton
    /// <see cref="TapeObjectLayout"/> for this gateway, option validation at start, and <see cref="ObjectStoreStartup"/>,
    /// a hosted service that opens the store at host start and, for S3 with <c>CreateBucket</c>, creates the bucket
    /// then (not lazily), so a wrong endpoint, bucket or credential stops the host instead of the first tape upload.
    /// Call it before <c>AddTapeLibrary</c>: hosted services start in registration order, and the store must be ready
    /// before the library uses it.
    /// </summary>
    public static IServiceCollection AddObjectStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<ObjectStoreOptions>()
            .Bind(configuration.GetSection(ObjectStoreOptions.SectionName))
            .PostConfigure(o =>
            {
                // The same defaults GatewayOptions and the library apply, so "objects" lands next to their files.
                o.DataDirectory = configuration[$"{GatewayOptions.SectionName}:DataDirectory"] is { Length: > 0 } d ? d : "data";
                o.LibraryName = configuration["TapeGateway:Library:Name"] is { Length: > 0 } n ? n : "vtl";
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ObjectStoreOptions>, ObjectStoreOptionsValidator>());

        services.AddBackgroundWork(configuration);
        services.TryAddSingleton<IObjectStore>(sp => CreateStore(sp.GetRequiredService<IOptions<ObjectStoreOptions>>().Value, sp.GetRequiredService<BackgroundWorkScheduler>()));
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<ObjectStoreOptions>>().Value.CreateLayout());
        services.AddHostedService<ObjectStoreStartup>();
        return services;
    }

    /// <summary>The store the options describe; they have been validated by the time the container asks for it.</summary>
    internal static IObjectStore CreateStore(ObjectStoreOptions options, BackgroundWorkScheduler? background = null) => options.ParsedKind switch
    {
        ObjectStoreKind.FileSystem => new FileSystemObjectStore(options.ResolvedPath, background: background),
        ObjectStoreKind.S3 => S3ObjectStore.Create(options.ToS3Options()),
        ObjectStoreKind.InMemory => new InMemoryObjectStore(),
        _ => throw new OptionsValidationException(ObjectStoreOptions.SectionName, typeof(ObjectStoreOptions), [$"unknown object store kind '{options.Kind}'"]),
    };
}

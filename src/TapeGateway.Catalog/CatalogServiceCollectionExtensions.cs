using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace TapeGateway.Catalog;

public static class CatalogServiceCollectionExtensions
{
    /// <summary>
    /// Registers the catalog: options from the <c>Catalog</c> section (validated at start), the connection factory, the
    /// migrator, the repositories, and a hosted service that migrates the database before the host serves anything.
    /// Uses a registered <see cref="TimeProvider"/> if there is one, else the system clock.
    /// </summary>
    public static IServiceCollection AddCatalog(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<CatalogOptions>()
            .Bind(configuration.GetSection(CatalogOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CatalogOptions>, CatalogOptionsValidator>());

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<CatalogConnectionFactory>();
        services.TryAddSingleton<SchemaMigrator>();
        services.TryAddSingleton<LibraryRepository>();
        services.TryAddSingleton<PoolRepository>();
        services.TryAddSingleton<TapeRepository>();
        services.TryAddSingleton<AutoCreatePolicyRepository>();
        services.AddHostedService<CatalogMigrationService>();
        return services;
    }
}

/// <summary>Applies pending migrations at start-up; the host does not start if the catalog cannot be brought up to date.</summary>
internal sealed class CatalogMigrationService : IHostedService
{
    private readonly SchemaMigrator _migrator;
    private readonly CatalogConnectionFactory _connections;

    public CatalogMigrationService(SchemaMigrator migrator, CatalogConnectionFactory connections)
    {
        _migrator = migrator;
        _connections = connections;
    }

    public Task StartAsync(CancellationToken cancellationToken) => _migrator.MigrateAsync(cancellationToken: cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // Pooled connections keep the WAL open; closing them lets SQLite checkpoint and remove the -wal file.
        _connections.ClearPool();
        return Task.CompletedTask;
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TapeGateway.Catalog;

namespace TapeGateway.Library;

public static class LibraryServiceCollectionExtensions
{
    /// <summary>
    /// Adds the tape library when <c>TapeGateway:Library:Enabled</c> (default true): options (validated at start), the
    /// catalog (section <c>TapeGateway:Catalog</c>; the database defaults to <c>{DataDirectory}/catalog.db</c>), the
    /// library and its hosted service. Call it before the iSCSI listener is added (see <see cref="TapeLibraryService"/>).
    /// A <see cref="Scsi.ScsiTargetRegistry"/> must be registered by the composition root.
    /// Returns false (and adds nothing) when the library is disabled.
    /// </summary>
    public static bool AddTapeLibrary(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!configuration.GetValue(LibraryOptions.SectionName + ":Enabled", true))
        {
            return false;
        }

        var gateway = configuration.GetSection("TapeGateway");
        string DataDirectory() => Path.GetFullPath(gateway["DataDirectory"] is { Length: > 0 } d ? d : "data");

        services.AddOptions<LibraryOptions>()
            .Bind(configuration.GetSection(LibraryOptions.SectionName))
            .PostConfigure(o => o.DataDirectory = DataDirectory())
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LibraryOptions>, LibraryOptionsValidator>());

        services.AddCatalog(gateway);
        services.PostConfigure<CatalogOptions>(o =>
        {
            var dataDirectory = DataDirectory();
            o.DatabasePath = string.IsNullOrWhiteSpace(o.DatabasePath)
                ? Path.Combine(dataDirectory, "catalog.db")
                : Path.IsPathRooted(o.DatabasePath) ? o.DatabasePath : Path.GetFullPath(Path.Combine(dataDirectory, o.DatabasePath));
            Directory.CreateDirectory(Path.GetDirectoryName(o.DatabasePath)!);
            if (configuration.GetValue(LibraryOptions.SectionName + ":AllowSmallTapes", false))
            {
                o.AllowSmallTapes = true;
            }
        });

        services.TryAddSingleton<IExportHandler, NoExportHandler>();
        services.AddSingleton<TapeLibrary>();
        services.AddSingleton<TapeLibraryService>();
        services.AddHostedService(sp => sp.GetRequiredService<TapeLibraryService>());
        return true;
    }
}

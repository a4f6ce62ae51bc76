using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using TapeGateway.Iscsi.Configuration;
using TapeGateway.Iscsi.Connection;

namespace TapeGateway.Iscsi.Hosting;

public static class IscsiServiceCollectionExtensions
{
    /// <summary>
    /// Adds the iSCSI target portal: options from "TapeGateway:Iscsi" (validated at start), the portal and its
    /// listener. An <see cref="Core.Scsi.IScsiTargetRegistry"/> must be registered by the composition root.
    /// </summary>
    public static IServiceCollection AddIscsiTarget(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IscsiOptions>()
            .Bind(configuration.GetSection(IscsiOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(o => o.FirstBurstLength <= o.MaxBurstLength, "FirstBurstLength must not exceed MaxBurstLength (RFC 7143 §13.14)")
            .Validate(o => System.Net.IPAddress.TryParse(o.Address, out _), "Address must be an IP address")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IscsiPortal>();
        services.AddSingleton<IscsiListener>();
        services.AddHostedService(sp => sp.GetRequiredService<IscsiListener>());
        return services;
    }
}

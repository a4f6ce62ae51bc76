using Microsoft.Extensions.Options;
using TapeGateway.Archive;
using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Hosting;
using TapeGateway.Library;
using TapeGateway.Server.Configuration;

namespace TapeGateway.Server;

/// <summary>
/// The composition root, shared by Program and the in-process integration tests (which bind port 0 and point
/// DataDirectory at a temp folder through <paramref name="overrides"/>).
/// </summary>
public static class GatewayHost
{
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.Services.AddOptions<GatewayOptions>()
            .Bind(builder.Configuration.GetSection(GatewayOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(o => o.Targets.All(t => t.Luns.Select(l => l.Lun).Distinct().Count() == t.Luns.Count), "LUN numbers must be unique within a target")
            .Validate(o => o.Targets.SelectMany(t => t.Luns).All(l => l.BlockSize is 512 or 4096), "BlockSize must be 512 or 4096")
            .ValidateOnStart();
        builder.Services.AddSingleton<ScsiTargetFactory>();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<ScsiTargetFactory>().Registry);
        builder.Services.AddSingleton<IScsiTargetRegistry>(sp => sp.GetRequiredService<ScsiTargetFactory>().Registry);

        // Registration order is start order, and the reverse is stop order (the host stops hosted services one by one,
        // last registered first). So: catalog migration, then the library (its targets join the registry before the
        // listener accepts logins), then the disk volumes, then the iSCSI listener. On shutdown the listener drains its
        // sessions first, then disks flush, then the library seals every loaded tape image, then the catalog closes.
        builder.Services.AddObjectStore(builder.Configuration);
        builder.Services.AddTapeDataTier(builder.Configuration);
        builder.Services.AddTapeLibrary(builder.Configuration);
        builder.Services.AddTapeArchive(builder.Configuration);
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ScsiTargetFactory>());
        builder.Services.AddIscsiTarget(builder.Configuration);

        var app = builder.Build();
        ManagementEndpoints.Map(app);
        LibraryEndpoints.Map(app);
        TierEndpoints.Map(app);
        ArchiveEndpoints.Map(app);
        return app;
    }
}

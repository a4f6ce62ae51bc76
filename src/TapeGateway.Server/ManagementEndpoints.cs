using TapeGateway.Iscsi.Connection;
using TapeGateway.Scsi;

namespace TapeGateway.Server;

/// <summary>
/// The management HTTP API (localhost by default). Today it reports health, targets, LUNs and sessions; the tape
/// library operations (create/list/delete tapes, inventory) join it with the library.
/// </summary>
internal static class ManagementEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/health", () => Results.Ok(new { status = "ok" }));

        app.MapGet("/api/targets", (ScsiTargetFactory factory) => Results.Ok(
            factory.Registry.Devices.Select(t => new
            {
                name = t.Name,
                alias = t.Alias,
                luns = t.Units.Select(u => new
                {
                    lun = u.Lun.Value,
                    type = u.DeviceType.ToString(),
                    vendor = u.Identity.VendorId,
                    product = u.Identity.ProductId,
                    serial = u.Identity.SerialNumber,
                }),
            })));

        app.MapGet("/api/sessions", (IscsiPortal portal) => Results.Ok(
            portal.Sessions.Snapshot().Select(s => new
            {
                tsih = s.Tsih,
                initiator = s.InitiatorName,
                isid = s.Isid.ToString("x12", System.Globalization.CultureInfo.InvariantCulture),
                target = s.Target?.Name,
                type = s.Type.ToString(),
                createdAt = s.CreatedAt,
                remote = s.Connection?.RemoteEndPoint?.ToString(),
            })));
    }
}

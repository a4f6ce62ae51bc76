using Microsoft.Extensions.Options;
using TapeGateway.Media.Block;
using TapeGateway.Scsi;
using TapeGateway.Scsi.Sbc;
using TapeGateway.Scsi.Spc;
using TapeGateway.Server.Configuration;

namespace TapeGateway.Server;

/// <summary>
/// Builds the configured targets and their logical units at startup (opening or creating backing files), and on
/// shutdown — after the iSCSI listener has drained its sessions — makes every volume durable and closes it.
/// </summary>
internal sealed partial class ScsiTargetFactory : IHostedService, IAsyncDisposable
{
    private readonly List<IBlockVolume> _volumes = [];
    private readonly ILogger<ScsiTargetFactory> _logger;

    public ScsiTargetFactory(IOptions<GatewayOptions> options, ILoggerFactory loggerFactory)
    {
        _logger = loggerFactory.CreateLogger<ScsiTargetFactory>();
        var o = options.Value;
        Directory.CreateDirectory(o.ResolvePath("."));
        var reservations = new JsonFilePersistentReservationStore(o.ResolvePath("reservations"));
        Registry = new ScsiTargetRegistry();
        foreach (var t in o.Targets)
        {
            var device = new ScsiTargetDevice(t.Name, t.Alias, reservations);
            foreach (var l in t.Luns)
            {
                device.Add(CreateUnit(o, t, l, loggerFactory));
            }

            Registry.Add(device);
        }
    }

    public ScsiTargetRegistry Registry { get; }

    private LogicalUnit CreateUnit(GatewayOptions o, TargetOptions target, LunOptions l, ILoggerFactory loggerFactory)
    {
        switch (l.Type)
        {
            case LunType.Disk:
                {
                    var path = o.ResolvePath(string.IsNullOrEmpty(l.File) ? $"volumes/{target.Alias ?? "lun"}-{l.Lun}.img" : l.File);
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    var blocks = l.SizeMiB * 1024 * 1024 / l.BlockSize;
                    var volume = FileBlockVolume.OpenOrCreate(path, blocks, l.BlockSize, l.ReadOnly, l.ThinProvisioning);
                    _volumes.Add(volume);
                    LogVolume(_logger, target.Name, l.Lun, path, volume.BlockCount, volume.BlockSize);
                    var volumeId = l.SerialNumber ?? $"{target.Name}/{l.Lun}";
                    return new DiskLogicalUnit(new Core.Scsi.Lun((ushort)l.Lun), volume, volumeId, logger: loggerFactory.CreateLogger<DiskLogicalUnit>());
                }

            default:
                throw new InvalidOperationException($"unsupported LUN type {l.Type}");
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var v in _volumes)
        {
            await v.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var v in _volumes)
        {
            await v.DisposeAsync().ConfigureAwait(false);
        }

        _volumes.Clear();
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "{Target} LUN {Lun}: disk {Path}, {Blocks} blocks of {BlockSize} bytes")]
    private static partial void LogVolume(ILogger logger, string target, int lun, string path, long blocks, int blockSize);
}

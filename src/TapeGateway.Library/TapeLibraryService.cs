using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi;
using TapeGateway.Scsi.Smc;
using TapeGateway.Scsi.Spc;
using TapeGateway.Scsi.Ssc;

namespace TapeGateway.Library;

/// <summary>One iSCSI target of the library and what it holds, for the management API.</summary>
public sealed record LibraryTarget(string Name, string Alias, IReadOnlyList<(Lun Lun, LogicalUnit Unit)> Units);

/// <summary>
/// Brings the library up: catalog library and drive serials, the SSC drive units and the SMC changer unit (with the
/// library as its backend), their iSCSI targets in the registry, then the startup tapes and the reload of tapes left in
/// drives. Registered after the catalog's migration service and before the iSCSI listener, so it starts after the
/// schema exists and before any initiator can log in, and stops (hosted services stop in reverse order) after the
/// listener has drained every session and before the catalog's connections are closed.
/// </summary>
public sealed partial class TapeLibraryService : IHostedService, IDisposable
{
    private readonly TapeLibrary _library;
    private readonly ScsiTargetRegistry _registry;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<TapeLibraryService> _logger;
    private readonly List<LibraryTarget> _targets = [];
    private MediumChangerLogicalUnit? _changer;

    public TapeLibraryService(TapeLibrary library, ScsiTargetRegistry registry, ILoggerFactory loggerFactory)
    {
        _library = library;
        _registry = registry;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<TapeLibraryService>();
    }

    public IReadOnlyList<LibraryTarget> Targets => _targets;

    public string? ChangerTargetName { get; private set; }

    public MediumChangerLogicalUnit? Changer => _changer;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = _library.Options;
        var catalogDrives = await _library.OpenCatalogAsync(cancellationToken).ConfigureAwait(false);
        var reservations = new JsonFilePersistentReservationStore(Path.GetFullPath(Path.Combine(options.DataDirectory, "reservations")));
        var single = options.Layout == LibraryLayout.SingleTarget;
        var singleDevice = single ? new ScsiTargetDevice(options.TargetPrefix + "vtl", "vtl", reservations) : null;
        var singleUnits = new List<(Lun, LogicalUnit)>();

        var drives = new List<ILibraryDrive>(catalogDrives.Count);
        foreach (var d in catalogDrives)
        {
            var number = (d.Index + 1).ToString("D2", CultureInfo.InvariantCulture);
            var lun = new Lun((ushort)(single ? options.FirstDriveLun + d.Index : 0));
            var unit = new TapeDriveLogicalUnit(lun, _library.DrivePersonality, d.SerialNumber, _loggerFactory.CreateLogger<TapeDriveLogicalUnit>());
            string targetName;
            if (singleDevice is not null)
            {
                singleDevice.Add(unit);
                singleUnits.Add((lun, unit));
                targetName = singleDevice.Name;
            }
            else
            {
                // AWS names its drive targets …-tapedrive-01 … and presents each device at LUN 0.
                var device = new ScsiTargetDevice(options.TargetPrefix + "tapedrive-" + number, "tapedrive-" + number, reservations);
                device.Add(unit);
                _registry.Add(device);
                _targets.Add(new LibraryTarget(device.Name, "tapedrive-" + number, [(lun, unit)]));
                targetName = device.Name;
            }

            drives.Add(new ScsiLibraryDrive(d.Index, (ushort)d.ElementAddress, unit, _library.DrivePersonality, targetName));
            LogDrive(_logger, d.Index, targetName, lun.Value, d.SerialNumber, d.ElementAddress);
        }

        _library.AttachDrives(drives);

        // The changer serial extends the drives' serial stem (TGxxxxxx + 00; drives are 01…), so it is as stable as theirs.
        var stem = catalogDrives.Count > 0 ? catalogDrives[0].SerialNumber[..^2] : "TG000000";
        var changerLun = new Lun((ushort)(single ? options.ChangerLun : 0));
        _changer = new MediumChangerLogicalUnit(changerLun, _library.Personality, stem + "00", _library, _loggerFactory.CreateLogger<MediumChangerLogicalUnit>());
        if (singleDevice is not null)
        {
            singleDevice.Add(_changer);
            singleUnits.Add((changerLun, _changer));
            _registry.Add(singleDevice);
            _targets.Add(new LibraryTarget(singleDevice.Name, "vtl", [.. singleUnits.OrderBy(u => u.Item1.Value)]));
            ChangerTargetName = singleDevice.Name;
        }
        else
        {
            var device = new ScsiTargetDevice(options.TargetPrefix + "mediachanger", "mediachanger", reservations);
            device.Add(_changer);
            _registry.Add(device);
            _targets.Add(new LibraryTarget(device.Name, "mediachanger", [(changerLun, _changer)]));
            ChangerTargetName = device.Name;
        }

        LogChanger(_logger, ChangerTargetName, changerLun.Value, _library.Personality.Name);
        await _library.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _library.StopAsync(cancellationToken);

    public void Dispose() => _changer?.Dispose();

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "Drive {Index}: {Target} LUN {Lun}, serial {Serial}, element {Element}")]
    private static partial void LogDrive(ILogger logger, int index, string target, int lun, string serial, int element);

    [LoggerMessage(EventId = 121, Level = LogLevel.Information, Message = "Changer: {Target} LUN {Lun}, personality {Personality}")]
    private static partial void LogChanger(ILogger logger, string target, int lun, string personality);
}

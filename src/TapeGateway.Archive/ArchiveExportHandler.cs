using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TapeGateway.Catalog;
using TapeGateway.Library;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Archive;

/// <summary>
/// AWS archive-on-export: a tape the backup application moves into an I/E slot is archived. An AVAILABLE tape becomes
/// IN TRANSIT TO VTS (it stays visible in the I/E slot until ARCHIVING starts; taking it back cancels the export, see
/// <see cref="TapeLibrary"/>'s move path); a RETRIEVED tape goes straight back to ARCHIVED (its archive copy never
/// left) and vanishes from the slot. The archive job is triggered at once instead of waiting for its next tick.
/// </summary>
/// <remarks>
/// Runs under the library's move lock, so it only changes the catalog and schedules; the upload and copies happen in
/// <see cref="ArchiveJob"/>. Without a tape data tier (the gateway keeps tapes on local disk only) or with
/// <c>TapeGateway:Archive:Enabled=false</c>, an export stays a plain move.
/// </remarks>
public sealed partial class ArchiveExportHandler : IExportHandler
{
    private readonly TapeRepository _tapes;
    private readonly IServiceProvider _services;
    private readonly IArchiveTrigger _trigger;
    private readonly ArchiveOptions _options;
    private readonly ILogger<ArchiveExportHandler> _logger;

    public ArchiveExportHandler(
        TapeRepository tapes, IServiceProvider services, IArchiveTrigger trigger, IOptions<ArchiveOptions> options, ILogger<ArchiveExportHandler> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _tapes = tapes;
        _services = services;
        _trigger = trigger;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Archiving is on and there is a data tier to archive from.</summary>
    public bool IsActive => _options.Enabled && _services.GetService<ITapeDataTier>() is not null;

    public async ValueTask TapeExportedAsync(ExportedTape tape, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tape);
        if (!IsActive)
        {
            return;
        }

        // The move is committed and the initiator told; a cancelled SCSI task must not leave the export half-done.
        var current = await _tapes.GetTapeAsync(tape.Barcode, CancellationToken.None).ConfigureAwait(false);
        switch (current?.State)
        {
            case TapeState.Available:
                var export = await _tapes.TransitionAsync(
                    tape.Barcode, TapeState.Available, TapeState.InTransitToVts, tape.Actor, $"exported to I/E element {tape.To}", CancellationToken.None).ConfigureAwait(false);
                if (export.Succeeded)
                {
                    LogExported(_logger, tape.Barcode, tape.To);
                    _trigger.RequestArchiveRun();
                }

                break;
            case TapeState.Retrieved:
                var back = await _tapes.TransitionAsync(
                    tape.Barcode, TapeState.Retrieved, TapeState.Archived, tape.Actor, "ejected: back to the archive", CancellationToken.None).ConfigureAwait(false);
                if (back.Succeeded)
                {
                    // It left the I/E slot the initiator just put it in: the changer must report the new inventory.
                    _services.GetService<TapeLibrary>()?.NotifyInventoryChanged();
                    LogReturned(_logger, tape.Barcode);
                    _trigger.RequestArchiveRun();
                }

                break;
        }
    }

    [LoggerMessage(EventId = 510, Level = LogLevel.Information, Message = "Tape {Barcode} exported to I/E element {Element}: IN TRANSIT TO VTS")]
    private static partial void LogExported(ILogger logger, string barcode, int element);

    [LoggerMessage(EventId = 511, Level = LogLevel.Information, Message = "Retrieved tape {Barcode} ejected: back to ARCHIVED, its library copy will be deleted")]
    private static partial void LogReturned(ILogger logger, string barcode);
}

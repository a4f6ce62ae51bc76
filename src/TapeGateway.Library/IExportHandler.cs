namespace TapeGateway.Library;

/// <summary>A tape the backup application moved into an import/export element from inside the library.</summary>
/// <param name="Barcode">The tape.</param>
/// <param name="From">Element it left (storage slot or drive).</param>
/// <param name="To">The import/export element it now occupies.</param>
/// <param name="Actor">Who moved it ("scsi:iqn…").</param>
public sealed record ExportedTape(string Barcode, int From, int To, string Actor);

/// <summary>
/// The seam where AWS's archive-on-export hooks (TapeGateway.Archive's ArchiveExportHandler). On AWS, ejecting a tape to
/// an I/E slot starts its archival: AVAILABLE → IN TRANSIT TO VTS → ARCHIVING → ARCHIVED, and the tape leaves the
/// library. <see cref="TapeLibrary"/> performs the move and then calls this handler, after the catalog committed the move
/// and outside any drive I/O; the default <see cref="NoExportHandler"/> does nothing, so exported tapes simply sit in the
/// I/E slot (which is also what the VM harness's "transfer to the mailslot and back" expects). Taking a tape that is
/// still IN TRANSIT TO VTS back out of its I/E slot cancels its export in <see cref="TapeLibrary"/>'s move path.
/// </summary>
/// <remarks>
/// The handler runs while the library's move lock is held, so it must only record/schedule work (e.g. transition the
/// tape to IN TRANSIT TO VTS and queue the upload), never wait for an upload. A failure is logged and does not undo the
/// move: the initiator has already been told (or is about to be told) the move happened.
/// </remarks>
public interface IExportHandler
{
    ValueTask TapeExportedAsync(ExportedTape tape, CancellationToken ct);
}

/// <summary>Export is just a move (until archiving lands).</summary>
public sealed class NoExportHandler : IExportHandler
{
    public ValueTask TapeExportedAsync(ExportedTape tape, CancellationToken ct) => ValueTask.CompletedTask;
}

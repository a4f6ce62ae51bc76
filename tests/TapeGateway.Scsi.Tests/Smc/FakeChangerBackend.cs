using TapeGateway.Scsi.Smc;

namespace TapeGateway.Scsi.Tests.Smc;

/// <summary>
/// An in-memory library for the changer tests: every element of the geometry, media by barcode, and switches that
/// make moves fail the way the real library service can (busy, incompatible, drive-prevented, internal error).
/// </summary>
public sealed class FakeChangerBackend : IMediumChangerBackend
{
    private readonly Dictionary<ushort, Medium> _media = [];

    public FakeChangerBackend(ChangerGeometry geometry, IReadOnlyList<DriveDescriptor>? drives = null)
    {
        Geometry = geometry;
        Drives = drives ?? [];
    }

    public event Action? InventoryChangedExternally;

    public ChangerGeometry Geometry { get; }

    public IReadOnlyList<DriveDescriptor> Drives { get; }

    public HashSet<ushort> Busy { get; } = [];

    public HashSet<ushort> PreventedDrives { get; } = [];

    public HashSet<string> IncompatibleBarcodes { get; } = [];

    public HashSet<ushort> Inaccessible { get; } = [];

    public Dictionary<ushort, (byte Asc, byte Ascq)> Exceptions { get; } = [];

    public ChangerResult? ForcedResult { get; set; }

    public List<string> Calls { get; } = [];

    public int GetElementsCalls { get; private set; }

    public FakeChangerBackend Place(ushort address, string barcode, ushort? source = null, bool byOperator = false)
    {
        _media[address] = new Medium(barcode, source, byOperator);
        return this;
    }

    public int TapeCount => _media.Count;

    public string? BarcodeAt(ushort address) => _media.TryGetValue(address, out var m) ? m.Barcode : null;

    public ushort? SourceOf(ushort address) => _media.TryGetValue(address, out var m) ? m.Source : null;

    public void RaiseInventoryChanged() => InventoryChangedExternally?.Invoke();

    public ValueTask<IReadOnlyList<ElementStatus>> GetElementsAsync(CancellationToken ct)
    {
        GetElementsCalls++;
        var list = new List<ElementStatus>();
        Add(list, Geometry.Transport, ElementType.MediumTransport);
        Add(list, Geometry.Storage, ElementType.Storage);
        Add(list, Geometry.ImportExport, ElementType.ImportExport);
        Add(list, Geometry.DataTransfer, ElementType.DataTransfer);
        return new ValueTask<IReadOnlyList<ElementStatus>>(list);
    }

    public ValueTask<ChangerResult> MoveAsync(ushort source, ushort destination, string actor, CancellationToken ct)
    {
        Calls.Add($"move {source}->{destination}");
        return new ValueTask<ChangerResult>(Move(source, destination));
    }

    public ValueTask<ChangerResult> ExchangeAsync(ushort source, ushort firstDestination, ushort secondDestination, string actor, CancellationToken ct)
    {
        Calls.Add($"exchange {source}->{firstDestination}->{secondDestination}");
        if (Check(source, firstDestination) is { } refused)
        {
            return new(refused);
        }

        if (!_media.ContainsKey(firstDestination))
        {
            return new(ChangerResult.SourceEmpty);
        }

        if (secondDestination != source && _media.ContainsKey(secondDestination))
        {
            return new(ChangerResult.DestinationFull);
        }

        var moving = _media[source];
        var displaced = _media[firstDestination];
        _media.Remove(source);
        _media[firstDestination] = moving with { Source = source, ByOperator = false };
        _media[secondDestination] = displaced with { Source = firstDestination, ByOperator = false };
        return new(ChangerResult.Ok);
    }

    public ValueTask InitializeElementStatusAsync(ushort firstAddress, ushort count, CancellationToken ct)
    {
        Calls.Add($"init {firstAddress} {count}");
        return ValueTask.CompletedTask;
    }

    private ChangerResult Move(ushort source, ushort destination)
    {
        if (Check(source, destination) is { } refused)
        {
            return refused;
        }

        if (_media.ContainsKey(destination))
        {
            return ChangerResult.DestinationFull;
        }

        var m = _media[source];
        _media.Remove(source);

        // SMC-3 SOURCE STORAGE ELEMENT ADDRESS: where the medium was last stored; a drive keeps the slot it came from.
        var home = Geometry.TypeOf(source) == ElementType.DataTransfer ? m.Source : source;
        _media[destination] = m with { Source = home, ByOperator = false };
        return ChangerResult.Ok;
    }

    private ChangerResult? Check(ushort source, ushort destination)
    {
        if (ForcedResult is { } forced)
        {
            return forced;
        }

        if (Geometry.TypeOf(source) is null || Geometry.TypeOf(destination) is null)
        {
            return ChangerResult.InvalidElement;
        }

        if (Busy.Contains(source) || Busy.Contains(destination))
        {
            return ChangerResult.Busy;
        }

        if (!_media.TryGetValue(source, out var m))
        {
            return ChangerResult.SourceEmpty;
        }

        if (PreventedDrives.Contains(source))
        {
            return ChangerResult.MediumRemovalPrevented;
        }

        if (Geometry.TypeOf(destination) == ElementType.DataTransfer && IncompatibleBarcodes.Contains(m.Barcode))
        {
            return ChangerResult.IncompatibleMedium;
        }

        return null;
    }

    private void Add(List<ElementStatus> list, ElementRange range, ElementType type)
    {
        for (var i = 0; i < range.Count; i++)
        {
            var address = (ushort)(range.FirstAddress + i);
            var full = _media.TryGetValue(address, out var m);
            var exception = Exceptions.TryGetValue(address, out var sense);
            list.Add(new ElementStatus(
                address,
                type,
                full,
                full ? m!.Barcode : null,
                full ? m!.Source : null,
                Accessible: !Inaccessible.Contains(address),
                Exception: exception,
                AdditionalSenseCode: sense.Asc,
                AdditionalSenseQualifier: sense.Ascq,
                PlacedByOperator: full && m!.ByOperator));
        }
    }

    private sealed record Medium(string Barcode, ushort? Source, bool ByOperator);
}

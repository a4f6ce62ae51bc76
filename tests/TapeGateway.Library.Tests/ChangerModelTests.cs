using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Catalog;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi;
using TapeGateway.Scsi.Smc;
using ElementType = TapeGateway.Scsi.Smc.ElementType;

namespace TapeGateway.Library.Tests;

/// <summary>
/// Model-based random test of the SMC-3 medium changer at the SCSI level, over the real library backend (SQLite catalog
/// in a temp directory, real SSC drive units with tape images, changer and drives as LUNs of one target). A reference
/// model that knows the element map, which element holds which cartridge and where each came from, the changer's
/// PREVENT ALLOW state per I_T nexus, opened import/export elements, each drive's cartridge, threading and prevention,
/// and the pending unit attentions of both nexuses gets the same random commands as the target: MOVE MEDIUM, EXCHANGE
/// MEDIUM, POSITION TO ELEMENT, INITIALIZE ELEMENT STATUS (WITH RANGE), PREVENT ALLOW MEDIUM REMOVAL, OPEN/CLOSE
/// IMPORT/EXPORT ELEMENT, TEST UNIT READY and REQUEST SENSE on the changer; PREVENT ALLOW, LOAD UNLOAD and TEST UNIT
/// READY on the drives; and tapes created and deleted behind the initiators' backs through the library's operator API.
/// Status, sense key, ASC/ASCQ and the sense-key specific field pointer must agree; after every operation READ ELEMENT
/// STATUS (random type, start, count, VOLTAG, DVCID, CURDATA, allocation length) is parsed field by field against the
/// model.
/// </summary>
/// <remarks>
/// Where SMC-3 leaves the answer to the device, the model takes the implementation's choice; each such place says
/// so. A failure names the seed, the operation index, the model's inventory and the operations before it.
/// </remarks>
public sealed class ChangerModelTests
{
    private const int OperationsPerSeed = 300;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    public async Task RandomOperations_ChangerMatchesSmc3Model(int seed)
    {
        var layout = Layouts[seed % Layouts.Length];
        await using var rig = await ChangerRig.StartAsync(layout);
        var run = new ModelRun(rig, layout, seed);
        await run.SetUpAsync();
        for (var i = 0; i < OperationsPerSeed; i++)
        {
            await run.StepAsync(i);
        }

        run.AssertCoverage(OperationsPerSeed);
    }

    /// <summary>
    /// The element maps the three personalities' hardware uses for 6 slots, 3 mailslots and 2 drives (SMC-3 page 1Dh),
    /// and their Device Capabilities matrices (page 1Fh): written out here, not read from the implementation.
    /// </summary>
    internal static readonly LibraryLayout[] Layouts =
    [
        new("AWS-Gateway-VTL", Storage: 1, ImportExport: 7, DataTransfer: 10001, ImportExportToImportExport: false, Exchange: true,
            Invalid: [10, 11, 1000, 10000, 10003, 0x8000, 0xFFFF]),
        new("STK-L700", Storage: 1000, ImportExport: 10, DataTransfer: 500, ImportExportToImportExport: true, Exchange: false,
            Invalid: [1, 9, 13, 499, 502, 999, 1006, 0xFFFF]),
        new("IBM-03584L32-0402", Storage: 0x401, ImportExport: 0x301, DataTransfer: 0x101, ImportExportToImportExport: true, Exchange: false,
            Invalid: [1, 0x100, 0x103, 0x300, 0x304, 0x400, 0x407, 0xFFFF]),
    ];
}

internal sealed record LibraryLayout(
    string Personality,
    ushort Storage,
    ushort ImportExport,
    ushort DataTransfer,
    bool ImportExportToImportExport,
    bool Exchange,
    ushort[] Invalid)
{
    public const int StorageCount = 6;
    public const int ImportExportCount = 3;
    public const int DriveCount = 2;
    public const ushort Transport = 0;

    public ElementType? TypeOf(ushort address) =>
        address == Transport ? ElementType.MediumTransport
        : address >= Storage && address < Storage + StorageCount ? ElementType.Storage
        : address >= ImportExport && address < ImportExport + ImportExportCount ? ElementType.ImportExport
        : address >= DataTransfer && address < DataTransfer + DriveCount ? ElementType.DataTransfer
        : null;

    public IEnumerable<ushort> AddressesOf(ElementType type) => type switch
    {
        ElementType.MediumTransport => [Transport],
        ElementType.Storage => Range(Storage, StorageCount),
        ElementType.ImportExport => Range(ImportExport, ImportExportCount),
        ElementType.DataTransfer => Range(DataTransfer, DriveCount),
        _ => [],
    };

    public IEnumerable<ushort> AllAddresses =>
        new[] { ElementType.MediumTransport, ElementType.Storage, ElementType.ImportExport, ElementType.DataTransfer }
            .SelectMany(AddressesOf).Order();

    /// <summary>MOVE MEDIUM matrix: every storing type to every storing type, except I/E → I/E where the personality says so.</summary>
    public bool MoveAllowed(ElementType from, ElementType to) =>
        from is not ElementType.MediumTransport && to is not ElementType.MediumTransport
        && (ImportExportToImportExport || !(from == ElementType.ImportExport && to == ElementType.ImportExport));

    /// <summary>EXCHANGE MEDIUM matrix (AWS only): between storage and data transfer elements.</summary>
    public bool ExchangeAllowed(ElementType a, ElementType b) =>
        Exchange && a is ElementType.Storage or ElementType.DataTransfer && b is ElementType.Storage or ElementType.DataTransfer;

    private static IEnumerable<ushort> Range(ushort first, int count) => Enumerable.Range(first, count).Select(a => (ushort)a);
}

/// <summary>
/// The library composed as in production (single-target layout: changer at LUN 0, drives at LUNs 1 and 2) on a fresh
/// catalog in a temp directory, with two logged-in I_T nexuses.
/// </summary>
internal sealed class ChangerRig : IAsyncDisposable
{
    public const ushort ChangerLun = 0;

    private readonly ServiceProvider _services;
    private readonly TapeLibraryService _service;
    private readonly string _directory;

    private ChangerRig(ServiceProvider services, TapeLibraryService service, string directory, ScsiTargetDevice target)
    {
        _services = services;
        _service = service;
        _directory = directory;
        Target = target;
        A = new ItNexus("iqn.1994-05.com.example:model-a", 0x23D000000001, target.Name, 1);
        B = new ItNexus("iqn.1994-05.com.example:model-b", 0x23D000000002, target.Name, 1);
        target.NexusCreated(A);
        target.NexusCreated(B);
    }

    public ScsiTargetDevice Target { get; }

    public ItNexus A { get; }

    public ItNexus B { get; }

    public TapeLibrary Library => _services.GetRequiredService<TapeLibrary>();

    public static ushort DriveLun(int index) => (ushort)(1 + index);

    public static async Task<ChangerRig> StartAsync(LibraryLayout layout)
    {
        var directory = Directory.CreateTempSubdirectory("tg-changer-model-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["TapeGateway:DataDirectory"] = directory,
            ["TapeGateway:Library:ChangerPersonality"] = layout.Personality,
            ["TapeGateway:Library:Drives"] = LibraryLayout.DriveCount.ToString(CultureInfo.InvariantCulture),
            ["TapeGateway:Library:StorageSlots"] = LibraryLayout.StorageCount.ToString(CultureInfo.InvariantCulture),
            ["TapeGateway:Library:ImportExportSlots"] = LibraryLayout.ImportExportCount.ToString(CultureInfo.InvariantCulture),
            ["TapeGateway:Library:AllowSmallTapes"] = "true",
            ["TapeGateway:Library:Layout"] = "SingleTarget",
            ["TapeGateway:Library:ChangerLun"] = ChangerLun.ToString(CultureInfo.InvariantCulture),
            ["TapeGateway:Library:FirstDriveLun"] = "1",
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSingleton<IExportHandler, RecordingExportHandler>();
        var registry = new ScsiTargetRegistry();
        services.AddSingleton(registry);
        Assert.True(services.AddTapeLibrary(configuration));
        var provider = services.BuildServiceProvider();
        foreach (var hosted in provider.GetServices<IHostedService>().Where(h => h.GetType().Name == "CatalogMigrationService"))
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        var service = provider.GetRequiredService<TapeLibraryService>();
        await service.StartAsync(CancellationToken.None);
        var target = registry.Devices.Single(d => d.Name == service.ChangerTargetName);
        return new ChangerRig(provider, service, directory, target);
    }

    public async Task<ScsiTask> RunAsync(ItNexus nexus, ushort lun, byte[] cdb)
    {
        var task = new ScsiTask();
        var full = new byte[Math.Max(16, cdb.Length)];
        cdb.CopyTo(full, 0);
        task.SetCdb(full);
        task.Nexus = nexus;
        task.Lun = new Lun(lun);
        await Target.ExecuteAsync(task);
        return task;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _service.StopAsync(CancellationToken.None);
            _service.Dispose();
            _services.GetRequiredService<CatalogConnectionFactory>().ClearPool();
            await _services.DisposeAsync();
        }
        finally
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>
/// A cartridge as the model knows it. <see cref="Source"/>: the last storage or I/E element it was moved from (null:
/// not moved since the operator API placed it).
/// </summary>
internal sealed record Cartridge(string Barcode, bool Incompatible, ushort? Source = null);

/// <summary>One pending unit attention (sense key UNIT ATTENTION, this ASC/ASCQ).</summary>
internal readonly record struct UnitAttention(byte Asc, byte Ascq)
{
    public static readonly UnitAttention MediumMayHaveChanged = new(0x28, 0x00);
    public static readonly UnitAttention ImportExportAccessed = new(0x28, 0x01);

    public override string ToString() => $"UA {Asc:X2}/{Ascq:X2}";
}

/// <summary>What the model says a command must answer: GOOD (<see cref="Key"/> 0) or CHECK CONDITION with this sense.</summary>
/// <param name="FieldByte">Sense-key specific field pointer (C/D=1) expected at this CDB byte; -1: SKSV must be 0.</param>
/// <param name="FieldBit">Bit pointer (BPV=1) expected; -1: BPV must be 0.</param>
internal readonly record struct Expected(string Kind, byte Key, byte Asc = 0, byte Ascq = 0, int FieldByte = -1, int FieldBit = -1)
{
    public bool IsGood => Key == 0;

    public static Expected Good(string kind) => new(kind, 0);

    public static Expected IllegalRequest(string kind, byte asc, byte ascq, int fieldByte = -1, int fieldBit = -1) =>
        new(kind, 0x05, asc, ascq, fieldByte, fieldBit);

    public static Expected From(UnitAttention ua) => new(ua.ToString(), 0x06, ua.Asc, ua.Ascq);

    public override string ToString() =>
        IsGood ? "GOOD" : $"CHECK CONDITION {Key:X}/{Asc:X2}/{Ascq:X2}{(FieldByte >= 0 ? $" @byte {FieldByte}" + (FieldBit >= 0 ? $" bit {FieldBit}" : "") : "")}";
}

internal sealed class DriveModel
{
    public bool Threaded { get; set; }

    public HashSet<int> Preventers { get; } = [];

    public List<UnitAttention>[] Pending { get; } = [[], []];
}

/// <summary>
/// The reference library: which element holds which cartridge, the changer's SCSI state and the drives' state, written
/// from SMC-3 / SPC-4 / SSC-4 and the layout alone.
/// </summary>
internal sealed class LibraryModel(LibraryLayout layout)
{
    public LibraryLayout Layout { get; } = layout;

    public SortedDictionary<ushort, Cartridge> Slots { get; } = [];

    /// <summary>I_T nexuses (0 = A, 1 = B) holding PREVENT ALLOW MEDIUM REMOVAL on the changer.</summary>
    public HashSet<int> ChangerPreventers { get; } = [];

    public HashSet<ushort> OpenImportExport { get; } = [];

    public DriveModel[] Drives { get; } = [new(), new()];

    public List<UnitAttention>[] ChangerPending { get; } = [[], []];

    public bool Full(ushort address) => Slots.ContainsKey(address);

    public bool Storing(ushort address) => Layout.TypeOf(address) is ElementType.Storage or ElementType.ImportExport or ElementType.DataTransfer;

    public int DriveIndex(ushort address) => address - Layout.DataTransfer;

    public bool DrivePrevented(ushort address) => Layout.TypeOf(address) == ElementType.DataTransfer && Drives[DriveIndex(address)].Preventers.Count > 0;

    /// <summary>SPC-4 unit attention conditions: one queue per I_T nexus, oldest first; a condition already pending is not queued again.</summary>
    public static void Queue(List<UnitAttention> pending, UnitAttention ua)
    {
        if (!pending.Contains(ua))
        {
            pending.Add(ua);
        }
    }

    public static UnitAttention? Take(List<UnitAttention> pending)
    {
        if (pending.Count == 0)
        {
            return null;
        }

        var ua = pending[0];
        pending.RemoveAt(0);
        return ua;
    }

    public void QueueChanger(UnitAttention ua, int? except = null)
    {
        for (var n = 0; n < ChangerPending.Length; n++)
        {
            if (n != except)
            {
                Queue(ChangerPending[n], ua);
            }
        }
    }

    /// <summary>
    /// The robot carries the cartridge: SOURCE STORAGE ELEMENT ADDRESS becomes the element it left when that was a
    /// storage or I/E element (SMC-3: "the last storage element this unit of media was moved from"); leaving a drive
    /// keeps the slot it was loaded from, so a slot reports where its cartridge was before the drive, as mtx expects.
    /// A drive that gets a cartridge threads it and tells every nexus NOT READY TO READY CHANGE (SSC-4 load model).
    /// </summary>
    public void Carry(ushort from, ushort to)
    {
        var cartridge = Slots[from];
        Slots.Remove(from);
        var fromType = Layout.TypeOf(from);
        Slots[to] = fromType is ElementType.Storage or ElementType.ImportExport ? cartridge with { Source = from } : cartridge;
        if (fromType == ElementType.DataTransfer)
        {
            Drives[DriveIndex(from)].Threaded = false;
        }

        if (Layout.TypeOf(to) == ElementType.DataTransfer)
        {
            var drive = Drives[DriveIndex(to)];
            drive.Threaded = true;
            foreach (var pending in drive.Pending)
            {
                Queue(pending, UnitAttention.MediumMayHaveChanged);
            }
        }
    }

    /// <summary>What READ ELEMENT STATUS shows: cartridges, their sources, opened mailslots.</summary>
    public string Inventory() =>
        string.Join(" ", Slots.Select(s => $"{s.Key}={s.Value.Barcode}<{s.Value.Source}")) + " open " + string.Join(" ", OpenImportExport);

    public string Describe()
    {
        var sb = new StringBuilder();
        foreach (var address in Layout.AllAddresses)
        {
            var type = Layout.TypeOf(address)!.Value;
            sb.Append(CultureInfo.InvariantCulture, $"{Short(type)}{address}=");
            if (Slots.TryGetValue(address, out var c))
            {
                sb.Append(c.Barcode);
                if (c.Source is { } s)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"<{s}");
                }
            }
            else
            {
                sb.Append('-');
            }

            if (type == ElementType.DataTransfer)
            {
                var d = Drives[DriveIndex(address)];
                sb.Append(d.Threaded ? "(threaded)" : Full(address) ? "(unloaded)" : "");
                if (d.Preventers.Count > 0)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"(prevented by {string.Join("+", d.Preventers.Select(Nexus))})");
                }
            }

            if (OpenImportExport.Contains(address))
            {
                sb.Append("(open)");
            }

            sb.Append(' ');
        }

        sb.Append(CultureInfo.InvariantCulture, $"| changer prevent: {(ChangerPreventers.Count == 0 ? "none" : string.Join("+", ChangerPreventers.Select(Nexus)))}");
        sb.Append(CultureInfo.InvariantCulture, $" | pending UA A: [{string.Join(", ", ChangerPending[0])}] B: [{string.Join(", ", ChangerPending[1])}]");
        return sb.ToString();
    }

    public static string Nexus(int n) => n == 0 ? "A" : "B";

    public static string Short(ElementType type) => type switch
    {
        ElementType.MediumTransport => "MT",
        ElementType.Storage => "ST",
        ElementType.ImportExport => "IE",
        ElementType.DataTransfer => "DT",
        _ => "?",
    };
}

/// <summary>One seed's run: generates operations, applies each to the model and the target, compares, verifies the inventory.</summary>
internal sealed class ModelRun
{
    /// <summary>DVCID serial width of IBM's LTO libraries (identifier length 34); longer drive serials widen it.</summary>
    private const int DvcidSerialWidth = 10;
    private const int HistoryShown = 10;
    private const int MaxAllocation = 0xFF_FFFF;
    private const long TapeCapacity = 16L * 1024 * 1024;

    private static readonly ElementType[] StoringTypes = [ElementType.Storage, ElementType.ImportExport, ElementType.DataTransfer];

    private readonly ChangerRig _rig;
    private readonly LibraryLayout _layout;
    private readonly int _seed;
    private readonly Random _rng;
    private readonly LibraryModel _model;
    private readonly ItNexus[] _nexus;
    private readonly Queue<string> _history = new();
    private readonly Dictionary<string, int> _outcomes = new(StringComparer.Ordinal);
    private readonly (string Vendor, string Product, string Serial)[] _driveIdentity = new (string, string, string)[LibraryLayout.DriveCount];
    private int _nextBarcode = 1;
    private int _index = -1;

    public ModelRun(ChangerRig rig, LibraryLayout layout, int seed)
    {
        _rig = rig;
        _layout = layout;
        _seed = seed;
        _rng = new Random(seed);
        _model = new LibraryModel(layout);
        _nexus = [rig.A, rig.B];
    }

    private ushort[] StoringAddresses => [.. StoringTypes.SelectMany(_layout.AddressesOf)];

    // ---- set-up -------------------------------------------------------------------------------------------------

    public async Task SetUpAsync()
    {
        // Power-on unit attentions (29/00) of both nexuses on every LU are not the subject here.
        foreach (var nexus in _nexus)
        {
            foreach (var lun in new[] { ChangerRig.ChangerLun, ChangerRig.DriveLun(0), ChangerRig.DriveLun(1) })
            {
                for (var i = 0; i < 8; i++)
                {
                    var sense = await _rig.RunAsync(nexus, lun, [0x03, 0, 0, 0, 252, 0]);
                    if ((sense.DataIn.Span[2] & 0x0F) == 0)
                    {
                        break;
                    }
                }
            }
        }

        // What DVCID must report: the drives' own INQUIRY identity and unit serial number (VPD 80h).
        for (var d = 0; d < LibraryLayout.DriveCount; d++)
        {
            var std = (await _rig.RunAsync(_rig.A, ChangerRig.DriveLun(d), [0x12, 0, 0, 0, 96, 0])).DataIn.ToArray();
            var vpd = (await _rig.RunAsync(_rig.A, ChangerRig.DriveLun(d), [0x12, 1, 0x80, 0, 255, 0])).DataIn.ToArray();
            _driveIdentity[d] = (
                Encoding.ASCII.GetString(std, 8, 8).TrimEnd(),
                Encoding.ASCII.GetString(std, 16, 16).TrimEnd(),
                Encoding.ASCII.GetString(vpd, 4, vpd[3]).TrimEnd());
        }

        // The element map the changer reports (MODE SENSE page 1Dh) is the one the model was written for.
        var page = (await _rig.RunAsync(_rig.A, ChangerRig.ChangerLun, [0x1A, 0x08, 0x1D, 0, 255, 0])).DataIn.ToArray()[4..];
        ushort At(int offset) => BinaryPrimitives.ReadUInt16BigEndian(page.AsSpan(offset));
        Assert.Equal(
            (LibraryLayout.Transport, 1, _layout.Storage, LibraryLayout.StorageCount,
                _layout.ImportExport, LibraryLayout.ImportExportCount, _layout.DataTransfer, LibraryLayout.DriveCount),
            (At(2), (int)At(4), At(6), (int)At(8), At(10), (int)At(12), At(14), (int)At(16)));

        for (var i = 0; i < 4; i++)
        {
            await CreateTapeAsync(TapePlacement.Storage, compatible: true);
        }

        await CreateTapeAsync(TapePlacement.ImportExport, compatible: true);
        await CreateTapeAsync(TapePlacement.ImportExport, compatible: false);
        await VerifyAsync(wholeInventory: true);
    }

    // ---- one step -----------------------------------------------------------------------------------------------

    public async Task StepAsync(int index)
    {
        _index = index;
        var before = _model.Inventory();
        if (_rng.Next(100) < 35 && Directed() is { } directed)
        {
            await directed();
            await VerifyAsync(wholeInventory: _model.Inventory() != before);
            return;
        }

        var r = _rng.Next(100);
        switch (r)
        {
            case < 38:
                await MoveAsync();
                break;
            case < 45:
                await ExchangeAsync();
                break;
            case < 48:
                await PositionAsync();
                break;
            case < 51:
                await InitializeAsync();
                break;
            case < 58:
                await PreventChangerAsync();
                break;
            case < 64:
                await OpenCloseAsync();
                break;
            case < 67:
                await ChangerAsync("TEST UNIT READY", PickNexus(), new byte[6], () => Expected.Good("tur"));
                break;
            case < 70:
                await RequestSenseAsync();
                break;
            case < 76:
                await PreventDriveAsync();
                break;
            case < 81:
                await LoadUnloadAsync();
                break;
            case < 84:
                await DriveTestUnitReadyAsync();
                break;
            case < 92:
                await CreateTapeAsync(_rng.Next(5) < 3 ? TapePlacement.ImportExport : TapePlacement.Storage, compatible: _rng.Next(4) != 0);
                break;
            default:
                await DeleteTapeAsync();
                break;
        }

        await VerifyAsync(wholeInventory: _model.Inventory() != before);
    }

    /// <summary>The run reached every kind of outcome worth checking, so it cannot pass by never getting there.</summary>
    public void AssertCoverage(int operations)
    {
        var missing = Required().Where(k => _outcomes.GetValueOrDefault(k) == 0).ToList();
        Assert.True(
            missing.Count == 0,
            $"seed {_seed} ({_layout.Personality}): no {string.Join(", ", missing)} in {operations} operations; seen: " +
            string.Join(", ", _outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));
    }

    private List<string> Required()
    {
        var required = new List<string>
        {
            "move ok ST>ST", "move ok ST>IE", "move ok ST>DT", "move ok IE>ST", "move ok IE>DT", "move ok DT>ST", "move ok DT>IE", "move ok DT>DT",
            "move 3B/0E", "move 3B/0D", "move 21/01", "move 21/01 transport", "move 24/00", "move 53/02 changer", "move 53/02 drive", "move 04/03",
            "move 30/00", "position ok", "position 21/01", "open", "close", "open 53/02", "prevent 24/00",
            "UA 28/00 A", "UA 28/00 B", "UA 28/01 A", "UA 28/01 B", "request sense UA", "request sense no sense",
            "drive unload", "drive reload", "drive unload 53/02", "create IE", "create ST", "delete", "delete refused in drive",
            "RES full", "RES truncated", "RES 21/01", "RES 24/00", "RES DVCID", "RES VOLTAG",
        };
        required.Add(_layout.ImportExportToImportExport ? "move ok IE>IE" : "move 21/01 matrix");
        required.AddRange(_layout.Exchange
            ? ["exchange ok", "exchange ok swap", "exchange 3B/0E", "exchange 3B/0D", "exchange 21/01 matrix"]
            : ["exchange 20/00"]);
        return required;
    }

    // ---- directed steps: reach the outcomes random choices have not reached yet ----------------------------------

    /// <summary>
    /// One operation towards an outcome not seen yet (it may first have to fill or empty an element, allow removal,
    /// close a mailslot…); null when there is nothing to aim for or no recipe. Still an ordinary operation: the model
    /// decides what the target must answer.
    /// </summary>
    private Func<Task>? Directed()
    {
        var missing = Required().Where(k => _outcomes.GetValueOrDefault(k) == 0).ToList();
        return missing.Count == 0 ? null : Plan(Pick(missing));
    }

    private Func<Task>? Plan(string goal)
    {
        ushort St(int i = 0) => _layout.AddressesOf(ElementType.Storage).ElementAt(i);
        var ie = _layout.AddressesOf(ElementType.ImportExport).Where(a => !_model.OpenImportExport.Contains(a)).ToList();
        switch (goal)
        {
            case var g when g.StartsWith("move ok ", StringComparison.Ordinal) && g.Length == 13:
                return PlanMove(TypeNamed(g[8..10]), TypeNamed(g[11..13]));
            case "move 3B/0E":
                return EnsureEmpty(ElementType.Storage) ?? Unblock() ?? (() => MoveAsync(0, Empty(ElementType.Storage)[0], St(_rng.Next(LibraryLayout.StorageCount))));
            case "move 3B/0D":
                return EnsureFull(ElementType.Storage, 2) ?? Unblock() ?? (() => MoveAsync(0, Full(ElementType.Storage)[0], Full(ElementType.Storage)[1]));
            case "move 21/01":
                return () => MoveAsync(0, Pick(_layout.Invalid), St());
            case "move 21/01 transport":
                return () => MoveAsync(0, St(), St(1), transport: Pick(_layout.Invalid));
            case "move 24/00":
                return () => MoveAsync(0, St(), St(1), invert: true);
            case "move 21/01 matrix":
                return () => MoveAsync(0, _layout.ImportExport, (ushort)(_layout.ImportExport + 1));
            case "move 53/02 changer":
                return Unblock() ?? (_model.ChangerPreventers.Count == 0 ? () => PreventChangerAsync(0, 1) : () => MoveAsync(0, St(), Pick(ie)));
            case "move 53/02 drive":
                {
                    if ((Unblock() ?? EnsureFull(ElementType.DataTransfer) ?? EnsureEmpty(ElementType.Storage)) is { } step)
                    {
                        return step;
                    }

                    var drive = Full(ElementType.DataTransfer)[0];
                    return _model.DrivePrevented(drive)
                        ? () => MoveAsync(0, drive, Empty(ElementType.Storage)[0])
                        : () => PreventDriveAsync(0, _model.DriveIndex(drive), 1);
                }

            case "move 04/03":
                return AllowChanger() ?? (_model.OpenImportExport.Count == 0
                    ? () => OpenCloseAsync(0, _layout.ImportExport, 0)
                    : () => MoveAsync(0, St(), _model.OpenImportExport.First()));
            case "move 30/00":
                {
                    if ((Unblock() ?? EnsureEmpty(ElementType.DataTransfer)) is { } step)
                    {
                        return step;
                    }

                    var incompatible = _model.Slots.Where(c => c.Value.Incompatible && _layout.TypeOf(c.Key) != ElementType.DataTransfer).Select(c => c.Key).ToList();
                    return incompatible.Count == 0
                        ? EnsureEmpty(ElementType.Storage) ?? (() => CreateTapeAsync(TapePlacement.Storage, compatible: false))
                        : () => MoveAsync(0, incompatible[0], Empty(ElementType.DataTransfer)[0]);
                }

            case "open":
                return AllowChanger() ?? (() => OpenCloseAsync(0, _layout.ImportExport, 0));
            case "close":
                return _model.OpenImportExport.Count == 0 ? Plan("open") : () => OpenCloseAsync(0, _model.OpenImportExport.First(), 1);
            case "open 53/02":
                return _model.ChangerPreventers.Count == 0 ? () => PreventChangerAsync(1, 1) : () => OpenCloseAsync(0, _layout.ImportExport, 0);
            case "prevent 24/00":
                return () => PreventChangerAsync(0, 2);
            case "position ok":
                return () => PositionAsync(0, Pick(StoringAddresses));
            case "position 21/01":
                return () => PositionAsync(0, Pick(_layout.Invalid));
            case "request sense no sense":
                {
                    var quiet = Enumerable.Range(0, 2).Where(n => _model.ChangerPending[n].Count == 0).ToList();
                    return quiet.Count > 0 ? () => RequestSenseAsync(quiet[0], descriptor: false) : () => RequestSenseAsync(0, descriptor: false);
                }

            case "UA 28/01 A":
            case "UA 28/01 B":
                {
                    // The other nexus moves a cartridge through a mailslot; this one's next command reports it.
                    var nexus = goal.EndsWith('A') ? 0 : 1;
                    if (_model.ChangerPending[nexus].Contains(UnitAttention.ImportExportAccessed))
                    {
                        return () => ChangerAsync("TEST UNIT READY", nexus, new byte[6], () => Expected.Good("tur"));
                    }

                    if ((AllowChanger() ?? Unblock() ?? EnsureFull(ElementType.ImportExport) ?? EnsureEmpty(ElementType.Storage)) is { } step)
                    {
                        return step;
                    }

                    return () => MoveAsync(1 - nexus, Full(ElementType.ImportExport)[0], Empty(ElementType.Storage)[0]);
                }

            case "request sense UA":
                {
                    var waiting = Enumerable.Range(0, 2).Where(n => _model.ChangerPending[n].Count > 0).ToList();
                    return waiting.Count > 0
                        ? () => RequestSenseAsync(waiting[0], descriptor: false)
                        : EnsureEmpty(ElementType.ImportExport) ?? (() => CreateTapeAsync(TapePlacement.ImportExport, compatible: true));
                }

            case "drive unload":
            case "drive reload":
            case "drive unload 53/02":
                {
                    if (EnsureFull(ElementType.DataTransfer) is { } step)
                    {
                        return step;
                    }

                    var drive = _model.DriveIndex(Full(ElementType.DataTransfer)[0]);
                    var model = _model.Drives[drive];
                    var wantPrevented = goal == "drive unload 53/02";
                    var wantThreaded = goal != "drive reload";
                    if (model.Threaded != wantThreaded)
                    {
                        return model.Threaded
                            ? AllowDrive(drive) ?? (() => LoadUnloadAsync(0, drive, load: false))
                            : () => LoadUnloadAsync(0, drive, load: true);
                    }

                    if (wantPrevented && model.Preventers.Count == 0)
                    {
                        return () => PreventDriveAsync(0, drive, 1);
                    }

                    return (!wantPrevented && wantThreaded ? AllowDrive(drive) : null) ?? (() => LoadUnloadAsync(0, drive, load: !wantThreaded));
                }

            case "delete refused in drive":
                return EnsureFull(ElementType.DataTransfer) ?? (() => DeleteTapeAsync(Full(ElementType.DataTransfer)[0]));
            case "create IE":
                return EnsureEmpty(ElementType.ImportExport) ?? (() => CreateTapeAsync(TapePlacement.ImportExport, compatible: true));
            case "create ST":
                return EnsureEmpty(ElementType.Storage) ?? (() => CreateTapeAsync(TapePlacement.Storage, compatible: true));
            case "delete":
                return EnsureFull(ElementType.Storage) ?? (() => DeleteTapeAsync(Full(ElementType.Storage)[0]));
            case "exchange ok":
            case "exchange ok swap":
                return EnsureFull(ElementType.Storage, 2) ?? EnsureEmpty(ElementType.Storage) ?? (() =>
                {
                    var full = Full(ElementType.Storage);
                    return ExchangeAsync(0, full[0], full[1], goal == "exchange ok" ? Empty(ElementType.Storage)[0] : full[0]);
                });
            case "exchange 3B/0E":
                return EnsureEmpty(ElementType.Storage) ?? (() => ExchangeAsync(0, Empty(ElementType.Storage)[0], St(), St(1)));
            case "exchange 3B/0D":
                return EnsureFull(ElementType.Storage, 3) ?? (() =>
                {
                    var full = Full(ElementType.Storage);
                    return ExchangeAsync(0, full[0], full[1], full[2]);
                });
            case "exchange 21/01 matrix":
                return () => ExchangeAsync(0, St(), _layout.ImportExport, St(1));
            case "exchange 20/00":
                return () => ExchangeAsync(0, St(), St(1), St(2));
            default:
                return null;
        }
    }

    /// <summary>Towards a successful MOVE MEDIUM from a <paramref name="from"/> element to a <paramref name="to"/> element.</summary>
    private Func<Task>? PlanMove(ElementType from, ElementType to)
    {
        if (((to == ElementType.ImportExport ? AllowChanger() : null) ?? Unblock()) is { } unblock)
        {
            return unblock;
        }

        if (from == ElementType.DataTransfer && to == ElementType.DataTransfer)
        {
            // One drive full, the other empty.
            var drives = _layout.AddressesOf(ElementType.DataTransfer).ToList();
            if (drives.All(_model.Full))
            {
                return EmptyDrive(drives[1]);
            }
        }

        if ((EnsureFull(from, 1, compatible: to == ElementType.DataTransfer) ?? EnsureEmpty(to)) is { } step)
        {
            return step;
        }

        var sources = Full(from).Where(a => to != ElementType.DataTransfer || !_model.Slots[a].Incompatible).ToList();
        var source = sources[0];
        return (from == ElementType.DataTransfer ? AllowDrive(_model.DriveIndex(source)) : null)
            ?? (() => MoveAsync(PickNexus(), source, Empty(to)[0]));
    }

    private static ElementType TypeNamed(string name) => name switch
    {
        "ST" => ElementType.Storage,
        "IE" => ElementType.ImportExport,
        _ => ElementType.DataTransfer,
    };

    /// <summary>Full elements of a type (mailslots an initiator opened do not count: the robot cannot reach them).</summary>
    private List<ushort> Full(ElementType type) =>
        [.. _layout.AddressesOf(type).Where(a => _model.Full(a) && !_model.OpenImportExport.Contains(a))];

    private List<ushort> Empty(ElementType type) =>
        [.. _layout.AddressesOf(type).Where(a => !_model.Full(a) && !_model.OpenImportExport.Contains(a))];

    private Func<Task>? Unblock() =>
        _model.OpenImportExport.Count > 0 ? () => OpenCloseAsync(0, _model.OpenImportExport.First(), 1) : null;

    private Func<Task>? AllowChanger() =>
        _model.ChangerPreventers.Count > 0 ? () => PreventChangerAsync(_model.ChangerPreventers.First(), 0) : null;

    private Func<Task>? AllowDrive(int drive) =>
        _model.Drives[drive].Preventers.Count > 0 ? () => PreventDriveAsync(_model.Drives[drive].Preventers.First(), drive, 0) : null;

    /// <summary>A step towards <paramref name="count"/> full elements of the type (compatible cartridges where asked), or null when there are.</summary>
    private Func<Task>? EnsureFull(ElementType type, int count = 1, bool compatible = false)
    {
        var full = Full(type).Where(a => !compatible || !_model.Slots[a].Incompatible).ToList();
        if (full.Count >= count)
        {
            return null;
        }

        if (Unblock() is { } unblock)
        {
            return unblock;
        }

        if (type != ElementType.DataTransfer)
        {
            var placement = type == ElementType.ImportExport ? TapePlacement.ImportExport : TapePlacement.Storage;
            return Empty(type).Count == 0
                ? () => DeleteTapeAsync(_layout.AddressesOf(type).First(a => _model.Full(a) && (!compatible || _model.Slots[a].Incompatible)))
                : () => CreateTapeAsync(placement, compatible: true);
        }

        var drives = Empty(ElementType.DataTransfer);
        if (drives.Count == 0)
        {
            return EmptyDrive(_layout.AddressesOf(ElementType.DataTransfer).First(a => _model.Slots[a].Incompatible));
        }

        var cartridge = Full(ElementType.Storage).Concat(Full(ElementType.ImportExport)).Where(a => !_model.Slots[a].Incompatible).ToList();
        return cartridge.Count == 0
            ? EnsureEmpty(ElementType.Storage) ?? (() => CreateTapeAsync(TapePlacement.Storage, compatible: true))
            : () => MoveAsync(0, cartridge[0], drives[0]);
    }

    /// <summary>A step towards an empty element of the type, or null when there is one.</summary>
    private Func<Task>? EnsureEmpty(ElementType type)
    {
        if (Empty(type).Count > 0)
        {
            return null;
        }

        if (Unblock() is { } unblock)
        {
            return unblock;
        }

        return type == ElementType.DataTransfer
            ? EmptyDrive(_layout.AddressesOf(type).First())
            : () => DeleteTapeAsync(_layout.AddressesOf(type).First());
    }

    private Func<Task> EmptyDrive(ushort drive) =>
        AllowDrive(_model.DriveIndex(drive)) ?? EnsureEmpty(ElementType.Storage) ?? (() => MoveAsync(0, drive, Empty(ElementType.Storage)[0]));

    // ---- MOVE MEDIUM / EXCHANGE MEDIUM / POSITION TO ELEMENT ----------------------------------------------------

    private Task MoveAsync()
    {
        var nexus = PickNexus();
        var (source, destination) = _rng.Next(2) == 0 && TargetedMove() is { } targeted
            ? targeted
            : (PickSource(), PickDestination());
        destination = _rng.Next(14) == 0 ? source : destination;
        var transport = _rng.Next(30) == 0 ? PickNonZeroAddress() : LibraryLayout.Transport;
        var invert = _rng.Next(30) == 0;
        return MoveAsync(nexus, source, destination, transport, invert);
    }

    private Task MoveAsync(int nexus, ushort source, ushort destination, ushort transport = LibraryLayout.Transport, bool invert = false)
    {
        var cdb = new byte[12];
        cdb[0] = 0xA5;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(2), transport);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(4), source);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(6), destination);
        cdb[10] = (byte)(invert ? 1 : 0);
        var text = $"MOVE MEDIUM {Show(source)} -> {Show(destination)}{(transport != 0 ? $" transport {transport}" : "")}{(invert ? " INVERT" : "")}";
        return ChangerAsync(text, nexus, cdb, () => ModelMove(nexus, transport, source, destination, invert));
    }

    /// <summary>
    /// SMC-3 MOVE MEDIUM. The order of the checks (CDB fields, addresses, matrix, opened mailslot, prevention,
    /// then source empty before destination full, incompatible medium, drive prevention) is the implementation's:
    /// SMC-3 does not rank the errors.
    /// </summary>
    private Expected ModelMove(int nexus, ushort transport, ushort source, ushort destination, bool invert)
    {
        if (invert)
        {
            // Page 1Eh ROTATE=0: the transport cannot invert media.
            return Expected.IllegalRequest("move 24/00", 0x24, 0x00, 10, 0);
        }

        if (transport != LibraryLayout.Transport && _layout.TypeOf(transport) != ElementType.MediumTransport)
        {
            return Expected.IllegalRequest("move 21/01 transport", 0x21, 0x01, 2);
        }

        if (!_model.Storing(source))
        {
            return Expected.IllegalRequest("move 21/01", 0x21, 0x01, 4);
        }

        if (!_model.Storing(destination))
        {
            return Expected.IllegalRequest("move 21/01", 0x21, 0x01, 6);
        }

        var from = _layout.TypeOf(source)!.Value;
        var to = _layout.TypeOf(destination)!.Value;
        if (!_layout.MoveAllowed(from, to))
        {
            return Expected.IllegalRequest("move 21/01 matrix", 0x21, 0x01, 6);
        }

        if (_model.OpenImportExport.Contains(source) || _model.OpenImportExport.Contains(destination))
        {
            // The operator has the mailslot (OPEN IMPORT/EXPORT ELEMENT): NOT READY, MANUAL INTERVENTION REQUIRED, the
            // implementation's choice of sense.
            return new Expected("move 04/03", 0x02, 0x04, 0x03);
        }

        if (to == ElementType.ImportExport && _model.ChangerPreventers.Count > 0)
        {
            // PREVENT guards the import/export elements: media may still come in, nothing may go out (Quantum Scalar
            // i6H/i7 SCSI reference, PREVENT ALLOW MEDIUM REMOVAL).
            return Expected.IllegalRequest("move 53/02 changer", 0x53, 0x02);
        }

        if (!_model.Full(source))
        {
            return Expected.IllegalRequest("move 3B/0E", 0x3B, 0x0E);
        }

        if (source == destination)
        {
            // SMC-3 does not forbid it; the implementation treats it as done (the picker puts the cartridge back).
            if (from == ElementType.ImportExport)
            {
                _model.QueueChanger(UnitAttention.ImportExportAccessed, nexus);
            }

            return Expected.Good("move ok same");
        }

        if (_model.Full(destination))
        {
            return Expected.IllegalRequest("move 3B/0D", 0x3B, 0x0D);
        }

        var cartridge = _model.Slots[source];
        if (to == ElementType.DataTransfer && cartridge.Incompatible)
        {
            return Expected.IllegalRequest("move 30/00", 0x30, 0x00);
        }

        if (_model.DrivePrevented(source))
        {
            // The drive holds its cartridge (PREVENT ALLOW MEDIUM REMOVAL on the drive's LU). Without that the library
            // unloads a threaded cartridge itself before taking it: the implementation's model of a drive.
            return Expected.IllegalRequest("move 53/02 drive", 0x53, 0x02);
        }

        _model.Carry(source, destination);
        if (from == ElementType.ImportExport || to == ElementType.ImportExport)
        {
            // The implementation tells the other nexuses their view of the mailslots is stale.
            _model.QueueChanger(UnitAttention.ImportExportAccessed, nexus);
        }

        return Expected.Good($"move ok {LibraryModel.Short(from)}>{LibraryModel.Short(to)}");
    }

    private Task ExchangeAsync()
    {
        var nexus = PickNexus();
        var source = PickSource();
        var first = _rng.Next(10) switch
        {
            < 6 when _model.Slots.Count > 1 => Pick(_model.Slots.Keys.Where(a => a != source)),
            < 8 => PickDestination(),
            _ => PickSource(),
        };
        var second = _rng.Next(100) switch
        {
            < 35 => source,
            < 80 => PickDestination(),
            _ => PickSource(),
        };
        var transport = _rng.Next(40) == 0 ? PickNonZeroAddress() : LibraryLayout.Transport;
        var inv = _rng.Next(30) == 0 ? (byte)_rng.Next(1, 4) : (byte)0;
        return ExchangeAsync(nexus, source, first, second, transport, inv);
    }

    private Task ExchangeAsync(int nexus, ushort source, ushort first, ushort second, ushort transport = LibraryLayout.Transport, byte inv = 0)
    {
        var cdb = new byte[12];
        cdb[0] = 0xA6;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(2), transport);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(4), source);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(6), first);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(8), second);
        cdb[10] = inv;
        var text = $"EXCHANGE MEDIUM {Show(source)} -> {Show(first)} -> {Show(second)}{(transport != 0 ? $" transport {transport}" : "")}{(inv != 0 ? $" INV={inv}" : "")}";
        return ChangerAsync(text, nexus, cdb, () => ModelExchange(nexus, transport, source, first, second, inv));
    }

    /// <summary>
    /// SMC-3 EXCHANGE MEDIUM: the source medium goes to the first destination, the first destination's medium to
    /// the second destination (which may be the source: a swap). Only the AWS personality offers it (page 1Fh bytes
    /// 12-15); the others answer INVALID COMMAND OPERATION CODE like their hardware.
    /// </summary>
    private Expected ModelExchange(int nexus, ushort transport, ushort source, ushort first, ushort second, byte inv)
    {
        if (!_layout.Exchange)
        {
            return Expected.IllegalRequest("exchange 20/00", 0x20, 0x00, 0);
        }

        if ((inv & 0x03) != 0)
        {
            return Expected.IllegalRequest("exchange 24/00", 0x24, 0x00, 10, (inv & 0x01) != 0 ? 0 : 1);
        }

        if (transport != LibraryLayout.Transport && _layout.TypeOf(transport) != ElementType.MediumTransport)
        {
            return Expected.IllegalRequest("exchange 21/01", 0x21, 0x01, 2);
        }

        foreach (var (address, field) in new[] { (source, 4), (first, 6), (second, 8) })
        {
            if (!_model.Storing(address))
            {
                return Expected.IllegalRequest("exchange 21/01", 0x21, 0x01, field);
            }
        }

        var ts = _layout.TypeOf(source)!.Value;
        var tf = _layout.TypeOf(first)!.Value;
        var t2 = _layout.TypeOf(second)!.Value;
        if (!_layout.ExchangeAllowed(ts, tf))
        {
            return Expected.IllegalRequest("exchange 21/01 matrix", 0x21, 0x01, 6);
        }

        if (!_layout.ExchangeAllowed(tf, t2))
        {
            return Expected.IllegalRequest("exchange 21/01 matrix", 0x21, 0x01, 8);
        }

        if (_model.OpenImportExport.Contains(source) || _model.OpenImportExport.Contains(first) || _model.OpenImportExport.Contains(second))
        {
            return new Expected("exchange 04/03", 0x02, 0x04, 0x03);
        }

        if ((tf == ElementType.ImportExport || t2 == ElementType.ImportExport) && _model.ChangerPreventers.Count > 0)
        {
            return Expected.IllegalRequest("exchange 53/02", 0x53, 0x02);
        }

        if (!_model.Full(source) || !_model.Full(first))
        {
            return Expected.IllegalRequest("exchange 3B/0E", 0x3B, 0x0E);
        }

        if (source == first)
        {
            // The implementation's answer (no field pointer: the backend refuses it).
            return Expected.IllegalRequest("exchange 21/01 same", 0x21, 0x01);
        }

        if (second != source && _model.Full(second))
        {
            return Expected.IllegalRequest("exchange 3B/0D", 0x3B, 0x0D);
        }

        var a = _model.Slots[source];
        var b = _model.Slots[first];
        Expected result;

        // The implementation undoes the steps already made (all or nothing, source addresses included). A drive that
        // gave up its cartridge meanwhile has rethreaded it: that part cannot be undone, and its nexuses are told.
        Expected RolledBack(string kind, byte asc, byte ascq)
        {
            _model.Slots[source] = a;
            _model.Slots[first] = b;
            return Expected.IllegalRequest(kind, asc, ascq);
        }
        if (second == source)
        {
            // A swap: the implementation parks the first medium in a free storage slot meanwhile (one picker), so it
            // needs one; without it the answer is MEDIUM DESTINATION ELEMENT FULL.
            var park = _layout.AddressesOf(ElementType.Storage).Where(s => !_model.Full(s)).Select(s => (ushort?)s).FirstOrDefault();
            if (park is not { } p)
            {
                return Expected.IllegalRequest("exchange 3B/0D", 0x3B, 0x0D);
            }

            if (_model.DrivePrevented(first))
            {
                return Expected.IllegalRequest("exchange 53/02", 0x53, 0x02);
            }

            _model.Carry(first, p);
            if (tf == ElementType.DataTransfer && a.Incompatible)
            {
                _model.Carry(p, first);
                return RolledBack("exchange 30/00", 0x30, 0x00);
            }

            if (_model.DrivePrevented(source))
            {
                _model.Carry(p, first);
                return RolledBack("exchange 53/02", 0x53, 0x02);
            }

            _model.Carry(source, first);
            if (ts == ElementType.DataTransfer && b.Incompatible)
            {
                _model.Carry(first, source);
                _model.Carry(p, first);
                return RolledBack("exchange 30/00", 0x30, 0x00);
            }

            _model.Carry(p, source);

            // The parking slot is the robot's business: the medium came from the first destination (SMC-3 SOURCE
            // STORAGE ELEMENT ADDRESS), or, out of a drive, from where it was before the drive.
            _model.Slots[source] = _model.Slots[source] with { Source = tf == ElementType.DataTransfer ? b.Source : first };
            result = Expected.Good("exchange ok swap");
        }
        else
        {
            if (t2 == ElementType.DataTransfer && b.Incompatible)
            {
                return Expected.IllegalRequest("exchange 30/00", 0x30, 0x00);
            }

            if (_model.DrivePrevented(first))
            {
                return Expected.IllegalRequest("exchange 53/02", 0x53, 0x02);
            }

            _model.Carry(first, second);
            if (tf == ElementType.DataTransfer && a.Incompatible)
            {
                _model.Carry(second, first);
                return RolledBack("exchange 30/00", 0x30, 0x00);
            }

            if (_model.DrivePrevented(source))
            {
                _model.Carry(second, first);
                return RolledBack("exchange 53/02", 0x53, 0x02);
            }

            _model.Carry(source, first);
            result = Expected.Good("exchange ok");
        }

        if (ts == ElementType.ImportExport || tf == ElementType.ImportExport || t2 == ElementType.ImportExport)
        {
            _model.QueueChanger(UnitAttention.ImportExportAccessed, nexus);
        }

        return result;
    }

    private Task PositionAsync()
    {
        var nexus = PickNexus();
        var destination = _rng.Next(10) switch
        {
            < 6 => Pick(StoringAddresses),
            < 8 => LibraryLayout.Transport,
            _ => Pick(_layout.Invalid),
        };
        var transport = _rng.Next(20) == 0 ? PickNonZeroAddress() : LibraryLayout.Transport;
        var invert = _rng.Next(20) == 0;
        return PositionAsync(nexus, destination, transport, invert);
    }

    private Task PositionAsync(int nexus, ushort destination, ushort transport = LibraryLayout.Transport, bool invert = false)
    {
        var cdb = new byte[10];
        cdb[0] = 0x2B;
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(2), transport);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(4), destination);
        cdb[8] = (byte)(invert ? 1 : 0);
        return ChangerAsync($"POSITION TO ELEMENT {Show(destination)}{(transport != 0 ? $" transport {transport}" : "")}{(invert ? " INVERT" : "")}", nexus, cdb, () =>
            invert ? Expected.IllegalRequest("position 24/00", 0x24, 0x00, 8, 0)
            : transport != LibraryLayout.Transport ? Expected.IllegalRequest("position 21/01", 0x21, 0x01, 2)
            : !_model.Storing(destination) ? Expected.IllegalRequest("position 21/01", 0x21, 0x01, 4)
            : Expected.Good("position ok"));
    }

    private Task InitializeAsync()
    {
        var nexus = PickNexus();
        if (_rng.Next(3) == 0)
        {
            return ChangerAsync("INITIALIZE ELEMENT STATUS", nexus, [0x07, 0, 0, 0, 0, 0], () => Expected.Good("initialize"));
        }

        var range = _rng.Next(4) != 0;
        var start = _rng.Next(3) == 0 ? Pick(_layout.Invalid) : Pick(_layout.AllAddresses);
        var count = (ushort)_rng.Next(0, 20);
        var cdb = new byte[10];
        cdb[0] = 0x37;
        cdb[1] = (byte)((range ? 0x01 : 0) | (_rng.Next(2) == 0 ? 0x02 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(2), start);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(6), count);

        // With RANGE=0 the whole library is meant and the address fields are ignored; with RANGE=1 the starting
        // address must be an element.
        return ChangerAsync($"INITIALIZE ELEMENT STATUS WITH RANGE range={range} {Show(start)} +{count}", nexus, cdb, () =>
            range && _layout.TypeOf(start) is null
                ? Expected.IllegalRequest("initialize range 21/01", 0x21, 0x01, 2)
                : Expected.Good("initialize range"));
    }

    // ---- PREVENT ALLOW / OPEN CLOSE / REQUEST SENSE -------------------------------------------------------------

    private Task PreventChangerAsync()
    {
        var prevent = _rng.Next(6) == 0 ? (byte)_rng.Next(2, 4) : _rng.Next(10) < 3 ? (byte)1 : (byte)0;

        // ALLOW mostly from a nexus that prevents, so the condition comes and goes.
        var nexus = prevent == 0 && _model.ChangerPreventers.Count > 0 && _rng.Next(4) != 0 ? Pick(_model.ChangerPreventers) : PickNexus();
        return PreventChangerAsync(nexus, prevent);
    }

    private Task PreventChangerAsync(int nexus, byte prevent) =>
        ChangerAsync($"PREVENT ALLOW MEDIUM REMOVAL prevent={prevent}", nexus, [0x1E, 0, 0, 0, prevent, 0], () =>
        {
            if (prevent > 1)
            {
                return Expected.IllegalRequest("prevent 24/00", 0x24, 0x00, 4, 1);
            }

            if (prevent == 1)
            {
                _model.ChangerPreventers.Add(nexus);
            }
            else
            {
                _model.ChangerPreventers.Remove(nexus);
            }

            return Expected.Good("prevent");
        });

    private Task OpenCloseAsync()
    {
        var nexus = PickNexus();
        var address = _rng.Next(6) == 0 ? Pick(_layout.AllAddresses.Concat(_layout.Invalid)) : Pick(_layout.AddressesOf(ElementType.ImportExport));
        var action = _rng.Next(12) == 0 ? (byte)_rng.Next(2, 32) : _rng.Next(5) < 2 ? (byte)0 : (byte)1;
        return OpenCloseAsync(nexus, address, action);
    }

    private Task OpenCloseAsync(int nexus, ushort address, byte action) =>
        ChangerAsync($"OPEN/CLOSE IMPORT/EXPORT ELEMENT {Show(address)} action={action}", nexus, [0x1B, 0, (byte)(address >> 8), (byte)address, action, 0], () =>
        {
            if (action > 1)
            {
                return Expected.IllegalRequest("open/close 24/00", 0x24, 0x00, 4, 4);
            }

            if (_layout.TypeOf(address) != ElementType.ImportExport)
            {
                return Expected.IllegalRequest("open/close 21/01", 0x21, 0x01, 2);
            }

            if (action == 0)
            {
                if (_model.ChangerPreventers.Count > 0)
                {
                    return Expected.IllegalRequest("open 53/02", 0x53, 0x02);
                }

                _model.OpenImportExport.Add(address);
                return Expected.Good("open");
            }

            if (_model.OpenImportExport.Remove(address))
            {
                // The operator may have changed what is in it.
                _model.QueueChanger(UnitAttention.ImportExportAccessed, nexus);
            }

            return Expected.Good("close");
        });

    private Task RequestSenseAsync()
    {
        var waiting = Enumerable.Range(0, 2).Where(n => _model.ChangerPending[n].Count > 0).ToList();
        var nexus = waiting.Count > 0 && _rng.Next(4) != 0 ? Pick(waiting) : PickNexus();
        return RequestSenseAsync(nexus, descriptor: _rng.Next(3) == 0);
    }

    private async Task RequestSenseAsync(int nexus, bool descriptor)
    {
        var task = await _rig.RunAsync(_nexus[nexus], ChangerRig.ChangerLun, [0x03, (byte)(descriptor ? 1 : 0), 0, 0, 252, 0]);
        var ua = LibraryModel.Take(_model.ChangerPending[nexus]);
        var text = $"REQUEST SENSE{(descriptor ? " DESC" : "")}";
        var data = task.DataIn.Span;
        var (key, asc, ascq) = data.Length < 4 ? (0xFF, 0, 0)
            : descriptor ? (data[1] & 0x0F, data[2], data[3])
            : data.Length >= 14 ? (data[2] & 0x0F, data[12], data[13]) : (0xFF, 0, 0);
        var got = $"GOOD sense {key:X}/{asc:X2}/{ascq:X2}";
        Remember(text, nexus, ua is { } u ? $"{u}" : "NO SENSE", task.Status == ScsiStatus.Good ? got : Summarise(task));
        if (task.Status != ScsiStatus.Good || (descriptor ? (data[0] & 0x7F) != 0x72 : (data[0] & 0x7F) != 0x70))
        {
            Fail($"{text}: expected GOOD with {(descriptor ? "descriptor" : "fixed")}-format sense data, got {Summarise(task)} {Convert.ToHexString(data)}");
        }

        // SPC-4 REQUEST SENSE: it reports (and clears) the oldest unit attention; otherwise NO SENSE.
        var expected = ua is { } a ? (6, (int)a.Asc, (int)a.Ascq) : (0, 0, 0);
        if ((key, asc, ascq) != expected)
        {
            Fail($"{text}: sense data {key:X}/{asc:X2}/{ascq:X2}, expected {expected.Item1:X}/{expected.Item2:X2}/{expected.Item3:X2}");
        }

        Count(ua is null ? "request sense no sense" : "request sense UA");
    }

    // ---- drives -------------------------------------------------------------------------------------------------

    private Task PreventDriveAsync()
    {
        var drive = _rng.Next(LibraryLayout.DriveCount);
        var prevent = _rng.Next(15) == 0 ? (byte)_rng.Next(2, 4) : _rng.Next(10) < 3 ? (byte)1 : (byte)0;
        var preventers = _model.Drives[drive].Preventers;
        var nexus = prevent == 0 && preventers.Count > 0 && _rng.Next(4) != 0 ? Pick(preventers) : PickNexus();
        return PreventDriveAsync(nexus, drive, prevent);
    }

    private Task PreventDriveAsync(int nexus, int drive, byte prevent) =>
        DriveAsync($"drive {drive} PREVENT ALLOW MEDIUM REMOVAL prevent={prevent}", nexus, drive, [0x1E, 0, 0, 0, prevent, 0], () =>
        {
            if (prevent > 1)
            {
                return Expected.IllegalRequest("drive prevent 24/00", 0x24, 0x00, 4, 1);
            }

            var preventers = _model.Drives[drive].Preventers;
            if (prevent == 1)
            {
                preventers.Add(nexus);
            }
            else
            {
                preventers.Remove(nexus);
            }

            return Expected.Good("drive prevent");
        });

    /// <summary>SSC-4 LOAD UNLOAD: the initiator unthreads or rethreads the cartridge; it stays in the drive element.</summary>
    private Task LoadUnloadAsync()
    {
        var nexus = PickNexus();
        var drive = _rng.Next(LibraryLayout.DriveCount);
        var unthreaded = _model.Full((ushort)(_layout.DataTransfer + drive)) && !_model.Drives[drive].Threaded;
        var load = _rng.Next(4) < (unthreaded ? 3 : 1);
        return LoadUnloadAsync(nexus, drive, load);
    }

    private Task LoadUnloadAsync(int nexus, int drive, bool load) =>
        DriveAsync($"drive {drive} LOAD UNLOAD load={load}", nexus, drive, [0x1B, 0, 0, 0, (byte)(load ? 1 : 0), 0], () =>
        {
            var model = _model.Drives[drive];
            if (!_model.Full((ushort)(_layout.DataTransfer + drive)))
            {
                return new Expected("drive 3A/00", 0x02, 0x3A, 0x00);
            }

            if (load)
            {
                if (model.Threaded)
                {
                    return Expected.Good("drive load");
                }

                model.Threaded = true;
                LibraryModel.Queue(model.Pending[1 - nexus], UnitAttention.MediumMayHaveChanged);
                return Expected.Good("drive reload");
            }

            if (!model.Threaded)
            {
                return Expected.Good("drive unload again");
            }

            if (model.Preventers.Count > 0)
            {
                return Expected.IllegalRequest("drive unload 53/02", 0x53, 0x02);
            }

            model.Threaded = false;
            return Expected.Good("drive unload");
        });

    private Task DriveTestUnitReadyAsync()
    {
        var drive = _rng.Next(LibraryLayout.DriveCount);
        return DriveAsync($"drive {drive} TEST UNIT READY", PickNexus(), drive, new byte[6], () =>
            _model.Drives[drive].Threaded ? Expected.Good("drive ready") : new Expected("drive 3A/00", 0x02, 0x3A, 0x00));
    }

    // ---- the operator API, behind the initiators' backs ---------------------------------------------------------

    private async Task CreateTapeAsync(TapePlacement placement, bool compatible)
    {
        // LTO-8 media cannot go into the LTO-5 drives: the implementation refuses the load with 30/00.
        var barcode = $"{(compatible ? "MD" : "MX")}{_nextBarcode++:D4}{(compatible ? "L5" : "L8")}";
        var type = placement == TapePlacement.ImportExport ? ElementType.ImportExport : ElementType.Storage;
        var free = _layout.AddressesOf(type).Where(a => !_model.Full(a)).Select(a => (ushort?)a).FirstOrDefault();
        var result = await _rig.Library.CreateTapesAsync(
            new CreateTapesRequest
            {
                LibraryId = _rig.Library.LibraryId,
                Barcodes = [barcode],
                CapacityBytes = TapeCapacity,
                Placement = placement,
                Actor = "model",
            },
            CancellationToken.None);
        var text = $"operator creates {barcode} in {LibraryModel.Short(type)}";
        Remember(text, -1, free is null ? "no free slot" : $"in {free}", result.Succeeded ? $"in {result.Tapes[0].ElementAddress}" : result.Error.ToString());
        if (free is not { } address)
        {
            if (result.Succeeded)
            {
                Fail($"{text}: created although the model has no free {LibraryModel.Short(type)} element");
            }

            return;
        }

        if (!result.Succeeded || result.Tapes[0].ElementAddress != address)
        {
            Fail($"{text}: expected it in {address}, got {(result.Succeeded ? result.Tapes[0].ElementAddress : result.Message)}");
        }

        // Placed by the operator: no source (SVALID=0) and, in a mailslot, IMPEXP=1. Every nexus learns that the
        // inventory changed (the implementation's choice: 28/00 for any change the initiators did not make).
        _model.Slots[address] = new Cartridge(barcode, !compatible);
        _model.QueueChanger(UnitAttention.MediumMayHaveChanged);
        Count(type == ElementType.ImportExport ? "create IE" : "create ST");
    }

    private Task DeleteTapeAsync() => _model.Slots.Count == 0 ? Task.CompletedTask : DeleteTapeAsync(Pick(_model.Slots.Keys));

    private async Task DeleteTapeAsync(ushort address)
    {
        var cartridge = _model.Slots[address];
        var result = await _rig.Library.DeleteTapeAsync(cartridge.Barcode, "model", bypassGovernanceRetention: false, CancellationToken.None);
        var inDrive = _layout.TypeOf(address) == ElementType.DataTransfer;
        var text = $"operator deletes {cartridge.Barcode} in {Show(address)}";
        Remember(text, -1, inDrive ? "refused: in a drive" : "deleted", result.Status.ToString());
        if (inDrive)
        {
            // AWS: a tape in a drive cannot be deleted.
            if (result.Status != DeleteTapeStatus.TapeInDrive)
            {
                Fail($"{text}: expected TapeInDrive, got {result.Status} {result.Message}");
            }

            Count("delete refused in drive");
            return;
        }

        if (!result.Succeeded)
        {
            Fail($"{text}: expected it deleted, got {result.Status} {result.Message}");
        }

        _model.Slots.Remove(address);
        _model.QueueChanger(UnitAttention.MediumMayHaveChanged);
        Count("delete");
    }

    // ---- READ ELEMENT STATUS ------------------------------------------------------------------------------------

    /// <summary>After every operation: one READ ELEMENT STATUS with random fields; the whole inventory too after a change.</summary>
    private async Task VerifyAsync(bool wholeInventory)
    {
        var nexus = _rng.Next(10) < 7 ? 0 : 1;
        var type = _rng.Next(100) switch
        {
            < 3 => _rng.Next(5, 16),
            < 38 => (int)ElementType.All,
            < 46 => (int)ElementType.MediumTransport,
            < 66 => (int)ElementType.Storage,
            < 81 => (int)ElementType.ImportExport,
            _ => (int)ElementType.DataTransfer,
        };
        var start = _rng.Next(10) switch
        {
            < 3 => (ushort)0,
            < 7 => Pick(_layout.AllAddresses),
            < 9 => (ushort)(Pick(_layout.AllAddresses) + 1),
            _ => Pick(_layout.Invalid),
        };
        var count = _rng.Next(20) switch
        {
            < 10 => (ushort)0xFFFF,
            < 17 => (ushort)_rng.Next(1, 7),
            < 18 => (ushort)0,
            _ => (ushort)_rng.Next(7, 40),
        };
        var request = new ReadRequest(type, start, count, VolTag: _rng.Next(2) == 0, Dvcid: _rng.Next(5) < 2, CurData: _rng.Next(3) == 0, Allocation: MaxAllocation);
        var (_, _, fullLength) = Select(request);
        request = _rng.Next(100) switch
        {
            < 55 => request,
            < 62 => request with { Allocation = 0xFFFF },
            _ => request with { Allocation = _rng.Next(0, fullLength + 16) },
        };
        await ReadElementStatusAsync(nexus, request);
        if (wholeInventory)
        {
            await ReadElementStatusAsync(nexus, new ReadRequest((int)ElementType.All, 0, 0xFFFF, VolTag: true, Dvcid: true, CurData: false, MaxAllocation));
        }
    }

    private readonly record struct ReadRequest(int Type, ushort Start, ushort Count, bool VolTag, bool Dvcid, bool CurData, int Allocation)
    {
        public byte[] Cdb()
        {
            var c = new byte[12];
            c[0] = 0xB8;
            c[1] = (byte)((VolTag ? 0x10 : 0) | Type);
            BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), Start);
            BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(4), Count);
            c[6] = (byte)((CurData ? 0x02 : 0) | (Dvcid ? 0x01 : 0));
            c[7] = (byte)(Allocation >> 16);
            c[8] = (byte)(Allocation >> 8);
            c[9] = (byte)Allocation;
            return c;
        }

        public override string ToString() =>
            $"READ ELEMENT STATUS type={Type} start={Start} count={Count}{(VolTag ? " VOLTAG" : "")}{(Dvcid ? " DVCID" : "")}{(CurData ? " CURDATA" : "")} alloc={Allocation}";
    }

    /// <summary>
    /// SMC-3 READ ELEMENT STATUS: elements of the requested type (or all) at or above STARTING ELEMENT ADDRESS, in address
    /// order, at most NUMBER OF ELEMENTS of them. The starting address need not be an element (as StorageTek's libraries
    /// document it); NUMBER OF ELEMENTS 0 gives an empty report with FIRST ELEMENT ADDRESS REPORTED 0 (the
    /// implementation's choice). Returns the addresses reported, all that qualify, and the whole answer's length.
    /// </summary>
    private (List<ushort> Reported, List<ushort> Qualifying, int Length) Select(ReadRequest request)
    {
        var qualifying = _layout.AllAddresses
            .Where(a => (request.Type == (int)ElementType.All || (int)_layout.TypeOf(a)!.Value == request.Type) && a >= request.Start)
            .ToList();
        var reported = qualifying.Take(request.Count).ToList();
        var length = 8;
        for (var i = 0; i < reported.Count; i++)
        {
            var type = _layout.TypeOf(reported[i])!.Value;
            if (i == 0 || type != _layout.TypeOf(reported[i - 1]))
            {
                length += 8;
            }

            length += DescriptorLength(type, request);
        }

        return (reported, qualifying, length);
    }

    private int IdentifierLength => 8 + 16 + Math.Max(DvcidSerialWidth, _driveIdentity.Max(d => d.Serial.Length));

    /// <summary>
    /// Fixed part 12, primary volume tag 36 with VOLTAG, and the device identifier's 4-byte header in every descriptor
    /// (identifier length 0 without DVCID or for non-drives): 16 / 52 bytes as IBM and StorageTek libraries report.
    /// </summary>
    private int DescriptorLength(ElementType type, ReadRequest request) =>
        12 + (request.VolTag ? 36 : 0) + 4 + (request.Dvcid && type == ElementType.DataTransfer ? IdentifierLength : 0);

    private async Task ReadElementStatusAsync(int nexus, ReadRequest request)
    {
        while (LibraryModel.Take(_model.ChangerPending[nexus]) is { } ua)
        {
            var attention = await _rig.RunAsync(_nexus[nexus], ChangerRig.ChangerLun, request.Cdb());
            Compare($"{request}", nexus, attention, Expected.From(ua) with { Kind = $"{ua} {LibraryModel.Nexus(nexus)}" });
        }

        var text = request.ToString();
        var task = await _rig.RunAsync(_nexus[nexus], ChangerRig.ChangerLun, request.Cdb());
        if (request.Type > (int)ElementType.DataTransfer)
        {
            Compare(text, nexus, task, Expected.IllegalRequest("RES 24/00", 0x24, 0x00, 1, 3));
            return;
        }

        var (reported, qualifying, length) = Select(request);
        if (qualifying.Count == 0)
        {
            // No element at or above the start: mtx's polling loop relies on INVALID ELEMENT ADDRESS here.
            Compare(text, nexus, task, Expected.IllegalRequest("RES 21/01", 0x21, 0x01, 2));
            return;
        }

        Compare(text, nexus, task, Expected.Good("RES"));
        var data = task.DataIn.ToArray();
        if (data.Length != Math.Min(request.Allocation, length))
        {
            Fail($"{text}: {data.Length} bytes returned, expected min(allocation, {length})");
        }

        if (data.Length == length)
        {
            CompareReport(text, data, request, reported);
            Count("RES full");
        }
        else
        {
            // Nothing in the headers is adjusted to the allocation length (BYTE COUNT OF REPORT AVAILABLE and BYTE COUNT
            // OF DESCRIPTOR DATA AVAILABLE "shall not be adjusted"): the answer is the first ALLOCATION LENGTH bytes of
            // the whole one. That the cut may fall inside a descriptor is SPC-4's allocation length rule, which the
            // implementation follows; SCSI-2 and Quantum's libraries send whole descriptors only.
            var whole = await _rig.RunAsync(_nexus[nexus], ChangerRig.ChangerLun, (request with { Allocation = MaxAllocation }).Cdb());
            Compare(text + " (again, whole)", nexus, whole, Expected.Good("RES"));
            var all = whole.DataIn.ToArray();
            if (all.Length != length)
            {
                Fail($"{text}: whole answer has {all.Length} bytes, expected {length}");
            }

            CompareReport(text, all, request, reported);
            if (!all.AsSpan(0, data.Length).SequenceEqual(data))
            {
                Fail($"{text}: the {data.Length} bytes returned are not the start of the whole answer{Environment.NewLine}" +
                    $"  got   {Convert.ToHexString(data)}{Environment.NewLine}  whole {Convert.ToHexString(all)}");
            }

            Count("RES truncated");
        }

        if (request.Dvcid && reported.Any(a => _layout.TypeOf(a) == ElementType.DataTransfer))
        {
            Count("RES DVCID");
        }

        if (request.VolTag)
        {
            Count("RES VOLTAG");
        }
    }

    /// <summary>Parses a whole READ ELEMENT STATUS answer and compares every header and descriptor field with the model.</summary>
    private void CompareReport(string text, byte[] data, ReadRequest request, List<ushort> reported)
    {
        void Expect(bool ok, string what)
        {
            if (!ok)
            {
                Fail($"{text}: {what}{Environment.NewLine}  answer {Convert.ToHexString(data)}");
            }
        }

        var span = data.AsSpan();
        var byteCount = ReadUInt24(span[5..]);
        Expect(BinaryPrimitives.ReadUInt16BigEndian(span) == (reported.Count > 0 ? reported[0] : 0), $"FIRST ELEMENT ADDRESS REPORTED {BinaryPrimitives.ReadUInt16BigEndian(span)}, expected {(reported.Count > 0 ? reported[0] : 0)}");
        Expect(BinaryPrimitives.ReadUInt16BigEndian(span[2..]) == reported.Count, $"NUMBER OF ELEMENTS AVAILABLE {BinaryPrimitives.ReadUInt16BigEndian(span[2..])}, expected {reported.Count}");
        Expect(span[4] == 0, "element status data header byte 4 is reserved");
        Expect(byteCount == data.Length - 8, $"BYTE COUNT OF REPORT AVAILABLE {byteCount}, expected {data.Length - 8}");

        var pos = 8;
        var i = 0;
        while (i < reported.Count)
        {
            var type = _layout.TypeOf(reported[i])!.Value;
            var run = 1;
            while (i + run < reported.Count && _layout.TypeOf(reported[i + run]) == type)
            {
                run++;
            }

            var descriptorLength = DescriptorLength(type, request);
            var page = span[pos..];
            Expect(page[0] == (byte)type, $"page at {pos}: ELEMENT TYPE CODE {page[0]}, expected {(byte)type}");
            Expect(page[1] == (request.VolTag ? 0x80 : 0x00), $"page at {pos}: PVOLTAG/AVOLTAG byte {page[1]:X2}, expected {(request.VolTag ? 0x80 : 0):X2}");
            Expect(BinaryPrimitives.ReadUInt16BigEndian(page[2..]) == descriptorLength, $"page at {pos}: ELEMENT DESCRIPTOR LENGTH {BinaryPrimitives.ReadUInt16BigEndian(page[2..])}, expected {descriptorLength}");
            Expect(page[4] == 0, $"page at {pos}: byte 4 is reserved");
            Expect(ReadUInt24(page[5..]) == run * descriptorLength, $"page at {pos}: BYTE COUNT OF DESCRIPTOR DATA AVAILABLE {ReadUInt24(page[5..])}, expected {run * descriptorLength}");
            pos += 8;
            for (var k = 0; k < run; k++, i++)
            {
                var address = reported[i];
                // The model's descriptor is built field by field; when the bytes differ, the fields are decoded on both
                // sides and the first differing one is named.
                var expectedBytes = ExpectedDescriptor(address, type, request, descriptorLength);
                if (span.Slice(pos, descriptorLength).SequenceEqual(expectedBytes))
                {
                    pos += descriptorLength;
                    continue;
                }

                var actual = Fields(type, request, span.Slice(pos, descriptorLength));
                var expected = Fields(type, request, expectedBytes);
                for (var f = 0; f < expected.Count; f++)
                {
                    if (actual[f] != expected[f])
                    {
                        Fail($"{text}: element {Show(address)}: {actual[f].Name} is {actual[f].Value}, the model says {expected[f].Value}");
                    }
                }

                pos += descriptorLength;
            }
        }

        Expect(pos == data.Length, $"{data.Length - pos} bytes after the last descriptor");
    }

    /// <summary>The descriptor the model expects for one element (SMC-3 element descriptors), as bytes.</summary>
    private byte[] ExpectedDescriptor(ushort address, ElementType type, ReadRequest request, int length)
    {
        var d = new byte[length];
        BinaryPrimitives.WriteUInt16BigEndian(d, address);
        var full = _model.Slots.TryGetValue(address, out var cartridge);
        byte flags = (byte)(full ? 0x01 : 0);
        switch (type)
        {
            case ElementType.Storage or ElementType.DataTransfer:
                flags |= 0x08; // ACCESS
                break;
            case ElementType.ImportExport:
                // INENAB, EXENAB; ACCESS unless an initiator opened it for the operator; IMPEXP when the operator put the
                // cartridge there (it has not been moved by the robot since): SMC-3 import/export element descriptor.
                flags |= 0x30;
                flags |= (byte)(_model.OpenImportExport.Contains(address) ? 0 : 0x08);
                flags |= (byte)(full && cartridge!.Source is null ? 0x02 : 0);
                break;
        }

        d[2] = flags;
        if (type == ElementType.DataTransfer)
        {
            // LU VALID with the drive's LUN in the changer's own target (single-target layout), ID VALID=0.
            d[6] = (byte)(0x10 | ChangerRig.DriveLun(_model.DriveIndex(address)));
        }

        if (full && cartridge!.Source is { } source)
        {
            d[9] = 0x80; // SVALID
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(10), source);
        }

        var n = 12;
        if (request.VolTag)
        {
            // Left-aligned and space-padded to 32 bytes; the volume sequence number 0. An empty element's tag is all
            // zeros (the implementation's choice: SMC-3 does not say).
            if (full)
            {
                Encoding.ASCII.GetBytes(cartridge!.Barcode.PadRight(32)).CopyTo(d, n);
            }

            n += 36;
        }

        if (request.Dvcid && type == ElementType.DataTransfer)
        {
            // T10 vendor ID based designator (code set ASCII, identifier type 1): vendor, product, serial = VPD 80h.
            var (vendor, product, serial) = _driveIdentity[_model.DriveIndex(address)];
            d[n] = 0x02;
            d[n + 1] = 0x01;
            d[n + 3] = (byte)IdentifierLength;
            Encoding.ASCII.GetBytes(vendor.PadRight(8) + product.PadRight(16) + serial.PadRight(IdentifierLength - 24)).CopyTo(d, n + 4);
        }

        return d;
    }

    /// <summary>A descriptor decoded into named fields, so that a difference names the field and both values.</summary>
    private static List<(string Name, string Value)> Fields(ElementType type, ReadRequest request, ReadOnlySpan<byte> d)
    {
        var flags = d[2];
        var names = new List<string>();
        void Bit(int mask, string name)
        {
            if ((flags & mask) != 0)
            {
                names.Add(name);
            }
        }

        Bit(0x01, "FULL");
        Bit(0x02, type == ElementType.ImportExport ? "IMPEXP" : "reserved bit 1");
        Bit(0x04, "EXCEPT");
        Bit(0x08, type == ElementType.MediumTransport ? "reserved bit 3" : "ACCESS");
        Bit(0x10, type == ElementType.ImportExport ? "EXENAB" : "reserved bit 4");
        Bit(0x20, type == ElementType.ImportExport ? "INENAB" : "reserved bit 5");
        Bit(0xC0, "bits 7-6");
        var fields = new List<(string, string)>
        {
            ("ELEMENT ADDRESS", BinaryPrimitives.ReadUInt16BigEndian(d).ToString(CultureInfo.InvariantCulture)),
            ("flags (byte 2)", $"{flags:X2} [{string.Join(" ", names)}]"),
            ("byte 3", d[3].ToString("X2", CultureInfo.InvariantCulture)),
            ("ASC/ASCQ", $"{d[4]:X2}/{d[5]:X2}"),
            ("byte 6 (LU VALID, LUN)", d[6].ToString("X2", CultureInfo.InvariantCulture)),
            ("bytes 7-8", $"{d[7]:X2}{d[8]:X2}"),
            ("byte 9 (SVALID, INVERT)", d[9].ToString("X2", CultureInfo.InvariantCulture)),
            ("SOURCE STORAGE ELEMENT ADDRESS", BinaryPrimitives.ReadUInt16BigEndian(d[10..]).ToString(CultureInfo.InvariantCulture)),
        };
        var n = 12;
        if (request.VolTag)
        {
            fields.Add(("PRIMARY VOLUME TAG", "'" + string.Concat(d.Slice(n, 32).ToArray().Select(b => b is >= 0x20 and < 0x7F ? (char)b : '.')) + "'"));
            fields.Add(("volume tag bytes 32-35", Convert.ToHexString(d.Slice(n + 32, 4))));
            n += 36;
        }

        fields.Add(("identifier header", Convert.ToHexString(d.Slice(n, 4))));
        fields.Add(("IDENTIFIER", "'" + Encoding.ASCII.GetString(d[(n + 4)..]) + "'"));
        return fields;
    }

    private static int ReadUInt24(ReadOnlySpan<byte> s) => (s[0] << 16) | (s[1] << 8) | s[2];

    // ---- running and comparing ----------------------------------------------------------------------------------

    /// <summary>A changer command: a pending unit attention answers it instead (SPC-4); otherwise the model decides.</summary>
    private async Task ChangerAsync(string text, int nexus, byte[] cdb, Func<Expected> apply)
    {
        var expected = LibraryModel.Take(_model.ChangerPending[nexus]) is { } ua
            ? Expected.From(ua) with { Kind = $"{ua} {LibraryModel.Nexus(nexus)}" }
            : apply();
        var task = await _rig.RunAsync(_nexus[nexus], ChangerRig.ChangerLun, cdb);
        Compare(text, nexus, task, expected);
    }

    private async Task DriveAsync(string text, int nexus, int drive, byte[] cdb, Func<Expected> apply)
    {
        var expected = LibraryModel.Take(_model.Drives[drive].Pending[nexus]) is { } ua
            ? Expected.From(ua) with { Kind = $"drive {ua}" }
            : apply();
        var task = await _rig.RunAsync(_nexus[nexus], ChangerRig.DriveLun(drive), cdb);
        Compare(text, nexus, task, expected);
    }

    private void Compare(string text, int nexus, ScsiTask task, Expected expected)
    {
        Remember(text, nexus, expected.ToString(), Summarise(task));
        if (expected.IsGood)
        {
            if (task.Status != ScsiStatus.Good || task.SenseLength != 0)
            {
                Fail($"{text}: expected GOOD, got {Summarise(task)}");
            }
        }
        else
        {
            var (key, asc, ascq, fieldByte, fieldBit) = ParseSense(task.Sense);
            if (task.Status != ScsiStatus.CheckCondition || (key, asc, ascq, fieldByte, fieldBit) != (expected.Key, expected.Asc, expected.Ascq, expected.FieldByte, expected.FieldBit))
            {
                Fail($"{text}: expected {expected}, got {Summarise(task)}");
            }
        }

        Count(expected.Kind);
    }

    /// <summary>Fixed-format sense: key, ASC, ASCQ and the sense-key specific field pointer (-1 when SKSV or BPV is 0; -2 for a pointer into parameter data).</summary>
    private static (byte Key, byte Asc, byte Ascq, int FieldByte, int FieldBit) ParseSense(ReadOnlySpan<byte> s)
    {
        if (s.Length < 14 || (s[0] & 0x7F) != 0x70)
        {
            return (0xFF, 0, 0, -1, -1);
        }

        var fieldByte = -1;
        var fieldBit = -1;
        if (s.Length >= 18 && (s[15] & 0x80) != 0)
        {
            fieldByte = (s[15] & 0x40) != 0 ? BinaryPrimitives.ReadUInt16BigEndian(s[16..]) : -2;
            fieldBit = (s[15] & 0x08) != 0 ? s[15] & 0x07 : -1;
        }

        return ((byte)(s[2] & 0x0F), s[12], s[13], fieldByte, fieldBit);
    }

    private static string Summarise(ScsiTask task)
    {
        if (task.Status == ScsiStatus.Good)
        {
            return $"GOOD ({task.DataIn.Length} bytes)";
        }

        if (task.Status != ScsiStatus.CheckCondition)
        {
            return task.Status.ToString();
        }

        var (key, asc, ascq, fieldByte, fieldBit) = ParseSense(task.Sense);
        return $"CHECK CONDITION {key:X}/{asc:X2}/{ascq:X2}{(fieldByte != -1 ? $" @byte {fieldByte}" + (fieldBit >= 0 ? $" bit {fieldBit}" : "") : "")}";
    }

    private void Remember(string text, int nexus, string expected, string actual)
    {
        _history.Enqueue($"#{_index} {(nexus >= 0 ? LibraryModel.Nexus(nexus) + ": " : "")}{text} -> model {expected}, target {actual}");
        while (_history.Count > HistoryShown)
        {
            _history.Dequeue();
        }
    }

    private void Count(string kind) => _outcomes[kind] = _outcomes.GetValueOrDefault(kind) + 1;

    private void Fail(string message) =>
        Assert.Fail(
            $"seed {_seed} ({_layout.Personality}), operation #{_index}: {message}{Environment.NewLine}" +
            $"model: {_model.Describe()}{Environment.NewLine}" +
            $"last operations:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", _history));

    // ---- random choices -----------------------------------------------------------------------------------------

    private int PickNexus() => _rng.Next(10) < 7 ? 0 : 1;

    private T Pick<T>(IEnumerable<T> items)
    {
        var list = items as IReadOnlyList<T> ?? items.ToList();
        return list[_rng.Next(list.Count)];
    }

    /// <summary>Mostly an element holding a cartridge, so that moves happen; sometimes any element, the transport or no element.</summary>
    private ushort PickSource() => _rng.Next(100) switch
    {
        < 65 when _model.Slots.Count > 0 => Pick(_model.Slots.Keys),
        < 88 => Pick(StoringAddresses),
        < 94 => LibraryLayout.Transport,
        _ => Pick(_layout.Invalid),
    };

    private ushort PickDestination()
    {
        var empty = StoringAddresses.Where(a => !_model.Full(a)).ToList();
        return _rng.Next(100) switch
        {
            < 65 when empty.Count > 0 => Pick(empty),
            < 88 => Pick(StoringAddresses),
            < 94 => LibraryLayout.Transport,
            _ => Pick(_layout.Invalid),
        };
    }

    /// <summary>A full element of one storing type and an empty one of another (or the same), so every kind of move is tried.</summary>
    private (ushort Source, ushort Destination)? TargetedMove()
    {
        var empty = StoringAddresses.Where(a => !_model.Full(a)).ToList();
        var incompatible = _model.Slots.Where(s => s.Value.Incompatible).Select(s => s.Key).ToList();
        var emptyDrives = empty.Where(a => _layout.TypeOf(a) == ElementType.DataTransfer).ToList();
        if (_rng.Next(8) == 0 && incompatible.Count > 0 && emptyDrives.Count > 0)
        {
            return (Pick(incompatible), Pick(emptyDrives));
        }

        var from = Pick(StoringTypes);
        var to = Pick(StoringTypes);
        var sources = _model.Slots.Keys.Where(a => _layout.TypeOf(a) == from).ToList();
        var destinations = empty.Where(a => _layout.TypeOf(a) == to).ToList();
        return sources.Count > 0 && destinations.Count > 0 ? (Pick(sources), Pick(destinations)) : null;
    }

    private ushort PickNonZeroAddress() => Pick(StoringAddresses.Concat(_layout.Invalid));

    private string Show(ushort address) =>
        _layout.TypeOf(address) is { } type ? $"{LibraryModel.Short(type)}{address}" : $"?{address}";
}

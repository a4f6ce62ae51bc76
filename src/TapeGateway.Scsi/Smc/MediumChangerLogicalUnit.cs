using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Smc;

/// <summary>
/// An SMC-3 medium changer logical unit (PDT 08h) over an <see cref="IMediumChangerBackend"/>: the robot of the
/// virtual library. Handlers are static methods in the partial files next to this one, registered once in a static
/// <see cref="CommandTable{TUnit}"/> together with the shared SPC-4 commands. The changer keeps only SCSI state
/// (PREVENT ALLOW MEDIUM REMOVAL per I_T nexus, open I/E elements, unit attentions); the inventory and every move
/// belong to the backend.
/// <para>
/// Unit attentions (SMC-3 / SPC-4 §5.14): after a move or exchange through an import/export element every other
/// I_T nexus gets IMPORT OR EXPORT ELEMENT ACCESSED (28/01) so that applications sharing the library re-read the
/// mailslots; when the backend reports an inventory change it made itself (operator created, archived or retrieved a
/// tape) every nexus gets NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED (28/00), the condition SMC-3 uses for
/// "the inventory may differ from what you last read" — INQUIRY DATA HAS CHANGED (3F/03) would be wrong, the
/// changer's identity did not change.
/// </para>
/// </summary>
public sealed partial class MediumChangerLogicalUnit : LogicalUnit<MediumChangerLogicalUnit>, IDisposable
{
    public const byte ElementAddressAssignmentPage = 0x1D;
    public const byte TransportGeometryPage = 0x1E;
    public const byte DeviceCapabilitiesPage = 0x1F;
    public const byte TapeAlertLogPage = 0x2E;

    private static readonly CommandTable<MediumChangerLogicalUnit> s_commands = BuildCommandTable();

    private readonly ModePageSet _modePages;
    private readonly Lock _stateLock = new();
    private readonly HashSet<long> _preventing = [];
    private readonly HashSet<ushort> _openImportExport = [];
    private readonly Action _inventoryChanged;
    private IReadOnlyList<SupportedCommand>? _supported;
    private bool _disposed;

    public MediumChangerLogicalUnit(
        Lun lun,
        ChangerPersonality personality,
        string serialNumber,
        IMediumChangerBackend backend,
        ILogger? logger = null)
        : base(lun, (personality ?? throw new ArgumentNullException(nameof(personality))).CreateIdentity(serialNumber), logger ?? NullLogger.Instance)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Personality = personality;
        Backend = backend;
        Geometry = backend.Geometry;
        ValidateGeometry(Geometry);
        _modePages = BuildModePages(Geometry, personality);
        _inventoryChanged = OnInventoryChangedExternally;
        backend.InventoryChangedExternally += _inventoryChanged;
    }

    public ChangerPersonality Personality { get; }

    public IMediumChangerBackend Backend { get; }

    /// <summary>The element map, read from the backend once: page 1Dh and every address check use it.</summary>
    public ChangerGeometry Geometry { get; }

    public override PeripheralDeviceType DeviceType => PeripheralDeviceType.MediumChanger;

    public override ModePageSet ModePages => _modePages;

    /// <summary>SPC-4 §6.6.2 RMB: a changer's media are removable (through its import/export elements).</summary>
    public override bool RemovableMedium => true;

    /// <summary>
    /// RSOC lists EXCHANGE MEDIUM only for personalities that can exchange (the hardware of the others answers
    /// INVALID COMMAND OPERATION CODE, and so do we).
    /// </summary>
    public override IReadOnlyList<SupportedCommand> SupportedCommands =>
        _supported ??= Personality.SupportsExchange
            ? base.SupportedCommands
            : base.SupportedCommands.Where(c => c.OperationCode != ExchangeMedium).ToArray();

    /// <summary>True while any I_T nexus holds PREVENT ALLOW MEDIUM REMOVAL with PREVENT=01b.</summary>
    public bool MediumRemovalPrevented
    {
        get
        {
            lock (_stateLock)
            {
                return _preventing.Count > 0;
            }
        }
    }

    /// <summary>True when OPEN IMPORT/EXPORT ELEMENT opened this I/E element and no CLOSE has followed.</summary>
    public bool IsImportExportOpen(ushort address)
    {
        lock (_stateLock)
        {
            return _openImportExport.Contains(address);
        }
    }

    protected override CommandTable<MediumChangerLogicalUnit> Commands => s_commands;

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Backend.InventoryChangedExternally -= _inventoryChanged;
        }
    }

    /// <summary>
    /// Checks that an element map can be reported: ranges must not overlap, must fit in 16-bit addresses, and the
    /// element count must fit READ ELEMENT STATUS's 16-bit NUMBER OF ELEMENTS AVAILABLE.
    /// </summary>
    public static void ValidateGeometry(ChangerGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        ElementRange[] ranges = [geometry.Transport, geometry.Storage, geometry.ImportExport, geometry.DataTransfer];
        var total = 0;
        for (var i = 0; i < ranges.Length; i++)
        {
            var a = ranges[i];
            total += a.Count;
            if (a.Count > 0 && a.FirstAddress + a.Count - 1 > ushort.MaxValue)
            {
                throw new ArgumentException($"element range {a} runs past address FFFFh", nameof(geometry));
            }

            for (var j = i + 1; j < ranges.Length; j++)
            {
                var b = ranges[j];
                if (a.Count > 0 && b.Count > 0 && a.FirstAddress < b.FirstAddress + b.Count && b.FirstAddress < a.FirstAddress + a.Count)
                {
                    throw new ArgumentException($"element ranges {a} and {b} overlap", nameof(geometry));
                }
            }
        }

        if (total > ushort.MaxValue)
        {
            throw new ArgumentException("more than 65535 elements", nameof(geometry));
        }
    }

    // ---- state hooks -----------------------------------------------------------------------------------------

    /// <summary>SPC-4 §6.13 / SMC-3: a prevention ends with its I_T nexus.</summary>
    internal override void OnNexusLost(ItNexus nexus)
    {
        lock (_stateLock)
        {
            _preventing.Remove(nexus.Id);
        }

        base.OnNexusLost(nexus);
    }

    /// <summary>
    /// Logical unit reset and target resets (SAM-5 §6.3.3) end every prevention; I/E elements an initiator opened are
    /// closed again, as a library re-initialises its mailslot after a reset.
    /// </summary>
    protected override void OnReset()
    {
        lock (_stateLock)
        {
            _preventing.Clear();
            _openImportExport.Clear();
        }

        base.OnReset();
    }

    private void OnInventoryChangedExternally() => UnitAttentions.AddAll(SenseReason.NotReadyToReadyChange);

    internal void SetPrevent(ItNexus nexus, bool prevent)
    {
        lock (_stateLock)
        {
            if (prevent)
            {
                _preventing.Add(nexus.Id);
            }
            else
            {
                _preventing.Remove(nexus.Id);
            }
        }
    }

    internal void SetImportExportOpen(ushort address, bool open)
    {
        lock (_stateLock)
        {
            if (open)
            {
                _openImportExport.Add(address);
            }
            else
            {
                _openImportExport.Remove(address);
            }
        }
    }

    // ---- mode pages (SMC-3 §7.3) -----------------------------------------------------------------------------

    private static ModePageSet BuildModePages(ChangerGeometry g, ChangerPersonality personality)
    {
        var pages = new ModePageSet();

        // Element Address Assignment page 1Dh, PAGE LENGTH 12h: first address and count of each element type, in the
        // order MT, ST, I/E, DT. The Linux ch driver and mtx read exactly these 16 bytes (from byte 2) to build their
        // element maps. Not changeable: MODE SELECT must send it back unchanged.
        var eaa = new byte[20];
        WriteRange(eaa, 2, g.Transport);
        WriteRange(eaa, 6, g.Storage);
        WriteRange(eaa, 10, g.ImportExport);
        WriteRange(eaa, 14, g.DataTransfer);
        pages.Register(ElementAddressAssignmentPage, 0, eaa, new byte[eaa.Length]);

        // Transport Geometry Parameters page 1Eh: two bytes per transport element — ROTATE (byte 0 bit 0: the
        // transport cannot invert media, so 0) and MEMBER NUMBER IN TRANSPORT ELEMENT SET (byte 1, 0-based).
        var tg = new byte[2 + (2 * g.Transport.Count)];
        for (var i = 0; i < g.Transport.Count; i++)
        {
            tg[2 + (2 * i) + 1] = (byte)i;
        }

        pages.Register(TransportGeometryPage, 0, tg, new byte[tg.Length]);

        // Device Capabilities page 1Fh, PAGE LENGTH 12h. Byte 2: StorDT|StorI/E|StorST|StorMT — drives, mailslots and
        // slots can hold a medium at rest, the transport cannot (it only carries one during a move). Bytes 4-7: the
        // move matrix by source type (MT, ST, I/E, DT); bytes 12-15: the exchange matrix. Both come from the
        // personality and are what MOVE MEDIUM / EXCHANGE MEDIUM enforce.
        var caps = new byte[20];
        caps[2] = ElementCapabilities.ToStorage | ElementCapabilities.ToImportExport | ElementCapabilities.ToDataTransfer;
        WriteCapabilities(caps, 4, personality.MoveCapabilities);
        WriteCapabilities(caps, 12, personality.ExchangeCapabilities);
        pages.Register(DeviceCapabilitiesPage, 0, caps, new byte[caps.Length]);
        return pages;
    }

    private static void WriteRange(byte[] page, int offset, ElementRange range)
    {
        page[offset] = (byte)(range.FirstAddress >> 8);
        page[offset + 1] = (byte)range.FirstAddress;
        page[offset + 2] = (byte)(range.Count >> 8);
        page[offset + 3] = (byte)range.Count;
    }

    private static void WriteCapabilities(byte[] page, int offset, ElementCapabilities c)
    {
        page[offset] = c.FromTransport;
        page[offset + 1] = c.FromStorage;
        page[offset + 2] = c.FromImportExport;
        page[offset + 3] = c.FromDataTransfer;
    }

    // ---- log pages -------------------------------------------------------------------------------------------

    public override IReadOnlyList<byte> ExtraLogPages { get; } = [TapeAlertLogPage];

    /// <summary>
    /// TapeAlert log page 2Eh (SSC-4 Annex / SMC-3 TapeAlert for changers): flags 0001h–0040h, one byte each, all zero —
    /// a virtual robot has no mechanical failures to report. Parameter control byte 03h (binary list format) as
    /// tape devices report it. PPC is not supported: a non-zero PARAMETER POINTER selects the flags from that code on.
    /// </summary>
    protected internal override int WriteLogPage(byte page, byte subpage, byte pageControl, ushort parameterPointer, Span<byte> destination)
    {
        if (page != TapeAlertLogPage || subpage != 0)
        {
            return -1;
        }

        const int flags = 64;
        var first = Math.Max((int)parameterPointer, 1);
        var n = 4;
        for (var code = first; code <= flags; code++)
        {
            destination[n] = (byte)(code >> 8);
            destination[n + 1] = (byte)code;
            destination[n + 2] = 0x03;
            destination[n + 3] = 1;
            destination[n + 4] = 0;
            n += 5;
        }

        destination[0] = TapeAlertLogPage;
        destination[1] = 0;
        destination[2] = (byte)((n - 4) >> 8);
        destination[3] = (byte)(n - 4);
        return n;
    }

    /// <summary>REPORT SUPPORTED OPERATION CODES timeouts (SPC-4 §6.35.4): moves take a robot's worth of time.</summary>
    protected internal override (uint Nominal, uint Recommended) GetCommandTimeouts(byte opcode, ushort? serviceAction) => opcode switch
    {
        MoveMedium or ExchangeMedium => (30, 300),
        InitializeElementStatus or InitializeElementStatusWithRange => (30, 600),
        ReadElementStatus => (5, 60),
        _ => (0, 0),
    };

    // ---- shared helpers --------------------------------------------------------------------------------------

    /// <summary>Maps a backend refusal to the sense a real library returns (see <see cref="ChangerResult"/>).</summary>
    internal static CommandOutcome ToOutcome(ChangerResult result) => result switch
    {
        ChangerResult.Ok => CommandOutcome.Good,
        ChangerResult.SourceEmpty => CommandOutcome.Fail(SenseReason.MediumSourceElementEmpty),
        ChangerResult.DestinationFull => CommandOutcome.Fail(SenseReason.MediumDestinationElementFull),
        ChangerResult.InvalidElement => CommandOutcome.Fail(SenseReason.InvalidElementAddress),
        ChangerResult.MediumRemovalPrevented => CommandOutcome.Fail(SenseReason.MediumRemovalPrevented),
        ChangerResult.IncompatibleMedium => CommandOutcome.Fail(SenseReason.IncompatibleMediumInstalled),
        ChangerResult.Busy => CommandOutcome.Fail(SenseReason.LogicalUnitBusyRetry),
        ChangerResult.NotAllowed => CommandOutcome.Fail(SenseReason.MediumSourceElementEmpty),
        _ => CommandOutcome.Fail(SenseReason.InternalTargetFailure),
    };
}

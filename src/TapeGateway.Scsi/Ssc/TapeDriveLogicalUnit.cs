using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi.Ssc;

/// <summary>
/// An SSC-4 sequential-access logical unit: one LTO tape drive over an <see cref="ITapeMedium"/> that the library
/// service loads into it. Command handlers are static methods in the partial files next to this one, registered once
/// in a static <see cref="CommandTable{TUnit}"/> together with the shared SPC-4 commands.
/// <para>
/// Execution model: every command that touches the medium, the position or drive state is
/// <see cref="CommandFlags.Serialized"/>, so tape verbs run strictly one at a time in the order the transport delivers
/// them (iSCSI CmdSN order). The drive writes through: each WRITE reaches the image before GOOD, so READ POSITION
/// reports zero objects in the object buffer and BUFFERED MODE 001b is honest in the sense that nothing is lost on a
/// reset (SSC-4 buffered mode). Mode parameters (block length, compression) are per drive, shared by all
/// I_T nexuses (SSC-4 §8.3), and revert to their defaults on reset and on every load.
/// </para>
/// <para>
/// Changer side: <see cref="LoadAsync"/> / <see cref="EjectAsync"/> are what the SMC element "drive" calls when it
/// moves a cartridge; <see cref="Unloaded"/> tells it the initiator unloaded the cartridge itself (LOAD UNLOAD, LOAD=0).
/// </para>
/// </summary>
public sealed partial class TapeDriveLogicalUnit : LogicalUnit<TapeDriveLogicalUnit>
{
    public const byte DataCompressionPage = 0x0F;
    public const byte DeviceConfigurationPage = 0x10;
    public const byte DeviceConfigurationExtensionSubpage = 0x01;
    public const byte MediumPartitionPage = 0x11;
    public const byte MediumConfigurationPage = 0x1D;

    /// <summary>SSC-4 Control Data Protection mode page: page 0Ah (Control), subpage F0h.</summary>
    public const byte ControlDataProtectionSubpage = 0xF0;
    public const byte ReadWriteErrorRecoveryPage = 0x01;

    private static readonly CommandTable<TapeDriveLogicalUnit> s_commands = BuildCommandTable();

    private readonly ModePageSet _modePages;
    private readonly Lock _lock = new();
    private readonly HashSet<long> _preventers = [];
    private ITapeMedium? _medium;
    private LoadedCartridge? _cartridge;
    private DriveState _state;
    private uint _blockLength;
    private byte _bufferedMode = 1;
    private IReadOnlyList<SupportedCommand>? _supported;

    /// <param name="lun">Logical unit number inside the target.</param>
    /// <param name="personality">Identity and capabilities (vendor, product, LTO generation, block limits).</param>
    /// <param name="serialNumber">
    /// The drive serial: INQUIRY VPD 80h and the T10 vendor designator of VPD 83h. The changer's READ ELEMENT STATUS
    /// DVCID for this drive must report the same string (NetBackup and Veeam map drives by it).
    /// </param>
    /// <param name="logger">Optional logger.</param>
    /// <param name="manufacturerSerialNumber">
    /// The serial the manufacturer assigned (VPD B1h, and the manufacturing serial of the IBM VPD C1h); null: the same
    /// as <paramref name="serialNumber"/>. A library may make a drive report a serial of its own in VPD 80h while the
    /// manufacturer's stays what it was; this is where the two can differ.
    /// </param>
    public TapeDriveLogicalUnit(Lun lun, TapeDrivePersonality personality, string serialNumber, ILogger? logger = null, string? manufacturerSerialNumber = null)
        : base(lun, (personality ?? throw new ArgumentNullException(nameof(personality))).CreateIdentity(serialNumber), logger ?? NullLogger.Instance)
    {
        Personality = personality;
        ManufacturerSerialNumber = string.IsNullOrEmpty(manufacturerSerialNumber) ? serialNumber : manufacturerSerialNumber;
        ExtraVpdPages = BuildVpdPageList(personality);
        _modePages = BuildModePages(personality);
    }

    private enum DriveState
    {
        /// <summary>No cartridge: NOT READY 3A/00.</summary>
        Empty,

        /// <summary>LoadAsync is threading the cartridge: NOT READY 04/01.</summary>
        Loading,

        /// <summary>Threaded and ready.</summary>
        Ready,

        /// <summary>The initiator unloaded it (LOAD UNLOAD, LOAD=0): still in the drive, NOT READY 3A/00.</summary>
        Unloaded,
    }

    /// <summary>The personality this drive was built with (immutable).</summary>
    public TapeDrivePersonality Personality { get; }

    /// <summary>A cartridge is in the drive (threaded, or unloaded by the initiator and waiting for the changer).</summary>
    public bool HasMedium
    {
        get
        {
            lock (_lock)
            {
                return _medium is not null;
            }
        }
    }

    /// <summary>The cartridge is threaded and ready for media access commands.</summary>
    public bool IsReady
    {
        get
        {
            lock (_lock)
            {
                return _state == DriveState.Ready;
            }
        }
    }

    /// <summary>Barcode of the cartridge in the drive, or null.</summary>
    public string? LoadedBarcode
    {
        get
        {
            lock (_lock)
            {
                return _medium is null ? null : _cartridge?.Barcode;
            }
        }
    }

    /// <summary>The cartridge in the drive as the library described it, or null.</summary>
    public LoadedCartridge? LoadedCartridge
    {
        get
        {
            lock (_lock)
            {
                return _medium is null ? null : _cartridge;
            }
        }
    }

    /// <summary>
    /// PREVENT ALLOW MEDIUM REMOVAL with PREVENT=01b is in force from at least one I_T nexus (SPC-4 PREVENT ALLOW
    /// MEDIUM REMOVAL as SSC-4 uses it: prevention is per nexus; it ends with ALLOW from that nexus, I_T nexus loss, or a reset).
    /// </summary>
    public bool IsRemovalPrevented
    {
        get
        {
            lock (_lock)
            {
                return _preventers.Count > 0;
            }
        }
    }

    /// <summary>
    /// Raised after the initiator's own UNLOAD (LOAD UNLOAD with LOAD=0): the cartridge is rewound, made durable and
    /// ejected, but still in the drive; the changer may now move it (call <see cref="EjectAsync"/>). Raised on the
    /// thread pool after the command completed, never while the drive is busy, so a handler may call
    /// <see cref="EjectAsync"/> directly.
    /// </summary>
    public event Action<TapeDriveLogicalUnit>? Unloaded;

    public override PeripheralDeviceType DeviceType => PeripheralDeviceType.SequentialAccess;

    public override ModePageSet ModePages => _modePages;

    /// <summary>Tape cartridges are removable (SPC-4 §6.6.2 RMB=1).</summary>
    public override bool RemovableMedium => true;

    /// <summary>Current mode block length: 0 = variable-block mode, else the fixed block length (SSC-4 §8.3.2).</summary>
    public uint BlockLength
    {
        get
        {
            lock (_lock)
            {
                return _blockLength;
            }
        }
    }

    /// <summary>PEWS of the Device Configuration Extension mode page (SSC-4): where programmable early warning sits.</summary>
    public long ProgrammableEarlyWarningBytes =>
        ((_modePages.GetCurrentByte(DeviceConfigurationPage, DeviceConfigurationExtensionSubpage, 6) << 8)
         | _modePages.GetCurrentByte(DeviceConfigurationPage, DeviceConfigurationExtensionSubpage, 7)) * 1_000_000L;

    /// <summary>DCE of the Data Compression mode page (SSC-4 Data Compression mode page): WRITE stores blocks compressed.</summary>
    public bool CompressionEnabled => (_modePages.GetCurrentByte(DataCompressionPage, 0, 2) & 0x80) != 0;

    protected override CommandTable<TapeDriveLogicalUnit> Commands => s_commands;

    /// <summary>
    /// REPORT SUPPORTED OPERATION CODES lists SET CAPACITY only for personalities that support it (the others answer
    /// INVALID COMMAND OPERATION CODE).
    /// </summary>
    public override IReadOnlyList<SupportedCommand> SupportedCommands =>
        _supported ??= Personality.SupportsSetCapacity
            ? base.SupportedCommands
            : base.SupportedCommands.Where(c => c.OperationCode != SetCapacity).ToArray();

    // ---- changer side ----------------------------------------------------------------------------------------

    /// <summary>
    /// The changer put a cartridge in the drive: the drive threads it (auto-load), increments the MAM load count,
    /// positions at BOP, resets mode parameters to their defaults (as a drive does on load), and every I_T nexus gets
    /// UNIT ATTENTION 28/00 NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED on its next command (SSC-4 load
    /// model; Linux st relies on it to forget its old position). While threading, TEST UNIT READY answers NOT
    /// READY 04/01. Throws <see cref="InvalidOperationException"/> if the drive already holds a cartridge.
    /// </summary>
    public async ValueTask LoadAsync(ITapeMedium medium, LoadedCartridge cartridge, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(medium);
        ArgumentNullException.ThrowIfNull(cartridge);
        lock (_lock)
        {
            if (_medium is not null || _state != DriveState.Empty)
            {
                throw new InvalidOperationException($"drive {Identity.SerialNumber} already holds a cartridge");
            }

            _state = DriveState.Loading;
        }

        try
        {
            using (await EnterAsync(ct).ConfigureAwait(false))
            {
                if (cartridge.ReadOnly)
                {
                    medium.SetWriteProtected(true);
                }

                if (!cartridge.Cleaning)
                {
                    await medium.IncrementLoadCountAsync(ct).ConfigureAwait(false);
                    await medium.LocateAsync(0, 0, ct).ConfigureAwait(false); // a load ends at BOP of partition 0
                }

                ResetModeParameters();
                lock (_lock)
                {
                    _medium = medium;
                    _cartridge = cartridge;
                    ApplyWormModeLocked();
                    _state = DriveState.Ready;
                    _counters.Reset();
                    _tapeAlerts = 0;
                    if (cartridge.Cleaning)
                    {
                        SetAlertLocked(TapeAlertFlag.CleaningMedia);
                    }
                    else if (!Personality.CanRead(cartridge.Generation))
                    {
                        SetAlertLocked(TapeAlertFlag.UnsupportedFormat);
                    }
                }
            }
        }
        catch
        {
            lock (_lock)
            {
                _medium = null;
                _cartridge = null;
                ApplyWormModeLocked();
                _state = DriveState.Empty;
            }

            throw;
        }

        UnitAttentions.AddAll(SenseReason.NotReadyToReadyChange);
    }

    /// <summary>
    /// The changer wants the cartridge out. Returns null, changing nothing, when the drive is empty or when removal is
    /// prevented (PREVENT ALLOW MEDIUM REMOVAL from any nexus) and <paramref name="force"/> is false — the changer then
    /// reports MEDIUM REMOVAL PREVENTED. Otherwise waits for the command in progress, makes every record durable,
    /// rewinds, forgets the cartridge (later commands get NOT READY 3A/00) and hands the medium back to the caller,
    /// who closes it (<see cref="ITapeMedium.UnloadAsync"/> / DisposeAsync writes the end-of-data seal).
    /// </summary>
    public async ValueTask<ITapeMedium?> EjectAsync(bool force, CancellationToken ct)
    {
        using (await EnterAsync(ct).ConfigureAwait(false))
        {
            ITapeMedium medium;
            bool threaded;
            lock (_lock)
            {
                if (_medium is null)
                {
                    return null;
                }

                if (_preventers.Count > 0 && !force)
                {
                    SetAlertLocked(TapeAlertFlag.NoRemoval);
                    return null;
                }

                medium = _medium;
                threaded = _state == DriveState.Ready && _cartridge is { Cleaning: false };
            }

            if (threaded)
            {
                // SSC-4 LOAD UNLOAD / buffered mode: the object buffer is written to the medium before it leaves the drive.
                await medium.RewindAsync(ct).ConfigureAwait(false);
            }

            lock (_lock)
            {
                _medium = null;
                _cartridge = null;
                ApplyWormModeLocked();
                _state = DriveState.Empty;
                _preventers.Clear();
                _partitionLayoutPending = false;
            }

            OnDemountForEncryption(medium);
            return medium;
        }
    }

    // ---- readiness and medium access -------------------------------------------------------------------------

    /// <summary>SSC-4 TEST UNIT READY / SPC-4 §6.37: 3A/00 without a threaded cartridge, 04/01 while loading, 30/03 cleaning.</summary>
    protected internal override SenseReason CheckReady()
    {
        lock (_lock)
        {
            return _state switch
            {
                DriveState.Loading => SenseReason.LogicalUnitBecomingReady,
                DriveState.Ready when _cartridge is { Cleaning: true } => SenseReason.CleaningCartridgeInstalled,
                DriveState.Ready => SenseReason.None,
                _ => SenseReason.MediumNotPresent,
            };
        }
    }

    /// <summary>The threaded medium, or the NOT READY outcome to return.</summary>
    private bool TryGetMedium(out ITapeMedium medium, out CommandOutcome failure)
    {
        var reason = CheckReady();
        lock (_lock)
        {
            if (reason == SenseReason.None && _medium is not null)
            {
                medium = _medium;
                failure = default;
                return true;
            }
        }

        medium = null!;
        failure = CommandOutcome.Fail(reason == SenseReason.None ? SenseReason.MediumNotPresent : reason);
        return false;
    }

    /// <summary>
    /// The medium for a read-type command: the drive must be able to read the cartridge's generation (LTO: two back
    /// up to LTO-7, one back from LTO-8), else MEDIUM ERROR 30/02 CANNOT READ MEDIUM - INCOMPATIBLE FORMAT.
    /// </summary>
    private bool TryGetReadableMedium(out ITapeMedium medium, out CommandOutcome failure)
    {
        if (!TryGetMedium(out medium, out failure))
        {
            return false;
        }

        if (_cartridge is { } c && !Personality.CanRead(c.Generation))
        {
            SetAlert(TapeAlertFlag.UnsupportedFormat);
            failure = CommandOutcome.Fail(SenseReason.CannotReadMediumIncompatibleFormat);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Hands the medium the drive's programmable early-warning size before a command that writes or reports BPEW
    /// (MODE SELECT may change it any time; READ does not need it, so the read path does not pay for it).
    /// </summary>
    private void ApplyProgrammableEarlyWarning(ITapeMedium medium) => medium.ProgrammableEarlyWarningBytes = ProgrammableEarlyWarningBytes;

    /// <summary>
    /// The medium for a write-type command (WRITE, WRITE FILEMARKS, ERASE, WRITE ATTRIBUTE): DATA PROTECT 27/00 when
    /// the cartridge is write protected or read-only (TapeAlert 09h), DATA PROTECT 30/05 when the drive reads but
    /// cannot write its generation (TapeAlert 11h read-only format), MEDIUM ERROR 30/02 when it cannot even read it.
    /// </summary>
    private bool TryGetWritableMedium(out ITapeMedium medium, out CommandOutcome failure)
    {
        if (!TryGetReadableMedium(out medium, out failure))
        {
            return false;
        }

        if (_cartridge is { } c && !Personality.CanWrite(c.Generation))
        {
            SetAlert(TapeAlertFlag.ReadOnlyFormat);
            failure = CommandOutcome.Fail(SenseReason.CannotWriteMediumIncompatibleFormat);
            return false;
        }

        if (IsWriteProtected)
        {
            SetAlert(TapeAlertFlag.WriteProtect);
            failure = CommandOutcome.Fail(SenseReason.WriteProtected);
            return false;
        }

        ApplyProgrammableEarlyWarning(medium);
        return true;
    }

    /// <summary>
    /// The checks of the commands that rebuild the medium from its beginning (FORMAT MEDIUM, SET CAPACITY): a writable
    /// medium positioned at the beginning of partition 0; anywhere else ILLEGAL REQUEST 3B/0C POSITION PAST BEGINNING
    /// OF MEDIUM (SSC-4 §7.2, §7.11).
    /// </summary>
    private bool TryGetWritableMediumAtBop(out ITapeMedium medium, out CommandOutcome failure)
    {
        if (!TryGetWritableMedium(out medium, out failure))
        {
            return false;
        }

        var position = medium.ReadPosition();
        if (position.Partition != 0 || !position.AtBeginningOfPartition)
        {
            failure = CommandOutcome.Fail(SenseReason.PositionPastBeginningOfMedium);
            return false;
        }

        return true;
    }

    /// <summary>Write protected as MODE SENSE's WP bit reports it (SSC-4 §8.3.1).</summary>
    private bool IsWriteProtected
    {
        get
        {
            lock (_lock)
            {
                return _medium is not null
                    && (_medium.IsWriteProtected || _cartridge is { ReadOnly: true } || (_cartridge is { } c && !Personality.CanWrite(c.Generation)));
            }
        }
    }

    /// <summary>The LTO generation of the loaded cartridge (density code source), or null.</summary>
    private LtoGeneration? LoadedGeneration
    {
        get
        {
            lock (_lock)
            {
                return _medium is null ? null : _cartridge?.Generation;
            }
        }
    }

    // ---- mode parameters (SSC-4 §8.3) ------------------------------------------------------------------------

    /// <summary>
    /// SSC-4 §8.3.2 block descriptor: DENSITY CODE of the mounted medium (0 without one), NUMBER OF BLOCKS 0, BLOCK
    /// LENGTH 0 for variable-block mode or the fixed length. Block length is changeable; density is only "accepted"
    /// (see <see cref="TryApplyModeBlockDescriptor"/>), so the changeable image marks just the block length.
    /// </summary>
    protected internal override ModeBlockDescriptor? GetModeBlockDescriptor(ModePageControl pageControl) => pageControl switch
    {
        ModePageControl.Changeable => new ModeBlockDescriptor(0, 0, 0xFF_FFFF),
        ModePageControl.Default or ModePageControl.Saved => new ModeBlockDescriptor(LoadedGeneration?.DensityCode ?? 0, 0, 0),
        _ => new ModeBlockDescriptor(LoadedGeneration?.DensityCode ?? 0, 0, BlockLength),
    };

    /// <summary>
    /// MODE SELECT block descriptor (SSC-4 §8.3.2): BLOCK LENGTH 0 selects variable-block mode, a length inside READ
    /// BLOCK LIMITS selects fixed-block mode. DENSITY CODE 00h (default) and 7Fh (no change) are accepted, as is the
    /// density of the mounted medium or, without one, any density the drive reads; NUMBER OF BLOCKS must be zero.
    /// </summary>
    protected internal override bool TryApplyModeBlockDescriptor(in ModeBlockDescriptor requested)
    {
        if (requested.BlockCount != 0)
        {
            return false;
        }

        if (requested.BlockLength != 0
            && (requested.BlockLength < (uint)Personality.MinBlockLength || requested.BlockLength > (uint)Personality.MaxBlockLength))
        {
            return false;
        }

        var density = requested.DensityCode;
        if (density is not (0x00 or 0x7F))
        {
            var loaded = LoadedGeneration;
            var ok = loaded is not null
                ? loaded.DensityCode == density
                : Personality.ReadableGenerations.Any(g => g.DensityCode == density);
            if (!ok)
            {
                return false;
            }
        }

        lock (_lock)
        {
            _blockLength = requested.BlockLength;
        }

        return true;
    }

    /// <summary>
    /// SSC-4 §8.3.1 DEVICE-SPECIFIC PARAMETER: WP (bit 7) when the cartridge cannot be written, BUFFERED MODE (bits 6-4)
    /// as selected (001b by default), SPEED (bits 3-0) 0 = default speed.
    /// </summary>
    protected internal override byte DeviceSpecificParameter =>
        (byte)((IsWriteProtected ? 0x80 : 0x00) | (_bufferedMode << 4));

    /// <summary>
    /// MODE SENSE header MEDIUM TYPE (SPC-4 §7.5.4, unique for each device type): for an IBM personality the loaded
    /// cartridge's medium type code, the same code REPORT DENSITY SUPPORT (SSC-4 §6.6, MEDIUM TYPE=1) lists for it
    /// (data or WORM of its generation); 00h with no cartridge, with a cleaning cartridge and for other personalities.
    /// </summary>
    protected internal override byte MediumType
    {
        get
        {
            lock (_lock)
            {
                if (!Personality.ReportsCartridgeMediumType || _medium is null || _cartridge is not { Cleaning: false } c)
                {
                    return 0;
                }

                return c.Worm ? c.Generation.WormMediumType : c.Generation.DataMediumType;
            }
        }
    }

    /// <summary>
    /// MODE SELECT DEVICE-SPECIFIC PARAMETER: BUFFERED MODE 000b or 001b (we write through either way, so both are
    /// honoured), SPEED 0 only. WP is ignored (SSC-4 §8.3.1: reserved for MODE SELECT; st echoes what it sensed).
    /// </summary>
    protected internal override bool IsValidDeviceSpecificParameter(byte value) => ((value >> 4) & 0x07) <= 1 && (value & 0x0F) == 0;

    protected internal override void ApplyDeviceSpecificParameter(byte value) => _bufferedMode = (byte)((value >> 4) & 0x07);

    protected override void OnReset()
    {
        base.OnReset();
        ResetModeParameters();
        lock (_lock)
        {
            // SPC-4 §6.13: a reset ends every medium removal prevention.
            _preventers.Clear();
        }
    }

    internal override void OnNexusLost(ItNexus nexus)
    {
        base.OnNexusLost(nexus);
        lock (_lock)
        {
            _preventers.Remove(nexus.Id);

            // SSC-4 §4.2.21: LOCAL data encryption parameters belong to their I_T nexus. Dropped, not disposed: a command
            // of that nexus may still be finishing (see ClearEncryptionLocked).
            _localEncryption.Remove(nexus.Id);
            EncryptionChangedLocked();
        }
    }

    internal override void OnTaskManagement(TaskManagementEvent what, ItNexus requester)
    {
        base.OnTaskManagement(what, requester);
        if (what == TaskManagementEvent.TargetColdReset)
        {
            // A hard reset clears the data encryption keys, as power-on does (they are never stored).
            lock (_lock)
            {
                ClearEncryptionLocked(_ => true, wipe: false);
            }
        }
    }

    private void ResetModeParameters()
    {
        _modePages.ResetToSaved();
        _partitionLayoutPending = false;
        lock (_lock)
        {
            _blockLength = 0;
            _bufferedMode = 1;
            ApplyWormModeLocked();
        }
    }

    /// <summary>WORMM follows the cartridge, not MODE SELECT or a reset (SSC-4 Medium Configuration mode page).</summary>
    private void ApplyWormModeLocked() =>
        _modePages.SetDeviceByte(MediumConfigurationPage, 0, 2, _cartridge is { Worm: true } ? (byte)0x01 : (byte)0x00);

    private static ModePageSet BuildModePages(TapeDrivePersonality personality)
    {
        var pages = new ModePageSet();

        // SSC-4 Read-Write Error Recovery mode page (12 bytes): no retries reported, nothing changeable (st and
        // backup applications read it; TB/EER/PER/DTE all zero).
        pages.Register(ReadWriteErrorRecoveryPage, 0, new byte[12], new byte[12]);

        // SSC-4 Data Compression mode page (16 bytes): byte 2 DCE (7) | DCC (6); byte 3 DDE (7) | RED (6-5);
        // bytes 4-7 COMPRESSION ALGORITHM, 8-11 DECOMPRESSION ALGORITHM (01h: the drive's default algorithm, as IBM
        // LTO drives report). DCE is the only changeable bit: it decides whether WRITE stores blocks compressed.
        // DDE=1: compressed data is always decompressed on READ.
        var dc = new byte[16];
        var dcMask = new byte[16];
        if (personality.SupportsCompression)
        {
            dc[2] = (byte)(0x40 | (personality.CompressionEnabledByDefault ? 0x80 : 0));
            dc[3] = 0x80;
            dc[7] = 0x01;
            dc[11] = 0x01;
            dcMask[2] = 0x80;
        }

        pages.Register(DataCompressionPage, 0, dc, dcMask);

        // SSC-4 Device Configuration mode page (16 bytes): ACTIVE PARTITION (byte 3) follows the position (see
        // RefreshModePages); CAP (byte 2 bit 6) is not changeable, so a MODE SELECT that sets it is refused with
        // INVALID FIELD IN PARAMETER LIST: applications change partitions with LOCATE CP=1, which also says where to go.
        // Byte 8 LOIS (6) = logical object identifiers supported, REW (0) = 0 (no early-warning report on READ), SOCF
        // 00b; byte 10 EOD DEFINED 000b,
        // EEG (4) = 1 (we generate EOD), SEW (3) = 1 (synchronize at early warning: we write through anyway); byte 14
        // SELECT DATA COMPRESSION ALGORITHM 01h (default algorithm). Nothing changeable: compression is page 0Fh's.
        var dcfg = new byte[16];
        dcfg[8] = 0x40;
        dcfg[10] = 0x18;
        dcfg[14] = personality.SupportsCompression ? (byte)0x01 : (byte)0x00;
        pages.Register(DeviceConfigurationPage, 0, dcfg, new byte[16]);

        // SSC-4 Device Configuration Extension mode page (subpage 01h, 32 bytes): bytes 6-7 PROGRAMMABLE EARLY WARNING
        // SIZE (PEWS, megabytes of 10^6 bytes before early warning; 0 = none, the default) is changeable, as on IBM LTO
        // drives (LTFS sets it to learn that the partition is nearly full); write mode 0, nothing else changeable.
        var dcxMask = new byte[32];
        dcxMask[6] = 0xFF;
        dcxMask[7] = 0xFF;
        pages.Register(DeviceConfigurationPage, DeviceConfigurationExtensionSubpage, new byte[32], dcxMask);

        // SSC-4 Medium Configuration mode page (32 bytes): byte 2 bit 0 WORMM, set by the drive while a WORM cartridge
        // is loaded (applications learn from it that the tape is WORM); byte 4 WORM MODE LABEL RESTRICTIONS 00h (no
        // logical block may be overwritten); byte 5 WORM MODE FILEMARK RESTRICTIONS 02h (the filemarks immediately
        // before EOD may be overwritten, except the one closest to BOP: what the medium enforces). Nothing changeable.
        if (personality.SupportsWorm)
        {
            var mc = new byte[32];
            mc[5] = 0x02;
            pages.Register(MediumConfigurationPage, 0, mc, new byte[32]);
        }

        // SSC-4 §8.3.3 Control Data Protection mode page (page 0Ah subpage F0h, PAGE LENGTH 1Ch: 32 bytes): byte 4
        // LOGICAL BLOCK PROTECTION METHOD, byte 5 LOGICAL BLOCK PROTECTION INFORMATION LENGTH (bits 5-0), byte 6
        // LBP_W (7), LBP_R (6), RBDP (5). IBM LTO-5 and later drives have this page (IBM LTO SCSI Reference: logical
        // block protection) and applications read it before they choose protection (LTFS reads and writes it back on
        // every open; IBM Storage Protect's LBPROTECT turns it on). Method 00h (none) after power on, reset and load.
        // Changeable: the method, the length and LBP_W/LBP_R for a personality that protects blocks; RBDP never (there
        // is no RECOVER BUFFERED DATA, and IBM's LTO drives do not support RBDP either). See ValidateProtectionPage.
        var methods = personality.LogicalBlockProtectionMethods;
        var protectionMask = new byte[32];
        if (methods.Count > 0)
        {
            protectionMask[4] = 0xFF;
            protectionMask[5] = 0x3F;
            protectionMask[6] = ProtectionLbpW | ProtectionLbpR;
        }

        pages.Register(ModePageSet.ControlPage, ControlDataProtectionSubpage, new byte[32], protectionMask, page => ValidateProtectionPage(page, methods));

        RegisterMediumPartitionPage(pages, personality);
        return pages;
    }

    private const byte ProtectionLbpW = 0x80;
    private const byte ProtectionLbpR = 0x40;

    /// <summary>
    /// MODE SELECT checks of the Control Data Protection page beyond its changeable mask (SSC-4 §8.3.3): a method the
    /// drive knows, and the information length that method has (4 bytes for 01h and 02h, 0 for 00h); INVALID FIELD IN
    /// PARAMETER LIST at the offending byte otherwise. With method 00h LBP_W and LBP_R are accepted and have no effect.
    /// </summary>
    private static int ValidateProtectionPage(ReadOnlySpan<byte> page, IReadOnlyList<byte> methods)
    {
        if (page.Length < 7)
        {
            return -1;
        }

        var method = page[4];
        var length = page[5] & 0x3F;
        if (method == LogicalBlockProtection.None)
        {
            return length == 0 ? -1 : 5;
        }

        if (!methods.Contains(method))
        {
            return 4;
        }

        return length == LogicalBlockProtection.InformationLength ? -1 : 5;
    }

    /// <summary>The current LOGICAL BLOCK PROTECTION METHOD (00h: none).</summary>
    public byte ProtectionMethod => _modePages.GetCurrentByte(ModePageSet.ControlPage, ControlDataProtectionSubpage, 4);

    /// <summary>The method WRITE checks and strips (LBP_W set), or 00h: one page lookup per command.</summary>
    public byte WriteProtectionMethod => ProtectionMethodWith(ProtectionLbpW);

    /// <summary>The method READ appends (LBP_R set), or 00h.</summary>
    public byte ReadProtectionMethod => ProtectionMethodWith(ProtectionLbpR);

    /// <summary>LBP_W in effect: every block written carries protection information the drive checks and strips.</summary>
    public bool ProtectsWrites => WriteProtectionMethod != LogicalBlockProtection.None;

    /// <summary>LBP_R in effect: every block read is returned with its protection information appended.</summary>
    public bool ProtectsReads => ReadProtectionMethod != LogicalBlockProtection.None;

    private byte ProtectionMethodWith(byte flag)
    {
        Span<byte> page = stackalloc byte[3]; // bytes 4-6: method, information length, LBP_W | LBP_R | RBDP
        _modePages.CopyCurrent(ModePageSet.ControlPage, ControlDataProtectionSubpage, 4, page);
        return (page[2] & flag) != 0 ? page[0] : LogicalBlockProtection.None;
    }

    /// <summary>
    /// Raises <see cref="Unloaded"/> on the thread pool so event handlers never run while the command that caused
    /// them still holds the drive (a handler may call <see cref="EjectAsync"/>).
    /// </summary>
    private void RaiseUnloaded()
    {
        var handler = Unloaded;
        if (handler is not null)
        {
            ThreadPool.QueueUserWorkItem(static state => state.handler(state.unit), (handler, unit: this), preferLocal: false);
        }
    }
}

using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Ssc;

/*
 * Application-managed data encryption, as LTO-4 and later drives do it: SPC-4 §6.30/§6.31 SECURITY PROTOCOL IN/OUT
 * with the Tape Data Encryption security protocol (20h, SSC-4 §8.5), one algorithm (index 01h, AES-256-GCM, security
 * algorithm code 00010014h), plain-text keys (key format 00h), set per I_T nexus (LOCAL) or for all of them (PUBLIC,
 * ALL I_T NEXUS) and never stored: a gateway restart, a hard reset (TARGET COLD RESET) or — with CKOD — the tape
 * leaving the drive clears them, and a LOCAL set goes with its I_T nexus. The drive encrypts every block written
 * while ENCRYPT is set (compressed first), records the U-KAD/A-KAD with it, and on READ/VERIFY decrypts with the key
 * of the nexus: no key → DATA PROTECT 74/01 UNABLE TO DECRYPT DATA, another key → 74/03 INCORRECT DATA ENCRYPTION
 * KEY, a plain block in DECRYPT mode → 74/02 UNENCRYPTED DATA ENCOUNTERED WHILE DECRYPTING (MIXED returns it);
 * each passes the block over. Not supported, refused with ILLEGAL REQUEST 26/00 and the field pointer: EXTERNAL
 * encryption and RAW decryption modes, LOCK, SDK, CKORP/CKORL, wrapped or referenced keys, nonce/M-KAD/wrapped-key
 * descriptors. Filemarks are never encrypted (they carry no data).
 */
public sealed partial class TapeDriveLogicalUnit
{
    public const byte SecurityProtocolIn = 0xA2;
    public const byte SecurityProtocolOut = 0xB5;
    private const byte SecurityProtocolInformation = 0x00;
    private const byte TapeDataEncryptionProtocol = 0x20;
    private const byte EncryptionAlgorithmIndex = 0x01;
    private const uint AesGcm256AlgorithmCode = 0x00010014;

    private const ushort SetDataEncryptionPage = 0x0010;
    private const ushort InSupportPage = 0x0000;
    private const ushort OutSupportPage = 0x0001;
    private const ushort CapabilitiesPage = 0x0010;
    private const ushort KeyFormatsPage = 0x0011;
    private const ushort ManagementCapabilitiesPage = 0x0012;
    private const ushort EncryptionStatusPage = 0x0020;
    private const ushort NextBlockStatusPage = 0x0021;

    private const byte ScopePublic = 0;
    private const byte ScopeLocal = 1;
    private const byte ScopeAllItNexus = 2;

    private const byte EncryptionModeDisable = 0;
    private const byte EncryptionModeEncrypt = 2;
    private const byte DecryptionModeDisable = 0;
    private const byte DecryptionModeDecrypt = 2;
    private const byte DecryptionModeMixed = 3;

    private const byte KadUnauthenticated = 0x00;
    private const byte KadAuthenticated = 0x01;

    private EncryptionParameters? _publicEncryption;
    private readonly Dictionary<long, EncryptionParameters> _localEncryption = [];
    private uint _keyInstanceCounter;

    /// <summary>Some scope has parameters; written under the lock after every change of them.</summary>
    private volatile bool _anyEncryption;

    /// <summary>The data encryption parameters in force for one scope (SSC-4 §4.2.21 saved data encryption parameters).</summary>
    private sealed record EncryptionParameters(
        byte Scope,
        byte EncryptionMode,
        byte DecryptionMode,
        byte KadFormat,
        byte Ceem,
        bool ClearOnDemount,
        uint KeyInstanceCounter,
        TapeCipher? Key,
        TapeEncryption? Medium);

    /// <summary>
    /// What the medium applies for commands from <paramref name="nexus"/>: its LOCAL parameters, else the PUBLIC ones.
    /// Every READ and WRITE asks, so a drive that never had parameters answers without taking the lock.
    /// </summary>
    private TapeEncryption? EncryptionFor(ItNexus nexus) => _anyEncryption ? ParametersFor(nexus)?.Medium : null;

    private void EncryptionChangedLocked() => _anyEncryption = _publicEncryption is not null || _localEncryption.Count > 0;

    private EncryptionParameters? ParametersFor(ItNexus nexus)
    {
        lock (_lock)
        {
            return _localEncryption.GetValueOrDefault(nexus.Id) ?? _publicEncryption;
        }
    }

    /// <summary>Encryption modes an operator can see (no key material): null when the drive neither encrypts nor decrypts.</summary>
    public DriveEncryptionMode? EncryptionMode
    {
        get
        {
            lock (_lock)
            {
                var p = _publicEncryption ?? _localEncryption.Values.FirstOrDefault();
                return p is null ? null : new DriveEncryptionMode(
                    p.EncryptionMode == EncryptionModeEncrypt,
                    p.DecryptionMode switch { DecryptionModeDecrypt => "decrypt", DecryptionModeMixed => "mixed", _ => "off" },
                    p.Scope switch { ScopeLocal => "local", ScopeAllItNexus => "all-it-nexus", _ => "public" },
                    _localEncryption.Count);
            }
        }
    }

    /// <summary>
    /// Ends the parameters <paramref name="which"/> selects. <paramref name="wipe"/> disposes their keys at once; only
    /// callers that hold the drive's command gate may (no command can be using them): the others (nexus loss, hard
    /// reset) drop them for the garbage collector, so a command still in flight never meets a disposed key.
    /// </summary>
    private void ClearEncryptionLocked(Func<EncryptionParameters, bool> which, bool wipe)
    {
        if (_publicEncryption is { } p && which(p))
        {
            if (wipe)
            {
                p.Key?.Dispose();
            }

            _publicEncryption = null;
        }

        foreach (var (id, local) in _localEncryption.ToArray())
        {
            if (which(local))
            {
                if (wipe)
                {
                    local.Key?.Dispose();
                }

                _localEncryption.Remove(id);
            }
        }

        EncryptionChangedLocked();
    }

    /// <summary>The tape left the drive: parameters set with CKOD (clear key on demount) are gone.</summary>
    private void OnDemountForEncryption(ITapeMedium medium)
    {
        medium.Encryption = null;
        lock (_lock)
        {
            ClearEncryptionLocked(p => p.ClearOnDemount, wipe: true); // EjectAsync holds the command gate
        }
    }

    // ---- SECURITY PROTOCOL IN ----------------------------------------------------------------------------------

    /*
     * SPC-4 §6.30 SECURITY PROTOCOL IN: byte 1 SECURITY PROTOCOL, bytes 2-3 SECURITY PROTOCOL SPECIFIC, byte 4 INC_512
     * (bit 7; not supported: lengths are bytes), bytes 6-9 ALLOCATION LENGTH. Protocol 00h: 0000h the supported
     * protocols (00h, 20h), 0001h a zero-length certificate. Protocol 20h (SSC-4 §8.5.2): the pages listed in
     * InSupportPage. Another protocol or page: INVALID FIELD IN CDB at the field.
     */
    private static async ValueTask<CommandOutcome> SecurityProtocolInAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        var protocol = cdb[1];
        var page = BinaryPrimitives.ReadUInt16BigEndian(cdb[2..]);
        var allocationLength = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        if ((cdb[4] & 0x80) != 0)
        {
            return CommandOutcome.InvalidCdbField(4, 7);
        }

        byte[] data;
        switch (protocol)
        {
            case SecurityProtocolInformation when page == 0x0000:
                // SPC-4 §7.7.1: six reserved bytes, SUPPORTED SECURITY PROTOCOL LIST LENGTH, the list in ascending order.
                data = [0, 0, 0, 0, 0, 0, 0, 2, SecurityProtocolInformation, TapeDataEncryptionProtocol];
                break;
            case SecurityProtocolInformation when page == 0x0001:
                data = [0, 0, 0, 0]; // CERTIFICATE LENGTH 0: no certificate
                break;
            case SecurityProtocolInformation:
                return CommandOutcome.InvalidCdbField(2);
            case TapeDataEncryptionProtocol:
                var built = page switch
                {
                    InSupportPage => Page(InSupportPage, [0x00, 0x00, 0x00, 0x01, 0x00, 0x10, 0x00, 0x11, 0x00, 0x12, 0x00, 0x20, 0x00, 0x21]),
                    OutSupportPage => Page(OutSupportPage, [0x00, 0x10]),
                    CapabilitiesPage => unit.CapabilitiesPageData(),
                    KeyFormatsPage => Page(KeyFormatsPage, [0x00]), // plain-text key
                    ManagementCapabilitiesPage => Page(ManagementCapabilitiesPage,
                        // LOCK_C 0; CKOD_C 1, CKORP_C 0, CKORL_C 0; AITN_C, LOCAL_C, PUBLIC_C 1
                        [0x00, 0x04, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0]),
                    EncryptionStatusPage => unit.EncryptionStatusPageData(task.Nexus),
                    NextBlockStatusPage => await unit.NextBlockStatusPageDataAsync(task).ConfigureAwait(false),
                    _ => null,
                };
                if (built is null)
                {
                    return CommandOutcome.InvalidCdbField(2);
                }

                data = built;
                break;
            default:
                return CommandOutcome.InvalidCdbField(1);
        }

        var n = (int)Math.Min(data.Length, allocationLength);
        data.AsSpan(0, n).CopyTo(task.GetDataInBuffer(n).Span);
        task.CommandTransferLength = n;
        return CommandOutcome.Good;
    }

    private static byte[] Page(ushort code, ReadOnlySpan<byte> body)
    {
        var page = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt16BigEndian(page, code);
        BinaryPrimitives.WriteUInt16BigEndian(page.AsSpan(2), (ushort)body.Length);
        body.CopyTo(page.AsSpan(4));
        return page;
    }

    /*
     * SSC-4 §8.5.2.4 Data Encryption Capabilities: byte 4 EXTDECC (3-2) 00b | CFG_P (1-0) 01b (parameters may be set),
     * then one 24-byte algorithm descriptor: index 01h, length 0014h; AVFMV (the mounted volume can take it: LTO-4 and
     * later media) | DELB_C | MAC_C (the GCM tag) | DECRYPT_C and ENCRYPT_C 10b (in the device, set by SPOUT); NONCE_C
     * 01b (the drive makes the nonce); maximum U-KAD 32, A-KAD 12 bytes; key 32 bytes; RDMC_C 001b (every encrypted
     * block is disabled for raw reads: there is no RAW mode) | EAREM (the mode is recorded with each block);
     * algorithm code 00010014h.
     */
    private byte[] CapabilitiesPageData()
    {
        var body = new byte[16 + 24];
        body[0] = 0x01;
        var d = body.AsSpan(16);
        d[0] = EncryptionAlgorithmIndex;
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], 20);
        var generation = LoadedGeneration;
        var validForVolume = generation is { } g && g.Number >= 4 && Personality.CanWrite(g);
        d[4] = (byte)((validForVolume ? 0x80 : 0) | 0x20 | 0x10 | (0b10 << 2) | 0b10);
        d[5] = 0b01 << 4;
        BinaryPrimitives.WriteUInt16BigEndian(d[6..], TapeCipher.MaxUnauthenticatedKadLength);
        BinaryPrimitives.WriteUInt16BigEndian(d[8..], TapeCipher.MaxAuthenticatedKadLength);
        BinaryPrimitives.WriteUInt16BigEndian(d[10..], TapeCipher.KeyLength);
        d[12] = (0b001 << 1) | 0x01;
        BinaryPrimitives.WriteUInt32BigEndian(d[20..], AesGcm256AlgorithmCode);
        return Page(CapabilitiesPage, body);
    }

    /*
     * SSC-4 §8.5.2.7 Data Encryption Status, for the requesting I_T nexus: byte 4 I_T NEXUS SCOPE (7-5) | KEY SCOPE
     * (2-0); 5 ENCRYPTION MODE; 6 DECRYPTION MODE; 7 ALGORITHM INDEX; 8-11 KEY INSTANCE COUNTER; 12 PARAMETERS CONTROL
     * (6-4) 001b (application managed) | VCELB (not reported) | CEEMS (2-1) | RDMD (0, raw reads disabled); 13 KAD
     * FORMAT; 14-15 ASDK COUNT 0; then the key's U-KAD and A-KAD descriptors.
     */
    private byte[] EncryptionStatusPageData(ItNexus nexus)
    {
        var p = ParametersFor(nexus);
        var kads = p?.Key is { } key ? KadDescriptors(key.UnauthenticatedKad.Span, key.AuthenticatedKad.Span, null) : [];
        var body = new byte[20 + kads.Length];
        if (p is not null)
        {
            body[0] = (byte)((p.Scope << 5) | p.Scope);
            body[1] = p.EncryptionMode;
            body[2] = p.DecryptionMode;
            body[3] = p.Key is null ? (byte)0 : EncryptionAlgorithmIndex;
            BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), p.KeyInstanceCounter);
            body[8] = (byte)((0b001 << 4) | ((p.Ceem & 0x03) << 1) | (p.Key is null ? 0 : 1));
            body[9] = p.KadFormat;
        }
        else
        {
            body[8] = 0b001 << 4;
        }

        kads.CopyTo(body.AsSpan(20));
        return Page(EncryptionStatusPage, body);
    }

    /*
     * SSC-4 §8.5.2.8 Next Block Encryption Status: bytes 4-11 LOGICAL OBJECT NUMBER of the next object; byte 12
     * COMPRESSION STATUS (7-4) | ENCRYPTION STATUS (3-0); 13 ALGORITHM INDEX; 14 EMES (1) | RDMDS (0); 15 KAD FORMAT; then
     * the block's KAD descriptors. Encryption status: 1h not determinable now (end of data, an unreadable block), 2h
     * not a logical block (filemark), 3h not encrypted, 5h encrypted and the nexus's key decrypts it, 6h encrypted and
     * no key or another one. Compression status likewise 1h/2h, 3h not compressed, 4h compressed. No cartridge: every
     * field 0 (as LTO drives report it).
     */
    private async ValueTask<byte[]> NextBlockStatusPageDataAsync(ScsiTask task)
    {
        var body = new byte[12];
        if (!TryGetReadableMedium(out var medium, out _))
        {
            return Page(NextBlockStatusPage, body);
        }

        var p = ParametersFor(task.Nexus);
        medium.Encryption = p?.Medium;
        var next = await medium.DescribeNextObjectAsync(task.Aborted).ConfigureAwait(false);
        BinaryPrimitives.WriteInt64BigEndian(body, next.ObjectNumber);
        byte compression, encryption;
        byte[] kads = [];
        switch (next.Kind)
        {
            case TapeObjectKind.Filemark:
                (compression, encryption) = (2, 2);
                break;
            case TapeObjectKind.Block:
                compression = next.Compressed ? (byte)4 : (byte)3;
                if (!next.Encrypted)
                {
                    encryption = 3;
                    break;
                }

                encryption = next.KeyOpens == true ? (byte)5 : (byte)6;
                body[9] = EncryptionAlgorithmIndex;
                body[10] = 0x01; // RDMDS: no raw read of this block
                body[11] = p?.KadFormat ?? 0;
                kads = KadDescriptors(next.UnauthenticatedKad ?? [], next.AuthenticatedKad ?? [], next.KeyOpens);
                break;
            default:
                (compression, encryption) = (1, 1);
                break;
        }

        body[8] = (byte)((compression << 4) | encryption);
        var page = new byte[body.Length + kads.Length];
        body.CopyTo(page, 0);
        kads.CopyTo(page, body.Length);
        return Page(NextBlockStatusPage, page);
    }

    /// <summary>
    /// Key-associated data descriptors (SSC-4 §8.5.4.3): type, AUTHENTICATED (2-0: 1 not authenticated, 2 authenticated,
    /// 3 authentication failed), length, data. A U-KAD is never authenticated; an A-KAD is when the key opened the block.
    /// </summary>
    private static byte[] KadDescriptors(ReadOnlySpan<byte> ukad, ReadOnlySpan<byte> akad, bool? verified)
    {
        var size = (ukad.IsEmpty ? 0 : 4 + ukad.Length) + (akad.IsEmpty ? 0 : 4 + akad.Length);
        var d = new byte[size];
        var at = 0;
        if (!ukad.IsEmpty)
        {
            d[0] = KadUnauthenticated;
            d[1] = 1;
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(2), (ushort)ukad.Length);
            ukad.CopyTo(d.AsSpan(4));
            at = 4 + ukad.Length;
        }

        if (!akad.IsEmpty)
        {
            d[at] = KadAuthenticated;
            d[at + 1] = verified switch { true => 2, false => 3, null => 1 };
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(at + 2), (ushort)akad.Length);
            akad.CopyTo(d.AsSpan(at + 4));
        }

        return d;
    }

    // ---- SECURITY PROTOCOL OUT ---------------------------------------------------------------------------------

    /*
     * SPC-4 §6.31 SECURITY PROTOCOL OUT: byte 1 SECURITY PROTOCOL (20h only), bytes 2-3 SECURITY PROTOCOL SPECIFIC
     * (0010h Set Data Encryption only), byte 4 INC_512 (bit 7, not supported), bytes 6-9 TRANSFER LENGTH (0: nothing
     * is transferred, not an error).
     * SSC-4 §8.5.3.2 Set Data Encryption page: 0-1 page code, 2-3 page length; 4 SCOPE (7-5) | LOCK (0); 5 CEEM (7-6) |
     * RDMC (5-4) | SDK (3) | CKOD (2) | CKORP (1) | CKORL (0); 6 ENCRYPTION MODE; 7 DECRYPTION MODE; 8 ALGORITHM
     * INDEX; 9 LOGICAL BLOCK ENCRYPTION KEY FORMAT; 10 KAD FORMAT; 18-19 KEY LENGTH; the key; KAD descriptors to the
     * end of the page. Both modes DISABLE clears the scope's parameters (the key is not looked at: stenc and Bareos
     * send 32 zero bytes). Parameters for PUBLIC or ALL I_T NEXUS give every other I_T nexus UNIT ATTENTION 2A/11 DATA
     * ENCRYPTION PARAMETERS CHANGED BY ANOTHER I_T NEXUS; ALL I_T NEXUS also ends every LOCAL set.
     */
    private static async ValueTask<CommandOutcome> SecurityProtocolOutAsync(TapeDriveLogicalUnit unit, ScsiTask task)
    {
        var cdb = task.Cdb;
        if (cdb[1] != TapeDataEncryptionProtocol)
        {
            return CommandOutcome.InvalidCdbField(1);
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(cdb[2..]) != SetDataEncryptionPage)
        {
            return CommandOutcome.InvalidCdbField(2);
        }

        if ((cdb[4] & 0x80) != 0)
        {
            return CommandOutcome.InvalidCdbField(4, 7);
        }

        var transferLength = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        task.CommandTransferLength = transferLength;
        if (transferLength == 0)
        {
            return CommandOutcome.Good;
        }

        if (transferLength > 8192)
        {
            return CommandOutcome.InvalidCdbField(6);
        }

        var received = await task.ReceiveDataOutAsync().ConfigureAwait(false);
        if (received.Length < transferLength)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var failure = unit.TryParseSetDataEncryption(received.Span[..(int)transferLength], out var request);
        if (failure is { } refused)
        {
            return refused;
        }

        unit.ApplySetDataEncryption(task.Nexus, request!);
        return CommandOutcome.Good;
    }

    private sealed record SetDataEncryptionRequest(byte Scope, byte EncryptionMode, byte DecryptionMode, byte KadFormat, byte Ceem, bool Ckod, byte[] Key, byte[] Ukad, byte[] Akad)
    {
        public bool Disables => EncryptionMode == EncryptionModeDisable && DecryptionMode == DecryptionModeDisable;
    }

    private CommandOutcome? TryParseSetDataEncryption(ReadOnlySpan<byte> p, out SetDataEncryptionRequest? request)
    {
        request = null;
        if (p.Length < 4)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(p) != SetDataEncryptionPage)
        {
            return CommandOutcome.InvalidParameterField(0);
        }

        var pageEnd = 4 + BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        if (pageEnd > p.Length || pageEnd < 20)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var scope = (byte)(p[4] >> 5);
        if (scope > ScopeAllItNexus)
        {
            return CommandOutcome.InvalidParameterField(4, 7);
        }

        if ((p[4] & 0x01) != 0)
        {
            return CommandOutcome.InvalidParameterField(4, 0); // LOCK: LOCK_C is 0
        }

        var ceem = (byte)(p[5] >> 6);
        if (((p[5] >> 4) & 0x03) == 1)
        {
            return CommandOutcome.InvalidParameterField(5, 5); // RDMC 01b is reserved
        }

        if ((p[5] & 0x08) != 0)
        {
            return CommandOutcome.InvalidParameterField(5, 3); // SDK: no supplemental decryption keys
        }

        if ((p[5] & 0x02) != 0)
        {
            return CommandOutcome.InvalidParameterField(5, 1); // CKORP_C is 0
        }

        if ((p[5] & 0x01) != 0)
        {
            return CommandOutcome.InvalidParameterField(5, 0); // CKORL_C is 0
        }

        var ckod = (p[5] & 0x04) != 0;
        var encryptionMode = p[6];
        if (encryptionMode is not (EncryptionModeDisable or EncryptionModeEncrypt))
        {
            return CommandOutcome.InvalidParameterField(6); // 01h EXTERNAL is not supported
        }

        var decryptionMode = p[7];
        if (decryptionMode is not (DecryptionModeDisable or DecryptionModeDecrypt or DecryptionModeMixed))
        {
            return CommandOutcome.InvalidParameterField(7); // 01h RAW is not supported
        }

        var kadFormat = p[10];
        if (kadFormat > 2)
        {
            return CommandOutcome.InvalidParameterField(10);
        }

        var keyLength = BinaryPrimitives.ReadUInt16BigEndian(p[18..]);
        if (20 + keyLength > pageEnd)
        {
            return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
        }

        var disables = encryptionMode == EncryptionModeDisable && decryptionMode == DecryptionModeDisable;
        if (disables)
        {
            request = new SetDataEncryptionRequest(scope, encryptionMode, decryptionMode, kadFormat, ceem, ckod, [], [], []);
            return null;
        }

        if (p[8] != EncryptionAlgorithmIndex)
        {
            return CommandOutcome.InvalidParameterField(8);
        }

        if (p[9] != 0x00)
        {
            return CommandOutcome.InvalidParameterField(9); // only plain-text keys
        }

        if (keyLength != TapeCipher.KeyLength)
        {
            return CommandOutcome.InvalidParameterField(18);
        }

        byte[]? ukad = null, akad = null;
        var at = 20 + keyLength;
        while (at < pageEnd)
        {
            if (at + 4 > pageEnd)
            {
                return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
            }

            var type = p[at];
            var length = BinaryPrimitives.ReadUInt16BigEndian(p[(at + 2)..]);
            if (at + 4 + length > pageEnd)
            {
                return CommandOutcome.Fail(SenseReason.ParameterListLengthError);
            }

            var value = p.Slice(at + 4, length).ToArray();
            switch (type)
            {
                case KadUnauthenticated when ukad is null:
                    if (length > TapeCipher.MaxUnauthenticatedKadLength)
                    {
                        return CommandOutcome.InvalidParameterField(at + 2);
                    }

                    ukad = value;
                    break;
                case KadAuthenticated when akad is null:
                    if (length > TapeCipher.MaxAuthenticatedKadLength)
                    {
                        return CommandOutcome.InvalidParameterField(at + 2);
                    }

                    akad = value;
                    break;
                default:
                    return CommandOutcome.InvalidParameterField(at); // nonce, M-KAD, wrapped key, or a second one
            }

            at += 4 + length;
        }

        request = new SetDataEncryptionRequest(scope, encryptionMode, decryptionMode, kadFormat, ceem, ckod,
            p.Slice(20, keyLength).ToArray(), ukad ?? [], akad ?? []);
        return null;
    }

    private void ApplySetDataEncryption(ItNexus nexus, SetDataEncryptionRequest request)
    {
        EncryptionParameters? parameters = null;
        try
        {
            lock (_lock)
            {
                var counter = ++_keyInstanceCounter;
                if (!request.Disables)
                {
                    var key = new TapeCipher(request.Key, request.Ukad, request.Akad);
                    parameters = new EncryptionParameters(request.Scope, request.EncryptionMode, request.DecryptionMode,
                        request.KadFormat, request.Ceem, request.Ckod, counter, key,
                        new TapeEncryption(
                            request.EncryptionMode == EncryptionModeEncrypt ? key : null,
                            request.DecryptionMode != DecryptionModeDisable ? key : null,
                            request.DecryptionMode == DecryptionModeDecrypt));
                }

                if (request.Scope == ScopeLocal)
                {
                    if (_localEncryption.Remove(nexus.Id, out var old))
                    {
                        old.Key?.Dispose();
                    }

                    if (parameters is not null)
                    {
                        _localEncryption[nexus.Id] = parameters;
                    }
                }
                else
                {
                    _publicEncryption?.Key?.Dispose();
                    _publicEncryption = parameters;
                    if (request.Scope == ScopeAllItNexus)
                    {
                        ClearEncryptionLocked(p => p.Scope == ScopeLocal, wipe: true); // SPOUT is a serialized command
                    }
                }

                EncryptionChangedLocked();
                parameters = null; // owned by the drive now
            }
        }
        finally
        {
            parameters?.Key?.Dispose();
        }

        if (request.Scope != ScopeLocal)
        {
            UnitAttentions.AddAllExcept(nexus, SenseReason.DataEncryptionParametersChangedByAnotherItNexus);
        }
    }
}

/// <summary>A drive's data encryption settings as an operator may see them (never the key).</summary>
/// <param name="Encrypt">Blocks written are encrypted.</param>
/// <param name="Decrypt">"off", "decrypt" (only encrypted blocks are read) or "mixed".</param>
/// <param name="Scope">"public", "all-it-nexus" (every I_T nexus) or "local" (one initiator's connection).</param>
/// <param name="LocalSets">How many I_T nexuses hold parameters of their own.</param>
public sealed record DriveEncryptionMode(bool Encrypt, string Decrypt, string Scope, int LocalSets);

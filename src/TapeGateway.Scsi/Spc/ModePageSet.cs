using System.Buffers.Binary;

namespace TapeGateway.Scsi.Spc;

/// <summary>SPC-4 §6.11 table 100 PAGE CONTROL (PC) field of MODE SENSE.</summary>
public enum ModePageControl : byte
{
    Current = 0,
    Changeable = 1,
    Default = 2,
    Saved = 3,
}

/// <summary>
/// One mode parameter block descriptor (SPC-4 §7.5.5), device-type neutral: disks use block count and block length
/// (SBC-3 §6.4.2), tapes density code and block length (SSC-4 §8.3.2; block count is then the "number of blocks" that
/// is always 0).
/// </summary>
public readonly record struct ModeBlockDescriptor(byte DensityCode, ulong BlockCount, uint BlockLength);

/// <summary>
/// Validates a whole page image (header included) before MODE SELECT applies it; returns -1 when it is acceptable
/// or the byte offset inside the page of the offending field (reported as INVALID FIELD IN PARAMETER LIST).
/// </summary>
public delegate int ModePageValidator(ReadOnlySpan<byte> page);

/// <summary>
/// Mode pages of one logical unit with current, changeable and default values (SPC-4 §7.5). We do not implement
/// saved values: "saved" is the default set, which <see cref="ResetToSaved"/> restores (SAM-5 §6.3.3).
/// Device types add their own pages with <see cref="Register"/> (SBC: Caching 0x08, Read-Write Error Recovery 0x01;
/// SSC: 0x0F, 0x10, 0x11). Pages are full images as the standards draw them: bytes 0–1 (or 0–3 for the sub_page
/// format) are the page header and are filled in here, so byte offsets match the spec tables.
/// </summary>
public class ModePageSet
{
    public const byte ControlPage = 0x0A;
    public const byte ControlExtensionSubpage = 0x01;
    public const byte InformationalExceptionsPage = 0x1C;

    /// <summary>Control Extension byte 4 bit 2: timestamp changeable by methods outside the standard (SPC-4 §7.5.9).</summary>
    public const byte ControlExtensionTcmos = 0x04;

    /// <summary>Control Extension byte 4 bit 1: SET TIMESTAMP allowed and takes precedence (SPC-4 §7.5.9).</summary>
    public const byte ControlExtensionScsip = 0x02;
    public const byte AllPages = 0x3F;
    public const byte AllSubpages = 0xFF;

    private readonly Lock _lock = new();
    private readonly SortedList<ushort, Page> _pages = [];

    /// <summary>Creates the set with the pages every device type shares (Control, Control Extension, IEC).</summary>
    public ModePageSet()
        : this(includeSharedPages: true)
    {
    }

    public ModePageSet(bool includeSharedPages)
    {
        if (includeSharedPages)
        {
            RegisterSharedPages();
        }
    }

    /// <summary>The Control Extension page's current SCSIP bit: whether SET TIMESTAMP may set the device clock.</summary>
    public bool ScsiPrecedence => (GetCurrentByte(ControlPage, ControlExtensionSubpage, 4) & ControlExtensionScsip) != 0;

    /// <summary>
    /// The Control page's D_SENSE bit (SPC-4 §7.5.8): sense data in descriptor format. Setting it changes the current
    /// value of the Control page, as a MODE SELECT would.
    /// </summary>
    public bool DescriptorSense
    {
        get
        {
            lock (_lock)
            {
                return _pages.TryGetValue(Key(ControlPage, 0), out var p) && (p.Current[2] & 0x04) != 0;
            }
        }

        set
        {
            lock (_lock)
            {
                if (_pages.TryGetValue(Key(ControlPage, 0), out var p))
                {
                    p.Current[2] = (byte)(value ? p.Current[2] | 0x04 : p.Current[2] & ~0x04);
                }
            }
        }
    }

    /// <summary>
    /// Adds a page. <paramref name="defaults"/> is the full page image (header bytes are overwritten);
    /// <paramref name="changeableMask"/> has the same length and a one for every bit MODE SELECT may change.
    /// <paramref name="minimumSelectLength"/> &gt; 0 lets MODE SELECT send the page shortened to at least that many bytes
    /// (pages whose length varies with their content, e.g. SSC-4 §8.3.4 Medium Partition with fewer PARTITION SIZE
    /// descriptors); the bytes it leaves out become zero. MODE SENSE always reports the full image.
    /// </summary>
    public ModePageSet Register(byte page, byte subpage, byte[] defaults, byte[] changeableMask, ModePageValidator? validator = null, int minimumSelectLength = 0)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        ArgumentNullException.ThrowIfNull(changeableMask);
        if (page is 0 or >= AllPages)
        {
            throw new ArgumentOutOfRangeException(nameof(page), "page codes 01h-3Eh only");
        }

        if (subpage == AllSubpages)
        {
            throw new ArgumentOutOfRangeException(nameof(subpage), "FFh is the all-subpages selector");
        }

        var headerLength = subpage == 0 ? 2 : 4;
        if (defaults.Length < headerLength || defaults.Length != changeableMask.Length
            || (subpage == 0 && defaults.Length > 257))
        {
            throw new ArgumentException("page image and changeable mask must be the same, valid length", nameof(changeableMask));
        }

        var image = (byte[])defaults.Clone();
        var mask = (byte[])changeableMask.Clone();
        WriteHeader(image, page, subpage);
        WriteHeader(mask, page, subpage);
        lock (_lock)
        {
            _pages[Key(page, subpage)] = new Page(page, subpage, image, mask, validator, minimumSelectLength is > 0 ? minimumSelectLength : image.Length);
        }

        return this;
    }

    public bool Contains(byte page, byte subpage)
    {
        lock (_lock)
        {
            return _pages.ContainsKey(Key(page, subpage));
        }
    }

    /// <summary>Copies the current value of a page (header included); false when the page is not registered.</summary>
    public bool TryGetCurrent(byte page, byte subpage, Span<byte> destination, out int length)
    {
        lock (_lock)
        {
            if (_pages.TryGetValue(Key(page, subpage), out var p) && destination.Length >= p.Current.Length)
            {
                p.Current.CopyTo(destination);
                length = p.Current.Length;
                return true;
            }
        }

        length = 0;
        return false;
    }

    /// <summary>Reads one byte of a page's current value (device types check e.g. Caching WCE); 0 when absent.</summary>
    public byte GetCurrentByte(byte page, byte subpage, int offset)
    {
        lock (_lock)
        {
            return _pages.TryGetValue(Key(page, subpage), out var p) && offset < p.Current.Length ? p.Current[offset] : (byte)0;
        }
    }

    /// <summary>
    /// Copies consecutive bytes of a page's current value under one lock (zeros where the page is absent or shorter):
    /// for a field that spans bytes a command reads together, e.g. the protection method and its LBP_W/LBP_R flags.
    /// </summary>
    public void CopyCurrent(byte page, byte subpage, int offset, Span<byte> destination)
    {
        destination.Clear();
        lock (_lock)
        {
            if (_pages.TryGetValue(Key(page, subpage), out var p) && offset < p.Current.Length)
            {
                var source = p.Current.AsSpan(offset);
                source[..Math.Min(source.Length, destination.Length)].CopyTo(destination);
            }
        }
    }

    /// <summary>
    /// Sets one byte of a page's current value that the device maintains, not the initiator (e.g. SSC-4 WORMM, set
    /// while a WORM cartridge is loaded). MODE SELECT still cannot change it (the changeable mask is untouched), but
    /// must echo it, as for every unchangeable field.
    /// </summary>
    public void SetDeviceByte(byte page, byte subpage, int offset, byte value)
    {
        lock (_lock)
        {
            if (_pages.TryGetValue(Key(page, subpage), out var p) && offset < p.Current.Length)
            {
                p.Current[offset] = value;
            }
        }
    }

    /// <summary>Back to default values (we keep no saved values): LU reset, power on (SAM-5 §6.3.3).</summary>
    public virtual void ResetToSaved()
    {
        lock (_lock)
        {
            foreach (var p in _pages.Values)
            {
                p.Default.CopyTo(p.Current, 0);
            }
        }
    }

    /// <summary>
    /// Writes the pages selected by a MODE SENSE page/subpage code (SPC-4 §6.11: 3Fh all pages, FFh all subpages).
    /// Returns the number of bytes the full answer needs (it may be larger than <paramref name="destination"/>;
    /// only what fits is written), or -1 when nothing matches.
    /// </summary>
    internal int WritePages(byte pageCode, byte subpage, ModePageControl pc, Span<byte> destination)
    {
        var total = 0;
        var matched = false;
        lock (_lock)
        {
            foreach (var p in _pages.Values)
            {
                var selected = pageCode == AllPages
                    ? subpage == AllSubpages || p.Subpage == 0
                    : p.Code == pageCode && (subpage == AllSubpages || p.Subpage == subpage);
                if (!selected)
                {
                    continue;
                }

                matched = true;
                var source = pc switch
                {
                    ModePageControl.Changeable => p.Changeable,
                    ModePageControl.Default or ModePageControl.Saved => p.Default,
                    _ => p.Current,
                };
                if (total < destination.Length)
                {
                    var n = Math.Min(source.Length, destination.Length - total);
                    source.AsSpan(0, n).CopyTo(destination[total..]);
                }

                total += source.Length;
            }
        }

        return matched ? total : -1;
    }

    /// <summary>Upper bound of what <see cref="WritePages"/> can produce for the all-pages/all-subpages request.</summary>
    internal int TotalLength
    {
        get
        {
            lock (_lock)
            {
                var n = 0;
                foreach (var p in _pages.Values)
                {
                    n += p.Current.Length;
                }

                return n;
            }
        }
    }

    internal bool HasPageCode(byte page)
    {
        lock (_lock)
        {
            foreach (var p in _pages.Values)
            {
                if (p.Code == page)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Checks the pages of a MODE SELECT parameter list (after header and block descriptors) against the registered
    /// pages and their changeable masks (SPC-4 §6.13/§7.5.1). Returns None, or the reason plus the parameter-list offset.
    /// </summary>
    internal (Sense.SenseReason Reason, int Offset, int? Bit) Validate(ReadOnlySpan<byte> pages, int baseOffset)
    {
        lock (_lock)
        {
            var offset = 0;
            while (offset < pages.Length)
            {
                var at = baseOffset + offset;
                if (pages.Length - offset < 2)
                {
                    return (Sense.SenseReason.ParameterListLengthError, at, null);
                }

                var code = (byte)(pages[offset] & 0x3F);
                var spf = (pages[offset] & 0x40) != 0;
                byte subpage = 0;
                int length;
                if (spf)
                {
                    if (pages.Length - offset < 4)
                    {
                        return (Sense.SenseReason.ParameterListLengthError, at, null);
                    }

                    subpage = pages[offset + 1];
                    length = 4 + BinaryPrimitives.ReadUInt16BigEndian(pages[(offset + 2)..]);
                }
                else
                {
                    length = 2 + pages[offset + 1];
                }

                if (!_pages.TryGetValue(Key(code, subpage), out var p))
                {
                    return (Sense.SenseReason.InvalidFieldInParameterList, spf ? at + 1 : at, spf ? null : 5);
                }

                if (length > p.Current.Length || length < p.MinimumSelectLength)
                {
                    return (Sense.SenseReason.InvalidFieldInParameterList, at + (spf ? 2 : 1), null);
                }

                if (offset + length > pages.Length)
                {
                    return (Sense.SenseReason.ParameterListLengthError, at, null);
                }

                var image = pages.Slice(offset, length);

                // SPC-4 §7.5.7: only changeable bits may differ from the current value; the header is compared too,
                // except the PS bit, which is reserved in MODE SELECT (initiators echo what MODE SENSE reported).
                for (var i = spf ? 4 : 2; i < length; i++)
                {
                    var bad = (byte)((image[i] ^ p.Current[i]) & ~p.Changeable[i]);
                    if (bad != 0)
                    {
                        return (Sense.SenseReason.InvalidFieldInParameterList, at + i, 7 - System.Numerics.BitOperations.LeadingZeroCount((uint)bad << 24));
                    }
                }

                if (p.Validator is { } validate && validate(image) is var badOffset and >= 0)
                {
                    return (Sense.SenseReason.InvalidFieldInParameterList, at + badOffset, null);
                }

                offset += length;
            }

            return (Sense.SenseReason.None, 0, null);
        }
    }

    /// <summary>Applies pages already accepted by <see cref="Validate"/>; returns the pages whose values changed.</summary>
    internal List<(byte Page, byte Subpage)> Apply(ReadOnlySpan<byte> pages)
    {
        var changed = new List<(byte, byte)>();
        lock (_lock)
        {
            var offset = 0;
            while (offset < pages.Length)
            {
                var code = (byte)(pages[offset] & 0x3F);
                var spf = (pages[offset] & 0x40) != 0;
                var subpage = spf ? pages[offset + 1] : (byte)0;
                var p = _pages[Key(code, subpage)];
                var headerLength = spf ? 4 : 2;
                var length = spf ? 4 + BinaryPrimitives.ReadUInt16BigEndian(pages[(offset + 2)..]) : 2 + pages[offset + 1];
                var full = new byte[p.Current.Length - headerLength];
                pages.Slice(offset + headerLength, length - headerLength).CopyTo(full);
                if (!full.AsSpan().SequenceEqual(p.Current.AsSpan(headerLength)))
                {
                    full.CopyTo(p.Current.AsSpan(headerLength));
                    changed.Add((code, subpage));
                }

                offset += length;
            }
        }

        return changed;
    }

    private static ushort Key(byte page, byte subpage) => (ushort)((page << 8) | subpage);

    private static void WriteHeader(byte[] image, byte page, byte subpage)
    {
        if (subpage == 0)
        {
            image[0] = page;
            image[1] = (byte)(image.Length - 2);
        }
        else
        {
            image[0] = (byte)(0x40 | page); // SPF: sub_page format (SPC-4 §7.5.7)
            image[1] = subpage;
            BinaryPrimitives.WriteUInt16BigEndian(image.AsSpan(2), (ushort)(image.Length - 4));
        }
    }

    private void RegisterSharedPages()
    {
        // SPC-4 §7.5.8 Control page. TST 000b (one task set), GLTSD=1 (we never save log parameters), QUEUE ALGORITHM
        // MODIFIER 1 (unrestricted reordering: the LU serializes what must be serialized itself), QERR 00b,
        // TAS=0 (other nexuses get COMMANDS CLEARED BY ANOTHER INITIATOR, matching LogicalUnit.OnTaskManagement),
        // BUSY TIMEOUT PERIOD FFFFh (unlimited). Only D_SENSE is changeable: it selects the sense format we return.
        var control = new byte[12];
        control[2] = 0x02;
        control[3] = 0x10;
        control[8] = 0xFF;
        control[9] = 0xFF;
        var controlMask = new byte[12];
        controlMask[2] = 0x04;
        Register(ControlPage, 0, control, controlMask);

        // SPC-4 §7.5.9 Control Extension. TCMOS=1: the device clock is initialized from the host's clock at power on
        // and hard reset, a method outside the standard (see DeviceClock). SCSIP=1: SET TIMESTAMP is allowed and
        // takes precedence; an initiator may clear SCSIP to lock the clock, and SET TIMESTAMP is then refused
        // (SPC-4 SET TIMESTAMP). No implicit ALUA (IALUAE=0), initial command priority 0.
        var controlExtension = new byte[32];
        controlExtension[4] = ControlExtensionTcmos | ControlExtensionScsip;
        var controlExtensionMask = new byte[32];
        controlExtensionMask[4] = ControlExtensionScsip;
        Register(ControlPage, ControlExtensionSubpage, controlExtension, controlExtensionMask);

        // SPC-4 §7.5.11 Informational Exceptions Control: we have no failure prediction, so DEXCPT=1 (disabled) and
        // MRIE 0. DEXCPT stays changeable because initiators (smartctl, Windows) toggle it; nothing is ever reported.
        var iec = new byte[12];
        iec[2] = 0x08;
        var iecMask = new byte[12];
        iecMask[2] = 0x08;
        Register(InformationalExceptionsPage, 0, iec, iecMask);
    }

    private sealed class Page(byte code, byte subpage, byte[] defaults, byte[] changeable, ModePageValidator? validator, int minimumSelectLength)
    {
        public int MinimumSelectLength { get; } = minimumSelectLength;

        public byte Code { get; } = code;

        public byte Subpage { get; } = subpage;

        public byte[] Current { get; } = (byte[])defaults.Clone();

        public byte[] Default { get; } = defaults;

        public byte[] Changeable { get; } = changeable;

        public ModePageValidator? Validator { get; } = validator;
    }
}

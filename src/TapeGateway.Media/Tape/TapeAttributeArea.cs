using System.Buffers.Binary;

namespace TapeGateway.Media.Tape;

/// <summary>
/// In-memory copy of the MAM-like attribute area and its slot encoding. Two fixed slots are written alternately
/// (shadow paging): a torn slot write leaves the other, older slot intact, so attributes are never half-updated.
/// </summary>
internal sealed class TapeAttributeArea
{
    // Keyed by (partition << 16 | id) so partition 1 attributes fit later without a format change.
    private readonly SortedDictionary<int, byte[]> _values = [];

    public ulong Sequence { get; set; }

    public int EncodedLength
    {
        get
        {
            var total = 0;
            foreach (var v in _values.Values)
            {
                total += TapeFormat.AttributeEntryHeaderSize + v.Length;
            }

            return total;
        }
    }

    public bool TryGet(ushort id, out ReadOnlyMemory<byte> value) => TryGet(0, id, out value);

    /// <summary>A MAM attribute of <paramref name="partition"/>.</summary>
    public bool TryGet(int partition, ushort id, out ReadOnlyMemory<byte> value)
    {
        if (_values.TryGetValue(Key(partition, id), out var bytes))
        {
            value = bytes;
            return true;
        }

        value = default;
        return false;
    }

    public ushort[] Ids() => Ids(0);

    /// <summary>Identifiers of <paramref name="partition"/>'s MAM attributes, ascending.</summary>
    public ushort[] Ids(int partition)
    {
        var ids = new List<ushort>(_values.Count);
        foreach (var key in _values.Keys)
        {
            if (key >> 16 == partition)
            {
                ids.Add((ushort)key);
            }
        }

        return [.. ids];
    }

    /// <summary>An entry by its full key (partition &lt;&lt; 16 | id), internal entries included.</summary>
    public bool TryGetEntry(int key, out byte[] value) => _values.TryGetValue(key, out value!);

    /// <summary>Sets (or, with null, removes) an entry by its full key; the caller checks the size first.</summary>
    public void SetEntry(int key, byte[]? value)
    {
        if (value is null)
        {
            _values.Remove(key);
        }
        else
        {
            _values[key] = value;
        }
    }

    /// <summary>Size the area would have after applying <paramref name="changes"/> (empty value = delete).</summary>
    public int EncodedLengthAfter(IReadOnlyList<TapeAttribute> changes) => EncodedLengthAfter(0, changes);

    /// <summary>As <see cref="EncodedLengthAfter(IReadOnlyList{TapeAttribute})"/>, for attributes of <paramref name="partition"/>.</summary>
    public int EncodedLengthAfter(int partition, IReadOnlyList<TapeAttribute> changes)
    {
        var copy = new Dictionary<int, int>(_values.Count + changes.Count);
        foreach (var (k, v) in _values)
        {
            copy[k] = v.Length;
        }

        foreach (var c in changes)
        {
            if (c.Value.IsEmpty)
            {
                copy.Remove(Key(partition, c.Id));
            }
            else
            {
                copy[Key(partition, c.Id)] = c.Value.Length;
            }
        }

        var total = 0;
        foreach (var len in copy.Values)
        {
            total += TapeFormat.AttributeEntryHeaderSize + len;
        }

        return total;
    }

    public void Apply(IReadOnlyList<TapeAttribute> changes) => Apply(0, changes);

    /// <summary>Sets (empty value: deletes) attributes of <paramref name="partition"/>.</summary>
    public void Apply(int partition, IReadOnlyList<TapeAttribute> changes)
    {
        foreach (var c in changes)
        {
            if (c.Value.IsEmpty)
            {
                _values.Remove(Key(partition, c.Id));
            }
            else
            {
                _values[Key(partition, c.Id)] = c.Value.ToArray();
            }
        }
    }

    /// <summary>Removes the MAM attributes of every partition ≥ <paramref name="first"/> (internal entries stay).</summary>
    public void RemoveMamFrom(int first)
    {
        var doomed = new List<int>();
        foreach (var key in _values.Keys)
        {
            var partition = key >> 16;
            if (partition >= first && partition != TapeFormat.InternalAttributePartition)
            {
                doomed.Add(key);
            }
        }

        foreach (var key in doomed)
        {
            _values.Remove(key);
        }
    }

    private static int Key(int partition, ushort id) => (partition << 16) | id;

    /// <summary>Encodes the whole area with <paramref name="sequence"/> into <paramref name="slot"/>; returns the bytes used.</summary>
    public int Encode(Span<byte> slot, ulong sequence)
    {
        var entries = slot[TapeFormat.AttributeSlotHeaderSize..];
        var p = 0;
        foreach (var (key, value) in _values)
        {
            entries[p] = (byte)(key >> 16); // partition
            entries[p + 1] = 0; // reserved
            BinaryPrimitives.WriteUInt16LittleEndian(entries[(p + 2)..], (ushort)key);
            BinaryPrimitives.WriteUInt16LittleEndian(entries[(p + 4)..], (ushort)value.Length);
            value.CopyTo(entries[(p + TapeFormat.AttributeEntryHeaderSize)..]);
            p += TapeFormat.AttributeEntryHeaderSize + value.Length;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(slot, TapeFormat.AttributeMagic);
        BinaryPrimitives.WriteInt32LittleEndian(slot[4..], p);
        BinaryPrimitives.WriteUInt64LittleEndian(slot[8..], sequence);
        var crcAt = TapeFormat.AttributeSlotHeaderSize + p;
        BinaryPrimitives.WriteUInt32LittleEndian(slot[crcAt..], TapeFormat.Crc(slot[..crcAt]));
        return crcAt + 4;
    }

    /// <summary>Decodes a slot; false if it is absent, torn or corrupt.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> slot, out ulong sequence, out List<KeyValuePair<int, byte[]>> entries)
    {
        sequence = 0;
        entries = [];
        if (slot.Length < TapeFormat.AttributeSlotHeaderSize + 4 || BinaryPrimitives.ReadUInt32LittleEndian(slot) != TapeFormat.AttributeMagic)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(slot[4..]);
        if (length < 0 || length > TapeFormat.MaxAttributeBytes)
        {
            return false;
        }

        var crcAt = TapeFormat.AttributeSlotHeaderSize + length;
        if (BinaryPrimitives.ReadUInt32LittleEndian(slot[crcAt..]) != TapeFormat.Crc(slot[..crcAt]))
        {
            return false;
        }

        sequence = BinaryPrimitives.ReadUInt64LittleEndian(slot[8..]);
        var data = slot[TapeFormat.AttributeSlotHeaderSize..crcAt];
        var p = 0;
        while (p < data.Length)
        {
            if (p + TapeFormat.AttributeEntryHeaderSize > data.Length)
            {
                return false;
            }

            var partition = data[p];
            var id = BinaryPrimitives.ReadUInt16LittleEndian(data[(p + 2)..]);
            var len = BinaryPrimitives.ReadUInt16LittleEndian(data[(p + 4)..]);
            var start = p + TapeFormat.AttributeEntryHeaderSize;
            if (start + len > data.Length)
            {
                return false;
            }

            entries.Add(new((partition << 16) | id, data.Slice(start, len).ToArray()));
            p = start + len;
        }

        return true;
    }

    public void Load(List<KeyValuePair<int, byte[]>> entries, ulong sequence)
    {
        _values.Clear();
        foreach (var (k, v) in entries)
        {
            _values[k] = v;
        }

        Sequence = sequence;
    }
}

using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TapeGateway.Storage.Tapes;

/// <summary>
/// The small JSON object that makes a tape's objects a tape: which head and segment objects hold which bytes of the
/// image, with their SHA-256. It is written last (after every object it names is in the store), so whatever manifest
/// a reader finds describes complete objects. It also carries what a lost gateway's catalog needs to rebuild the tape
/// (barcode, capacity, WORM, pool, state hints) — the bucket alone is enough for disaster recovery.
/// </summary>
public sealed record TapeManifest
{
    public const int CurrentFormat = 1;

    [JsonPropertyName("format")]
    public int Format { get; init; } = CurrentFormat;

    [JsonPropertyName("barcode")]
    public required string Barcode { get; init; }

    /// <summary>The gateway that wrote the library-tier copy.</summary>
    [JsonPropertyName("gatewayId")]
    public required string GatewayId { get; init; }

    /// <summary>Increases with every publish; object keys carry the generation they were uploaded in.</summary>
    [JsonPropertyName("generation")]
    public required long Generation { get; init; }

    /// <summary>Bytes of the record stream per segment object (the last one may be shorter).</summary>
    [JsonPropertyName("segmentSize")]
    public required long SegmentSize { get; init; }

    /// <summary>Length of the image's metadata region, held by <see cref="Head"/>; segment 0 starts here.</summary>
    [JsonPropertyName("dataStart")]
    public required long DataStart { get; init; }

    /// <summary>Image length the manifest covers: <see cref="DataStart"/> + the sum of the segment lengths.</summary>
    [JsonPropertyName("length")]
    public required long Length { get; init; }

    /// <summary>
    /// True when the image was closed cleanly (unloaded, end-of-data sealed) and every byte was uploaded; false for a
    /// snapshot of a tape still in use, which is what disaster recovery turns into a RECOVERED tape.
    /// </summary>
    [JsonPropertyName("complete")]
    public required bool Complete { get; init; }

    [JsonPropertyName("capacityBytes")]
    public required long CapacityBytes { get; init; }

    [JsonPropertyName("worm")]
    public bool Worm { get; init; }

    [JsonPropertyName("poolId")]
    public string? PoolId { get; init; }

    /// <summary>Record bytes written (AWS TapeUsedInBytes).</summary>
    [JsonPropertyName("usedBytes")]
    public long UsedBytes { get; init; }

    [JsonPropertyName("head")]
    public required TapeObjectRef Head { get; init; }

    [JsonPropertyName("segments")]
    public required IReadOnlyList<TapeSegmentRef> Segments { get; init; }

    [JsonPropertyName("written")]
    public DateTimeOffset Written { get; init; }

    /// <summary>Archive tier only: the storage class the objects were copied into.</summary>
    [JsonPropertyName("storageClass")]
    [JsonConverter(typeof(JsonStringEnumConverter<StorageClass>))]
    public StorageClass? StorageClass { get; init; }

    /// <summary>Archive tier only: when the tape reached the archive (AWS TapeArchiveTime).</summary>
    [JsonPropertyName("archived")]
    public DateTimeOffset? Archived { get; init; }

    /// <summary>Archive tier only: retention lock copied from the pool ("NONE", "GOVERNANCE", "COMPLIANCE") and until when.</summary>
    [JsonPropertyName("retentionLock")]
    public string? RetentionLock { get; init; }

    [JsonPropertyName("retainUntil")]
    public DateTimeOffset? RetainUntil { get; init; }

    /// <summary>
    /// Archive tier only: the pool's name and retention days, so a catalog rebuilt from the bucket can recreate a custom
    /// pool (and its lock) it never saw. Absent in manifests written before they were recorded.
    /// </summary>
    [JsonPropertyName("poolName")]
    public string? PoolName { get; init; }

    [JsonPropertyName("retentionDays")]
    public int? RetentionDays { get; init; }

    /// <summary>Every object the manifest names: the head, then the segments in order.</summary>
    public IEnumerable<TapeObjectRef> Objects()
    {
        yield return Head;
        foreach (var s in Segments)
        {
            yield return s;
        }
    }

    /// <summary>Null when the manifest is self-consistent, else what is wrong (checked after every read).</summary>
    public string? Validate()
    {
        if (Format != CurrentFormat)
        {
            return $"manifest format {Format} is not supported (this gateway reads {CurrentFormat})";
        }

        if (SegmentSize <= 0 || DataStart <= 0 || Head.Length != DataStart)
        {
            return "segment size, data start or head length is invalid";
        }

        long expected = DataStart;
        for (var i = 0; i < Segments.Count; i++)
        {
            var s = Segments[i];
            if (s.Index != i || s.Length <= 0 || s.Length > SegmentSize || (i < Segments.Count - 1 && s.Length != SegmentSize))
            {
                return $"segment {i} is out of order or has a bad length";
            }

            expected += s.Length;
        }

        return expected == Length ? null : $"segments cover {expected} bytes, the manifest says {Length}";
    }

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, s_json);

    /// <summary>Parses and validates; throws <see cref="InvalidDataException"/> for anything that is not a usable manifest.</summary>
    public static TapeManifest Parse(ReadOnlySpan<byte> json)
    {
        TapeManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<TapeManifest>(json, s_json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException("The tape manifest is not valid JSON: " + e.Message, e);
        }

        if (manifest is null)
        {
            throw new InvalidDataException("The tape manifest is empty.");
        }

        var error = manifest.Validate();
        return error is null ? manifest : throw new InvalidDataException("Invalid tape manifest: " + error);
    }

    /// <summary>Reads and validates the manifest at <paramref name="key"/>; null when there is none.</summary>
    public static async Task<TapeManifest?> ReadAsync(IObjectStore store, string key, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        try
        {
            var read = await store.GetAsync(key, null, ct).ConfigureAwait(false);
            await using (read.ConfigureAwait(false))
            {
                using var buffer = new MemoryStream();
                await read.Content.CopyToAsync(buffer, ct).ConfigureAwait(false);
                return Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            }
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
    }

    public static string Sha256Hex(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));
}

/// <summary>One object of a tape: key, length and the SHA-256 it must have.</summary>
public record TapeObjectRef
{
    [JsonPropertyName("key")]
    public required string Key { get; init; }

    [JsonPropertyName("length")]
    public required long Length { get; init; }

    [JsonPropertyName("sha256")]
    public required string Sha256 { get; init; }
}

/// <summary>A record-stream segment: bytes [DataStart + Index·SegmentSize, + Length) of the image.</summary>
public sealed record TapeSegmentRef : TapeObjectRef
{
    [JsonPropertyName("index")]
    public required int Index { get; init; }
}

using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TapeGateway.Storage;

/// <summary>
/// The embedded default store: objects as files under one root directory, so the gateway runs with no S3 at all.
/// </summary>
/// <remarks>
/// Layout: key "a/b c" is the data file "a/b%20c.obj" plus the metadata sidecar "a/b%20c.meta" (JSON: size, ETag,
/// storage class, user metadata with the SHA-256, restore expiry). Each '/'-separated key segment is percent-encoded
/// (a leading '.' too, so no key can reach ".tmp" or "..").
/// A put writes both files under ".tmp", fsyncs them, then renames the data file and then the sidecar into place:
/// the sidecar is the commit point, so readers never see a half-written object. A crash between the two renames of an
/// overwrite leaves new data under the old sidecar, which the SHA-256 check reports as corrupted rather than returning
/// it (the put was not acknowledged, so its caller writes it again). The directory entries themselves are not fsynced
/// (.NET has no portable directory fsync); the data is.
/// Archive classes are only recorded; a restore is simulated as immediate, with the requested expiry.
/// A local file can also become an object by hard link (<see cref="TryAdoptFileAsync"/>) instead of a copy; nothing
/// here writes a data file in place after its commit (a copy or a rename makes a new one), which adoption relies on.
/// </remarks>
public sealed class FileSystemObjectStore : IObjectStore, IFileAdoptingObjectStore
{
    private const string DataSuffix = ".obj";
    private const string MetaSuffix = ".meta";
    private const int MaxFileNameBytes = 255;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly string _root;
    private readonly string _tmp;
    private readonly TimeProvider _time;
    private readonly BackgroundWorkScheduler? _background;

    // Serializes the commit step (precondition check + renames + sidecar rewrites) within this process.
    private readonly SemaphoreSlim _commit = new(1, 1);

    /// <param name="rootDirectory">Where the objects live.</param>
    /// <param name="timeProvider">Clock for LastModified and restore expiry.</param>
    /// <param name="background">Runs each put's copy and hash; the calling thread when null.</param>
    public FileSystemObjectStore(string rootDirectory, TimeProvider? timeProvider = null, BackgroundWorkScheduler? background = null)
    {
        _background = background;
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        _root = Path.GetFullPath(rootDirectory);
        _tmp = Path.Combine(_root, ".tmp");
        _time = timeProvider ?? TimeProvider.System;
        Directory.CreateDirectory(_tmp);
    }

    public string RootDirectory => _root;

    internal sealed record Sidecar(
        long Size,
        string ETag,
        DateTimeOffset LastModified,
        StorageClass StorageClass,
        Dictionary<string, string> Metadata,
        DateTimeOffset? RestoreExpiry);

    /// <summary>
    /// An S3 ETag is an opaque quoted string (an MD5 only for single-part, unencrypted puts; never for multipart), so
    /// this store derives it from the SHA-256 it computes anyway instead of hashing every byte a second time with MD5.
    /// </summary>
    private static string ETagOf(string sha256Hex) => $"\"{sha256Hex[..32]}\"";

    /// <summary>The SHA-256 is computed while storing (and returned), so nobody needs to hash first.</summary>
    public bool NeedsSha256BeforePut => false;

    public async Task<PutResult> PutAsync(string key, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        options ??= new PutOptions();
        var (dataPath, metaPath) = PathsOf(key);
        var tmpData = TempPath();
        try
        {
            // The copy and its hash are most of a put's cost (a tape segment is 64 MiB): they run on the background
            // workers when the store has them, so they yield the CPU to the drives; the commit continues elsewhere.
            var (size, shaHex) = _background is null
                ? CopyToFile(content, tmpData, cancellationToken)
                : await _background.Run(() => CopyToFile(content, tmpData, cancellationToken), cancellationToken).ConfigureAwait(false);
            return await CommitAsync(key, dataPath, metaPath, tmpData, size, shaHex, options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            TryDelete(tmpData);
        }
    }

    /// <summary>
    /// Hard-links the file into ".tmp" and commits it as a put does (fsync, data rename, sidecar rename), so a tape
    /// segment becomes an object without its bytes being copied: the page cache already holds them, and only the
    /// SHA-256 pass reads them.
    /// </summary>
    public async Task<PutResult?> TryAdoptFileAsync(string key, string path, long length, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        options ??= new PutOptions();
        var (dataPath, metaPath) = PathsOf(key);
        if (!HardLinks.IsSupported)
        {
            return null;
        }

        var tmpData = TempPath();
        try
        {
            if (!HardLinks.TryCreate(path, tmpData, out _))
            {
                return null; // EXDEV, EPERM, ENOTSUP, EMLINK, ...: the copy works everywhere
            }

            // The hash is computed from the linked inode itself, so what the sidecar records is what was committed;
            // the caller's ExpectedSha256 (if any) is only compared, as for a put.
            var shaHex = _background is null
                ? HashLinked(tmpData, length, cancellationToken)
                : await _background.Run(() => HashLinked(tmpData, length, cancellationToken), cancellationToken).ConfigureAwait(false);
            if (shaHex is null)
            {
                return null;
            }

            return await CommitAsync(key, dataPath, metaPath, tmpData, length, shaHex, options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            TryDelete(tmpData);
        }
    }

    /// <summary>
    /// SHA-256 of a linked file, fsynced; null when it is not exactly <paramref name="length"/> bytes (an object's size
    /// is its file's, so a longer file cannot be adopted) or changed size while it was hashed (a broken promise).
    /// </summary>
    private static string? HashLinked(string path, long length, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (RandomAccess.GetLength(handle) != length)
        {
            return null;
        }

        var shaHex = FileSha256.TryCompute(handle, length, cancellationToken);
        if (shaHex is null || RandomAccess.GetLength(handle) != length)
        {
            return null;
        }

        // Durable before it becomes visible, as a copied put (the source's writer may never have fsynced it).
        RandomAccess.FlushToDisk(handle);
        return shaHex;
    }

    /// <summary>Makes the fsynced data file at <paramref name="tmpData"/> the object: data rename, then the sidecar.</summary>
    private async Task<PutResult> CommitAsync(string key, string dataPath, string metaPath, string tmpData, long size, string shaHex, PutOptions options, CancellationToken cancellationToken)
    {
        ObjectKeys.CheckExpected(key, options.ExpectedSha256, shaHex);
        var sidecar = new Sidecar(
            size,
            ETagOf(shaHex),
            _time.GetUtcNow(),
            options.StorageClass,
            ObjectKeys.WithSha256(options.Metadata, shaHex),
            null);

        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (options.IfNoneMatch && File.Exists(metaPath))
            {
                throw new PreconditionFailedException($"'{key}' already exists (If-None-Match: *)") { Key = key };
            }

            Directory.CreateDirectory(Path.GetDirectoryName(dataPath)!);
            File.Move(tmpData, dataPath, overwrite: true);
            WriteSidecar(metaPath, sidecar);
        }
        finally
        {
            _commit.Release();
        }

        return new PutResult(key, size, shaHex, sidecar.ETag);
    }

    /// <summary>Copies <paramref name="content"/> into a new file, fsyncs it and returns its size and SHA-256.</summary>
    private static (long Size, string Sha256) CopyToFile(Stream content, string path, CancellationToken cancellationToken)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.None);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int n;
            while ((n = content.Read(buffer, 0, 1 << 20)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                sha.AppendData(buffer, 0, n);
                file.Write(buffer, 0, n);
                size += n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        // Durable before it becomes visible: an acknowledged put must survive a power cut.
        file.Flush(flushToDisk: true);
        return (size, Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    public async Task<ObjectReadResult> GetAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        var (dataPath, metaPath) = PathsOf(key);
        Sidecar meta;
        long offset;
        long count;
        FileStream file;

        // A put replaces the data file and then its sidecar under _commit; the sidecar and the open handle are taken
        // under it too, so a read gets one version's pair (as an S3 GET does), never new data with an old sidecar.
        // The open handle keeps its file even if a later put renames another over it.
        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            meta = ReadSidecar(key, metaPath);
            ObjectKeys.EnsureReadable(key, meta.StorageClass, RestoreOf(meta));
            (offset, count) = ObjectKeys.Resolve(key, range, meta.Size);
            try
            {
                file = new FileStream(dataPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
            }
            catch (FileNotFoundException ex)
            {
                throw new ObjectNotFoundException($"no object '{key}'", ex) { Key = key };
            }
        }
        finally
        {
            _commit.Release();
        }

        Stream stream;
        if (range is null)
        {
            stream = new Sha256VerifyingStream(file, meta.Metadata[ObjectMetadataKeys.Sha256], meta.Size, key);
        }
        else
        {
            file.Position = offset;
            stream = new BoundedReadStream(file, count);
        }

        return new ObjectReadResult(stream, meta.Size, range);
    }

    public Task<ObjectInfo> HeadAsync(string key, CancellationToken cancellationToken = default)
    {
        var (_, metaPath) = PathsOf(key);
        return Task.FromResult(InfoOf(key, ReadSidecar(key, metaPath)));
    }

    public async IAsyncEnumerable<ObjectSummary> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);

        // Only the directory of the prefix's complete segments can hold matches; don't walk the whole tree.
        var slash = prefix.LastIndexOf('/');
        var start = slash < 0 ? _root : Path.Combine(_root, EncodePath(prefix[..slash]));
        if (!Directory.Exists(start))
        {
            yield break;
        }

        var keys = new List<(string Key, string MetaPath)>();
        foreach (var metaPath in Directory.EnumerateFiles(start, "*" + MetaSuffix, SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(_root, metaPath);
            if (relative.StartsWith(".tmp", StringComparison.Ordinal))
            {
                continue;
            }

            var key = DecodePath(relative[..^MetaSuffix.Length]);
            if (key is not null && key.StartsWith(prefix, StringComparison.Ordinal))
            {
                keys.Add((key, metaPath));
            }
        }

        keys.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var (key, metaPath) in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Sidecar meta;
            try
            {
                meta = ReadSidecar(key, metaPath);
            }
            catch (ObjectNotFoundException)
            {
                continue; // deleted while listing
            }

            yield return new ObjectSummary(key, meta.Size, meta.ETag, meta.LastModified, meta.StorageClass);
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var (dataPath, metaPath) = PathsOf(key);
        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Sidecar first: once it is gone the object is gone, even if we crash before removing the data.
            TryDelete(metaPath);
            TryDelete(dataPath);
        }
        finally
        {
            _commit.Release();
        }
    }

    public async Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CopyOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new CopyOptions();
        var (srcData, srcMeta) = PathsOf(sourceKey);
        var (dstData, dstMeta) = PathsOf(destinationKey);
        var source = ReadSidecar(sourceKey, srcMeta);
        var copy = source with { LastModified = _time.GetUtcNow(), StorageClass = options.StorageClass, RestoreExpiry = null };
        if (sourceKey == destinationKey)
        {
            if (source.StorageClass == options.StorageClass)
            {
                throw new ArgumentException($"copying '{sourceKey}' onto itself without changing the storage class changes nothing");
            }

            await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                WriteSidecar(dstMeta, copy);
            }
            finally
            {
                _commit.Release();
            }

            return InfoOf(destinationKey, copy);
        }

        var tmpData = TempPath();
        try
        {
            File.Copy(srcData, tmpData);
            using (var handle = File.OpenHandle(tmpData, FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.FlushToDisk(handle);
            }

            if (new FileInfo(tmpData).Length != source.Size)
            {
                throw new ObjectCorruptedException($"copy of '{sourceKey}' has the wrong size") { Key = sourceKey };
            }

            await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(dstData)!);
                File.Move(tmpData, dstData, overwrite: true);
                WriteSidecar(dstMeta, copy);
            }
            finally
            {
                _commit.Release();
            }
        }
        catch (FileNotFoundException ex)
        {
            throw new ObjectNotFoundException($"no object '{sourceKey}'", ex) { Key = sourceKey };
        }
        finally
        {
            TryDelete(tmpData);
        }

        return InfoOf(destinationKey, copy);
    }

    public async Task<RestoreRequestResult> RequestRestoreAsync(string key, RestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Days);
        var (_, metaPath) = PathsOf(key);
        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var meta = ReadSidecar(key, metaPath);
            if (!meta.StorageClass.IsArchive())
            {
                throw new InvalidObjectStateException($"'{key}' is not archived; there is nothing to restore") { Key = key, StorageClass = meta.StorageClass };
            }

            var wasRestored = RestoreOf(meta).State == RestoreState.Restored;
            WriteSidecar(metaPath, meta with { RestoreExpiry = _time.GetUtcNow().AddDays(options.Days) });
            return wasRestored ? RestoreRequestResult.AlreadyRestored : RestoreRequestResult.Accepted;
        }
        finally
        {
            _commit.Release();
        }
    }

    /// <summary>The data file of a key, for tests that damage it on purpose.</summary>
    internal string DataPathForTesting(string key) => PathsOf(key).Data;

    private RestoreStatus RestoreOf(Sidecar s) => ObjectKeys.LocalRestoreStatus(s.StorageClass, s.RestoreExpiry, _time.GetUtcNow());

    private ObjectInfo InfoOf(string key, Sidecar s) =>
        new(key, s.Size, s.ETag, s.LastModified, s.StorageClass, s.Metadata, RestoreOf(s));

    private string TempPath() => Path.Combine(_tmp, Guid.NewGuid().ToString("N"));

    private Sidecar ReadSidecar(string key, string metaPath)
    {
        try
        {
            return JsonSerializer.Deserialize<Sidecar>(File.ReadAllBytes(metaPath), JsonOptions)
                ?? throw new ObjectCorruptedException($"the metadata of '{key}' is empty") { Key = key };
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ObjectNotFoundException($"no object '{key}'", ex) { Key = key };
        }
        catch (JsonException ex)
        {
            throw new ObjectCorruptedException($"the metadata of '{key}' is unreadable", ex) { Key = key };
        }
    }

    // Caller holds _commit. Written to a temp file, fsynced and renamed: the rename is the atomic commit.
    private void WriteSidecar(string metaPath, Sidecar sidecar)
    {
        var tmp = TempPath();
        try
        {
            using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                JsonSerializer.Serialize(file, sidecar, JsonOptions);
                file.Flush(flushToDisk: true);
            }

            File.Move(tmp, metaPath, overwrite: true);
        }
        finally
        {
            TryDelete(tmp);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private (string Data, string Meta) PathsOf(string key)
    {
        ObjectKeys.Validate(key);
        var basePath = Path.Combine(_root, EncodePath(key));
        if (Encoding.UTF8.GetByteCount(Path.GetFileName(basePath)) + MetaSuffix.Length > MaxFileNameBytes)
        {
            throw new ArgumentException($"a segment of key '{key}' is too long for the filesystem store", nameof(key));
        }

        return (basePath + DataSuffix, basePath + MetaSuffix);
    }

    internal static string EncodePath(string key) => string.Join('/', key.Split('/').Select(EncodeSegment));

    private static string EncodeSegment(string segment)
    {
        if (segment.Length == 0)
        {
            return "%"; // a lone '%' is never produced otherwise, so it can stand for an empty segment
        }

        var sb = new StringBuilder(segment.Length);
        var bytes = Encoding.UTF8.GetBytes(segment);
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            var safe = b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
                or (byte)'-' or (byte)'_' or (byte)'~' || (b == (byte)'.' && i > 0);
            if (safe)
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    internal static string? DecodePath(string relative)
    {
        var parts = relative.Split(Path.DirectorySeparatorChar);
        var decoded = new string[parts.Length];
        for (var p = 0; p < parts.Length; p++)
        {
            var part = parts[p];
            if (part == "%")
            {
                decoded[p] = string.Empty;
                continue;
            }

            var bytes = new List<byte>(part.Length);
            for (var i = 0; i < part.Length; i++)
            {
                if (part[i] == '%')
                {
                    if (i + 2 >= part.Length)
                    {
                        return null; // not a name this store wrote
                    }

                    if (!byte.TryParse(part.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                    {
                        return null;
                    }

                    bytes.Add(b);
                    i += 2;
                }
                else
                {
                    bytes.Add((byte)part[i]);
                }
            }

            decoded[p] = Encoding.UTF8.GetString(bytes.ToArray());
        }

        return string.Join('/', decoded);
    }
}

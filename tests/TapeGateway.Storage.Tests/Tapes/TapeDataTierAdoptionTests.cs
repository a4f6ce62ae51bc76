using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Media.Tape;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Storage.Tests.Tapes;

/// <summary>
/// The tier over the embedded filesystem store on the cache's filesystem: full segments become objects by hard link,
/// and every later change of such a segment file goes to a copy, so the stored objects never change.
/// </summary>
public sealed class TapeDataTierAdoptionTests : IAsyncLifetime
{
    private const long SegmentSize = 64 * 1024;
    private const int BlockLength = 40_000;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tapegw-adopt-" + Guid.NewGuid().ToString("N"));
    private readonly FileSystemObjectStore _store;
    private readonly TapeObjectLayout _layout = new("gw1");
    private readonly List<TapeDataTier> _tiers = [];

    public TapeDataTierAdoptionTests() => _store = new FileSystemObjectStore(Path.Combine(_root, "objects"));

    private string CacheDirectory => Path.Combine(_root, "cache");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var t in _tiers)
        {
            await t.DisposeAsync();
        }

        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private async Task<TapeDataTier> StartTierAsync(string? cacheDirectory = null, bool adopt = true, IObjectStore? store = null, long cacheBytes = 64 * SegmentSize)
    {
        var options = new TapeCacheOptions
        {
            Directory = cacheDirectory ?? CacheDirectory,
            SegmentSize = SegmentSize,
            CacheBytes = cacheBytes,
            UploadBufferBytes = 64 * SegmentSize,

            // Long: a mounted tape publishes no snapshot (which would collect the objects this test reads back) and
            // its partial tail is uploaded only when the tape is closed.
            PublishInterval = TimeSpan.FromHours(1),
            UploadRetryDelay = TimeSpan.FromMilliseconds(20),
            MaxUploadRetryDelay = TimeSpan.FromMilliseconds(100),
            AdoptSegmentFiles = adopt,
        };
        var tier = new TapeDataTier(store ?? _store, _layout, options, NullLogger<TapeDataTier>.Instance);
        _tiers.Add(tier);
        await tier.StartAsync(default);
        return tier;
    }

    private async Task StopTierAsync(TapeDataTier tier)
    {
        await tier.DisposeAsync();
        _tiers.Remove(tier);
    }

    private static async Task CreateTapeAsync(TapeDataTier tier, string barcode) =>
        await tier.CreateAsync(barcode, 16 << 20, worm: false, async store =>
        {
            var image = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = 16 << 20 });
            await image.UnloadAsync();
        }, default);

    private static byte[] Block(int seed)
    {
        var data = new byte[BlockLength];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static async Task WriteBlocksAsync(TapeImage image, int blocks, int seedBase)
    {
        for (var i = 0; i < blocks; i++)
        {
            Assert.Equal(TapeCondition.Ok, (await image.WriteBlockAsync(Block(seedBase + i), compress: false)).Condition);
        }

        Assert.Equal(TapeCondition.Ok, (await image.WriteFilemarksAsync(1, immediate: false)).Condition);
    }

    private static async Task AssertBlocksAsync(TapeImage image, IEnumerable<int> seeds)
    {
        var buffer = new byte[BlockLength];
        foreach (var seed in seeds)
        {
            var r = await image.ReadBlockAsync(buffer);
            Assert.True(r.Condition == TapeCondition.Ok, $"block of seed {seed}: {r.Condition}");
            Assert.Equal(Block(seed), buffer.AsSpan(0, r.BytesTransferred).ToArray());
        }

        Assert.Equal(TapeCondition.FilemarkDetected, (await image.ReadBlockAsync(buffer)).Condition);
    }

    private string SegmentFile(string barcode, int index) =>
        Path.Combine(CacheDirectory, barcode, "seg." + index.ToString("D8", CultureInfo.InvariantCulture));

    /// <summary>A full read: the store verifies the object's SHA-256 against its sidecar at the end.</summary>
    private async Task<byte[]> ReadObjectAsync(string key)
    {
        await using var read = await _store.GetAsync(key);
        using var buffer = new MemoryStream();
        await read.Content.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    /// <summary>Every segment object of the manifest, read in full and checked against the manifest's SHA-256.</summary>
    private async Task<Dictionary<string, byte[]>> ReadSegmentsAsync(TapeManifest manifest)
    {
        var objects = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var segment in manifest.Segments)
        {
            var bytes = await ReadObjectAsync(segment.Key);
            Assert.Equal(segment.Length, bytes.Length);
            Assert.Equal(segment.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
            objects[segment.Key] = bytes;
        }

        return objects;
    }

    private async Task AssertUnchangedAsync(Dictionary<string, byte[]> before)
    {
        foreach (var (key, bytes) in before)
        {
            Assert.Equal(bytes, await ReadObjectAsync(key));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), (await _store.HeadAsync(key)).Sha256);
        }
    }

    [SkippableFact]
    public async Task Full_segments_are_adopted_and_an_overwrite_copies_the_file_before_changing_it()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "hard-link adoption is Linux-only");
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "ADP001");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("ADP001", default));
        await WriteBlocksAsync(image, 10, seedBase: 0);
        await image.UnloadAsync();
        var first = await tier.EnsureUploadedAsync("ADP001", default);

        // Every full segment is its object's inode; the partial tail was copied (it would be appended to).
        var full = first.Segments.Where(s => s.Length == SegmentSize).ToList();
        Assert.True(full.Count >= 5, "400 000 bytes of records fill at least 5 segments of 64 KiB");
        Assert.Equal(full.Count, tier.AdoptedSegments);
        foreach (var segment in full)
        {
            Assert.Equal(2, HardLinks.LinkCount(SegmentFile("ADP001", segment.Index)));
            Assert.Equal(HardLinks.InodeForTesting(_store.DataPathForTesting(segment.Key)), HardLinks.InodeForTesting(SegmentFile("ADP001", segment.Index)));
        }

        var tail = first.Segments[^1];
        Assert.NotEqual(SegmentSize, tail.Length);
        Assert.Equal(1, HardLinks.LinkCount(SegmentFile("ADP001", tail.Index)));
        var before = await ReadSegmentsAsync(first);

        // Overwrite from block 1 (inside segment 0): the tier truncates segment 0 and rewrites it, both in place.
        image = await TapeImage.OpenAsync(await tier.OpenAsync("ADP001", default));
        Assert.Equal(TapeCondition.Ok, (await image.LocateAsync(1)).Condition);
        await WriteBlocksAsync(image, 3, seedBase: 500);

        // The objects the published manifest names still hold the old bytes (and verify), while the cache has the new.
        await AssertUnchangedAsync(before);
        Assert.True(tier.CopiedOnWriteSegments >= 1, "segment 0 was copied before its first change");
        Assert.Equal(TapeCondition.Ok, (await image.RewindAsync()).Condition);
        await AssertBlocksAsync(image, [0, 500, 501, 502]);
        await image.UnloadAsync();

        var second = await tier.EnsureUploadedAsync("ADP001", default);
        Assert.True(second.Generation > first.Generation);
        Assert.Equal(0, tier.UploadFailures);
        var after = await ReadSegmentsAsync(second);

        // A restart forgets the in-memory marks: the link count tells the new tier which files are shared.
        await StopTierAsync(tier);
        var restarted = await StartTierAsync();
        image = await TapeImage.OpenAsync(await restarted.OpenAsync("ADP001", default));
        await AssertBlocksAsync(image, [0, 500, 501, 502]);
        Assert.Equal(TapeCondition.Ok, (await image.LocateAsync(1)).Condition);
        await WriteBlocksAsync(image, 2, seedBase: 900);
        Assert.True(restarted.CopiedOnWriteSegments >= 1, "the shared segment 0 was copied after the restart too");
        await AssertUnchangedAsync(after);
        await image.UnloadAsync();
        var third = await restarted.EnsureUploadedAsync("ADP001", default);
        await ReadSegmentsAsync(third);

        // And the bucket alone still holds the tape: a new cache rebuilds it from the manifest.
        await StopTierAsync(restarted);
        var rebuilt = await StartTierAsync(Path.Combine(_root, "cache2"));
        image = await TapeImage.OpenAsync(await rebuilt.OpenAsync("ADP001", default));
        await AssertBlocksAsync(image, [0, 900, 901]);
        await image.UnloadAsync();
    }

    [SkippableFact]
    public async Task A_crash_after_the_uploads_recovers_from_the_manifest_with_the_adopted_objects()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "hard-link adoption is Linux-only");
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "ADP002");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("ADP002", default));
        await WriteBlocksAsync(image, 12, seedBase: 0);
        await image.UnloadAsync();
        var manifest = await tier.EnsureUploadedAsync("ADP002", default);
        Assert.True(tier.AdoptedSegments > 0);

        // The gateway and its cache are lost; the objects (one inode each with a cache file a moment ago) remain.
        await StopTierAsync(tier);
        Directory.Delete(CacheDirectory, recursive: true);
        foreach (var segment in manifest.Segments)
        {
            Assert.Equal(1, HardLinks.LinkCount(_store.DataPathForTesting(segment.Key)));
        }

        await ReadSegmentsAsync(manifest);
        var recovered = await StartTierAsync();
        image = await TapeImage.OpenAsync(await recovered.OpenAsync("ADP002", default));
        await AssertBlocksAsync(image, Enumerable.Range(0, 12));

        // Fetched segments are copies, not links: writing over them needs no copy-on-write.
        Assert.Equal(TapeCondition.Ok, (await image.LocateAsync(1)).Condition);
        await WriteBlocksAsync(image, 1, seedBase: 700);
        await image.UnloadAsync();
        Assert.Equal(0, recovered.CopiedOnWriteSegments);
        await ReadSegmentsAsync(await recovered.EnsureUploadedAsync("ADP002", default));
    }

    [SkippableFact]
    public async Task An_overwrite_during_an_adopting_upload_waits_for_it_and_leaves_the_adopted_object_intact()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "hard-link adoption is Linux-only");
        var stalling = new StallingAdoptingStore(_store);
        var tier = await StartTierAsync(store: stalling);
        await CreateTapeAsync(tier, "ADP005");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("ADP005", default));

        // Segment 0 fills and its upload stops between taking the segment's length and linking the file.
        stalling.Stall();
        await WriteBlocksAsync(image, 3, seedBase: 0);
        var waiting = await WaitForAsync(() => Volatile.Read(ref stalling.Waiting) > 0);
        Assert.True(waiting, "segment 0's adoption started");

        // The host overwrites from inside segment 0: the truncation and the write must not touch the file before the
        // link (the object would get the new bytes) nor after it (the object would change under its sidecar).
        var overwrite = Task.Run(async () =>
        {
            Assert.Equal(TapeCondition.Ok, (await image.LocateAsync(1)).Condition);
            await WriteBlocksAsync(image, 1, seedBase: 500);
        });
        await Task.Delay(300);
        Assert.False(overwrite.IsCompleted, "the overwrite waits for the adopting upload");

        stalling.Release();
        await overwrite.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(tier.AdoptedSegments >= 1);
        Assert.True(tier.CopiedOnWriteSegments >= 1, "the adopted segment 0 was copied before the truncation");

        // The adopted object is what segment 0 held when it was linked: it verifies, and holds blocks 0 and 1.
        var adopted = await _store.ListAsync(_layout.TapePrefix(TapeTier.Library, "ADP005"))
            .Where(o => o.Key.Contains("/seg/00000000.", StringComparison.Ordinal) && o.Size == SegmentSize).Select(o => o.Key).ToListAsync();
        Assert.NotEmpty(adopted); // the rewritten segment 0 fills again and may have a newer object by now
        var bytes = await ReadObjectAsync(adopted.Order(StringComparer.Ordinal).First());
        Assert.True(bytes.AsSpan().IndexOf(Block(1).AsSpan(0, 1000)) > 0, "the adopted object holds the start of the old block 1");
        Assert.True(bytes.AsSpan().IndexOf(Block(500).AsSpan(0, 1000)) < 0, "and none of the new block");

        Assert.Equal(TapeCondition.Ok, (await image.RewindAsync()).Condition);
        await AssertBlocksAsync(image, [0, 500]);
        await image.UnloadAsync();
        await ReadSegmentsAsync(await tier.EnsureUploadedAsync("ADP005", default));
    }

    private static async Task<bool> WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }

    /// <summary>The filesystem store whose adoptions can be held before they link the file.</summary>
    private sealed class StallingAdoptingStore(FileSystemObjectStore inner) : IObjectStore, IFileAdoptingObjectStore
    {
        private TaskCompletionSource _gate = Open();

        public int Waiting;

        public bool NeedsSha256BeforePut => inner.NeedsSha256BeforePut;

        public void Stall() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _gate.TrySetResult();

        public async Task<PutResult?> TryAdoptFileAsync(string key, string path, long length, PutOptions? options = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Waiting);
            await _gate.Task.WaitAsync(cancellationToken);
            return await inner.TryAdoptFileAsync(key, path, length, options, cancellationToken);
        }

        public Task<PutResult> PutAsync(string key, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.PutAsync(key, content, options, cancellationToken);

        public Task<ObjectReadResult> GetAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default) =>
            inner.GetAsync(key, range, cancellationToken);

        public Task<ObjectInfo> HeadAsync(string key, CancellationToken cancellationToken = default) => inner.HeadAsync(key, cancellationToken);

        public IAsyncEnumerable<ObjectSummary> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

        public Task<ObjectInfo> CopyAsync(string sourceKey, string destinationKey, CopyOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.CopyAsync(sourceKey, destinationKey, options, cancellationToken);

        public Task<RestoreRequestResult> RequestRestoreAsync(string key, RestoreOptions options, CancellationToken cancellationToken = default) =>
            inner.RequestRestoreAsync(key, options, cancellationToken);

        private static TaskCompletionSource Open()
        {
            var t = new TaskCompletionSource();
            t.SetResult();
            return t;
        }
    }

    [SkippableFact]
    public async Task An_evicted_and_fetched_segment_is_no_longer_shared()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "hard-link adoption is Linux-only");
        var tier = await StartTierAsync(cacheBytes: 2 * SegmentSize);
        await CreateTapeAsync(tier, "ADP006");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("ADP006", default));
        await WriteBlocksAsync(image, 10, seedBase: 0);
        await image.UnloadAsync();
        var manifest = await tier.EnsureUploadedAsync("ADP006", default);
        Assert.True(tier.AdoptedSegments >= 5);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (File.Exists(SegmentFile("ADP006", 0)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.False(File.Exists(SegmentFile("ADP006", 0)), "segment 0 was evicted");
        Assert.Equal(1, HardLinks.LinkCount(_store.DataPathForTesting(manifest.Segments[0].Key)));

        // Read back (segment 0 is fetched as a new file), then overwrite inside it: no copy-on-write is needed.
        image = await TapeImage.OpenAsync(await tier.OpenAsync("ADP006", default));
        await AssertBlocksAsync(image, Enumerable.Range(0, 10));
        Assert.Equal(TapeCondition.Ok, (await image.LocateAsync(1)).Condition);
        await WriteBlocksAsync(image, 1, seedBase: 600);
        Assert.Equal(0, tier.CopiedOnWriteSegments);
        await AssertUnchangedAsync(await ReadSegmentsAsync(manifest));
        await image.UnloadAsync();
    }

    [Fact]
    public async Task Without_adoption_or_across_filesystems_every_segment_is_copied()
    {
        var tier = await StartTierAsync(adopt: false);
        await CreateTapeAsync(tier, "ADP003");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("ADP003", default));
        await WriteBlocksAsync(image, 6, seedBase: 0);
        await image.UnloadAsync();
        var manifest = await tier.EnsureUploadedAsync("ADP003", default);
        Assert.Equal(0, tier.AdoptedSegments);
        if (OperatingSystem.IsLinux())
        {
            Assert.All(manifest.Segments, s => Assert.Equal(1, HardLinks.LinkCount(SegmentFile("ADP003", s.Index))));
        }

        await ReadSegmentsAsync(manifest);

        // A cache on tmpfs and the store on the temp directory's filesystem: link(2) fails (EXDEV), the put copies.
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/dev/shm"))
        {
            return;
        }

        var shm = "/dev/shm/tapegw-adopt-" + Guid.NewGuid().ToString("N");
        try
        {
            var other = await StartTierAsync(shm);
            await CreateTapeAsync(other, "ADP004");
            image = await TapeImage.OpenAsync(await other.OpenAsync("ADP004", default));
            await WriteBlocksAsync(image, 6, seedBase: 0);
            await image.UnloadAsync();
            var copied = await other.EnsureUploadedAsync("ADP004", default);
            Assert.Equal(0, other.AdoptedSegments);
            Assert.Equal(0, other.UploadFailures);
            Assert.Contains(copied.Segments, s => s.Length == SegmentSize);
            await ReadSegmentsAsync(copied);
            await StopTierAsync(other);
        }
        finally
        {
            if (Directory.Exists(shm))
            {
                Directory.Delete(shm, recursive: true);
            }
        }
    }
}

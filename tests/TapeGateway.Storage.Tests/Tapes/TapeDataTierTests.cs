using Microsoft.Extensions.Logging.Abstractions;
using TapeGateway.Media.Tape;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Storage.Tests.Tapes;

public class TapeDataTierTests : IAsyncLifetime
{
    private const long SegmentSize = 64 * 1024;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tapegw-tier-" + Guid.NewGuid().ToString("N"));
    private readonly InMemoryObjectStore _objects = new();
    private readonly FaultyObjectStore _store;
    private readonly TapeObjectLayout _layout = new("gw1");
    private readonly List<TapeDataTier> _tiers = [];

    public TapeDataTierTests() => _store = new FaultyObjectStore(_objects);

    /// <summary>Where the tier hashes appended bytes: the thread pool here, background workers in a derived class.</summary>
    protected virtual BackgroundWorkScheduler? Background => null;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var t in _tiers)
        {
            await t.DisposeAsync();
        }

        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private async Task<TapeDataTier> StartTierAsync(Func<TapeCacheOptions, TapeCacheOptions>? tweak = null)
    {
        var options = new TapeCacheOptions
        {
            Directory = _dir,
            SegmentSize = SegmentSize,
            CacheBytes = 64 * SegmentSize,
            UploadBufferBytes = 64 * SegmentSize,
            PublishInterval = TimeSpan.FromMilliseconds(200),
            UploadRetryDelay = TimeSpan.FromMilliseconds(20),
            MaxUploadRetryDelay = TimeSpan.FromMilliseconds(100),
            BackpressureTimeout = TimeSpan.FromSeconds(2),
            Background = Background,
        };
        var tier = new TapeDataTier(_store, _layout, tweak?.Invoke(options) ?? options, NullLogger<TapeDataTier>.Instance);
        _tiers.Add(tier);
        await tier.StartAsync(default);
        return tier;
    }

    private static async Task CreateTapeAsync(TapeDataTier tier, string barcode) =>
        await tier.CreateAsync(barcode, 16 << 20, worm: false, async store =>
        {
            var image = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = 16 << 20 });
            await image.UnloadAsync();
        }, default);

    [Fact]
    public async Task The_upload_buffer_is_empty_once_created_tapes_are_uploaded()
    {
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "DRT001");
        await CreateTapeAsync(tier, "DRT002");
        Assert.True(tier.DirtyBytes > 0); // each new tape has its first records to upload

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (tier.DirtyBytes != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, tier.DirtyBytes);
        Assert.NotEmpty(await _objects.ListAsync(_layout.TapePrefix(TapeTier.Library, "DRT002")).ToListAsync());
    }

    [Fact]
    public async Task A_failed_format_leaves_nothing_in_the_upload_buffer()
    {
        var tier = await StartTierAsync();
        await Assert.ThrowsAsync<IOException>(() => tier.CreateAsync("DRT003", 16 << 20, worm: false, async store =>
        {
            var image = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = 16 << 20 });
            await image.UnloadAsync();
            throw new IOException("format failed after writing");
        }, default));

        Assert.Equal(0, tier.DirtyBytes);
        Assert.False(tier.IsCachedLocally("DRT003"));
    }

    private static byte[] Block(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Writes <paramref name="blocks"/> blocks of 40 000 bytes (so records straddle 64 KiB segments) and a filemark.</summary>
    private static async Task WriteBlocksAsync(TapeImage image, int blocks, int seedBase = 0)
    {
        for (var i = 0; i < blocks; i++)
        {
            var r = await image.WriteBlockAsync(Block(seedBase + i, 40_000), compress: false);
            Assert.Equal(TapeCondition.Ok, r.Condition);
        }

        Assert.Equal(TapeCondition.Ok, (await image.WriteFilemarksAsync(1, immediate: false)).Condition);
    }

    private static async Task AssertBlocksAsync(TapeImage image, int blocks, int seedBase = 0)
    {
        var buffer = new byte[40_000];
        for (var i = 0; i < blocks; i++)
        {
            var r = await image.ReadBlockAsync(buffer);
            Assert.True(r.Condition == TapeCondition.Ok, $"block {i}: {r.Condition}");
            Assert.Equal(Block(seedBase + i, 40_000), buffer.AsSpan(0, r.BytesTransferred).ToArray());
        }

        Assert.Equal(TapeCondition.FilemarkDetected, (await image.ReadBlockAsync(buffer)).Condition);
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting for " + what);
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Unloaded_tape_is_uploaded_as_segments_with_a_complete_manifest()
    {
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "TST001");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST001", default));
        await WriteBlocksAsync(image, 10);
        await image.UnloadAsync();

        var manifest = await EventuallyAsync(
            () => tier.GetManifestAsync(TapeTier.Library, "TST001", default), m => m is { Complete: true, UsedBytes: >= 10 * 40_032 }, "a complete manifest");
        Assert.Equal(0, tier.PendingUploadBytes("TST001"));
        Assert.Null(manifest!.Validate());
        Assert.Equal("gw1", manifest.GatewayId);
        Assert.True(manifest.Segments.Count >= 6, "400 000 bytes of records span at least 6 segments of 64 KiB");
        foreach (var o in manifest.Objects())
        {
            var info = await _objects.HeadAsync(o.Key);
            Assert.Equal(o.Length, info.Size);
            Assert.Equal(o.Sha256, info.Sha256);
        }

        // Nothing but the manifest and the objects it names is left in the tape's prefix (old generations were collected).
        var keys = new List<string>();
        await foreach (var o in _objects.ListAsync(_layout.TapePrefix(TapeTier.Library, "TST001")))
        {
            keys.Add(o.Key);
        }

        Assert.Equal(manifest.Objects().Select(o => o.Key).Append(_layout.ManifestKey(TapeTier.Library, "TST001")).Order(StringComparer.Ordinal), keys);
    }

    [Fact]
    public async Task Running_hashes_from_the_background_hasher_match_every_upload_even_with_rewrites_in_between()
    {
        // This store needs the SHA-256 before a put (like S3), so the tier uses the segments' running hashes, and the
        // store compares them with the bytes it receives: one wrong running hash would be a failed upload.
        Assert.True(((IObjectStore)_store).NeedsSha256BeforePut);
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "TST010");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST010", default));
        for (var round = 0; round < 5; round++)
        {
            // Write, then rewrite from a position inside the data just written: the hasher races both.
            await WriteBlocksAsync(image, 12, seedBase: 100 * round);
            Assert.Equal(TapeCondition.Ok, (await image.RewindAsync()).Condition);
            Assert.Equal(TapeCondition.Ok, (await image.SpaceBlocksAsync(round + 1)).Condition);
        }

        await WriteBlocksAsync(image, 12, seedBase: 900);
        await image.UnloadAsync();

        var manifest = await EventuallyAsync(
            () => tier.GetManifestAsync(TapeTier.Library, "TST010", default), m => m is { Complete: true, UsedBytes: >= 17 * 40_032 }, "a complete manifest of the 17 blocks");
        Assert.Null(manifest!.Validate());
        Assert.Equal(0, tier.UploadFailures);
        foreach (var o in manifest.Objects())
        {
            Assert.Equal(o.Sha256, (await _objects.HeadAsync(o.Key)).Sha256);
        }

        // And the bucket alone holds the tape: the first block each round kept (seeds 0, 100, … 400), then the last 12.
        // (The manifest is visible before its publish ends — the old objects go after it — so wait for that first.)
        await tier.EnsureUploadedAsync("TST010", default);
        await tier.PurgeLocalAsync("TST010", default);
        image = await TapeImage.OpenAsync(await tier.OpenAsync("TST010", default));
        var buffer = new byte[40_000];
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(TapeCondition.Ok, (await image.ReadBlockAsync(buffer)).Condition);
            Assert.Equal(Block(100 * i, 40_000), buffer);
        }

        await AssertBlocksAsync(image, 12, seedBase: 900);
        await image.UnloadAsync();
    }

    [Fact]
    public async Task A_tape_written_while_created_uploads_with_the_hashes_of_its_writes()
    {
        // Created (or imported) with data: the segments' running hashes survive the move into place and are what the
        // uploads are checked against, so bytes that changed on disk since they were written are refused, not stored.
        var tier = await StartTierAsync();
        await tier.CreateAsync("TST007", 16 << 20, worm: false, async store =>
        {
            var image = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = 16 << 20 });
            await WriteBlocksAsync(image, 5);
            await image.UnloadAsync();
        }, default);
        var manifest = await EventuallyAsync(
            () => tier.GetManifestAsync(TapeTier.Library, "TST007", default), m => m is { Complete: true }, "a complete manifest");
        Assert.Equal(0, tier.UploadFailures);
        foreach (var segment in manifest!.Segments)
        {
            await using var read = await _objects.GetAsync(segment.Key);
            using var bytes = new MemoryStream();
            await read.Content.CopyToAsync(bytes);
            Assert.Equal(segment.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes.ToArray())));
        }

        // The uploads wait (a slow endpoint) while a bit of a written segment rots on the local disk.
        _store.StallPuts();
        await tier.CreateAsync("TST008", 16 << 20, worm: false, async store =>
        {
            var image = await TapeImage.CreateAsync(store, new TapeImageOptions { CapacityBytes = 16 << 20 });
            await WriteBlocksAsync(image, 5);
            await image.UnloadAsync();
        }, default);
        await using (var file = new FileStream(Path.Combine(_dir, "TST008", "seg.00000001"), FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 100;
            var b = file.ReadByte();
            file.Position = 100;
            file.WriteByte((byte)(b ^ 0x01)); // bit rot after the write
        }

        _store.ReleasePuts();
        await EventuallyAsync(() => Task.FromResult(tier.UploadFailures), n => n > 0, "the damaged segment's upload to be refused");
        await foreach (var o in _objects.ListAsync(_layout.TapePrefix(TapeTier.Library, "TST008")))
        {
            Assert.DoesNotContain("/seg/00000001.", o.Key, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_purged_tape_is_rebuilt_from_the_bucket_and_reads_back_identically()
    {
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "TST002");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST002", default));
        await WriteBlocksAsync(image, 12);
        await image.UnloadAsync();
        var manifest = await tier.EnsureUploadedAsync("TST002", default);
        Assert.True(manifest.Complete);

        await tier.PurgeLocalAsync("TST002", default);
        Assert.False(tier.IsCachedLocally("TST002"));
        Assert.Equal(0, tier.CachedBytes);

        image = await TapeImage.OpenAsync(await tier.OpenAsync("TST002", default));
        await AssertBlocksAsync(image, 12);
        Assert.True(tier.CachedBytes > 0, "segments were fetched into the cache");
        await image.UnloadAsync();
    }

    [Fact]
    public async Task A_closed_tape_the_tier_still_publishes_is_not_purged_until_the_publish_is_done()
    {
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "TST020");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST020", default));
        await WriteBlocksAsync(image, 4);
        await image.UnloadAsync();
        await tier.EnsureUploadedAsync("TST020", default);

        // A load changes the head even without a write (the MAM load count, not subject to write protection); the
        // tier publishes it once the tape is closed. The archive job may want the tape purged at that very moment.
        _store.StallPuts();
        image = await TapeImage.OpenAsync(await tier.OpenAsync("TST020", default));
        await image.IncrementLoadCountAsync();
        await image.UnloadAsync();
        await EventuallyAsync(() => Task.FromResult(Volatile.Read(ref _store.StalledPuts)), n => n > 0, "the publish of the closed tape");

        Assert.False(await tier.TryPurgeLocalAsync("TST020", default));
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => tier.PurgeLocalAsync("TST020", default));
        Assert.Contains("in flight", refused.Message, StringComparison.Ordinal);
        Assert.True(tier.IsCachedLocally("TST020"));

        _store.ReleasePuts();
        await EventuallyAsync(() => tier.TryPurgeLocalAsync("TST020", default), purged => purged, "the purge after the publish");
        Assert.False(tier.IsCachedLocally("TST020"));
        Assert.True(await tier.TryPurgeLocalAsync("TST020", default)); // nothing cached: nothing to refuse
    }

    [Theory]
    [InlineData(8 << 20)] // whole-segment GETs
    [InlineData(16 * 1024)] // four parallel ranged GETs per 64 KiB segment
    public async Task Reads_stream_through_a_cache_smaller_than_the_tape(int fetchRange)
    {
        var tier = await StartTierAsync(o => o with { CacheBytes = 2 * SegmentSize, ReadAheadSegments = 1, FetchRangeBytes = fetchRange });
        await CreateTapeAsync(tier, "TST003");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST003", default));
        await WriteBlocksAsync(image, 30);
        await image.UnloadAsync();
        await tier.EnsureUploadedAsync("TST003", default);
        await EventuallyAsync(() => Task.FromResult(tier.CachedBytes), b => b <= 2 * SegmentSize, "eviction to the cache limit");

        image = await TapeImage.OpenAsync(await tier.OpenAsync("TST003", default));
        await AssertBlocksAsync(image, 30);
        await image.UnloadAsync();
        await EventuallyAsync(() => Task.FromResult(tier.CachedBytes), b => b <= 2 * SegmentSize, "eviction after reading");
    }

    [Theory]
    [InlineData(8 << 20)]
    [InlineData(16 * 1024)] // ranged GETs are not checked by the store: the manifest's SHA-256 must catch it
    public async Task A_corrupted_segment_object_is_a_medium_error_never_data(int fetchRange)
    {
        var tier = await StartTierAsync(o => o with { FetchRangeBytes = fetchRange });
        await CreateTapeAsync(tier, "TST004");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST004", default));
        await WriteBlocksAsync(image, 8);
        await image.UnloadAsync();
        var manifest = await tier.EnsureUploadedAsync("TST004", default);
        await tier.PurgeLocalAsync("TST004", default);

        // Rewrite segment 2 in the bucket with other bytes of the same length (its own metadata SHA-256 then matches,
        // so only the manifest's hash can tell).
        var victim = manifest.Segments[2];
        await _objects.PutAsync(victim.Key, new MemoryStream(Block(999, (int)victim.Length)));

        var store = await tier.OpenAsync("TST004", default);
        var failure = await Assert.ThrowsAsync<TapeStoreException>(async () =>
        {
            var mounted = await TapeImage.OpenAsync(store);
            await AssertBlocksAsync(mounted, 8);
        });
        Assert.Equal(TapeStoreFailure.MediumError, failure.Failure);
    }

    [Fact]
    public async Task Writes_wait_for_a_full_upload_buffer_then_fail_retryably_and_nothing_is_lost()
    {
        var tier = await StartTierAsync(o => o with { UploadBufferBytes = 4 * SegmentSize, BackpressureTimeout = TimeSpan.FromMilliseconds(500) });
        await CreateTapeAsync(tier, "TST005");
        await tier.EnsureUploadedAsync("TST005", default);
        _store.FailPuts = true; // the bucket went away

        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST005", default));
        var written = 0;
        var failure = await Assert.ThrowsAsync<TapeStoreException>(async () =>
        {
            for (; written < 100; written++)
            {
                await image.WriteBlockAsync(Block(written, 40_000), compress: false);
            }
        });
        Assert.Equal(TapeStoreFailure.Unavailable, failure.Failure);
        Assert.InRange(written, 5, 9); // about 4 segments' worth went into the buffer
        // The uploads were failing meanwhile. On a loaded machine the first failure (after the hash pass and an fsync)
        // may come after the 0.5 s write timeout, so wait for it rather than assume it came first.
        await EventuallyAsync(() => Task.FromResult(tier.UploadFailures), n => n > 0, "an upload failing while the bucket is gone");

        // The bucket is back: uploads resume (after the failures' back-off) and the same write now succeeds where it
        // failed. Wait for the buffer to drain first: the 0.5 s write timeout above is too short to include the back-off
        // and the uploads on a loaded CI machine.
        _store.FailPuts = false;
        await EventuallyAsync(() => Task.FromResult(tier.DirtyBytes), d => d <= 2 * SegmentSize, "uploads resuming after the bucket came back");
        for (var i = written; i < written + 10; i++)
        {
            // These 400 KB exceed the 256 KiB buffer again, so a write may wait once more; on a loaded machine longer
            // than 0.5 s. A host retries a write that failed retryably, and so does this loop (a bounded number of times).
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    Assert.Equal(TapeCondition.Ok, (await image.WriteBlockAsync(Block(i, 40_000), compress: false)).Condition);
                    break;
                }
                catch (TapeStoreException e) when (e.Failure == TapeStoreFailure.Unavailable && attempt < 20)
                {
                }
            }
        }

        Assert.Equal(TapeCondition.Ok, (await image.WriteFilemarksAsync(1, immediate: false)).Condition);
        await image.UnloadAsync();
        await tier.EnsureUploadedAsync("TST005", default);
        await tier.PurgeLocalAsync("TST005", default);
        image = await TapeImage.OpenAsync(await tier.OpenAsync("TST005", default));
        await AssertBlocksAsync(image, written + 10);
        await image.UnloadAsync();
    }

    [Fact]
    public async Task Pending_uploads_survive_a_restart_and_complete()
    {
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "TST006");
        _store.FailPuts = true;
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST006", default));
        await WriteBlocksAsync(image, 10);
        await image.UnloadAsync();
        Assert.True(tier.PendingUploadBytes("TST006") > 0);
        await tier.DisposeAsync();
        _tiers.Remove(tier);

        _store.FailPuts = false;
        var restarted = await StartTierAsync();
        var manifest = await EventuallyAsync(
            () => restarted.GetManifestAsync(TapeTier.Library, "TST006", default), m => m is { Complete: true, UsedBytes: >= 10 * 40_032 }, "the resumed upload");
        await restarted.EnsureUploadedAsync("TST006", default); // the publish that wrote it may still be deleting old objects
        await restarted.PurgeLocalAsync("TST006", default);
        image = await TapeImage.OpenAsync(await restarted.OpenAsync("TST006", default));
        await AssertBlocksAsync(image, 10);
        await image.UnloadAsync();
        Assert.True(manifest!.Complete);
    }

    [Fact]
    public async Task Overwriting_the_middle_of_an_uploaded_tape_replaces_its_tail_in_the_bucket()
    {
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "TST007");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST007", default));
        await WriteBlocksAsync(image, 10);
        await image.UnloadAsync();
        var first = await tier.EnsureUploadedAsync("TST007", default);

        image = await TapeImage.OpenAsync(await tier.OpenAsync("TST007", default));
        Assert.Equal(TapeCondition.Ok, (await image.LocateAsync(3)).Condition);
        await WriteBlocksAsync(image, 2, seedBase: 500); // tape semantics: everything after block 3 is gone
        await image.UnloadAsync();
        var second = await tier.EnsureUploadedAsync("TST007", default);
        Assert.True(second.Generation > first.Generation);
        Assert.True(second.Length < first.Length);
        foreach (var stale in first.Segments.Select(s => s.Key).Except(second.Segments.Select(s => s.Key)))
        {
            await Assert.ThrowsAsync<ObjectNotFoundException>(() => _objects.HeadAsync(stale));
        }

        await tier.PurgeLocalAsync("TST007", default);
        image = await TapeImage.OpenAsync(await tier.OpenAsync("TST007", default));
        var buffer = new byte[40_000];
        for (var i = 0; i < 3; i++)
        {
            var r = await image.ReadBlockAsync(buffer);
            Assert.Equal(Block(i, 40_000), buffer.AsSpan(0, r.BytesTransferred).ToArray());
        }

        await AssertBlocksAsync(image, 2, seedBase: 500);
        Assert.Equal(TapeCondition.EndOfData, (await image.ReadBlockAsync(buffer)).Condition);
        await image.UnloadAsync();
    }

    [Fact]
    public async Task A_purge_right_after_an_explicit_upload_is_not_refused_by_a_background_publish_of_the_same_tape()
    {
        // The uploader wakes when the last segment upload ends and may decide to publish the closed tape just as the
        // caller's own publish runs; its late publish must neither refuse the purge nor publish the purged entry.
        var tier = await StartTierAsync(o => o with { PublishInterval = TimeSpan.FromMilliseconds(1) });
        await CreateTapeAsync(tier, "TST009");
        long lastGeneration = 0;
        for (var round = 0; round < 40; round++)
        {
            var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST009", default));
            Assert.Equal(TapeCondition.Ok, (await image.LocateAsync(2 * round)).Condition); // block + filemark per round
            await WriteBlocksAsync(image, 1, seedBase: round);
            await image.UnloadAsync();
            var manifest = await tier.EnsureUploadedAsync("TST009", default);
            Assert.True(manifest.Generation > lastGeneration);
            lastGeneration = manifest.Generation;
            await tier.PurgeLocalAsync("TST009", default);
        }

        await Task.Delay(50);
        var published = await tier.GetManifestAsync(TapeTier.Library, "TST009", default);
        Assert.Equal(lastGeneration, published!.Generation);
        var reread = await TapeImage.OpenAsync(await tier.OpenAsync("TST009", default));
        for (var round = 0; round < 40; round++)
        {
            await AssertBlocksAsync(reread, 1, seedBase: round);
        }

        await reread.UnloadAsync();
    }

    [Fact]
    public async Task Mounting_a_tape_that_is_not_cached_fetches_its_last_segment_not_the_whole_tape()
    {
        // The index checkpoint behind the EOD seal replaces the header scan, which would fetch every segment.
        var tier = await StartTierAsync(o => o with { ReadAheadSegments = 0 });
        await CreateTapeAsync(tier, "TST011");
        var image = await TapeImage.OpenAsync(await tier.OpenAsync("TST011", default));
        await WriteBlocksAsync(image, 30);
        await image.UnloadAsync();
        var manifest = await tier.EnsureUploadedAsync("TST011", default);
        Assert.True(manifest.Segments.Count >= 18, "1.2 MB of records span at least 18 segments of 64 KiB");
        await tier.PurgeLocalAsync("TST011", default);

        _store.Gets.Clear();
        image = await TapeImage.OpenAsync(await tier.OpenAsync("TST011", default));
        Assert.True(image.Recovery.FromCheckpoint);
        Assert.Equal(31, image.Recovery.ObjectCount);
        var fetched = _store.Gets.Where(k => k.Contains("/seg/", StringComparison.Ordinal)).Distinct().ToList();
        Assert.True(fetched.Count <= 2, $"the mount fetched {fetched.Count} of {manifest.Segments.Count} segments");
        Assert.Contains(manifest.Segments[^1].Key, fetched);

        await AssertBlocksAsync(image, 30);
        await image.UnloadAsync();
    }

    [Fact]
    public async Task A_tape_is_mounted_once_and_a_mounted_tape_cannot_be_purged_or_archived()
    {
        var tier = await StartTierAsync();
        await CreateTapeAsync(tier, "TST008");
        var store = await tier.OpenAsync("TST008", default);
        await Assert.ThrowsAsync<IOException>(() => tier.OpenAsync("TST008", default));
        await Assert.ThrowsAsync<InvalidOperationException>(() => tier.PurgeLocalAsync("TST008", default));
        await Assert.ThrowsAsync<InvalidOperationException>(() => tier.EnsureUploadedAsync("TST008", default));
        await Assert.ThrowsAsync<InvalidOperationException>(() => CreateTapeAsync(tier, "TST008"));
        await store.DisposeAsync();
        await Assert.ThrowsAsync<FileNotFoundException>(() => tier.OpenAsync("NOSUCH", default));
    }
}

/// <summary>Every tier test again with the running hashes computed on low-priority background workers.</summary>
public sealed class TapeDataTierOnBackgroundWorkersTests : TapeDataTierTests
{
    private static readonly BackgroundWorkScheduler Workers = new(threads: 1, nice: 5);

    protected override BackgroundWorkScheduler? Background => Workers;
}

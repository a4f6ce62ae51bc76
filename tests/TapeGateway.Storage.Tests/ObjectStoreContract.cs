using System.Security.Cryptography;
using System.Text;

namespace TapeGateway.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IObjectStore"/> must have. Each implementation runs all of it through a subclass.
/// The two places where a store may knowingly differ from AWS (archived objects stay readable, no RestoreObject: Ceph
/// RGW without S3ObjectStoreOptions.EmulateGlacier) have capability flags; a store that turns them off reports those
/// tests skipped with the reason. The S3 subclass runs with the emulation, so every store runs everything.
/// </summary>
public abstract class ObjectStoreContract
{
    protected const int MiB = 1024 * 1024;

    /// <summary>Every test works under its own prefix so runs against a shared bucket cannot see each other.</summary>
    protected string Prefix { get; } = $"contract-{Guid.NewGuid():N}/";

    /// <summary>The store under test. The S3 subclass throws a skip from here when no endpoint is configured.</summary>
    protected abstract IObjectStore Store { get; }

    /// <summary>Flips one stored bit behind the store's back, keeping the recorded SHA-256 (bit rot in the bucket).</summary>
    protected abstract Task CorruptAsync(string key, long offset);

    /// <summary>False where GLACIER objects stay readable (Ceph RGW); AWS and the local stores refuse the read.</summary>
    protected virtual bool RefusesArchivedReads => true;

    /// <summary>False where RestoreObject answers 501 (Ceph RGW).</summary>
    protected virtual bool SupportsRestore => true;

    /// <summary>Objects larger than this take the multipart put path (S3 part size); local stores don't care.</summary>
    protected virtual int MultipartSize => 13 * MiB + 123;

    protected string K(string name) => Prefix + name;

    protected static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    protected static string Sha(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    protected async Task<PutResult> PutAsync(string key, byte[] data, PutOptions? options = null) =>
        await Store.PutAsync(key, new MemoryStream(data), options);

    protected async Task<byte[]> ReadAsync(string key, ByteRange? range = null)
    {
        await using var read = await Store.GetAsync(key, range);
        using var buffer = new MemoryStream();
        await read.Content.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    [SkippableFact]
    public async Task Put_then_get_round_trips_bytes_metadata_and_sha256()
    {
        var data = RandomBytes(300 * 1024, 1);
        var put = await PutAsync(K("a"), data, new PutOptions { Metadata = new Dictionary<string, string> { ["tape"] = "AB0001L8" } });

        Assert.Equal(data.Length, put.Size);
        Assert.Equal(Sha(data), put.Sha256);
        Assert.Equal(data, await ReadAsync(K("a")));
        var head = await Store.HeadAsync(K("a"));
        Assert.Equal(data.Length, head.Size);
        Assert.Equal(Sha(data), head.Sha256);
        Assert.Equal("AB0001L8", head.Metadata["tape"]);
        Assert.Equal(StorageClass.Standard, head.StorageClass);
        Assert.Equal(RestoreState.NotArchived, head.Restore.State);
        Assert.False(string.IsNullOrEmpty(head.ETag));
    }

    [SkippableFact]
    public async Task Empty_object_round_trips()
    {
        var put = await PutAsync(K("empty"), []);
        Assert.Equal(0, put.Size);
        Assert.Empty(await ReadAsync(K("empty")));
        Assert.Equal(0, (await Store.HeadAsync(K("empty"))).Size);
    }

    [SkippableFact]
    public async Task Ranged_get_returns_exactly_the_range()
    {
        var data = RandomBytes(100_000, 2);
        await PutAsync(K("r"), data);

        Assert.Equal(data[1000..1100], await ReadAsync(K("r"), new ByteRange(1000, 100)));
        Assert.Equal(data[99_990..], await ReadAsync(K("r"), new ByteRange(99_990)));
        Assert.Equal(data[99_000..], await ReadAsync(K("r"), new ByteRange(99_000, 5_000))); // clamped at the end
        await using var read = await Store.GetAsync(K("r"), new ByteRange(10, 10));
        Assert.Equal(data.Length, read.ObjectSize);
    }

    [SkippableFact]
    public async Task Ranged_get_past_the_end_is_not_satisfiable()
    {
        await PutAsync(K("r"), RandomBytes(1000, 3));
        await Assert.ThrowsAsync<RangeNotSatisfiableException>(() => Store.GetAsync(K("r"), new ByteRange(1000, 10)));
    }

    [SkippableFact]
    public async Task Missing_objects_are_not_found()
    {
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.HeadAsync(K("nope")));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.GetAsync(K("nope")));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.CopyAsync(K("nope"), K("x")));
    }

    [SkippableFact]
    public async Task List_by_prefix_is_ordered_and_complete()
    {
        var store = Store;
        await PutAsync(K("tapes/T2/seg-0001"), RandomBytes(10, 4));
        await PutAsync(K("tapes/T1/seg-0002"), RandomBytes(20, 5));
        await PutAsync(K("tapes/T1/seg-0001"), RandomBytes(30, 6));
        await PutAsync(K("tapes/T1/manifest"), RandomBytes(40, 7));
        await PutAsync(K("other"), RandomBytes(50, 8));

        var t1 = await store.ListAsync(K("tapes/T1/")).ToListAsync();
        Assert.Equal([K("tapes/T1/manifest"), K("tapes/T1/seg-0001"), K("tapes/T1/seg-0002")], t1.Select(o => o.Key));
        Assert.Equal([40L, 30L, 20L], t1.Select(o => o.Size));
        Assert.All(t1, o => Assert.Equal(StorageClass.Standard, o.StorageClass));

        var partial = await store.ListAsync(K("tapes/T1/seg-")).ToListAsync();
        Assert.Equal(2, partial.Count);
        Assert.Equal(5, (await store.ListAsync(Prefix).ToListAsync()).Count);
        Assert.Empty(await store.ListAsync(K("nothing-here/")).ToListAsync());
    }

    [SkippableFact]
    public async Task Delete_removes_and_is_idempotent()
    {
        await PutAsync(K("d"), RandomBytes(10, 9));
        await Store.DeleteAsync(K("d"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.HeadAsync(K("d")));
        Assert.Empty(await Store.ListAsync(K("d")).ToListAsync());
        await Store.DeleteAsync(K("d"));
    }

    [SkippableFact]
    public async Task Multipart_put_with_parallel_parts_round_trips()
    {
        var data = RandomBytes(MultipartSize, 10);
        var put = await PutAsync(K("big"), data, new PutOptions { Metadata = new Dictionary<string, string> { ["k"] = "v" } });

        Assert.Equal(Sha(data), put.Sha256);
        var head = await Store.HeadAsync(K("big"));
        Assert.Equal(data.Length, head.Size);
        Assert.Equal(Sha(data), head.Sha256);
        Assert.Equal("v", head.Metadata["k"]);
        Assert.Equal(data, await ReadAsync(K("big")));
        Assert.Equal(data[(5 * MiB - 10)..(5 * MiB + 10)], await ReadAsync(K("big"), new ByteRange(5 * MiB - 10, 20)));
    }

    [SkippableFact]
    public async Task Multipart_put_from_a_non_seekable_stream_uses_the_expected_sha256()
    {
        var data = RandomBytes(MultipartSize, 11);
        await Store.PutAsync(K("pipe"), new NonSeekableStream(data), new PutOptions { ExpectedSha256 = Sha(data) });
        Assert.Equal(Sha(data), (await Store.HeadAsync(K("pipe"))).Sha256);
        Assert.Equal(data, await ReadAsync(K("pipe")));
    }

    [SkippableFact]
    public async Task Put_with_a_wrong_expected_sha256_stores_nothing()
    {
        var data = RandomBytes(MultipartSize, 12);
        var wrong = new string('0', 64);
        await Assert.ThrowsAsync<ObjectCorruptedException>(() => PutAsync(K("small"), data[..1000], new PutOptions { ExpectedSha256 = wrong }));
        await Assert.ThrowsAsync<ObjectCorruptedException>(() => PutAsync(K("large"), data, new PutOptions { ExpectedSha256 = wrong }));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.HeadAsync(K("small")));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.HeadAsync(K("large")));
    }

    [SkippableFact]
    public async Task If_none_match_refuses_to_overwrite()
    {
        var first = RandomBytes(100, 13);
        await PutAsync(K("once"), first, new PutOptions { IfNoneMatch = true });
        await Assert.ThrowsAsync<PreconditionFailedException>(() => PutAsync(K("once"), RandomBytes(100, 14), new PutOptions { IfNoneMatch = true }));
        Assert.Equal(first, await ReadAsync(K("once")));
    }

    [SkippableFact]
    public async Task Copy_into_glacier_keeps_bytes_metadata_and_reports_the_class()
    {
        var data = RandomBytes(200_000, 15);
        await PutAsync(K("src"), data, new PutOptions { Metadata = new Dictionary<string, string> { ["tape"] = "AB0002L8" } });

        var copy = await Store.CopyAsync(K("src"), K("archive/src"), new CopyOptions { StorageClass = StorageClass.Glacier });

        Assert.Equal(StorageClass.Glacier, copy.StorageClass);
        var head = await Store.HeadAsync(K("archive/src"));
        Assert.Equal(StorageClass.Glacier, head.StorageClass);
        Assert.Equal(data.Length, head.Size);
        Assert.Equal(Sha(data), head.Sha256);
        Assert.Equal("AB0002L8", head.Metadata["tape"]);
        Assert.Equal(StorageClass.Glacier, (await Store.ListAsync(K("archive/")).SingleAsync()).StorageClass);
        Assert.Equal(StorageClass.Standard, (await Store.HeadAsync(K("src"))).StorageClass);
    }

    [SkippableFact]
    public async Task Copy_in_place_changes_only_the_storage_class()
    {
        var data = RandomBytes(50_000, 16);
        await PutAsync(K("inplace"), data);
        await Store.CopyAsync(K("inplace"), K("inplace"), new CopyOptions { StorageClass = StorageClass.DeepArchive });
        var head = await Store.HeadAsync(K("inplace"));
        Assert.Equal(StorageClass.DeepArchive, head.StorageClass);
        Assert.Equal(Sha(data), head.Sha256);
    }

    [SkippableFact]
    public async Task Large_copy_into_deep_archive_is_verified()
    {
        // On S3 the subclass lowers the single-copy limit, so this takes the UploadPartCopy path.
        var data = RandomBytes(MultipartSize, 17);
        await PutAsync(K("huge"), data);
        var copy = await Store.CopyAsync(K("huge"), K("deep/huge"), new CopyOptions { StorageClass = StorageClass.DeepArchive });
        Assert.Equal(StorageClass.DeepArchive, copy.StorageClass);
        Assert.Equal(data.Length, copy.Size);
        Assert.Equal(Sha(data), copy.Sha256);
    }

    [SkippableFact]
    public async Task A_corrupted_object_is_detected_on_read()
    {
        var data = RandomBytes(64 * 1024, 18);
        await PutAsync(K("rot"), data);
        await CorruptAsync(K("rot"), 4242);

        var ex = await Assert.ThrowsAsync<ObjectCorruptedException>(() => ReadAsync(K("rot")));
        Assert.Equal(K("rot"), ex.Key);
    }

    [SkippableFact]
    public async Task Archived_objects_refuse_reads_until_restored()
    {
        var store = Store;
        Skip.IfNot(RefusesArchivedReads, "this store keeps GLACIER objects readable (Ceph RGW); the restore path is tested elsewhere");
        Skip.IfNot(SupportsRestore, "this store has no RestoreObject");
        var data = RandomBytes(1000, 19);
        await PutAsync(K("cold"), data, new PutOptions { StorageClass = StorageClass.Glacier });
        Assert.Equal(RestoreState.Archived, (await store.HeadAsync(K("cold"))).Restore.State);
        var refused = await Assert.ThrowsAsync<InvalidObjectStateException>(() => store.GetAsync(K("cold")));
        Assert.Equal(K("cold"), refused.Key);

        Assert.Equal(RestoreRequestResult.Accepted, await store.RequestRestoreAsync(K("cold"), new RestoreOptions(2, RestoreTier.Bulk)));
        var head = await store.HeadAsync(K("cold"));
        Assert.Equal(RestoreState.Restored, head.Restore.State);
        Assert.NotNull(head.Restore.Expiry);
        Assert.Equal(data, await ReadAsync(K("cold")));
        Assert.Equal(RestoreRequestResult.AlreadyRestored, await store.RequestRestoreAsync(K("cold"), new RestoreOptions(2)));
    }

    [SkippableFact]
    public async Task Keys_with_awkward_characters_round_trip_and_list()
    {
        string[] names = ["with space", "plus+and&amp=eq", "ünïcødé-テープ", "dir/.hidden", "a..b/../c", "trailing/"];
        for (var i = 0; i < names.Length; i++)
        {
            await PutAsync(K(names[i]), Encoding.UTF8.GetBytes(names[i]));
        }

        foreach (var name in names)
        {
            Assert.Equal(name, Encoding.UTF8.GetString(await ReadAsync(K(name))));
        }

        var listed = await Store.ListAsync(Prefix).Select(o => o.Key[Prefix.Length..]).ToListAsync();
        Assert.Equal(names.Order(StringComparer.Ordinal), listed);
    }
}

/// <summary>A stream that cannot seek, like a pipe or a network body.</summary>
internal sealed class NonSeekableStream(byte[] data) : Stream
{
    private readonly MemoryStream _inner = new(data);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

namespace TapeGateway.Storage.Tests;

public sealed class InMemoryObjectStoreContract : ObjectStoreContract
{
    private readonly InMemoryObjectStore _store = new();

    protected override IObjectStore Store => _store;

    protected override Task CorruptAsync(string key, long offset)
    {
        _store.CorruptForTesting(key, offset);
        return Task.CompletedTask;
    }
}

public class FileSystemObjectStoreContract : ObjectStoreContract, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tapegw-fs-store-" + Guid.NewGuid().ToString("N"));
    private readonly FileSystemObjectStore _store;

    public FileSystemObjectStoreContract()
        : this(null)
    {
    }

    protected FileSystemObjectStoreContract(BackgroundWorkScheduler? background)
    {
        _store = new FileSystemObjectStore(_root, background: background);
    }

    protected override IObjectStore Store => _store;

    protected override async Task CorruptAsync(string key, long offset)
    {
        await using var file = new FileStream(_store.DataPathForTesting(key), FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        var b = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(b ^ 0x01));
    }

    [Fact]
    public async Task Objects_survive_a_new_store_instance_and_temp_files_are_not_listed()
    {
        var data = RandomBytes(5000, 30);
        await PutAsync(K("persist/x"), data, new PutOptions { StorageClass = StorageClass.Glacier });
        File.WriteAllText(Path.Combine(_root, ".tmp", "leftover"), "a crashed put");

        var reopened = new FileSystemObjectStore(_root);
        var head = await reopened.HeadAsync(K("persist/x"));
        Assert.Equal(StorageClass.Glacier, head.StorageClass);
        Assert.Equal(Sha(data), head.Sha256);
        Assert.Equal([K("persist/x")], await reopened.ListAsync("").Select(o => o.Key).ToListAsync());
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("a/b/c")]
    [InlineData(".hidden/..")]
    [InlineData("//x//")]
    [InlineData("%41 ü")]
    public void Key_paths_decode_to_the_same_key(string key)
    {
        var encoded = FileSystemObjectStore.EncodePath(key);
        Assert.DoesNotContain("/.", "/" + encoded, StringComparison.Ordinal);
        Assert.Equal(key, FileSystemObjectStore.DecodePath(encoded.Replace('/', Path.DirectorySeparatorChar)));
    }

    [Fact]
    public async Task An_adopted_file_becomes_the_object_without_a_copy()
    {
        var data = RandomBytes(300_000, 40);
        var source = SourceFile("seg.00000001", data);

        var result = await _store.TryAdoptFileAsync(K("adopt/a"), source, data.Length, new PutOptions { ExpectedSha256 = Sha(data) });

        if (!HardLinks.IsSupported)
        {
            Assert.Null(result);
            return;
        }

        Assert.NotNull(result);
        Assert.Equal(Sha(data), result.Sha256);
        Assert.Equal(data.Length, result.Size);

        // One inode under two names: the bytes were not written a second time.
        Assert.Equal(2, HardLinks.LinkCount(source));
        Assert.Equal(HardLinks.InodeForTesting(source), HardLinks.InodeForTesting(_store.DataPathForTesting(K("adopt/a"))));
        var head = await _store.HeadAsync(K("adopt/a"));
        Assert.Equal(data.Length, head.Size);
        Assert.Equal(Sha(data), head.Sha256);
        Assert.Equal(data, await ReadAsync(K("adopt/a"))); // a full read verifies the SHA-256
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_root, ".tmp")));

        // Deleting the object leaves the file (and the reverse): each name is independent.
        await _store.DeleteAsync(K("adopt/a"));
        Assert.Equal(1, HardLinks.LinkCount(source));
        Assert.Equal(data, await File.ReadAllBytesAsync(source));
    }

    [Fact]
    public async Task A_file_longer_than_the_length_or_on_another_filesystem_is_not_adopted()
    {
        var data = RandomBytes(10_000, 41);
        var source = SourceFile("seg.00000002", data);

        Assert.Null(await _store.TryAdoptFileAsync(K("adopt/longer"), source, data.Length - 1));
        Assert.Null(await _store.TryAdoptFileAsync(K("adopt/missing"), source + ".missing", data.Length));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => _store.HeadAsync(K("adopt/longer")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_root, ".tmp")));
        if (HardLinks.IsSupported)
        {
            Assert.Equal(1, HardLinks.LinkCount(source));
        }

        // tmpfs is another filesystem than the store's (link(2) fails with EXDEV): the caller copies instead.
        var shm = "/dev/shm/tapegw-adopt-" + Guid.NewGuid().ToString("N");
        if (Directory.Exists("/dev/shm") && HardLinks.InodeForTesting("/dev/shm") is not null)
        {
            await File.WriteAllBytesAsync(shm, data);
            try
            {
                Assert.Null(await _store.TryAdoptFileAsync(K("adopt/exdev"), shm, data.Length));
                Assert.Equal(1, HardLinks.LinkCount(shm));
            }
            finally
            {
                File.Delete(shm);
            }
        }
    }

    [Fact]
    public async Task An_adoption_with_the_wrong_expected_hash_stores_nothing()
    {
        var data = RandomBytes(10_000, 42);
        var source = SourceFile("seg.00000003", data);

        if (!HardLinks.IsSupported)
        {
            return;
        }

        await Assert.ThrowsAsync<ObjectCorruptedException>(() =>
            _store.TryAdoptFileAsync(K("adopt/bad"), source, data.Length, new PutOptions { ExpectedSha256 = Sha(RandomBytes(10, 1)) }));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => _store.HeadAsync(K("adopt/bad")));
        Assert.Equal(1, HardLinks.LinkCount(source));
    }

    private string SourceFile(string name, byte[] data)
    {
        // Next to the store's root, so on the same filesystem (both under the temp directory).
        var directory = _root + "-src";
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    public void Dispose()
    {
        foreach (var directory in new[] { _root, _root + "-src" })
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }
}

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

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

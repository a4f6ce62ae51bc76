using TapeGateway.Media.Tape;

namespace TapeGateway.Media.Tests.Tape;

/// <summary>Shared helpers for the tape tests: deterministic blocks and tapes on in-memory stores.</summary>
internal static class TapeTestKit
{
    public const long MiB = 1024 * 1024;

    /// <summary>Pseudo-random (incompressible) bytes, reproducible from <paramref name="seed"/>.</summary>
    public static byte[] RandomBlock(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Highly compressible bytes (a short repeating pattern).</summary>
    public static byte[] CompressibleBlock(int length, int seed)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i % 17) + seed);
        }

        return bytes;
    }

    public static async Task<TapeImage> NewTapeAsync(MemoryTapeStore store, long capacity = 16 * MiB, bool worm = false, long? earlyWarning = null, IReadOnlyList<TapeAttribute>? attributes = null) =>
        await TapeImage.CreateAsync(store, new TapeImageOptions
        {
            CapacityBytes = capacity,
            Worm = worm,
            EarlyWarningBytes = earlyWarning,
            InitialAttributes = attributes ?? [],
        });

    public static async Task<TapeImage> ReopenAsync(MemoryTapeStore store, TapeMountOptions? mount = null) =>
        await TapeImage.OpenAsync(store, mount);

    /// <summary>Bytes of the index checkpoint at the end of a sealed image (header, entries, trailer), or 0 if none.</summary>
    public static long CheckpointBytes(byte[] image) =>
        image.Length >= TapeIndexCheckpoint.TrailerSize
        && TapeIndexCheckpoint.TryReadTrailer(image.AsSpan(image.Length - TapeIndexCheckpoint.TrailerSize), out _, out var length, out _)
            ? length + TapeIndexCheckpoint.TrailerSize
            : 0;

    /// <summary>The image as a version without index checkpoints left it: sealed, nothing after the EOD record.</summary>
    public static byte[] StripCheckpoint(byte[] image)
    {
        var checkpoint = CheckpointBytes(image);
        Assert.True(checkpoint > 0, "the image has a checkpoint to strip");
        return image.AsSpan(0, (int)(image.Length - checkpoint)).ToArray();
    }

    /// <summary>Reads the next block, asserting it is exactly <paramref name="expected"/>.</summary>
    public static async Task ExpectBlockAsync(ITapeMedium tape, byte[] expected)
    {
        var buffer = new byte[expected.Length];
        var r = await tape.ReadBlockAsync(buffer);
        Assert.Equal(TapeCondition.Ok, r.Condition);
        Assert.Equal(expected.Length, r.BlockLength);
        Assert.Equal(expected.Length, r.BytesTransferred);
        Assert.Equal(expected, buffer);
    }

    public static async Task ExpectConditionOnReadAsync(ITapeMedium tape, TapeCondition condition, int bufferLength = 64 * 1024)
    {
        var r = await tape.ReadBlockAsync(new byte[bufferLength]);
        Assert.Equal(condition, r.Condition);
    }

    public static string TempPath(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "tapegw-tape-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }
}

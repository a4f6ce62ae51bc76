using System.Security.Cryptography;
using TapeGateway.Fuzz.Targets;

namespace TapeGateway.Fuzz;

/// <summary>A finding: the input that broke a target and what it threw.</summary>
public sealed record FuzzFinding(string Target, byte[] Input, Exception Error)
{
    public string Id => Convert.ToHexStringLower(SHA256.HashData(Input))[..16];

    public override string ToString() => $"{Target}-{Id}: {Error.GetType().Name}: {Error.Message}";
}

/// <summary>
/// Deterministic mutation fuzzing without coverage feedback: start from a target's seeds, apply 1–4 random mutations
/// (bit flips, interesting bytes, inserts, deletes, duplications, splices, random blobs), run, record findings. The same
/// seed and iteration count always produce the same inputs.
/// </summary>
public static class FuzzRunner
{
    private static readonly byte[] s_interesting = [0x00, 0x01, 0x03, 0x04, 0x07, 0x08, 0x10, 0x20, 0x30, 0x3F, 0x40, 0x7F, 0x80, 0xC0, 0xFE, 0xFF];

    public static IReadOnlyList<FuzzFinding> Run(IFuzzTarget target, int iterations, int seed, Action<FuzzFinding>? onFinding = null)
    {
        var random = new Random(seed);
        var corpus = target.Seeds().ToList();
        var findings = new List<FuzzFinding>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in corpus.ToArray())
        {
            Try(target, input, findings, seen, onFinding);
        }

        for (var i = 0; i < iterations; i++)
        {
            byte[] input;
            if (i % 16 == 15)
            {
                input = new byte[random.Next(0, 600)];
                random.NextBytes(input);
            }
            else
            {
                input = corpus[random.Next(corpus.Count)];
                var rounds = random.Next(1, 5);
                for (var r = 0; r < rounds; r++)
                {
                    input = Mutate(input, corpus, random);
                }
            }

            Try(target, input, findings, seen, onFinding);
        }

        return findings;
    }

    /// <summary>Runs one input; returns the finding, or null when the target coped.</summary>
    public static FuzzFinding? RunOne(IFuzzTarget target, byte[] input)
    {
        try
        {
            target.Run(input);
            return null;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new FuzzFinding(target.Name, input, ex);
        }
    }

    private static void Try(IFuzzTarget target, byte[] input, List<FuzzFinding> findings, HashSet<string> seen, Action<FuzzFinding>? onFinding)
    {
        if (RunOne(target, input) is { } finding && seen.Add(finding.Error.GetType().Name + finding.Error.Message))
        {
            findings.Add(finding);
            onFinding?.Invoke(finding);
        }
    }

    public static byte[] Mutate(byte[] input, IReadOnlyList<byte[]> corpus, Random random)
    {
        var bytes = new List<byte>(input);
        switch (random.Next(9))
        {
            case 0 when bytes.Count > 0:
                var bit = random.Next(bytes.Count * 8);
                bytes[bit / 8] ^= (byte)(1 << (bit % 8));
                break;
            case 1 when bytes.Count > 0:
                bytes[random.Next(bytes.Count)] = s_interesting[random.Next(s_interesting.Length)];
                break;
            case 2:
                var insert = new byte[random.Next(1, 17)];
                random.NextBytes(insert);
                bytes.InsertRange(random.Next(bytes.Count + 1), insert);
                break;
            case 3 when bytes.Count > 1:
                var at = random.Next(bytes.Count);
                bytes.RemoveRange(at, random.Next(1, Math.Min(32, bytes.Count - at) + 1));
                break;
            case 4 when bytes.Count > 1:
                var from = random.Next(bytes.Count);
                var length = random.Next(1, Math.Min(64, bytes.Count - from) + 1);
                bytes.InsertRange(random.Next(bytes.Count + 1), bytes.GetRange(from, length));
                break;
            case 5:
                var other = corpus[random.Next(corpus.Count)];
                var cut = random.Next(bytes.Count + 1);
                var otherCut = random.Next(other.Length + 1);
                bytes = [.. bytes.GetRange(0, cut), .. other.AsSpan(otherCut)];
                break;
            case 6 when bytes.Count > 4:
                // Big-endian 16/24/32-bit field set to an edge value (lengths, offsets, counts).
                var position = random.Next(bytes.Count - 3);
                var value = random.Next(4) switch { 0 => 0u, 1 => 0xFFFF_FFFFu, 2 => 0x8000_0000u, _ => (uint)random.Next() };
                for (var k = 0; k < 4; k++)
                {
                    bytes[position + k] = (byte)(value >> (24 - (8 * k)));
                }

                break;
            case 7 when bytes.Count > 0:
                var keep = random.Next(bytes.Count);
                bytes.RemoveRange(keep, bytes.Count - keep);
                break;
            default:
                if (bytes.Count > 0)
                {
                    bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                }

                break;
        }

        return [.. bytes];
    }
}

using System.Buffers;

namespace TapeGateway.Iscsi.Tests.Pdu;

/// <summary>
/// A <see cref="ReadOnlySequenceSegment{T}"/> that can be chained, so tests can present the same bytes to
/// <see cref="Iscsi.Pdu.PduReader"/> split at arbitrary offsets, the way a pipe hands over data that straddles its
/// buffer segments.
/// </summary>
internal sealed class TestSequenceSegment : ReadOnlySequenceSegment<byte>
{
    public TestSequenceSegment(ReadOnlyMemory<byte> memory)
    {
        Memory = memory;
    }

    public TestSequenceSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new TestSequenceSegment(memory) { RunningIndex = RunningIndex + Memory.Length };
        Next = next;
        return next;
    }

    /// <summary>
    /// Builds a sequence of <paramref name="bytes"/> cut at <paramref name="cuts"/> (ascending offsets, 0..Length).
    /// Each piece is copied into its own array, so nothing accidentally spans a cut. Empty pieces are kept: pipes can
    /// produce empty segments and the reader must cope with them.
    /// </summary>
    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> bytes, params int[] cuts)
    {
        var bounds = new List<int>(cuts.Length + 2) { 0 };
        bounds.AddRange(cuts);
        bounds.Add(bytes.Length);
        TestSequenceSegment? first = null;
        TestSequenceSegment? last = null;
        for (var i = 0; i + 1 < bounds.Count; i++)
        {
            var piece = bytes[bounds[i]..bounds[i + 1]].ToArray();
            if (last is null)
            {
                first = last = new TestSequenceSegment(piece);
            }
            else
            {
                last = last.Append(piece);
            }
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    /// <summary>Splits <paramref name="bytes"/> into pieces of at most <paramref name="chunk"/> bytes.</summary>
    public static ReadOnlySequence<byte> Chunked(ReadOnlySpan<byte> bytes, int chunk)
    {
        var cuts = new List<int>();
        for (var at = chunk; at < bytes.Length; at += chunk)
        {
            cuts.Add(at);
        }

        return Split(bytes, [.. cuts]);
    }
}

using System.Buffers;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Fuzz.Targets;

/// <summary>
/// <see cref="PduReader.TryRead"/> over arbitrary bytes. Byte 0 selects digests and the segment limit, byte 1 seeds the
/// segmentation; the rest is the stream. Oracles: only <see cref="IscsiProtocolException"/> may escape; a complete PDU
/// consumes exactly its framed length; and the same bytes read as one segment and as many segments give the same
/// sequence of results.
/// </summary>
public sealed class PduReaderTarget : IFuzzTarget
{
    private static readonly int[] s_limits = [512, 8192, 65_536, 262_144];

    public string Name => "pdu";

    public IReadOnlyList<byte[]> Seeds()
    {
        var seeds = new List<byte[]>();
        foreach (var (hd, dd) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var config = (byte)((hd ? 1 : 0) | (dd ? 2 : 0) | (2 << 2));
            var writer = new ArrayBufferWriter<byte>();
            var bhs = new byte[Bhs.Length];
            bhs[0] = 0x40;
            bhs[1] = 0x80;
            Bhs.SetWord(bhs, Bhs.InitiatorTaskTagOffset, 1);
            Bhs.SetWord(bhs, Bhs.Word20, 0xFFFF_FFFF);
            PduWriter.Write(writer, bhs, "ping"u8, hd, dd);
            var cmd = new byte[Bhs.Length];
            cmd[0] = 0x01;
            cmd[1] = 0xA1;
            cmd[32] = 0x2A;
            PduWriter.Write(writer, cmd, new byte[517], hd, dd);
            seeds.Add([config, 7, .. writer.WrittenSpan]);
        }

        return seeds;
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2)
        {
            return;
        }

        var config = input[0];
        var options = new PduReaderOptions(s_limits[(config >> 2) & 3], (config & 1) != 0, (config & 2) != 0);
        var stream = input[2..].ToArray();
        var random = new Random(input[1]);
        var cuts = new List<int>();
        for (var at = random.Next(1, 64); at < stream.Length; at += random.Next(1, 97))
        {
            cuts.Add(at);
        }

        var whole = ReadAll(new ReadOnlySequence<byte>(stream), options);
        var pieces = ReadAll(Segments.Split(stream, cuts), options);
        if (!whole.SequenceEqual(pieces))
        {
            throw new FuzzFindingException(
                $"segmentation changed the outcome: single segment [{string.Join(", ", whole)}] vs {cuts.Count + 1} segments [{string.Join(", ", pieces)}]");
        }
    }

    private static List<string> ReadAll(ReadOnlySequence<byte> buffer, in PduReaderOptions options)
    {
        var outcomes = new List<string>();
        var header = new byte[Bhs.Length];
        for (var guard = 0; guard < 100_000; guard++)
        {
            var before = buffer;
            PduReadResult result;
            ReadOnlySequence<byte> ahs;
            ReadOnlySequence<byte> data;
            try
            {
                result = PduReader.TryRead(ref buffer, header, options, out ahs, out data);
            }
            catch (IscsiProtocolException ex)
            {
                outcomes.Add("protocol error: " + ex.Message);
                return outcomes;
            }

            if (result == PduReadResult.NeedMoreData)
            {
                if (buffer.Length != before.Length || !buffer.Start.Equals(before.Start))
                {
                    throw new FuzzFindingException("NeedMoreData consumed bytes");
                }

                outcomes.Add($"need more ({buffer.Length} left)");
                return outcomes;
            }

            var dataLength = Bhs.DataSegmentLength(header);
            var ahsLength = Bhs.TotalAhsLength(header);
            var padded = dataLength + Bhs.Padding(dataLength);
            var expected = Bhs.Length + ahsLength + (options.HeaderDigest ? 4 : 0) + padded + (options.DataDigest && dataLength > 0 ? 4 : 0);
            var consumed = before.Length - buffer.Length;
            if (consumed != expected || data.Length != dataLength || ahs.Length != ahsLength)
            {
                throw new FuzzFindingException(
                    $"framing: consumed {consumed} (expected {expected}), data {data.Length} (DSL {dataLength}), ahs {ahs.Length} (TotalAHSLength {ahsLength})");
            }

            if (dataLength > options.MaxDataSegmentLength)
            {
                throw new FuzzFindingException($"accepted a {dataLength}-byte segment over the {options.MaxDataSegmentLength} limit");
            }

            outcomes.Add($"{result} {Convert.ToHexString(header)} {Convert.ToHexString(data.ToArray())}");
        }

        throw new FuzzFindingException("reader made no progress");
    }
}

/// <summary>Chained <see cref="ReadOnlySequenceSegment{T}"/>s: the same bytes as a pipe would present them.</summary>
public sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Split(byte[] bytes, IReadOnlyList<int> cuts)
    {
        var bounds = new List<int> { 0 };
        bounds.AddRange(cuts.Where(c => c > 0 && c < bytes.Length));
        bounds.Add(bytes.Length);
        Segments? first = null;
        Segments? last = null;
        for (var i = 0; i + 1 < bounds.Count; i++)
        {
            var piece = bytes.AsMemory(bounds[i], bounds[i + 1] - bounds[i]).ToArray();
            var segment = new Segments(piece, bounds[i]);
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Next = segment;
            }

            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }
}

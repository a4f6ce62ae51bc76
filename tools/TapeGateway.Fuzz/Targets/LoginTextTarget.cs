using System.Buffers;
using System.Text;
using TapeGateway.Iscsi.Login;

namespace TapeGateway.Fuzz.Targets;

/// <summary>
/// The login text codec: <see cref="TextKeyValues"/> parse/write, <see cref="TextSegmentAccumulator"/> with random
/// C-bit splits, and the value decoders of <see cref="IscsiValueEncoding"/>. Oracles: TryParse never throws; Parse throws
/// only <see cref="TextKeyFormatException"/> and agrees with TryParse; parsed pairs write and re-parse identically; the
/// accumulator over any split agrees with a direct parse.
/// </summary>
public sealed class LoginTextTarget : IFuzzTarget
{
    public string Name => "login-text";

    public IReadOnlyList<byte[]> Seeds() =>
    [
        Encoding.UTF8.GetBytes("\u0005InitiatorName=iqn.1994-05.com.redhat:abc\0SessionType=Normal\0TargetName=iqn.2026-11.org.tapegateway:volume0\0AuthMethod=CHAP,None\0"),
        Encoding.UTF8.GetBytes("\u0011HeaderDigest=CRC32C,None\0DataDigest=None\0MaxRecvDataSegmentLength=262144\0ImmediateData=Yes\0InitialR2T=No\0FirstBurstLength=65536\0MaxBurstLength=262144\0"),
        Encoding.UTF8.GetBytes("\u0023CHAP_A=5\0CHAP_N=user\0CHAP_R=0x0123456789abcdef0123456789abcdef\0CHAP_I=7\0CHAP_C=0bAAECAwQFBgcICQoLDA0ODw==\0"),
        Encoding.UTF8.GetBytes("\u0042SendTargets=All\0X-com.example.key=value=with=equals\0TargetAlias=caf\u00e9\0\0\0"),
    ];

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var splitSeed = input[0];
        var text = input[1..];
        var ok = TextKeyValues.TryParse(text, out var pairs, out var error, out var message);
        try
        {
            var parsed = TextKeyValues.Parse(text);
            if (!ok || !parsed.SequenceEqual(pairs))
            {
                throw new FuzzFindingException("Parse succeeded where TryParse failed or disagreed");
            }
        }
        catch (TextKeyFormatException ex)
        {
            if (ok || ex.Error != error)
            {
                throw new FuzzFindingException($"Parse threw {ex.Error} but TryParse said ok={ok} error={error} ({message})", ex);
            }
        }

        if (ok)
        {
            RoundTrip(pairs);
            foreach (var pair in pairs)
            {
                IscsiValueEncoding.TryDecodeBinary(pair.Value, out _);
                IscsiValueEncoding.TryParseNumber(pair.Value, out _);
                IscsiValueEncoding.TryParseBoolean(pair.Value, out _);
                TextKeyValues.IsReservedResponse(pair.Value);
            }
        }

        Accumulate(text, splitSeed, ok, pairs);
    }

    private static void RoundTrip(List<TextKeyValue> pairs)
    {
        var writer = new ArrayBufferWriter<byte>();
        TextKeyValues.Write(writer, pairs);
        if (!TextKeyValues.TryParse(writer.WrittenSpan, out var again, out var error, out _) || !again.SequenceEqual(pairs))
        {
            throw new FuzzFindingException($"written pairs do not parse back identically ({error})");
        }
    }

    private static void Accumulate(ReadOnlySpan<byte> text, byte splitSeed, bool ok, List<TextKeyValue> pairs)
    {
        var random = new Random(splitSeed);
        var accumulator = new TextSegmentAccumulator();
        var rest = text;
        try
        {
            while (true)
            {
                var take = rest.Length == 0 ? 0 : random.Next(0, rest.Length + 1);
                var last = take == rest.Length;
                var done = accumulator.Append(rest[..take], continues: !last, out var result);
                rest = rest[take..];
                if (done)
                {
                    if (!last)
                    {
                        throw new FuzzFindingException("accumulator finished on a C=1 segment");
                    }

                    if (text.Length <= accumulator.MaxTotalLength && (!ok || !result.SequenceEqual(pairs)))
                    {
                        throw new FuzzFindingException("accumulated text parsed differently from the whole text");
                    }

                    return;
                }
            }
        }
        catch (TextKeyFormatException ex)
        {
            if (ok && text.Length <= accumulator.MaxTotalLength)
            {
                throw new FuzzFindingException("accumulator rejected text that parses as a whole", ex);
            }
        }
    }
}

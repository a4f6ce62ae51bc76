using System.Buffers;
using System.Text;

namespace TapeGateway.Iscsi.Login;

/// <summary>One <c>key=value</c> pair of a Login or Text data segment (RFC 7143 §6.1).</summary>
public readonly record struct TextKeyValue(string Key, string Value)
{
    public override string ToString() => Key + "=" + Value;
}

/// <summary>Why a text data segment could not be parsed (RFC 7143 §6.1 syntax).</summary>
public enum TextKeyError
{
    /// <summary>A pair has no '=' separator.</summary>
    MissingSeparator,

    /// <summary>A pair starts with '=' (empty key name).</summary>
    EmptyKey,

    /// <summary>The key name is longer than 63 bytes (RFC 7143 §6.1).</summary>
    KeyTooLong,

    /// <summary>The key name has characters outside the RFC 7143 §6.1 key-name alphabet.</summary>
    InvalidKeyName,

    /// <summary>The value is longer than <see cref="TextKeyValues.MaxValueLength"/> bytes.</summary>
    ValueTooLong,

    /// <summary>The text is not valid UTF-8 (RFC 7143 §6.1: text is UTF-8).</summary>
    InvalidUtf8,

    /// <summary>A continued (C bit) text sequence grew beyond the accumulator's limit.</summary>
    TextTooLong,
}

/// <summary>A malformed text data segment. Never carries secret values in its message.</summary>
public sealed class TextKeyFormatException : Exception
{
    public TextKeyFormatException()
    {
    }

    public TextKeyFormatException(string message)
        : base(message)
    {
    }

    public TextKeyFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public TextKeyFormatException(TextKeyError error, string message)
        : base(message)
    {
        Error = error;
    }

    public TextKeyError Error { get; }
}

/// <summary>
/// Parser and writer for iSCSI text data segments: UTF-8 <c>key=value</c> pairs each terminated by a NUL byte
/// (RFC 7143 §6.1). Used by Login and Text Request/Response PDUs.
/// </summary>
public static class TextKeyValues
{
    /// <summary>RFC 7143 §6.1: "key-name ... MUST NOT exceed 63 bytes".</summary>
    public const int MaxKeyLength = 63;

    /// <summary>
    /// Structural cap for any single value. Ordinary values are limited to 255 bytes (RFC 7143 §6.1) and that is
    /// enforced per key by <see cref="LoginKeyTable"/>; the parser only guards memory, allowing the large binary values
    /// of CHAP_C/CHAP_R (RFC 7143 §12.1.3: up to 1024 bytes, hex-encoded) and 8192-byte values some keys permit.
    /// </summary>
    public const int MaxValueLength = 8192;

    /// <summary>RFC 7143 §6.2: the key was not understood by the responder.</summary>
    public const string NotUnderstood = "NotUnderstood";

    /// <summary>RFC 7143 §6.2: the key is irrelevant in the current negotiation.</summary>
    public const string Irrelevant = "Irrelevant";

    /// <summary>RFC 7143 §6.2: the offered value is not acceptable.</summary>
    public const string Reject = "Reject";

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>True for the three reserved response constants (RFC 7143 §6.2).</summary>
    public static bool IsReservedResponse(string value) =>
        value is NotUnderstood or Irrelevant or Reject;

    /// <summary>
    /// Parses a complete text (all continued segments already concatenated). Pairs are split on the FIRST '='
    /// (values may contain '='). Empty entries between NULs and a missing final NUL are tolerated.
    /// </summary>
    /// <exception cref="TextKeyFormatException">The text is malformed.</exception>
    public static List<TextKeyValue> Parse(ReadOnlySpan<byte> text)
    {
        if (!TryParse(text, out var pairs, out var error, out var message))
        {
            throw new TextKeyFormatException(error, message);
        }

        return pairs;
    }

    /// <summary>Non-throwing <see cref="Parse"/>; <paramref name="message"/> describes the error without values.</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out List<TextKeyValue> pairs, out TextKeyError error, out string message)
    {
        pairs = [];
        error = default;
        message = "";
        var index = 0;
        while (!text.IsEmpty)
        {
            var end = text.IndexOf((byte)0);
            var item = end < 0 ? text : text[..end];
            text = end < 0 ? default : text[(end + 1)..];
            index++;
            if (item.IsEmpty)
            {
                // Some initiators pad the segment with extra NULs; there is no pair to parse.
                continue;
            }

            var eq = item.IndexOf((byte)'=');
            if (eq < 0)
            {
                return Fail(TextKeyError.MissingSeparator, $"text pair #{index} has no '='", out error, out message);
            }

            if (eq == 0)
            {
                return Fail(TextKeyError.EmptyKey, $"text pair #{index} has an empty key", out error, out message);
            }

            var keyBytes = item[..eq];
            var valueBytes = item[(eq + 1)..];
            if (keyBytes.Length > MaxKeyLength)
            {
                return Fail(TextKeyError.KeyTooLong, $"text pair #{index}: key longer than {MaxKeyLength} bytes", out error, out message);
            }

            if (!IsValidKeyName(keyBytes))
            {
                return Fail(TextKeyError.InvalidKeyName, $"text pair #{index}: key has characters outside the RFC 7143 §6.1 key alphabet", out error, out message);
            }

            var key = Encoding.ASCII.GetString(keyBytes);
            if (valueBytes.Length > MaxValueLength)
            {
                return Fail(TextKeyError.ValueTooLong, $"value of key {key} longer than {MaxValueLength} bytes", out error, out message);
            }

            string value;
            try
            {
                value = s_strictUtf8.GetString(valueBytes);
            }
            catch (DecoderFallbackException)
            {
                return Fail(TextKeyError.InvalidUtf8, $"value of key {key} is not valid UTF-8", out error, out message);
            }

            pairs.Add(new TextKeyValue(key, value));
        }

        return true;
    }

    /// <summary>Writes one <c>key=value\0</c> pair as UTF-8.</summary>
    public static void Write(IBufferWriter<byte> writer, string key, string value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (key.Length > MaxKeyLength || !IsValidKeyName(key))
        {
            throw new ArgumentException("not a valid RFC 7143 §6.1 key name", nameof(key));
        }

        var length = key.Length + 1 + Encoding.UTF8.GetByteCount(value) + 1;
        var span = writer.GetSpan(length);
        var written = Encoding.ASCII.GetBytes(key, span);
        span[written++] = (byte)'=';
        written += Encoding.UTF8.GetBytes(value, span[written..]);
        span[written++] = 0;
        writer.Advance(written);
    }

    /// <summary>Writes one pair.</summary>
    public static void Write(IBufferWriter<byte> writer, in TextKeyValue pair) => Write(writer, pair.Key, pair.Value);

    /// <summary>Writes all pairs in order.</summary>
    public static void Write(IBufferWriter<byte> writer, IEnumerable<TextKeyValue> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        foreach (var pair in pairs)
        {
            Write(writer, pair.Key, pair.Value);
        }
    }

    /// <summary>
    /// RFC 7143 §6.1 key-name alphabet: letters, digits, '.', '-', '+', '@', '_' (standard-label), plus '#' used by
    /// the "X#" IANA-registered extension prefix.
    /// </summary>
    public static bool IsValidKeyName(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty || key.Length > MaxKeyLength)
        {
            return false;
        }

        foreach (var b in key)
        {
            if (!IsKeyChar((char)b))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsValidKeyName(string key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > MaxKeyLength)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (!IsKeyChar(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsKeyChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '+' or '@' or '_' or '#';

    private static bool Fail(TextKeyError kind, string text, out TextKeyError error, out string message)
    {
        error = kind;
        message = text;
        return false;
    }
}

/// <summary>
/// Collects the data segments of a Login/Text request sequence whose C (continue) bit is set: RFC 7143 §11.10.2 and
/// §11.12.2 let a key=value pair span PDUs, so nothing may be parsed until a PDU with C=0 arrives.
/// </summary>
public sealed class TextSegmentAccumulator
{
    /// <summary>Default cap on one continued text sequence; generous for login, small enough to bound memory.</summary>
    public const int DefaultMaxTotalLength = 65536;

    private readonly ArrayBufferWriter<byte> _buffer = new();

    public TextSegmentAccumulator(int maxTotalLength = DefaultMaxTotalLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTotalLength, 1);
        MaxTotalLength = maxTotalLength;
    }

    public int MaxTotalLength { get; }

    /// <summary>Bytes buffered from segments that had C=1.</summary>
    public int PendingLength => _buffer.WrittenCount;

    /// <summary>True while a continued sequence is open (a segment with C=1 was appended).</summary>
    public bool IsCollecting => _buffer.WrittenCount > 0;

    /// <summary>
    /// Appends one PDU's data segment. Returns true when <paramref name="continues"/> is false, i.e. the text is
    /// complete and <paramref name="pairs"/> holds every pair of the sequence; the accumulator is then empty again.
    /// </summary>
    /// <exception cref="TextKeyFormatException">The sequence is too long or the complete text is malformed.</exception>
    public bool Append(ReadOnlySpan<byte> segment, bool continues, out List<TextKeyValue> pairs)
    {
        if (_buffer.WrittenCount + segment.Length > MaxTotalLength)
        {
            Reset();
            throw new TextKeyFormatException(TextKeyError.TextTooLong, $"continued text longer than {MaxTotalLength} bytes");
        }

        if (continues)
        {
            _buffer.Write(segment);
            pairs = [];
            return false;
        }

        if (_buffer.WrittenCount == 0)
        {
            pairs = TextKeyValues.Parse(segment);
            return true;
        }

        _buffer.Write(segment);
        try
        {
            pairs = TextKeyValues.Parse(_buffer.WrittenSpan);
        }
        finally
        {
            Reset();
        }

        return true;
    }

    /// <summary>Discards any partial sequence.</summary>
    public void Reset() => _buffer.Clear();
}

using System.Text;

namespace TapeGateway.Integration.Tests.Initiator;

/// <summary>
/// The initiator's own key=value\0 codec (RFC 7143 §6.1), deliberately independent of the target's parser so a bug
/// there cannot hide behind the same bug here.
/// </summary>
public static class TextKeys
{
    public static byte[] Encode(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var builder = new StringBuilder();
        foreach (var (key, value) in pairs)
        {
            builder.Append(key).Append('=').Append(value).Append('\0');
        }

        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    /// <summary>Decodes pairs in order (SendTargets repeats TargetAddress, so a list rather than a dictionary).</summary>
    public static List<KeyValuePair<string, string>> Decode(ReadOnlySpan<byte> text)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var item in Encoding.UTF8.GetString(text).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            pairs.Add(eq < 0 ? new(item, "") : new(item[..eq], item[(eq + 1)..]));
        }

        return pairs;
    }

    /// <summary>Hex ("0x…") or base64 ("0b…") binary value (RFC 7143 §6.1 binary-value).</summary>
    public static byte[] DecodeBinary(string value)
    {
        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            var hex = value[2..];
            if (hex.Length % 2 == 1)
            {
                hex = "0" + hex;
            }

            return Convert.FromHexString(hex);
        }

        if (value.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
        {
            return Convert.FromBase64String(value[2..]);
        }

        throw new FormatException($"'{value}' is not an iSCSI binary value");
    }
}

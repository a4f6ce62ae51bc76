using System.Globalization;

namespace TapeGateway.Iscsi.Login;

/// <summary>
/// RFC 7143 §6.1 value encodings: numerical values (decimal or "0x" hex, §6.1 "numerical-value"), boolean
/// "Yes"/"No", and binary values as "0x"/"0X" hex or "0b"/"0B" base64 (§6.1 "binary-value", used by CHAP_C/CHAP_R,
/// §12.1.3).
/// </summary>
public static class IscsiValueEncoding
{
    public const string Yes = "Yes";
    public const string No = "No";

    /// <summary>Decodes a binary value ("0x…" hex or "0b…" base64). Returns false when malformed or empty.</summary>
    public static bool TryDecodeBinary(string value, out byte[] bytes)
    {
        bytes = [];
        if (value is null || value.Length < 3 || value[0] != '0')
        {
            return false;
        }

        var body = value.AsSpan(2);
        switch (value[1])
        {
            case 'x' or 'X':
                // RFC 7143 §6.1 allows an odd number of hex digits: the value is right-aligned, so pad a leading zero.
                var hex = body.Length % 2 == 0 ? body.ToString() : "0" + body.ToString();
                try
                {
                    bytes = Convert.FromHexString(hex);
                    return bytes.Length > 0;
                }
                catch (FormatException)
                {
                    return false;
                }

            case 'b' or 'B':
                var buffer = new byte[(body.Length * 3 / 4) + 3];
                if (Convert.TryFromBase64Chars(body, buffer, out var written) && written > 0)
                {
                    bytes = buffer.AsSpan(0, written).ToArray();
                    return true;
                }

                return false;
            default:
                return false;
        }
    }

    /// <summary>Encodes as "0x" followed by lower-case hex digits (the form every initiator accepts).</summary>
    public static string EncodeHex(ReadOnlySpan<byte> bytes) => "0x" + Convert.ToHexStringLower(bytes);

    /// <summary>Encodes as "0b" followed by base64.</summary>
    public static string EncodeBase64(ReadOnlySpan<byte> bytes) => "0b" + Convert.ToBase64String(bytes);

    /// <summary>Parses a numerical value: decimal, or "0x" hex (RFC 7143 §6.1 "numerical-value", up to 64 bits).</summary>
    public static bool TryParseNumber(string value, out ulong number)
    {
        number = 0;
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        if (value.Length > 2 && value[0] == '0' && value[1] is 'x' or 'X')
        {
            return ulong.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out number);
        }

        // Digits only: no sign, no whitespace, no thousands separators.
        foreach (var c in value)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }

    /// <summary>Parses "Yes"/"No" (case-sensitive, RFC 7143 §6.1 "boolean-value").</summary>
    public static bool TryParseBoolean(string value, out bool result)
    {
        switch (value)
        {
            case Yes:
                result = true;
                return true;
            case No:
                result = false;
                return true;
            default:
                result = false;
                return false;
        }
    }

    public static string FormatBoolean(bool value) => value ? Yes : No;

    public static string FormatNumber(long value) => value.ToString(CultureInfo.InvariantCulture);
}

using System.Buffers;
using System.Text;
using TapeGateway.Iscsi.Login;

namespace TapeGateway.Iscsi.Tests.Login;

public class TextKeyValuesTests
{
    [Fact]
    public void Parse_SplitsOnFirstEqualsOnly()
    {
        var pairs = TextKeyValues.Parse(L.Text("TargetAddress=10.0.0.1:3260,1", "X-com.example.Expr=a=b=c"));

        Assert.Equal(new TextKeyValue("TargetAddress", "10.0.0.1:3260,1"), pairs[0]);
        Assert.Equal(new TextKeyValue("X-com.example.Expr", "a=b=c"), pairs[1]);
    }

    [Fact]
    public void Parse_AllowsEmptyValue_PaddingNulsAndMissingFinalNul()
    {
        var bytes = Encoding.UTF8.GetBytes("InitiatorAlias=\0\0\0HeaderDigest=None");

        var pairs = TextKeyValues.Parse(bytes);

        Assert.Equal([new("InitiatorAlias", ""), new("HeaderDigest", "None")], pairs);
    }

    [Fact]
    public void Parse_EmptySegment_NoPairs() => Assert.Empty(TextKeyValues.Parse([]));

    [Theory]
    [InlineData("NoSeparatorHere", TextKeyError.MissingSeparator)]
    [InlineData("=value", TextKeyError.EmptyKey)]
    [InlineData("Bad Key=1", TextKeyError.InvalidKeyName)]
    [InlineData("ThisKeyNameIsMuchTooLongForRfc7143WhichAllowsAtMostSixtyThreeBytes=1", TextKeyError.KeyTooLong)]
    public void Parse_Malformed_ThrowsTypedError(string pair, TextKeyError expected)
    {
        var e = Assert.Throws<TextKeyFormatException>(() => TextKeyValues.Parse(L.Text("HeaderDigest=None", pair)));
        Assert.Equal(expected, e.Error);
    }

    [Fact]
    public void Parse_InvalidUtf8_Throws()
    {
        byte[] bytes = [.. "InitiatorAlias="u8, 0xC3, 0x28, 0];

        var ok = TextKeyValues.TryParse(bytes, out _, out var error, out _);

        Assert.False(ok);
        Assert.Equal(TextKeyError.InvalidUtf8, error);
    }

    [Fact]
    public void Parse_ValueLongerThanCap_Throws()
    {
        var e = Assert.Throws<TextKeyFormatException>(() => TextKeyValues.Parse(L.Text("CHAP_C=0x" + new string('a', 9000))));
        Assert.Equal(TextKeyError.ValueTooLong, e.Error);
    }

    [Fact]
    public void Write_ThenParse_RoundTripsUtf8()
    {
        var writer = new ArrayBufferWriter<byte>();
        TextKeyValues.Write(writer, "TargetAlias", "Bandlaufwerk Zürich");
        TextKeyValues.Write(writer, new TextKeyValue("MaxRecvDataSegmentLength", "262144"));

        Assert.Equal("TargetAlias=Bandlaufwerk Zürich\0MaxRecvDataSegmentLength=262144\0", Encoding.UTF8.GetString(writer.WrittenSpan));
        Assert.Equal(2, TextKeyValues.Parse(writer.WrittenSpan).Count);
    }

    [Fact]
    public void Write_RejectsInvalidKey() =>
        Assert.Throws<ArgumentException>(() => TextKeyValues.Write(new ArrayBufferWriter<byte>(), "a=b", "c"));

    [Fact]
    public void Accumulator_JoinsPairsSplitAcrossPdus()
    {
        var all = L.Text("InitiatorName=iqn.2000-01.com.example:x", "HeaderDigest=CRC32C,None");
        var acc = new TextSegmentAccumulator();

        // Split inside the first key name and inside the second value (RFC 7143 §11.12.2 permits any split).
        Assert.False(acc.Append(all.AsSpan(0, 5), continues: true, out _));
        Assert.True(acc.IsCollecting);
        Assert.False(acc.Append(all.AsSpan(5, all.Length - 12), continues: true, out _));
        Assert.True(acc.Append(all.AsSpan(all.Length - 7), continues: false, out var pairs));

        Assert.Equal([new("InitiatorName", "iqn.2000-01.com.example:x"), new("HeaderDigest", "CRC32C,None")], pairs);
        Assert.False(acc.IsCollecting);
    }

    [Fact]
    public void Accumulator_RejectsOversizedSequence()
    {
        var acc = new TextSegmentAccumulator(maxTotalLength: 16);
        acc.Append(new byte[10], continues: true, out _);

        var e = Assert.Throws<TextKeyFormatException>(() => acc.Append(new byte[10], continues: true, out _));
        Assert.Equal(TextKeyError.TextTooLong, e.Error);
    }

    [Theory]
    [InlineData("0x0102ff", new byte[] { 1, 2, 255 })]
    [InlineData("0X0102FF", new byte[] { 1, 2, 255 })]
    [InlineData("0x102", new byte[] { 1, 2 })] // odd digit count: right-aligned (RFC 7143 §6.1)
    [InlineData("0bAQL/", new byte[] { 1, 2, 255 })]
    public void Binary_DecodesHexAndBase64(string text, byte[] expected)
    {
        Assert.True(IscsiValueEncoding.TryDecodeBinary(text, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("0x")]
    [InlineData("0xZZ")]
    [InlineData("0b!!")]
    [InlineData("1234")]
    [InlineData("")]
    public void Binary_RejectsMalformed(string text) => Assert.False(IscsiValueEncoding.TryDecodeBinary(text, out _));

    [Fact]
    public void Binary_EncodeHex_RoundTrips()
    {
        byte[] data = [0xde, 0xad, 0xbe, 0xef];
        Assert.Equal("0xdeadbeef", IscsiValueEncoding.EncodeHex(data));
        Assert.True(IscsiValueEncoding.TryDecodeBinary(IscsiValueEncoding.EncodeBase64(data), out var back));
        Assert.Equal(data, back);
    }

    [Theory]
    [InlineData("262144", 262144UL)]
    [InlineData("0x40000", 262144UL)]
    public void Number_ParsesDecimalAndHex(string text, ulong expected)
    {
        Assert.True(IscsiValueEncoding.TryParseNumber(text, out var n));
        Assert.Equal(expected, n);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData(" 1")]
    [InlineData("1e3")]
    [InlineData("")]
    public void Number_RejectsNonNumerals(string text) => Assert.False(IscsiValueEncoding.TryParseNumber(text, out _));
}

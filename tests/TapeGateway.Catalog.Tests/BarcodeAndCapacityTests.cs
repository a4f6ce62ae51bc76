namespace TapeGateway.Catalog.Tests;

public sealed class BarcodeAndCapacityTests
{
    [Theory]
    [InlineData("ABCDE")]
    [InlineData("A0001")]
    [InlineData("12345")]
    [InlineData("TST001L5")]
    [InlineData("ABCDEFGHIJKLMNOP")]
    public void Valid_barcodes(string barcode) => Assert.True(Barcodes.IsValid(barcode));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("ABCD")]              // too short (AWS minimum 5)
    [InlineData("ABCDEFGHIJKLMNOPQ")] // too long (AWS maximum 16)
    [InlineData("abcde")]             // lower case
    [InlineData("ABC-1")]
    [InlineData("ABC 1")]
    [InlineData("ÄBCDE")]
    public void Invalid_barcodes(string? barcode) => Assert.False(Barcodes.IsValid(barcode));

    [Theory]
    [InlineData("A", true)]
    [InlineData("ABCD", true)]
    [InlineData("ABCDE", false)]
    [InlineData("", false)]
    [InlineData("AB1", false)]
    [InlineData("ab", false)]
    public void Prefix_rules(string prefix, bool valid) => Assert.Equal(valid, Barcodes.IsValidPrefix(prefix));

    [Theory]
    [InlineData("TST001L5", "TST001", "TST", "L5", LtoMediaKind.Data, 5)]
    [InlineData("TST001L9", "TST001", "TST", "L9", LtoMediaKind.Data, 9)]
    [InlineData("ABC123LA", "ABC123", "ABC", "LA", LtoMediaKind.Data, 10)]
    [InlineData("ABC123M8", "ABC123", "ABC", "M8", LtoMediaKind.Data, 8)]
    [InlineData("WRM001LT", "WRM001", "WRM", "LT", LtoMediaKind.Worm, 3)]
    [InlineData("WRM001LV", "WRM001", "WRM", "LV", LtoMediaKind.Worm, 5)]
    [InlineData("WRM001LZ", "WRM001", "WRM", "LZ", LtoMediaKind.Worm, 9)]
    [InlineData("CLN001CU", "CLN001", "CLN", "CU", LtoMediaKind.Cleaning, null)]
    [InlineData("CLN001L5", "CLN001", "CLN", "L5", LtoMediaKind.Cleaning, null)]
    [InlineData("TEST05A2A0", "TEST05A2A0", "TEST", null, LtoMediaKind.None, null)]
    [InlineData("ABCDEFG", "ABCDEFG", null, null, LtoMediaKind.None, null)]
    public void Parser_reads_lto_media_ids(string barcode, string volser, string? prefix, string? mediaId, LtoMediaKind kind, int? generation)
    {
        var info = Barcodes.Parse(barcode);
        Assert.Equal(volser, info.Volser);
        Assert.Equal(prefix, info.Prefix);
        Assert.Equal(mediaId, info.MediaId);
        Assert.Equal(kind, info.MediaKind);
        Assert.Equal(generation, info.Generation);
        Assert.Equal(kind == LtoMediaKind.Worm, info.IsWorm);
    }

    [Fact]
    public void Parser_rejects_invalid_barcodes()
    {
        Assert.False(Barcodes.TryParse("ab", out _));
        Assert.Throws<FormatException>(() => Barcodes.Parse("AB"));
    }

    [Theory]
    [InlineData("TST", 1L, null, "TST001")]
    [InlineData("A", 42L, null, "A00042")]
    [InlineData("ABCD", 7L, "L5", "ABCD07L5")]
    [InlineData("ABCD", 123L, null, "ABCD123")]
    public void Allocator_format(string prefix, long value, string? suffix, string expected) =>
        Assert.Equal(expected, Barcodes.Format(prefix, value, suffix));

    [Theory]
    [InlineData(100L * TapeCapacity.GiB, false, true)]
    [InlineData(5L * TapeCapacity.TiB, false, true)]
    [InlineData(2500L * TapeCapacity.GiB, false, true)]
    [InlineData(99L * TapeCapacity.GiB, false, false)]                    // below 100 GiB
    [InlineData(5L * TapeCapacity.TiB + TapeCapacity.GiB, false, false)]  // above 5 TiB
    [InlineData(100L * TapeCapacity.GiB + TapeCapacity.MiB, false, false)] // not GiB aligned
    [InlineData(16L * TapeCapacity.MiB, false, false)]                    // small tapes need the test option
    [InlineData(16L * TapeCapacity.MiB, true, true)]
    [InlineData(1L * TapeCapacity.MiB, true, true)]
    [InlineData(16L * TapeCapacity.MiB + 1, true, false)]                 // small tapes are whole MiB
    [InlineData(0L, true, false)]
    [InlineData(5L * TapeCapacity.TiB + TapeCapacity.MiB, true, false)]
    public void Capacity_rules(long bytes, bool allowSmall, bool valid) =>
        Assert.Equal(valid, TapeCapacity.Validate(bytes, allowSmall) is null);

    [Fact]
    public void Tape_states_map_to_exact_aws_strings()
    {
        string[] expected =
        [
            "CREATING", "AVAILABLE", "IN TRANSIT TO VTS", "ARCHIVING", "ARCHIVED", "RETRIEVING", "RETRIEVED",
            "DELETING", "DELETED", "RECOVERED", "IRRECOVERABLE",
        ];
        Assert.Equal(expected, TapeStates.All.Select(s => s.ToAwsString()));
        foreach (var state in TapeStates.All)
        {
            Assert.Equal(state, TapeStates.ParseAws(state.ToAwsString()));
        }

        Assert.False(TapeStates.TryParseAws("in transit to vts", out _));
    }

    [Theory]
    [InlineData(TapeState.Available, TapeState.InTransitToVts, true)]
    [InlineData(TapeState.InTransitToVts, TapeState.Available, true)]   // cancel archival
    [InlineData(TapeState.Archiving, TapeState.Available, false)]       // too late to cancel
    [InlineData(TapeState.Archived, TapeState.Retrieving, true)]
    [InlineData(TapeState.Retrieved, TapeState.Archived, true)]         // eject of a retrieved tape
    [InlineData(TapeState.Retrieved, TapeState.Deleting, false)]        // must be ejected first
    [InlineData(TapeState.Deleted, TapeState.Available, false)]
    [InlineData(TapeState.Creating, TapeState.Available, true)]
    [InlineData(TapeState.Available, TapeState.Archived, false)]
    public void Transition_table(TapeState from, TapeState to, bool allowed) =>
        Assert.Equal(allowed, TapeStates.CanTransition(from, to));

    [Fact]
    public void Deleted_is_terminal() => Assert.Empty(TapeStates.NextStates(TapeState.Deleted));
}

using System.Collections.Frozen;

namespace TapeGateway.Catalog;

/// <summary>Tape status exactly as AWS Storage Gateway (Tape Gateway) reports it; see <see cref="TapeStates"/> for the strings.</summary>
public enum TapeState
{
    Creating,
    Available,
    InTransitToVts,
    Archiving,
    Archived,
    Retrieving,
    Retrieved,
    Deleting,
    Deleted,
    Recovered,
    Irrecoverable,
}

/// <summary>
/// The AWS status strings and the lifecycle (which state may follow which). The catalog stores the AWS string so the
/// database reads like the AWS console and API, and so a renamed C# member can never silently change stored data.
/// </summary>
public static class TapeStates
{
    private static readonly FrozenDictionary<TapeState, string> s_toAws = new Dictionary<TapeState, string>
    {
        [TapeState.Creating] = "CREATING",
        [TapeState.Available] = "AVAILABLE",
        [TapeState.InTransitToVts] = "IN TRANSIT TO VTS",
        [TapeState.Archiving] = "ARCHIVING",
        [TapeState.Archived] = "ARCHIVED",
        [TapeState.Retrieving] = "RETRIEVING",
        [TapeState.Retrieved] = "RETRIEVED",
        [TapeState.Deleting] = "DELETING",
        [TapeState.Deleted] = "DELETED",
        [TapeState.Recovered] = "RECOVERED",
        [TapeState.Irrecoverable] = "IRRECOVERABLE",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<string, TapeState> s_fromAws =
        s_toAws.ToFrozenDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    // AWS lifecycle (managing-gateway-vtl.md, managing-virtual-tapes-vtl.md):
    // - eject starts archival (IN TRANSIT TO VTS); it can be cancelled only in that state (back to AVAILABLE);
    // - a RETRIEVED tape returns to ARCHIVED when the backup application ejects it; retrieval can be cancelled;
    // - RECOVERED tapes come from "create recovery tapes" on a failed gateway; IRRECOVERABLE is a gateway error;
    // - deletion goes through DELETING (data being removed) to DELETED, which is terminal.
    private static readonly FrozenDictionary<TapeState, FrozenSet<TapeState>> s_transitions =
        new Dictionary<TapeState, FrozenSet<TapeState>>
        {
            [TapeState.Creating] = Set(TapeState.Available, TapeState.Irrecoverable, TapeState.Deleting),
            [TapeState.Available] = Set(TapeState.InTransitToVts, TapeState.Deleting, TapeState.Recovered, TapeState.Irrecoverable),
            [TapeState.InTransitToVts] = Set(TapeState.Archiving, TapeState.Available, TapeState.Recovered, TapeState.Irrecoverable),
            [TapeState.Archiving] = Set(TapeState.Archived, TapeState.Irrecoverable),
            [TapeState.Archived] = Set(TapeState.Retrieving, TapeState.Deleting),
            [TapeState.Retrieving] = Set(TapeState.Retrieved, TapeState.Archived),
            [TapeState.Retrieved] = Set(TapeState.Archived),
            [TapeState.Deleting] = Set(TapeState.Deleted),
            [TapeState.Deleted] = Set(),
            [TapeState.Recovered] = Set(TapeState.Deleting),
            [TapeState.Irrecoverable] = Set(TapeState.Deleting),
        }.ToFrozenDictionary();

    /// <summary>Every state, in declaration order.</summary>
    public static IReadOnlyList<TapeState> All { get; } = Enum.GetValues<TapeState>();

    /// <summary>The exact AWS status string, e.g. <c>IN TRANSIT TO VTS</c>.</summary>
    public static string ToAwsString(this TapeState state) =>
        s_toAws.TryGetValue(state, out var s) ? s : throw new ArgumentOutOfRangeException(nameof(state), state, null);

    /// <summary>Parses an exact AWS status string (case-sensitive, as AWS returns it).</summary>
    public static bool TryParseAws(string? value, out TapeState state)
    {
        if (value is not null && s_fromAws.TryGetValue(value, out state))
        {
            return true;
        }

        state = default;
        return false;
    }

    public static TapeState ParseAws(string value) =>
        TryParseAws(value, out var state) ? state : throw new FormatException($"'{value}' is not an AWS tape status.");

    /// <summary>Whether the lifecycle allows <paramref name="from"/> → <paramref name="to"/>.</summary>
    public static bool CanTransition(TapeState from, TapeState to) =>
        s_transitions.TryGetValue(from, out var next) && next.Contains(to);

    /// <summary>The states that may follow <paramref name="from"/>.</summary>
    public static IReadOnlySet<TapeState> NextStates(TapeState from) => s_transitions[from];

    /// <summary>States in which the tape sits in the library (a slot, I/E slot or drive) and can be moved.</summary>
    public static bool IsMovable(TapeState state) =>
        state is TapeState.Available or TapeState.Retrieved or TapeState.Recovered or TapeState.Irrecoverable;

    /// <summary>States in which a drive may load the tape (AWS: CREATING "can't be loaded into a tape drive").</summary>
    public static bool IsLoadable(TapeState state) =>
        state is TapeState.Available or TapeState.Retrieved or TapeState.Recovered;

    /// <summary>States whose tapes are write-protected (AWS: retrieved and recovered tapes are read-only).</summary>
    public static bool IsReadOnlyState(TapeState state) => state is TapeState.Retrieved or TapeState.Recovered;

    /// <summary>
    /// States in which the tape has left the library for the archive (VTS) side. IN TRANSIT TO VTS is not one of them:
    /// AWS keeps an ejected tape visible in its I/E slot while the upload finishes (the backup application can still
    /// take it back, which cancels the archive); it leaves when ARCHIVING starts. See <see cref="StaysInElement"/>.
    /// </summary>
    internal static bool IsOutsideLibrary(TapeState state) =>
        state is TapeState.Archiving or TapeState.Archived or TapeState.Retrieving;

    /// <summary>
    /// Whether a tape entering IN TRANSIT TO VTS from <paramref name="element"/> keeps it: only an import/export slot,
    /// where the backup application put it by ejecting. A tape in a storage slot (an export made without the changer)
    /// has no place to be seen in and leaves at once, as before archiving existed; one in a drive is refused.
    /// </summary>
    internal static bool StaysInElement(TapeState to, ElementType element) =>
        to == TapeState.InTransitToVts && element == ElementType.ImportExport;

    /// <summary>States that need an element in the library; entering one from outside places the tape in an I/E slot.</summary>
    internal static bool NeedsElement(TapeState state) =>
        state is TapeState.Available or TapeState.Retrieved or TapeState.Recovered;

    private static FrozenSet<TapeState> Set(params TapeState[] states) => states.ToFrozenSet();
}

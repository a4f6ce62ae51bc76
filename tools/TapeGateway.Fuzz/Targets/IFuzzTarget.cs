namespace TapeGateway.Fuzz.Targets;

/// <summary>
/// One fuzz target: <see cref="Run"/> must return normally for every input; throwing <see cref="FuzzFindingException"/>
/// (an invariant broke) or any unexpected exception is a finding. Expected rejections (protocol errors, malformed
/// text) are caught inside <see cref="Run"/>.
/// </summary>
public interface IFuzzTarget
{
    string Name { get; }

    /// <summary>Well-formed inputs the mutator starts from.</summary>
    IReadOnlyList<byte[]> Seeds();

    void Run(ReadOnlySpan<byte> input);
}

/// <summary>A target's own oracle failed (e.g. different results for different segmentations of the same bytes).</summary>
public sealed class FuzzFindingException : Exception
{
    public FuzzFindingException()
    {
    }

    public FuzzFindingException(string message)
        : base(message)
    {
    }

    public FuzzFindingException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

public static class FuzzTargetCatalog
{
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new PduReaderTarget(),
        new LoginTextTarget(),
        new LoginStateMachineTarget(),
        new CdbTarget(),
    ];

    public static IFuzzTarget Find(string name) =>
        All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown fuzz target '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}", nameof(name));
}

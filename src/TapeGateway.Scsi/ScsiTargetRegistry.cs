using TapeGateway.Core.Scsi;

namespace TapeGateway.Scsi;

/// <summary>The gateway's targets by name (iSCSI names compare case-insensitively, RFC 7143 §4.2.7.1).</summary>
public sealed class ScsiTargetRegistry : IScsiTargetRegistry
{
    private readonly Dictionary<string, ScsiTargetDevice> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<IScsiTarget> _ordered = [];

    public IReadOnlyList<IScsiTarget> Targets => _ordered;

    public IEnumerable<ScsiTargetDevice> Devices => _byName.Values;

    public void Add(ScsiTargetDevice target)
    {
        if (!_byName.TryAdd(target.Name, target))
        {
            throw new InvalidOperationException($"target {target.Name} is defined twice");
        }

        _ordered.Add(target);
    }

    public IScsiTarget? Find(string name) => _byName.GetValueOrDefault(name);
}

using TapeGateway.Core.Scsi;

namespace TapeGateway.Iscsi.Session;

/// <summary>
/// All live sessions of this target portal, for TSIH allocation (RFC 7143 §11.12.5), session reinstatement
/// (same InitiatorName + ISID + TargetName replaces the old session, §6.3.5) and target-wide task management.
/// </summary>
public sealed class SessionRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ushort, IscsiSession> _byTsih = [];
    private ushort _nextTsih;

    public IReadOnlyList<IscsiSession> Snapshot()
    {
        lock (_lock)
        {
            return [.. _byTsih.Values];
        }
    }

    public IReadOnlyList<IscsiSession> SessionsOf(IScsiTarget target)
    {
        lock (_lock)
        {
            return [.. _byTsih.Values.Where(s => ReferenceEquals(s.Target, target))];
        }
    }

    public IscsiSession? Find(ushort tsih)
    {
        lock (_lock)
        {
            return _byTsih.GetValueOrDefault(tsih);
        }
    }

    /// <summary>The session a new login with TSIH=0 would reinstate, if any.</summary>
    public IscsiSession? FindForReinstatement(string initiatorName, ulong isid, string? targetName)
    {
        lock (_lock)
        {
            return _byTsih.Values.FirstOrDefault(s =>
                s.Isid == isid
                && string.Equals(s.InitiatorName, initiatorName, StringComparison.OrdinalIgnoreCase)
                && string.Equals(s.Target?.Name, targetName, StringComparison.OrdinalIgnoreCase));
        }
    }

    /// <summary>Reserves a fresh non-zero TSIH.</summary>
    public ushort AllocateTsih()
    {
        lock (_lock)
        {
            do
            {
                _nextTsih = unchecked((ushort)(_nextTsih + 1));
            }
            while (_nextTsih == 0 || _byTsih.ContainsKey(_nextTsih));

            return _nextTsih;
        }
    }

    public void Add(IscsiSession session)
    {
        lock (_lock)
        {
            _byTsih[session.Tsih] = session;
        }
    }

    public bool Remove(IscsiSession session)
    {
        lock (_lock)
        {
            if (_byTsih.TryGetValue(session.Tsih, out var current) && ReferenceEquals(current, session))
            {
                _byTsih.Remove(session.Tsih);
                return true;
            }

            return false;
        }
    }
}

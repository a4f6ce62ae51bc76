using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

/// <summary>
/// Pending unit attention conditions per I_T nexus (SPC-4 §5.14 / SAM-5 §5.14). Each nexus has its own queue; the
/// oldest is reported first and a condition already queued is not queued twice.
/// </summary>
public sealed class UnitAttentionQueue
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, (ItNexus Nexus, List<SenseReason> Pending)> _byNexus = [];

    public void Add(ItNexus nexus, SenseReason reason)
    {
        lock (_lock)
        {
            if (!_byNexus.TryGetValue(nexus.Id, out var entry))
            {
                entry = (nexus, []);
                _byNexus[nexus.Id] = entry;
            }

            if (!entry.Pending.Contains(reason))
            {
                entry.Pending.Add(reason);
            }
        }
    }

    /// <summary>Registers a nexus that will get future conditions, without a pending one.</summary>
    public void Track(ItNexus nexus)
    {
        lock (_lock)
        {
            _byNexus.TryAdd(nexus.Id, (nexus, []));
        }
    }

    public void AddAll(SenseReason reason) => AddAllExcept(null, reason);

    public void AddAllExcept(ItNexus? except, SenseReason reason)
    {
        lock (_lock)
        {
            foreach (var (_, entry) in _byNexus)
            {
                if (except is not null && entry.Nexus.Id == except.Id)
                {
                    continue;
                }

                if (!entry.Pending.Contains(reason))
                {
                    entry.Pending.Add(reason);
                }
            }
        }
    }

    /// <summary>Queues a condition for every nexus of the given initiator port (e.g. registrations preempted).</summary>
    public void AddWhere(Func<ItNexus, bool> predicate, SenseReason reason)
    {
        lock (_lock)
        {
            foreach (var (_, entry) in _byNexus)
            {
                if (predicate(entry.Nexus) && !entry.Pending.Contains(reason))
                {
                    entry.Pending.Add(reason);
                }
            }
        }
    }

    public bool HasPending(ItNexus nexus)
    {
        lock (_lock)
        {
            return _byNexus.TryGetValue(nexus.Id, out var e) && e.Pending.Count > 0;
        }
    }

    public bool TryTake(ItNexus nexus, out SenseReason reason)
    {
        lock (_lock)
        {
            if (_byNexus.TryGetValue(nexus.Id, out var e) && e.Pending.Count > 0)
            {
                reason = e.Pending[0];
                e.Pending.RemoveAt(0);
                return true;
            }
        }

        reason = SenseReason.None;
        return false;
    }

    /// <summary>Drops one pending condition (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED, SPC-4 §6.33).</summary>
    public bool Clear(ItNexus nexus, SenseReason reason)
    {
        lock (_lock)
        {
            return _byNexus.TryGetValue(nexus.Id, out var e) && e.Pending.Remove(reason);
        }
    }

    /// <summary>The live I_T nexuses known to this LU that match (PREEMPT AND ABORT needs them to abort their tasks).</summary>
    public IReadOnlyList<ItNexus> Nexuses(Func<ItNexus, bool> predicate)
    {
        lock (_lock)
        {
            var result = new List<ItNexus>();
            foreach (var (_, entry) in _byNexus)
            {
                if (predicate(entry.Nexus))
                {
                    result.Add(entry.Nexus);
                }
            }

            return result;
        }
    }

    public void Remove(ItNexus nexus)
    {
        lock (_lock)
        {
            _byNexus.Remove(nexus.Id);
        }
    }
}

using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;

namespace TapeGateway.Scsi.Spc;

/// <summary>
/// SPC-2 RESERVE/RELEASE and SPC-4 persistent reservations for one logical unit. (Skeleton: the SPC work fills in
/// persistent reservations; SPC-2 reservations are enforced here.)
/// </summary>
public sealed class ReservationState
{
    private readonly Lock _lock = new();
    private readonly LogicalUnit _unit;
    private ItNexus? _reserveHolder;

    public ReservationState(LogicalUnit unit)
    {
        _unit = unit;
    }

    public ItNexus? ReserveHolder
    {
        get
        {
            lock (_lock)
            {
                return _reserveHolder;
            }
        }
    }

    internal LogicalUnit Unit => _unit;

    public bool IsConflict(ScsiTask task, CommandFlags flags)
    {
        lock (_lock)
        {
            if (_reserveHolder is not null && _reserveHolder.Id != task.Nexus.Id)
            {
                return (flags & CommandFlags.AllowedUnderReserve) == 0;
            }

            return false;
        }
    }

    public bool TryReserve(ItNexus nexus)
    {
        lock (_lock)
        {
            if (_reserveHolder is not null && _reserveHolder.Id != nexus.Id)
            {
                return false;
            }

            _reserveHolder = nexus;
            return true;
        }
    }

    public void Release(ItNexus nexus)
    {
        lock (_lock)
        {
            if (_reserveHolder is not null && _reserveHolder.Id == nexus.Id)
            {
                _reserveHolder = null;
            }
        }
    }

    internal void OnNexusLost(ItNexus nexus) => Release(nexus);

    internal void OnReset()
    {
        lock (_lock)
        {
            _reserveHolder = null;
        }
    }
}

using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi;

/// <summary>
/// A SCSI target device: the LUN map behind one iSCSI name. Commands to LUNs that do not exist are answered here
/// (SPC-4 §6.6.1: INQUIRY with peripheral qualifier 011b; REQUEST SENSE / others LOGICAL UNIT NOT SUPPORTED), and
/// REPORT LUNS is answered for any LUN.
/// </summary>
public sealed class ScsiTargetDevice : IScsiTarget
{
    private readonly SortedDictionary<ushort, LogicalUnit> _units = [];
    private readonly Spc.MissingLun _missing;
    private readonly Spc.IPersistentReservationStore? _reservationStore;

    /// <param name="reservationStore">
    /// Where APTPL persistent reservations live (SPC-4 §5.12.5); each unit added restores its saved state from it.
    /// </param>
    public ScsiTargetDevice(string name, string? alias = null, Spc.IPersistentReservationStore? reservationStore = null)
    {
        Name = name;
        Alias = alias;
        _reservationStore = reservationStore;
        _missing = new Spc.MissingLun(this);
    }

    public string Name { get; }

    public string? Alias { get; }

    public IEnumerable<LogicalUnit> Units => _units.Values;

    public ScsiTargetDevice Add(LogicalUnit unit)
    {
        if (!_units.TryAdd(unit.Lun.Value, unit))
        {
            throw new InvalidOperationException($"LUN {unit.Lun} is already used in {Name}");
        }

        unit.Target = this;
        unit.Reservations.PreemptedAndAborted += (u, nexuses) => AbortRequested?.Invoke(u.Lun, nexuses);
        if (_reservationStore is not null)
        {
            unit.Reservations.AttachStore(_reservationStore);
        }

        return this;
    }

    public event Action<Lun, IReadOnlyList<ItNexus>>? AbortRequested;

    public LogicalUnit? Find(Lun lun) => _units.GetValueOrDefault(lun.Value);

    public bool HasLun(Lun lun) => _units.ContainsKey(lun.Value);

    public ValueTask ExecuteAsync(ScsiTask task)
    {
        if (_units.TryGetValue(task.Lun.Value, out var unit))
        {
            return unit.ExecuteAsync(task);
        }

        return _missing.ExecuteAsync(task);
    }

    public void NexusCreated(ItNexus nexus)
    {
        foreach (var unit in _units.Values)
        {
            unit.OnNexusCreated(nexus);
        }
    }

    public void NexusLost(ItNexus nexus)
    {
        foreach (var unit in _units.Values)
        {
            unit.OnNexusLost(nexus);
        }
    }

    public void TaskManagement(TaskManagementEvent what, Lun lun, ItNexus requester)
    {
        if (what is TaskManagementEvent.TargetWarmReset or TaskManagementEvent.TargetColdReset)
        {
            foreach (var unit in _units.Values)
            {
                unit.OnTaskManagement(what, requester);
            }

            return;
        }

        Find(lun)?.OnTaskManagement(what, requester);
    }

    internal static void WriteSense(ScsiTask task, SenseReason reason, in SenseDetails details = default)
    {
        var n = SenseDataBuilder.Write(task.SenseBuffer, reason, SenseFormat.Fixed, details);
        task.SetSense(n);
    }
}

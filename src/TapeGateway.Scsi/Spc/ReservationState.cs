using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;

namespace TapeGateway.Scsi.Spc;

/// <summary>
/// SPC-2 RESERVE/RELEASE and SPC-4 persistent reservations (§5.12) for one logical unit.
/// SPC-2 reservations belong to one I_T nexus instance and end with it. Persistent registrations belong to an
/// initiator port + target port pair (SPC-4 §5.12.6), so they survive I_T nexus loss, session reinstatement and
/// LOGICAL UNIT RESET; with APTPL they also survive a restart through an <see cref="IPersistentReservationStore"/>.
/// All state is guarded by one lock; PERSISTENT RESERVE OUT handlers call the methods below, which return the
/// outcome to report.
/// </summary>
public sealed class ReservationState
{
    private readonly Lock _lock = new();
    private readonly Lock _saveLock = new();
    private readonly LogicalUnit _unit;
    private readonly List<Registration> _registrations = [];
    private ItNexus? _reserveHolder;
    private PersistentReservationType _type;
    private Registration? _holder;
    private uint _generation;
    private bool _aptpl;
    private long _changeSequence;
    private long _savedSequence;
    private IPersistentReservationStore? _store;

    public ReservationState(LogicalUnit unit)
    {
        _unit = unit;
    }

    /// <summary>
    /// Raised after PREEMPT AND ABORT (SPC-4 §5.12.11.2.5) with the live I_T nexuses whose registrations were
    /// preempted: the transport must abort their tasks on this logical unit as ABORT TASK SET would (SAM-5 §7.2),
    /// except the PERSISTENT RESERVE OUT itself. Called outside the reservation lock, before the command completes.
    /// </summary>
    public event Action<LogicalUnit, IReadOnlyList<ItNexus>>? PreemptedAndAborted;

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

    /// <summary>PRGENERATION (SPC-4 §6.16.2).</summary>
    public uint Generation
    {
        get
        {
            lock (_lock)
            {
                return _generation;
            }
        }
    }

    public PersistentReservationType ReservationType
    {
        get
        {
            lock (_lock)
            {
                return _type;
            }
        }
    }

    /// <summary>Activate Persist Through Power Loss as last set by a register service action (SPC-4 §5.12.5).</summary>
    public bool PersistThroughPowerLoss
    {
        get
        {
            lock (_lock)
            {
                return _aptpl;
            }
        }
    }

    internal LogicalUnit Unit => _unit;

    /// <summary>Key for the store: the unit serial number, unique per LU and stable across restarts.</summary>
    private string StoreKey => _unit.Identity.SerialNumber;

    /// <summary>
    /// Connects the APTPL store and restores state saved by a previous run (SPC-4 §5.12.5: after power on the
    /// registrations and reservation are as they were). Called once by the composition root, before any command.
    /// </summary>
    public void AttachStore(IPersistentReservationStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var snapshot = store.Load(StoreKey);
        lock (_lock)
        {
            _store = store;
            if (snapshot is null)
            {
                return;
            }

            _registrations.Clear();
            foreach (var r in snapshot.Registrations)
            {
                _registrations.Add(new Registration(r.InitiatorPortName, r.TargetPortName, r.RelativeTargetPortId, r.AllTargetPorts, r.Key));
            }

            _generation = snapshot.Generation;
            _type = snapshot.Type;
            _holder = snapshot.HolderIndex >= 0 && snapshot.HolderIndex < _registrations.Count ? _registrations[snapshot.HolderIndex] : null;
            if (_type != PersistentReservationType.None && _holder is null && !IsAllRegistrants(_type))
            {
                _type = PersistentReservationType.None;
            }

            _aptpl = true;
        }
    }

    // ---- conflict checks -------------------------------------------------------------------------------------

    /// <summary>
    /// Whether the command must end with RESERVATION CONFLICT before its handler runs: SPC-2 §5.5.1 for RESERVE
    /// holders, SPC-4 §5.12.1 table 64 (via the command's flags) for persistent reservations. Registrants are
    /// never in conflict under the registrants-only and all-registrants types; the holder never is.
    /// </summary>
    public bool IsConflict(ScsiTask task, CommandFlags flags)
    {
        lock (_lock)
        {
            if (_reserveHolder is not null && _reserveHolder.Id != task.Nexus.Id)
            {
                return (flags & CommandFlags.AllowedUnderReserve) == 0;
            }

            if (_type == PersistentReservationType.None)
            {
                return false;
            }

            var registration = FindLocked(task.Nexus);
            if (registration is not null && (ReferenceEquals(registration, _holder) || IsRegistrantsType(_type)))
            {
                return false;
            }

            return IsWriteExclusive(_type)
                ? (flags & CommandFlags.AllowedUnderWriteExclusive) == 0
                : (flags & CommandFlags.AllowedUnderExclusiveAccess) == 0;
        }
    }

    /// <summary>A persistent reservation (not merely registrations) exists (SPC-4 §5.12.3 RESERVE/RELEASE rule).</summary>
    public bool HasPersistentReservation
    {
        get
        {
            lock (_lock)
            {
                return _type != PersistentReservationType.None;
            }
        }
    }

    public bool IsRegistered(ItNexus nexus)
    {
        lock (_lock)
        {
            return FindLocked(nexus) is not null;
        }
    }

    // ---- SPC-2 RESERVE / RELEASE -----------------------------------------------------------------------------

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

    /// <summary>I_T nexus loss releases SPC-2 reservations only (SPC-2 §5.5.1); PR registrations are per port, not per session.</summary>
    internal void OnNexusLost(ItNexus nexus) => Release(nexus);

    /// <summary>LU reset releases SPC-2 reservations; persistent reservations are unaffected (SPC-4 §5.12.1).</summary>
    internal void OnReset()
    {
        lock (_lock)
        {
            _reserveHolder = null;
        }
    }

    // ---- PERSISTENT RESERVE IN -------------------------------------------------------------------------------

    /// <summary>A consistent copy of the PR state for PERSISTENT RESERVE IN.</summary>
    public PersistentReservationSnapshot Snapshot()
    {
        lock (_lock)
        {
            return SnapshotLocked();
        }
    }

    // ---- PERSISTENT RESERVE OUT ------------------------------------------------------------------------------

    /// <summary>REGISTER (00h) and REGISTER AND IGNORE EXISTING KEY (06h), SPC-4 §5.12.7 and §5.12.10.</summary>
    public CommandOutcome Register(ItNexus nexus, ulong reservationKey, ulong serviceActionKey, bool ignoreExisting, bool allTargetPorts, bool aptpl)
    {
        var changed = false;
        lock (_lock)
        {
            var existing = FindLocked(nexus);
            if (existing is null)
            {
                if (!ignoreExisting && reservationKey != 0)
                {
                    return CommandOutcome.Conflict;
                }

                if (serviceActionKey == 0)
                {
                    // §5.12.7: registering key 0 from an unregistered nexus is a successful no-op.
                    return CommandOutcome.Good;
                }

                _registrations.Add(new Registration(
                    nexus.InitiatorPortName, nexus.TargetPortName, nexus.RelativeTargetPortId, allTargetPorts, serviceActionKey));
                changed = true;
            }
            else
            {
                if (!ignoreExisting && reservationKey != existing.Key)
                {
                    return CommandOutcome.Conflict;
                }

                if (serviceActionKey != 0)
                {
                    existing.Key = serviceActionKey;
                }
                else
                {
                    UnregisterLocked(existing, nexus);
                }

                changed = true;
            }

            _generation++;
            _aptpl = aptpl;
            _changeSequence++;
        }

        if (changed)
        {
            Persist();
        }

        return CommandOutcome.Good;
    }

    /// <summary>RESERVE (01h), SPC-4 §5.12.9.</summary>
    public CommandOutcome Reserve(ItNexus nexus, ulong reservationKey, PersistentReservationType type)
    {
        lock (_lock)
        {
            var registration = FindLocked(nexus);
            if (registration is null || registration.Key != reservationKey)
            {
                return CommandOutcome.Conflict;
            }

            if (_type != PersistentReservationType.None)
            {
                var holds = ReferenceEquals(_holder, registration) || IsAllRegistrants(_type);

                // Re-reserving with the same type is a no-op; anything else conflicts (SPC-4 §5.12.9).
                return holds && _type == type ? CommandOutcome.Good : CommandOutcome.Conflict;
            }

            _type = type;
            _holder = IsAllRegistrants(type) ? null : registration;
            _changeSequence++;
        }

        Persist();
        return CommandOutcome.Good;
    }

    /// <summary>RELEASE (02h), SPC-4 §5.12.11.2.</summary>
    public CommandOutcome ReleasePersistent(ItNexus nexus, ulong reservationKey, PersistentReservationType type)
    {
        lock (_lock)
        {
            var registration = FindLocked(nexus);
            if (registration is null || registration.Key != reservationKey)
            {
                return CommandOutcome.Conflict;
            }

            if (_type == PersistentReservationType.None)
            {
                return CommandOutcome.Good;
            }

            var holds = ReferenceEquals(_holder, registration) || IsAllRegistrants(_type);
            if (!holds)
            {
                // Not the holder: GOOD and nothing happens.
                return CommandOutcome.Good;
            }

            if (type != _type)
            {
                return CommandOutcome.Fail(SenseReason.InvalidReleaseOfPersistentReservation);
            }

            ReleaseReservationLocked(nexus);
            _changeSequence++;
        }

        Persist();
        return CommandOutcome.Good;
    }

    /// <summary>CLEAR (03h), SPC-4 §5.12.11.2.6: everything goes; other registrants get RESERVATIONS PREEMPTED.</summary>
    public CommandOutcome Clear(ItNexus nexus, ulong reservationKey)
    {
        lock (_lock)
        {
            var registration = FindLocked(nexus);
            if (registration is null || registration.Key != reservationKey)
            {
                return CommandOutcome.Conflict;
            }

            foreach (var r in _registrations)
            {
                QueueUnitAttention(r, nexus, SenseReason.ReservationsPreempted);
            }

            _registrations.Clear();
            _type = PersistentReservationType.None;
            _holder = null;
            _generation++;
            _changeSequence++;
        }

        Persist();
        return CommandOutcome.Good;
    }

    /// <summary>PREEMPT (04h) and PREEMPT AND ABORT (05h), SPC-4 §5.12.11.2.4 and §5.12.11.2.5.</summary>
    public CommandOutcome Preempt(ItNexus nexus, ulong reservationKey, ulong serviceActionKey, PersistentReservationType type, bool abort)
    {
        List<ItNexus>? aborted = null;
        lock (_lock)
        {
            var self = FindLocked(nexus);
            if (self is null || self.Key != reservationKey)
            {
                return CommandOutcome.Conflict;
            }

            var removed = new List<Registration>();
            if (_type == PersistentReservationType.None || (IsAllRegistrants(_type) && serviceActionKey != 0)
                || (!IsAllRegistrants(_type) && _holder!.Key != serviceActionKey))
            {
                // No reservation affected: only registrations with the service action key go (§5.12.11.2.4.2/.3).
                if (serviceActionKey == 0)
                {
                    return CommandOutcome.InvalidParameterField(8);
                }

                removed.AddRange(_registrations.Where(r => r.Key == serviceActionKey && !ReferenceEquals(r, self)));
                var selfMatches = self.Key == serviceActionKey;
                if (removed.Count == 0 && !selfMatches)
                {
                    return CommandOutcome.Conflict;
                }

                RemoveLocked(removed);
                if (_type != PersistentReservationType.None && IsAllRegistrants(_type) && _registrations.Count == 0)
                {
                    _type = PersistentReservationType.None;
                }
            }
            else
            {
                // The reservation is preempted: for all-registrants types a zero key removes every other registrant,
                // otherwise the holder's key names who goes. The preempting nexus keeps its registration and becomes
                // the holder of a reservation of the requested type.
                removed.AddRange(_registrations.Where(r =>
                    !ReferenceEquals(r, self) && (IsAllRegistrants(_type) ? serviceActionKey == 0 : r.Key == serviceActionKey)));
                var oldType = _type;
                RemoveLocked(removed);
                _type = type;
                _holder = IsAllRegistrants(type) ? null : self;
                if (oldType != type)
                {
                    foreach (var r in _registrations)
                    {
                        QueueUnitAttention(r, nexus, SenseReason.ReservationsReleased);
                    }
                }
            }

            foreach (var r in removed)
            {
                QueueUnitAttention(r, nexus, SenseReason.RegistrationsPreempted);
            }

            if (abort && removed.Count > 0)
            {
                aborted = [.. _unit.UnitAttentions.Nexuses(n => n.Id != nexus.Id && removed.Exists(r => r.Matches(n)))];
            }

            _generation++;
            _changeSequence++;
        }

        Persist();
        if (aborted is { Count: > 0 })
        {
            PreemptedAndAborted?.Invoke(_unit, aborted);
        }

        return CommandOutcome.Good;
    }

    // ---- helpers (call with _lock held) ----------------------------------------------------------------------

    private Registration? FindLocked(ItNexus nexus)
    {
        foreach (var r in _registrations)
        {
            if (r.Matches(nexus))
            {
                return r;
            }
        }

        return null;
    }

    private void UnregisterLocked(Registration registration, ItNexus nexus)
    {
        _registrations.Remove(registration);
        if (_type == PersistentReservationType.None)
        {
            return;
        }

        if (IsAllRegistrants(_type))
        {
            // §5.12.11.2.3: an all-registrants reservation ends with its last registrant.
            if (_registrations.Count == 0)
            {
                _type = PersistentReservationType.None;
            }

            return;
        }

        if (ReferenceEquals(_holder, registration))
        {
            // §5.12.10.2: unregistering the holder releases the reservation; registrants-only types tell the others.
            if (IsRegistrantsType(_type))
            {
                foreach (var r in _registrations)
                {
                    QueueUnitAttention(r, nexus, SenseReason.ReservationsReleased);
                }
            }

            _type = PersistentReservationType.None;
            _holder = null;
        }
    }

    private void ReleaseReservationLocked(ItNexus nexus)
    {
        // §5.12.11.2.2: releasing a registrants-only or all-registrants reservation is reported to the other registrants.
        if (IsRegistrantsType(_type))
        {
            foreach (var r in _registrations)
            {
                QueueUnitAttention(r, nexus, SenseReason.ReservationsReleased);
            }
        }

        _type = PersistentReservationType.None;
        _holder = null;
    }

    private void RemoveLocked(List<Registration> removed)
    {
        foreach (var r in removed)
        {
            _registrations.Remove(r);
            if (ReferenceEquals(_holder, r))
            {
                _holder = null;
                _type = PersistentReservationType.None;
            }
        }
    }

    /// <summary>Queues a unit attention for the live nexuses of a registration, never for the nexus that caused it.</summary>
    private void QueueUnitAttention(Registration registration, ItNexus except, SenseReason reason) =>
        _unit.UnitAttentions.AddWhere(n => n.Id != except.Id && registration.Matches(n), reason);

    private PersistentReservationSnapshot SnapshotLocked() => new(
        _generation,
        _registrations.Select(r => new PersistentRegistration(r.InitiatorPortName, r.TargetPortName, r.RelativeTargetPortId, r.AllTargetPorts, r.Key)).ToArray(),
        _type,
        _holder is null ? -1 : _registrations.IndexOf(_holder));

    /// <summary>
    /// Writes the state when APTPL is (or just stopped being) in effect. The snapshot is taken under the state lock
    /// and written under a separate lock, so command checks never wait for the disk; a newer change always wins.
    /// </summary>
    private void Persist()
    {
        if (_store is null)
        {
            return;
        }

        lock (_saveLock)
        {
            PersistentReservationSnapshot? snapshot;
            long sequence;
            lock (_lock)
            {
                sequence = _changeSequence;
                if (sequence <= _savedSequence)
                {
                    return;
                }

                snapshot = _aptpl ? SnapshotLocked() : null;
            }

            _store.Save(StoreKey, snapshot);
            _savedSequence = sequence;
        }
    }

    internal static bool IsValidType(byte type) =>
        type is 0x1 or 0x3 or 0x5 or 0x6 or 0x7 or 0x8;

    internal static bool IsAllRegistrants(PersistentReservationType type) =>
        type is PersistentReservationType.WriteExclusiveAllRegistrants or PersistentReservationType.ExclusiveAccessAllRegistrants;

    private static bool IsRegistrantsType(PersistentReservationType type) =>
        type is PersistentReservationType.WriteExclusiveRegistrantsOnly or PersistentReservationType.ExclusiveAccessRegistrantsOnly
            or PersistentReservationType.WriteExclusiveAllRegistrants or PersistentReservationType.ExclusiveAccessAllRegistrants;

    private static bool IsWriteExclusive(PersistentReservationType type) =>
        type is PersistentReservationType.WriteExclusive or PersistentReservationType.WriteExclusiveRegistrantsOnly
            or PersistentReservationType.WriteExclusiveAllRegistrants;

    private sealed class Registration(string initiatorPortName, string targetPortName, ushort relativeTargetPortId, bool allTargetPorts, ulong key)
    {
        public string InitiatorPortName { get; } = initiatorPortName;

        public string TargetPortName { get; } = targetPortName;

        public ushort RelativeTargetPortId { get; } = relativeTargetPortId;

        public bool AllTargetPorts { get; } = allTargetPorts;

        public ulong Key { get; set; } = key;

        /// <summary>Same initiator port (name + ISID, SAM-5 §4.6) and, unless ALL_TG_PT, the same target port.</summary>
        public bool Matches(ItNexus nexus) =>
            string.Equals(InitiatorPortName, nexus.InitiatorPortName, StringComparison.OrdinalIgnoreCase)
            && (AllTargetPorts || string.Equals(TargetPortName, nexus.TargetPortName, StringComparison.OrdinalIgnoreCase));
    }
}

using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Logging;
using TapeGateway.Core.Scsi;
using TapeGateway.Media.Tape;
using TapeGateway.Scsi.Commands;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Spc;

namespace TapeGateway.Scsi;

/// <summary>SPC-4 §6.6.2 peripheral device types we emulate.</summary>
public enum PeripheralDeviceType : byte
{
    DirectAccess = 0x00,
    SequentialAccess = 0x01,
    MediumChanger = 0x08,
    Unknown = 0x1F,
}

/// <summary>
/// State and checks every logical unit shares (SPC-4): unit attentions per I_T nexus, reservations, mode pages,
/// identity. The per-device-type pipeline lives in <see cref="LogicalUnit{TSelf}"/>.
/// </summary>
public abstract partial class LogicalUnit
{
    private TimeProvider _time = TimeProvider.System;

    protected LogicalUnit(Lun lun, LogicalUnitIdentity identity, ILogger logger)
    {
        Lun = lun;
        Identity = identity;
        Logger = logger;
        UnitAttentions = new UnitAttentionQueue();
        Reservations = new ReservationState(this);
        Clock = new DeviceClock(_time);
    }

    public Lun Lun { get; }

    public LogicalUnitIdentity Identity { get; }

    public abstract PeripheralDeviceType DeviceType { get; }

    /// <summary>Set when the unit is added to a target; REPORT LUNS and VPD 0x83 target-port ids need it.</summary>
    public ScsiTargetDevice Target { get; internal set; } = null!;

    public UnitAttentionQueue UnitAttentions { get; }

    /// <summary>
    /// The time source of <see cref="Clock"/>; <see cref="TimeProvider.System"/> unless a host (or a test) supplies
    /// another. Setting it restarts the clock from the new source, as at power on.
    /// </summary>
    public TimeProvider TimeProvider
    {
        get => _time;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            _time = value;
            Clock = new DeviceClock(value);
        }
    }

    /// <summary>The device clock REPORT TIMESTAMP and SET TIMESTAMP work on (SPC-4 timestamp model).</summary>
    public DeviceClock Clock { get; private set; }

    /// <summary>The READ BUFFER / WRITE BUFFER data and echo buffers (memory only, SPC-4).</summary>
    public DiagnosticBuffers Buffers { get; } = new();

    public ReservationState Reservations { get; }

    /// <summary>Mode pages of this unit (SPC-4 §7.5); device types add their pages when they build it.</summary>
    public abstract ModePageSet ModePages { get; }

    /// <summary>Whether sense is returned in descriptor format: the D_SENSE bit of the Control mode page (SPC-4 §7.5.8).</summary>
    public virtual SenseFormat SenseFormat => ModePages.DescriptorSense ? SenseFormat.Descriptor : SenseFormat.Fixed;

    /// <summary>Removable medium bit of standard INQUIRY (tapes and changers set it).</summary>
    public virtual bool RemovableMedium => false;

    protected ILogger Logger { get; }

    /// <summary>Opcodes this unit implements, for REPORT SUPPORTED OPERATION CODES.</summary>
    public abstract IReadOnlyList<SupportedCommand> SupportedCommands { get; }

    /// <summary>Device-type VPD pages beyond 0x00/0x80/0x83 (e.g. 0xB0/0xB1/0xB2 on disks), in ascending page order.</summary>
    public virtual IReadOnlyList<byte> ExtraVpdPages => [];

    /// <summary>Writes a device-type VPD page (without the 4-byte header); returns its length, or -1 if unknown.</summary>
    public virtual int WriteVpdPage(byte page, Span<byte> destination) => -1;

    /// <summary>The device-type part of standard INQUIRY byte 7 etc. can be overridden by personalities.</summary>
    public virtual byte VersionDescriptorLevel => 0x06; // SPC-4

    /// <summary>
    /// Standard INQUIRY version descriptors (SPC-4 §6.6.2, at most eight): SAM-5, iSCSI, SPC-4 and the command set
    /// standard of <see cref="DeviceType"/>. Personalities that mimic a specific drive may override the list.
    /// </summary>
    public virtual IReadOnlyList<ushort> VersionDescriptors => DeviceType switch
    {
        PeripheralDeviceType.DirectAccess => [0x00A0, 0x0960, 0x0460, 0x04C0], // + SBC-3
        PeripheralDeviceType.SequentialAccess => [0x00A0, 0x0960, 0x0460, 0x05C0], // + SSC-4
        PeripheralDeviceType.MediumChanger => [0x00A0, 0x0960, 0x0460, 0x0480], // + SMC-3
        _ => [0x00A0, 0x0960, 0x0460],
    };

    /// <summary>
    /// SPC-4 §6.6.2 PERIPHERAL QUALIFIER: 000b for real units; 011b only for the stand-in that answers LUNs without a
    /// logical unit (<see cref="MissingLun"/>).
    /// </summary>
    protected internal virtual byte PeripheralQualifier => 0;

    /// <summary>
    /// Whether the unit can execute media commands now (SPC-4 §6.37 TEST UNIT READY, §6.29 REQUEST SENSE): None when
    /// ready, otherwise the NOT READY reason (e.g. <see cref="SenseReason.MediumNotPresent"/> for an empty tape drive).
    /// </summary>
    protected internal virtual SenseReason CheckReady() => SenseReason.None;

    /// <summary>
    /// The block descriptor MODE SENSE returns (SPC-4 §7.5.5; SBC-3 §6.4.2 for disks: block count + block length;
    /// SSC-4 §8.3.2 for tapes: density code + block length), or null for none (changers). <paramref name="pageControl"/>
    /// is the PC field so a device type can report which descriptor fields are changeable.
    /// </summary>
    protected internal virtual ModeBlockDescriptor? GetModeBlockDescriptor(ModePageControl pageControl) => null;

    /// <summary>
    /// Applies a block descriptor sent with MODE SELECT. The default accepts only what MODE SENSE reports (a NUMBER
    /// OF BLOCKS of zero means "no change", SBC-3 §6.4.2.2); tapes override this to change density and block length.
    /// </summary>
    protected internal virtual bool TryApplyModeBlockDescriptor(in ModeBlockDescriptor requested)
    {
        if (GetModeBlockDescriptor(ModePageControl.Current) is not { } current)
        {
            return false;
        }

        return requested.BlockLength == current.BlockLength
            && (requested.BlockCount == 0 || requested.BlockCount == current.BlockCount)
            && (requested.DensityCode == 0 || requested.DensityCode == current.DensityCode);
    }

    /// <summary>
    /// MODE SENSE header DEVICE-SPECIFIC PARAMETER (SPC-4 §7.5.4): WP and DPOFUA for disks (SBC-3 §6.4.1), WP,
    /// BUFFERED MODE and SPEED for tapes (SSC-4 §8.3.1).
    /// </summary>
    protected internal virtual byte DeviceSpecificParameter => 0;

    /// <summary>
    /// MODE SENSE header MEDIUM TYPE (SPC-4 §7.5.4: "unique for each device type"); 00h unless the device type says
    /// otherwise (tapes: the loaded cartridge's type, as IBM LTO drives report it).
    /// </summary>
    protected internal virtual byte MediumType => 0;

    /// <summary>
    /// Whether a MODE SELECT header may carry this MEDIUM TYPE: 00h, or the value MODE SENSE reports (applications
    /// commonly send back the header they sensed, zeroing only MODE DATA LENGTH).
    /// </summary>
    protected internal bool IsValidMediumType(byte value) => value == 0 || value == MediumType;

    /// <summary>
    /// Whether a MODE SELECT header may carry this DEVICE-SPECIFIC PARAMETER. Disks ignore it (WP/DPOFUA are reserved
    /// in MODE SELECT, SBC-3 §6.4.1); tapes override it for BUFFERED MODE and SPEED. Checked, without side effects,
    /// before MODE SELECT changes anything: a refused MODE SELECT changes no parameter (SPC-4 §6.9).
    /// </summary>
    protected internal virtual bool IsValidDeviceSpecificParameter(byte value) => true;

    /// <summary>Applies a DEVICE-SPECIFIC PARAMETER that <see cref="IsValidDeviceSpecificParameter"/> accepted.</summary>
    protected internal virtual void ApplyDeviceSpecificParameter(byte value)
    {
    }

    /// <summary>
    /// Called before MODE SENSE reports and before MODE SELECT checks current values, so device types can bring fields
    /// that follow device state (e.g. SSC-4 ACTIVE PARTITION, the medium's partition layout) up to date first.
    /// </summary>
    protected internal virtual void RefreshModePages()
    {
    }

    /// <summary>Called after MODE SELECT changed the current values of a page, so device types can react (e.g. WCE).</summary>
    protected internal virtual void OnModePageChanged(byte page, byte subpage)
    {
    }

    /// <summary>Device-type log pages beyond 0x00 (supported pages), subpage 0, ascending (SPC-4 §7.3).</summary>
    public virtual IReadOnlyList<byte> ExtraLogPages => [];

    /// <summary>Writes a device-type log page including its 4-byte header; returns its length, or -1 if unknown.</summary>
    protected internal virtual int WriteLogPage(byte page, byte subpage, byte pageControl, ushort parameterPointer, Span<byte> destination) => -1;

    /// <summary>REPORT SUPPORTED OPERATION CODES command timeouts (SPC-4 §6.35.4), in seconds; 0 = not specified.</summary>
    protected internal virtual (uint Nominal, uint Recommended) GetCommandTimeouts(byte opcode, ushort? serviceAction) => (0, 0);

    public abstract ValueTask ExecuteAsync(ScsiTask task);

    internal void OnNexusCreated(ItNexus nexus) => UnitAttentions.Add(nexus, SenseReason.PowerOnResetOrBusDeviceReset);

    internal virtual void OnNexusLost(ItNexus nexus)
    {
        UnitAttentions.Remove(nexus);
        Reservations.OnNexusLost(nexus);
        Buffers.Forget(nexus);
    }

    internal virtual void OnTaskManagement(TaskManagementEvent what, ItNexus requester)
    {
        switch (what)
        {
            case TaskManagementEvent.ClearTaskSet:
                UnitAttentions.AddAllExcept(requester, SenseReason.CommandsClearedByAnotherInitiator);
                break;

            // SAM-5 §6.3.3: a reset reports 29/0x to every I_T nexus, the requester's included (as LIO does).
            case TaskManagementEvent.LogicalUnitReset:
                Reservations.OnReset();
                UnitAttentions.AddAll(SenseReason.BusDeviceResetFunctionOccurred);
                OnReset();
                break;

            // Deviation: after TARGET WARM RESET the requesting nexus gets no unit attention. It learns of the reset from
            // the TMF response; libiscsi's conformance suite resets the target and carries on in the same session, and
            // targets it was written against (LIO) refuse warm reset altogether, so a 29/02 there fails later tests.
            case TaskManagementEvent.TargetWarmReset:
                Reservations.OnReset();
                UnitAttentions.AddAllExcept(requester, SenseReason.ScsiBusResetOccurred);
                OnReset();
                break;
            // TARGET COLD RESET is the iSCSI hard reset (RFC 7143 §11.5.1, SAM-5 hard reset): as after power on, the device
            // clock starts again from the host's clock and the READ/WRITE BUFFER buffers are empty. The other resets
            // leave both alone (SPC-4: a logical unit reset does not change the timestamp).
            case TaskManagementEvent.TargetColdReset:
                Reservations.OnReset();
                UnitAttentions.AddAll(SenseReason.PowerOnOccurred);
                OnReset();
                Clock.InitializeFromHost();
                Buffers.Clear();
                break;
        }
    }

    /// <summary>Device-type reset side effects (SAM-5 §6.3.3: mode parameters back to saved values, etc.).</summary>
    protected virtual void OnReset() => ModePages.ResetToSaved();

    /// <summary>Sets CHECK CONDITION with sense for <paramref name="reason"/> in this unit's sense format.</summary>
    public void SetSense(ScsiTask task, SenseReason reason, in SenseDetails details = default)
    {
        var n = SenseDataBuilder.Write(task.SenseBuffer, reason, SenseFormat, details);
        task.SetSense(n);
    }

    /// <summary>Runs <see cref="CommandFlags.Serialized"/> commands one at a time, in arrival (CmdSN) order.</summary>
    private protected CommandGate Gate { get; } = new();

    /// <summary>
    /// Holds the unit's serialisation gate outside the command pipeline (the changer threading or ejecting a
    /// cartridge), queued behind the commands that arrived first. Dispose the result to leave.
    /// </summary>
    internal ValueTask<IDisposable> EnterAsync(CancellationToken ct) => Gate.EnterAsync(ct);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "LUN {Lun}: command {Opcode:X2} failed unexpectedly")]
    protected static partial void LogCommandFailed(ILogger logger, Exception error, Lun lun, byte opcode);
}

/// <summary>The table-driven command pipeline for one device type.</summary>
public abstract class LogicalUnit<TSelf> : LogicalUnit
    where TSelf : LogicalUnit<TSelf>
{
    // Idle command runs; grows to the most commands this unit ever had in flight at once, then allocates nothing.
    private readonly Stack<CommandRun> _runPool = new();
    private IReadOnlyList<SupportedCommand>? _supported;

    protected LogicalUnit(Lun lun, LogicalUnitIdentity identity, ILogger logger)
        : base(lun, identity, logger)
    {
    }

    protected abstract CommandTable<TSelf> Commands { get; }

    public override IReadOnlyList<SupportedCommand> SupportedCommands =>
        _supported ??= Commands.All
            .Select(d => new SupportedCommand(d.OperationCode, d.ServiceAction, d.CdbUsage, d.Name, d.SpecReference, d.Flags))
            .OrderBy(c => c.OperationCode).ThenBy(c => c.ServiceAction ?? 0)
            .ToArray();

    public bool HasServiceActions(byte opcode) => Commands.HasServiceActions(opcode);

    /// <summary>
    /// SPC-4 order of checks (as LIO's target_setup_cmd_from_cdb): unit attention, reservation, then the handler's own
    /// parse-and-execute. Unexpected exceptions become HARDWARE ERROR / INTERNAL TARGET FAILURE, never a dropped session.
    /// </summary>
    /// <remarks>
    /// Not an async method: a queue of serialized commands (tapeperf keeps four WRITEs in flight per drive) would keep
    /// one state machine per queued command alive, more than the pooled builder caches (one per thread and core), so
    /// each would allocate. Instead every command gets a <see cref="CommandRun"/> from this unit's own pool, which
    /// waits in the gate's queue without an async frame and is the <see cref="IValueTaskSource"/> the transport
    /// awaits; only the running command has a handler state machine. Nothing is allocated per command.
    /// </remarks>
    public override ValueTask ExecuteAsync(ScsiTask task)
    {
        var descriptor = Commands.Find(task.Cdb, out var invalidServiceAction);
        var flags = descriptor?.Flags ?? CommandFlags.None;

        if ((flags & (CommandFlags.IgnoresUnitAttention | CommandFlags.ReportsUnitAttention)) == 0
            && UnitAttentions.TryTake(task.Nexus, out var ua))
        {
            SetSense(task, ua);
            return ValueTask.CompletedTask;
        }

        if (descriptor is null)
        {
            if (invalidServiceAction)
            {
                SetSense(task, SenseReason.InvalidFieldInCdb, SenseDetails.CdbField(1, 4));
            }
            else
            {
                SetSense(task, SenseReason.InvalidCommandOperationCode, SenseDetails.CdbField(0));
            }

            return ValueTask.CompletedTask;
        }

        if (task.Cdb.Length < descriptor.CdbLength)
        {
            SetSense(task, SenseReason.InvalidFieldInCdb, SenseDetails.CdbField(0));
            return ValueTask.CompletedTask;
        }

        // SAM-5 §5.2: the CONTROL byte's NACA bit asks for ACA, which we do not support (NormACA=0 in INQUIRY).
        var control = task.Cdb[descriptor.CdbLength - 1];
        if (task.OperationCode != 0x7F && (control & 0x04) != 0)
        {
            SetSense(task, SenseReason.InvalidFieldInCdb, SenseDetails.CdbField(descriptor.CdbLength - 1, 2));
            return ValueTask.CompletedTask;
        }

        if (Reservations.IsConflict(task, flags))
        {
            task.Status = ScsiStatus.ReservationConflict;
            return ValueTask.CompletedTask;
        }

        return RentRun().Start(task, descriptor, flags);
    }

    private CommandRun RentRun()
    {
        lock (_runPool)
        {
            if (_runPool.Count > 0)
            {
                return _runPool.Pop();
            }
        }

        return new CommandRun(this);
    }

    private void ReturnRun(CommandRun run)
    {
        lock (_runPool)
        {
            _runPool.Push(run);
        }
    }

    /// <summary>Maps what a handler threw to the command's status (see <see cref="ExecuteAsync"/>).</summary>
    private void Fail(ScsiTask task, Exception error)
    {
        switch (error)
        {
            case OperationCanceledException when task.IsAborted:
                task.Status = ScsiStatus.TaskAborted;
                break;
            case DataOutException:
                task.TrimDataIn(0);
                SetSense(task, SenseReason.DataPhaseError);
                break;
            case TapeStoreException store:
                // The medium's byte store (the object-store tier) failed. SPC-4 §4.5.6: unreadable bytes are a MEDIUM
                // ERROR (11/00), as on a real drive; a store that is only temporarily unable to serve (bucket
                // unreachable, upload buffer full past its timeout) changed nothing, so ABORTED COMMAND / SYSTEM
                // RESOURCE FAILURE tells the initiator to retry.
                LogCommandFailed(Logger, store, Lun, task.OperationCode);
                task.TrimDataIn(0);
                SetSense(task, store.Failure == TapeStoreFailure.MediumError ? SenseReason.UnrecoveredReadError : SenseReason.SystemResourceFailure);
                break;
            default:
                LogCommandFailed(Logger, error, Lun, task.OperationCode);
                task.TrimDataIn(0);
                SetSense(task, SenseReason.InternalTargetFailure);
                break;
        }
    }

    private void Complete(ScsiTask task, in CommandOutcome outcome)
    {
        if (outcome.Reason != SenseReason.None)
        {
            SetSense(task, outcome.Reason, outcome.Details);
            if (outcome.Status != ScsiStatus.CheckCondition && outcome.Status != ScsiStatus.Good)
            {
                task.Status = outcome.Status;
            }
        }
        else
        {
            task.Status = outcome.Status;
        }
    }

    /// <summary>
    /// One command's trip through the unit: waits for the gate (serialized commands) without an async frame, runs the
    /// handler, maps its outcome, passes the gate on, and completes the <see cref="ValueTask"/> the transport awaits.
    /// Reused across commands; <see cref="IValueTaskSource.GetResult"/> (the transport's await) returns it to the pool.
    /// </summary>
    private sealed class CommandRun : CommandGate.Waiter, IValueTaskSource, IThreadPoolWorkItem
    {
        private static readonly Action<object?> s_onAborted = static s => ((CommandRun)s!).OnAbortedWhileQueued();

        private readonly LogicalUnit<TSelf> _unit;
        private readonly Action _onHandlerCompleted;
        private ManualResetValueTaskSourceCore<bool> _completion;
        private ConfiguredValueTaskAwaitable<CommandOutcome>.ConfiguredValueTaskAwaiter _handler;
        private CancellationTokenRegistration _abortRegistration;
        private ScsiTask? _task;
        private CommandDescriptor<TSelf>? _descriptor;
        private bool _serialized;
        private bool _blocking;

        public CommandRun(LogicalUnit<TSelf> unit)
        {
            _unit = unit;
            _onHandlerCompleted = OnHandlerCompleted;

            // The transport's continuation runs on the thread that finished the command: it only queues the response.
            _completion.RunContinuationsAsynchronously = false;
        }

        private ScsiTask Task => _task!;

        /// <summary>Called on the transport's thread, which must not block: blocking commands are handed to a worker.</summary>
        public ValueTask Start(ScsiTask task, CommandDescriptor<TSelf> descriptor, CommandFlags flags)
        {
            _task = task;
            _descriptor = descriptor;
            _serialized = (flags & CommandFlags.Serialized) != 0;
            _blocking = (flags & CommandFlags.Blocking) != 0;
            if (_serialized)
            {
                // ABORT TASK must not wait for the gate: a queued run is taken out of the queue. Registered before
                // queueing, so the registration is in place by the time anyone can grant the gate to this run.
                _abortRegistration = task.Aborted.UnsafeRegister(s_onAborted, this);
                if (!_unit.Gate.EnterOrQueue(this))
                {
                    return new ValueTask(this, _completion.Version);
                }

                UnregisterAbort();
            }

            if (!IsReadyHere(onWorker: false) || !TryRunHandler())
            {
                return new ValueTask(this, _completion.Version);
            }

            // Finished without yielding: nobody will await the run, so it goes back to the pool right here.
            var next = Leave();
            Recycle();
            RunGranted(next, onWorker: false);
            return ValueTask.CompletedTask;
        }

        public override void OnGranted()
        {
            UnregisterAbort();
            RunGranted(this, onWorker: false);
        }

        /// <summary>A worker picks the run up: its Data-Out is complete (or it needed none), and blocking is allowed.</summary>
        void IThreadPoolWorkItem.Execute() => RunGranted(this, onWorker: true);

        /// <summary>
        /// Once the run holds the gate an abort is the handler's business (it sees the token). Unregister does not wait
        /// for a callback in flight; such a callback finds the run no longer queued and does nothing.
        /// </summary>
        private void UnregisterAbort()
        {
            _abortRegistration.Unregister();
            _abortRegistration = default;
        }

        /// <summary>
        /// Runs granted commands one after another for as long as their handlers finish synchronously; the first that
        /// yields (or has to move to a worker) continues the chain from there. A loop, not recursion, so a long queue
        /// of synchronous commands does not deepen the stack.
        /// </summary>
        /// <param name="waiter">The waiter that now holds the gate (or a non-serialized run), or null.</param>
        /// <param name="onWorker">Whether this thread may block: false on the transport's thread.</param>
        private static void RunGranted(CommandGate.Waiter? waiter, bool onWorker)
        {
            while (waiter is CommandRun run)
            {
                if (!run.IsReadyHere(onWorker) || !run.TryRunHandler())
                {
                    return;
                }

                waiter = run.Leave();
                run._completion.SetResult(true); // queued runs were awaited: the transport gets them now
            }

            waiter?.OnGranted();
        }

        /// <summary>
        /// Whether the handler may run on this thread now. A blocking command first waits for its Data-Out (so the
        /// handler never yields for it: no state machine survives on the pool's per-thread cache, which is what makes
        /// a streaming WRITE allocation-free), then moves to a worker unless it is on one. False means the run was
        /// handed on and continues on a worker.
        /// </summary>
        private bool IsReadyHere(bool onWorker)
        {
            if (!_blocking)
            {
                return true;
            }

            var task = Task;
            if ((task.Direction & DataDirection.Write) != 0 && task.QueueWhenDataOutComplete(this))
            {
                return false;
            }

            if (!onWorker)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return false;
            }

            return true;
        }

        /// <summary>Starts the handler; true when it has finished (outcome applied), false when it yielded.</summary>
        private bool TryRunHandler()
        {
            var task = Task;
            ValueTask<CommandOutcome> pending;
            try
            {
                pending = _descriptor!.Handler((TSelf)_unit, task);
            }
            catch (Exception ex)
            {
                _unit.Fail(task, ex);
                return true;
            }

            _handler = pending.ConfigureAwait(false).GetAwaiter();
            if (!_handler.IsCompleted)
            {
                _handler.UnsafeOnCompleted(_onHandlerCompleted);
                return false;
            }

            ApplyOutcome();
            return true;
        }

        private void ApplyOutcome()
        {
            var task = Task;
            try
            {
                // GetResult also hands a pooled handler state machine back to its cache.
                var outcome = _handler.GetResult();
                _unit.Complete(task, outcome);
            }
            catch (Exception ex)
            {
                _unit.Fail(task, ex);
            }
            finally
            {
                _handler = default;
            }
        }

        private void OnHandlerCompleted()
        {
            ApplyOutcome();
            var next = Leave();

            // After SetResult the transport may recycle the task and this run: touch neither again.
            _completion.SetResult(true);

            // A handler resumes on a pool thread (a store or Data-Out completion), never on the transport's.
            RunGranted(next, onWorker: true);
        }

        /// <summary>Passes the gate on (serialized commands); returns the waiter that now holds it.</summary>
        private CommandGate.Waiter? Leave() => _serialized ? _unit.Gate.ExitAndTakeNext() : null;

        private void OnAbortedWhileQueued()
        {
            if (!_unit.Gate.TryRemove(this))
            {
                return; // granted meanwhile: the handler runs and sees the cancelled token
            }

            // The registration is running this callback; Unregister would wait for nothing and dispose nothing.
            _abortRegistration = default;
            Task.Status = ScsiStatus.TaskAborted;
            _completion.SetResult(true);
        }

        private void Recycle()
        {
            _task = null;
            _descriptor = null;
            _completion.Reset();
            _unit.ReturnRun(this);
        }

        void IValueTaskSource.GetResult(short token)
        {
            try
            {
                _completion.GetResult(token);
            }
            finally
            {
                Recycle();
            }
        }

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _completion.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);
    }
}

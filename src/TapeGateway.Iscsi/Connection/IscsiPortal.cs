using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Configuration;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Connection;

/// <summary>
/// What every connection of one listening portal shares: options, the target registry, live sessions and
/// connections. One instance per host; connections reach other sessions through it for target-wide task management.
/// </summary>
public sealed class IscsiPortal
{
    private readonly ConcurrentDictionary<long, IscsiConnection> _connections = new();
    private long _nextConnectionId;

    public IscsiPortal(IOptions<IscsiOptions> options, IScsiTargetRegistry targets, ILoggerFactory loggerFactory, TimeProvider time)
    {
        Options = options.Value;
        TaskBuffers = ArrayPool<byte>.Create(Math.Max(Options.MaxCommandTransferLength, 1024 * 1024), 32);
        Targets = targets;
        LoggerFactory = loggerFactory;
        Time = time;
        Sessions = new SessionRegistry();
        foreach (var target in targets.Targets)
        {
            var t = target;
            t.AbortRequested += (lun, nexuses) => AbortForPreemption(t, lun, nexuses);
        }
    }

    public IscsiOptions Options { get; }

    /// <summary>
    /// Data-Out and Data-In buffers of every task of every connection. A bucketed pool without per-thread caches
    /// (unlike <see cref="ArrayPool{T}.Shared"/>): a read loop rents on whichever pool thread it resumes on and the
    /// buffer comes back on another, which would leave arrays parked in thread slots and make large rents allocate.
    /// Sized for the largest command we buffer; each size keeps at most 32 idle arrays.
    /// </summary>
    internal ArrayPool<byte> TaskBuffers { get; }

    public IScsiTargetRegistry Targets { get; }

    public SessionRegistry Sessions { get; }

    public ILoggerFactory LoggerFactory { get; }

    public TimeProvider Time { get; }

    /// <summary>The endpoint we listen on, set by the listener (SendTargets reports it when bound to a wildcard).</summary>
    public IPEndPoint? ListenEndpoint { get; internal set; }

    public ushort PortalGroupTag => (ushort)Options.PortalGroupTag;

    public IReadOnlyCollection<IscsiConnection> Connections => [.. _connections.Values];

    internal long Register(IscsiConnection connection)
    {
        var id = Interlocked.Increment(ref _nextConnectionId);
        _connections[id] = connection;
        return id;
    }

    internal void Unregister(long id) => _connections.TryRemove(id, out _);

    /// <summary>
    /// PREEMPT AND ABORT (SPC-4 §5.12.11.2.3): tasks of the preempted nexuses on that LUN end without status.
    /// Fire-and-forget: the PERSISTENT RESERVE OUT that caused it is itself still running.
    /// </summary>
    private void AbortForPreemption(IScsiTarget target, Core.Scsi.Lun lun, IReadOnlyList<ItNexus> nexuses)
    {
        foreach (var session in Sessions.SessionsOf(target))
        {
            if (session.Nexus is { } nexus && session.Connection is { } connection
                && nexuses.Any(n => n.Id == nexus.Id || n.SameInitiatorPort(nexus)))
            {
                _ = connection.AbortTasksAsync(t => t.Scsi.Lun == lun);
            }
        }
    }

    /// <summary>Security settings of a target, or an open default.</summary>
    public TargetSecurityOptions SecurityOf(string targetName) =>
        Options.TargetSecurity.FirstOrDefault(s => string.Equals(s.TargetName, targetName, StringComparison.OrdinalIgnoreCase))
        ?? new TargetSecurityOptions { TargetName = targetName };
}

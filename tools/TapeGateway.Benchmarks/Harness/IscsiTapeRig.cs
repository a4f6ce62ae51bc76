using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TapeGateway.Iscsi.Configuration;
using TapeGateway.Iscsi.Connection;
using TapeGateway.Scsi;

namespace TapeGateway.Benchmarks.Harness;

/// <summary>
/// The production iSCSI connection (<see cref="IscsiConnection"/> over a loopback TCP socket, default
/// <see cref="IscsiOptions"/> except the keepalive) in front of a <see cref="TapeDriveRig"/>, with a
/// <see cref="RawInitiator"/> logged in: the whole WRITE(6) path from socket to tape store, in one process.
/// </summary>
public sealed class IscsiTapeRig : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Task _connection;

    private IscsiTapeRig(TapeDriveRig drive, RawInitiator initiator, Task connection, CancellationTokenSource stop)
    {
        Drive = drive;
        Initiator = initiator;
        _connection = connection;
        _stop = stop;
    }

    public TapeDriveRig Drive { get; }

    public RawInitiator Initiator { get; }

    public static async Task<IscsiTapeRig> CreateAsync(RigStore store, long capacityBytes, bool compression, int maxPayload, int maxDepth) =>
        await CreateAsync(await TapeDriveRig.CreateAsync(store, capacityBytes, compression), maxPayload, maxDepth);

    /// <summary>The iSCSI path in front of an existing drive rig (which the new rig owns).</summary>
    public static async Task<IscsiTapeRig> CreateAsync(TapeDriveRig drive, int maxPayload, int maxDepth)
    {
        var registry = new ScsiTargetRegistry();
        registry.Add(drive.Target);

        // No NOP-In pings: the benchmark pauses between iterations and the raw initiator need not be chatty.
        var portal = new IscsiPortal(Options.Create(new IscsiOptions { NopInIntervalSeconds = 0 }), registry, NullLoggerFactory.Instance, TimeProvider.System);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var accept = listener.AcceptAsync();
        var stop = new CancellationTokenSource();
        var connect = Task.Run(() => RawInitiator.Connect((IPEndPoint)listener.LocalEndPoint!, TapeDriveRig.TargetName, maxPayload, maxDepth));
        var socket = await accept;
        socket.NoDelay = true; // as IscsiListener does
        var connection = new IscsiConnection(portal, socket);
        var run = Task.Run(async () =>
        {
            try
            {
                await connection.RunAsync(stop.Token);
            }
            finally
            {
                await connection.DisposeAsync();
            }
        });
        var initiator = await connect;
        return new IscsiTapeRig(drive, initiator, run, stop);
    }

    public async ValueTask DisposeAsync()
    {
        Initiator.Dispose();
        await _stop.CancelAsync();
        try
        {
            await _connection.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        await Drive.DisposeAsync();
    }
}

using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TapeGateway.Iscsi.Connection;

namespace TapeGateway.Iscsi.Hosting;

/// <summary>
/// Accepts TCP connections on the configured portal and runs one <see cref="IscsiConnection"/> per socket. On
/// shutdown it asks every initiator to log out (RFC 7143 §11.9 AsyncEvent 1), waits briefly, then drops the rest.
/// </summary>
public sealed partial class IscsiListener : BackgroundService
{
    private readonly IscsiPortal _portal;
    private readonly ILogger<IscsiListener> _logger;
    private readonly TaskCompletionSource<IPEndPoint> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _running = [];
    private readonly Lock _runningLock = new();
    private bool _closing;
    private Socket? _listener;

    public IscsiListener(IscsiPortal portal, ILogger<IscsiListener> logger)
    {
        _portal = portal;
        _logger = logger;
    }

    /// <summary>Completes with the bound endpoint once listening (tests bind port 0).</summary>
    public Task<IPEndPoint> BoundEndpoint => _bound.Task;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var options = _portal.Options;
        var address = IPAddress.Parse(options.Address);
        _listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(new IPEndPoint(address, options.Port));
        _listener.Listen(128);
        var endpoint = (IPEndPoint)_listener.LocalEndPoint!;
        _portal.ListenEndpoint = endpoint;
        LogListening(_logger, endpoint);
        _bound.TrySetResult(endpoint);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = _listener!;
        while (!stoppingToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                // StopAsync closed the listening socket or cancelled us: normal shutdown.
                break;
            }
            catch (SocketException ex) when (stoppingToken.IsCancellationRequested || Volatile.Read(ref _closing))
            {
                // StopAsync closes the listening socket before the host cancels us: the pending accept is aborted.
                _ = ex;
                break;
            }
            catch (SocketException ex)
            {
                LogAcceptFailed(_logger, ex.Message);
                continue;
            }

            // iSCSI is request/response with small PDUs; Nagle plus delayed ACK would add 40 ms stalls.
            socket.NoDelay = true;
            var connection = new IscsiConnection(_portal, socket);
            var run = RunConnectionAsync(connection, stoppingToken);
            lock (_runningLock)
            {
                _running.RemoveAll(t => t.IsCompleted);
                _running.Add(run);
            }
        }
    }

    private async Task RunConnectionAsync(IscsiConnection connection, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            await connection.RunAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A connection must never take the process down; log and move on (other sessions go on).
            LogConnectionCrashed(_logger, ex, connection.RemoteEndPoint);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _closing, true);
        _listener?.Close();
        var wait = _portal.Options.ShutdownLogoutWaitSeconds;
        var connections = _portal.Connections;
        if (wait > 0 && connections.Count > 0)
        {
            await Task.WhenAll(connections.Select(c => c.RequestLogoutAsync(wait))).ConfigureAwait(false);
            var deadline = _portal.Time.GetTimestamp();
            while (_portal.Connections.Count > 0
                   && _portal.Time.GetElapsedTime(deadline).TotalSeconds < wait
                   && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
            }
        }

        foreach (var c in _portal.Connections)
        {
            c.Abort();
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        Task[] running;
        lock (_runningLock)
        {
            running = [.. _running];
        }

        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _listener?.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "iSCSI portal listening on {Endpoint}")]
    private static partial void LogListening(ILogger logger, IPEndPoint endpoint);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "accept failed: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "connection from {Remote} failed")]
    private static partial void LogConnectionCrashed(ILogger logger, Exception error, EndPoint? remote);
}

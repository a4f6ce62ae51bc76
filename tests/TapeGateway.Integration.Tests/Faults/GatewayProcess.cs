using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TapeGateway.Integration.Tests.Infrastructure;
using TapeGateway.Integration.Tests.Initiator;

namespace TapeGateway.Integration.Tests.Faults;

/// <summary>
/// The built gateway as a separate process (the server dll next to the tests), so a test can SIGKILL it the way a
/// power cut or the OOM killer would, and start it again on the same data directory.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly IReadOnlyList<string> _settings;
    private Process? _process;

    public GatewayProcess(string dataDirectory, IReadOnlyDictionary<string, string> settings)
    {
        DataDirectory = dataDirectory;
        IscsiPort = FreePort();
        HttpPort = FreePort();
        _settings =
        [
            .. settings.Select(kv => $"--{kv.Key}={kv.Value}"),
            $"--TapeGateway:DataDirectory={dataDirectory}",
            $"--TapeGateway:Iscsi:Port={IscsiPort}",
            "--TapeGateway:Iscsi:ShutdownLogoutWaitSeconds=0",
            $"--Urls=http://127.0.0.1:{HttpPort}",
        ];
    }

    public string DataDirectory { get; }

    public int IscsiPort { get; }

    public int HttpPort { get; }

    public IPEndPoint Endpoint => new(IPAddress.Loopback, IscsiPort);

    public Uri ApiBase => new($"http://127.0.0.1:{HttpPort}/");

    public int Starts { get; private set; }

    public async Task StartAsync()
    {
        var server = Path.Combine(AppContext.BaseDirectory, "TapeGateway.Server.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(server);
        foreach (var s in _settings)
        {
            start.ArgumentList.Add(s);
        }

        Starts++;
        var log = File.AppendText(Path.Combine(DataDirectory, $"gateway-{Starts}.log"));
        log.AutoFlush = true;
        _process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        _process.OutputDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { lock (log) { log.WriteLine(e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(_process.HasExited, $"the gateway exited with {(_process.HasExited ? _process.ExitCode : 0)}; see {DataDirectory}/gateway-{Starts}.log");
            try
            {
                // Both listeners: the iSCSI one is a hosted service that starts before Kestrel binds the API port.
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, IscsiPort);
                using var api = new TcpClient();
                await api.ConnectAsync(IPAddress.Loopback, HttpPort);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(200);
            }
        }

        throw new TimeoutException($"the gateway did not listen on {IscsiPort} and {HttpPort}; see {DataDirectory}/gateway-{Starts}.log");
    }

    /// <summary>SIGKILL: no shutdown code runs, nothing is flushed by the gateway.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process = null;
    }

    /// <summary>SIGTERM and wait: the host's orderly shutdown.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill!.WaitForExitAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(cts.Token);
        }

        _process = null;
    }

    public async Task<TestInitiator> ConnectAsync(string target)
    {
        var ini = await TestInitiator.ConnectAsync(Endpoint, target, new InitiatorOptions { Isid = TestIsids.Next() });
        await ini.ClearUnitAttentionsAsync();
        return ini;
    }

    public async ValueTask DisposeAsync() => await KillAsync();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

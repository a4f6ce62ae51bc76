using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TapeGateway.Iscsi.Hosting;
using TapeGateway.Server;

namespace TapeGateway.Integration.Tests.Infrastructure;

/// <summary>
/// The production host (<see cref="GatewayHost.Build"/>) running in-process: iSCSI on an ephemeral loopback port,
/// HTTP on an ephemeral port, data in a fresh temp directory that is deleted afterwards.
/// </summary>
public sealed class RunningGateway : IAsyncDisposable
{
    public const string DefaultTarget = "iqn.2026-11.org.tapegateway:volume0";

    private RunningGateway(WebApplication app, IPEndPoint endpoint, string dataDirectory)
    {
        App = app;
        Endpoint = endpoint;
        DataDirectory = dataDirectory;
    }

    public WebApplication App { get; }

    public IPEndPoint Endpoint { get; }

    public string DataDirectory { get; }

    public static async Task<RunningGateway> StartAsync(IReadOnlyDictionary<string, string?>? extra = null)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("tapegateway-it-").FullName;
        var overrides = new Dictionary<string, string?>
        {
            ["TapeGateway:DataDirectory"] = dataDirectory,
            ["TapeGateway:Iscsi:Port"] = "0",
            ["TapeGateway:Iscsi:ShutdownLogoutWaitSeconds"] = "0",
            ["TapeGateway:Targets:0:Luns:0:SizeMiB"] = "64",
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            overrides[key] = value;
        }

        var app = GatewayHost.Build([], overrides);
        try
        {
            await app.StartAsync();
            var endpoint = await app.Services.GetRequiredService<IscsiListener>().BoundEndpoint.WaitAsync(TimeSpan.FromSeconds(10));
            return new RunningGateway(app, endpoint, dataDirectory);
        }
        catch
        {
            await app.DisposeAsync();
            Directory.Delete(dataDirectory, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await App.StopAsync(cts.Token);
        }
        finally
        {
            await App.DisposeAsync();
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>xUnit class fixture: one gateway per test class with the default configuration.</summary>
public class GatewayFixture : IAsyncLifetime
{
    private RunningGateway? _gateway;

    public RunningGateway Gateway => _gateway ?? throw new InvalidOperationException("fixture not started");

    public IPEndPoint Endpoint => Gateway.Endpoint;

    protected virtual IReadOnlyDictionary<string, string?> Overrides => new Dictionary<string, string?>();

    public async Task InitializeAsync() => _gateway = await RunningGateway.StartAsync(Overrides);

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }
}

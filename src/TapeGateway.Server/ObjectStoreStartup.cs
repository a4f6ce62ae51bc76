using Microsoft.Extensions.Options;
using TapeGateway.Server.Configuration;
using TapeGateway.Storage;
using TapeGateway.Storage.S3;

namespace TapeGateway.Server;

/// <summary>
/// Opens the object store when the host starts (taking it as a dependency creates it: the FileSystem root is created,
/// the S3 client is built) and, for S3 with <c>CreateBucket</c>, creates the bucket. Failing here stops the host with
/// the reason, which beats discovering a bad bucket at the first tape upload.
/// </summary>
internal sealed partial class ObjectStoreStartup : IHostedService
{
    private readonly IObjectStore _store;
    private readonly ObjectStoreOptions _options;
    private readonly ILogger<ObjectStoreStartup> _logger;

    public ObjectStoreStartup(IObjectStore store, IOptions<ObjectStoreOptions> options, ILogger<ObjectStoreStartup> logger)
    {
        _store = store;
        _options = options.Value;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        switch (_store)
        {
            case S3ObjectStore s3:
                if (_options.CreateBucket)
                {
                    try
                    {
                        await s3.EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (ObjectStoreException ex)
                    {
                        throw new InvalidOperationException(
                            $"{ObjectStoreOptions.SectionName}:CreateBucket: could not create bucket '{s3.Bucket}' at {_options.ServiceUrl ?? "AWS"}: {ex.Message}", ex);
                    }
                }

                LogS3(_logger, s3.Bucket, _options.ServiceUrl ?? "AWS", _options.CreateBucket, _options.EmulateGlacier, _options.GlacierRestoreDelaySeconds);
                break;
            case FileSystemObjectStore fs:
                LogFileSystem(_logger, fs.RootDirectory);
                break;
            case InMemoryObjectStore:
                LogInMemory(_logger);
                break;
            default:
                LogOther(_logger, _store.GetType().FullName ?? _store.GetType().Name);
                break;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Object store: S3 bucket {Bucket} at {Endpoint} (create bucket: {CreateBucket}; Glacier emulation: {EmulateGlacier}, restore delay {DelaySeconds} s)")]
    private static partial void LogS3(ILogger logger, string bucket, string endpoint, bool createBucket, bool emulateGlacier, double delaySeconds);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Object store: files under {Root}")]
    private static partial void LogFileSystem(ILogger logger, string root);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Object store: in memory; everything stored is lost at exit (tests only)")]
    private static partial void LogInMemory(ILogger logger);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Object store: {Store} (registered by the host)")]
    private static partial void LogOther(ILogger logger, string store);
}

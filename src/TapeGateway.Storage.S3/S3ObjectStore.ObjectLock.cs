using Amazon.S3;
using Amazon.S3.Model;

namespace TapeGateway.Storage.S3;

/// <summary>S3 Object Lock: the bucket-enforced half of the archive pools' retention locks.</summary>
public sealed partial class S3ObjectStore
{
    private bool? _objectLock;

    /// <summary>
    /// Whether the bucket has Object Lock enabled (GetObjectLockConfiguration), asked once per store: it can only be
    /// switched on at bucket creation (or, on AWS, once, with versioning on), never off. A transient failure is
    /// thrown (and asked again next time), never taken for "no".
    /// </summary>
    public async Task<bool> IsObjectLockEnabledAsync(CancellationToken cancellationToken = default) =>
        _objectLock ??= await DetectObjectLockAsync(cancellationToken).ConfigureAwait(false);

    public async Task<bool> ApplyRetentionAsync(string key, ObjectRetention retention, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (!await IsObjectLockEnabledAsync(cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        await CallAsync(
            key,
            ct => _s3.PutObjectRetentionAsync(
                new PutObjectRetentionRequest
                {
                    BucketName = _bucket,
                    Key = key,
                    Retention = new ObjectLockRetention
                    {
                        Mode = retention.Mode == ObjectRetentionMode.Compliance ? ObjectLockRetentionMode.Compliance : ObjectLockRetentionMode.Governance,
                        RetainUntilDate = retention.RetainUntil.UtcDateTime,
                    },
                },
                ct),
            cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<bool> DetectObjectLockAsync(CancellationToken cancellationToken)
    {
        try
        {
            var response = await CallAsync(
                _bucket,
                ct => _s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = _bucket }, ct),
                cancellationToken).ConfigureAwait(false);
            return response.ObjectLockConfiguration?.ObjectLockEnabled == ObjectLockEnabled.Enabled;
        }
        catch (ObjectStoreException ex) when (ex is not TransientObjectStoreException)
        {
            // ObjectLockConfigurationNotFoundError (a bucket without it), NotImplemented (a store without it).
            return false;
        }
    }
}

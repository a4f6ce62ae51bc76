using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Options;
using TapeGateway.Storage.S3;
using TapeGateway.Storage.Tapes;

namespace TapeGateway.Server.Configuration;

/// <summary>Where tape objects are stored.</summary>
public enum ObjectStoreKind
{
    /// <summary>Files under <see cref="ObjectStoreOptions.Path"/>: the embedded default, no S3 needed.</summary>
    FileSystem,

    /// <summary>An S3 bucket on AWS or on an S3-compatible store (Ceph RGW...).</summary>
    S3,

    /// <summary>A dictionary in memory, lost at exit: tests only.</summary>
    InMemory,
}

/// <summary>
/// Bound from <c>TapeGateway:ObjectStore</c> by <see cref="ObjectStoreRegistration.AddObjectStore"/> and validated at
/// start (<see cref="ObjectStoreOptionsValidator"/>). The S3 settings are ignored by the other kinds.
/// </summary>
public sealed class ObjectStoreOptions
{
    public const string SectionName = "TapeGateway:ObjectStore";

    /// <summary>
    /// <see cref="ObjectStoreKind"/> by name, case-insensitive. Kept as text so a typo is reported at start with the
    /// accepted names, instead of as a configuration binder conversion error.
    /// </summary>
    public string Kind { get; set; } = nameof(ObjectStoreKind.FileSystem);

    /// <summary>FileSystem: the store's root directory, relative to <c>TapeGateway:DataDirectory</c> unless absolute.</summary>
    public string Path { get; set; } = "objects";

    /// <summary>
    /// This gateway's name in object keys (<c>gateways/{GatewayId}/tapes/...</c>). Default: derived from the library name
    /// (<c>TapeGateway:Library:Name</c>, "vtl"). Changing it later hides the tapes stored under the old one.
    /// </summary>
    public string? GatewayId { get; set; }

    /// <summary>A key prefix for everything the gateway writes, so several deployments can share a bucket.</summary>
    public string KeyPrefix { get; set; } = string.Empty;

    /// <summary>S3: an S3-compatible endpoint (http://127.0.0.1:7480 for the test RGW); empty means AWS.</summary>
    public string? ServiceUrl { get; set; }

    public string? Bucket { get; set; }

    /// <summary>S3: the AWS region; with <see cref="ServiceUrl"/> only the signing region (default us-east-1).</summary>
    public string? Region { get; set; }

    /// <summary>S3: path-style URLs (host/bucket/key), needed by most self-hosted stores.</summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>S3: static credentials. Leave both empty to use the standard AWS credential chain (environment, profile, instance role).</summary>
    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    /// <summary>S3: multipart part size in bytes (5 MiB to 5 GiB); objects up to one part are a single PutObject.</summary>
    public long PartSize { get; set; } = 8 * S3ObjectStoreOptions.MiB;

    /// <summary>S3: parts uploaded or copied in parallel per object; each in-flight upload part holds one buffer.</summary>
    public int MaxParallelParts { get; set; } = 4;

    /// <summary>S3: upload parts in flight at once over all objects being uploaded (the store's upload budget).</summary>
    public int MaxPartsInFlight { get; set; } = 8;

    /// <summary>
    /// S3: send Content-MD5 with every upload request as well. Off by default: each request's body is signed with its
    /// SHA-256, which S3 and RGW verify; turn it on for a store that ignores x-amz-content-sha256.
    /// </summary>
    public bool ContentMd5 { get; set; }

    /// <summary>S3: emulate AWS Glacier (refused reads, RestoreObject) for stores without it, such as Ceph RGW. Needs <see cref="ServiceUrl"/>.</summary>
    public bool EmulateGlacier { get; set; }

    /// <summary>S3 with <see cref="EmulateGlacier"/>: how long an emulated restore takes (0: immediate).</summary>
    public double GlacierRestoreDelaySeconds { get; set; }

    /// <summary>S3: create the bucket at host start if it does not exist (test and self-hosted setups).</summary>
    public bool CreateBucket { get; set; }

    /// <summary>
    /// S3 with <see cref="CreateBucket"/>: create it with S3 Object Lock (and so versioning) enabled, so archive objects
    /// of pools with a retention lock get a server-enforced retention. Whether an existing bucket has it is detected.
    /// </summary>
    public bool CreateBucketWithObjectLock { get; set; }

    /// <summary>Set by <see cref="ObjectStoreRegistration.AddObjectStore"/> from <c>TapeGateway:DataDirectory</c>; not bound.</summary>
    public string DataDirectory { get; internal set; } = "data";

    /// <summary>Set from <c>TapeGateway:Library:Name</c>; the source of the default <see cref="GatewayId"/>.</summary>
    public string LibraryName { get; internal set; } = "vtl";

    /// <summary>The <see cref="Kind"/> named (blank: FileSystem), or null when it names no kind (the validator reports that).</summary>
    public ObjectStoreKind? ParsedKind =>
        string.IsNullOrWhiteSpace(Kind) ? ObjectStoreKind.FileSystem
        : Enum.GetValues<ObjectStoreKind>().Cast<ObjectStoreKind?>().FirstOrDefault(k => string.Equals(k.ToString(), Kind.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The FileSystem root, absolute.</summary>
    public string ResolvedPath => new GatewayOptions { DataDirectory = DataDirectory }.ResolvePath(Path);

    public string ResolvedGatewayId => string.IsNullOrWhiteSpace(GatewayId) ? DeriveGatewayId(LibraryName) : GatewayId.Trim();

    public TapeObjectLayout CreateLayout() => new(ResolvedGatewayId, KeyPrefix);

    public S3ObjectStoreOptions ToS3Options() => new()
    {
        Bucket = Bucket?.Trim() ?? string.Empty,
        ServiceUrl = NullIfBlank(ServiceUrl),
        Region = NullIfBlank(Region),
        ForcePathStyle = ForcePathStyle,
        AccessKey = NullIfBlank(AccessKey),
        SecretKey = NullIfBlank(SecretKey),
        PartSize = PartSize,
        MaxParallelParts = MaxParallelParts,
        MaxPartsInFlight = MaxPartsInFlight,
        ContentMd5 = ContentMd5,
        EmulateGlacier = EmulateGlacier,
        GlacierRestoreDelay = TimeSpan.FromSeconds(GlacierRestoreDelaySeconds),
        CreateBucketWithObjectLock = CreateBucketWithObjectLock,
    };

    /// <summary>
    /// A key-friendly id from the library name: lower case, and every character other than a-z, 0-9, '.', '_' and '-'
    /// (a '/' above all, which would nest the key space) replaced by '-'. "vtl" stays "vtl".
    /// </summary>
    internal static string DeriveGatewayId(string? libraryName)
    {
        var id = new StringBuilder();
        foreach (var c in (libraryName ?? string.Empty).Trim().ToLowerInvariant())
        {
            id.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-' ? c : '-');
        }

        var result = id.ToString().Trim('-');
        return result.Length > 0 ? result : "vtl";
    }

    internal static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

/// <summary>Checks <see cref="ObjectStoreOptions"/> at start; every message names the configuration key at fault.</summary>
internal sealed class ObjectStoreOptionsValidator : IValidateOptions<ObjectStoreOptions>
{
    private const string Section = ObjectStoreOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, ObjectStoreOptions options)
    {
        var errors = new List<string>();
        var kind = options.ParsedKind;
        if (kind is null)
        {
            errors.Add($"{Section}:Kind '{options.Kind}' is not a store kind; use one of {string.Join(", ", Enum.GetNames<ObjectStoreKind>())}.");
        }

        try
        {
            _ = options.CreateLayout();
        }
        catch (ArgumentException ex)
        {
            errors.Add($"{Section}:GatewayId '{options.ResolvedGatewayId}' cannot be used in object keys: {ex.Message}");
        }

        switch (kind)
        {
            case ObjectStoreKind.FileSystem when string.IsNullOrWhiteSpace(options.Path):
                errors.Add($"{Section}:Path is empty; give the FileSystem store's directory (default 'objects' under TapeGateway:DataDirectory).");
                break;
            case ObjectStoreKind.S3:
                ValidateS3(options, errors);
                break;
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateS3(ObjectStoreOptions options, List<string> errors)
    {
        if (ObjectStoreOptions.NullIfBlank(options.Bucket) is not { } bucket)
        {
            errors.Add($"{Section}:Bucket is required when {Section}:Kind is S3.");
        }
        else if (BucketNameProblem(bucket) is { } problem)
        {
            errors.Add($"{Section}:Bucket '{bucket}' is not a valid S3 bucket name: {problem}.");
        }

        var url = ObjectStoreOptions.NullIfBlank(options.ServiceUrl);
        if (url is not null
            && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Query.Length > 0 || uri.Fragment.Length > 0))
        {
            errors.Add($"{Section}:ServiceUrl '{url}' is not an absolute http:// or https:// URL without query (e.g. http://127.0.0.1:7480).");
        }

        if ((ObjectStoreOptions.NullIfBlank(options.AccessKey) is null) != (ObjectStoreOptions.NullIfBlank(options.SecretKey) is null))
        {
            errors.Add($"{Section}:AccessKey and {Section}:SecretKey go together; set both, or neither to use the AWS credential chain (environment, profile, instance role).");
        }

        // S3 multipart limits (UploadPart): every part but the last at least 5 MiB, none above 5 GiB.
        if (options.PartSize is < 5 * S3ObjectStoreOptions.MiB or > 5 * S3ObjectStoreOptions.GiB)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:PartSize {options.PartSize} is outside S3's part size limits (5 MiB = 5242880 to 5 GiB = 5368709120 bytes)."));
        }

        if (options.MaxParallelParts < 1)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:MaxParallelParts must be at least 1 (got {options.MaxParallelParts})."));
        }

        if (options.MaxPartsInFlight < 1)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:MaxPartsInFlight must be at least 1 (got {options.MaxPartsInFlight})."));
        }

        if (options.EmulateGlacier && url is null)
        {
            errors.Add($"{Section}:EmulateGlacier needs {Section}:ServiceUrl: it is for S3-compatible stores without an archive tier; AWS S3 has the real one.");
        }

        if (!double.IsFinite(options.GlacierRestoreDelaySeconds) || options.GlacierRestoreDelaySeconds < 0 || options.GlacierRestoreDelaySeconds > TimeSpan.MaxValue.TotalSeconds / 2)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:GlacierRestoreDelaySeconds must be a number of seconds, 0 or more (got {options.GlacierRestoreDelaySeconds})."));
        }
    }

    /// <summary>
    /// The general purpose bucket naming rules of AWS S3: 3 to 63 characters; lower-case letters, digits, '.' and '-';
    /// starting and ending with a letter or digit; no two adjacent periods; not formatted as an IP address.
    /// </summary>
    internal static string? BucketNameProblem(string bucket)
    {
        if (bucket.Length is < 3 or > 63)
        {
            return "it must be 3 to 63 characters long";
        }

        if (!bucket.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-'))
        {
            return "only lower-case letters, digits, '.' and '-' are allowed";
        }

        if (!char.IsAsciiLetterOrDigit(bucket[0]) || !char.IsAsciiLetterOrDigit(bucket[^1]))
        {
            return "it must start and end with a letter or digit";
        }

        if (bucket.Contains("..", StringComparison.Ordinal))
        {
            return "it must not contain two adjacent periods";
        }

        return IPAddress.TryParse(bucket, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && bucket.Count(c => c == '.') == 3
            ? "it must not be formatted as an IP address"
            : null;
    }
}

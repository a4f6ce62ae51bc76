using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Configuration;

namespace TapeGateway.Iscsi.Login;

/// <summary>
/// <see cref="ILoginTargetResolver"/> over the SCSI target registry and the "TapeGateway:Iscsi" configuration
/// (per-target CHAP and allow-lists, discovery CHAP, portal group tag). CHAP secrets are validated here, once, so a
/// bad configuration fails at startup rather than at the first login. <see cref="LoginTargetInfo.Tag"/> carries the
/// <see cref="IScsiTarget"/>.
/// </summary>
public sealed class RegistryLoginTargetResolver : ILoginTargetResolver
{
    private readonly IScsiTargetRegistry _registry;
    private readonly Dictionary<string, (ChapCredentials? Chap, string[] Allowed)> _securityByTarget = new(StringComparer.OrdinalIgnoreCase);

    /// <exception cref="ArgumentException">A configured CHAP secret violates <see cref="ChapCredentials"/> rules.</exception>
    public RegistryLoginTargetResolver(IScsiTargetRegistry registry, IscsiOptions options)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        _registry = registry;
        PortalGroupTag = (ushort)options.PortalGroupTag;
        DiscoveryChap = ChapCredentials.FromOptions(options.DiscoveryChap);
        foreach (var security in options.TargetSecurity)
        {
            if (!_securityByTarget.TryAdd(security.TargetName, (ChapCredentials.FromOptions(security.Chap), [.. security.AllowedInitiators])))
            {
                throw new ArgumentException("target security configured twice for one target", nameof(options));
            }
        }
    }

    public ChapCredentials? DiscoveryChap { get; }

    public ushort PortalGroupTag { get; }

    public LoginTargetInfo? Resolve(string targetName)
    {
        var target = _registry.Find(targetName);
        if (target is null)
        {
            return null;
        }

        _securityByTarget.TryGetValue(target.Name, out var security);
        return new LoginTargetInfo(target.Name, PortalGroupTag)
        {
            Alias = target.Alias,
            Chap = security.Chap,
            AllowedInitiators = security.Allowed ?? [],
            Tag = target,
        };
    }
}

using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Configuration;
using TapeGateway.Iscsi.Login;

namespace TapeGateway.Iscsi.Tests.Login;

public class RegistryLoginTargetResolverTests
{
    private sealed class Target(string name) : IScsiTarget
    {
        public string Name => name;

        public string? Alias => "alias";

        public ValueTask ExecuteAsync(ScsiTask task) => ValueTask.CompletedTask;

        public bool HasLun(Lun lun) => false;

        public void NexusCreated(ItNexus nexus)
        {
        }

        public void NexusLost(ItNexus nexus)
        {
        }

        public event Action<Lun, IReadOnlyList<ItNexus>>? AbortRequested
        {
            add { }
            remove { }
        }

        public void TaskManagement(TaskManagementEvent what, Lun lun, ItNexus requester)
        {
        }
    }

    private sealed class Registry(params IScsiTarget[] targets) : IScsiTargetRegistry
    {
        public IReadOnlyList<IScsiTarget> Targets => targets;

        public IScsiTarget? Find(string name) =>
            targets.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Resolve_MapsConfiguration()
    {
        var target = new Target(L.TargetIqn);
        var options = new IscsiOptions { PortalGroupTag = 3 };
        options.TargetSecurity.Add(new TargetSecurityOptions
        {
            TargetName = L.TargetIqn.ToUpperInvariant(),
            Chap = new ChapOptions { UserName = "alice", Secret = "secret-123456" },
            AllowedInitiators = [L.Initiator],
        });
        var resolver = new RegistryLoginTargetResolver(new Registry(target), options);

        var info = resolver.Resolve(L.TargetIqn)!;

        Assert.Same(target, info.Tag);
        Assert.Equal((ushort)3, info.PortalGroupTag);
        Assert.Equal("alias", info.Alias);
        Assert.Equal("alice", info.Chap!.UserName);
        Assert.True(info.IsInitiatorAllowed(L.Initiator));
        Assert.False(info.IsInitiatorAllowed("iqn.2000-01.com.example:other"));
        Assert.Null(resolver.Resolve("iqn.2000-01.com.example:missing"));
        Assert.Null(resolver.DiscoveryChap);
    }

    [Fact]
    public void BadSecretInConfiguration_FailsAtConstruction()
    {
        var options = new IscsiOptions { DiscoveryChap = new ChapOptions { UserName = "d", Secret = "short" } };
        Assert.Throws<ArgumentException>(() => new RegistryLoginTargetResolver(new Registry(), options));
    }
}

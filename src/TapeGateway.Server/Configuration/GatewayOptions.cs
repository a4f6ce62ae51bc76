using System.ComponentModel.DataAnnotations;

namespace TapeGateway.Server.Configuration;

/// <summary>Bound from "TapeGateway". Paths are relative to <see cref="DataDirectory"/> unless absolute.</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "TapeGateway";

    /// <summary>Where volumes, reservations and (later) the catalog and tape cache live.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    /// <summary>The SCSI targets this gateway presents, each with its LUNs.</summary>
    public List<TargetOptions> Targets { get; set; } = [];

    public string ResolvePath(string path) =>
        Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(DataDirectory, path));
}

public sealed class TargetOptions
{
    /// <summary>iSCSI qualified name (RFC 7143 §4.2.7.2), e.g. iqn.2026-11.org.tapegateway:volume0.</summary>
    [Required]
    public string Name { get; set; } = "";

    public string? Alias { get; set; }

    public List<LunOptions> Luns { get; set; } = [];
}

public enum LunType
{
    Disk,
}

public sealed class LunOptions
{
    [Range(0, 16383)]
    public int Lun { get; set; }

    public LunType Type { get; set; } = LunType.Disk;

    /// <summary>Backing file for a stored-mode disk; created sparse at <see cref="SizeMiB"/> if missing.</summary>
    public string File { get; set; } = "";

    [Range(1, 64 * 1024 * 1024)]
    public long SizeMiB { get; set; } = 1024;

    /// <summary>Logical block length: 512 or 4096 (SBC-3 §4.4).</summary>
    public int BlockSize { get; set; } = 512;

    public bool ReadOnly { get; set; }

    /// <summary>Thin provisioning: UNMAP / WRITE SAME(UNMAP) punch holes in the file.</summary>
    public bool ThinProvisioning { get; set; } = true;

    /// <summary>Serial number reported in VPD 0x80; derived from the target name and LUN when empty.</summary>
    public string? SerialNumber { get; set; }
}

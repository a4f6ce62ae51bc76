using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TapeGateway.Scsi.Spc;

/// <summary>SPC-4 §6.16.3.4 persistent reservation TYPE codes.</summary>
public enum PersistentReservationType : byte
{
    None = 0x0,
    WriteExclusive = 0x1,
    ExclusiveAccess = 0x3,
    WriteExclusiveRegistrantsOnly = 0x5,
    ExclusiveAccessRegistrantsOnly = 0x6,
    WriteExclusiveAllRegistrants = 0x7,
    ExclusiveAccessAllRegistrants = 0x8,
}

/// <summary>One registered I_T nexus as persisted (SPC-4 §5.12.6): initiator port + target port (or all ports) + key.</summary>
public sealed record PersistentRegistration(
    string InitiatorPortName,
    string TargetPortName,
    ushort RelativeTargetPortId,
    bool AllTargetPorts,
    ulong Key);

/// <summary>
/// What survives a power loss when APTPL was set (SPC-4 §5.12.5): registrations, the generation and the reservation.
/// <see cref="HolderIndex"/> is the index of the holding registration in <see cref="Registrations"/> (-1 for the
/// all-registrants types, whose holder is every registrant).
/// </summary>
public sealed record PersistentReservationSnapshot(
    uint Generation,
    IReadOnlyList<PersistentRegistration> Registrations,
    PersistentReservationType Type,
    int HolderIndex);

/// <summary>
/// Storage for APTPL persistent reservation state, keyed by the logical unit (its serial number). Implementations
/// must make <see cref="Save"/> durable before returning: the PERSISTENT RESERVE OUT command completes after it.
/// </summary>
public interface IPersistentReservationStore
{
    PersistentReservationSnapshot? Load(string unitKey);

    /// <summary>Stores the state, or removes it when <paramref name="snapshot"/> is null (APTPL cleared).</summary>
    void Save(string unitKey, PersistentReservationSnapshot? snapshot);
}

/// <summary>
/// One JSON file per logical unit under a directory chosen by the composition root. Writes go to a temporary file
/// that is fsynced and then renamed over the old one, so a crash leaves either the old or the new state, never a torn
/// file. (The directory entry itself is not fsynced: .NET has no portable way to open a directory for fsync.)
/// </summary>
public sealed class JsonFilePersistentReservationStore : IPersistentReservationStore
{
    private readonly string _directory;

    public JsonFilePersistentReservationStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = directory;
        Directory.CreateDirectory(directory);
    }

    public PersistentReservationSnapshot? Load(string unitKey)
    {
        var path = PathFor(unitKey);
        if (!File.Exists(path))
        {
            return null;
        }

        var bytes = File.ReadAllBytes(path);
        return JsonSerializer.Deserialize(bytes, PersistentReservationJsonContext.Default.PersistentReservationSnapshot);
    }

    public void Save(string unitKey, PersistentReservationSnapshot? snapshot)
    {
        var path = PathFor(unitKey);
        if (snapshot is null)
        {
            File.Delete(path);
            return;
        }

        var bytes = JsonSerializer.SerializeToUtf8Bytes(snapshot, PersistentReservationJsonContext.Default.PersistentReservationSnapshot);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Serial numbers are ASCII but may contain characters a file system dislikes; hex-escape those.</summary>
    private string PathFor(string unitKey)
    {
        var name = new StringBuilder(unitKey.Length + 8);
        foreach (var c in unitKey)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            {
                name.Append(c);
            }
            else
            {
                name.Append('%').Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return Path.Combine(_directory, name.Append(".pr.json").ToString());
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(PersistentReservationSnapshot))]
internal sealed partial class PersistentReservationJsonContext : JsonSerializerContext;

using System.Runtime.InteropServices;

namespace TapeGateway.Storage;

/// <summary>
/// Hard links on Linux (.NET has symbolic links but no hard links): link(2), and the link count of a file from
/// statx(2), whose buffer layout — unlike struct stat's — is the same on every architecture.
/// </summary>
internal static partial class HardLinks
{
    private const int AtFdCwd = -100;
    private const uint StatxNlink = 0x4;

    private static bool s_statxMissing;

    /// <summary>Hard links are tried at all (elsewhere every caller takes its copying path).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// Creates <paramref name="newPath"/> as a second name of <paramref name="existingPath"/>'s inode. False, with the
    /// errno, when it cannot: another filesystem (EXDEV), a filesystem without hard links (EPERM, ENOTSUP), too many
    /// links (EMLINK), a missing source, or not Linux (errno 0).
    /// </summary>
    public static bool TryCreate(string existingPath, string newPath, out int errno)
    {
        errno = 0;
        if (!IsSupported)
        {
            return false;
        }

        try
        {
            if (NativeMethods.link(existingPath, newPath) == 0)
            {
                return true;
            }

            errno = Marshal.GetLastPInvokeError();
            return false;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Names the file's inode has (st_nlink), or null when unknown (not Linux, no statx, an error).</summary>
    public static long? LinkCount(string path)
    {
        if (!IsSupported || Volatile.Read(ref s_statxMissing))
        {
            return null;
        }

        try
        {
            return NativeMethods.statx(AtFdCwd, path, 0, StatxNlink, out var buffer) == 0 && (buffer.Mask & StatxNlink) != 0
                ? buffer.Nlink
                : null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            Volatile.Write(ref s_statxMissing, true); // glibc before 2.28
            return null;
        }
    }

    /// <summary>The inode number, for tests that check two names are one file.</summary>
    internal static ulong? InodeForTesting(string path) =>
        IsSupported && NativeMethods.statx(AtFdCwd, path, 0, 0x100 /* STATX_INO */, out var buffer) == 0 ? buffer.Ino : null;

    /// <summary>struct statx: 256 bytes, fixed layout (include/uapi/linux/stat.h).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatxBuffer
    {
        [FieldOffset(0)]
        public uint Mask;

        [FieldOffset(16)]
        public uint Nlink;

        [FieldOffset(32)]
        public ulong Ino;

        [FieldOffset(40)]
        public ulong Size;
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int link(string oldpath, string newpath);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int statx(int dirfd, string pathname, int flags, uint mask, out StatxBuffer buffer);
    }
}

using System.Diagnostics;
using System.Globalization;

namespace Reconciler.Drivers.Local;

/// <summary>
/// Temporary names of the local driver and their clean-up, the same rule as the SSH driver's
/// (<c>RemoteScripts.CleanLeftovers</c>): a temporary name ends in ".PID" of the process that made it; at the start of
/// every stage, leftovers of processes that are gone (a kill -9 mid-stage) are removed, those of a living process (a
/// concurrent stage) stay, and names without a PID (an older version's) go once untouched for 10 minutes.
/// </summary>
internal static class LocalLeftovers
{
    private static readonly TimeSpan Abandoned = TimeSpan.FromMinutes(10);

    public static string TempName(string prefix) => $"{prefix}{Guid.NewGuid():N}.{Environment.ProcessId}";

    public static void Clean(string root, string releases)
    {
        var candidates = Directory.EnumerateFileSystemEntries(releases, ".tmp-*")
            .Concat(Directory.EnumerateFileSystemEntries(root, ".current.tmp.*"));
        foreach (var path in candidates.ToList())
        {
            var info = new FileInfo(path);
            var suffix = path[(path.LastIndexOf('.') + 1)..];
            var inUse = int.TryParse(suffix, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                ? IsRunning(pid)
                : DateTime.UtcNow - info.LastWriteTimeUtc < Abandoned;
            if (inUse) continue;
            try
            {
                if (info.LinkTarget is not null || (info.Attributes & FileAttributes.Directory) == 0) File.Delete(path);
                else Directory.Delete(path, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Space, not correctness: the next stage tries again.
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}

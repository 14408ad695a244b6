using Reconciler.Drivers;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>Every kind of drift made by hand on the hosts of a <see cref="FleetWorld"/> with api and jobs deployed on four
/// hosts, each kind on its own host and service, as an operator or a machine failure would leave it.</summary>
internal static class EveryDrift
{
    public static void Make(FleetWorld w, string api, string jobs)
    {
        string OnHost(int host, string path) => w.Fleet.OnHost(host, $"{w.Root}/{path}");
        // api on web-1: `current` switched by hand to a copy of the release under another id (the service still works).
        CopyDirectory(OnHost(0, $"api/releases/{api}"), OnHost(0, "api/releases/1.0.0-handmade00"));
        SwitchCurrent(OnHost(0, "api"), "releases/1.0.0-handmade00");
        // api on web-2: the `current` link deleted.
        File.Delete(OnHost(1, "api/current"));
        // api on web-3: the release damaged (its marker gone).
        File.Delete(OnHost(2, $"api/releases/{api}/{ReleaseLayout.MarkerFile}"));
        // jobs on web-1: the release deleted (current dangles).
        Directory.Delete(OnHost(0, $"jobs/releases/{jobs}"), recursive: true);
        // jobs on web-2: the host re-imaged (nothing of ours left).
        Directory.Delete(OnHost(1, "jobs"), recursive: true);
        // jobs on web-3: the service stopped answering its health check.
        File.WriteAllText(OnHost(2, $"jobs/releases/{jobs}/health"), "bad\n");
    }

    private static void SwitchCurrent(string deployPath, string target)
    {
        var current = Path.Combine(deployPath, "current");
        File.Delete(current);
        File.CreateSymbolicLink(current, target);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to, StringComparison.Ordinal));
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
    }
}

using System.Globalization;
using System.Text;
using Reconciler.Diff.Live;

namespace Reconciler.Views;

/// <summary>What the hosts reported (issue 13): the live table of `status` and the `drift` command's output.</summary>
public static class LiveView
{
    /// <summary>Per service and host: desired, recorded and actual release, health, drift; the detail on its own line.</summary>
    public static string RenderHosts(ObservedState observed)
    {
        var sb = new StringBuilder();
        sb.Append("live (").Append(Hosts(observed.Hosts.Select(h => h.Host).Distinct().Count())).Append(" asked in ").Append(Seconds(observed.Took)).Append("):\n");
        if (observed.Hosts.IsEmpty) return sb.Append("  no hosts\n").ToString();
        var rows = observed.Hosts.Select(h => new[]
        {
            h.Service, h.Host, h.DesiredRelease ?? "-", h.RecordedRelease ?? "-", h.ActualRelease ?? "-", DriftWords.Of(h.Health),
            h.Drift.IsDefaultOrEmpty ? "-" : string.Join(",", h.Drift.Select(DriftWords.Of)),
        }).Prepend(["SERVICE", "HOST", "DESIRED", "RECORDED", "ACTUAL", "HEALTH", "DRIFT"]).ToList();
        var widths = Enumerable.Range(0, 7).Select(i => rows.Max(r => r[i].Length)).ToArray();
        for (var i = 0; i < rows.Count; i++)
        {
            sb.Append("  ").Append(string.Join("  ", rows[i].Select((c, k) => k == 6 ? c : c.PadRight(widths[k])))).Append('\n');
            if (i > 0 && observed.Hosts[i - 1].Detail is { Length: > 0 } detail && observed.Hosts[i - 1].Health != HostHealth.Healthy)
                sb.Append("    ").Append(detail).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>`drift`: the drifted hosts only, each with its kinds and why.</summary>
    public static string RenderDrift(ObservedState observed)
    {
        var sb = new StringBuilder();
        var drifted = observed.Drifted.ToList();
        var asked = observed.Hosts.Select(h => h.Host).Distinct().Count();
        sb.Append(observed.Environment).Append(": ");
        if (drifted.Count == 0)
            return sb.Append("no drift (").Append(Hosts(asked)).Append(" asked in ").Append(Seconds(observed.Took)).Append(")\n").ToString();
        sb.Append(drifted.Count == 1 ? "1 host differs" : $"{drifted.Count} hosts differ").Append(" from the store (")
          .Append(Hosts(asked)).Append(" asked in ").Append(Seconds(observed.Took)).Append("):\n");
        foreach (var h in drifted)
        {
            sb.Append("  ").Append(h.Service).Append(" on ").Append(h.Host).Append(": ").Append(string.Join(", ", h.Drift.Select(DriftWords.Of)));
            if (h.Detail is { Length: > 0 } detail) sb.Append(" (").Append(detail).Append(')');
            sb.Append('\n');
        }
        if (drifted.Any(h => h.Drift.Any(k => k != DriftKind.Unreachable)))
            sb.Append("Repair: reconciler apply --env ").Append(observed.Environment).Append(" --repair-drift\n");
        return sb.ToString();
    }

    /// <summary>`drift --format json`: the environment, when and how long, and the drifted hosts.</summary>
    public static DriftJson DriftDocument(ObservedState observed) => new(
        observed.Environment,
        observed.ObservedAt,
        TookSeconds: Math.Round(observed.Took.TotalSeconds, 3),
        HostsAsked: observed.Hosts.Select(h => h.Host).Distinct().Count(),
        Drifted: [.. observed.Drifted.Select(h => new DriftedHostJson(
            h.Service, h.Host, h.DesiredRelease, h.RecordedRelease, h.ActualRelease, Health: DriftWords.Of(h.Health),
            Drift: [.. h.Drift.Select(DriftWords.Of)], h.Detail))]);

    /// <summary>`drift --format json` (a named type, not an anonymous one: its JSON metadata is compile-time).</summary>
    public sealed record DriftJson(string Environment, DateTimeOffset ObservedAt, double TookSeconds, int HostsAsked, DriftedHostJson[] Drifted);

    public sealed record DriftedHostJson(string Service, string Host, string? DesiredRelease, string? RecordedRelease, string? ActualRelease,
        string Health, string[] Drift, string? Detail);

    private static string Hosts(int n) => n == 1 ? "1 host" : $"{n} hosts";

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0#", CultureInfo.InvariantCulture) + "s";
}

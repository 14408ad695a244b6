using System.Diagnostics.Metrics;
using Reconciler.Diff.Live;
using Reconciler.Telemetry;

namespace Reconciler.Live;

/// <summary>Health and drift as metrics (issue 13): the hosts found healthy and drifted by the latest live look at each
/// environment (gauges), and the repairs made (a counter, <see cref="ReconcilerTelemetry.Repairs"/>).</summary>
internal static class LiveMetrics
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, (int Healthy, int Drifted)> Latest = new(StringComparer.Ordinal);

    static LiveMetrics()
    {
        ReconcilerTelemetry.Meter.CreateObservableGauge("reconciler.hosts.healthy", () => Read(l => l.Healthy), unit: "{host}",
            description: "Hosts whose service health checks all passed at the latest live look, per environment.");
        ReconcilerTelemetry.Meter.CreateObservableGauge("reconciler.hosts.drifted", () => Read(l => l.Drifted), unit: "{host}",
            description: "Hosts that differ from the store at the latest live look (any drift kind), per environment.");
    }

    /// <summary>Distinct host names: a host with two services counts once, healthy only when every service on it is.</summary>
    public static void Record(ObservedState observed)
    {
        var byHost = observed.Hosts.GroupBy(h => h.Host, StringComparer.Ordinal).ToList();
        var healthy = byHost.Count(g => g.All(h => h.Health is HostHealth.Healthy or HostHealth.NotChecked) && g.Any(h => h.Health == HostHealth.Healthy));
        var drifted = byHost.Count(g => g.Any(h => !h.Drift.IsDefaultOrEmpty));
        lock (Gate) Latest[observed.Environment] = (healthy, drifted);
    }

    private static IEnumerable<Measurement<int>> Read(Func<(int Healthy, int Drifted), int> pick)
    {
        lock (Gate)
            return [.. Latest.Select(e => new Measurement<int>(pick(e.Value), ReconcilerTelemetry.MetricTags(e.Key)))];
    }
}

using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Planning;

/// <summary>
/// The repair pass (issue 13): a service the store shows converged (a no-op) whose hosts drifted from the store becomes a
/// <see cref="ServiceAction.Repair"/> of exactly those hosts, each with its <see cref="HostRepair"/>. A service with a
/// change of its own is left to that change (an upgrade lays down and switches every host anyway). A host that could not
/// be asked cannot be repaired: it is not planned. Pure, like the rest of the planner.
/// </summary>
internal static class DriftRepairs
{
    public static void Apply(ServiceChange[] changes, DesiredState desired, ObservedState observed, HostOrder hostOrder)
    {
        var drifted = observed.Hosts.Where(h => h.RecordedRelease is not null && Kind(h.Drift) is not null)
            .GroupBy(h => h.Service, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        if (drifted.Count == 0) return;
        for (var i = 0; i < changes.Length; i++)
        {
            var change = changes[i];
            if (change.Action != ServiceAction.NoOp || !drifted.TryGetValue(change.Service, out var hosts)
                || !desired.Services.TryGetValue(change.Service, out var spec) || hostOrder.Group(spec.HostGroup) is not { } group) continue;
            var release = change.ToRelease!;
            var repairs = hosts.Where(h => h.RecordedRelease == release && group.ListedAt.ContainsKey(h.Host))
                .Select(h => new HostChange(h.Host, hostOrder.RegionOf(h.Host), release, release) { Repair = new HostRepair(Kind(h.Drift)!.Value, Reason(h)) })
                .ToList();
            if (repairs.Count == 0) continue;
            var sorted = hostOrder.Sort(repairs, spec.HostGroup);
            changes[i] = change with
            {
                Action = ServiceAction.Repair,
                Reason = $"repair drift on {(sorted.Length == 1 ? "1 host" : $"{sorted.Length} hosts")}: " +
                         string.Join(", ", sorted.Select(h => $"{h.Host} {DriftWords.Of(h.Repair!.Kind)}")),
                FromVersion = spec.Version,
                Hosts = sorted,
                Rollout = ServiceClassifier.RolloutOf(spec),
            };
        }
    }

    /// <summary>The strongest repair the drift needs: a release that is gone or damaged must be laid down again, a
    /// `current` that points elsewhere switched back, an unhealthy host restarted. Null: nothing this pass can do.</summary>
    public static RepairKind? Kind(ImmutableArray<DriftKind> drift)
    {
        if (drift.IsDefaultOrEmpty) return null;
        if (drift.Any(k => k is DriftKind.MissingRelease or DriftKind.DamagedRelease or DriftKind.UnknownHost)) return RepairKind.ReStage;
        if (drift.Any(k => k is DriftKind.WrongCurrent or DriftKind.MissingCurrent)) return RepairKind.ReSwitch;
        if (drift.Contains(DriftKind.Unhealthy)) return RepairKind.Restart;
        return null;   // unreachable only
    }

    /// <summary>What was found, in the drift kinds' words, then the probe's detail.</summary>
    private static string Reason(ObservedHost h)
    {
        var kinds = string.Join(", ", h.Drift.Select(DriftWords.Of));
        return h.Detail is { Length: > 0 } detail ? $"{kinds}: {detail}" : kinds;
    }
}

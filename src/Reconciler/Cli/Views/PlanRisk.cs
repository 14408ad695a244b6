using System.Collections.Immutable;
using Reconciler.Diff.Planning;

namespace Reconciler.Views;

/// <summary>
/// What a reviewer weighs before approving a plan, read off the plan: what stops, what goes back a version, how many
/// hosts each region loses or changes, how each changed service rolls out and what a failed gate does, and when each
/// toggle flips. The plan views put it first (docs/cli/plan.md, "Risk summary").
/// </summary>
internal sealed record PlanRisk(
    ImmutableArray<ServiceChange> Removals,
    ImmutableArray<ServiceChange> Downgrades,
    int HostsAffected,
    ImmutableArray<(string Region, int Hosts)> HostsPerRegion,
    ImmutableArray<RolloutGroup> Rollouts,
    ImmutableArray<(ToggleChange Toggle, string When)> ToggleTimings)
{
    public const string NoRegion = "no region";

    public static PlanRisk Of(Plan plan)
    {
        var changed = plan.ServicesWithWork().ToList();
        // Distinct hosts, counted per region.
        var regionOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var regions = new List<string>();
        foreach (var h in changed.SelectMany(s => s.Hosts))
        {
            var region = h.Region ?? NoRegion;
            if (regionOf.TryAdd(h.Host, region) && !regions.Contains(region)) regions.Add(region);
        }
        // Hosts without a region roll out first (docs/apply.md); regions in the order the plan first reaches them.
        if (regions.Remove(NoRegion)) regions.Insert(0, NoRegion);
        var perRegion = regions.Select(r => (r, regionOf.Values.Count(v => v == r))).ToImmutableArray();

        var rollouts = changed.Where(s => s.Rollout is not null)
            .GroupBy(s => s.Rollout!)
            .Select(g => new RolloutGroup(g.Key, [.. g.Select(s => s.Service)]))
            .OrderByDescending(g => g.Services.Length).ThenBy(g => g.Services[0], StringComparer.Ordinal)
            .ToImmutableArray();

        var timings = plan.Toggles.Where(t => t.Action != ToggleAction.NoOp).Select(t => (t, When(plan, t))).ToImmutableArray();
        return new PlanRisk(
            [.. changed.Where(s => s.Action == ServiceAction.Remove)],
            [.. changed.Where(s => s.Action == ServiceAction.Downgrade)],
            regionOf.Count, perRegion, rollouts, timings);
    }

    /// <summary>"before wave 1", "after wave 3 (all its services healthy)", from where the toggle sits in the waves.</summary>
    private static string When(Plan plan, ToggleChange t)
    {
        foreach (var w in plan.Waves)
        {
            if (w.TogglesBefore.Contains(t.Toggle)) return $"before wave {w.Index} starts";
            if (w.TogglesAfter.Contains(t.Toggle)) return $"after wave {w.Index} passes its health gates";
        }
        return plan.Waves.IsEmpty ? "at once (no service changes)" : $"in wave {t.Wave}";
    }

    /// <summary>Hosts of one change per region, in rollout order: "eu-west 2, us-east 1".</summary>
    public static string RegionCounts(ServiceChange s) => string.Join(", ",
        s.Hosts.GroupBy(h => h.Region ?? NoRegion).Select(g => $"{g.Key} {g.Count()}"));

    /// <summary>"canary: 1 host first, then 50% of the group per batch".</summary>
    public static string Strategy(Rollout r) => r.Strategy switch
    {
        "canary" => $"canary: {PlanWords.Plural(r.CanaryHosts ?? 1, "host", "hosts")} first, then {Batch(r)} per batch",
        "blue-green" => $"blue-green, {Batch(r)} per batch",
        _ => $"rolling, {Batch(r)} per batch",
    };

    private static string Batch(Rollout r) => r.MaxParallel.EndsWith('%') ? $"{r.MaxParallel} of the group" : PlanWords.Plural(int.Parse(r.MaxParallel, System.Globalization.CultureInfo.InvariantCulture), "host", "hosts");

    /// <summary>"1 check, 2 passes in a row within 1m".</summary>
    public static string Gate(Rollout r) => r.HealthChecks == 0
        ? $"no checks (waits minHealthy), within {r.Deadline}"
        : $"{PlanWords.Plural(r.HealthChecks, "check", "checks")}, {PlanWords.Plural(r.ConsecutivePasses, "pass", "passes")} in a row within {r.Deadline}";

    public static string OnFailure(Rollout r) => r.OnFailure == "halt" ? "halts, hosts left as they are" : "rolls back";
}

/// <summary>Changed services that roll out with the same settings.</summary>
internal sealed record RolloutGroup(Rollout Rollout, ImmutableArray<string> Services);

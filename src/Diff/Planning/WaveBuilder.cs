using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Reconciler.Diff.Live;
using Reconciler.Schema.Model;
using Semver;

namespace Reconciler.Diff.Planning;

/// <summary>
/// Pass 3: order the changed services and toggles into waves.
/// Deploy waves are the dependency levels of the changed services (a dependency through an unchanged service
/// still orders them); toggles switch on only after the wave in which every required service reaches a
/// satisfying version, and off before the wave of a change that would break their requirement; removals come
/// last, dependents before what they depend on.
/// </summary>
internal static class WaveBuilder
{
    public static Plan Build(DesiredState desired, LiveState live, PlanOptions options, ServiceChange[] changes, List<ToggleChange> toggles)
    {
        // Only services with work: every lookup below treats a missing name as a no-op, and a converged plan of
        // 15,000 services then builds an empty map.
        var byName = new Dictionary<string, ServiceChange>(StringComparer.Ordinal);
        foreach (var c in changes)
            if (c.Action != ServiceAction.NoOp) byName.Add(c.Service, c);
        var deployWave = DeployLevels(desired, byName);
        var deployCount = deployWave.Count == 0 ? 0 : deployWave.Values.Max();
        var removeWave = RemoveLevels(live, byName, deployCount);
        var waveCount = removeWave.Count == 0 ? deployCount : removeWave.Values.Max();

        var before = new Dictionary<int, List<string>>();
        var after = new Dictionary<int, List<string>>();
        var placedToggles = new List<ToggleChange>();
        foreach (var t in toggles)
        {
            if (desired.Toggles.TryGetValue(t.Toggle, out var want) && want.Enabled)
                CheckRequirementsReachable(desired, want);
            if (t.Action == ToggleAction.NoOp) { placedToggles.Add(t); continue; }

            int wave;
            string reason = t.Reason;
            var afterWave = false;
            if (t.Action == ToggleAction.On)
            {
                var (gate, gatingService) = OnGate(live, byName, deployWave, t);
                if (gate > 0)
                {
                    wave = gate;
                    afterWave = true;
                    reason += $", after wave {gate} ({gatingService} reaches {t.Requires[gatingService!]})";
                }
                else wave = 1;
            }
            else if (t.Action == ToggleAction.Off)
            {
                var (gate, breaking) = OffGate(byName, deployWave, t);
                wave = gate > 0 ? gate : 1;
                if (gate > 0) reason += $", before {breaking} {byName[breaking!].Action.ToString().ToLowerInvariant()} to {byName[breaking!].ToVersion} breaks {t.Requires[breaking!]}";
            }
            else wave = 1;

            if (waveCount == 0) waveCount = 1; // toggle-only plan: one wave with no services carries the switches
            (afterWave ? after : before).GetOrAdd(wave).Add(t.Toggle);
            placedToggles.Add(t with { Wave = wave, Reason = reason });
        }

        // A no-op keeps wave 0 and its instance (no copy); service names are unique, so an unstable sort by
        // (wave, name) is exact.
        var placed = new ServiceChange[changes.Length];
        for (var i = 0; i < changes.Length; i++)
        {
            var c = changes[i];
            var wave = deployWave.TryGetValue(c.Service, out var w) ? w : removeWave.GetValueOrDefault(c.Service);
            placed[i] = c.Wave == wave ? c : c with { Wave = wave };
        }
        Array.Sort(placed, static (x, y) => x.Wave != y.Wave ? x.Wave.CompareTo(y.Wave) : string.CompareOrdinal(x.Service, y.Service));
        var services = ImmutableCollectionsMarshal.AsImmutableArray(placed); // placed is not touched after this

        var byWave = services.Where(s => s.Wave > 0).ToLookup(s => s.Wave, s => s.Service);
        var waves = ImmutableArray.CreateBuilder<PlanWave>();
        for (var i = 1; i <= waveCount; i++)
        {
            var index = i;
            // Waves after the deploy waves are removal waves; a toggle-only plan's single wave is a deploy wave.
            var kind = index <= deployCount || removeWave.Count == 0 ? WaveKind.Deploy : WaveKind.Remove;
            waves.Add(new PlanWave(index, kind,
                [.. byWave[index]],
                Sorted(before.GetValueOrDefault(index)), Sorted(after.GetValueOrDefault(index))));
        }

        return new Plan(Plan.CurrentFormatVersion, desired.Environment, desired.Revision, options.BaseCommit, live.Version,
            services,
            [.. placedToggles.OrderBy(t => t.Wave).ThenBy(t => t.Toggle, StringComparer.Ordinal)],
            waves.ToImmutable());
    }

    private static bool IsDeploy(ServiceAction a) => a is not (ServiceAction.NoOp or ServiceAction.Remove);

    /// <summary>Wave of each changed desired service: 1 + the highest wave among everything it depends on,
    /// where an unchanged service passes through the wave of its own dependencies.</summary>
    private static Dictionary<string, int> DeployLevels(DesiredState desired, Dictionary<string, ServiceChange> changes)
    {
        var effective = new Dictionary<string, int>(desired.Services.Count, StringComparer.Ordinal);
        var waves = new Dictionary<string, int>(StringComparer.Ordinal);
        var visiting = new List<string>();

        int Visit(string name, ServiceSpec spec)
        {
            if (effective.TryGetValue(name, out var known)) return known;
            var cycleStart = visiting.IndexOf(name);
            if (cycleStart >= 0)
                throw new PlanningException(
                    $"dependsOn cycle: {string.Join(" -> ", visiting.Skip(cycleStart).Append(name))}; remove one of these dependsOn entries.");
            visiting.Add(name);
            var deps = 0;
            foreach (var dep in spec.DependsOn)
                if (desired.Services.TryGetValue(dep, out var depSpec)) deps = Math.Max(deps, Visit(dep, depSpec)); // unknown/disabled: validation reports it
            visiting.RemoveAt(visiting.Count - 1);
            var changed = changes.TryGetValue(name, out var c) && IsDeploy(c.Action);
            if (changed) waves[name] = deps + 1;
            return effective[name] = changed ? deps + 1 : deps;
        }

        foreach (var (name, spec) in desired.Services) Visit(name, spec);
        return waves;
    }

    /// <summary>Removal waves after the deploy waves: a service is removed in a wave after everything that
    /// depended on it (by the dependsOn it was applied with) is removed.</summary>
    private static Dictionary<string, int> RemoveLevels(LiveState live, Dictionary<string, ServiceChange> changes, int offset)
    {
        var removed = changes.Values.Where(c => c.Action == ServiceAction.Remove).Select(c => c.Service)
            .ToHashSet(StringComparer.Ordinal);
        var dependents = removed.ToDictionary(r => r, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var r in removed.Order(StringComparer.Ordinal))
        foreach (var dep in live.Services[r].DependsOn)
            if (removed.Contains(dep)) dependents[dep].Add(r);

        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        var visiting = new List<string>();
        int Visit(string name)
        {
            if (depth.TryGetValue(name, out var d)) return d;
            var cycleStart = visiting.IndexOf(name);
            if (cycleStart >= 0)
                throw new PlanningException(
                    $"cannot order removals: the live dependsOn of {string.Join(" -> ", visiting.Skip(cycleStart).Append(name))} is a cycle; remove these services in separate commits.");
            visiting.Add(name);
            var level = 1;
            foreach (var dependent in dependents[name]) level = Math.Max(level, Visit(dependent) + 1);
            visiting.RemoveAt(visiting.Count - 1);
            return depth[name] = level;
        }

        foreach (var r in removed.Order(StringComparer.Ordinal)) Visit(r);
        return depth.ToDictionary(kv => kv.Key, kv => kv.Value + offset, StringComparer.Ordinal);
    }

    /// <summary>The wave after which every required service runs a satisfying version (0: already true now).</summary>
    private static (int Wave, string? Service) OnGate(LiveState live, Dictionary<string, ServiceChange> changes,
        Dictionary<string, int> deployWave, ToggleChange toggle)
    {
        var gate = 0;
        string? gating = null;
        foreach (var (service, range) in toggle.Requires)
        {
            var liveSatisfies = live.Services.TryGetValue(service, out var ls) && Satisfies(toggle.Toggle, service, ls.Version, range);
            // The service keeps a satisfying version throughout (desired satisfies: checked before) unless it is
            // rolled out in this plan from a version that does not.
            if (liveSatisfies && (!changes.TryGetValue(service, out var c) || c.Action != ServiceAction.Create)) continue;
            var wave = deployWave.GetValueOrDefault(service);
            if (wave > gate) (gate, gating) = (wave, service);
        }
        return (gate, gating);
    }

    /// <summary>The earliest wave whose change breaks a requirement of the toggle (0: none does).</summary>
    private static (int Wave, string? Service) OffGate(Dictionary<string, ServiceChange> changes,
        Dictionary<string, int> deployWave, ToggleChange toggle)
    {
        var gate = 0;
        string? breaking = null;
        foreach (var (service, range) in toggle.Requires)
        {
            if (!deployWave.TryGetValue(service, out var wave)) continue;
            var to = changes[service].ToVersion;
            if (to is null || Satisfies(toggle.Toggle, service, to, range)) continue;
            if (gate == 0 || wave < gate) (gate, breaking) = (wave, service);
        }
        return (gate, breaking);
    }

    /// <summary>A toggle that is on in the desired state must be satisfiable by the desired versions.</summary>
    private static void CheckRequirementsReachable(DesiredState desired, DesiredToggle toggle)
    {
        foreach (var (service, range) in toggle.Requires)
        {
            if (!desired.Services.TryGetValue(service, out var spec))
                throw new PlanningException(
                    $"toggle '{toggle.Name}' is on in '{desired.Environment}' and requires {service} {range}, but {service} is not deployed there; turn the toggle off or enable {service}.");
            if (!Satisfies(toggle.Name, service, spec.Version, range))
                throw new PlanningException(
                    $"toggle '{toggle.Name}' is on in '{desired.Environment}' and requires {service} {range}, but the desired version of {service} is {spec.Version}; raise {service}'s version or turn the toggle off.");
        }
    }

    internal static bool Satisfies(string toggle, string service, string version, string range)
    {
        if (!VersionRanges.TryParse(range, out var parsed))
            throw new PlanningException($"toggle '{toggle}': requirement '{range}' on {service} is not a valid semver range (e.g. \">=1.5.0\").");
        if (!SemVersion.TryParse(version, SemVersionStyles.Strict, out var v))
            throw new PlanningException($"toggle '{toggle}': version '{version}' of {service} is not a valid semver 2.0 version.");
        return v.Satisfies(parsed);
    }

    private static ImmutableArray<string> Sorted(List<string>? names) =>
        names is null ? [] : [.. names.Order(StringComparer.Ordinal)];

    private static List<string> GetOrAdd(this Dictionary<int, List<string>> d, int key) =>
        d.TryGetValue(key, out var l) ? l : d[key] = [];
}

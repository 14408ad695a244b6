using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Reconciler.Diff.Live;
using Reconciler.Schema.Model;
using Semver;

namespace Reconciler.Diff.Planning;

/// <summary>
/// Passes 1 and 2 for one service: field-level changes, then the action, its reason and the hosts it touches.
/// The wave is assigned later by <see cref="WaveBuilder"/> (0 here).
/// </summary>
internal static class ServiceClassifier
{
    /// <param name="knownConverged">Services the caller vouches are converged, with their releases (<see cref="PlanOptions.KnownConverged"/>).</param>
    public static ServiceChange Classify(ServiceSpec spec, LiveService? live, EnvironmentSpec environment, HostOrder hostOrder,
        IReadOnlyDictionary<string, string>? knownConverged = null)
    {
        var group = hostOrder.Group(spec.HostGroup) ?? throw new PlanningException(
            $"service '{spec.Name}' uses host group '{spec.HostGroup}', which environment '{environment.Name}' does not define; add it to environments/{environment.Name}.yaml or change hostGroup.");
        var groupHosts = group.Hosts;

        // Known converged: decided without reading the live entry (it may not even be decoded).
        if (live is not null && knownConverged is not null && knownConverged.TryGetValue(spec.Name, out var knownRelease))
            return UpToDate(knownRelease);

        var release = ServiceFields.ReleaseId(spec);
        var perHost = PerHostReleases.Of(spec, group);
        ServiceChange UpToDate(string releaseId) =>
            // Converged means live runs exactly this version and release.
            new(spec.Name, ServiceAction.NoOp, "up to date", spec.Version, spec.Version, releaseId, releaseId, spec.HostGroup, [], [], 0);

        if (live is null)
        {
            var created = ImmutableArray.CreateBuilder<HostChange>(group.RolloutOrder.Length);
            foreach (var h in group.RolloutOrder) created.Add(perHost.Change(h, null, release));
            return new ServiceChange(spec.Name, ServiceAction.Create,
                $"new service, version {spec.Version} on {Hosts(groupHosts.Length)}",
                null, spec.Version, null, release, spec.HostGroup,
                Added(ServiceFields.FlattenSorted(spec)), created.MoveToImmutable(), 0) { Rollout = RolloutOf(spec) };
        }

        // Converged (most services of a large repo on most runs): no field, version or release differs and every
        // host of the group runs the release. Decided without building the fields or the host lists below; anything
        // less certain (a host missing, extra or keyed oddly, fields that need sorting) takes the full
        // classification, which gives the same answer.
        if (live.Version == spec.Version && live.ReleaseId == release && group.AllHostsRun(live, h => perHost.ReleaseOf(h, release)) && ServiceFields.FieldsEqual(spec, live))
            return UpToDate(release);

        var fields = Diff(live.Fields, ServiceFields.FlattenSorted(spec));

        var changedPaths = fields.Select(f => f.Path).ToList();

        // Hosts that leave the group lose the service; hosts that join (or drifted) get the desired release.
        var inGroup = groupHosts.Select(h => h.Name).ToHashSet(StringComparer.Ordinal);
        var leaving = live.Hosts.Values.Where(h => !inGroup.Contains(h.Host))
            .Select(h => new HostChange(h.Host, hostOrder.RegionOf(h.Host), h.ActiveRelease, null)).ToList();
        // A host whose release is unknown is treated as running none: it gets the desired release laid down and switched.
        HostChange ToDesired(HostSpec h) =>
            perHost.Change(h, live.Hosts.TryGetValue(h.Name, out var lh) && lh.UnknownBecause is null ? lh.ActiveRelease : null, release);
        var allHosts = groupHosts.Select(ToDesired).Concat(leaving).ToList();
        var driftedHosts = allHosts.Where(h => h.FromRelease != h.ToRelease).ToList();

        var versionOrder = CompareVersions(live.Version, spec.Version);
        ServiceAction action;
        string reason;
        List<HostChange> hosts;
        var releaseFieldChanges = changedPaths.Where(ServiceFields.NeedsNewRelease).ToList();
        var configChanges = releaseFieldChanges.Where(p => p.StartsWith("config.", StringComparison.Ordinal)).ToList();
        var otherReleaseChanges = releaseFieldChanges.Except(configChanges).Where(p => p != "version").ToList();

        if (versionOrder != 0)
        {
            action = versionOrder < 0 ? ServiceAction.Upgrade : ServiceAction.Downgrade;
            reason = $"version {live.Version} -> {spec.Version}";
            hosts = allHosts.Where(h => h.FromRelease != h.ToRelease).ToList();
        }
        else if (otherReleaseChanges.Count > 0 || (live.Version != spec.Version))
        {
            // Same precedence but different artifact, deploy path or restart command (or build metadata): the hosts
            // need the release laid down again even when its id did not change.
            action = ServiceAction.Redeploy;
            var what = otherReleaseChanges.Count > 0 ? otherReleaseChanges : ["version"];
            reason = $"{string.Join(", ", what)} changed";
            hosts = allHosts;
        }
        else if (configChanges.Count > 0 || live.ReleaseId != release)
        {
            action = ServiceAction.Reconfigure;
            reason = configChanges.Count > 0
                ? $"config changed: {string.Join(", ", configChanges.Select(DescribeConfig(fields)))}"
                : $"release {live.ReleaseId} -> {release}";
            hosts = allHosts.Where(h => h.FromRelease != h.ToRelease).ToList();
        }
        else if (driftedHosts.Count > 0)
        {
            action = ServiceAction.Redeploy;
            var joining = driftedHosts.Where(h => h.ToRelease is not null).Select(h => h.Host).ToList();
            var parts = new List<string>();
            if (joining.Count > 0) parts.Add(perHost.Any
                ? $"hosts without their release (per-host config): {string.Join(", ", joining)}"
                : $"hosts without release {release}: {string.Join(", ", joining)}");
            if (leaving.Count > 0) parts.Add($"hosts leaving group: {string.Join(", ", leaving.Select(h => h.Host))}");
            reason = string.Join("; ", parts);
            hosts = driftedHosts;
        }
        else if (fields.Length > 0)
        {
            // Settings only (strategy, health, keepReleases, onFailure, dependsOn...): nothing changes on the hosts,
            // but apply must record the new settings, or every later plan would show this change again.
            action = ServiceAction.Reconfigure;
            reason = $"settings only: {string.Join(", ", changedPaths)} (no host changes)";
            hosts = [];
        }
        else
        {
            return UpToDate(release);
        }

        return new ServiceChange(spec.Name, action, reason, live.Version, spec.Version, live.ReleaseId, release,
            spec.HostGroup, fields, hostOrder.Sort(hosts, spec.HostGroup), 0) { Rollout = RolloutOf(spec) };
    }

    /// <summary>The settings the change rolls out with (the merged spec: overrides and defaults applied).</summary>
    internal static Rollout RolloutOf(ServiceSpec spec) => new(
        ServiceFields.StrategyName(spec.Strategy.Kind),
        spec.Strategy.MaxParallel.ToString(),
        spec.Strategy.Kind == StrategyKind.Canary ? spec.Strategy.CanaryHosts : null,
        spec.Health.Checks.Length,
        spec.Health.ConsecutivePasses,
        ServiceFields.Duration(spec.Health.Deadline),
        (spec.OnFailure ?? OnFailure.Rollback) == OnFailure.Rollback ? "rollback" : "halt");

    public static ServiceChange Remove(LiveService live, HostOrder hostOrder)
    {
        var hosts = live.Hosts.Values.Select(h => new HostChange(h.Host, hostOrder.RegionOf(h.Host), h.ActiveRelease, null));
        var hostGroup = live.Fields.GetValueOrDefault("hostGroup") ?? "";
        return new ServiceChange(live.Name, ServiceAction.Remove,
            $"no longer desired in this environment (deleted or disabled); stop on {Hosts(live.Hosts.Count)}",
            live.Version, null, live.ReleaseId, null, hostGroup,
            Diff(live.Fields, []), hostOrder.Sort(hosts, hostGroup), 0);
    }

    /// <summary>Field-level diff of two flattened snapshots, sorted by path: <paramref name="after"/> as
    /// <see cref="ServiceFields.FlattenSorted"/> gives it. A change that involves a secret on either side is
    /// <see cref="FieldChangeKind.SecretChanged"/>: only references are ever held here.</summary>
    public static ImmutableArray<FieldChange> Diff(ImmutableSortedDictionary<string, string> before, KeyValuePair<string, string>[] after)
    {
        // Both snapshots are sorted: one merge walk, no set or sort per service (this runs 15,000 times for a
        // large repo). Snapshots read from JSON may carry another comparer; re-key those to ordinal first.
        if (!ReferenceEquals(before.KeyComparer, StringComparer.Ordinal)) before = before.WithComparers(StringComparer.Ordinal);
        ImmutableArray<FieldChange>.Builder? result = null;
        void Add(FieldChange change) => (result ??= ImmutableArray.CreateBuilder<FieldChange>()).Add(change);
        using var b = before.GetEnumerator();
        var hasB = b.MoveNext();
        var ai = 0;
        while (hasB || ai < after.Length)
        {
            var order = !hasB ? 1 : ai == after.Length ? -1 : string.CompareOrdinal(b.Current.Key, after[ai].Key);
            if (order < 0)
            {
                Add(new FieldChange(b.Current.Key, FieldChangeKind.Removed, b.Current.Value, null));
                hasB = b.MoveNext();
            }
            else if (order > 0)
            {
                Add(new FieldChange(after[ai].Key, FieldChangeKind.Added, null, after[ai].Value));
                ai++;
            }
            else
            {
                var (path, was, now) = (after[ai].Key, b.Current.Value, after[ai].Value);
                if (was != now)
                {
                    var kind = ServiceFields.IsSecret(was) || ServiceFields.IsSecret(now) ? FieldChangeKind.SecretChanged : FieldChangeKind.Changed;
                    Add(new FieldChange(path, kind, was, now));
                }
                hasB = b.MoveNext();
                ai++;
            }
        }
        return result is null ? [] : result.DrainToImmutable();
    }

    /// <summary>What <see cref="Diff"/> gives against an empty snapshot (every field added), without walking one.</summary>
    private static ImmutableArray<FieldChange> Added(KeyValuePair<string, string>[] fields)
    {
        var added = new FieldChange[fields.Length];
        for (var i = 0; i < fields.Length; i++) added[i] = new FieldChange(fields[i].Key, FieldChangeKind.Added, null, fields[i].Value);
        return ImmutableCollectionsMarshal.AsImmutableArray(added);
    }

    /// <summary>Semver precedence (build metadata ignored); versions that do not parse compare ordinally, which
    /// validation should already have prevented.</summary>
    public static int CompareVersions(string from, string to)
    {
        if (string.Equals(from, to, StringComparison.Ordinal)) return 0; // equal either way below, without parsing
        if (PlainVersion.TryCompare(from, to) is { } plain) return plain;
        return CompareBySemver(from, to);
    }

    /// <summary>The slow path of <see cref="CompareVersions"/>, kept for every version the fast path does not take (and
    /// held to it by a differential test).</summary>
    internal static int CompareBySemver(string from, string to)
    {
        if (SemVersion.TryParse(from, SemVersionStyles.Strict, out var a) && SemVersion.TryParse(to, SemVersionStyles.Strict, out var b))
            return Math.Sign(SemVersion.ComparePrecedence(a, b));
        return Math.Sign(string.CompareOrdinal(from, to));
    }

    private static Func<string, string> DescribeConfig(ImmutableArray<FieldChange> fields) => path =>
    {
        var f = fields.First(x => x.Path == path);
        var key = path["config.".Length..];
        return f.Kind switch
        {
            FieldChangeKind.Added => $"+{key}",
            FieldChangeKind.Removed => $"-{key}",
            FieldChangeKind.SecretChanged => $"{key} (secret reference changed)",
            _ => key,
        };
    };

    private static string Hosts(int n) => n == 1 ? "1 host" : $"{n} hosts";
}

using System.Collections.Concurrent;
using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Planning;

/// <summary>Inputs to <see cref="Planner.Plan"/> besides desired and live state.</summary>
/// <param name="BaseCommit">Set for `plan --base REV` previews: the commit the live state was derived from.</param>
/// <param name="KnownConverged">Services the caller knows to be converged, each with the release it runs: the planner
/// settles them as up to date without reading their live entry (which may still be undecoded,
/// <see cref="LiveService.Deferred"/>) or comparing fields. The caller vouches for each one; the engine lists only
/// services whose stored entry, spec and host group are exactly as when a plan found them converged
/// (<see cref="ConvergenceKeys"/>), so a plan with the list is the plan without it. Null: none.</param>
/// <param name="MaxDegreeOfParallelism">At most this many services are classified at once. 1 (the default) classifies
/// on the calling thread; the caller that knows the machine passes its core count.</param>
/// <param name="Observed">What the hosts reported (issue 13), or null: a service the store shows converged whose hosts
/// drifted from it becomes a <see cref="ServiceAction.Repair"/> of those hosts (<see cref="DriftRepairs"/>).</param>
public sealed record PlanOptions(string? BaseCommit = null, IReadOnlyDictionary<string, string>? KnownConverged = null, int MaxDegreeOfParallelism = 1,
    ObservedState? Observed = null)
{
    public static PlanOptions Default { get; } = new();
}

/// <summary>
/// The planner: a pure function of (desired, live). Three passes, as in Nomad's diff/annotate split and
/// gitops-engine's sync tasks: (1) field changes per service, (2) classify each service into an action and the
/// hosts it touches, (3) order the changed services and toggles into waves. No I/O, no clock, no randomness;
/// every collection is sorted ordinally so identical inputs give identical plans.
/// </summary>
public static class Planner
{
    private const int ParallelThreshold = 512;
    private const int ChunkSize = 256;

    public static Plan Plan(DesiredState desired, LiveState live, PlanOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(live);
        options ??= PlanOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxDegreeOfParallelism, 1, nameof(options));
        if (!string.Equals(desired.Environment, live.Environment, StringComparison.Ordinal))
            throw new PlanningException(
                $"live state is for environment '{live.Environment}' but the desired state is for '{desired.Environment}'; pass the live state of '{desired.Environment}'.");

        var hostOrder = new HostOrder(desired.EnvironmentSpec);
        var pairs = Pair(desired.Services, live.Services);
        var changes = new ServiceChange[pairs.Count];
        var errors = new Exception?[pairs.Count];
        void ClassifyRange(int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                var (spec, liveService) = pairs[i];
                try
                {
                    changes[i] = spec is null
                        ? ServiceClassifier.Remove(liveService!, hostOrder)
                        : ServiceClassifier.Classify(spec, liveService, desired.EnvironmentSpec, hostOrder, options.KnownConverged);
                }
                catch (Exception e)
                {
                    // A plan error, reported as itself, not wrapped by the parallel loop.
                    errors[i] = e;
                }
            }
        }
        // Each service is classified independently of the others, so large plans use the workers the caller allows.
        // Each worker takes a contiguous range and writes its own slots: the result is in name order, as a sequential run.
        if (pairs.Count >= ParallelThreshold && options.MaxDegreeOfParallelism > 1)
            Parallel.ForEach(Partitioner.Create(0, pairs.Count, ChunkSize),
                new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism }, r => ClassifyRange(r.Item1, r.Item2));
        else ClassifyRange(0, pairs.Count);
        // The first error in name order, whichever thread met it first.
        if (Array.Find(errors, e => e is not null) is { } error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);

        if (options.Observed is { } observed) DriftRepairs.Apply(changes, desired, observed, hostOrder);

        var toggles = ToggleClassifier.Classify(desired, live);
        var plan = WaveBuilder.Build(desired, live, options, changes, toggles);
        return CatalogBindings.Of(desired.EnvironmentSpec) is { } catalog ? plan with { Catalog = catalog } : plan;
    }

    /// <summary>Every service name of either side in ordinal order, with its desired spec and live entry (either
    /// may be null). Both dictionaries are normally sorted ordinally already, so this is one merge walk.</summary>
    private static List<(ServiceSpec? Spec, LiveService? Live)> Pair(
        ImmutableSortedDictionary<string, ServiceSpec> desired, ImmutableSortedDictionary<string, LiveService> live)
    {
        var result = new List<(ServiceSpec?, LiveService?)>(Math.Max(desired.Count, live.Count));
        if (!ReferenceEquals(desired.KeyComparer, StringComparer.Ordinal) || !ReferenceEquals(live.KeyComparer, StringComparer.Ordinal))
        {
            // Another key comparer (a hand-built state): look each name up with the dictionaries' own comparers.
            foreach (var name in desired.Keys.Union(live.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal))
                result.Add((desired.GetValueOrDefault(name), live.GetValueOrDefault(name)));
            return result;
        }
        using var d = desired.GetEnumerator();
        using var l = live.GetEnumerator();
        var hasD = d.MoveNext();
        var hasL = l.MoveNext();
        while (hasD || hasL)
        {
            var order = !hasD ? 1 : !hasL ? -1 : string.CompareOrdinal(d.Current.Key, l.Current.Key);
            result.Add((order <= 0 ? d.Current.Value : null, order >= 0 ? l.Current.Value : null));
            if (order <= 0) hasD = d.MoveNext();
            if (order >= 0) hasL = l.MoveNext();
        }
        return result;
    }
}

/// <summary>Rollout order of hosts inside one service: hosts without a region first, then regions in the
/// environment's listed order; within that, hosts in the order their host group lists them (as written, never sorted
/// by name: host10 does not come before host2). Hosts in an unlisted region (validation forbids it) go last; hosts the
/// group no longer lists (leaving it, or a removed service's) go after the listed ones, by name.
/// Built once per plan, before services are classified in parallel; read-only afterwards.</summary>
internal sealed class HostOrder
{
    private readonly Dictionary<string, int> _regionRank = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _regionOfHost = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _listedAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GroupHosts> _groups = new(StringComparer.Ordinal);

    public HostOrder(EnvironmentSpec environment)
    {
        for (var i = 0; i < environment.Regions.Length; i++) _regionRank.TryAdd(environment.Regions[i], i);
        foreach (var group in environment.HostGroups.Values)
            for (var i = 0; i < group.Hosts.Length; i++)
            {
                _regionOfHost.TryAdd(group.Hosts[i].Name, group.Hosts[i].Region);
                _listedAt.TryAdd(group.Hosts[i].Name, i);
            }
        // Every service of a group has the same hosts in the same rollout order: order them once per group (a stable
        // sort by region keeps the listed order within a region).
        foreach (var (name, group) in environment.HostGroups)
        {
            var rollout = group.Hosts.OrderBy(h => Rank(h.Region)).ToArray();
            var names = group.Hosts.Select(h => h.Name).ToHashSet(StringComparer.Ordinal);
            _groups[name] = new GroupHosts(group.Hosts, rollout, names.Count == group.Hosts.Length);
        }
    }

    /// <summary>The environment's host group of that name (null: it defines none).</summary>
    public GroupHosts? Group(string name) => _groups.GetValueOrDefault(name);

    /// <summary>Region of a host as the environment declares it (null for hosts it no longer declares).</summary>
    public string? RegionOf(string host) => _regionOfHost.GetValueOrDefault(host);

    /// <summary>Hosts of one service in rollout order; <paramref name="group"/> is the host group whose listing counts.</summary>
    public ImmutableArray<HostChange> Sort(IEnumerable<HostChange> hosts, string? group)
    {
        var listed = group is not null && _groups.TryGetValue(group, out var g) ? g.ListedAt : _listedAt;
        return [.. hosts.OrderBy(h => Rank(h.Region))
            .ThenBy(h => listed.TryGetValue(h.Host, out var i) ? i : int.MaxValue)
            .ThenBy(h => h.Host, StringComparer.Ordinal)];
    }

    private int Rank(string? region) =>
        region is null ? -1 : _regionRank.TryGetValue(region, out var r) ? r : int.MaxValue;
}

/// <summary>One host group's hosts as declared and in rollout order (the order <see cref="HostOrder.Sort"/> gives).</summary>
internal sealed class GroupHosts(ImmutableArray<HostSpec> hosts, HostSpec[] rolloutOrder, bool distinctNames)
{
    public ImmutableArray<HostSpec> Hosts { get; } = hosts;

    public HostSpec[] RolloutOrder { get; } = rolloutOrder;

    /// <summary>Each host's position in the group's listing.</summary>
    public IReadOnlyDictionary<string, int> ListedAt { get; } = ListingOf(hosts);

    private static Dictionary<string, int> ListingOf(ImmutableArray<HostSpec> hosts)
    {
        var at = new Dictionary<string, int>(hosts.Length, StringComparer.Ordinal);
        for (var i = 0; i < hosts.Length; i++) at.TryAdd(hosts[i].Name, i);
        return at;
    }

    /// <summary>True when the live service runs its <paramref name="release"/> (per host) on exactly this group's hosts (so no
    /// host joins, leaves or drifted). False also when that cannot be told cheaply; the caller then compares
    /// host by host.</summary>
    public bool AllHostsRun(LiveService live, Func<HostSpec, string> release)
    {
        if (!distinctNames || live.Hosts.Count != Hosts.Length || !ReferenceEquals(live.Hosts.KeyComparer, StringComparer.Ordinal))
            return false;
        // Each declared name is a distinct key of the same number of live entries, so the key sets are equal.
        foreach (var h in Hosts)
            if (!live.Hosts.TryGetValue(h.Name, out var lh) || lh.Host != h.Name || lh.ActiveRelease != release(h) || lh.UnknownBecause is not null) return false;
        return true;
    }
}

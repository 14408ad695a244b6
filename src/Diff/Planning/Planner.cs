using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Planning;

/// <summary>Inputs to <see cref="Planner.Plan"/> besides desired and live state.</summary>
/// <param name="BaseCommit">Set for `plan --base REV` previews: the commit the live state was derived from.</param>
public sealed record PlanOptions(string? BaseCommit = null)
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

    public static Plan Plan(DesiredState desired, LiveState live, PlanOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(live);
        options ??= PlanOptions.Default;
        if (!string.Equals(desired.Environment, live.Environment, StringComparison.Ordinal))
            throw new PlanningException(
                $"live state is for environment '{live.Environment}' but the desired state is for '{desired.Environment}'; pass the live state of '{desired.Environment}'.");

        var hostOrder = new HostOrder(desired.EnvironmentSpec);
        var names = desired.Services.Keys.Union(live.Services.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        (ServiceChange? Change, PlanningException? Error) ClassifyOne(string name)
        {
            desired.Services.TryGetValue(name, out var spec);
            live.Services.TryGetValue(name, out var liveService);
            try
            {
                return (spec is null
                    ? ServiceClassifier.Remove(liveService!, hostOrder)
                    : ServiceClassifier.Classify(spec, liveService, desired.EnvironmentSpec, hostOrder), null);
            }
            catch (PlanningException e)
            {
                return (null, e);
            }
        }
        // Each service is classified independently of the others, so large plans use every core; AsOrdered keeps
        // the result in name order, and the output is the same as a sequential run.
        var results = names.Length >= ParallelThreshold
            ? names.AsParallel().AsOrdered().Select(ClassifyOne).ToList()
            : names.Select(ClassifyOne).ToList();
        // The first error in name order, whichever thread met it first.
        if (results.FirstOrDefault(r => r.Error is not null).Error is { } error) throw error;
        var changes = results.Select(r => r.Change!).ToList();

        var toggles = ToggleClassifier.Classify(desired, live);
        return WaveBuilder.Build(desired, live, options, changes, toggles);
    }
}

/// <summary>Rollout order of hosts inside one service: hosts without a region first, then regions in the
/// environment's listed order, then by host name. Hosts in an unlisted region (validation forbids it) go last.</summary>
internal sealed class HostOrder
{
    private readonly Dictionary<string, int> _regionRank = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _regionOfHost = new(StringComparer.Ordinal);

    public HostOrder(EnvironmentSpec environment)
    {
        for (var i = 0; i < environment.Regions.Length; i++) _regionRank.TryAdd(environment.Regions[i], i);
        foreach (var group in environment.HostGroups.Values)
        foreach (var host in group.Hosts)
            _regionOfHost.TryAdd(host.Name, host.Region);
    }

    /// <summary>Region of a host as the environment declares it (null for hosts it no longer declares).</summary>
    public string? RegionOf(string host) => _regionOfHost.GetValueOrDefault(host);

    public ImmutableArray<HostChange> Sort(IEnumerable<HostChange> hosts) =>
        [.. hosts.OrderBy(Rank).ThenBy(h => h.Host, StringComparer.Ordinal)];

    private int Rank(HostChange h) =>
        h.Region is null ? -1 : _regionRank.TryGetValue(h.Region, out var r) ? r : int.MaxValue;
}

using System.Collections.Immutable;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Planning;

/// <summary>
/// Per-host config in the planner (issue 14): a service whose config uses ${host.*} has a release per host (its config
/// rendered for that host, hashed), and the plan shows each host's values of the keys that differ between hosts. For
/// every other service this is a no-op: one release for all hosts, as before.
/// </summary>
internal sealed class PerHostReleases
{
    private static readonly PerHostReleases None = new(new Dictionary<string, string>(), new Dictionary<string, ImmutableSortedDictionary<string, string>>());

    private readonly IReadOnlyDictionary<string, string> _releases;
    private readonly IReadOnlyDictionary<string, ImmutableSortedDictionary<string, string>> _differing;

    private PerHostReleases(IReadOnlyDictionary<string, string> releases, IReadOnlyDictionary<string, ImmutableSortedDictionary<string, string>> differing) =>
        (_releases, _differing) = (releases, differing);

    /// <summary>True when the service's hosts get their own releases.</summary>
    public bool Any => _releases.Count > 0;

    public static PerHostReleases Of(ServiceSpec spec, GroupHosts group)
    {
        if (!HostConfig.IsPerHost(spec)) return None;
        var releases = new Dictionary<string, string>(StringComparer.Ordinal);
        var rendered = new Dictionary<string, ImmutableSortedDictionary<string, ConfigValue>>(StringComparer.Ordinal);
        foreach (var h in group.Hosts)
        {
            ServiceSpec forHost;
            try { forHost = HostConfig.ForHost(spec, h); }
            catch (HostConfigException e) { throw new PlanningException(e.Message + "."); }
            releases.TryAdd(h.Name, ServiceFields.ReleaseId(forHost));
            rendered.TryAdd(h.Name, forHost.Config);
        }
        // Only the keys whose rendered values are not the same on every host are shown per host.
        var keys = spec.Config.Keys.Where(k => rendered.Values.Select(c => Text(c[k])).Distinct(StringComparer.Ordinal).Skip(1).Any()).ToList();
        var differing = rendered.ToDictionary(r => r.Key,
            r => keys.ToImmutableSortedDictionary(k => k, k => Text(r.Value[k]), StringComparer.Ordinal), StringComparer.Ordinal);
        return new PerHostReleases(releases, keys.Count == 0 ? new Dictionary<string, ImmutableSortedDictionary<string, string>>() : differing);
    }

    public string ReleaseOf(HostSpec host, string serviceRelease) => _releases.GetValueOrDefault(host.Name) ?? serviceRelease;

    /// <summary>The change that brings <paramref name="host"/> from <paramref name="from"/> to its release.</summary>
    public HostChange Change(HostSpec host, string? from, string serviceRelease) =>
        new(host.Name, host.Region, from, ReleaseOf(host, serviceRelease)) { Config = _differing.GetValueOrDefault(host.Name) };

    private static string Text(ConfigValue value) => ServiceFields.Display(value);
}

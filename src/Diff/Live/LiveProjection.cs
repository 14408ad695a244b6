using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Live;

/// <summary>
/// The live state a complete, successful apply of a desired state would leave behind. `plan --base REV` plans
/// a commit against this projection of the base commit (no store involved), so a pull request shows what it
/// changes relative to its base branch.
/// </summary>
public static class LiveProjection
{
    public static LiveState AsApplied(DesiredState desired, long version = 0)
    {
        var services = ImmutableSortedDictionary.CreateBuilder<string, LiveService>(StringComparer.Ordinal);
        foreach (var spec in desired.Services.Values)
        {
            var configHash = ServiceFields.ConfigHash(spec);
            var release = ServiceFields.ReleaseId(spec, configHash);
            var hosts = ImmutableSortedDictionary.CreateBuilder<string, LiveHost>(StringComparer.Ordinal);
            if (desired.EnvironmentSpec.HostGroups.TryGetValue(spec.HostGroup, out var group))
                foreach (var host in group.Hosts) hosts[host.Name] = new LiveHost(host.Name, HostRelease(spec, host, release), null);
            // Packed, as a store read gives it: a preview compares most services by their packing and never needs
            // the dictionary. (A lone surrogate in some text cannot be packed exactly: that service keeps the dictionary.)
            var packed = ServiceFields.Pack(spec);
            services[spec.Name] = packed.IsExact
                ? LiveService.FromPacked(spec.Name, spec.Version, release, configHash, desired.Revision, spec.DependsOn, packed, hosts.ToImmutable())
                : new LiveService(spec.Name, spec.Version, release, configHash, desired.Revision, spec.DependsOn, ServiceFields.Flatten(spec), hosts.ToImmutable());
        }
        var toggles = ImmutableSortedDictionary.CreateBuilder<string, LiveToggle>(StringComparer.Ordinal);
        foreach (var t in desired.Toggles.Values) toggles[t.Name] = new LiveToggle(t.Name, t.Enabled, desired.Revision);
        return new LiveState(desired.Environment, version, services.ToImmutable(), toggles.ToImmutable(), desired.Revision);
    }

    /// <summary>The release a host runs: the service's, or its own when the config is per host (a host it cannot be
    /// rendered for keeps the service's; planning the head reports that).</summary>
    private static string HostRelease(ServiceSpec spec, HostSpec host, string release)
    {
        if (!HostConfig.IsPerHost(spec)) return release;
        try { return ServiceFields.ReleaseId(HostConfig.ForHost(spec, host)); }
        catch (HostConfigException) { return release; }
    }
}

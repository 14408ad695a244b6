using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;

namespace Reconciler.Live;

/// <summary>One service on one host, as the probe asks it: how to reach its files, which release the repo wants and
/// the store recorded there (null: none, or the store itself does not know), and the checks that say it is healthy.</summary>
internal sealed record ProbeTarget(string Service, DriverKind Driver, string Path, string? Desired, string? Recorded, HealthSpec? Health);

/// <summary>What the probe asks of each host of an environment: every desired service on the hosts of its group, and every
/// recorded service that the repo no longer wants (with the settings it was deployed with) on the hosts still defined.</summary>
internal static class ProbeTargets
{
    public sealed record Host(HostSpec Spec, List<ProbeTarget> Services);

    public static List<Host> Of(DesiredState desired, LiveState live)
    {
        var byHost = new Dictionary<string, Host>(StringComparer.Ordinal);
        var order = new List<Host>();
        void Add(HostSpec spec, ProbeTarget target)
        {
            if (!byHost.TryGetValue(spec.Name, out var host))
            {
                byHost[spec.Name] = host = new Host(spec, []);
                order.Add(host);
            }
            host.Services.Add(target);
        }
        string? RecordedOn(LiveService? service, string host) =>
            service?.Hosts.GetValueOrDefault(host) is { UnknownBecause: null } h ? h.ActiveRelease : null;

        foreach (var spec in desired.Services.Values)
        {
            if (!desired.EnvironmentSpec.HostGroups.TryGetValue(spec.HostGroup, out var group)) continue;
            live.Services.TryGetValue(spec.Name, out var recorded);
            var release = ServiceFields.ReleaseId(spec);
            foreach (var host in group.Hosts)
                Add(host, new ProbeTarget(spec.Name, spec.Deploy.Driver, spec.Deploy.Path, release, RecordedOn(recorded, host.Name), spec.Health));
        }
        var defined = desired.EnvironmentSpec.HostGroups.Values.SelectMany(g => g.Hosts).GroupBy(h => h.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var service in live.Services.Values.Where(s => !desired.Services.ContainsKey(s.Name)))
        {
            DeploySettings deploy;
            try
            {
                deploy = DeploySettings.FromFields(service.Name, service.Fields);
            }
            catch (ReconcilerException)
            {
                continue;   // recorded without readable deploy settings: nothing says where to look; `status` shows the record
            }
            foreach (var host in service.Hosts.Values)
                if (defined.TryGetValue(host.Host, out var spec))
                    Add(spec, new ProbeTarget(service.Name, deploy.Driver, deploy.Path, null, RecordedOn(service, host.Host), null));
        }
        return order;
    }
}

using Reconciler.Diff.Live;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// Hosts whose release live state records as unknown (<see cref="LiveHost.UnknownBecause"/>: a step on them ended without
/// a known outcome). Before anything else, apply reads each one's `current` and writes what it found, so the plan that
/// follows starts from the truth and repairs the host toward the desired release. A host that still cannot be read
/// stops the apply as a fault of the environment: nothing else is changed while the store cannot say what a host runs.
/// </summary>
internal static class UnknownHosts
{
    public static bool Any(LiveState live) => live.Services.Values.Any(s => s.Hosts.Values.Any(h => h.UnknownBecause is not null));

    public static async Task ResolveAsync(ExecutorDependencies deps, DesiredState desired, LiveState live, IProgress<ApplyProgress>? progress,
        CancellationToken ct)
    {
        await using var sessions = ApplyContext.Cleaned(deps, new RunSecrets(deps.Secrets, desired));
        var problems = new List<string>();
        var resolved = new List<LiveService>();
        var hostsByName = ApplyContext.HostsByName(desired.EnvironmentSpec);
        foreach (var service in live.Services.Values.Where(s => s.Hosts.Values.Any(h => h.UnknownBecause is not null)))
        {
            var deploy = DeploySettings.FromFields(service.Name, service.Fields);
            var hosts = service.Hosts.ToBuilder();
            var changed = false;
            foreach (var host in service.Hosts.Values.Where(h => h.UnknownBecause is not null))
            {
                if (!hostsByName.TryGetValue(host.Host, out var spec))
                {
                    problems.Add($"{host.Host} ({service.Name}): its release is unknown and it is no longer in the environment; " +
                                 "add it back to read it, or correct live state by hand");
                    continue;
                }
                try
                {
                    var session = await sessions.OpenAsync(deploy.Driver, spec);
                    var found = (await session.InspectAsync(deploy.Path, ct)).Current;
                    if (found is null) hosts.Remove(host.Host);
                    else hosts[host.Host] = new LiveHost(host.Host, found, host.PreviousRelease == found ? null : host.PreviousRelease);
                    changed = true;
                    progress?.Report(new ApplyProgress(desired.Environment, desired.Revision, 0, service.Name, host.Host, "inspect",
                        $"release was unknown; current is {found ?? "(none)"}"));
                }
                catch (HostStepException e)
                {
                    problems.Add(e.Message);
                }
            }
            if (changed) resolved.Add(service with { Hosts = hosts.ToImmutable() });
        }
        if (resolved.Count > 0)
            await deps.Store.WriteAsync(desired.Environment, live.Version, new StateChange([.. resolved], [], [], []), CancellationToken.None);
        if (problems.Count > 0)
            throw new ReconcilerException(FailureKind.EnvironmentFault,
                $"live state records {problems.Count} host(s) whose release is unknown and that cannot be read yet: {string.Join("; ", problems)}. " +
                "Nothing else was changed; the next apply tries again.");
    }
}

using Reconciler.Drivers;
using Reconciler.Diff.Live;
using Reconciler.Execution;
using Reconciler.Live;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>How `status`, `drift` and `apply --repair-drift` reach the hosts: the apply's driver options.</summary>
/// <param name="Warnings">Where driver warnings go (an unpinned host key accepted with --trust-unknown-host-keys).</param>
/// <param name="HostTimeout">Per host; null: <see cref="LiveProbeOptions.Default"/>.</param>
public sealed record HostAccess(string? SshKey, bool TrustUnknownHostKeys, TextWriter Warnings, TimeSpan? HostTimeout = null);

/// <summary>One live look at an environment's hosts with the CLI's wiring (<see cref="LiveProbe"/>).</summary>
public static class ObserveHosts
{
    /// <param name="drivers">Drivers the caller made with <see cref="Drivers"/> (and may have started connections with); null: new ones.</param>
    public static async Task<ObservedState> RunAsync(HostAccess access, string repoDirectory, IStateStore store, DesiredState desired,
        LiveState live, TimeProvider time, CancellationToken ct, HostDrivers? drivers = null)
    {
        var deps = ExecutorWiring.Dependencies(store, repoDirectory, time, drivers ?? Drivers(access, repoDirectory, desired.Environment));
        var options = access.HostTimeout is { } timeout ? LiveProbeOptions.Default with { HostTimeout = timeout } : LiveProbeOptions.Default;
        return await new LiveProbe(deps, options).ObserveAsync(desired, live, ct);
    }

    public static HostDrivers Drivers(HostAccess access, string repoDirectory, string environment) =>
        new(ExecutorWiring.DriverOptions(repoDirectory, access.SshKey, access.TrustUnknownHostKeys, access.Warnings, environment));

    /// <summary>The hosts of the environment's SSH services: the probe asks every one of them (<see cref="ProbeTargets"/>),
    /// so their connections can open while the store is read (<see cref="HostDrivers.Preconnect"/>).</summary>
    public static IEnumerable<HostSpec> SshHosts(DesiredState desired) =>
        desired.Services.Values
            .Where(s => s.Deploy.Driver == DriverKind.Ssh)
            .SelectMany(s => desired.EnvironmentSpec.HostGroups.TryGetValue(s.HostGroup, out var group) ? group.Hosts : [])
            .DistinctBy(h => h.Name, StringComparer.Ordinal)
            .ToList();
}

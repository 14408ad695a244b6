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
    public static async Task<ObservedState> RunAsync(HostAccess access, string repoDirectory, IStateStore store, DesiredState desired,
        LiveState live, TimeProvider time, CancellationToken ct)
    {
        var deps = ExecutorWiring.Dependencies(store, repoDirectory, time,
            ExecutorWiring.DriverOptions(repoDirectory, access.SshKey, access.TrustUnknownHostKeys, access.Warnings, desired.Environment));
        var options = access.HostTimeout is { } timeout ? LiveProbeOptions.Default with { HostTimeout = timeout } : LiveProbeOptions.Default;
        return await new LiveProbe(deps, options).ObserveAsync(desired, live, ct);
    }
}

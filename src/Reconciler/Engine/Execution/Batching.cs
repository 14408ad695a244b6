using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;

namespace Reconciler.Execution;

/// <summary>Cuts a service's host changes (already in rollout order) into batches; a health gate follows each.</summary>
public static class Batching
{
    /// <param name="groupSize">hosts in the service's host group: a percentage maxParallel is of the group.</param>
    public static ImmutableArray<ImmutableArray<HostChange>> Split(StrategySpec strategy, ImmutableArray<HostChange> hosts, int groupSize)
    {
        if (hosts.IsDefaultOrEmpty) return [];
        var size = strategy.MaxParallel.Resolve(Math.Max(groupSize, hosts.Length));
        switch (strategy.Kind)
        {
            case StrategyKind.BlueGreen:
                // The new release is staged beside the old one on every host, then all hosts switch together.
                return [hosts];
            case StrategyKind.Canary:
                var canary = Math.Clamp(strategy.CanaryHosts, 1, hosts.Length);
                return [hosts[..canary], .. Chunk(hosts[canary..], size)];
            default:
                return [.. Chunk(hosts, size)];
        }
    }

    private static IEnumerable<ImmutableArray<HostChange>> Chunk(ImmutableArray<HostChange> hosts, int size) =>
        hosts.Chunk(size).Select(c => c.ToImmutableArray());
}

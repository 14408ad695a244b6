using System.Collections.Immutable;

namespace Reconciler.Diff.Live;

// What is deployed in one environment, as the state stores hold it. The planner reads it; the executor
// writes it back through the store with compare-and-set. JSON form: docs/state.md (also accepted by `plan --live`).

public sealed record LiveState(
    string Environment,
    long Version,                                                  // store version (SQLite row version, Consul ModifyIndex)
    ImmutableSortedDictionary<string, LiveService> Services,
    ImmutableSortedDictionary<string, LiveToggle> Toggles,
    string? LastGoodCommit)
{
    public static LiveState Empty(string environment) =>
        new(environment, 0, ImmutableSortedDictionary<string, LiveService>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableSortedDictionary<string, LiveToggle>.Empty.WithComparers(StringComparer.Ordinal), null);
}

/// <summary>
/// One deployed service. <see cref="Fields"/> is the flattened snapshot of the spec that was applied
/// (see <see cref="Reconciler.Diff.Planning.ServiceFields"/>): field path -> display value, secrets as their
/// reference only. It lets the planner show field-level diffs without keeping the old YAML.
/// </summary>
public sealed record LiveService(
    string Name,
    string Version,
    string ReleaseId,
    string ConfigHash,
    string Commit,
    ImmutableArray<string> DependsOn,                              // as applied: removals run in reverse of this order
    ImmutableSortedDictionary<string, string> Fields,
    ImmutableSortedDictionary<string, LiveHost> Hosts);

/// <summary>What one host runs for one service. <see cref="PreviousRelease"/> is what rollback flips back to.</summary>
public sealed record LiveHost(string Host, string ActiveRelease, string? PreviousRelease);

public sealed record LiveToggle(string Name, bool Enabled, string Commit);

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
/// A service read from a store holds the snapshot packed (<see cref="FromPacked"/>) and builds the dictionary only when
/// something reads <see cref="Fields"/>: the planner compares a converged service by its packing alone.
/// </summary>
public sealed record LiveService(
    string Name,
    string Version,
    string ReleaseId,
    string ConfigHash,
    string Commit,
    ImmutableArray<string> DependsOn,                              // as applied: removals run in reverse of this order
    ImmutableSortedDictionary<string, string> Fields,
    ImmutableSortedDictionary<string, LiveHost> Hosts)
{
    // Shared by copies ('with'), so that a copy builds the very same dictionary.
    private Snapshot? _snapshot = Fields is null ? null : new Snapshot(Fields, null);

    public ImmutableSortedDictionary<string, string> Fields
    {
        get => _snapshot?.Fields!;
        init => _snapshot = value is null ? null : new Snapshot(value, null);
    }

    // Declared (not synthesized) only to stay after Fields in member order, which is the stored JSON's property order.
    public ImmutableSortedDictionary<string, LiveHost> Hosts { get; init; } = Hosts;

    /// <summary>A service whose snapshot is held packed until <see cref="Fields"/> is read. <paramref name="fields"/>
    /// must be exact and name each path once (<see cref="PackedFields.Writer.PathsAscending"/> proves that).</summary>
    public static LiveService FromPacked(string name, string version, string releaseId, string configHash, string commit,
        ImmutableArray<string> dependsOn, PackedFields fields, ImmutableSortedDictionary<string, LiveHost> hosts) =>
        fields.IsExact
            ? new LiveService(name, version, releaseId, configHash, commit, dependsOn, null!, hosts) { _snapshot = new Snapshot(null, fields) }
            : throw new ArgumentException("an inexact packing cannot stand for the fields", nameof(fields));

    /// <summary>The snapshot packed in <see cref="Fields"/> order (packed on first use when built from a dictionary).</summary>
    public PackedFields GetPackedFields() => _snapshot!.Packed;

    /// <summary>The field snapshot in one form or both, each built from the other on first use (either thread may build
    /// it; one result is kept).</summary>
    private sealed class Snapshot(ImmutableSortedDictionary<string, string>? fields, PackedFields? packed)
    {
        private ImmutableSortedDictionary<string, string>? _fields = fields;
        private PackedFields? _packed = packed;

        public ImmutableSortedDictionary<string, string> Fields =>
            _fields ?? Interlocked.CompareExchange(ref _fields, _packed!.Unpack(), null) ?? _fields!;

        public PackedFields Packed =>
            _packed ?? Interlocked.CompareExchange(ref _packed, PackedFields.Pack(_fields!), null) ?? _packed!;
    }

    // As the compiler would write it, but through the Fields property: whether the dictionary was built yet must not
    // change equality (the collections compare by reference, as in every record here).
    public bool Equals(LiveService? other) =>
        other is not null && (ReferenceEquals(this, other)
            || (Name == other.Name && Version == other.Version && ReleaseId == other.ReleaseId && ConfigHash == other.ConfigHash
                && Commit == other.Commit && DependsOn.Equals(other.DependsOn) && Fields == other.Fields && Hosts == other.Hosts));

    public override int GetHashCode() => HashCode.Combine(Name, Version, ReleaseId, ConfigHash, Commit);
}

/// <summary>What one host runs for one service. <see cref="PreviousRelease"/> is what rollback flips back to.</summary>
public sealed record LiveHost(string Host, string ActiveRelease, string? PreviousRelease);

public sealed record LiveToggle(string Name, bool Enabled, string Commit);

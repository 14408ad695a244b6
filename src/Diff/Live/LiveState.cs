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
/// something reads <see cref="Fields"/>: the planner compares a converged service by its packing alone. A store may
/// also hand over a service still undecoded (<see cref="Deferred"/>), decoded on first use of any member but the name:
/// the store defers only services its caller knows to be converged, and the planner never reads those
/// (<see cref="Planning.PlanOptions.KnownConverged"/>).
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
    private string _version = Version, _releaseId = ReleaseId, _configHash = ConfigHash, _commit = Commit;
    private ImmutableArray<string> _dependsOn = DependsOn;
    // Shared by copies ('with'), so that a copy builds the very same dictionary.
    private Snapshot? _snapshot = Fields is null ? null : new Snapshot(Fields, null);
    private ImmutableSortedDictionary<string, LiveHost> _hosts = Hosts;
    private Lazy<LiveService>? _deferred;    // set: every member but Name comes from its value
    private UInt128? _storedDigest;          // the reader's digest of the stored bytes this was read from

    public string Version { get => Decoded._version; init => Own()._version = value; }
    public string ReleaseId { get => Decoded._releaseId; init => Own()._releaseId = value; }
    public string ConfigHash { get => Decoded._configHash; init => Own()._configHash = value; }
    public string Commit { get => Decoded._commit; init => Own()._commit = value; }
    public ImmutableArray<string> DependsOn { get => Decoded._dependsOn; init => Own()._dependsOn = value; }

    public ImmutableSortedDictionary<string, string> Fields
    {
        get => Decoded._snapshot?.Fields!;
        init => Own()._snapshot = value is null ? null : new Snapshot(value, null);
    }

    // Declared after Fields: member order is the stored JSON's property order.
    public ImmutableSortedDictionary<string, LiveHost> Hosts { get => Decoded._hosts; init => Own()._hosts = value; }

    /// <summary>A service whose snapshot is held packed until <see cref="Fields"/> is read. <paramref name="fields"/>
    /// must be exact and name each path once (<see cref="PackedFields.Writer.PathsAscending"/> proves that).</summary>
    public static LiveService FromPacked(string name, string version, string releaseId, string configHash, string commit,
        ImmutableArray<string> dependsOn, PackedFields fields, ImmutableSortedDictionary<string, LiveHost> hosts) =>
        fields.IsExact
            ? new LiveService(name, version, releaseId, configHash, commit, dependsOn, null!, hosts) { _snapshot = new Snapshot(null, fields) }
            : throw new ArgumentException("an inexact packing cannot stand for the fields", nameof(fields));

    /// <summary>A stored service not decoded yet: <paramref name="decode"/> runs once, on first use of any member but
    /// <see cref="Name"/>, and must give a service of that name. The store vouches that the bytes decode (the engine
    /// defers only bytes that decoded before, and only for services the planner is told are converged).</summary>
    public static LiveService Deferred(string name, UInt128 storedDigest, Func<LiveService> decode) =>
        new(name, null!, null!, null!, null!, default, null!, null!)
        {
            _deferred = new Lazy<LiveService>(() =>
            {
                var decoded = decode();
                return decoded.Name == name ? decoded : throw new InvalidDataException($"stored service '{name}' decoded as '{decoded.Name}'");
            }),
            _storedDigest = storedDigest,
        };

    /// <summary>This service, marked as read from stored bytes of that digest (what the engine's converged memo matches).
    /// Any change made with 'with' drops the mark.</summary>
    public LiveService FromStoredBytes(UInt128 storedDigest) => this with { _storedDigest = storedDigest };

    /// <summary>The digest of the stored bytes this service was read from, unless it was built or changed since.</summary>
    public bool TryGetStoredDigest(out UInt128 digest)
    {
        digest = _storedDigest.GetValueOrDefault();
        return _storedDigest.HasValue;
    }

    /// <summary>The snapshot packed in <see cref="Fields"/> order (packed on first use when built from a dictionary).</summary>
    public PackedFields GetPackedFields() => Decoded._snapshot!.Packed;

    private LiveService Decoded => _deferred is null ? this : _deferred.Value;

    /// <summary>Before an init accessor changes a member of a copy: the copy takes the decoded values, and no longer
    /// stands for the stored bytes.</summary>
    private LiveService Own()
    {
        if (_deferred is { } deferred)
        {
            var d = deferred.Value;
            (_version, _releaseId, _configHash, _commit, _dependsOn, _snapshot, _hosts) =
                (d._version, d._releaseId, d._configHash, d._commit, d._dependsOn, d._snapshot, d._hosts);
            _deferred = null;
        }
        _storedDigest = null;
        return this;
    }

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

    // As the compiler would write it, but through the properties: whether something was decoded or built yet must not
    // change equality (the collections compare by reference, as in every record here).
    public bool Equals(LiveService? other) =>
        other is not null && (ReferenceEquals(this, other)
            || (Name == other.Name && Version == other.Version && ReleaseId == other.ReleaseId && ConfigHash == other.ConfigHash
                && Commit == other.Commit && DependsOn.Equals(other.DependsOn) && Fields == other.Fields && Hosts == other.Hosts));

    public override int GetHashCode() => HashCode.Combine(Name, Version, ReleaseId, ConfigHash, Commit);
}

/// <summary>What one host runs for one service. <see cref="PreviousRelease"/> is what rollback flips back to.
/// <see cref="UnknownBecause"/> is set when a step on the host ended without a known outcome (it timed out, its rollback
/// failed): the host may run <see cref="ActiveRelease"/> or another release. The planner then treats the host as not
/// running any release (it is repaired toward the desired one), and apply reads its `current` before anything else.</summary>
public sealed record LiveHost(string Host, string ActiveRelease, string? PreviousRelease, string? UnknownBecause = null);

/// <param name="Commit">The commit whose apply last wrote the toggle (switched it, or created it).</param>
/// <param name="ChangedAt">When that apply wrote it; null in records written before this was kept (the toggle
/// catalog then looks the commit up in history).</param>
public sealed record LiveToggle(string Name, bool Enabled, string Commit, DateTimeOffset? ChangedAt = null);

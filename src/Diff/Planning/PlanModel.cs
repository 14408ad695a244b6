using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Reconciler.Diff.Planning;

// The plan is data only: built by the Planner (pure), rendered by views in src/Reconciler, executed by the
// executor. Everything is sorted so that identical inputs give byte-identical output. JSON form: docs/plan-json.md.

public sealed record Plan(
    int FormatVersion,
    string Environment,
    string Commit,                                     // the revision the desired state was read from
    string? BaseCommit,                                // set for `plan --base` previews (no live state)
    long LiveVersion,                                  // store version the plan was computed from; apply refuses if it moved
    ImmutableArray<ServiceChange> Services,            // every service, no-ops included, sorted by (Wave, Service)
    // Written after Services, which is declared in the body (serialized properties keep declaration order within an order).
    [property: JsonPropertyOrder(1)] ImmutableArray<ToggleChange> Toggles,              // sorted by (Wave, Toggle)
    [property: JsonPropertyOrder(1)] ImmutableArray<PlanWave> Waves)                    // only waves with work, in execution order
{
    public const int CurrentFormatVersion = 1;

    // Services is either the array it was made with or, for a plan made with deferred entries, materialised from them
    // on first read (once, under a lock: the snapshot's save and the views may read a plan on two threads).
    private ImmutableArray<ServiceChange> _services = Services;
    private DeferredEntries? _deferred;

    /// <summary>Every service, no-ops included, sorted by (Wave, Service). On a plan with <see cref="Deferred"/> entries,
    /// reading this materialises them: count with <see cref="ServiceCount"/> and list the work with
    /// <see cref="ServicesWithWork"/> where that is all a caller needs.</summary>
    public ImmutableArray<ServiceChange> Services
    {
        get
        {
            if (_services.IsDefault && _deferred is { } deferred)
                lock (deferred)
                    if (_services.IsDefault) _services = deferred.Materialize();
            return _services;
        }
        init => (_services, _deferred) = (value, null);
    }

    // Methods, not properties: the plan's JSON (the serializer's metadata included) is its data alone.

    /// <summary>Entries kept in another form until read (an incremental plan's no-ops carried over from its snapshot);
    /// null for a plan made with its array.</summary>
    public DeferredEntries? Deferred() => _deferred;

    /// <summary>How many services the plan lists, no-ops included, without materialising deferred entries.</summary>
    public int ServiceCount() => _deferred?.Count ?? _services.Length;

    /// <summary>The services with something to do, in plan order, without materialising deferred entries (they are
    /// no-ops).</summary>
    public IEnumerable<ServiceChange> ServicesWithWork() =>
        (_deferred is { } deferred ? deferred.Listed : _services).Where(s => s.Action != ServiceAction.NoOp);

    /// <summary>This plan with <paramref name="entries"/> as its services (a plan made by merging a snapshot's).</summary>
    public Plan WithDeferred(DeferredEntries entries) => this with { _services = default, _deferred = entries };

    /// <summary>Host groups taken from the Consul catalog, with the hosts and catalog index they resolved to when the
    /// plan was made (null: the environment has none). A saved plan is stale once one of them has other hosts.</summary>
    [JsonPropertyOrder(1)]
    public ImmutableArray<CatalogBinding>? Catalog { get; init; }

    [JsonPropertyOrder(1)]
    public bool HasChanges => ServicesWithWork().Any() || Toggles.Any(t => t.Action != ToggleAction.NoOp);

    /// <summary>The services found converged, that is the no-ops: live runs exactly <see cref="ServiceChange.ToRelease"/>
    /// on exactly the group's hosts and no field differs. What a caller that remembers converged services records (the
    /// engine's converged memo), to pass them back in <see cref="PlanOptions.KnownConverged"/>.</summary>
    public IEnumerable<ServiceChange> ConvergedServices() => Services.Where(s => s.Action == ServiceAction.NoOp);
}

/// <summary>
/// The services of a plan kept in another form until read: an incremental plan keeps the no-ops it carries over from
/// its snapshot as the snapshot's records, so that a plan of 60,000 entries with one change does not make 60,000
/// objects. The views count them, the JSON writer writes them from the records, and anything that reads
/// <see cref="Plan.Services"/> gets them all materialised once.
/// </summary>
public abstract class DeferredEntries
{
    /// <summary>How many entries, deferred or not.</summary>
    public abstract int Count { get; }

    /// <summary>The entries held as objects, in plan order: every entry with work, and perhaps some no-ops. Every
    /// other entry is a no-op.</summary>
    public abstract ImmutableArray<ServiceChange> Listed { get; }

    /// <summary>Every entry, in plan order.</summary>
    protected internal abstract ImmutableArray<ServiceChange> Materialize();
}

/// <summary>One catalog host group as resolved for a plan: its Consul service, the X-Consul-Index of the answer, and
/// its hosts by name.</summary>
public sealed record CatalogBinding(string HostGroup, string Service, ulong Index, ImmutableArray<CatalogMember> Hosts);

/// <summary>A host a catalog group resolved to (what a saved plan compares: a host that moved is not the same host).</summary>
public sealed record CatalogMember(string Host, string Address, int Port);

public enum ServiceAction { NoOp, Create, Upgrade, Downgrade, Reconfigure, Redeploy, Remove,
    // Issue 13: the service is converged in the store, but some hosts drifted from it (PlanOptions.Observed): each of
    // its hosts carries its HostChange.Repair. Executed like a redeploy of those hosts (stage, switch, gate).
    Repair }

public sealed record ServiceChange(
    string Service,
    ServiceAction Action,
    string Reason,                                     // one line a reviewer reads: "version 1.4.2 -> 1.5.0"
    string? FromVersion,
    string? ToVersion,
    string? FromRelease,
    string? ToRelease,
    string HostGroup,
    ImmutableArray<FieldChange> Fields,                // sorted by Path
    ImmutableArray<HostChange> Hosts,                  // rollout order: region order, then as the host group lists them
    int Wave)                                          // 0 for no-ops
{
    /// <summary>How the change rolls out and what a failure does; set for every action that touches hosts or
    /// settings (not for no-ops and removals).</summary>
    public Rollout? Rollout { get; init; }
}

/// <summary>The settings a reviewer weighs the risk of a change by: batching, the health gate, what a failed gate does.</summary>
/// <param name="Strategy">rolling, canary or blue-green.</param>
/// <param name="MaxParallel">Hosts per batch: a count or a percentage of the group.</param>
/// <param name="CanaryHosts">Hosts in the first batch, for canary.</param>
/// <param name="HealthChecks">Checks in the gate (0: the gate only waits minHealthy).</param>
/// <param name="OnFailure">rollback or halt.</param>
public sealed record Rollout(string Strategy, string MaxParallel, int? CanaryHosts, int HealthChecks, int ConsecutivePasses,
    string Deadline, string OnFailure);

public enum FieldChangeKind { Added, Removed, Changed, SecretChanged }

/// <summary>A changed field. For secrets, Before/After hold only the reference, never a value.</summary>
public sealed record FieldChange(string Path, FieldChangeKind Kind, string? Before, string? After);

/// <summary>What happens on one host. ToRelease null = the service is removed from the host.</summary>
public sealed record HostChange(string Host, string? Region, string? FromRelease, string? ToRelease)
{
    /// <summary>Per-host config (issue 14): this host's rendered value of each config key that renders differently on
    /// the group's hosts; null when every host gets the same config.</summary>
    public ImmutableSortedDictionary<string, string>? Config { get; init; }

    /// <summary>Set on the hosts of a <see cref="ServiceAction.Repair"/>: what is done to the drifted host and why.</summary>
    public HostRepair? Repair { get; init; }

    public bool Equals(HostChange? other) =>
        other is not null && Host == other.Host && Region == other.Region && FromRelease == other.FromRelease && ToRelease == other.ToRelease
        && (Config is null ? other.Config is null : other.Config is not null && Config.SequenceEqual(other.Config))
        && Repair == other.Repair;

    public override int GetHashCode() => HashCode.Combine(Host, Region, FromRelease, ToRelease, Config?.Count, Repair);
}

/// <summary>How a drifted host is repaired: switch `current` back to the recorded release, lay the release down again
/// (then switch), or run the restart command again on the same release. Each is the same idempotent stage + switch
/// (+ restart) on the host; the kind says what it will fix.</summary>
public enum RepairKind { ReSwitch, ReStage, Restart }

public sealed record HostRepair(RepairKind Kind, string Reason);

public enum ToggleAction { NoOp, On, Off, Created, Removed }

public sealed record ToggleChange(
    string Toggle,
    ToggleAction Action,
    bool? Before,
    bool? After,
    ImmutableSortedDictionary<string, string> Requires,
    string Reason,
    int Wave);

public enum WaveKind { Deploy, Remove }

/// <summary>One ordered step of execution: its services run in parallel, then its toggles switch.</summary>
public sealed record PlanWave(int Index, WaveKind Kind, ImmutableArray<string> Services, ImmutableArray<string> TogglesBefore, ImmutableArray<string> TogglesAfter);

/// <summary>The desired state cannot be ordered safely; the message says why (e.g. a toggle requirement no
/// reachable version satisfies).</summary>
public sealed class PlanningException(string message) : Exception(message);

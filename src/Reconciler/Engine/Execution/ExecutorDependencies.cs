using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>The side effects the executor needs, behind narrow interfaces so tests use fakes and fake time.</summary>
public sealed record ExecutorDependencies(
    IStateStore Store,
    Func<DriverKind, IHostDriver> Drivers,            // called at most once per kind per apply; the apply disposes them
    IHealthProbe Probe,
    IArtifactFetcher Artifacts,
    ISecretResolver Secrets,
    TimeProvider Time,
    ITogglePublisher? Toggles = null);                // apps' view of toggles (Consul); null = live state only

public sealed record ReconcileOptions
{
    /// <summary>Lock TTL; the lock is renewed every third of it while the apply works.</summary>
    public TimeSpan LockTtl { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Upper bound on host steps (stage, activate, remove) running at once across the whole apply.</summary>
    public int DefaultMaxParallel { get; init; } = 32;
}

/// <summary>
/// The first journal entry of an apply ("begin"): everything a later run needs to resume or roll back without
/// the original process: the plan, the live state before the apply, and the applied field snapshot of every
/// changed service (deploy path, restart/stop command, driver). Stored as JSON in the entry's Detail.
/// </summary>
public sealed record ApplyHeader(
    Plan Plan,
    LiveState Before,
    ImmutableSortedDictionary<string, ImmutableSortedDictionary<string, string>> NewFields);

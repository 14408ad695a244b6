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

    /// <summary>Upper bound on host steps (stage, activate, remove) running at once across the whole apply when no
    /// --max-parallel is given, raised to the largest maxParallel of the plan (<see cref="ParallelismCap"/>).</summary>
    public int DefaultMaxParallel { get; init; } = 32;
}

using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Execution;
using Reconciler.Schema.Model;

namespace Reconciler.Daemon;

/// <summary>
/// The real reconcile pipeline (<see cref="ReconcileService"/>) for commits read from Git: each request gets an
/// artifact fetcher bound to its own commit (<see cref="GitArtifactFetcher"/>), so the daemon deploys exactly the
/// artifacts committed with the YAML it applies, whatever the working tree holds.
/// </summary>
public sealed class CommitReconciler(
    Func<DriverKind, IHostDriver> drivers,
    Drivers.IHealthProbe probe,
    IArtifactFetcher urlArtifacts,
    ISecretResolver secrets,
    State.IStateStore store,
    TimeProvider time,
    string repositoryPath,
    string subdirectory,
    string artifactCache,
    ReconcileOptions? options = null) : IReconciler
{
    public Task<ReconcileOutcome> ReconcileAsync(ReconcileRequest request, IProgress<ApplyProgress>? progress, CancellationToken ct)
    {
        var artifacts = new GitArtifactFetcher(repositoryPath, request.Desired.Revision, subdirectory, artifactCache, urlArtifacts);
        var service = new ReconcileService(new ExecutorDependencies(store, drivers, probe, artifacts, secrets, time),
            (desired, live) => Planner.Plan(desired, live), options);
        return service.ReconcileAsync(request, progress, ct);
    }
}

using Reconciler.Execution;

namespace Reconciler.Daemon;

/// <summary>
/// The real reconcile pipeline (<see cref="ReconcileService"/>, wired by <see cref="ExecutorWiring"/>) for commits
/// read from Git: each request gets an artifact fetcher bound to its own commit (<see cref="GitArtifactFetcher"/>),
/// so the daemon deploys exactly the artifacts committed with the YAML it applies, whatever the working tree holds.
/// </summary>
public sealed class CommitReconciler(
    ExecutorDependencies dependencies,
    string repositoryPath,
    string subdirectory,
    string artifactCache,
    IApplyObserver? observer = null,
    ReconcileOptions? options = null) : IReconciler
{
    public Task<ReconcileOutcome> ReconcileAsync(ReconcileRequest request, IProgress<ApplyProgress>? progress, CancellationToken ct)
    {
        var artifacts = new GitArtifactFetcher(repositoryPath, request.Desired.Revision, subdirectory, artifactCache, dependencies.Artifacts);
        return ExecutorWiring.Reconciler(dependencies with { Artifacts = artifacts }, options, observer).ReconcileAsync(request, progress, ct);
    }
}

using Reconciler.Daemon;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>
/// The daemon's step for one commit (`reconciler run`, docs/cli/run.md): load the commit's desired state and reconcile
/// it into the environment. Whatever happens is a <see cref="CommitResult"/>, which also says whether the commit is
/// settled (never tried again by this process) or is retried at the next interval.
/// </summary>
public sealed class ReconcileCommit(IDesiredStateLoader loader, IReconciler reconciler, string repositoryPath, DaemonOptions options)
{
    /// <param name="starting">Called once the commit validated, just before the apply starts.</param>
    /// <param name="preempt">Signalled when a newer commit arrives: the apply stops its health wait and rolls back.</param>
    /// <param name="stop">SIGTERM: the apply stops at a safe point.</param>
    public async Task<CommitResult> RunAsync(BranchHead head, Action starting, IProgress<ApplyProgress>? progress, CancellationToken preempt,
        CancellationToken stop)
    {
        DesiredState desired;
        try
        {
            desired = loader.Load(repositoryPath, head.Sha, options.Environment);
        }
        catch (ReconcilerException e)
        {
            return CommitResult.NotApplied(head.Sha, e.ToFailure());
        }
        starting();
        try
        {
            return CommitResult.Applied(head.Sha, await reconciler.ReconcileAsync(
                new ReconcileRequest(desired, options.AppliedBy, head.Author, SavedPlan: null, MaxParallel: options.MaxParallel, Preempt: preempt),
                progress, stop));
        }
        catch (ReconcilerException e)
        {
            return CommitResult.NotApplied(head.Sha, e.ToFailure());
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested || preempt.IsCancellationRequested)
        {
            return CommitResult.Applied(head.Sha, new ReconcileOutcome(ApplyResult.Interrupted, null, "interrupted", FailureKind.Interrupted));
        }
    }
}

/// <summary>
/// What the daemon's step for one commit ended with: the reconciler's <see cref="Outcome"/>, or, when it never got
/// that far (the commit does not validate, the store failed), the <see cref="Error"/>.
/// </summary>
public sealed record CommitResult
{
    private CommitResult(string commit, ReconcileOutcome? outcome, Failure? error)
    {
        Commit = commit;
        Outcome = outcome;
        Error = error;
    }

    public static CommitResult Applied(string commit, ReconcileOutcome outcome) => new(commit, outcome, null);

    public static CommitResult NotApplied(string commit, Failure error) => new(commit, null, error);

    public string Commit { get; }

    public ReconcileOutcome? Outcome { get; }

    public Failure? Error { get; }

    /// <summary>Null when the commit was applied or had nothing to do.</summary>
    public FailureKind? Kind => Outcome is { } o ? o.Failure : Error!.Kind;

    public string Message => Outcome?.Message ?? Error!.Message;

    /// <summary>Reached a final result (applied, no changes, rolled back and quarantined, halted, invalid, already
    /// quarantined): never tried again by this process. Interrupted (pre-empted, stopping) and transient failures
    /// are not: the commit is fine, the moment is not.</summary>
    public bool Settled => Outcome is { } o
        ? o.Result != ApplyResult.Interrupted && !(o.Failure is { } kind && IsTransient(kind))
        : !IsTransient(Error!.Kind);

    /// <summary>The word for the log and /status: the apply's result (applied, no-changes, rolled-back, ...),
    /// "invalid", "quarantined", or "retrying".</summary>
    public string Result =>
        Kind == FailureKind.AlreadyQuarantined ? "quarantined"
        : !Settled && Outcome?.Result != ApplyResult.Interrupted ? "retrying"
        : Outcome is { } o ? StatusReports.Kebab(o.Result)
        : "invalid";

    /// <summary>Lock/freeze, store unavailable, lost compare-and-set, a fault of the environment.</summary>
    public static bool IsTransient(FailureKind kind) =>
        kind is FailureKind.LockedOrFrozen or FailureKind.StoreUnavailable or FailureKind.StaleOrConflict or FailureKind.EnvironmentFault;
}

using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Notifications;

/// <summary>
/// Tells an <see cref="IApplyObserver"/> about an apply: <c>start</c> when the reconciler reports its first progress
/// (the lock is taken and work began: refusals for a lock, a freeze or a quarantined commit send nothing), then
/// <c>success</c>, <c>rollback</c> (a failed gate was rolled back, or a newer commit pre-empted the apply) or
/// <c>failure</c> (halted, failed after starting, lock lost). The observer must not throw or block; any exception it
/// throws anyway is swallowed here, so a notification can never fail a deploy.
/// </summary>
public sealed class NotifyingReconciler(IReconciler inner, IApplyObserver observer, TimeProvider time) : IReconciler
{
    public async Task<ReconcileOutcome> ReconcileAsync(ReconcileRequest request, IProgress<ApplyProgress>? progress, CancellationToken ct)
    {
        var watcher = new StartWatcher(this, request, progress);
        var outcome = await inner.ReconcileAsync(request, watcher, ct);
        var kind = outcome.Result switch
        {
            ApplyResult.Succeeded => NotificationEvent.Success,
            ApplyResult.RolledBack => NotificationEvent.Rollback,
            ApplyResult.Interrupted when request.Preempt.IsCancellationRequested => NotificationEvent.Rollback,
            ApplyResult.Halted or ApplyResult.LockBroken => NotificationEvent.Failure,
            ApplyResult.Failed when watcher.Started => NotificationEvent.Failure,
            _ => (NotificationEvent?)null,
        };
        if (kind is { } k) Notify(k, request, outcome.Message, outcome.Plan);
        return outcome;
    }

    private void Notify(NotificationEvent kind, ReconcileRequest request, string message, Diff.Planning.Plan? plan)
    {
        try
        {
            observer.OnApplyEvent(new ApplyEvent(kind, request.Desired, request.AppliedBy, request.CommitAuthor, message, time.GetUtcNow(), plan));
        }
        catch (Exception)
        {
            // A notifier bug must not reach the deploy (the Notifier itself already never throws).
        }
    }

    private sealed class StartWatcher(NotifyingReconciler owner, ReconcileRequest request, IProgress<ApplyProgress>? inner) : IProgress<ApplyProgress>
    {
        private int _started;
        public bool Started => Volatile.Read(ref _started) == 1;

        public void Report(ApplyProgress value)
        {
            if (Interlocked.Exchange(ref _started, 1) == 0)
                owner.Notify(NotificationEvent.Start, request, "", null);
            inner?.Report(value);
        }
    }
}

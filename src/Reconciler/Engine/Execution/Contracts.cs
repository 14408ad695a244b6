using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// One reconcile of one environment at one commit: take the lock, check freeze/quarantine, read live state,
/// plan (or check a saved plan is still current), apply wave by wave, record history, release the lock.
/// Used by `reconciler apply` and by the `reconciler run` daemon alike.
/// </summary>
public interface IReconciler
{
    Task<ReconcileOutcome> ReconcileAsync(ReconcileRequest request, IProgress<ApplyProgress>? progress, CancellationToken ct);
}

public sealed record ReconcileRequest(
    DesiredState Desired,
    string AppliedBy,                  // user@host or "daemon@host"
    string? CommitAuthor,
    Plan? SavedPlan,                   // apply --plan: refuse if live state moved since it was computed
    bool Force = false,                // break a lock/freeze; requires ForceReason, recorded in history
    string? ForceReason = null,
    int? MaxParallel = null,
    // `run` signals this when a newer commit arrives: a health wait still running is cancelled and this
    // commit's changes are rolled back (not quarantined); the outcome is Interrupted.
    CancellationToken Preempt = default,
    // apply --preflight-only: plan and run the preflight checks (docs/apply.md), change nothing, take no lock.
    bool PreflightOnly = false,
    // Issue 13: what the hosts reported (Live.LiveProbe). Set: hosts that drifted from the store are repaired, each as
    // its own planned action (ServiceAction.Repair), through the usual gates.
    Reconciler.Diff.Live.ObservedState? Observed = null);

/// <summary>What one reconcile ended with. <see cref="Failure"/> is null when it did what was asked (applied, or
/// nothing to do); otherwise it says whose fault it was, and the CLI maps it to an exit code.</summary>
public sealed record ReconcileOutcome(
    ApplyResult Result,
    Plan? Plan,
    string Message,                    // one paragraph for humans; on failure says which commit to revert
    FailureKind? Failure)
{
    public bool Succeeded => Failure is null;
}

/// <summary>Progress events for the live display and for the daemon's /status.</summary>
/// <param name="Batch">The 1-based batch of <paramref name="Service"/> the event belongs to (null outside a batch).</param>
/// <param name="Gate">Set on the health gate's per-host round events (Step "gate", Status "checking"): what the host
/// has shown so far. Plain progress lines leave these out (they would repeat every interval).</param>
public sealed record ApplyProgress(string Environment, string Commit, int Wave, string? Service, string? Host, string Step, string Status,
    int? Batch = null, GateProgress? Gate = null);

/// <summary>One host's health gate after a round of checks: <paramref name="PassesSeen"/> consecutive all-green rounds
/// of <paramref name="PassesNeeded"/>, <paramref name="Failures"/> failed rounds in a row (counted after the initial delay;
/// the gate fails at <paramref name="FailureThreshold"/> when set), and the <paramref name="Deadline"/> it must pass by.</summary>
/// <param name="LastProblem">What the last failed round reported (null when the last round passed).</param>
public sealed record GateProgress(int PassesSeen, int PassesNeeded, int Failures, int? FailureThreshold, DateTimeOffset Deadline, string? LastProblem)
{
    public TimeSpan TimeLeft(DateTimeOffset now) => Deadline > now ? Deadline - now : TimeSpan.Zero;
}

/// <summary>
/// Told about an apply at its start, success, failure and rollback (the notification events of reconciler.yaml).
/// The reconciler calls it; <see cref="Reconciler.Notifications.Notifier"/> implements it. Implementations return at
/// once and never throw: a notification must never block or fail a deploy.
/// </summary>
public interface IApplyObserver
{
    void OnApplyEvent(ApplyEvent applyEvent);
}

/// <summary>One apply event. <see cref="Message"/> is the outcome paragraph (never contains secret values).</summary>
public sealed record ApplyEvent(
    NotificationEvent Kind,
    DesiredState Desired,              // environment, commit, and the notification hooks of that commit
    string AppliedBy,
    string? CommitAuthor,
    string Message,
    DateTimeOffset At,
    Plan? Plan = null);

using Reconciler.Diff.Live;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Daemon;

/// <summary>Asks the hosts what they run (<see cref="Live.LiveProbe"/> in production).</summary>
public interface ILiveObserver
{
    Task<ObservedState> ObserveAsync(DesiredState desired, LiveState live, CancellationToken ct);
}

/// <summary>The result of one drift check of the daemon: what the hosts said, and the self-heal apply if one ran.</summary>
public sealed record DriftCheck(ObservedState Observed, ReconcileOutcome? Repair);

/// <summary>
/// The daemon's drift check (issue 13): at its interval, when the branch head is applied and no apply runs, it asks every
/// host of the environment against the desired state of that commit and keeps the answer for /status and metrics. With
/// <c>selfHeal: true</c> in that commit's reconciler.yaml, drifted hosts are repaired as Argo CD's self-heal does: through
/// the reconciler, so a frozen or locked environment refuses it (nothing is changed and the refusal is logged) and every
/// repair is a deploy in history (the service outcome names each host's repair).
/// </summary>
internal sealed class DriftWatch(DaemonOptions options, IDesiredStateLoader loader, string repositoryPath, IReconciler reconciler,
    IStateStore store, ILiveObserver observer, TimeProvider time, Action<string> log)
{
    private DateTimeOffset? _due;

    public ObservedState? Last { get; private set; }

    /// <summary>When the next check is due (null: drift checks are off, or none is scheduled until a commit is applied).</summary>
    public DateTimeOffset? Due => options.DriftInterval is null ? null : _due;

    /// <summary>Schedules the first check right after an applied head (drift is relative to what was applied).</summary>
    public void Applied()
    {
        if (options.DriftInterval is not null) _due = time.GetUtcNow();
    }

    /// <summary>Checks when due: asks the hosts, then self-heals if the commit says so. Never throws but for <paramref name="stop"/>.</summary>
    public async Task<DriftCheck?> CheckIfDueAsync(string appliedCommit, CancellationToken stop)
    {
        if (options.DriftInterval is not { } every || _due is not { } due || time.GetUtcNow() < due) return null;
        _due = time.GetUtcNow() + every;
        try
        {
            var desired = loader.Load(repositoryPath, appliedCommit, options.Environment);
            var live = await store.ReadAsync(options.Environment, stop);
            var observed = await observer.ObserveAsync(desired, live, stop);
            Last = observed;
            var drifted = observed.Drifted.ToList();
            if (drifted.Count > 0)
                log($"drift: {drifted.Count} host(s) differ from the store: " +
                    string.Join("; ", drifted.Take(10).Select(h => $"{h.Service} on {h.Host}: {string.Join(",", h.Drift.Select(DriftWords.Of))}")));
            if (!desired.Repository.SelfHeal || !drifted.Any(h => h.Drift.Any(k => k != DriftKind.Unreachable)))
                return new DriftCheck(observed, null);
            var outcome = await reconciler.ReconcileAsync(
                new ReconcileRequest(desired, options.AppliedBy, null, SavedPlan: null, MaxParallel: options.MaxParallel, Observed: observed), null, stop);
            log(outcome.Failure == FailureKind.LockedOrFrozen
                ? $"self-heal refused, nothing was changed: {outcome.Message}"
                : $"self-heal of {Short(appliedCommit)}: {StatusReports.Kebab(outcome.Result)}. {outcome.Message}");
            return new DriftCheck(observed, outcome);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            log($"drift check failed: {e.Message}");
            return null;
        }
    }

    private static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;
}

using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>What one run of the step function ended with.</summary>
/// <summary>What one run of the step function ended with. <see cref="Kind"/>: whose fault a failure of the environment
/// was (<see cref="ApplyResult.EnvironmentFault"/>: environment fault, store unavailable, conflict).</summary>
internal sealed record RunResult(ApplyResult Result, string Message, ImmutableSortedDictionary<string, string> ServiceOutcomes,
    FailureKind? Kind = null);

internal enum ApplyPhase { Forward, Finish, Rollback, Repair }

/// <summary>What one call of <see cref="ApplyRun.StepAsync"/> did; <see cref="Result"/> is set once the run is over.</summary>
internal sealed record StepProgress(ApplyPhase Phase, string Did, RunResult? Result = null)
{
    public bool Done => Result is not null;
}

/// <summary>Why an <see cref="ApplyRun"/> was made.</summary>
internal enum ApplyIntent
{
    /// <summary>Run (or resume) the plan of the journal header.</summary>
    Apply,
    /// <summary>Return hosts an interrupted apply of another commit left mid-switch to what live state records.</summary>
    Repair,
}

/// <summary>
/// Executes one apply's plan as a re-runnable step function, in the manner of gitops-engine's <c>Sync()</c>: each call
/// of <see cref="StepAsync"/> looks at the journal, does the next unit of work (a wave forward, a part of the rollback,
/// one host of a repair, the end), journals it, and says what it did; the caller calls again until a result comes
/// back. Every unit of work has a <see cref="StepKey"/> and is journaled Started before and Finished after; a Finished
/// step is never redone, a Started one is (drivers are idempotent). A crashed apply is resumed by a new ApplyRun over
/// the same journal: resume is the normal path, not a special case. docs/apply.md describes the steps.
/// </summary>
internal sealed class ApplyRun : IAsyncDisposable
{
    public static readonly string BeginStep = StepKey.Begin.ToString();

    private readonly ApplyContext _run;
    private readonly ApplyIntent _intent;
    private readonly WaveSteps _waves;
    private readonly RollbackSteps _rollback;
    private readonly RepairSteps _repair;
    private int _nextWave;
    private bool _forwardDone;
    private RunResult? _result;

    public ApplyRun(ExecutorDependencies deps, DesiredState desired, ApplyHeader header, string applyId, LiveState current,
        IReadOnlyList<JournalEntry> journal, int maxParallel, IProgress<ApplyProgress>? progress, ApplyIntent intent = ApplyIntent.Apply,
        HostSessions? sessions = null, RunSecrets? secrets = null)
    {
        // sessions: the ones preflight opened (this run owns them from here on).
        _run = new ApplyContext(deps, desired, header, applyId, current, journal, maxParallel, progress, sessions, secrets);
        _intent = intent;
        var toggles = new ToggleSteps(_run);
        _waves = new WaveSteps(_run, new HostSteps(_run), toggles);
        _rollback = new RollbackSteps(_run, toggles);
        _repair = new RepairSteps(_run);
    }

    private Plan Plan => _run.Plan;

    /// <summary>Does the next unit of work. <paramref name="ct"/> stops at a safe point and leaves the journal open for
    /// the next run; <paramref name="preempt"/> cancels health waits and rolls back without quarantine.</summary>
    public async Task<StepProgress> StepAsync(CancellationToken ct, CancellationToken preempt)
    {
        if (_result is not null) throw new InvalidOperationException("the apply run is over");
        var step = _intent == ApplyIntent.Repair ? await _repair.StepAsync()
            : _rollback.Underway || _run.Journal.Contains(StepKey.Rollback) ? await _rollback.StepAsync(ct)
            : !_forwardDone ? await ForwardAsync(ct, preempt)
            : await AfterForwardAsync(ct);
        // Each unit of work ends with the whole journal stored (host steps' Finished entries are written behind).
        await _run.Journal.FlushAsync();
        _result = step.Result;
        return step;
    }

    /// <summary>The next wave. A pre-emption is listened for while waves run; once every wave is done there is nothing
    /// left to pre-empt: a late signal must not undo a finished apply.</summary>
    private async Task<StepProgress> ForwardAsync(CancellationToken ct, CancellationToken preempt)
    {
        // Registering runs the callback at once when the signal came between two steps.
        var preemption = preempt.Register(_run.Preempt);
        try
        {
            if (_nextWave < Plan.Waves.Length)
            {
                ct.ThrowIfCancellationRequested();
                if (!_run.StopNew.IsCancellationRequested)
                {
                    var wave = Plan.Waves[_nextWave++];
                    await _waves.RunAsync(wave, ct, preempt);
                    _forwardDone = _nextWave == Plan.Waves.Length;
                    return new StepProgress(ApplyPhase.Forward, $"wave {wave.Index}");
                }
            }
            // No wave (left) to run, or a failure stopped new work.
            _forwardDone = true;
            return new StepProgress(ApplyPhase.Forward, _run.Failure is { } failure ? "stopped: " + failure : "no wave to run");
        }
        finally
        {
            await preemption.DisposeAsync();
        }
    }

    /// <summary>Every wave ran, or a failure stopped them: finish, decide on a rollback, or halt.</summary>
    private async Task<StepProgress> AfterForwardAsync(CancellationToken ct)
    {
        if (_run.Failure is not { } failure)
            return new StepProgress(ApplyPhase.Finish, "succeeded", await SucceedAsync());
        var kind = _run.Preempted ? FailureKind.Interrupted : _run.FailureKind!.Value;
        var decision = RollbackDecision.For(_run.Preempted ? $"pre-empted: {failure}" : failure, kind);
        // A fault of the environment always undoes what changed (onFailure: halt is for a release that fails on
        // healthy hosts, to look at it where it runs).
        if (!decision.Quarantine || FailurePolicy() == OnFailure.Rollback)
        {
            _rollback.Decide(decision);
            return await _rollback.StepAsync(ct);
        }
        return new StepProgress(ApplyPhase.Finish, "halted", await HaltAsync(failure, ct));
    }

    private async Task<RunResult> SucceedAsync()
    {
        if (!_run.Journal.IsFinished(StepKey.End))
        {
            await _run.Journal.AppendAsync(StepKey.End, JournalStatus.Started, null, CancellationToken.None);
            await _run.State.WriteAsync(StateChange.Empty with { LastGoodCommit = _run.Commit });
            await _run.Journal.AppendAsync(StepKey.End, JournalStatus.Finished, null, CancellationToken.None);
        }
        var changed = Plan.Services.Count(s => s.Action != ServiceAction.NoOp);
        var toggles = Plan.Toggles.Count(t => t.Action != ToggleAction.NoOp);
        return new RunResult(ApplyResult.Succeeded,
            $"applied {ApplyContext.Short(_run.Commit)} to {_run.Env}: {changed} service(s) and {toggles} toggle(s) changed.", _run.Outcomes(halted: false));
    }

    /// <summary>onFailure: halt. Hosts stay as they are; live state already says honestly what runs where.</summary>
    private async Task<RunResult> HaltAsync(string failure, CancellationToken ct)
    {
        var commit = _run.Commit;
        await RecordHaltedHostsAsync();
        await _run.QuarantineAsync($"halted: {failure}");
        await _run.Journal.AppendAsync(StepKey.End, JournalStatus.Failed, failure, ct);
        return new RunResult(ApplyResult.Halted,
            $"apply of {ApplyContext.Short(commit)} to {_run.Env} halted: {failure}. Hosts were left as they are (onFailure: halt); " +
            $"live state records what runs where. Fix forward, or revert commit {commit}: `reconciler revert {commit}` or `git revert {commit}`.",
            _run.Outcomes(halted: true));
    }

    /// <summary>Hosts switched in a batch whose state was never written (its gate failed, or a step stopped it): the store
    /// still names their old release. A finished switch runs the new release; one that did not finish is unknown.</summary>
    private async Task RecordHaltedHostsAsync()
    {
        foreach (var switches in _run.Journal.HostSwitches().Where(k => k.Kind == StepKind.Activate).GroupBy(k => k.Service!))
        {
            var change = Plan.Services.FirstOrDefault(s => s.Service == switches.Key);
            if (change is null) continue;
            var recorded = _run.State.Live.Services.GetValueOrDefault(switches.Key)?.Hosts;
            var hosts = new List<LiveHost>();
            var planned = change.Hosts.DistinctBy(h => h.Host).ToDictionary(h => h.Host, StringComparer.Ordinal);
            foreach (var key in switches)
            {
                if (planned.GetValueOrDefault(key.Host!) is not { ToRelease: { } to } host) continue;
                if (recorded?.GetValueOrDefault(key.Host!) is { UnknownBecause: null } known && known.ActiveRelease == to) continue;
                var previous = host.FromRelease != to ? host.FromRelease : recorded?.GetValueOrDefault(key.Host!)?.PreviousRelease;
                hosts.Add(_run.Journal.IsFinished(key)
                    ? new LiveHost(key.Host!, to, previous)
                    : new LiveHost(key.Host!, to, previous, $"switching to {to} did not finish when apply of {ApplyContext.Short(_run.Commit)} halted"));
            }
            await _run.State.WriteHostsAsync(switches.Key, _run.Desired.Services.GetValueOrDefault(switches.Key), hosts);
        }
    }

    private OnFailure FailurePolicy()
    {
        if (_run.FailedService is { } service && _run.Desired.Services.TryGetValue(service, out var spec) && spec.OnFailure is { } own)
            return own;
        return _run.Desired.EnvironmentSpec.OnFailure ?? _run.Desired.Repository.Defaults.OnFailure;
    }

    public async ValueTask DisposeAsync()
    {
        // A run that stopped with an exception (interrupted, the store gone) still stores what its steps finished, if it
        // can: the fewer steps a resume redoes, the better. What failed here already failed the run.
        try { await _run.Journal.FlushAsync(); }
        catch (Exception e) when (e is not OutOfMemoryException) { }
        await _rollback.DisposeAsync();
        await _run.DisposeAsync();
    }
}

using System.Diagnostics;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.State;
using Reconciler.Telemetry;

namespace Reconciler.Execution;

/// <summary>
/// Undoes what an apply changed, one unit per call of <see cref="StepAsync"/>: begin (journal the reason); then, newest
/// wave first, every host the apply switched goes back to what it ran before (a service the apply created is removed);
/// then the store is restored to its state before the apply in one compare-and-set write, toggles included, and their
/// old values are published; then the rolled-back hosts are gated again; then old releases are pruned (keepReleases
/// holds after failed commits too); then the end. Host steps are journaled, so a crash during the rollback resumes the
/// rollback and skips hosts already back. The rollback opens fresh connections (<see cref="_sessions"/>): the apply's
/// own may be what failed.
/// </summary>
internal sealed class RollbackSteps(ApplyContext run, ToggleSteps toggles) : IAsyncDisposable
{
    private enum Stage { Begin, Hosts, RestoreState, Regate, Prune, End, Done }

    private Stage _stage = Stage.Begin;
    private RollbackDecision? _decision;
    private Activity? _span;
    private List<IGrouping<int, StepKey>> _waves = [];
    private int _nextWave;
    private string? _problem;
    private readonly List<(string Service, GateTarget Target)> _gateTargets = [];
    private readonly HostSessions _sessions = run.NewSessions();
    private readonly HookSteps _hooks = new(run);

    /// <summary>True once this process started (or resumed) the rollback.</summary>
    public bool Underway => _stage != Stage.Begin;

    /// <summary>A rollback this run decided on; without it, a resumed rollback takes its reason from the journal.</summary>
    public void Decide(RollbackDecision decision) => _decision = decision;

    public async Task<StepProgress> StepAsync(CancellationToken ct)
    {
        // The units of one rollback share its span (each call runs in its caller's context, so set it again).
        if (_span is not null) Activity.Current = _span;
        switch (_stage)
        {
            case Stage.Begin:
                await BeginAsync();
                return new StepProgress(ApplyPhase.Rollback, "rollback started: " + _decision!.Reason);
            case Stage.Hosts:
                var wave = _waves[_nextWave++];
                await RollBackHostsAsync(wave);
                if (_nextWave == _waves.Count) _stage = Stage.RestoreState;
                return new StepProgress(ApplyPhase.Rollback, $"hosts of wave {wave.Key} rolled back");
            case Stage.RestoreState:
                await RestoreStateAsync();
                _stage = Stage.Regate;
                return new StepProgress(ApplyPhase.Rollback, "live state restored");
            case Stage.Regate:
                await RegateAsync(ct);
                _stage = Stage.Prune;
                return new StepProgress(ApplyPhase.Rollback, "rolled-back hosts gated");
            case Stage.Prune:
                await PruneAsync();
                _stage = Stage.End;
                return new StepProgress(ApplyPhase.Rollback, "old releases pruned");
            case Stage.End:
                return new StepProgress(ApplyPhase.Rollback, "rollback finished", await EndAsync());
            default:
                throw new InvalidOperationException("the rollback is over");
        }
    }

    private async Task BeginAsync()
    {
        _decision ??= RollbackDecision.FromDetail(run.Journal.FirstDetailOf(StepKey.Rollback));
        _span = ReconcilerTelemetry.Start("rollback", run.Env, run.Commit);
        ReconcilerTelemetry.Rollbacks.Add(1, ReconcilerTelemetry.MetricTags(run.Env));
        if (!run.Journal.Contains(StepKey.Rollback))
            await run.Journal.AppendAsync(StepKey.Rollback, JournalStatus.Started, _decision.ToDetail(), CancellationToken.None);
        run.Report(0, null, null, "rollback", "started: " + _decision.Reason);

        // Hosts this apply touched: any activate/remove step that started, newest wave first.
        _waves = [.. run.Journal.HostSwitches().GroupBy(s => s.Wave).OrderByDescending(g => g.Key)];
        _stage = _waves.Count > 0 ? Stage.Hosts : Stage.RestoreState;
    }

    private async Task RollBackHostsAsync(IEnumerable<StepKey> switches)
    {
        var results = await Task.WhenAll(switches.Select(async s =>
        {
            try
            {
                var target = await RollBackHostAsync(s.Service!, s.Host!);
                if (target is not null) lock (_gateTargets) _gateTargets.Add((s.Service!, target));
                return null;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return e is HostStepException ? e.Message : $"{s.Host}: {e.Message}";
            }
        }));
        _problem ??= results.FirstOrDefault(r => r is not null);
    }

    /// <summary>Flips one host of one service back to what it ran before this apply, with the deploy settings it ran
    /// with. Returns the gate target when the host runs a release again.</summary>
    private async Task<GateTarget?> RollBackHostAsync(string service, string host)
    {
        var key = StepKey.RollbackOf(service, host);
        var previous = run.Header.Before.Services.GetValueOrDefault(service)?.Hosts.GetValueOrDefault(host)?.ActiveRelease;
        var deploy = run.Header.DeploysOf(service).Recorded;
        var hostSpec = run.FindHost(host);
        var session = await _sessions.OpenAsync(deploy.Driver, hostSpec);
        if (!run.Journal.IsFinished(key))
        {
            await run.Journal.AppendAsync(key, JournalStatus.Started, previous, CancellationToken.None);
            run.Report(0, service, host, "rollback", previous is null ? "removing" : $"to {previous}");
            if (previous is null)
                await session.RemoveAsync(deploy.Path, deploy.StopCommand, CancellationToken.None);
            else
                await _hooks.AroundSwitchAsync(0, session, service, deploy.Path, previous,
                    () => session.ActivateAsync(deploy.Path, previous, deploy.RestartCommand, CancellationToken.None));
            await run.Journal.AppendAsync(key, JournalStatus.Finished, previous, CancellationToken.None);
        }
        return previous is null ? null : new GateTarget(hostSpec, session, previous, session.PathOnHost(deploy.Path));
    }

    /// <summary>Every service and toggle the plan touches goes back to its value before the apply.</summary>
    private async Task RestoreStateAsync()
    {
        if (run.Journal.IsFinished(StepKey.RollbackState)) return;
        var before = run.Header.Before;
        var live = run.State.Live;
        var touchedServices = run.Plan.Services.Where(s => s.Action != ServiceAction.NoOp).Select(s => s.Service).ToList();
        var touchedToggles = run.Plan.Toggles.Where(t => t.Action != ToggleAction.NoOp).Select(t => t.Toggle).ToList();
        var restore = new StateChange(
            [.. touchedServices.Where(before.Services.ContainsKey).Select(s => before.Services[s])],
            [.. touchedServices.Where(s => !before.Services.ContainsKey(s) && live.Services.ContainsKey(s))],
            [.. touchedToggles.Where(before.Toggles.ContainsKey).Select(t => before.Toggles[t])],
            [.. touchedToggles.Where(t => !before.Toggles.ContainsKey(t) && live.Toggles.ContainsKey(t))]);
        await run.Journal.AppendAsync(StepKey.RollbackState, JournalStatus.Started, null, CancellationToken.None);
        await run.State.WriteAsync(restore);
        await RecordUnknownHostsAsync();
        _problem ??= await toggles.PublishAsync(touchedToggles.ToDictionary(t => t,
            t => before.Toggles.TryGetValue(t, out var old) ? old.Enabled : (bool?)null));
        await run.Journal.AppendAsync(StepKey.RollbackState, JournalStatus.Finished, null, CancellationToken.None);
    }

    /// <summary>Hosts this apply switched whose switch back did not finish (it failed, or never got a connection): the
    /// store must not claim they run their old release. They are recorded as unknown; the next apply reads their
    /// `current` first and repairs them.</summary>
    private async Task RecordUnknownHostsAsync()
    {
        var unfinished = run.Journal.HostSwitches().Select(s => StepKey.RollbackOf(s.Service!, s.Host!)).Distinct()
            .Where(k => !run.Journal.IsFinished(k)).ToList();
        foreach (var service in unfinished.GroupBy(k => k.Service!))
        {
            var switchedTo = run.Plan.Services.FirstOrDefault(s => s.Service == service.Key)?.Hosts;
            var before = run.Header.Before.Services.GetValueOrDefault(service.Key)?.Hosts;
            var hosts = service.Select(k =>
            {
                var old = before?.GetValueOrDefault(k.Host!);
                var release = switchedTo?.FirstOrDefault(h => h.Host == k.Host)?.ToRelease ?? old?.ActiveRelease ?? "none";
                return new LiveHost(k.Host!, release, old?.ActiveRelease,
                    $"rolling back apply of {ApplyContext.Short(run.Commit)} did not complete on this host ({_problem ?? "interrupted"})");
            }).ToList();
            await run.State.WriteHostsAsync(service.Key, run.Desired.Services.GetValueOrDefault(service.Key), hosts);
        }
    }

    /// <summary>The rolled-back hosts must be healthy again, with the checks of the commit their release came from (recorded
    /// in live state before the apply): the failed commit's checks may test what only its new release does.</summary>
    private async Task RegateAsync(CancellationToken ct)
    {
        foreach (var group in _gateTargets.GroupBy(t => t.Service))
        {
            if (_problem is not null) continue;
            var health = run.Header.Before.Services.GetValueOrDefault(group.Key)?.Fields is { } fields ? RecordedHealth.FromFields(fields) : null;
            if (health is null)
            {
                // Not recorded in a form this version reads: gate with the commit's own checks, and say so.
                if (!run.Desired.Services.TryGetValue(group.Key, out var spec)) continue;
                run.Report(0, group.Key, null, "rollback", "gating the restored release with this commit's checks: its own are not recorded");
                health = spec.Health;
            }
            var result = await run.Gate.WaitAsync(group.Key, health, [.. group.Select(g => g.Target)], run.Env, run.Commit, ct);
            if (!result.Passed)
            {
                _problem = $"{group.Key} after rollback: {result.Detail}";
                continue;
            }
            // Healthy again: back into traffic (the hooks of this commit drained it).
            try
            {
                await _hooks.AfterGateAsync(0, group.Key, run.Header.DeploysOf(group.Key).Recorded.Path, group.Select(g => g.Target));
            }
            catch (Exception e) when (e is HostStepException or ReconcilerException)
            {
                _problem = $"{group.Key} after rollback: {e.Message}";
            }
        }
    }

    /// <summary>Consecutive failed commits must not grow releases/ past keepReleases: every host this apply staged or
    /// switched keeps `keepReleases` again (its settings before the apply), never the release it runs now or its previous
    /// one. Not after a rollback that did not complete: those hosts need attention, and their releases stay for it.</summary>
    private async Task PruneAsync()
    {
        if (_problem is not null) return;
        await Task.WhenAll(run.Journal.HostsWithHostSteps().Select(async step =>
        {
            var before = run.Header.Before.Services.GetValueOrDefault(step.Service)?.Hosts.GetValueOrDefault(step.Host);
            if (before is null) return;   // the apply created the service here: its releases stay for a quick revert
            var deploy = run.Header.DeploysOf(step.Service).Recorded;
            System.Collections.Immutable.ImmutableArray<string> protect =
                before.PreviousRelease is null ? [before.ActiveRelease] : [before.ActiveRelease, before.PreviousRelease];
            await run.HostSlots.WaitAsync(CancellationToken.None);
            try
            {
                var session = await _sessions.OpenAsync(deploy.Driver, run.FindHost(step.Host));
                await session.PruneAsync(deploy.Path, deploy.KeepReleases, protect, CancellationToken.None);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                run.Report(0, step.Service, step.Host, "prune", "warning: " + e.Message);   // space, not correctness
            }
            finally
            {
                run.HostSlots.Release();
            }
        }));
    }

    private async Task<RunResult> EndAsync()
    {
        var (decision, problem, commit, env) = (_decision!, _problem, run.Commit, run.Env);
        var reason = decision.Reason;
        if (decision.Quarantine) await run.QuarantineAsync(reason);
        run.Report(0, null, null, "rollback", problem is null ? (decision.Quarantine ? $"finished; {ApplyContext.Short(commit)} quarantined" : "finished") : "failed: " + problem);
        await run.Journal.AppendAsync(StepKey.Rollback, problem is null ? JournalStatus.Finished : JournalStatus.Failed, problem, CancellationToken.None);
        _stage = Stage.Done;
        await DisposeAsync();
        var revert = $"revert commit {commit}: `reconciler revert {commit}` or `git revert {commit}`";
        if (problem is not null)
            return new RunResult(ApplyResult.Halted,
                $"apply of {ApplyContext.Short(commit)} to {env} failed ({reason}) and the rollback did not complete: {problem}. " +
                $"Hosts need attention; the journal names every step. " +
                (decision.Quarantine ? $"Then {revert}." : "The commit is not quarantined: once the hosts are fixed, apply it again."), run.Outcomes(halted: true));
        if (decision.Kind == FailureKind.Interrupted)
            return new RunResult(ApplyResult.Interrupted,
                $"apply of {ApplyContext.Short(commit)} to {env} was pre-empted by a newer commit and rolled back; it is not quarantined.",
                run.Outcomes(halted: false, rolledBack: true));
        if (!decision.Quarantine)
            return new RunResult(ApplyResult.EnvironmentFault,
                $"apply of {ApplyContext.Short(commit)} to {env} failed because of the environment, not the commit: {reason}. Every change was rolled back " +
                "and the commit is not quarantined. Fix the cause and apply it again (`reconciler run` retries it by itself).",
                run.Outcomes(halted: false, rolledBack: true), decision.Kind);
        return new RunResult(ApplyResult.RolledBack,
            $"apply of {ApplyContext.Short(commit)} to {env} failed: {reason}. Every change was rolled back and the commit is quarantined " +
            $"(it will not be retried). To bring Git back in line, {revert}.", run.Outcomes(halted: false, rolledBack: true));
    }

    /// <summary>Ends the rollback's span and closes its connections (also when the run stops before the rollback is over).</summary>
    public async ValueTask DisposeAsync()
    {
        _span?.Dispose();
        _span = null;
        await _sessions.DisposeAsync();
    }
}

using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Telemetry;

namespace Reconciler.Execution;

/// <summary>What one run of the step function ended with.</summary>
internal sealed record RunResult(ApplyResult Result, string Message, ImmutableSortedDictionary<string, string> ServiceOutcomes);

/// <summary>
/// Executes one apply's plan as a re-runnable step function. Every unit of work (stage a host, activate a host,
/// gate a batch, write a batch's state, switch a toggle, roll a host back) has a stable step key; it is journaled
/// Started before and Finished after. A Finished step is never redone; a Started one is redone (drivers are
/// idempotent). A crashed apply is resumed by constructing a new ApplyRun over the same journal: resume is the
/// normal path, not a special case. docs/apply.md describes the steps.
/// </summary>
internal sealed class ApplyRun : IAsyncDisposable
{
    public const string BeginStep = "begin";
    public const string RollbackStep = "rollback";

    private readonly ExecutorDependencies _deps;
    private readonly DesiredState _desired;
    private readonly ApplyHeader _header;
    private readonly string _applyId;
    private readonly IProgress<ApplyProgress>? _progress;
    private readonly HealthGate _gate;
    private readonly SemaphoreSlim _hostSlots;
    private readonly SemaphoreSlim _stateWrite = new(1, 1);
    private readonly ConcurrentDictionary<string, JournalStatus> _steps = new(StringComparer.Ordinal);
    private readonly List<JournalEntry> _entries = [];
    private readonly ConcurrentDictionary<DriverKind, IHostDriver> _drivers = new();
    private readonly ConcurrentDictionary<(DriverKind, string), Lazy<Task<IHostSession>>> _sessions = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<ReleaseBundle>>> _bundles = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopNew = new();
    private readonly object _failureLock = new();
    private LiveState _live;
    private string? _failure;
    private string? _failedService;
    private bool _preempted;

    private Plan Plan => _header.Plan;
    private string Env => Plan.Environment;
    private string Commit => Plan.Commit;

    public ApplyRun(ExecutorDependencies deps, DesiredState desired, ApplyHeader header, string applyId, LiveState current,
        IReadOnlyList<JournalEntry> journal, int maxParallel, IProgress<ApplyProgress>? progress)
    {
        _deps = deps;
        _desired = desired;
        _header = header;
        _applyId = applyId;
        _live = current;
        _progress = progress;
        _gate = new HealthGate(deps.Probe, deps.Time);
        _hostSlots = new SemaphoreSlim(Math.Max(1, maxParallel));
        foreach (var e in journal.Where(e => e.ApplyId == applyId))
        {
            _entries.Add(e);
            _steps[e.Step] = e.Status;
        }
    }

    public bool RollbackInProgress => _steps.ContainsKey(RollbackStep);

    // ---------------------------------------------------------------- forward

    /// <summary>Runs (or resumes) the plan. <paramref name="ct"/> stops at a safe point and leaves the journal
    /// open for the next run; <paramref name="preempt"/> cancels health waits and rolls back without quarantine.</summary>
    public async Task<RunResult> RunAsync(CancellationToken ct, CancellationToken preempt)
    {
        if (RollbackInProgress)
        {
            var reason = _entries.First(e => e.Step == RollbackStep).Detail ?? "an earlier run failed";
            return await FinishRollbackAsync(reason, quarantine: !reason.StartsWith("pre-empted", StringComparison.Ordinal), ct);
        }

        var preemptRegistration = preempt.Register(() =>
        {
            _preempted = true;
            Fail(null, "pre-empted by a newer commit");
        });
        try
        {
            await RunWavesAsync(ct, preempt);
        }
        finally
        {
            // Once every wave is done there is nothing left to pre-empt: a late signal must not undo a finished apply.
            await preemptRegistration.DisposeAsync();
        }

        if (_failure is null)
            return await FinishSuccessAsync(ct);

        var policy = FailurePolicy();
        if (_preempted || policy == OnFailure.Rollback)
            return await FinishRollbackAsync(_preempted ? $"pre-empted: {_failure}" : _failure, quarantine: !_preempted, ct);

        // onFailure: halt. Hosts stay as they are; live state already says honestly what runs where.
        await QuarantineAsync($"halted: {_failure}", ct);
        await JournalAsync("end", JournalStatus.Failed, _failure, ct);
        return new RunResult(ApplyResult.Halted,
            $"apply of {Short(Commit)} to {Env} halted: {_failure}. Hosts were left as they are (onFailure: halt); " +
            $"live state records what runs where. Fix forward, or revert commit {Commit}: `reconciler revert {Commit}` or `git revert {Commit}`.",
            Outcomes(halted: true));
    }

    private async Task RunWavesAsync(CancellationToken ct, CancellationToken preempt)
    {
        foreach (var wave in Plan.Waves)
        {
            ct.ThrowIfCancellationRequested();
            if (_stopNew.IsCancellationRequested) return;
            using var waveSpan = ReconcilerTelemetry.Start("wave", Env, Commit);
            waveSpan?.SetTag("reconciler.wave", wave.Index);
            Report(wave.Index, null, null, "wave", "started");
            await SwitchTogglesAsync(wave, wave.TogglesBefore, "before", ct);
            await Task.WhenAll(wave.Services.Select(s => RunServiceGuardedAsync(wave, s, ct, preempt)));
            ct.ThrowIfCancellationRequested();
            if (_stopNew.IsCancellationRequested) return;
            await SwitchTogglesAsync(wave, wave.TogglesAfter, "after", ct);
            Report(wave.Index, null, null, "wave", "finished");
        }
    }

    private async Task RunServiceGuardedAsync(PlanWave wave, string service, CancellationToken ct, CancellationToken preempt)
    {
        try
        {
            await RunServiceAsync(wave, service, ct, preempt);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException) when (_stopNew.IsCancellationRequested)
        {
            // Another service failed (or a pre-emption arrived): this one stopped at a safe point.
        }
        catch (OperationCanceledException) when (preempt.IsCancellationRequested)
        {
            // Pre-empted, and the wait noticed before the pre-emption callback recorded it (the token's callbacks run
            // one after another, the gate's linked token first): record it here; the first reason recorded wins.
            _preempted = true;
            Fail(null, "pre-empted by a newer commit");
        }
        catch (Exception e) when (e is HostStepException or ReconcilerException or IOException)
        {
            Fail(service, $"{service}: {e.Message}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fail(service, $"{service}: {e.GetType().Name}: {e.Message}");
        }
    }

    private async Task RunServiceAsync(PlanWave wave, string service, CancellationToken ct, CancellationToken preempt)
    {
        var change = Plan.Services.First(s => s.Service == service);
        var doneStep = $"w{wave.Index}/{service}/done";
        if (IsFinished(doneStep)) return;
        using var span = ReconcilerTelemetry.Start("service", Env, Commit);
        span?.SetTag("reconciler.service", service);
        span?.SetTag("reconciler.action", change.Action.ToString().ToLowerInvariant());
        Report(wave.Index, service, null, "service", "started");

        if (change.Action == ServiceAction.Remove)
        {
            await RemoveServiceAsync(wave, change, ct);
        }
        else
        {
            var spec = _desired.Services.TryGetValue(service, out var s) ? s
                : throw new ReconcilerException(FailureKind.InvalidInput, $"service '{service}' is in the plan but not in the desired state of {Short(Commit)}; plan again.");
            var group = _desired.EnvironmentSpec.HostGroups.TryGetValue(spec.HostGroup, out var g) ? g.Hosts.Length : change.Hosts.Length;
            var batches = Batching.Split(spec.Strategy, change.Hosts, group);
            if (batches.IsEmpty) batches = [[]];   // no host work (e.g. a state-only change): one state write
            for (var i = 0; i < batches.Length; i++)
                await RunBatchAsync(wave, change, spec, i, batches[i], last: i == batches.Length - 1, ct, preempt);
            await PruneAsync(change, spec);
        }
        await JournalAsync(doneStep, JournalStatus.Finished, change.Reason, ct);
        Report(wave.Index, service, null, "service", "finished");
    }

    private async Task RunBatchAsync(PlanWave wave, ServiceChange change, ServiceSpec spec, int index, ImmutableArray<HostChange> batch,
        bool last, CancellationToken ct, CancellationToken preempt)
    {
        var prefix = $"w{wave.Index}/{change.Service}/batch-{index + 1}";
        if (IsFinished($"{prefix}/state")) return;
        StopIfRequested(ct);
        using var span = ReconcilerTelemetry.Start("batch", Env, Commit);
        span?.SetTag("reconciler.service", change.Service);
        span?.SetTag("reconciler.batch", index + 1);

        var work = batch.Where(h => NeedsHostWork(change, h)).ToList();
        var deploys = work.Where(h => h.ToRelease is not null).ToList();
        // Stage everywhere first, then switch: the window in which hosts of a batch differ stays short, and for
        // blue-green (one batch of all hosts) the new release sits beside the old on every host before any switch.
        await Task.WhenAll(deploys.Select(h => HostStepAsync(wave, change, h.Host, "stage", ct, session => StageAsync(session, spec))));
        StopIfRequested(ct);
        await Task.WhenAll(deploys.Select(h => HostStepAsync(wave, change, h.Host, "activate", ct,
            session => session.ActivateAsync(spec.Deploy.Path, h.ToRelease!, spec.Deploy.RestartCommand, CancellationToken.None))));
        await Task.WhenAll(work.Where(h => h.ToRelease is null && IsDefined(h.Host)).Select(h => HostStepAsync(wave, change, h.Host, "remove", ct,
            session => session.RemoveAsync(spec.Deploy.Path, spec.Deploy.StopCommand, CancellationToken.None))));
        foreach (var gone in work.Where(h => h.ToRelease is null && !IsDefined(h.Host)))
            Report(wave.Index, change.Service, gone.Host, "remove", "skipped: the host is no longer in the environment; live state forgets it");
        ReconcilerTelemetry.HostsDeployed.Add(deploys.Count, ReconcilerTelemetry.Tags(Env, Commit));

        var gateStep = $"{prefix}/gate";
        if (deploys.Count > 0 && !IsFinished(gateStep))
        {
            StopIfRequested(ct);
            await JournalAsync(gateStep, JournalStatus.Started, null, ct);
            Report(wave.Index, change.Service, null, "gate", "waiting");
            var targets = new List<GateTarget>();
            foreach (var h in deploys)
                targets.Add(new GateTarget(FindHost(h.Host), await SessionAsync(spec.Deploy.Driver, FindHost(h.Host)), h.ToRelease!,
                    PathOnHost(spec.Deploy.Driver, h.Host, spec.Deploy.Path)));
            using var waitToken = CancellationTokenSource.CreateLinkedTokenSource(ct, preempt, _stopNew.Token);
            var result = await _gate.WaitAsync(change.Service, spec.Health, targets, Env, Commit, waitToken.Token);
            if (!result.Passed)
            {
                await JournalAsync(gateStep, JournalStatus.Failed, result.Detail, CancellationToken.None);
                Report(wave.Index, change.Service, null, "gate", "failed: " + result.Detail);
                throw new ReconcilerException(FailureKind.CommitFault, $"health gate failed after batch {index + 1}: {result.Detail}");
            }
            await JournalAsync(gateStep, JournalStatus.Finished, result.Detail, CancellationToken.None);
            Report(wave.Index, change.Service, null, "gate", "passed");
        }

        // Honest live state after every batch: a crash mid-service leaves the store saying what runs where.
        await JournalAsync($"{prefix}/state", JournalStatus.Started, null, CancellationToken.None);
        await WriteServiceStateAsync(change, spec, batch, last);
        await JournalAsync($"{prefix}/state", JournalStatus.Finished, null, CancellationToken.None);
    }

    private static bool NeedsHostWork(ServiceChange change, HostChange h) =>
        change.Action == ServiceAction.Redeploy || h.FromRelease != h.ToRelease;

    private async Task RemoveServiceAsync(PlanWave wave, ServiceChange change, CancellationToken ct)
    {
        var fields = _header.Before.Services.TryGetValue(change.Service, out var old) ? old.Fields : ImmutableSortedDictionary<string, string>.Empty;
        var (driver, path, _, stop) = DeployOf(fields);
        await Task.WhenAll(change.Hosts.Where(h => IsDefined(h.Host)).Select(h => HostStepAsync(wave, change, h.Host, "remove", ct,
            session => session.RemoveAsync(path, stop, CancellationToken.None), driver)));
        await JournalAsync($"w{wave.Index}/{change.Service}/state", JournalStatus.Started, null, CancellationToken.None);
        await WriteAsync(new StateChange([], [change.Service], [], []));
        await JournalAsync($"w{wave.Index}/{change.Service}/state", JournalStatus.Finished, null, CancellationToken.None);
    }

    /// <summary>One host step: skipped when journaled Finished; otherwise journaled around the work. The work
    /// itself is not cancelled: a host is never left between two steps inconsistent with the journal.</summary>
    private async Task HostStepAsync(PlanWave wave, ServiceChange change, string host, string step, CancellationToken ct,
        Func<IHostSession, Task> work, DriverKind? driver = null)
    {
        var key = $"w{wave.Index}/{change.Service}/{host}/{step}";
        if (IsFinished(key)) return;
        await _hostSlots.WaitAsync(ct);
        try
        {
            StopIfRequested(ct);
            using var span = ReconcilerTelemetry.Start("host " + step, Env, Commit);
            span?.SetTag("reconciler.service", change.Service);
            span?.SetTag("reconciler.host", host);
            await JournalAsync(key, JournalStatus.Started, null, CancellationToken.None);
            Report(wave.Index, change.Service, host, step, "started");
            try
            {
                var spec = FindHost(host);
                var kind = driver ?? _desired.Services[change.Service].Deploy.Driver;
                var session = await SessionAsync(kind, spec);
                await work(session);
            }
            catch (Exception e)
            {
                span?.SetStatus(ActivityStatusCode.Error, e.Message);
                await JournalAsync(key, JournalStatus.Failed, e.Message, CancellationToken.None);
                Report(wave.Index, change.Service, host, step, "failed: " + e.Message);
                throw e is HostStepException ? e : new HostStepException(host, step, e.Message, e);
            }
            await JournalAsync(key, JournalStatus.Finished, null, CancellationToken.None);
            Report(wave.Index, change.Service, host, step, "finished");
        }
        finally
        {
            _hostSlots.Release();
        }
    }

    private async Task StageAsync(IHostSession session, ServiceSpec spec)
    {
        var bundle = await _bundles.GetOrAdd(spec.Name, _ => new Lazy<Task<ReleaseBundle>>(() => BuildBundleAsync(spec))).Value;
        await session.StageAsync(bundle, CancellationToken.None);
    }

    /// <summary>Fetches the artifact and resolves secrets once per service; values live only in memory.</summary>
    private async Task<ReleaseBundle> BuildBundleAsync(ServiceSpec spec)
    {
        var artifact = spec.Artifact with { Url = spec.Artifact.Url.Replace("${version}", spec.Version, StringComparison.Ordinal) };
        var path = await _deps.Artifacts.FetchAsync(artifact, CancellationToken.None);
        var config = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in spec.Config)
            config[key] = value switch
            {
                ConfigValue.Literal l => l.Value,
                ConfigValue.Secret s => await _deps.Secrets.ResolveAsync(s.Reference, CancellationToken.None),
                _ => throw new InvalidOperationException($"unknown config value kind for {key}"),
            };
        return new ReleaseBundle(spec.Name, spec.Deploy.Path, ServiceFields.ReleaseId(spec), path, artifact.Sha256, config.ToImmutable());
    }

    private async Task SwitchTogglesAsync(PlanWave wave, ImmutableArray<string> toggles, string when, CancellationToken ct)
    {
        foreach (var name in toggles.IsDefault ? [] : toggles)
        {
            var key = $"w{wave.Index}/toggle/{name}/{when}";
            if (IsFinished(key)) continue;
            StopIfRequested(ct);
            var toggle = Plan.Toggles.First(t => t.Toggle == name);
            await JournalAsync(key, JournalStatus.Started, null, CancellationToken.None);
            var change = toggle.Action == ToggleAction.Removed
                ? new StateChange([], [], [], [name])
                : new StateChange([], [], [new LiveToggle(name, toggle.After ?? false, Commit)], []);
            await WriteAsync(change);
            if (await PublishTogglesAsync(new Dictionary<string, bool?> { [name] = toggle.Action == ToggleAction.Removed ? null : toggle.After ?? false })
                is { } publishError)
            {
                Fail(null, $"toggle {name}: {publishError}");   // the rollback restores live state and publishes the old value
                return;
            }
            await JournalAsync(key, JournalStatus.Finished, null, CancellationToken.None);
            Report(wave.Index, null, null, $"toggle {name}", toggle.After == true ? "on" : "off");
        }
    }

    /// <summary>Apps see a toggle switch right after live state records it; a re-run after a crash publishes again
    /// (the journal step is not finished yet), which is harmless since the values are absolute.</summary>
    /// <returns>null when published (or nothing to publish), else what went wrong.</returns>
    private async Task<string?> PublishTogglesAsync(IReadOnlyDictionary<string, bool?> toggles)
    {
        if (_deps.Toggles is null || toggles.Count == 0) return null;
        try
        {
            await _deps.Toggles.PublishAsync(Env, toggles, CancellationToken.None);
            return null;
        }
        catch (Exception e) when (e is HostStepException or ReconcilerException or HttpRequestException or Consul.ConsulException)
        {
            return $"publishing toggles failed: {e.Message}";
        }
    }

    private async Task<RunResult> FinishSuccessAsync(CancellationToken ct)
    {
        if (!IsFinished("end"))
        {
            await JournalAsync("end", JournalStatus.Started, null, CancellationToken.None);
            await WriteAsync(StateChange.Empty with { LastGoodCommit = Commit });
            await JournalAsync("end", JournalStatus.Finished, null, CancellationToken.None);
        }
        _ = ct;
        var changed = Plan.Services.Count(s => s.Action != ServiceAction.NoOp);
        var toggles = Plan.Toggles.Count(t => t.Action != ToggleAction.NoOp);
        return new RunResult(ApplyResult.Succeeded,
            $"applied {Short(Commit)} to {Env}: {changed} service(s) and {toggles} toggle(s) changed.", Outcomes(halted: false));
    }

    // ---------------------------------------------------------------- failure and rollback

    private void Fail(string? service, string reason)
    {
        lock (_failureLock)
        {
            if (_failure is not null) return;
            _failure = reason;
            _failedService = service;
        }
        _stopNew.Cancel();
    }

    private void StopIfRequested(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        _stopNew.Token.ThrowIfCancellationRequested();
    }

    private OnFailure FailurePolicy()
    {
        if (_failedService is not null && _desired.Services.TryGetValue(_failedService, out var spec) && spec.OnFailure is { } own)
            return own;
        return _desired.EnvironmentSpec.OnFailure ?? _desired.Repository.Defaults.OnFailure;
    }

    /// <summary>
    /// Undoes what this apply changed, in reverse: toggles it switched on go off first, then hosts flip back to their
    /// previous release (or lose a service this apply created) in reverse wave order, then toggles it switched off go
    /// back on, and the store is restored to the state before the apply in one compare-and-set write. Rolled-back
    /// hosts are gated again. Each rollback step is journaled, so a crash during rollback resumes the rollback.
    /// </summary>
    private async Task<RunResult> FinishRollbackAsync(string reason, bool quarantine, CancellationToken ct)
    {
        using var span = ReconcilerTelemetry.Start("rollback", Env, Commit);
        ReconcilerTelemetry.Rollbacks.Add(1, ReconcilerTelemetry.Tags(Env, Commit));
        if (!_steps.ContainsKey(RollbackStep))
            await JournalAsync(RollbackStep, JournalStatus.Started, reason, CancellationToken.None);
        Report(0, null, null, "rollback", "started: " + reason);

        // Hosts this apply touched: any activate/remove step that started, newest wave first.
        var touched = _entries
            .Select(e => ParseHostStep(e.Step))
            .Where(s => s is not null && s.Value.Step is "activate" or "remove")
            .Select(s => s!.Value)
            .Distinct()
            .GroupBy(s => s.Wave)
            .OrderByDescending(g => g.Key)
            .ToList();

        string? problem = null;
        var gateTargets = new List<(string Service, GateTarget Target)>();
        foreach (var wave in touched)
        {
            var results = await Task.WhenAll(wave.Select(async s =>
            {
                try
                {
                    var target = await RollbackHostAsync(s.Service, s.Host);
                    if (target is not null) lock (gateTargets) gateTargets.Add((s.Service, target));
                    return null;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    return e is HostStepException ? e.Message : $"{s.Host}: {e.Message}";
                }
            }));
            problem ??= results.FirstOrDefault(r => r is not null);
        }

        // Restore the store: every service and toggle the plan touches goes back to its value before the apply.
        var touchedServices = Plan.Services.Where(s => s.Action != ServiceAction.NoOp).Select(s => s.Service).ToList();
        var touchedToggles = Plan.Toggles.Where(t => t.Action != ToggleAction.NoOp).Select(t => t.Toggle).ToList();
        var restore = new StateChange(
            [.. touchedServices.Where(_header.Before.Services.ContainsKey).Select(s => _header.Before.Services[s])],
            [.. touchedServices.Where(s => !_header.Before.Services.ContainsKey(s) && _live.Services.ContainsKey(s))],
            [.. touchedToggles.Where(_header.Before.Toggles.ContainsKey).Select(t => _header.Before.Toggles[t])],
            [.. touchedToggles.Where(t => !_header.Before.Toggles.ContainsKey(t) && _live.Toggles.ContainsKey(t))]);
        if (!IsFinished("rollback/state"))
        {
            await JournalAsync("rollback/state", JournalStatus.Started, null, CancellationToken.None);
            await WriteAsync(restore);
            problem ??= await PublishTogglesAsync(touchedToggles.ToDictionary(t => t,
                t => _header.Before.Toggles.TryGetValue(t, out var before) ? before.Enabled : (bool?)null));
            await JournalAsync("rollback/state", JournalStatus.Finished, null, CancellationToken.None);
        }

        // Check the rolled-back hosts are healthy again, with the service's checks (the release is the old one).
        foreach (var group in gateTargets.GroupBy(t => t.Service))
        {
            if (problem is not null || !_desired.Services.TryGetValue(group.Key, out var spec)) continue;
            var result = await _gate.WaitAsync(group.Key, spec.Health, [.. group.Select(g => g.Target)], Env, Commit, ct);
            if (!result.Passed) problem = $"{group.Key} after rollback: {result.Detail}";
        }

        if (quarantine) await QuarantineAsync(reason, CancellationToken.None);
        Report(0, null, null, "rollback", problem is null ? (quarantine ? $"finished; {Short(Commit)} quarantined" : "finished") : "failed: " + problem);
        await JournalAsync(RollbackStep, problem is null ? JournalStatus.Finished : JournalStatus.Failed, problem, CancellationToken.None);
        var revert = $"revert commit {Commit}: `reconciler revert {Commit}` or `git revert {Commit}`";
        if (problem is not null)
            return new RunResult(ApplyResult.Halted,
                $"apply of {Short(Commit)} to {Env} failed ({reason}) and the rollback did not complete: {problem}. " +
                $"Hosts need attention; the journal names every step. Then {revert}.", Outcomes(halted: true));
        if (!quarantine)
            return new RunResult(ApplyResult.Interrupted,
                $"apply of {Short(Commit)} to {Env} was pre-empted by a newer commit and rolled back; it is not quarantined.",
                Outcomes(halted: false, rolledBack: true));
        return new RunResult(ApplyResult.RolledBack,
            $"apply of {Short(Commit)} to {Env} failed: {reason}. Every change was rolled back and the commit is quarantined " +
            $"(it will not be retried). To bring Git back in line, {revert}.", Outcomes(halted: false, rolledBack: true));
    }

    /// <summary>Flips one host of one service back to what it ran before this apply. Returns the gate target
    /// when the host runs a release again.</summary>
    private async Task<GateTarget?> RollbackHostAsync(string service, string host)
    {
        var key = $"rollback/{service}/{host}";
        var before = _header.Before.Services.GetValueOrDefault(service);
        var previous = before?.Hosts.GetValueOrDefault(host)?.ActiveRelease;
        var hostSpec = FindHost(host);
        var (driver, path, restart, stop) = before is not null ? DeployOf(before.Fields) : DeployOf(_header.NewFields.GetValueOrDefault(service) ?? ImmutableSortedDictionary<string, string>.Empty);
        if (before is null && _header.NewFields.TryGetValue(service, out var created))
            (driver, path, _, stop) = DeployOf(created);
        var session = await SessionAsync(driver, hostSpec);
        if (!IsFinished(key))
        {
            await JournalAsync(key, JournalStatus.Started, previous, CancellationToken.None);
            Report(0, service, host, "rollback", previous is null ? "removing" : $"to {previous}");
            if (previous is null)
                await session.RemoveAsync(path, stop, CancellationToken.None);
            else
                await session.ActivateAsync(path, previous, restart, CancellationToken.None);
            await JournalAsync(key, JournalStatus.Finished, previous, CancellationToken.None);
        }
        return previous is null ? null : new GateTarget(hostSpec, session, previous, PathOnHost(driver, host, path));
    }

    /// <summary>
    /// Makes hosts agree with live state after an apply of another commit was interrupted: a host whose switch
    /// started but whose batch state was never written is flipped back to the release live state names for it.
    /// Everything the store already records stays: it is honest, and the new plan starts from it.
    /// </summary>
    public async Task<int> RepairInFlightAsync()
    {
        var written = _entries.Where(e => e.Status == JournalStatus.Finished && e.Step.EndsWith("/state", StringComparison.Ordinal))
            .Select(e => e.Step).ToHashSet(StringComparer.Ordinal);
        var repaired = 0;
        foreach (var step in _entries.Select(e => ParseHostStep(e.Step)).Where(s => s is { Step: "activate" or "remove" }).Select(s => s!.Value).Distinct())
        {
            var change = Plan.Services.FirstOrDefault(s => s.Service == step.Service);
            if (change is null || BatchStateWritten(step, change, written)) continue;
            var live = _live.Services.GetValueOrDefault(step.Service)?.Hosts.GetValueOrDefault(step.Host)?.ActiveRelease;
            var fields = _live.Services.GetValueOrDefault(step.Service)?.Fields ?? _header.NewFields.GetValueOrDefault(step.Service) ?? ImmutableSortedDictionary<string, string>.Empty;
            var (driver, path, restart, stop) = DeployOf(fields);
            var session = await SessionAsync(driver, FindHost(step.Host));
            if (live is null) await session.RemoveAsync(path, stop, CancellationToken.None);
            else await session.ActivateAsync(path, live, restart, CancellationToken.None);
            repaired++;
        }
        return repaired;
    }

    private bool BatchStateWritten((int Wave, string Service, string Host, string Step) step, ServiceChange change, HashSet<string> written)
    {
        if (written.Contains($"w{step.Wave}/{step.Service}/state")) return true;   // remove waves write once per service
        if (!_desired.Services.TryGetValue(step.Service, out var spec)) return false;
        var group = _desired.EnvironmentSpec.HostGroups.TryGetValue(spec.HostGroup, out var g) ? g.Hosts.Length : change.Hosts.Length;
        var batches = Batching.Split(spec.Strategy, change.Hosts, group);
        for (var i = 0; i < batches.Length; i++)
            if (batches[i].Any(h => h.Host == step.Host))
                return written.Contains($"w{step.Wave}/{step.Service}/batch-{i + 1}/state");
        return false;
    }

    private async Task QuarantineAsync(string reason, CancellationToken ct)
    {
        _ = ct;
        await _deps.Store.QuarantineAsync(Env, new QuarantinedCommit(Commit, reason, _deps.Time.GetUtcNow()), CancellationToken.None);
    }

    private ImmutableSortedDictionary<string, string> Outcomes(bool halted, bool rolledBack = false)
    {
        var b = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var s in Plan.Services.Where(s => s.Action != ServiceAction.NoOp))
        {
            var done = IsFinished($"w{s.Wave}/{s.Service}/done");
            b[s.Service] = rolledBack ? (StepsStartedFor(s.Service) ? "rolled back" : "not started")
                : halted ? (done ? s.Reason : StepsStartedFor(s.Service) ? "halted partway: " + s.Reason : "not started")
                : s.Reason;
        }
        return b.ToImmutable();
    }

    private bool StepsStartedFor(string service) => _entries.Any(e => ParseHostStep(e.Step) is { } s && s.Service == service);

    // ---------------------------------------------------------------- state, sessions, journal

    private async Task WriteServiceStateAsync(ServiceChange change, ServiceSpec spec, ImmutableArray<HostChange> batch, bool last)
    {
        await _stateWrite.WaitAsync();
        try
        {
            var current = _live.Services.GetValueOrDefault(change.Service);
            var hosts = (current?.Hosts ?? ImmutableSortedDictionary<string, LiveHost>.Empty.WithComparers(StringComparer.Ordinal)).ToBuilder();
            foreach (var h in batch)
            {
                if (h.ToRelease is null) { hosts.Remove(h.Host); continue; }
                var previous = h.FromRelease != h.ToRelease ? h.FromRelease : hosts.GetValueOrDefault(h.Host)?.PreviousRelease;
                hosts[h.Host] = new LiveHost(h.Host, h.ToRelease, previous);
            }
            // The service header (version, fields) changes once every batch is done; until then it still names
            // what most of the fleet runs, and the hosts say exactly which ones moved.
            var header = last || current is null
                ? new LiveService(spec.Name, spec.Version, ServiceFields.ReleaseId(spec), ServiceFields.ConfigHash(spec), Commit,
                    spec.DependsOn, ServiceFields.Flatten(spec), hosts.ToImmutable())
                : current with { Hosts = hosts.ToImmutable() };
            await WriteLockedAsync(new StateChange([header with { Hosts = hosts.ToImmutable() }], [], [], []));
        }
        finally
        {
            _stateWrite.Release();
        }
    }

    private async Task WriteAsync(StateChange change)
    {
        await _stateWrite.WaitAsync();
        try { await WriteLockedAsync(change); }
        finally { _stateWrite.Release(); }
    }

    private async Task WriteLockedAsync(StateChange change)
    {
        var version = await _deps.Store.WriteAsync(Env, _live.Version, change, CancellationToken.None);
        var services = _live.Services.SetItems(change.UpsertServices.Select(s => KeyValuePair.Create(s.Name, s))).RemoveRange(change.RemoveServices);
        var toggles = _live.Toggles.SetItems(change.UpsertToggles.Select(t => KeyValuePair.Create(t.Name, t))).RemoveRange(change.RemoveToggles);
        _live = _live with { Version = version, Services = services, Toggles = toggles, LastGoodCommit = change.LastGoodCommit ?? _live.LastGoodCommit };
    }

    private async Task PruneAsync(ServiceChange change, ServiceSpec spec)
    {
        foreach (var h in change.Hosts.Where(h => h.ToRelease is not null))
        {
            try
            {
                var session = await SessionAsync(spec.Deploy.Driver, FindHost(h.Host));
                ImmutableArray<string> protect = h.FromRelease is null ? [h.ToRelease!] : [h.ToRelease!, h.FromRelease];
                await session.PruneAsync(spec.Deploy.Path, spec.Deploy.KeepReleases, protect, CancellationToken.None);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Old releases left on disk cost space, not correctness: report and carry on.
                Report(change.Wave, change.Service, h.Host, "prune", "warning: " + e.Message);
            }
        }
    }

    private Task<IHostSession> SessionAsync(DriverKind kind, HostSpec host) =>
        _sessions.GetOrAdd((kind, host.Name), _ => new Lazy<Task<IHostSession>>(() =>
            _drivers.GetOrAdd(kind, k => _deps.Drivers(k)).OpenAsync(host, CancellationToken.None))).Value;

    /// <summary>The deploy path as commands on the host see it (checks interpolate ${deploy.path} with it). The local
    /// driver keeps each "host" under its own root, so there the path is mapped; elsewhere it is the path itself.</summary>
    private string PathOnHost(DriverKind kind, string host, string deployPath) =>
        _drivers.GetValueOrDefault(kind) is Drivers.Local.LocalHostDriver local ? local.MapPath(host, deployPath) : deployPath;

    /// <summary>A host dropped from the environment's inventory cannot be reached (its address is gone with it): its
    /// removal is skipped and live state forgets it.</summary>
    private bool IsDefined(string host) => _desired.EnvironmentSpec.HostGroups.Values.Any(g => g.Hosts.Any(h => h.Name == host));

    private HostSpec FindHost(string name) =>
        _desired.EnvironmentSpec.HostGroups.Values.SelectMany(g => g.Hosts).FirstOrDefault(h => h.Name == name)
        ?? throw new ReconcilerException(FailureKind.InvalidInput, $"host '{name}' is not defined in environment '{Env}' at {Short(_desired.Revision)}; " +
                               "it is needed to change or roll back a service on it. Add it back to a host group, or remove it from live state with `reconciler state`.");

    private static (DriverKind Driver, string Path, string? Restart, string? Stop) DeployOf(IReadOnlyDictionary<string, string> fields)
    {
        var driver = fields.GetValueOrDefault("deploy.driver") switch
        {
            "local" => DriverKind.Local,
            "consul-kv" => DriverKind.ConsulKv,
            _ => DriverKind.Ssh,
        };
        var path = fields.GetValueOrDefault("deploy.path")
                   ?? throw new ReconcilerException(FailureKind.StoreUnavailable, "live state of a service has no deploy.path field; it cannot be changed safely. Check the store with `reconciler state`.");
        return (driver, path, fields.GetValueOrDefault("deploy.restartCommand"), fields.GetValueOrDefault("deploy.stopCommand"));
    }

    private static (int Wave, string Service, string Host, string Step)? ParseHostStep(string step)
    {
        // w{wave}/{service}/{host}/{stage|activate|remove}
        var parts = step.Split('/');
        if (parts.Length != 4 || parts[0].Length < 2 || parts[0][0] != 'w' || parts[1] == "toggle" || parts[2].StartsWith("batch-", StringComparison.Ordinal))
            return null;
        return int.TryParse(parts[0].AsSpan(1), out var wave) ? (wave, parts[1], parts[2], parts[3]) : null;
    }

    private bool IsFinished(string step) => _steps.TryGetValue(step, out var s) && s == JournalStatus.Finished;

    private async Task JournalAsync(string step, JournalStatus status, string? detail, CancellationToken ct)
    {
        var entry = new JournalEntry(Env, _applyId, Commit, step, status, _deps.Time.GetUtcNow(), detail);
        await _deps.Store.AppendJournalAsync(entry, ct);
        lock (_entries) _entries.Add(entry);
        _steps[step] = status;
    }

    private void Report(int wave, string? service, string? host, string step, string status) =>
        _progress?.Report(new ApplyProgress(Env, Commit, wave, service, host, step, status));

    private static string Short(string commit) => commit.Length > 12 && commit.All(char.IsAsciiHexDigit) ? commit[..12] : commit;

    public async ValueTask DisposeAsync()
    {
        _stopNew.Dispose();
        foreach (var d in _drivers.Values)
        {
            try { await d.DisposeAsync(); }
            catch (Exception) { /* closing a connection must not hide the apply's result */ }
        }
    }
}

using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Telemetry;

namespace Reconciler.Execution;

/// <summary>
/// The forward run of one wave: toggles before, then every service of the wave in parallel (each cut into batches by
/// its strategy: stage, switch, gate, write state), then toggles after. Steps already journaled Finished are skipped,
/// so running a wave again after a crash does only what is left. A failure is recorded in <see cref="ApplyContext"/>
/// and stops new work; the step function decides what follows.
/// </summary>
internal sealed class WaveSteps(ApplyContext run, HostSteps hosts, ToggleSteps toggles)
{
    private readonly HookSteps _hooks = new(run);

    public async Task RunAsync(PlanWave wave, CancellationToken ct, CancellationToken preempt)
    {
        using var waveSpan = ReconcilerTelemetry.Start("wave", run.Env, run.Commit);
        waveSpan?.SetTag("reconciler.wave", wave.Index);
        run.Report(wave.Index, null, null, "wave", "started");
        await toggles.SwitchAsync(wave, StepKind.ToggleBefore, ct);
        await Task.WhenAll(wave.Services.Select(s => RunServiceGuardedAsync(wave, s, ct, preempt)));
        ct.ThrowIfCancellationRequested();
        if (run.StopNew.IsCancellationRequested) return;
        await toggles.SwitchAsync(wave, StepKind.ToggleAfter, ct);
        run.Report(wave.Index, null, null, "wave", "finished");
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
        catch (OperationCanceledException) when (run.StopNew.IsCancellationRequested)
        {
            // Another service failed (or a pre-emption arrived): this one stopped at a safe point.
        }
        catch (OperationCanceledException) when (preempt.IsCancellationRequested)
        {
            // Pre-empted, and the wait noticed before the pre-emption callback recorded it (the token's callbacks run
            // one after another, the gate's linked token first): record it here; the first reason recorded wins.
            run.Preempt();
        }
        catch (HostStepException e)
        {
            run.Fail(service, $"{service}: {e.Message}", e.Kind);
        }
        catch (ReconcilerException e)
        {
            run.Fail(service, $"{service}: {e.Message}", e.Kind);
        }
        catch (IOException e)
        {
            run.Fail(service, $"{service}: {e.Message}", FailureKind.EnvironmentFault);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not proof of a bad commit: roll back and retry later rather than quarantine on an unexpected error.
            run.Fail(service, $"{service}: {e.GetType().Name}: {e.Message}", FailureKind.EnvironmentFault);
        }
    }

    private async Task RunServiceAsync(PlanWave wave, string service, CancellationToken ct, CancellationToken preempt)
    {
        var change = run.Plan.Services.First(s => s.Service == service);
        var done = StepKey.ServiceDone(wave.Index, service);
        if (run.Journal.IsFinished(done)) return;
        using var span = ReconcilerTelemetry.Start("service", run.Env, run.Commit);
        span?.SetTag("reconciler.service", service);
        span?.SetTag("reconciler.action", change.Action.ToString().ToLowerInvariant());
        run.Report(wave.Index, service, null, "service", "started");

        if (change.Action == ServiceAction.Remove)
        {
            await RemoveServiceAsync(wave, change, ct);
        }
        else
        {
            var spec = run.Desired.Services.TryGetValue(service, out var s) ? s
                : throw new ReconcilerException(FailureKind.InvalidInput, $"service '{service}' is in the plan but not in the desired state of {ApplyContext.Short(run.Commit)}; plan again.");
            var batches = run.BatchesOf(spec, change);
            if (change.Hosts.Length > 0 && ParallelismCap.Resolve(spec, change, run.Desired.EnvironmentSpec) is var resolved && resolved > run.MaxParallel)
                run.Report(wave.Index, service, null, "batch", ParallelismCap.Note(service, spec.Strategy.MaxParallel, resolved, run.MaxParallel));
            if (batches.IsEmpty) batches = [[]];   // no host work (e.g. a state-only change): one state write
            // A canary's release reaches no other host until the canary passed its gate: the rest is staged after it.
            var canary = spec.Strategy.Kind == StrategyKind.Canary && batches.Length > 1 ? 1 : batches.Length;
            await StageAsync(wave, change, spec, batches, 0, canary, ct);
            for (var i = 0; i < batches.Length; i++)
            {
                if (i == canary) await StageAsync(wave, change, spec, batches, canary, batches.Length, ct);
                await RunBatchAsync(wave, change, spec, i + 1, batches[i], last: i == batches.Length - 1, ct, preempt);
            }
            await hosts.PruneAsync(change, spec.Deploy);
        }
        await run.Journal.AppendAsync(done, JournalStatus.Finished, change.Reason, ct);
        run.Report(wave.Index, service, null, "service", "finished");
    }

    /// <summary>Stages the new release on every host of batches [from, to) not yet written, before the first of them switches
    /// (all batches at once, except that a canary's other hosts wait for the canary's gate):
    /// batches then only switch, restart and gate, and a host that cannot take the release (unreachable, disk full)
    /// stops the service before any host of it has changed. For blue-green (one batch of all hosts) the new release sits
    /// beside the old on every host before any switch.</summary>
    private async Task StageAsync(PlanWave wave, ServiceChange change, ServiceSpec spec, ImmutableArray<ImmutableArray<HostChange>> batches,
        int from, int to, CancellationToken ct)
    {
        var deploys = Enumerable.Range(from, to - from)
            .Where(i => !run.Journal.IsFinished(StepKey.BatchWritten(wave.Index, change.Service, i + 1)))
            .Select(i => batches[i])
            .SelectMany(b => b)
            .Where(h => h.ToRelease is not null && NeedsHostWork(change, h));
        await Task.WhenAll(deploys.Select(h => hosts.RunAsync(StepKey.OnHost(wave.Index, change.Service, h.Host, StepKind.Stage), spec.Deploy.Driver, ct,
            async session =>
            {
                await DriftRepairSteps.BeforeStageAsync(session, change, h, spec);
                await hosts.StageAsync(session, spec);
            })));
    }

    /// <summary>Switch every host of the batch (staged by <see cref="StageAsync"/>), gate them, and write their state.</summary>
    /// <param name="number">1-based, as the journal and progress name batches.</param>
    private async Task RunBatchAsync(PlanWave wave, ServiceChange change, ServiceSpec spec, int number, ImmutableArray<HostChange> batch,
        bool last, CancellationToken ct, CancellationToken preempt)
    {
        var written = StepKey.BatchWritten(wave.Index, change.Service, number);
        if (run.Journal.IsFinished(written)) return;
        run.StopIfRequested(ct);
        using var span = ReconcilerTelemetry.Start("batch", run.Env, run.Commit);
        span?.SetTag("reconciler.service", change.Service);
        span?.SetTag("reconciler.batch", number);
        run.EnterBatch(change.Service, number);

        // The commit being applied says how its releases are deployed (a resume loads the same commit).
        var deploy = spec.Deploy;
        var work = batch.Where(h => NeedsHostWork(change, h)).ToList();
        var deploys = work.Where(h => h.ToRelease is not null).ToList();
        StepKey On(HostChange h, StepKind kind) => StepKey.OnHost(wave.Index, change.Service, h.Host, kind);
        run.StopIfRequested(ct);
        await Task.WhenAll(deploys.Select(h => hosts.RunAsync(On(h, StepKind.Activate), deploy.Driver, ct,
            session => _hooks.AroundSwitchAsync(wave.Index, session, change.Service, deploy.Path, h.ToRelease!,
                () => hosts.ActivateAsync(session, change, h, deploy)), batch: number)));
        await Task.WhenAll(work.Where(h => h.ToRelease is null && run.IsDefined(h.Host)).Select(h => hosts.RunAsync(On(h, StepKind.Remove), deploy.Driver, ct,
            session => session.RemoveAsync(deploy.Path, deploy.StopCommand, CancellationToken.None), batch: number)));
        foreach (var gone in work.Where(h => h.ToRelease is null && !run.IsDefined(h.Host)))
            run.Report(wave.Index, change.Service, gone.Host, "remove", "skipped: the host is no longer in the environment; live state forgets it");
        ReconcilerTelemetry.HostsDeployed.Add(deploys.Count, ReconcilerTelemetry.MetricTags(run.Env));
        if (change.Action == ServiceAction.Repair) ReconcilerTelemetry.Repairs.Add(deploys.Count, ReconcilerTelemetry.MetricTags(run.Env));

        var gate = StepKey.Gate(wave.Index, change.Service, number);
        if (deploys.Count > 0 && !run.Journal.IsFinished(gate))
        {
            run.StopIfRequested(ct);
            await run.Journal.AppendAsync(gate, JournalStatus.Started, null, ct);
            run.Report(wave.Index, change.Service, null, "gate", "waiting");
            var targets = new List<GateTarget>();
            foreach (var h in deploys)
            {
                var host = run.FindHost(h.Host);
                var session = await run.Sessions.OpenAsync(deploy.Driver, host);
                targets.Add(new GateTarget(host, session, h.ToRelease!, session.PathOnHost(deploy.Path)));
            }
            using var waitToken = CancellationTokenSource.CreateLinkedTokenSource(ct, preempt, run.StopNew);
            var result = await run.Gate.WaitAsync(change.Service, spec.Health, targets, run.Env, run.Commit, waitToken.Token,
                (host, gateProgress) => run.Report(wave.Index, change.Service, host, "gate", "checking", gateProgress));
            if (result.Passed && await AfterGateFailureAsync(wave, change.Service, deploy.Path, targets) is { } hookFailed)
            {
                await run.Journal.AppendAsync(gate, JournalStatus.Failed, hookFailed.Message, CancellationToken.None);
                run.Report(wave.Index, change.Service, null, "gate", "failed: " + hookFailed.Message);
                throw hookFailed;
            }
            if (!result.Passed)
            {
                await run.Journal.AppendAsync(gate, JournalStatus.Failed, result.Detail, CancellationToken.None);
                run.Report(wave.Index, change.Service, null, "gate", "failed: " + result.Detail);
                // A repair of drift that does not make the host healthy is the host's fault, not the (already applied) commit's.
                throw new ReconcilerException(change.Action == ServiceAction.Repair ? FailureKind.EnvironmentFault : result.Cause,
                    $"health gate failed after batch {number}: {result.Detail}");
            }
            await run.Journal.AppendAsync(gate, JournalStatus.Finished, result.Detail, CancellationToken.None);
            run.Report(wave.Index, change.Service, null, "gate", "passed");
        }

        // Honest live state after every batch: a crash mid-service leaves the store saying what runs where.
        await run.Journal.AppendAsync(written, JournalStatus.Started, null, CancellationToken.None);
        await run.State.WriteBatchAsync(spec, batch, last);
        await run.Journal.AppendAsync(written, JournalStatus.Finished, null, CancellationToken.None);
    }

    /// <summary>The afterGate hooks belong to the gate step: one that fails fails the gate (and the batch rolls back).
    /// Returns the failure, or null when every hook passed.</summary>
    private async Task<Exception?> AfterGateFailureAsync(PlanWave wave, string service, string deployPath, List<GateTarget> targets)
    {
        try
        {
            await _hooks.AfterGateAsync(wave.Index, service, deployPath, targets);
            return null;
        }
        catch (Exception e) when (e is HostStepException or ReconcilerException)
        {
            return e;
        }
    }

    private static bool NeedsHostWork(ServiceChange change, HostChange h) =>
        change.Action is ServiceAction.Redeploy or ServiceAction.Repair || h.FromRelease != h.ToRelease;

    /// <summary>A removed service goes from every host still in the inventory, with the settings it was deployed with.</summary>
    private async Task RemoveServiceAsync(PlanWave wave, ServiceChange change, CancellationToken ct)
    {
        var deploy = run.Header.DeploysOf(change.Service).Before
                     ?? throw new ReconcilerException(FailureKind.StoreUnavailable, $"the journal header records no deploy settings of '{change.Service}' before the apply; it cannot be removed safely. Check the store with `reconciler state`.");
        await Task.WhenAll(change.Hosts.Where(h => run.IsDefined(h.Host)).Select(h => hosts.RunAsync(
            StepKey.OnHost(wave.Index, change.Service, h.Host, StepKind.Remove), deploy.Driver, ct,
            session => session.RemoveAsync(deploy.Path, deploy.StopCommand, CancellationToken.None))));
        var written = StepKey.ServiceWritten(wave.Index, change.Service);
        await run.Journal.AppendAsync(written, JournalStatus.Started, null, CancellationToken.None);
        await run.State.WriteAsync(new StateChange([], [change.Service], [], []));
        await run.Journal.AppendAsync(written, JournalStatus.Finished, null, CancellationToken.None);
    }
}

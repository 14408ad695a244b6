using System.Collections.Immutable;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// Makes hosts agree with live state after an apply of another commit was interrupted, one host per call of
/// <see cref="StepAsync"/>: a host whose switch started but whose batch state was never written is flipped back to the
/// release live state names for it, with the deploy settings it ran with. Everything the store already records stays:
/// it is honest, and the new plan starts from it.
/// </summary>
internal sealed class RepairSteps(ApplyContext run)
{
    private readonly HookSteps _hooks = new(run);
    private List<StepKey>? _inFlight;
    private int _next;

    public async Task<StepProgress> StepAsync()
    {
        _inFlight ??= InFlightSwitches();
        if (_next == _inFlight.Count)
            return new StepProgress(ApplyPhase.Repair, $"{_inFlight.Count} host(s) repaired", new RunResult(ApplyResult.Interrupted,
                $"interrupted; {_inFlight.Count} host(s) left mid-switch were returned to their recorded release.", ImmutableSortedDictionary<string, string>.Empty));
        var step = _inFlight[_next++];
        var live = run.State.Live.Services.GetValueOrDefault(step.Service!)?.Hosts.GetValueOrDefault(step.Host!)?.ActiveRelease;
        var deploy = run.Header.DeploysOf(step.Service!).Recorded;
        var session = await run.Sessions.OpenAsync(deploy.Driver, run.FindHost(step.Host!));
        if (live is null) await session.RemoveAsync(deploy.Path, deploy.StopCommand, CancellationToken.None);
        else
        {
            // Between the hooks, like any switch: a host the interrupted apply drained comes back into traffic.
            await _hooks.AroundSwitchAsync(0, session, step.Service!, deploy.Path, live,
                () => session.ActivateAsync(deploy.Path, live, deploy.RestartCommand, CancellationToken.None));
            await _hooks.AfterGateAsync(0, step.Service!, deploy.Path, [new GateTarget(session.Host, session, live)]);
        }
        return new StepProgress(ApplyPhase.Repair, live is null ? $"{step.Service} removed from {step.Host}" : $"{step.Host} back on {step.Service} {live}");
    }

    /// <summary>Host switches whose batch's state write never finished.</summary>
    private List<StepKey> InFlightSwitches()
    {
        var written = run.Journal.With(JournalStatus.Finished, k => k.Kind is StepKind.BatchState or StepKind.ServiceState);
        return [.. run.Journal.HostSwitches().Where(s => run.Plan.Services.FirstOrDefault(c => c.Service == s.Service) is { } change && !StateWritten(s, change, written))];
    }

    private bool StateWritten(StepKey step, Diff.Planning.ServiceChange change, HashSet<StepKey> written)
    {
        if (written.Contains(StepKey.ServiceWritten(step.Wave, step.Service!))) return true;   // remove waves write once per service
        // The batch the switch was journaled with (the interrupted commit's strategy decided it, not this commit's).
        if (SwitchDetail.FromDetail(run.Journal.FirstDetailOf(step)) is { } recorded)
            return written.Contains(StepKey.BatchWritten(step.Wave, step.Service!, recorded.Batch));
        // Journaled by a version before switches recorded their batch: infer it from this commit's strategy.
        if (!run.Desired.Services.TryGetValue(step.Service!, out var spec)) return false;
        var batches = run.BatchesOf(spec, change);
        for (var i = 0; i < batches.Length; i++)
            if (batches[i].Any(h => h.Host == step.Host))
                return written.Contains(StepKey.BatchWritten(step.Wave, step.Service!, i + 1));
        return false;
    }
}

/// <summary>Drift repairs (issue 13) are executed as a redeploy of the drifted hosts (<see cref="Diff.Planning.ServiceAction.Repair"/>):
/// stage, switch (which runs the restart command), gate, state. One thing a stage will not do is replace a release
/// directory that `current` points at but whose marker is missing or names another artifact (it refuses, as it should for
/// a release it did not lay down). A drifted host planned for re-staging had exactly that found: its damaged release is
/// removed first, so the stage lays it down afresh.</summary>
internal static class DriftRepairSteps
{
    /// <summary>$1 releases directory, $2 release id, $3 artifact sha256: removes releases/ID unless its marker names the artifact.</summary>
    private const string ClearDamaged = """
        cd "$1" 2>/dev/null || exit 0
        [ -d "$2" ] || exit 0
        if [ -f "$2/.reconciler-release" ] && grep -qx "sha256=$3" "$2/.reconciler-release"; then exit 0; fi
        rm -rf -- "$2"
        """;

    public static async Task BeforeStageAsync(Drivers.IHostSession session, Diff.Planning.ServiceChange change, Diff.Planning.HostChange host,
        Schema.Model.ServiceSpec spec)
    {
        if (change.Action != Diff.Planning.ServiceAction.Repair || host.Repair?.Kind != Diff.Planning.RepairKind.ReStage
            || spec.Deploy.Driver == Schema.Model.DriverKind.ConsulKv || host.ToRelease is not { } release) return;
        var releases = $"{session.PathOnHost(spec.Deploy.Path)}/{Drivers.ReleaseLayout.ReleasesDir}";
        var result = await session.RunAsync(Drivers.Shell.Script(ClearDamaged, releases, Drivers.ReleaseLayout.CheckReleaseId(host.Host, "repair", release),
            spec.Artifact.Sha256), TimeSpan.FromMinutes(1), CancellationToken.None);
        if (result.ExitCode != 0)
            throw new Drivers.HostStepException(host.Host, "repair", $"removing the damaged release {release} failed (exit {result.ExitCode}): {result.Output.Trim()}");
    }
}

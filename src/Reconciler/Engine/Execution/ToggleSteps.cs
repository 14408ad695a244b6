using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>Switches a wave's toggles in live state, then makes the new values visible to apps (<see cref="ITogglePublisher"/>).</summary>
internal sealed class ToggleSteps(ApplyContext run)
{
    /// <param name="when"><see cref="StepKind.ToggleBefore"/> or <see cref="StepKind.ToggleAfter"/> the wave's services.</param>
    public async Task SwitchAsync(PlanWave wave, StepKind when, CancellationToken ct)
    {
        var toggles = when == StepKind.ToggleBefore ? wave.TogglesBefore : wave.TogglesAfter;
        foreach (var name in toggles.IsDefault ? [] : toggles)
        {
            var key = StepKey.ToggleSwitch(wave.Index, name, when);
            if (run.Journal.IsFinished(key)) continue;
            run.StopIfRequested(ct);
            var toggle = run.Plan.Toggles.First(t => t.Toggle == name);
            await run.Journal.AppendAsync(key, JournalStatus.Started, null, CancellationToken.None);
            var change = toggle.Action == ToggleAction.Removed
                ? new StateChange([], [], [], [name])
                : new StateChange([], [], [new LiveToggle(name, toggle.After ?? false, run.Commit, run.Deps.Time.GetUtcNow())], []);
            await run.State.WriteAsync(change);
            if (await PublishAsync(new Dictionary<string, bool?> { [name] = toggle.Action == ToggleAction.Removed ? null : toggle.After ?? false })
                is { } publishError)
            {
                run.Fail(null, $"toggle {name}: {publishError}", FailureKind.EnvironmentFault);   // the rollback restores live state and publishes the old value
                return;
            }
            await run.Journal.AppendAsync(key, JournalStatus.Finished, null, CancellationToken.None);
            run.Report(wave.Index, null, null, $"toggle {name}", toggle.After == true ? "on" : "off");
        }
    }

    /// <summary>Apps see a toggle switch right after live state records it; a re-run after a crash publishes again
    /// (the journal step is not finished yet), which is harmless since the values are absolute.</summary>
    /// <returns>null when published (or nothing to publish), else what went wrong.</returns>
    public async Task<string?> PublishAsync(IReadOnlyDictionary<string, bool?> toggles)
    {
        if (run.Deps.Toggles is null || toggles.Count == 0) return null;
        try
        {
            await run.Deps.Toggles.PublishAsync(run.Env, toggles, CancellationToken.None);
            return null;
        }
        catch (Exception e) when (e is HostStepException or ReconcilerException or HttpRequestException or Consul.ConsulException)
        {
            return $"publishing toggles failed: {e.Message}";
        }
    }
}

using Reconciler.Daemon;
using Reconciler.Drivers;
using Reconciler.Schema.Model;

namespace Reconciler.Execution;

/// <summary>
/// A service's lifecycle hooks (docs/apply.md "Lifecycle hooks"): commands run on a host around its switch, to take it
/// out of traffic and back. Forward: beforeSwitch, the switch (and restart), afterSwitch, in the activate step; then
/// afterGate once the batch's gate passed, inside the gate step (a resumed apply that finds the gate unfinished runs the
/// gate and afterGate again). A rollback or a repair switches a host back between the same beforeSwitch and afterSwitch,
/// and runs afterGate after the host is healthy again, so a host a failed apply drained comes back into traffic.
/// Hooks are those of the commit being applied: they are what took the host out.
/// A hook that exits non-zero is the commit's fault, like a failed restart; a hook that times out (or whose connection
/// drops) is the environment's. Its output reaches messages only cleaned of secrets (the session is a CleanedSession).
/// </summary>
internal sealed class HookSteps(ApplyContext run)
{
    /// <summary>Longest tail of a failing hook's output kept in its message.</summary>
    private const int OutputTail = 2000;

    /// <summary>The hooks of <paramref name="service"/> in the commit being applied (none for a service it removes).</summary>
    public LifecycleHooks? Of(string service) => run.Desired.Services.GetValueOrDefault(service)?.Deploy.Hooks;

    /// <summary>beforeSwitch, <paramref name="switchAsync"/>, afterSwitch on one host; hooks that are not set are skipped.</summary>
    public async Task AroundSwitchAsync(int wave, IHostSession session, string service, string deployPath, string releaseId, Func<Task> switchAsync)
    {
        var hooks = Of(service);
        await RunAsync(wave, session, service, hooks?.BeforeSwitch, "beforeSwitch", hooks, deployPath, releaseId);
        await switchAsync();
        await RunAsync(wave, session, service, hooks?.AfterSwitch, "afterSwitch", hooks, deployPath, releaseId);
    }

    /// <summary>afterGate on every gated host at once (they passed together).</summary>
    public Task AfterGateAsync(int wave, string service, string deployPath, IEnumerable<GateTarget> targets)
    {
        var hooks = Of(service);
        return hooks?.AfterGate is null ? Task.CompletedTask
            : Task.WhenAll(targets.Select(t => RunAsync(wave, t.Session, service, hooks.AfterGate, "afterGate", hooks, deployPath, t.ReleaseId)));
    }

    private async Task RunAsync(int wave, IHostSession session, string service, string? template, string name, LifecycleHooks? hooks, string deployPath, string releaseId)
    {
        if (template is null || hooks is null) return;
        var host = session.Host.Name;
        // Quoted like restart commands: every value is one shell word whatever it contains.
        var command = Interpolation.ExpandCommand(template,
            Interpolation.Variables(session.Host, service, releaseId, session.PathOnHost(deployPath)));
        var result = await session.RunAsync(command, hooks.Timeout, CancellationToken.None);
        if (result.TimedOut)
            throw new HostStepException(host, name + " hook", $"timed out after {Durations.Format(hooks.Timeout)} (deploy.hooks.timeout)");
        if (result.ExitCode != 0)
            throw HostStepException.CommitFault(host, name + " hook", $"exited {result.ExitCode}: {Tail(result.Output)}");
        run.Report(wave, service, host, "hook", $"{name} ok");
    }

    private static string Tail(string output)
    {
        var text = output.Trim();
        return text.Length == 0 ? "(no output)" : text.Length <= OutputTail ? text : "..." + text[^OutputTail..];
    }
}

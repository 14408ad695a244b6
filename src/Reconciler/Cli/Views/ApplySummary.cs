using Reconciler.Daemon;
using Reconciler.Execution;
using Reconciler.State;

namespace Reconciler.Views;

/// <summary>
/// The lines `apply` prints on a terminal after its live table: what changed, on how many hosts, how long each wave and
/// service took. Only with the live view: plain progress lines (pipes, CI) stay as they were, and the outcome paragraph
/// after them already says how the apply ended.
/// </summary>
public static class ApplySummary
{
    public static IEnumerable<string> Lines(ApplySnapshot activity, ReconcileOutcome outcome)
    {
        var commit = outcome.Plan is { } plan ? ProgressWords.Short(plan.Commit) : "the commit";
        yield return $"Summary: {commit} {StatusReports.Kebab(outcome.Result)} in {ProgressWords.Duration(activity.At - activity.Started)}";
        if (activity.Waves.IsDefaultOrEmpty)
        {
            yield return "  nothing changed on any host";
            yield break;
        }
        var changes = outcome.Plan?.Services.ToDictionary(s => s.Service, StringComparer.Ordinal) ?? [];
        foreach (var wave in activity.Waves)
        {
            var state = wave.Finished is null ? "stopped after" : "took";
            yield return $"  wave {wave.Wave} {state} {ProgressWords.Duration(wave.Elapsed(activity.At))}";
            foreach (var service in activity.Services.Where(s => s.Wave == wave.Wave))
            {
                var what = changes.TryGetValue(service.Service, out var change) ? change.Reason : "changed";
                var hosts = service.HostsChanged == 1 ? "1 host" : $"{service.HostsChanged} hosts";
                var end = service.Finished is null ? $", not finished: {service.State}" : "";
                yield return $"    {service.Service}: {what}, on {hosts}, {ProgressWords.Duration(service.Elapsed(activity.At))}{end}";
            }
        }
    }
}

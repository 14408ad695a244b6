using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;

namespace Reconciler.Execution;

/// <summary>
/// How many host steps (stage, switch, remove) one apply runs at once. A service's `maxParallel` is honoured as written:
/// without `--max-parallel` the cap is <see cref="ReconcileOptions.DefaultMaxParallel"/> (32), raised to the largest
/// `maxParallel` the plan's services resolve to, so it only bounds the fan-out of services rolling out side by side.
/// `--max-parallel N` is the operator's cap and may lower a service's batches; the plan shown before confirming and the
/// progress then say so (<see cref="Lowered"/>).
/// </summary>
public static class ParallelismCap
{
    public static int For(Plan plan, DesiredState desired, int? requested, int defaultCap) =>
        requested ?? Math.Max(defaultCap, Written(plan, desired).Select(w => w.MaxParallel).DefaultIfEmpty(0).Max());

    /// <summary>One line per service whose written maxParallel the cap lowers.</summary>
    public static IReadOnlyList<string> Lowered(Plan plan, DesiredState desired, int cap) =>
        [.. Written(plan, desired).Where(w => w.MaxParallel > cap).Select(w => Note(w.Service, w.Written, w.MaxParallel, cap))];

    public static string Note(string service, MaxParallel written, int resolved, int cap) =>
        $"{service}: maxParallel {written}{(written.IsPercent ? $" ({resolved} hosts)" : "")} is lowered to {cap} host steps at a time by --max-parallel {cap}";

    /// <summary>A service's maxParallel resolved over its host group (a percentage is of the group).</summary>
    public static int Resolve(ServiceSpec spec, ServiceChange change, EnvironmentSpec environment)
    {
        var group = environment.HostGroups.TryGetValue(spec.HostGroup, out var g) ? g.Hosts.Length : change.Hosts.Length;
        return spec.Strategy.MaxParallel.Resolve(Math.Max(group, change.Hosts.Length));
    }

    /// <summary>Each changed service with host work: its maxParallel as written and resolved.</summary>
    private static IEnumerable<(string Service, MaxParallel Written, int MaxParallel)> Written(Plan plan, DesiredState desired) =>
        plan.Services
            .Where(s => s.Action != ServiceAction.NoOp && s.Hosts.Length > 0 && desired.Services.ContainsKey(s.Service))
            .Select(s => (s.Service, desired.Services[s.Service].Strategy.MaxParallel, Resolve(desired.Services[s.Service], s, desired.EnvironmentSpec)));
}

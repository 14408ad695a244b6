using Xunit;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Testing;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Cli.Tests.Execution;

public sealed class ProgressViewTests
{
    [Fact]
    public async Task Plain_lines_of_a_canary_that_fails_and_rolls_back()
    {
        var w = new ExecutorWorld(hosts: 3);
        w.Deployed("c0", Service("db", "2.0.0"), Service("api", "1.4.2", dependsOn: ["db"]));
        var bad = Service("api", "1.5.0", Canary(1, maxParallel: 1), dependsOn: ["db"]);
        w.Probe.Healthy = (_, r) => r != ServiceFields.ReleaseId(bad);
        var desired = w.Desired("c1", [Service("db", "2.1.0", Rolling(1)), bad]);

        // One host step at a time, one service per wave: the event order is deterministic but for the hosts that roll back.
        await w.ApplyAsync(w.Request(desired) with { MaxParallel = 1 });

        var output = new StringWriter();
        var view = new PlainProgressView(output);
        foreach (var p in w.ProgressEvents) view.Report(p);
        Golden.Match(HostRollbacksSorted(output.ToString()), "progress-canary-rollback.txt");
    }

    /// <summary>The hosts of a wave roll back side by side (RollbackSteps), so their lines come in the order their steps
    /// happen to start: each run of one service's host rollback lines is compared sorted. The waves' order (newest
    /// first) is kept, and checked by the golden.</summary>
    private static string HostRollbacksSorted(string output)
    {
        var lines = output.Split('\n').ToList();
        static string? RollbackOf(string line) =>
            line.StartsWith("[apply] ", StringComparison.Ordinal) && line.Contains(": rollback to ", StringComparison.Ordinal) ? line.Split(' ')[1] : null;
        for (var i = 0; i < lines.Count; i++)
        {
            if (RollbackOf(lines[i]) is not { } service) continue;
            var end = i + 1;
            while (end < lines.Count && RollbackOf(lines[end]) == service) end++;
            lines.Sort(i, end - i, StringComparer.Ordinal);
            i = end - 1;
        }
        return string.Join('\n', lines);
    }
}

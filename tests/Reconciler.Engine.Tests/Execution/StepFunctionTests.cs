using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary><see cref="ApplyRun.StepAsync"/> does one unit of work per call and says what it did; a new run over the
/// same journal carries on where the last one stopped.</summary>
public sealed class StepFunctionTests
{
    private const string ApplyId = "20261102T090000Z-5te900";

    private static async Task<ApplyRun> BeginAsync(ExecutorWorld w, DesiredState desired, ApplyIntent intent = ApplyIntent.Apply)
    {
        var live = await w.LiveAsync();
        var header = ApplyHeader.Create(desired, TestPlanner.Plan(desired, live), live);
        await w.Store.AppendJournalAsync(new JournalEntry(Env, ApplyId, desired.Revision, "begin", JournalStatus.Started, w.Time.GetUtcNow(), header.ToJson()),
            CancellationToken.None);
        return await ReopenAsync(w, desired, intent);
    }

    /// <summary>A new run over what the store holds, as a new process would make it.</summary>
    private static async Task<ApplyRun> ReopenAsync(ExecutorWorld w, DesiredState desired, ApplyIntent intent = ApplyIntent.Apply)
    {
        var journal = await w.Store.ReadOpenJournalAsync(Env, CancellationToken.None);
        var deps = new ExecutorDependencies(w.Store, _ => w.Driver, w.Probe, w.Artifacts, new FakeSecretResolver(), w.Time);
        return new ApplyRun(deps, desired, ApplyHeader.Read(journal)!, ApplyId, await w.LiveAsync(), journal, 32, null, intent);
    }

    private static async Task<List<StepProgress>> StepsAsync(ExecutorWorld w, ApplyRun run, int max = 50)
    {
        var steps = new List<StepProgress>();
        while (steps.Count < max && steps.LastOrDefault() is not { Done: true })
            steps.Add(await w.Drive(Task.Run(() => run.StepAsync(CancellationToken.None, CancellationToken.None))));
        return steps;
    }

    private static string[] Units(IEnumerable<StepProgress> steps) => [.. steps.Select(s => $"{s.Phase}: {s.Did}")];

    [Fact]
    public async Task Each_call_runs_one_wave_then_one_call_finishes()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        await using var run = await BeginAsync(w, w.Desired("c1", [Service("db", "2.1.0"), Service("api", "1.5.0", dependsOn: ["db"])]));

        var steps = await StepsAsync(w, run);

        Assert.Equal(["Forward: wave 1", "Forward: wave 2", "Finish: succeeded"], Units(steps));
        Assert.Equal(ApplyResult.Succeeded, steps[^1].Result!.Result);
        Assert.Equal("c1", (await w.LiveAsync()).LastGoodCommit);
        await Assert.ThrowsAsync<InvalidOperationException>(() => run.StepAsync(CancellationToken.None, CancellationToken.None));
    }

    [Fact]
    public async Task A_new_run_over_the_journal_skips_what_the_first_one_finished()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var db = Service("db", "2.1.0");
        var desired = w.Desired("c1", [db, Service("api", "1.5.0", dependsOn: ["db"])]);
        await using (var first = await BeginAsync(w, desired))
            Assert.Equal(["Forward: wave 1"], Units([await w.Drive(Task.Run(() => first.StepAsync(CancellationToken.None, CancellationToken.None)))]));
        Assert.All(w.Hosts, h => Assert.Equal(ServiceFields.ReleaseId(db), w.Driver.Current(h.Name, "/srv/db")));
        var calls = w.Driver.Calls.Count;

        await using var second = await ReopenAsync(w, desired);
        var steps = await StepsAsync(w, second);

        Assert.Equal(["Forward: wave 1", "Forward: wave 2", "Finish: succeeded"], Units(steps));
        Assert.DoesNotContain(w.Driver.Calls.Skip(calls), c => c.Contains("/srv/db", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_gate_is_followed_by_the_rollback_one_part_per_call()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var bad = Service("api", "1.5.0", Canary(1), dependsOn: ["db"]);
        w.Probe.Healthy = (_, release) => release != ServiceFields.ReleaseId(bad);
        await using var run = await BeginAsync(w, w.Desired("c1", [Service("db", "2.1.0"), bad]));

        var steps = await StepsAsync(w, run);

        var units = Units(steps);
        Assert.Equal(["Forward: wave 1", "Forward: wave 2"], units[..2]);
        Assert.StartsWith("Rollback: rollback started: api: health gate failed after batch 1", units[2]);
        Assert.Equal(["Rollback: hosts of wave 2 rolled back", "Rollback: hosts of wave 1 rolled back", "Rollback: live state restored",
            "Rollback: rolled-back hosts gated", "Rollback: old releases pruned", "Rollback: rollback finished"], units[3..]);
        Assert.Equal(ApplyResult.RolledBack, steps[^1].Result!.Result);
        Assert.All(w.Hosts, h => Assert.Equal(ServiceFields.ReleaseId(DbOld), w.Driver.Current(h.Name, "/srv/db")));
    }

    [Fact]
    public async Task A_repair_returns_one_host_per_call()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var desired = w.Desired("c1", [Service("db", "2.1.0", BlueGreen()), ApiOld]);
        await using (var first = await BeginAsync(w, desired))
        {
            // Two hosts switch, two fail: the batch's state is never written, and the run stops before its rollback.
            w.Driver.FailWhen = (host, op) => op == "activate" && host is "web-3" or "web-4"
                ? new HostStepException(host, "activate", "connection reset") : null;
            await w.Drive(Task.Run(() => first.StepAsync(CancellationToken.None, CancellationToken.None)));
        }
        w.Driver.FailWhen = (_, _) => null;
        Assert.Equal(2, w.Hosts.Count(h => w.Driver.Current(h.Name, "/srv/db") != ServiceFields.ReleaseId(DbOld)));

        await using var repair = await ReopenAsync(w, w.Desired("c2", [DbOld, ApiOld]), ApplyIntent.Repair);
        var steps = await StepsAsync(w, repair);

        Assert.Equal(5, steps.Count);   // every started switch, then the end
        Assert.All(steps, s => Assert.Equal(ApplyPhase.Repair, s.Phase));
        Assert.Equal("4 host(s) repaired", steps[^1].Did);
        Assert.All(w.Hosts, h => Assert.Equal(ServiceFields.ReleaseId(DbOld), w.Driver.Current(h.Name, "/srv/db")));
    }
}

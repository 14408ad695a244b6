using Xunit;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>
/// A host step's Finished entry is written behind (stored with the next group, not awaited; docs/apply.md, "Journal").
/// These pin down what makes that safe, on the real SQLite store: a kill -9 that loses a Finished entry after the host
/// did the work is resumed by redoing the step, and nothing that depends on a Finished entry (the batch's state write)
/// happens before it is stored.
/// </summary>
public sealed class JournalWriteBehindTests
{
    private static readonly ServiceSpec NewApi = Service("api", "1.5.0", Rolling(2), dependsOn: ["db"]);

    private static bool IsActivation(JournalEntry e) => e.Step.EndsWith("/activate", StringComparison.Ordinal);

    [Fact]
    public async Task Killed_while_the_group_holding_a_switch_s_finished_entry_was_written_a_rerun_redoes_the_switch_and_converges()
    {
        using var dir = new TempDir();
        var w = new ExecutorWorld(hosts: 4);
        await using var store = new CrashingStore(new SqliteStateStore(dir.Combine("state.db"), w.Time));
        w.StoreUnderTest = store;
        w.Deployed("c0", DbOld, ApiOld);
        store.CrashBeforeWriting = e => IsActivation(e) && e.Status == JournalStatus.Finished;

        await Assert.ThrowsAnyAsync<Exception>(() => w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, NewApi]))));

        // The host switched, and the store has its Started but not its Finished: the state a lost write-behind leaves.
        store.Revive();
        var journal = await store.ReadOpenJournalAsync(Env, CancellationToken.None);
        var started = journal.Where(e => IsActivation(e) && e.Status == JournalStatus.Started).Select(e => e.Step).ToHashSet();
        var finished = journal.Where(e => IsActivation(e) && e.Status == JournalStatus.Finished).Select(e => e.Step).ToHashSet();
        var lost = started.Except(finished).ToList();
        Assert.NotEmpty(lost);
        var newRelease = ServiceFields.ReleaseId(NewApi);
        var lostHosts = lost.Select(step => step.Split('/')[2]).ToList();
        Assert.All(lostHosts, h => Assert.Equal(newRelease, w.Driver.Current(h, "/srv/api")));
        var activationsBefore = lostHosts.ToDictionary(h => h, h => ActivationsOf(w, h));

        w.Time.Advance(TimeSpan.FromMinutes(3));   // the dead process's lock expires
        var rerun = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, NewApi])));

        Assert.True(rerun.Result == ApplyResult.Succeeded, $"{rerun.Result} {rerun.Message}");
        foreach (var h in lostHosts) Assert.Equal(activationsBefore[h] + 1, ActivationsOf(w, h));   // redone, once
        var live = await w.LiveAsync();
        Assert.Equal("c1", live.LastGoodCommit);
        foreach (var h in w.Hosts)
        {
            Assert.Equal(newRelease, w.Driver.Current(h.Name, "/srv/api"));
            Assert.Equal(newRelease, live.Services["api"].Hosts[h.Name].ActiveRelease);
        }
        Assert.Empty(await store.ReadOpenJournalAsync(Env, CancellationToken.None));
    }

    [Fact]
    public async Task Every_state_write_finds_the_finished_entries_of_the_switches_before_it_already_stored()
    {
        using var dir = new TempDir();
        var w = new ExecutorWorld(hosts: 4);
        await using var store = new CrashingStore(new SqliteStateStore(dir.Combine("state.db"), w.Time));
        w.StoreUnderTest = store;
        w.Deployed("c0", DbOld, ApiOld);
        var checkedSwitches = new List<int>();
        store.BeforeStateWrite = async inner =>
        {
            var journal = await inner.ReadOpenJournalAsync(Env, CancellationToken.None);
            var started = journal.Where(e => IsActivation(e) && e.Status == JournalStatus.Started).Select(e => e.Step).ToHashSet();
            var finished = journal.Where(e => IsActivation(e) && e.Status == JournalStatus.Finished).Select(e => e.Step).ToHashSet();
            Assert.Empty(started.Except(finished));
            checkedSwitches.Add(started.Count);
        };

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, NewApi])));

        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        // Two batches of two hosts, then the end of the apply: each write saw every switch before it stored as finished.
        Assert.Equal([2, 4, 4], checkedSwitches);
    }

    private static int ActivationsOf(ExecutorWorld w, string host) =>
        w.Driver.Calls.Count(c => c.StartsWith($"{host} activate /srv/api ", StringComparison.Ordinal));
}

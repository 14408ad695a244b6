using Xunit;
using Reconciler.Diff.Planning;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>The executor against the real SQLite store: the journal header (plan + live state as JSON) round-trips,
/// compare-and-set holds, and a crash at any journal entry still converges.</summary>
public sealed class ExecutorOnSqliteTests
{
    [Fact]
    public async Task Killed_at_every_journal_entry_of_a_canary_apply_a_rerun_converges_on_sqlite()
    {
        var db = Service("db", "2.0.0");
        var api = Service("api", "1.4.2", dependsOn: ["db"]);
        var newApi = Service("api", "1.5.0", Canary(1, maxParallel: 2), dependsOn: ["db"]);
        using var dir = new TempDir();

        int total;
        {
            var clean = new ExecutorWorld(hosts: 3);
            await using var store = new CrashingStore(new SqliteStateStore(dir.Combine("clean.db"), clean.Time));
            clean.StoreUnderTest = store;
            clean.Deployed("c0", db, api);
            var outcome = await clean.ApplyAsync(clean.Request(clean.Desired("c1", [db, newApi])));
            Assert.Equal(ApplyResult.Succeeded, outcome.Result);
            total = store.Appended;
        }

        for (var crashAt = 1; crashAt <= total; crashAt++)
        {
            var w = new ExecutorWorld(hosts: 3);
            await using var store = new CrashingStore(new SqliteStateStore(dir.Combine($"crash-{crashAt}.db"), w.Time));
            w.StoreUnderTest = store;
            w.Deployed("c0", db, api);
            store.CrashAfterJournalEntries = crashAt;
            await Assert.ThrowsAnyAsync<Exception>(() => w.ApplyAsync(w.Request(w.Desired("c1", [db, newApi]))));
            store.Revive();
            w.Time.Advance(TimeSpan.FromMinutes(3));   // the dead process's lock expires

            var rerun = await w.ApplyAsync(w.Request(w.Desired("c1", [db, newApi])));

            Assert.True(rerun.Result == ApplyResult.Succeeded, $"crash at entry {crashAt} of {total}: {rerun.Result} {rerun.Message}");
            var live = await w.LiveAsync();
            Assert.Equal("c1", live.LastGoodCommit);
            foreach (var h in w.Hosts)
            {
                Assert.Equal(ServiceFields.ReleaseId(newApi), w.Driver.Current(h.Name, "/srv/api"));
                Assert.Equal(ServiceFields.ReleaseId(newApi), live.Services["api"].Hosts[h.Name].ActiveRelease);
            }
            Assert.Empty(await store.ReadOpenJournalAsync(Env, CancellationToken.None));
            Assert.Equal(ApplyResult.NoChanges, (await w.ApplyAsync(w.Request(w.Desired("c1", [db, newApi])))).Result);
        }
    }
}

using Xunit;
using Reconciler.Diff.Planning;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Reconciler.Engine.Tests.State;
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

    /// <summary>Upgrade in the middle of an apply: the process dies at a journal entry, the store is as schema version 1
    /// left it (its journal rewritten in the v1 format: <see cref="SqliteSchemaV1"/>), and this build, opening it, migrates
    /// it and resumes the apply to convergence.</summary>
    [Fact]
    public async Task An_apply_in_flight_in_a_version_1_store_resumes_after_the_upgrade()
    {
        var db = Service("db", "2.0.0");
        var api = Service("api", "1.4.2", dependsOn: ["db"]);
        var newApi = Service("api", "1.5.0", Canary(1, maxParallel: 2), dependsOn: ["db"]);
        using var dir = new TempDir();
        foreach (var crashAt in new[] { 2, 5, 9, 14 })
        {
            var w = new ExecutorWorld(hosts: 3);
            var path = dir.Combine($"v1-{crashAt}.db");
            IReadOnlyList<JournalEntry> inFlight;
            await using (var store = new CrashingStore(new SqliteStateStore(path, w.Time)))
            {
                w.StoreUnderTest = store;
                w.Deployed("c0", db, api);
                store.CrashAfterJournalEntries = crashAt;
                await Assert.ThrowsAnyAsync<Exception>(() => w.ApplyAsync(w.Request(w.Desired("c1", [db, newApi]))));
                store.Revive();
                inFlight = await store.ReadOpenJournalAsync(Env, CancellationToken.None);
            }
            Assert.NotEmpty(inFlight);
            SqliteSchemaV1.Downgrade(path, inFlight.Select(e => (e, false)));
            w.Time.Advance(TimeSpan.FromMinutes(3));   // the dead process's lock expires

            await using var upgraded = new SqliteStateStore(path, w.Time);
            w.StoreUnderTest = upgraded;
            Assert.Equal(inFlight.Select(StateJson.Serialize), (await upgraded.ReadOpenJournalAsync(Env, CancellationToken.None)).Select(StateJson.Serialize));
            var rerun = await w.ApplyAsync(w.Request(w.Desired("c1", [db, newApi])));

            Assert.True(rerun.Result == ApplyResult.Succeeded, $"crash at entry {crashAt}: {rerun.Result} {rerun.Message}");
            var live = await w.LiveAsync();
            Assert.Equal("c1", live.LastGoodCommit);
            foreach (var h in w.Hosts)
                Assert.Equal(ServiceFields.ReleaseId(newApi), live.Services["api"].Hosts[h.Name].ActiveRelease);
            Assert.Empty(await upgraded.ReadOpenJournalAsync(Env, CancellationToken.None));
        }
    }
}

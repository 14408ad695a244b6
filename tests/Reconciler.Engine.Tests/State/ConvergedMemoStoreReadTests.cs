using System.Text;
using Microsoft.Data.Sqlite;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Xunit;
using static Reconciler.Diff.Tests.Planning.PlanFixtures;

namespace Reconciler.Engine.Tests.State;

/// <summary>A store read with a converged memo, on a real SQLite file: the read defers only what the plan settles, so a
/// corrupt stored entry fails the read as a typed failure and never surfaces from inside the planner.</summary>
public sealed class ConvergedMemoStoreReadTests : IDisposable
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly TempDir _dir = new();
    private readonly DesiredState _desired = Desired([Svc("db"), Svc("api", "1.4.2", ["db"], config: [("LOG_LEVEL", "info")]), Svc("web", "2.0.0", ["api"])]);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private string DbPath => _dir.Combine("state.db");

    private async Task<SqliteStateStore> Seeded()
    {
        var store = new SqliteStateStore(DbPath, TimeProvider.System);
        await store.WriteAsync(Env, 0, new StateChange([.. Applied(_desired).Services.Values], [], [], []), Ct);
        return store;
    }

    /// <summary>Plans with <paramref name="memo"/> as the plan use case does; returns the memo it records.</summary>
    private static async Task<ConvergedMemo> PlanAndRecord(IStateStore store, ConvergedMemo memo, DesiredState desired)
    {
        var match = ConvergedMemoMatch.Start(memo, desired, 1);
        var live = await store.ReadAsync(Env, match.Deferrable, Ct);
        return match.Record(live, Planner.Plan(desired, live, new PlanOptions(KnownConverged: match.KnownConverged(live))));
    }

    private void WriteBody(string service, string body)
    {
        using (var sql = new SqliteConnection($"Data Source={DbPath}"))
        {
            sql.Open();
            using var update = sql.CreateCommand();
            update.CommandText = "UPDATE services SET body = $body WHERE env = $env AND name = $name";
            update.Parameters.AddWithValue("$body", body);
            update.Parameters.AddWithValue("$env", Env);
            update.Parameters.AddWithValue("$name", service);
            Assert.Equal(1, update.ExecuteNonQuery());
        }
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task A_read_defers_exactly_the_services_the_plan_settles()
    {
        await using var store = await Seeded();
        var memo = await PlanAndRecord(store, ConvergedMemo.Create(), _desired);
        Assert.Equal(["api", "db", "web"], memo.Entries.Select(e => e.Service));

        // web's spec changed: its entry is not deferrable, so the read decodes it; the others are deferred and settled.
        var next = Desired(_desired.Services.Values.Select(s => s.Name == "web" ? s with { Version = "2.1.0" } : s));
        var match = ConvergedMemoMatch.Start(memo, next, 1);
        Assert.Equal(["api", "db"], match.Deferrable.Entries.Select(e => e.Service));
        var live = await store.ReadAsync(Env, match.Deferrable, Ct);
        Assert.Equal(["api", "db"], match.KnownConverged(live).Keys.Order(StringComparer.Ordinal));
        Assert.All(live.Services.Values, s => Assert.True(s.TryGetStoredDigest(out _)));
    }

    [Fact]
    public async Task A_corrupt_stored_entry_fails_the_store_read_as_a_store_failure_even_when_the_memo_knew_the_service()
    {
        await using var store = await Seeded();
        var memo = await PlanAndRecord(store, ConvergedMemo.Create(), _desired);

        // api's stored bytes damaged by hand: they are not the bytes its entry lists, so the read decodes them and fails,
        // before any planner runs.
        const string damaged = "{\"name\":\"api\",\"version\":";
        WriteBody("api", damaged);
        var match = ConvergedMemoMatch.Start(memo, _desired, 1);
        Assert.Equal(3, match.Deferrable.Count);
        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadAsync(Env, match.Deferrable, Ct));
        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains($"services[{Env}/api]", e.Message);

        // A memo that lists the damaged bytes themselves (one no plan could have recorded: an entry is only made from
        // bytes that decoded) still defers them only for a service the plan settles without reading it. With api's spec
        // changed, the plan would read api, so the read decodes it and fails.
        memo.TryGet("api", out var api);
        var forged = new ConvergedMemo(memo.Seed, [.. memo.Entries.Where(x => x.Service != "api"), api with { Live = memo.Digest(Encoding.UTF8.GetBytes(damaged)) }]);
        var changed = Desired(_desired.Services.Values.Select(s => s.Name == "api" ? s with { Version = "1.5.0" } : s));
        var forgedMatch = ConvergedMemoMatch.Start(forged, changed, 1);
        Assert.DoesNotContain(forgedMatch.Deferrable.Entries, x => x.Service == "api");
        e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadAsync(Env, forgedMatch.Deferrable, Ct));
        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
    }
}

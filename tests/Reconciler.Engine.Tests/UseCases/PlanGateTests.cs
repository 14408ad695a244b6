using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Engine.Tests.Git;
using Reconciler.State;
using Reconciler.State.Sqlite;
using Reconciler.Testing;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>The plan reports each environment's lock and freeze as a real SQLite store holds them at plan time, judged
/// by the request's clock (fake here), so a reviewer sees whether apply will start.</summary>
public sealed class PlanGateTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2031, 6, 2, 10, 0, 0, TimeSpan.Zero);   // later than the real clock: only the request's clock expires a lock
    private readonly GitFixture _git = new();
    private readonly TempDir _tmp = new();
    private readonly FakeTimeProvider _clock = new(Start);

    public PlanGateTests() => _git.CommitExampleRepo();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _git.Dispose();
        _tmp.Dispose();
    }

    private string Db => _tmp.Combine("state.db");

    private PlanOutcome PlanAll()
    {
        var outcome = PlanUseCase.Run(new PlanRequest(_git.Root, "HEAD", AllEnvironments: true, StateUrl: $"sqlite:{Db}") { Time = _clock }, CancellationToken.None);
        outcome.MemoWrites.GetAwaiter().GetResult();
        Assert.Null(outcome.Failure);
        return outcome;
    }

    [Fact]
    public async Task A_held_lock_and_a_freeze_are_reported_and_an_expired_lock_is_free()
    {
        var ct = CancellationToken.None;
        await using (var store = new SqliteStateStore(Db, _clock))
        {
            Assert.True((await store.TryAcquireLockAsync("production", "alice", "database migration", TimeSpan.FromHours(1), ct)).Acquired);
            Assert.True((await store.TryAcquireLockAsync("staging", "bob", "apply abc1234", TimeSpan.FromMinutes(10), ct)).Acquired);
            await store.SetFreezeAsync("staging", new FreezeInfo("release week", "carol", Start), ct);
        }
        _clock.Advance(TimeSpan.FromMinutes(30));   // bob's lock has expired, alice's has not

        var outcome = PlanAll();

        Assert.Equal(["production", "staging"], outcome.Gates.Keys);
        var production = outcome.Gates["production"];
        Assert.Equal(("alice", "database migration", Start.AddHours(1)), (production.Lock?.Owner, production.Lock?.Reason, production.Lock?.ExpiresAt));
        Assert.Null(production.Freeze);
        var staging = outcome.Gates["staging"];
        Assert.Null(staging.Lock);
        Assert.Equal(new FreezeInfo("release week", "carol", Start), staging.Freeze);
    }

    [Fact]
    public async Task A_free_store_is_open_a_missing_store_is_open_and_a_preview_reads_nothing()
    {
        Assert.All(PlanAll().Gates.Values, g => Assert.Equal(EnvironmentGate.Open, g));   // no store file yet: nothing can be locked
        Assert.False(File.Exists(Db));

        await using (var store = new SqliteStateStore(Db, _clock))
        {
            Assert.True((await store.TryAcquireLockAsync("production", "alice", "maintenance", TimeSpan.FromHours(1), CancellationToken.None)).Acquired);
            Assert.True(await store.ReleaseLockAsync("production", "alice", force: false, CancellationToken.None));
            await store.SetFreezeAsync("staging", new FreezeInfo("release week", "carol", Start), CancellationToken.None);
            await store.SetFreezeAsync("staging", null, CancellationToken.None);
        }
        var free = PlanAll();
        Assert.Equal(2, free.Gates.Count);
        Assert.All(free.Gates.Values, g => Assert.Equal(EnvironmentGate.Open, g));

        var preview = PlanUseCase.Run(new PlanRequest(_git.Root, "HEAD", "production", BaseRevision: "HEAD"), CancellationToken.None);
        Assert.Null(preview.Failure);
        Assert.Empty(preview.Gates);
    }
}

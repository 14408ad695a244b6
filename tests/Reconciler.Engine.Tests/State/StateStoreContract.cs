using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Diff.Live;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// The one contract every IStateStore meets, with the same assertions for each store. Derived classes only say
/// how to open a store on a fresh backend and how time passes (docs/state.md, "what runs where").
/// </summary>
public abstract class StateStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    protected FakeTimeProvider Time { get; } = new(Start);

    /// <summary>Unique per test, so a shared real backend (a real Consul agent) never mixes tests.</summary>
    protected string Env { get; } = "t-" + Guid.NewGuid().ToString("N")[..10];

    private readonly List<IStateStore> _opened = [];

    /// <summary>Prepares a fresh backend for this test.</summary>
    protected abstract Task StartBackendAsync();
    /// <summary>A new store instance on the backend: a separate connection, as a second process would have.</summary>
    protected abstract IStateStore CreateStore();
    /// <summary>Lets <paramref name="by"/> pass for the lock TTL (fake clocks advance; a real agent is waited on
    /// until <paramref name="until"/> holds, bounded).</summary>
    protected abstract Task LetTimePassAsync(TimeSpan by, Func<Task<bool>> until);
    protected virtual Task StopBackendAsync() => Task.CompletedTask;
    /// <summary>When a lock taken now with <paramref name="ttl"/> is free again at the latest if never renewed (Consul:
    /// up to twice the TTL, then the lock-delay).</summary>
    protected virtual TimeSpan LockHeldAtMost(TimeSpan ttl) => ttl;

    protected IStateStore Open()
    {
        var s = CreateStore();
        _opened.Add(s);
        return s;
    }

    /// <summary>Disposes <paramref name="store"/> with the others at the end of the test.</summary>
    protected T Track<T>(T store) where T : IStateStore
    {
        _opened.Add(store);
        return store;
    }

    public Task InitializeAsync() => StartBackendAsync();

    public async Task DisposeAsync()
    {
        foreach (var s in _opened) await s.DisposeAsync();
        await StopBackendAsync();
    }

    private static CancellationToken Ct => CancellationToken.None;

    internal static LiveService Service(string name, string version, params string[] hosts) => new(
        name, version, $"{name}-{version}-abc123", "cfg" + version.Replace(".", ""), "c0ffee" + version.Replace(".", ""),
        ["db"],
        new SortedDictionary<string, string>(StringComparer.Ordinal) { ["version"] = version, ["config.PORT"] = "8080", ["config.DB_PASSWORD"] = "secret env:DB_PW" }
            .ToImmutableSortedDictionary(StringComparer.Ordinal),
        hosts.ToImmutableSortedDictionary(h => h, h => new LiveHost(h, $"{name}-{version}-abc123", $"{name}-0.9.0-def456"), StringComparer.Ordinal));

    internal static StateChange Upsert(params LiveService[] services) => new([.. services], [], [], []);

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, ReconcilerJson.Options);

    // ---- live state -------------------------------------------------------------------------------------

    [Fact]
    public async Task An_unknown_environment_reads_as_empty_at_version_0()
    {
        var live = await Open().ReadAsync(Env, Ct);
        Assert.Equal(0, live.Version);
        Assert.Empty(live.Services);
        Assert.Empty(live.Toggles);
        Assert.Null(live.LastGoodCommit);
        Assert.Equal(Env, live.Environment);
    }

    [Fact]
    public async Task A_write_round_trips_services_toggles_and_last_good_commit()
    {
        var store = Open();
        var api = Service("api", "1.5.0", "web-1", "web-2");
        var change = new StateChange([api, Service("db", "14.1", "db-1")], [], [new LiveToggle("new-checkout", true, "c0ffee")], [], "c0ffee");
        var version = await store.WriteAsync(Env, 0, change, Ct);
        Assert.NotEqual(0, version);

        var live = await Open().ReadAsync(Env, Ct);
        Assert.Equal(version, live.Version);
        Assert.Equal(["api", "db"], live.Services.Keys);
        Assert.Equal(Json(api), Json(live.Services["api"]));
        Assert.Equal(Json(new LiveToggle("new-checkout", true, "c0ffee")), Json(live.Toggles["new-checkout"]));
        Assert.Equal("c0ffee", live.LastGoodCommit);
        Assert.Same(StringComparer.Ordinal, live.Services["api"].Hosts.KeyComparer);
    }

    [Fact]
    public async Task A_read_with_a_converged_memo_marks_every_service_and_defers_only_what_the_memo_knows()
    {
        var api = Service("api", "1.5.0", "web-1", "web-2");
        var db = Service("db", "14.1", "db-1");
        await Open().WriteAsync(Env, 0, Upsert(api, db), Ct);

        // A first read with an empty memo: nothing deferred, every service marked with the digest of its stored bytes.
        var empty = ConvergedMemo.Create();
        var first = await Open().ReadAsync(Env, empty, Ct);
        Assert.True(first.Services["api"].TryGetStoredDigest(out var apiDigest));
        Assert.True(first.Services["db"].TryGetStoredDigest(out var dbDigest));
        Assert.NotEqual(apiDigest, dbDigest);
        Assert.Equal(Json(api), Json(first.Services["api"]));

        // A memo that knows api's stored bytes: api comes back undecoded and decodes to the same service on first use.
        var memo = new ConvergedMemo(empty.Seed, [new ConvergedMemo.Entry("api", apiDigest, 1, 2, "r"), new ConvergedMemo.Entry("db", dbDigest + 1, 1, 2, "r")]);
        var second = await Open().ReadAsync(Env, memo, Ct);
        Assert.True(second.Services["api"].TryGetStoredDigest(out var again));
        Assert.Equal(apiDigest, again);
        Assert.Equal(Json(api), Json(second.Services["api"]));
        Assert.Equal(Json(db), Json(second.Services["db"]));

        // Without a memo nothing is marked.
        Assert.False((await Open().ReadAsync(Env, Ct)).Services["api"].TryGetStoredDigest(out _));
    }

    [Fact]
    public async Task Every_write_changes_the_version_and_an_unset_last_good_commit_is_kept()
    {
        var store = Open();
        var v1 = await store.WriteAsync(Env, 0, Upsert(Service("api", "1.0.0", "web-1")) with { LastGoodCommit = "aaa111" }, Ct);
        var v2 = await store.WriteAsync(Env, v1, Upsert(Service("api", "1.1.0", "web-1")), Ct);
        var v3 = await store.WriteAsync(Env, v2, StateChange.Empty, Ct);
        Assert.Equal(3, new[] { v1, v2, v3 }.Distinct().Count());
        var live = await store.ReadAsync(Env, Ct);
        Assert.Equal(v3, live.Version);
        Assert.Equal("1.1.0", live.Services["api"].Version);
        Assert.Equal("aaa111", live.LastGoodCommit);
    }

    [Fact]
    public async Task Removals_delete_only_the_named_services_and_toggles()
    {
        var store = Open();
        var v1 = await store.WriteAsync(Env, 0, new StateChange([Service("api", "1.0.0"), Service("web", "2.0.0"), Service("worker", "3.0.0")], [],
            [new LiveToggle("a", true, "c1"), new LiveToggle("b", false, "c1")], []), Ct);
        await store.WriteAsync(Env, v1, new StateChange([], ["web", "not-there"], [], ["a"]), Ct);
        var live = await store.ReadAsync(Env, Ct);
        Assert.Equal(["api", "worker"], live.Services.Keys);
        Assert.Equal(["b"], live.Toggles.Keys);
    }

    [Fact]
    public async Task Environments_are_independent()
    {
        var store = Open();
        var other = Env + "-other";
        await store.WriteAsync(Env, 0, Upsert(Service("api", "1.0.0")), Ct);
        var live = await store.ReadAsync(other, Ct);
        Assert.Equal(0, live.Version);
        Assert.Empty(live.Services);
    }

    [Fact]
    public async Task A_stale_version_is_refused_naming_the_key_and_both_versions_and_nothing_is_written()
    {
        var store = Open();
        var v1 = await store.WriteAsync(Env, 0, Upsert(Service("api", "1.0.0")), Ct);
        var v2 = await store.WriteAsync(Env, v1, Upsert(Service("api", "1.1.0")), Ct);

        var e = await Assert.ThrowsAsync<StateConflictException>(() => store.WriteAsync(Env, v1, Upsert(Service("api", "9.9.9"), Service("new", "1.0.0")), Ct));
        Assert.Equal(v1, e.ExpectedVersion);
        Assert.Equal(v2, e.ActualVersion);
        Assert.Contains(Env, e.Key);
        Assert.Contains($"expected version {v1}, found {v2}", e.Message);
        Assert.Equal(FailureKind.StaleOrConflict, e.Kind);

        var live = await store.ReadAsync(Env, Ct);
        Assert.Equal(v2, live.Version);
        Assert.Equal("1.1.0", live.Services["api"].Version);
        Assert.False(live.Services.ContainsKey("new"));
    }

    [Fact]
    public async Task Creating_an_environment_that_exists_already_conflicts()
    {
        var v1 = await Open().WriteAsync(Env, 0, Upsert(Service("api", "1.0.0")), Ct);
        var e = await Assert.ThrowsAsync<StateConflictException>(() => Open().WriteAsync(Env, 0, Upsert(Service("api", "2.0.0")), Ct));
        Assert.Equal(0, e.ExpectedVersion);
        Assert.Equal(v1, e.ActualVersion);
    }

    [Fact]
    public async Task Two_writers_racing_on_one_version_exactly_one_wins_and_the_other_learns_both_versions()
    {
        var setup = Open();
        var v1 = await setup.WriteAsync(Env, 0, Upsert(Service("api", "1.0.0")), Ct);
        var a = Open();
        var b = Open();
        using var go = new ManualResetEventSlim();
        var writers = new[] { (Store: a, Version: "2.0.0-a"), (Store: b, Version: "2.0.0-b") }.Select(w => Task.Run(async () =>
        {
            go.Wait(TimeSpan.FromSeconds(10));
            try { return (Won: true, Version: await w.Store.WriteAsync(Env, v1, Upsert(Service("api", w.Version)), Ct), Error: (StateConflictException?)null); }
            catch (StateConflictException e) { return (Won: false, Version: 0L, Error: e); }
        })).ToList();
        go.Set();
        var results = await Task.WhenAll(writers);

        var winners = results.Where(r => r.Won).ToList();
        var loser = Assert.Single(results, r => !r.Won);
        Assert.Single(winners);
        Assert.Equal(v1, loser.Error!.ExpectedVersion);
        Assert.Equal(winners[0].Version, loser.Error.ActualVersion);
        var live = await setup.ReadAsync(Env, Ct);
        Assert.Equal(winners[0].Version, live.Version);
        Assert.Equal(results.IndexOf(winners[0]) == 0 ? "2.0.0-a" : "2.0.0-b", live.Services["api"].Version);
    }

    [Fact]
    public async Task Names_that_could_escape_their_key_are_refused()
    {
        var store = Open();
        await Assert.ThrowsAsync<ReconcilerException>(() => store.ReadAsync("../etc", Ct));
        await Assert.ThrowsAsync<ReconcilerException>(() => store.WriteAsync(Env, 0, Upsert(Service("a/b", "1.0.0")), Ct));
        await Assert.ThrowsAsync<ReconcilerException>(() => store.WriteAsync(Env, 0, Upsert(Service("api", "1.0.0", "host/../x")), Ct));
        Assert.Equal(0, (await store.ReadAsync(Env, Ct)).Version);
    }

    // ---- journal ----------------------------------------------------------------------------------------

    private JournalEntry Step(string applyId, string step, JournalStatus status, int second) =>
        new(Env, applyId, "c0ffee", step, status, Start.AddSeconds(second), status == JournalStatus.Failed ? "health gate failed" : null);

    [Fact]
    public async Task The_open_journal_returns_unfinished_steps_in_append_order_to_a_new_store_instance()
    {
        var writer = Open();
        var steps = new[]
        {
            Step("apply-1", "w1/db/host/db-1/upload", JournalStatus.Started, 1),
            Step("apply-1", "w1/db/host/db-1/upload", JournalStatus.Finished, 2),
            Step("apply-1", "w1/db/host/db-1/activate", JournalStatus.Started, 3),
            Step("apply-1", "w1/db/host/db-1/activate", JournalStatus.Failed, 3),   // same timestamp: order must come from appends
        };
        foreach (var s in steps) await writer.AppendJournalAsync(s, Ct);

        // Another instance (as the next run after a crash would be) sees exactly the same entries.
        var open = await Open().ReadOpenJournalAsync(Env, Ct);
        Assert.Equal(steps.Select(Json), open.Select(Json));
    }

    [Fact]
    public async Task A_closed_apply_leaves_the_open_journal_and_other_applies_stay()
    {
        var store = Open();
        await store.AppendJournalAsync(Step("apply-1", "w1/api/start", JournalStatus.Started, 1), Ct);
        await store.AppendJournalAsync(Step("apply-1", "w1/api/start", JournalStatus.Finished, 2), Ct);
        await store.AppendJournalAsync(Step("apply-2", "w1/web/start", JournalStatus.Started, 3), Ct);
        await store.CloseJournalAsync(Env, "apply-1", Ct);

        var open = await Open().ReadOpenJournalAsync(Env, Ct);
        var only = Assert.Single(open);
        Assert.Equal("apply-2", only.ApplyId);
        await store.CloseJournalAsync(Env, "apply-2", Ct);
        Assert.Empty(await store.ReadOpenJournalAsync(Env, Ct));
        Assert.Empty(await store.ReadOpenJournalAsync(Env + "-other", Ct));
    }

    [Fact]
    public async Task Appending_after_a_new_store_instance_resumes_continues_the_same_journal()
    {
        await Open().AppendJournalAsync(Step("apply-1", "s1", JournalStatus.Started, 1), Ct);
        var resumed = Open();
        await resumed.AppendJournalAsync(Step("apply-1", "s1", JournalStatus.Finished, 2), Ct);
        await resumed.AppendJournalAsync(Step("apply-1", "s2", JournalStatus.Started, 3), Ct);
        var open = await Open().ReadOpenJournalAsync(Env, Ct);
        Assert.Equal(["s1:Started", "s1:Finished", "s2:Started"], open.Select(e => $"{e.Step}:{e.Status}"));
    }

    // ---- history and quarantine -------------------------------------------------------------------------

    private HistoryEntry History(string id, int minute, ApplyResult result, DateTimeOffset? finished = null) => new(
        id, Env, "c0ffee" + id, "Ada <ada@example.com>", "ci@runner", Start.AddMinutes(minute), finished, result,
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("api", "upgraded 1.4.2 -> 1.5.0")]), "ok");

    [Fact]
    public async Task History_is_newest_first_limited_and_an_entry_is_updated_by_its_id()
    {
        var store = Open();
        await store.AppendHistoryAsync(History("h1", 1, ApplyResult.Succeeded, Start.AddMinutes(2)), Ct);
        await store.AppendHistoryAsync(History("h3", 3, ApplyResult.Interrupted), Ct);
        await store.AppendHistoryAsync(History("h2", 2, ApplyResult.RolledBack, Start.AddMinutes(3)), Ct);
        await store.AppendHistoryAsync(History("h3", 3, ApplyResult.Succeeded, Start.AddMinutes(5)), Ct);   // the same apply, finished

        var all = await Open().ReadHistoryAsync(Env, 10, Ct);
        Assert.Equal(["h3", "h2", "h1"], all.Select(h => h.Id));
        Assert.Equal(ApplyResult.Succeeded, all[0].Result);
        Assert.Equal(Start.AddMinutes(5), all[0].Finished);
        Assert.Equal(Json(History("h2", 2, ApplyResult.RolledBack, Start.AddMinutes(3))), Json(all[1]));
        Assert.Equal(["h3", "h2"], (await store.ReadHistoryAsync(Env, 2, Ct)).Select(h => h.Id));
        Assert.Empty(await store.ReadHistoryAsync(Env + "-other", 10, Ct));
    }

    [Fact]
    public async Task Quarantined_commits_are_kept_with_their_reason()
    {
        var store = Open();
        await store.QuarantineAsync(Env, new QuarantinedCommit("bad0001", "health gate failed on web-1: HTTP 500", Start.AddMinutes(1)), Ct);
        await store.QuarantineAsync(Env, new QuarantinedCommit("bad0002", "rollback after canary", Start.AddMinutes(2)), Ct);
        var list = await Open().ReadQuarantineAsync(Env, Ct);
        Assert.Equal(["bad0001", "bad0002"], list.Select(q => q.Commit));
        Assert.Equal("health gate failed on web-1: HTTP 500", list[0].Reason);
        Assert.Empty(await store.ReadQuarantineAsync(Env + "-other", Ct));
    }

    [Fact]
    public async Task A_lifted_quarantine_removes_only_that_commit()
    {
        var store = Open();
        await store.QuarantineAsync(Env, new QuarantinedCommit("bad0001", "secret missing on the runner", Start.AddMinutes(1)), Ct);
        await store.QuarantineAsync(Env, new QuarantinedCommit("bad0002", "health gate failed", Start.AddMinutes(2)), Ct);
        Assert.True(await store.UnquarantineAsync(Env, "bad0001", Ct));
        Assert.False(await store.UnquarantineAsync(Env, "bad0001", Ct));   // already lifted: nothing to do, said so
        Assert.False(await store.UnquarantineAsync(Env + "-other", "bad0002", Ct));
        Assert.Equal(["bad0002"], (await Open().ReadQuarantineAsync(Env, Ct)).Select(q => q.Commit));
    }

    // ---- lock -------------------------------------------------------------------------------------------

    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Only_one_owner_holds_the_lock_and_the_other_is_told_who_and_why()
    {
        var alice = Open();
        var bob = Open();
        var first = await alice.TryAcquireLockAsync(Env, "alice", "db migration", Ttl, Ct);
        Assert.True(first.Acquired);
        Assert.Equal("alice", first.Holder.Owner);
        Assert.Equal(Time.GetUtcNow() + LockHeldAtMost(Ttl), first.Holder.ExpiresAt);

        var second = await bob.TryAcquireLockAsync(Env, "bob", "deploy", Ttl, Ct);
        Assert.False(second.Acquired);
        Assert.Equal("alice", second.Holder.Owner);
        Assert.Equal("db migration", second.Holder.Reason);
        Assert.Equal(Env, second.Holder.Environment);

        var read = await bob.ReadLockAsync(Env, Ct);
        Assert.Equal("alice", read!.Owner);
        Assert.True((await alice.TryAcquireLockAsync(Env, "alice", "db migration, part 2", Ttl, Ct)).Acquired);   // re-entrant for the holder
        Assert.Equal("db migration, part 2", (await bob.ReadLockAsync(Env, Ct))!.Reason);
        Assert.Null(await bob.ReadLockAsync(Env + "-other", Ct));
    }

    [Fact]
    public async Task Release_is_for_the_owner_unless_forced()
    {
        var store = Open();
        Assert.True((await store.TryAcquireLockAsync(Env, "alice", "maintenance", Ttl, Ct)).Acquired);
        Assert.False(await store.ReleaseLockAsync(Env, "bob", force: false, Ct));
        Assert.NotNull(await store.ReadLockAsync(Env, Ct));
        Assert.True(await store.ReleaseLockAsync(Env, "bob", force: true, Ct));
        Assert.Null(await store.ReadLockAsync(Env, Ct));
        Assert.False(await store.ReleaseLockAsync(Env, "alice", force: false, Ct));

        Assert.True((await store.TryAcquireLockAsync(Env, "carol", "deploy", Ttl, Ct)).Acquired);   // free again at once
        Assert.True(await store.ReleaseLockAsync(Env, "carol", force: false, Ct));
        Assert.True((await Open().TryAcquireLockAsync(Env, "dave", "deploy", Ttl, Ct)).Acquired);
    }

    [Fact]
    public async Task Renewal_is_for_the_holder_only()
    {
        var store = Open();
        await store.TryAcquireLockAsync(Env, "alice", "apply", Ttl, Ct);
        Assert.True(await store.RenewLockAsync(Env, "alice", Ttl, Ct));
        Assert.False(await store.RenewLockAsync(Env, "bob", Ttl, Ct));
        Assert.Equal("alice", (await store.ReadLockAsync(Env, Ct))!.Owner);
    }

    [Fact]
    public async Task A_lock_whose_holder_stops_renewing_expires_after_its_ttl()
    {
        var holder = Open();
        Assert.True((await holder.TryAcquireLockAsync(Env, "crashed-runner", "apply c0ffee", Ttl, Ct)).Acquired);
        var other = Open();
        Assert.False((await other.TryAcquireLockAsync(Env, "next-runner", "apply", Ttl, Ct)).Acquired);

        await LetTimePassAsync(LockHeldAtMost(Ttl) + TimeSpan.FromSeconds(1), async () => await other.ReadLockAsync(Env, Ct) is null);

        Assert.Null(await other.ReadLockAsync(Env, Ct));
        Assert.False(await holder.RenewLockAsync(Env, "crashed-runner", Ttl, Ct));
        var taken = await other.TryAcquireLockAsync(Env, "next-runner", "apply", Ttl, Ct);
        Assert.True(taken.Acquired);
        Assert.Equal("next-runner", taken.Holder.Owner);
    }

    [Fact]
    public async Task A_renewed_lock_outlives_its_first_ttl()
    {
        var store = Open();
        await store.TryAcquireLockAsync(Env, "alice", "apply", Ttl, Ct);
        await LetTimePassAsync(Ttl / 2, () => Task.FromResult(true));
        Assert.True(await store.RenewLockAsync(Env, "alice", Ttl, Ct));
        await LetTimePassAsync(Ttl * 3 / 4, () => Task.FromResult(true));
        Assert.Equal("alice", (await Open().ReadLockAsync(Env, Ct))?.Owner);
        Assert.False((await Open().TryAcquireLockAsync(Env, "bob", "deploy", Ttl, Ct)).Acquired);
    }

    // ---- freeze -----------------------------------------------------------------------------------------

    [Fact]
    public async Task Freeze_is_set_read_and_lifted()
    {
        var store = Open();
        Assert.Null(await store.ReadFreezeAsync(Env, Ct));
        var freeze = new FreezeInfo("end-of-year freeze", "alice", Start);
        await store.SetFreezeAsync(Env, freeze, Ct);
        Assert.Equal(freeze, await Open().ReadFreezeAsync(Env, Ct));
        Assert.Null(await store.ReadFreezeAsync(Env + "-other", Ct));
        await store.SetFreezeAsync(Env, null, Ct);
        Assert.Null(await store.ReadFreezeAsync(Env, Ct));
        await store.SetFreezeAsync(Env, null, Ct);   // lifting twice is fine
    }
}

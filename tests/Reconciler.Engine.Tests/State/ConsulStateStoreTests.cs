using Reconciler.Consul;
using Reconciler.Diff.Live;
using Reconciler.State;
using Reconciler.State.Consul;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// The store contract against Consul, plus what only Consul's store promises: a real agent when CONSUL_HTTP_ADDR is set
/// (every CONSUL_* variable of HashiCorp's api client honoured), otherwise the in-process <see cref="ConsulTestServer"/>
/// on a fake clock. Tests that need the test server's controls are <see cref="TestServerOnlyFactAttribute"/>.
/// </summary>
public sealed class ConsulStateStoreContractTests : StateStoreContract
{
    private ConsulTestServer? _server;
    private readonly string _prefix = "reconciler-test/" + Guid.NewGuid().ToString("N")[..8];
    private static CancellationToken Ct => CancellationToken.None;

    internal static bool RealAgent => Environment.GetEnvironmentVariable("CONSUL_HTTP_ADDR") is { Length: > 0 };

    protected override async Task StartBackendAsync()
    {
        if (!RealAgent) _server = await ConsulTestServer.StartAsync(Time);
    }

    /// <summary>Against a real agent: exactly the options the product takes from the environment.</summary>
    private ConsulClientOptions Options(Func<HttpMessageHandler, HttpMessageHandler>? wrap = null)
    {
        var options = _server is null
            ? ConsulClientOptions.FromEnvironment(null, Environment.GetEnvironmentVariable)
            : new ConsulClientOptions(_server.Address);
        options = options with { RetryBaseDelay = TimeSpan.FromMilliseconds(20) };
        return wrap is null ? options : options with { Handler = wrap(ConsulTransport.CreateHandler(options)) };
    }

    protected override IStateStore CreateStore() => new ConsulStateStore(new ConsulClient(Options()), _prefix, Time);

    private ConsulStateStore OpenConsul(Func<HttpMessageHandler, HttpMessageHandler>? wrap = null)
    {
        var store = new ConsulStateStore(new ConsulClient(Options(wrap)), _prefix, Time);
        Track(store);
        return store;
    }

    /// <summary>Consul: an unrenewed session lives up to 2×TTL (session_ttl.go), then the lock-delay keeps the lock.</summary>
    protected override TimeSpan LockHeldAtMost(TimeSpan ttl) => 2 * ttl + TimeSpan.FromSeconds(5);

    protected override async Task LetTimePassAsync(TimeSpan by, Func<Task<bool>> until)
    {
        if (_server is not null)
        {
            Time.Advance(by);
            Assert.True(await until(), "the condition did not hold after the clock moved");
            return;
        }
        // A real agent runs on real time and may take up to twice a session's TTL (plus lock-delay) to invalidate it.
        Time.Advance(by);
        var deadline = DateTime.UtcNow + by + TimeSpan.FromSeconds(20);
        while (!await until())
        {
            Assert.True(DateTime.UtcNow < deadline, $"the real Consul agent did not reach the expected state within {by}");
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        // An invalidated session's lock-delay (5 s) runs on the agent's real clock too: let it end before the test goes on.
        await Task.Delay(TimeSpan.FromSeconds(6));
    }

    protected override async Task StopBackendAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    [Fact]
    public async Task Two_appliers_racing_on_one_environment_50_times_exactly_one_wins_and_the_other_is_told_the_key_and_versions()
    {
        var a = OpenConsul();
        var b = OpenConsul();
        var version = await a.WriteAsync(Env, 0, Upsert(Service("api", "1.0.0")) with { LastGoodCommit = "c0" }, Ct);
        for (var round = 0; round < 50; round++)
        {
            // Both appliers planned against the same version. Odd rounds write the same bytes twice (a converged commit
            // recorded by both): under Consul's real semantics an unchanged set keeps its index, the hardest case.
            var seenByA = (await a.ReadAsync(Env, Ct)).Version;
            var seenByB = (await b.ReadAsync(Env, Ct)).Version;
            Assert.Equal(version, seenByA);
            Assert.Equal(seenByA, seenByB);
            StateChange ChangeOf(string who) => round % 2 == 1
                ? StateChange.Empty with { LastGoodCommit = "c0" }
                : Upsert(Service("api", $"2.{round}.0-{who}"));
            using var go = new ManualResetEventSlim();
            var racers = new[] { (Store: a, Who: "a", Seen: seenByA), (Store: b, Who: "b", Seen: seenByB) }.Select(r => Task.Run(async () =>
            {
                go.Wait(TimeSpan.FromSeconds(10));
                try { return (r.Who, Won: await r.Store.WriteAsync(Env, r.Seen, ChangeOf(r.Who), Ct), Error: (StateConflictException?)null); }
                catch (StateConflictException e) { return (r.Who, Won: 0L, Error: e); }
            })).ToList();
            go.Set();
            var results = await Task.WhenAll(racers);

            var winner = Assert.Single(results, r => r.Error is null);
            var loser = Assert.Single(results, r => r.Error is not null);
            Assert.NotEqual(version, winner.Won);
            Assert.Equal(ConsulKeys.Version(_prefix, Env), loser.Error!.Key);
            Assert.Equal(version, loser.Error.ExpectedVersion);
            Assert.Equal(winner.Won, loser.Error.ActualVersion);
            Assert.Contains($"expected version {version}, found {winner.Won}", loser.Error.Message);
            var live = await a.ReadAsync(Env, Ct);
            Assert.Equal(winner.Won, live.Version);
            if (round % 2 == 0) Assert.Equal($"2.{round}.0-{winner.Who}", live.Services["api"].Version);
            version = winner.Won;
        }
    }

    [Fact]
    public async Task A_write_that_changes_nothing_still_moves_the_version_so_a_stale_plan_is_caught()
    {
        var store = OpenConsul();
        var v1 = await store.WriteAsync(Env, 0, StateChange.Empty with { LastGoodCommit = "c1" }, Ct);
        var v2 = await store.WriteAsync(Env, v1, StateChange.Empty with { LastGoodCommit = "c1" }, Ct);
        Assert.NotEqual(v1, v2);
        var e = await Assert.ThrowsAsync<StateConflictException>(() => store.WriteAsync(Env, v1, StateChange.Empty, Ct));
        Assert.Equal(v2, e.ActualVersion);
        Assert.Equal(v2, await store.WaitForVersionAsync(Env, v1, TimeSpan.FromSeconds(5), Ct));   // a watcher at v1 wakes
    }

    [Fact]
    public async Task Release_after_a_takeover_leaves_the_new_holders_lock_intact()
    {
        var bob = OpenConsul();
        LockAttempt? bobsTake = null;
        // Alice's release is interleaved with Bob's takeover: right after her ?release= reaches Consul, Bob takes the lock.
        var alice = OpenConsul(inner => new AfterRequest(inner, "release=", async () =>
            bobsTake = await bob.TryAcquireLockAsync(Env, "bob", "deploy", TimeSpan.FromSeconds(30), Ct)));
        Assert.True((await alice.TryAcquireLockAsync(Env, "alice", "apply", TimeSpan.FromSeconds(30), Ct)).Acquired);

        Assert.True(await alice.ReleaseLockAsync(Env, "alice", force: false, Ct));
        Assert.True(bobsTake!.Acquired);
        Assert.Equal("bob", (await OpenConsul().ReadLockAsync(Env, Ct))?.Owner);
        Assert.False((await OpenConsul().TryAcquireLockAsync(Env, "carol", "deploy", TimeSpan.FromSeconds(30), Ct)).Acquired);
        Assert.False(await alice.ReleaseLockAsync(Env, "alice", force: false, Ct));   // again, later: still Bob's
        Assert.Equal("bob", (await bob.ReadLockAsync(Env, Ct))?.Owner);
        Assert.True(await bob.RenewLockAsync(Env, "bob", TimeSpan.FromSeconds(30), Ct));
    }

    [Fact]
    public async Task The_lock_session_names_its_checks_explicitly_and_the_expiry_said_is_the_latest_one()
    {
        var store = OpenConsul();
        var taken = await store.TryAcquireLockAsync(Env, "alice", "apply", TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(Time.GetUtcNow() + TimeSpan.FromSeconds(65), taken.Holder.ExpiresAt);   // 2×TTL + lock-delay
        using var client = new ConsulClient(Options());
        var pair = (await client.GetAsync(ConsulKeys.Lock(_prefix, Env), ct: Ct)).Value!;
        var session = await client.ReadSessionAsync(pair.Session!, Ct);
        Assert.Equal([ConsulClient.SerfHealth], session!.NodeChecks);
        Assert.Equal(TimeSpan.FromSeconds(30), session.Ttl);
        Assert.Equal(TimeSpan.FromSeconds(5), session.LockDelay);
    }

    [TestServerOnlyFact]
    public async Task A_holder_watching_its_lock_learns_at_once_that_a_failed_node_check_ended_its_session_and_the_lock_names_nobody()
    {
        var holder = OpenConsul();
        Assert.True((await holder.TryAcquireLockAsync(Env, "alice", "apply", TimeSpan.FromMinutes(2), Ct)).Acquired);
        var watch = holder.WatchLockAsync(Env, "alice", Ct);
        Assert.False(watch.IsCompleted);

        _server!.SetCheck(ConsulTestServer.AgentNode, "serfHealth", "critical");
        await watch.WaitAsync(TimeSpan.FromSeconds(10));   // real time, fake clock untouched: no renewal was needed to notice

        Assert.Null(await holder.ReadLockAsync(Env, Ct));
        _server.SetCheck(ConsulTestServer.AgentNode, "serfHealth", "passing");
        var during = await OpenConsul().TryAcquireLockAsync(Env, "bob", "deploy", TimeSpan.FromMinutes(2), Ct);
        Assert.False(during.Acquired);
        Assert.Equal("(none)", during.Holder.Owner);   // the dead holder is not named
        Assert.Contains("lock-delay", during.Holder.Reason);
        Time.Advance(TimeSpan.FromSeconds(6));
        Assert.True((await OpenConsul().TryAcquireLockAsync(Env, "bob", "deploy", TimeSpan.FromMinutes(2), Ct)).Acquired);
        Assert.False(await holder.RenewLockAsync(Env, "alice", TimeSpan.FromMinutes(2), Ct));
    }

    /// <summary>Runs <paramref name="then"/> after a request whose URL contains <paramref name="marker"/> got its answer.</summary>
    private sealed class AfterRequest(HttpMessageHandler inner, string marker, Func<Task> then) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var response = await base.SendAsync(request, ct);
            if (request.RequestUri!.Query.Contains(marker, StringComparison.Ordinal)) await then();
            return response;
        }
    }
}

/// <summary>A test that needs the Consul test server's controls (failing a node check, ACL rules, limits): skipped when
/// CONSUL_HTTP_ADDR points the Consul tests at a real agent.</summary>
public sealed class TestServerOnlyFactAttribute : FactAttribute
{
    public TestServerOnlyFactAttribute()
    {
        if (ConsulStateStoreContractTests.RealAgent)
            Skip = "needs the Consul test server's controls (it fails node checks, sets ACL rules or limits); CONSUL_HTTP_ADDR points at a real agent";
    }
}

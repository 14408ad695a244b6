using Microsoft.Extensions.Time.Testing;
using Reconciler.Consul;
using Reconciler.State;
using Reconciler.State.Consul;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// The leader election of daemons sharing a Consul store (ConsulStateStore.Leader.cs) against the Consul test server on a
/// fake clock: one leader at a time; a standby's blocking watch returns when the leader's session ends; a dead leader's
/// key is free only after Consul invalidated its session (2 x TTL unrenewed) and its lock-delay ran; a clean resign
/// hands over at once.
/// </summary>
public sealed class ConsulLeaderElectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));
    private readonly string _prefix = $"leader-{Guid.NewGuid():N}"[..16];
    private readonly List<ConsulStateStore> _stores = [];
    private ConsulTestServer _server = null!;

    public async Task InitializeAsync() => _server = await ConsulTestServer.StartAsync(_time);

    public async Task DisposeAsync()
    {
        foreach (var s in _stores) await s.DisposeAsync();
        await _server.DisposeAsync();
    }

    private ConsulStateStore Store()
    {
        var store = new ConsulStateStore(new ConsulClient(new ConsulClientOptions(_server.Address) { RetryBaseDelay = TimeSpan.FromMilliseconds(20) }), _prefix, _time);
        _stores.Add(store);
        return store;
    }

    [Fact]
    public async Task A_standby_watching_the_key_leads_once_the_dead_leaders_session_expired_and_its_lock_delay_ran()
    {
        var (a, b) = (Store(), Store());
        Assert.Equal("a", (await a.TryLeadAsync("prod", "a", Ttl, Ct)).Leader?.Instance);
        var seen = await b.TryLeadAsync("prod", "b", Ttl, Ct);
        Assert.Equal("a", seen.Leader?.Instance);
        // a renews within its TTL and keeps leading.
        _time.Advance(Ttl);
        Assert.Equal("a", (await a.TryLeadAsync("prod", "a", Ttl, Ct)).Leader?.Instance);

        var watch = b.WatchLeaderAsync("prod", (await b.TryLeadAsync("prod", "b", Ttl, Ct)).Index, TimeSpan.FromMinutes(5), Ct);
        await Task.Delay(100);
        Assert.False(watch.IsCompleted);
        // a dies: nobody renews. Consul invalidates the session at 2 x TTL at the latest, which releases the key.
        _time.Advance(2 * Ttl);
        var changed = await watch.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null(changed.Leader);
        // The lock-delay (5 s) keeps it from b for a while, then b leads.
        Assert.Null((await b.TryLeadAsync("prod", "b", Ttl, Ct)).Leader);
        _time.Advance(TimeSpan.FromSeconds(5));
        var now = await b.TryLeadAsync("prod", "b", Ttl, Ct);
        Assert.Equal("b", now.Leader?.Instance);
        Assert.Equal(_time.GetUtcNow(), now.Leader?.Since);
        // a, back from the dead, is a standby now; its old session is gone.
        Assert.Equal("b", (await a.TryLeadAsync("prod", "a", Ttl, Ct)).Leader?.Instance);
        Assert.Equal(1, _server.SessionCount);
    }

    [Fact]
    public async Task A_leader_that_resigns_hands_over_at_once_and_environments_elect_separately()
    {
        var (a, b) = (Store(), Store());
        Assert.Equal("a", (await a.TryLeadAsync("prod", "a", Ttl, Ct)).Leader?.Instance);
        Assert.Equal("b", (await b.TryLeadAsync("staging", "b", Ttl, Ct)).Leader?.Instance);
        await b.ResignAsync("prod", "b", Ct);   // not b's to give up: nothing changes
        Assert.Equal("a", (await b.TryLeadAsync("prod", "b", Ttl, Ct)).Leader?.Instance);

        await a.ResignAsync("prod", "a", Ct);

        Assert.Equal("b", (await b.TryLeadAsync("prod", "b", Ttl, Ct)).Leader?.Instance);   // no lock-delay after a clean resign
        Assert.Equal("b", (await a.TryLeadAsync("staging", "a", Ttl, Ct)).Leader?.Instance);
    }
}

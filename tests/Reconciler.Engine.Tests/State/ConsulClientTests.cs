using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Consul;
using Reconciler.Diff.Live;
using Reconciler.State;
using Reconciler.State.Consul;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The typed Consul client and the Consul store's failure modes, against the in-process server.</summary>
public sealed class ConsulClientTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private ConsulTestServer _server = null!;
    private static CancellationToken Ct => CancellationToken.None;

    public async Task InitializeAsync() => _server = await ConsulTestServer.StartAsync(_time);
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private ConsulClient Client(string? token = null, Uri? address = null) =>
        new(new ConsulClientOptions(address ?? _server.Address, token) { RetryBaseDelay = TimeSpan.FromMilliseconds(10), MaxRetries = 2 });

    private ConsulStateStore Store(string? token = null, Uri? address = null) => new(Client(token, address), "reconciler", _time);

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task Kv_put_get_list_keys_and_cas_follow_modify_indexes()
    {
        using var c = Client();
        Assert.Null((await c.GetAsync("app/a", ct: Ct)).Value);
        Assert.True(await c.PutAsync("app/a", B("1"), cas: 0, Ct));        // create only
        Assert.False(await c.PutAsync("app/a", B("2"), cas: 0, Ct));       // exists already
        var a = (await c.GetAsync("app/a", ct: Ct)).Value!;
        Assert.Equal("1", a.ValueText);
        Assert.False(await c.PutAsync("app/a", B("3"), cas: a.ModifyIndex - 1, Ct));
        Assert.True(await c.PutAsync("app/a", B("3"), cas: a.ModifyIndex, Ct));
        await c.PutAsync("app/dir/b", B("x"), ct: Ct);
        await c.PutAsync("apple", B("y"), ct: Ct);

        var list = (await c.ListAsync("app/", ct: Ct)).Value;
        Assert.Equal(["app/a", "app/dir/b"], list.Select(k => k.Key));
        Assert.Equal(["app/a", "app/dir/"], (await c.KeysAsync("app/", "/", Ct)).Value);

        var now = (await c.GetAsync("app/a", ct: Ct)).Value!;
        Assert.False(await c.DeleteAsync("app/a", cas: now.ModifyIndex + 100, Ct));
        Assert.True(await c.DeleteAsync("app/a", cas: now.ModifyIndex, Ct));
        Assert.Null((await c.GetAsync("app/a", ct: Ct)).Value);
        Assert.True(await c.DeleteAsync("app/missing", ct: Ct));
        Assert.Equal("y", (await c.GetAsync("apple", ct: Ct)).Value!.ValueText);   // deletes never touch a sibling prefix
    }

    [Fact]
    public async Task A_transaction_is_all_or_nothing()
    {
        using var c = Client();
        await c.PutAsync("t/version", B("v"), ct: Ct);
        var v = (await c.GetAsync("t/version", ct: Ct)).Value!;
        var failed = await c.TxnAsync([TxnOp.Set("t/a", B("a")), TxnOp.Cas("t/version", B("v2"), v.ModifyIndex + 1)], Ct);
        Assert.False(failed.Committed);
        Assert.Equal(1, Assert.Single(failed.Errors).OpIndex);
        Assert.Null((await c.GetAsync("t/a", ct: Ct)).Value);

        var ok = await c.TxnAsync([TxnOp.Cas("t/version", B("v2"), v.ModifyIndex), TxnOp.Set("t/a", B("a")), TxnOp.Delete("t/none")], Ct);
        Assert.True(ok.Committed);
        Assert.Equal(ok.Results[0].ModifyIndex, ok.Results[1].ModifyIndex);   // one index for the whole transaction
        var read = await c.TxnAsync([TxnOp.GetTree("t/")], Ct);
        Assert.Equal(["t/a", "t/version"], read.Results.Select(r => r.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Over_64_operations_or_512_kb_is_refused_before_sending()
    {
        using var c = Client();
        var before = _server.Requests;
        var tooMany = Enumerable.Range(0, 65).Select(i => TxnOp.Set($"k/{i}", B("x"))).ToList();
        var e = await Assert.ThrowsAsync<ConsulException>(() => c.TxnAsync(tooMany, Ct));
        Assert.Equal(ConsulErrorKind.TooLarge, e.Kind);
        Assert.Contains("at most 64", e.Message);
        var big = await Assert.ThrowsAsync<ConsulException>(() => c.PutAsync("k/big", new byte[512 * 1024 + 1], ct: Ct));
        Assert.Contains("k/big", big.Message);
        Assert.Equal(before, _server.Requests);
    }

    [Fact]
    public async Task A_store_write_needing_more_than_64_operations_is_refused_and_nothing_is_written()
    {
        await using var store = Store();
        var services = Enumerable.Range(0, 64).Select(i => StateStoreContract.Service($"svc{i:D2}", "1.0.0")).ToArray();
        var e = await Assert.ThrowsAsync<ReconcilerException>(() => store.WriteAsync("prod", 0, StateStoreContract.Upsert(services), Ct));
        Assert.Contains("65 Consul operations", e.Message);
        Assert.Contains("Nothing was written", e.Message);
        Assert.Empty(_server.Snapshot());
        Assert.NotEqual(0, await store.WriteAsync("prod", 0, StateStoreContract.Upsert(services[..63]), Ct));   // 63 + the version check fit
    }

    [Fact]
    public async Task A_blocking_query_wakes_up_on_a_change()
    {
        using var c = Client();
        await c.PutAsync("w/key", B("1"), ct: Ct);
        var first = await c.GetAsync("w/key", ct: Ct);
        var waiting = c.GetAsync("w/key", new BlockingQuery(first.Index, TimeSpan.FromMinutes(5)), Ct);
        await WaitUntil(() => _server.Requests >= 3);   // put, get, and the blocking get has arrived
        Assert.False(waiting.IsCompleted);
        await c.PutAsync("w/key", B("2"), ct: Ct);
        var woke = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("2", woke.Value!.ValueText);
        Assert.True(woke.Index > first.Index);
    }

    [Fact]
    public async Task A_blocking_query_returns_after_its_wait_time_without_change()
    {
        using var c = Client();
        await c.PutAsync("w/key", B("1"), ct: Ct);
        var first = await c.GetAsync("w/key", ct: Ct);
        var waiting = c.GetAsync("w/key", new BlockingQuery(first.Index, TimeSpan.FromSeconds(30)), Ct);
        await WaitUntil(() => _server.Requests >= 3);
        // The server's clock is fake: advance it until the wait ends (the query arrives asynchronously, so advance in steps).
        var result = await AdvanceUntil(waiting);
        Assert.Equal(first.Index, result.Index);
    }

    [Fact]
    public async Task The_store_watch_returns_the_new_version_after_a_write()
    {
        await using var store = Store();
        var v1 = await store.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), Ct);
        var watch = store.WaitForVersionAsync("prod", v1, TimeSpan.FromMinutes(5), Ct);
        await using var writer = Store();
        var v2 = await writer.WriteAsync("prod", v1, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.1.0")), Ct);
        Assert.Equal(v2, await watch.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Sessions_lock_a_key_and_an_expired_holder_keeps_it_free_only_after_lock_delay()
    {
        using var c = Client();
        var s1 = await c.CreateSessionAsync("one", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15), ct: Ct);
        var s2 = await c.CreateSessionAsync("two", TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(15), ct: Ct);
        Assert.True(await c.AcquireAsync("l/lock", s1, B("one"), Ct));
        Assert.False(await c.AcquireAsync("l/lock", s2, B("two"), Ct));
        Assert.Equal(s1, (await c.GetAsync("l/lock", ct: Ct)).Value!.Session);
        Assert.NotNull(await c.RenewSessionAsync(s1, Ct));

        _time.Advance(TimeSpan.FromSeconds(21));   // s1 not renewed for 2×TTL: invalidated, lock released, lock-delay starts
        Assert.Null(await c.RenewSessionAsync(s1, Ct));
        Assert.Null((await c.GetAsync("l/lock", ct: Ct)).Value!.Session);
        Assert.False(await c.AcquireAsync("l/lock", s2, B("two"), Ct));
        _time.Advance(TimeSpan.FromSeconds(15));
        Assert.True(await c.AcquireAsync("l/lock", s2, B("two"), Ct));
        Assert.True(await c.ReleaseAsync("l/lock", s2, ct: Ct));
        Assert.True(await c.DestroySessionAsync(s2, Ct));
        Assert.Null(await c.ReadSessionAsync(s2, Ct));
    }

    [Fact]
    public async Task An_acl_denied_token_is_a_clear_store_error_and_nothing_is_written()
    {
        _server.RequiredToken = "the-right-token";
        await using var store = Store(token: "a-wrong-token");
        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() =>
            store.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), Ct));
        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains("ACL permission denied", e.Message);
        Assert.Contains("CONSUL_HTTP_TOKEN", e.Message);
        Assert.DoesNotContain("a-wrong-token", e.Message);
        await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.TryAcquireLockAsync("prod", "a", "r", TimeSpan.FromMinutes(1), Ct));
        Assert.Equal(0, _server.Writes);

        await using var allowed = Store(token: "the-right-token");
        Assert.NotEqual(0, await allowed.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), Ct));
    }

    [Fact]
    public async Task An_unreachable_agent_is_a_clear_store_error_after_retries()
    {
        var closed = ClosedLoopbackPort();
        await using var store = Store(address: new Uri($"http://127.0.0.1:{closed}/"));
        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadAsync("prod", Ct));
        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains($"cannot reach Consul at http://127.0.0.1:{closed}", e.Message);
        Assert.Contains("connection refused", e.Message);
    }

    [Fact]
    public async Task No_cluster_leader_is_retried_then_reported_clearly_and_nothing_is_written()
    {
        _server.NoLeader = true;
        await using var store = Store();
        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() =>
            store.WriteAsync("prod", 0, StateStoreContract.Upsert(StateStoreContract.Service("api", "1.0.0")), Ct));
        Assert.Contains("no cluster leader", e.Message);
        Assert.Equal(3, _server.Requests);   // the first attempt and two retries
        Assert.Equal(0, _server.Writes);
    }

    [Fact]
    public async Task An_address_that_is_not_consul_is_a_clear_store_error()
    {
        _server.NotConsul = true;
        await using var store = Store();
        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadAsync("prod", Ct));
        Assert.Contains("not Consul's JSON", e.Message);
        Assert.Contains("<html>", e.Message);
    }

    [Fact]
    public async Task A_read_that_meets_a_5xx_is_retried_with_backoff_and_succeeds()
    {
        using var c = Client();
        await c.PutAsync("r/key", B("v"), ct: Ct);
        _server.FailNextRequests = 2;
        var before = _server.Requests;
        Assert.Equal("v", (await c.GetAsync("r/key", ct: Ct)).Value!.ValueText);
        Assert.Equal(before + 3, _server.Requests);
    }

    [Fact]
    public async Task A_cas_write_that_meets_a_500_is_not_retried_because_it_may_have_been_applied()
    {
        using var c = Client();
        _server.ServerErrorNextRequests = 1;
        var before = _server.Requests;
        var e = await Assert.ThrowsAsync<ConsulException>(() => c.PutAsync("r/key", B("v"), cas: 0, Ct));
        Assert.Equal(ConsulErrorKind.ServerError, e.Kind);
        Assert.Contains("500", e.Message);
        Assert.Equal(before + 1, _server.Requests);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task A_cas_write_that_is_rate_limited_is_retried_with_backoff_because_consul_applied_nothing(int status)
    {
        using var c = Client();
        if (status == 429) _server.RateLimitNextRequests = 2; else _server.FailNextRequests = 2;
        var before = _server.Requests;
        Assert.True(await c.PutAsync("r/key", B("v"), cas: 0, Ct));
        Assert.Equal(before + 3, _server.Requests);
        Assert.Equal("v", (await c.GetAsync("r/key", ct: Ct)).Value!.ValueText);
    }

    [Fact]
    public async Task Rate_limiting_that_does_not_end_is_reported_after_bounded_retries()
    {
        using var c = Client();
        _server.RateLimitNextRequests = 100;
        var before = _server.Requests;
        var e = await Assert.ThrowsAsync<ConsulException>(() => c.TxnAsync([TxnOp.Set("r/a", B("1"))], Ct));
        Assert.Equal(ConsulErrorKind.RateLimited, e.Kind);
        Assert.Contains("429", e.Message);
        Assert.Contains("after 2 retries", e.Message);
        Assert.Equal(before + 3, _server.Requests);
        Assert.Equal(0, _server.Writes);
    }

    [Fact]
    public async Task Stored_keys_follow_the_documented_layout_and_close_deletes_only_that_applys_journal()
    {
        await using var store = Store();
        await store.WriteAsync("prod", 0, new StateChange([StateStoreContract.Service("api", "1.0.0", "web-1")], [], [new LiveToggle("dark-mode", true, "c1")], [], "c1"), Ct);
        await store.AppendHistoryAsync(new HistoryEntry("h1", "prod", "c1", null, "ci", _time.GetUtcNow(), null, ApplyResult.Succeeded,
            System.Collections.Immutable.ImmutableSortedDictionary<string, string>.Empty, null), Ct);
        await store.QuarantineAsync("prod", new QuarantinedCommit("bad1", "gate failed", _time.GetUtcNow()), Ct);
        await store.TryAcquireLockAsync("prod", "alice", "apply", TimeSpan.FromMinutes(1), Ct);
        await store.SetFreezeAsync("prod", new FreezeInfo("freeze", "bob", _time.GetUtcNow()), Ct);
        await store.AppendJournalAsync(new JournalEntry("prod", "a1", "c1", "s1", JournalStatus.Started, _time.GetUtcNow(), null), Ct);
        await store.AppendJournalAsync(new JournalEntry("prod", "a2", "c1", "s1", JournalStatus.Started, _time.GetUtcNow(), null), Ct);
        using (var c = Client()) await c.PutAsync("reconciler/prod/journal-notes", B("not ours"), ct: Ct);

        Assert.Equal(
        [
            "reconciler/prod/freeze", "reconciler/prod/history/h1",
            "reconciler/prod/journal-notes", "reconciler/prod/journal/a1/00000000", "reconciler/prod/journal/a2/00000000",
            "reconciler/prod/lock", "reconciler/prod/quarantine/bad1", "reconciler/prod/services/api", "reconciler/prod/toggles/dark-mode",
            "reconciler/prod/version",
        ], _server.Snapshot().Keys.Order(StringComparer.Ordinal));

        await store.CloseJournalAsync("prod", "a1", Ct);
        var keys = _server.Snapshot().Keys.ToList();
        Assert.DoesNotContain("reconciler/prod/journal/a1/00000000", keys);
        Assert.Contains("reconciler/prod/journal/a2/00000000", keys);
        Assert.Contains("reconciler/prod/journal-notes", keys);
    }

    private static int ClosedLoopbackPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 10s");
            await Task.Delay(10);
        }
    }

    private async Task<T> AdvanceUntil<T>(Task<T> task)
    {
        for (var i = 0; i < 500 && !task.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(task, Task.Delay(10));
        }
        return await task.WaitAsync(TimeSpan.FromSeconds(5));
    }
}

using System.Text;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Consul;
using Reconciler.Diff.Live;
using Reconciler.State;
using Reconciler.State.Consul;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>The Consul store under ACLs and Consul's size limits, against the test server (which answers as Consul does).</summary>
public sealed class ConsulAclAndLimitsTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private ConsulTestServer _server = null!;
    private static CancellationToken Ct => CancellationToken.None;

    public async Task InitializeAsync() => _server = await ConsulTestServer.StartAsync(_time);
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private ConsulClient Client(string? token = null) =>
        new(new ConsulClientOptions(_server.Address, token) { RetryBaseDelay = TimeSpan.FromMilliseconds(10), MaxRetries = 2 });

    private ConsulStateStore Store(string? token = null) => new(Client(token), "reconciler", _time);

    private static LiveService Api(string version) => StateStoreContract.Service("api", version, "web-1");

    private void AclsWith(string token, AclRules rules)
    {
        _server.AclsEnabled = true;
        _server.AddToken("admin", new AclRules(["reconciler/"], ["reconciler/"]));
        _server.AddToken(token, rules);
    }

    [Fact]
    public async Task A_token_without_write_permission_is_an_acl_error_not_a_conflict()
    {
        await using (var admin = Store("admin"))
        {
            AclsWith("read-only", new AclRules(["reconciler/"], []));
            await admin.WriteAsync("prod", 0, StateStoreContract.Upsert(Api("1.0.0")), Ct);
        }
        await using var store = Store("read-only");
        var live = await store.ReadAsync("prod", Ct);
        // Consul answers this transaction with 409 and Errors "Permission denied": a conflict to a naive client.
        var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.WriteAsync("prod", live.Version, StateStoreContract.Upsert(Api("2.0.0")), Ct));
        Assert.Equal(FailureKind.StoreUnavailable, e.Kind);
        Assert.Contains("ACL permission denied", e.Message);
        Assert.Contains("reconciler/prod/version", e.Message);
        Assert.Contains("CONSUL_HTTP_TOKEN", e.Message);
        Assert.DoesNotContain("another apply", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("read-only", e.Message);   // the token itself is never printed
    }

    [Fact]
    public async Task A_read_that_acls_filtered_is_an_acl_error_never_an_empty_environment()
    {
        await using (var admin = Store("admin"))
        {
            AclsWith("other-prefix", new AclRules(["elsewhere/"], ["elsewhere/"]));
            await admin.WriteAsync("prod", 0, StateStoreContract.Upsert(Api("1.0.0")), Ct);
            await admin.AppendHistoryAsync(new HistoryEntry("h1", "prod", "c1", null, "ci", _time.GetUtcNow(), null, ApplyResult.Succeeded,
                System.Collections.Immutable.ImmutableSortedDictionary<string, string>.Empty, null), Ct);
        }
        // No token at all (the anonymous token) and a token for another prefix: the read txn comes back empty, with 200.
        foreach (var token in new string?[] { null, "other-prefix" })
        {
            await using var store = Store(token);
            var e = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadAsync("prod", Ct));
            Assert.Contains("ACL permission denied", e.Message);
            var history = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadHistoryAsync("prod", 10, Ct));
            Assert.Contains("ACL permission denied", history.Message);
            // A single key outside a transaction: Consul answers 403.
            var freeze = await Assert.ThrowsAsync<StateStoreUnavailableException>(() => store.ReadFreezeAsync("prod", Ct));
            Assert.Contains("ACL permission denied", freeze.Message);
            Assert.Contains("reconciler/prod/freeze", freeze.Message);
        }
        await using var allowed = Store("admin");
        Assert.Equal(0, (await allowed.ReadAsync("staging", Ct)).Version);   // a really empty environment still reads as one
    }

    [Fact]
    public async Task A_write_over_txn_max_req_len_as_sent_is_refused_before_sending_and_nothing_is_written()
    {
        await using var store = Store();
        // About 400 KB of stored JSON: under kv_max_value_size (512 KiB), but over 512 KiB once base64 in the txn body.
        var big = Api("1.0.0") with
        {
            Fields = System.Collections.Immutable.ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
                [KeyValuePair.Create("config.BLOB", new string('x', 400 * 1024))]),
        };
        var before = _server.Requests;
        var e = await Assert.ThrowsAsync<ReconcilerException>(() => store.WriteAsync("prod", 0, StateStoreContract.Upsert(big), Ct));
        Assert.Equal(FailureKind.InvalidInput, e.Kind);
        Assert.Contains("Consul accepts at most 524288 bytes per transaction (txn_max_req_len", e.Message);
        Assert.Contains("Nothing was written", e.Message);
        Assert.Equal(before + 1, _server.Requests);   // only the version read; the txn was never sent
        Assert.Empty(_server.Snapshot());

        // Sent anyway, Consul (and the test server) would have answered 413: the client's own check agrees with it.
        using var client = Client();
        var tooLarge = await Assert.ThrowsAsync<ConsulException>(() => client.TxnAsync([TxnOp.Set("reconciler/x", new byte[400 * 1024])], Ct));
        Assert.Equal(ConsulErrorKind.TooLarge, tooLarge.Kind);
    }

    [Fact]
    public async Task Toggles_over_one_txn_body_are_split_into_transactions_within_the_limit()
    {
        using var client = Client();
        var ops = Enumerable.Range(0, 40).Select(i => TxnOp.Set($"split/{i:D2}", Encoding.UTF8.GetBytes(new string('v', 30 * 1024)))).ToList();
        var chunks = client.Chunks(ops).ToList();
        Assert.True(chunks.Count > 1);
        Assert.All(chunks, c => Assert.True(client.TxnBody(c).Length <= ConsulClient.MaxTxnRequestBytes));
        Assert.Equal(ops, chunks.SelectMany(c => c));
        foreach (var chunk in chunks) Assert.True((await client.TxnAsync(chunk, Ct)).Committed);
        Assert.Equal(40, _server.Snapshot().Keys.Count(k => k.StartsWith("split/", StringComparison.Ordinal)));
        Assert.True(_server.LargestBody <= ConsulTestServer.MaxTxnRequestLength);
    }

    [Fact]
    public async Task A_key_outside_the_strict_charset_is_refused_before_sending_and_segments_encode_reversibly()
    {
        using var client = Client();
        var e = await Assert.ThrowsAsync<ConsulException>(() => client.PutAsync("a/1.0+b", [1], ct: Ct));
        Assert.Contains("a/1.0+b", e.Message);
        Assert.Equal(0, _server.Requests);
        foreach (var text in new[] { "1.5.0+build.7", "a_b", "a__b_2B", "plain-1.0", "_" })
        {
            var encoded = ConsulKeys.EncodeSegment(text);
            Assert.True(ConsulKeys.IsStrictKey(encoded), encoded);
            Assert.Equal(text, ConsulKeys.DecodeSegment(encoded));
        }
        Assert.Equal("1.5.0_2Bbuild.7", ConsulKeys.EncodeSegment("1.5.0+build.7"));
    }
}

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// The Consul test server against the Consul behaviour it mirrors, over raw HTTP (the product's client checks limits
/// itself and would hide the server's answers). Each test quotes the HashiCorp source or documentation it follows.
/// </summary>
public sealed class ConsulServerBehaviourTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private ConsulTestServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await ConsulTestServer.StartAsync(_time);
        _http = new HttpClient { BaseAddress = _server.Address };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> Send(HttpMethod method, string url, string? body = null, string? token = null)
    {
        using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : new StringContent(body, Encoding.UTF8) };
        if (token is not null) request.Headers.Add("X-Consul-Token", token);
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<ulong> ModifyIndex(string key) =>
        (ulong)JsonNode.Parse((await Send(HttpMethod.Get, "/v1/kv/" + key)).Body)![0]!["ModifyIndex"]!;

    private static string Txn(params (string Verb, string Key, string? Value, ulong Index)[] ops) =>
        new JsonArray([.. ops.Select(o => (JsonNode)new JsonObject
        {
            ["KV"] = new JsonObject
            {
                ["Verb"] = o.Verb, ["Key"] = o.Key, ["Value"] = o.Value is null ? null : Convert.ToBase64String(Encoding.UTF8.GetBytes(o.Value)), ["Index"] = o.Index,
            },
        })]).ToJsonString();

    [Fact]
    public async Task A_set_that_changes_nothing_keeps_its_modify_index_also_inside_a_txn()
    {
        // agent/consul/state/kvs.go kvsSetTxn: "if existing != nil && existing.Equal(entry) { // Skip further writing in
        // the state store if the entry is not actually changed. ... entry.ModifyIndex = existing.ModifyIndex; return nil }"
        await Send(HttpMethod.Put, "/v1/kv/s/version", "same");
        var first = await ModifyIndex("s/version");
        Assert.Equal("true", (await Send(HttpMethod.Put, "/v1/kv/s/version", "same")).Body);
        Assert.Equal(first, await ModifyIndex("s/version"));

        // kvsSetCASTxn checks the index, then calls kvsSetTxn: a cas of the same value succeeds and keeps the index, so a
        // second cas at that index succeeds too. This is why the store's version key carries a write serial.
        var cas = await Send(HttpMethod.Put, "/v1/txn", Txn(("cas", "s/version", "same", first)));
        Assert.Equal(HttpStatusCode.OK, cas.Status);
        Assert.Equal(first, (ulong)JsonNode.Parse(cas.Body)!["Results"]![0]!["KV"]!["ModifyIndex"]!);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, "/v1/txn", Txn(("cas", "s/version", "same", first)))).Status);

        await Send(HttpMethod.Put, "/v1/kv/s/version", "changed");
        Assert.True(await ModifyIndex("s/version") > first);
    }

    [Fact]
    public async Task An_unrenewed_session_lives_up_to_twice_its_ttl()
    {
        // agent/consul/session_ttl.go resetSessionTimer: "ttl = ttl * s.config.SessionTTLMultiplier" (default 2); the docs
        // (api-docs/session): "Consul may wait up to twice the TTL before invalidating a session".
        var id = (string)JsonNode.Parse((await Send(HttpMethod.Put, "/v1/session/create", """{"TTL":"10s","LockDelay":"0s"}""")).Body)!["ID"]!;
        _time.Advance(TimeSpan.FromSeconds(19));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, "/v1/session/renew/" + id)).Status);
        _time.Advance(TimeSpan.FromSeconds(18));   // 37s after creation, 18s after the renewal: alive, past its TTL
        Assert.NotEqual("[]", (await Send(HttpMethod.Get, "/v1/session/info/" + id)).Body);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("[]", (await Send(HttpMethod.Get, "/v1/session/info/" + id)).Body);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Put, "/v1/session/renew/" + id)).Status);
    }

    [Fact]
    public async Task A_session_is_bound_to_serfHealth_by_default_and_a_critical_check_invalidates_it_and_releases_its_lock()
    {
        // agent/session_endpoint.go SessionCreate: the request starts with "NodeChecks: []string{string(structs.SerfCheckID)}"
        // unless the body names checks; state/catalog.go ensureCheckTxn: a check going critical invalidates its sessions;
        // state/session.go: "Check %q is in %s state" refuses a new session on a critical check.
        var bound = (string)JsonNode.Parse((await Send(HttpMethod.Put, "/v1/session/create", """{"LockDelay":"15s"}""")).Body)!["ID"]!;
        var free = (string)JsonNode.Parse((await Send(HttpMethod.Put, "/v1/session/create", """{"NodeChecks":[],"Checks":[],"TTL":"30s"}""")).Body)!["ID"]!;
        Assert.Equal(["test-agent/serfHealth"], _server.SessionChecks(bound));
        Assert.Empty(_server.SessionChecks(free)!);
        Assert.Equal("true", (await Send(HttpMethod.Put, "/v1/kv/l/lock?acquire=" + bound, "holder")).Body);

        _server.SetCheck(ConsulTestServer.AgentNode, "serfHealth", "critical");
        Assert.Null(_server.SessionChecks(bound));
        Assert.NotNull(_server.SessionChecks(free));
        Assert.Null(_server.Inspect("l/lock")!.Value.Session);
        var refused = await Send(HttpMethod.Put, "/v1/session/create", "{}");
        Assert.Equal(HttpStatusCode.InternalServerError, refused.Status);
        Assert.Contains("critical", refused.Body);
        // lock-delay (15s) after the invalidation: nobody may take the lock yet.
        Assert.Equal("false", (await Send(HttpMethod.Put, "/v1/kv/l/lock?acquire=" + free, "next")).Body);
        _time.Advance(TimeSpan.FromSeconds(16));
        Assert.Equal("true", (await Send(HttpMethod.Put, "/v1/kv/l/lock?acquire=" + free, "next")).Body);
    }

    [Fact]
    public async Task A_txn_request_body_over_512_KiB_is_refused_whole()
    {
        // agent/txn_endpoint.go convertOps: "if req.ContentLength > maxTxnLen { resp.WriteHeader(http.StatusRequestEntityTooLarge);
        // fmt.Fprintf(resp, "Request body too large, max size: %v bytes", maxTxnLen)" — txn_max_req_len, 512 KiB by default.
        var value = new string('x', 400 * 1024);   // 400 KiB stored: under kv_max_value_size, over the limit once base64
        var r = await Send(HttpMethod.Put, "/v1/txn", Txn(("set", "big/a", value, 0)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.Status);
        Assert.Equal("Request body too large, max size: 524288 bytes", r.Body);
        Assert.Null(_server.Inspect("big/a"));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, "/v1/kv/big/a", value)).Status);   // a plain PUT is capped per value only
    }

    [Fact]
    public async Task Acls_deny_writes_in_a_txn_with_409_permission_denied_and_filter_reads_silently()
    {
        // agent/consul/txn_endpoint.go preCheck -> kvsPreApply: a write without key:write adds TxnError{OpIndex, "Permission
        // denied"} and the HTTP layer answers 409 (agent/txn_endpoint.go: "if conflict { resp.WriteHeader(http.StatusConflict)").
        // Txn.Read: "reply.Results = FilterTxnResults(authorizer, reply.Results)" — no error, the keys are just missing.
        await Send(HttpMethod.Put, "/v1/kv/app/secret", "s");
        await Send(HttpMethod.Put, "/v1/kv/app/open", "o");
        _server.AclsEnabled = true;
        _server.AddToken("reader", new AclRules(["app/open"], []));

        var write = await Send(HttpMethod.Put, "/v1/txn", Txn(("set", "app/open", "x", 0)), token: "reader");
        Assert.Equal(HttpStatusCode.Conflict, write.Status);
        Assert.Equal("Permission denied", (string)JsonNode.Parse(write.Body)!["Errors"]![0]!["What"]!);

        var read = await Send(HttpMethod.Put, "/v1/txn", Txn(("get-tree", "app/", null, 0)), token: "reader");
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(["app/open"], JsonNode.Parse(read.Body)!["Results"]!.AsArray().Select(r => (string)r!["KV"]!["Key"]!));
        var anonymous = await Send(HttpMethod.Put, "/v1/txn", Txn(("get-tree", "app/", null, 0)));
        Assert.Empty(JsonNode.Parse(anonymous.Body)!["Results"]!.AsArray());

        // Outside a txn: a single key is 403 (KVS.Get returns acl.ErrPermissionDenied); a listing is filtered and says so in
        // X-Consul-Results-Filtered-By-ACLs (agent/http.go setResultsFilteredByACLs).
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Get, "/v1/kv/app/secret", token: "reader")).Status);
        using var list = new HttpRequestMessage(HttpMethod.Get, "/v1/kv/app/?recurse=true");
        list.Headers.Add("X-Consul-Token", "reader");
        using var listed = await _http.SendAsync(list);
        Assert.Equal("true", listed.Headers.GetValues("X-Consul-Results-Filtered-By-ACLs").Single());
    }

    [Fact]
    public async Task A_blocking_query_waits_for_a_change_past_its_index()
    {
        // api-docs/features/blocking: "?index= ... the HTTP request will hang until a change in the system occurs, or the
        // maximum timeout is reached"; X-Consul-Index is the index to pass next.
        await Send(HttpMethod.Put, "/v1/kv/b/key", "1");
        var index = await ModifyIndex("b/key");
        var waiting = Send(HttpMethod.Get, $"/v1/kv/b/key?index={index}&wait=60s");
        await Send(HttpMethod.Put, "/v1/kv/b/other", "unrelated");
        await Send(HttpMethod.Put, "/v1/kv/b/key", "2");
        var woke = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(Convert.ToBase64String("2"u8.ToArray()), woke.Body);
    }

    [Fact]
    public async Task Rate_limits_answer_429_or_503_and_a_key_with_a_plus_gets_a_500()
    {
        // agent/http.go: rate.ErrRetryLater -> 429 "Too Many Requests", rate.ErrRetryElsewhere -> 503; nothing is applied.
        _server.RateLimitNextRequests = 1;
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Send(HttpMethod.Put, "/v1/kv/r/a", "1")).Status);
        _server.FailNextRequests = 1;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Send(HttpMethod.Put, "/v1/kv/r/a", "1")).Status);
        Assert.Null(_server.Inspect("r/a"));
        // Reported against Consul 1.21.5 (issue 16): a key with '+' is answered with a 500.
        Assert.Equal(HttpStatusCode.InternalServerError, (await Send(HttpMethod.Put, "/v1/kv/r/1.0+b", "1")).Status);
    }
}

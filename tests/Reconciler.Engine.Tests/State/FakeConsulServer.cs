using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// An in-process HTTP server on 127.0.0.1 that follows the documented semantics of the Consul HTTP API parts the
/// product uses, for machines without a Consul agent (docs/state.md, "what runs where"):
/// KV with ModifyIndex/CreateIndex/LockIndex, ?cas= (0 = create only), ?recurse, ?keys&amp;separator, tombstones for
/// blocking queries (?index=&amp;wait=), ?acquire=/?release= with sessions, lock-delay after invalidation, /v1/txn all or
/// nothing with one raft index per transaction and at most 64 operations, 512 KB values, sessions with TTL
/// expiry on an injectable clock, and the error answers a real agent gives (403 for a missing/wrong ACL token,
/// 500 "No cluster leader").
/// </summary>
public sealed class FakeConsulServer : IAsyncDisposable
{
    private sealed class Entry
    {
        public required string Key;
        public byte[] Value = [];
        public ulong CreateIndex, ModifyIndex, LockIndex;
        public ulong Flags { get; init; }   // ?flags= is not used by this product; always 0
        public string? Session;
        public Entry Clone() => (Entry)MemberwiseClone();
    }

    private sealed class Session
    {
        public required string Id, Name, Behavior;
        public TimeSpan Ttl, LockDelay;
        public ulong CreateIndex;
        public DateTimeOffset ExpiresAt;
        public ITimer? Timer;
    }

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly WebApplication _app;
    private SortedDictionary<string, Entry> _kv = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _tombstones = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lockDelayUntil = new(StringComparer.Ordinal);
    private ulong _index = 10;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _writes;

    /// <summary>When set, every request must carry this X-Consul-Token or gets 403, as with ACLs in default-deny.</summary>
    public string? RequiredToken { get; set; }
    /// <summary>Answer every request with 500 "No cluster leader", as an agent whose cluster lost quorum does.</summary>
    public bool NoLeader { get; set; }
    /// <summary>Answer like a web server that is not Consul (200 with an HTML page).</summary>
    public bool NotConsul { get; set; }
    /// <summary>Answer this many coming requests with 503, as an overloaded or restarting agent does.</summary>
    public int FailNextRequests;
    public Uri Address { get; private set; } = null!;
    /// <summary>Successful writes (KV puts/deletes, committed write transactions, session changes).</summary>
    public int Writes => Volatile.Read(ref _writes);
    public int Requests;

    private FakeConsulServer(TimeProvider time, WebApplication app)
    {
        _time = time;
        _app = app;
    }

    public static async Task<FakeConsulServer> StartAsync(TimeProvider time)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeConsulServer(time, app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return server;
    }

    /// <summary>The stored keys and values, for assertions (e.g. "nothing was written").</summary>
    public IReadOnlyDictionary<string, string> Snapshot()
    {
        lock (_gate) return _kv.ToDictionary(e => e.Key, e => Encoding.UTF8.GetString(e.Value.Value), StringComparer.Ordinal);
    }

    public int SessionCount { get { lock (_gate) return _sessions.Count; } }

    private async Task HandleAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref Requests);
        var path = ctx.Request.Path.Value ?? "";
        if (NoLeader) { await Text(ctx, 500, "No cluster leader"); return; }
        if (NotConsul) { await Text(ctx, 200, "<html><body>It works!</body></html>"); return; }
        if (Interlocked.Decrement(ref FailNextRequests) >= 0) { await Text(ctx, 503, "rpc error: service unavailable"); return; }
        if (RequiredToken is not null && ctx.Request.Headers["X-Consul-Token"].ToString() != RequiredToken)
        {
            await Text(ctx, 403, "Permission denied: token lacks permission 'key:read'");
            return;
        }
        using var body = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(body, ctx.RequestAborted);
        var bytes = body.ToArray();
        var method = ctx.Request.Method;
        var q = ctx.Request.Query;
        if (path.StartsWith("/v1/kv/", StringComparison.Ordinal))
        {
            var key = path["/v1/kv/".Length..];
            if (method == "GET") await KvGetAsync(ctx, key, q);
            else if (method == "PUT") await KvPutAsync(ctx, key, q, bytes);
            else if (method == "DELETE") await KvDeleteAsync(ctx, key, q);
            else await Text(ctx, 405, "method not allowed");
        }
        else if (path == "/v1/txn" && method == "PUT") await TxnAsync(ctx, bytes);
        else if (path == "/v1/session/create" && method == "PUT") await SessionCreateAsync(ctx, bytes);
        else if (path.StartsWith("/v1/session/renew/", StringComparison.Ordinal) && method == "PUT") await SessionRenewAsync(ctx, path["/v1/session/renew/".Length..]);
        else if (path.StartsWith("/v1/session/destroy/", StringComparison.Ordinal) && method == "PUT") await SessionDestroyAsync(ctx, path["/v1/session/destroy/".Length..]);
        else if (path.StartsWith("/v1/session/info/", StringComparison.Ordinal) && method == "GET") await SessionInfoAsync(ctx, path["/v1/session/info/".Length..]);
        else await Text(ctx, 404, $"no handler for {method} {path}");
        await SendReplyAsync(ctx);
    }

    // ---- KV ---------------------------------------------------------------------------------------------

    private async Task KvGetAsync(HttpContext ctx, string key, IQueryCollection q)
    {
        var prefixMatch = q.ContainsKey("recurse") || q.ContainsKey("keys");
        var wantIndex = ulong.TryParse(q["index"], out var i) ? i : 0;
        var deadline = _time.GetUtcNow() + (q.ContainsKey("wait") ? ParseDuration(q["wait"]!) : TimeSpan.FromMinutes(5));
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                var matches = Match(key, prefixMatch).ToList();
                var resultIndex = matches.Select(e => e.ModifyIndex)
                    .Concat(_tombstones.Where(t => prefixMatch ? t.Key.StartsWith(key, StringComparison.Ordinal) : t.Key == key).Select(t => t.Value))
                    .DefaultIfEmpty(0UL).Max();
                if (wantIndex == 0 || resultIndex > wantIndex || _time.GetUtcNow() >= deadline)
                {
                    ctx.Response.Headers["X-Consul-Index"] = (resultIndex == 0 ? _index : resultIndex).ToString();
                    ctx.Response.Headers["X-Consul-KnownLeader"] = "true";
                    if (matches.Count == 0) { ctx.Response.StatusCode = 404; return; }
                    if (q.ContainsKey("keys"))
                    {
                        var sep = q["separator"].ToString();
                        var names = matches.Select(e =>
                        {
                            if (sep.Length == 0) return e.Key;
                            var at = e.Key.IndexOf(sep, key.Length, StringComparison.Ordinal);
                            return at < 0 ? e.Key : e.Key[..(at + sep.Length)];
                        }).Distinct().ToList();
                        WriteJson(ctx, 200, JsonSerializer.Serialize(names));
                    }
                    else WriteJson(ctx, 200, new JsonArray(matches.Select(e => (JsonNode)ToJson(e, withValue: true)).ToArray()).ToJsonString());
                    return;
                }
                changed = _changed.Task;
            }
            var remaining = deadline - _time.GetUtcNow();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
            var timeout = Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, _time, cts.Token);
            await Task.WhenAny(changed, timeout);
            await cts.CancelAsync();
            ctx.RequestAborted.ThrowIfCancellationRequested();
        }
    }

    private async Task KvPutAsync(HttpContext ctx, string key, IQueryCollection q, byte[] value)
    {
        if (value.Length > 512 * 1024) { await Text(ctx, 413, $"Request body(len={value.Length}) too large, max size: 524288 bytes."); return; }
        bool ok;
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            _kv.TryGetValue(key, out var e);
            if (q.TryGetValue("acquire", out var acquire))
            {
                if (!_sessions.ContainsKey(acquire!)) { WriteText(ctx, 500, $"invalid session \"{acquire}\""); return; }
                if (e?.Session == acquire) ok = true;
                else if (e?.Session is not null) ok = false;
                else if (_lockDelayUntil.TryGetValue(key, out var until) && until > now) ok = false;
                else ok = true;
                if (ok)
                {
                    var idx = ++_index;
                    e = Upsert(key, value, idx);
                    if (e.Session != acquire) { e.Session = acquire; e.LockIndex++; }
                }
            }
            else if (q.TryGetValue("release", out var release))
            {
                ok = e?.Session == release;
                if (ok)
                {
                    var idx = ++_index;
                    if (value.Length > 0) e = Upsert(key, value, idx); else e!.ModifyIndex = idx;
                    e.Session = null;
                }
            }
            else if (q.TryGetValue("cas", out var casText))
            {
                var cas = ulong.Parse(casText!);
                ok = cas == 0 ? e is null : e is not null && e.ModifyIndex == cas;
                if (ok) Upsert(key, value, ++_index);
            }
            else
            {
                ok = true;
                Upsert(key, value, ++_index);
            }
            if (ok) Changed();
        }
        WriteJson(ctx, 200, ok ? "true" : "false");
    }

    private Entry Upsert(string key, byte[] value, ulong idx)
    {
        if (!_kv.TryGetValue(key, out var e)) _kv[key] = e = new Entry { Key = key, CreateIndex = idx };
        e.Value = value;
        e.ModifyIndex = idx;
        return e;
    }

    private Task KvDeleteAsync(HttpContext ctx, string key, IQueryCollection q)
    {
        bool ok;
        lock (_gate)
        {
            if (q.ContainsKey("recurse"))
            {
                var idx = ++_index;
                foreach (var k in Match(key, true).Select(e => e.Key).ToList()) { _kv.Remove(k); _tombstones[k] = idx; }
                ok = true;
            }
            else if (q.TryGetValue("cas", out var casText))
            {
                _kv.TryGetValue(key, out var e);
                ok = e is null || e.ModifyIndex == ulong.Parse(casText!);   // Consul: a missing key counts as deleted
                if (e is not null && ok) { _kv.Remove(key); _tombstones[key] = ++_index; }
            }
            else
            {
                ok = true;
                if (_kv.Remove(key)) _tombstones[key] = ++_index;
            }
            if (ok) Changed();
        }
        WriteJson(ctx, 200, ok ? "true" : "false");
        return Task.CompletedTask;
    }

    private IEnumerable<Entry> Match(string key, bool prefix) =>
        prefix ? _kv.Values.Where(e => e.Key.StartsWith(key, StringComparison.Ordinal))
               : _kv.TryGetValue(key, out var e) ? [e] : [];

    // ---- transactions -----------------------------------------------------------------------------------

    private Task TxnAsync(HttpContext ctx, byte[] body)
    {
        var ops = JsonNode.Parse(body)!.AsArray();
        if (ops.Count > 64)
        {
            WriteText(ctx, 413, $"Transaction contains too many operations ({ops.Count} > 64)");
            return Task.CompletedTask;
        }
        lock (_gate)
        {
            // Work on a copy; commit only if every operation succeeds (all or nothing), with one index for all writes.
            var work = new SortedDictionary<string, Entry>(_kv.ToDictionary(k => k.Key, k => k.Value.Clone()), StringComparer.Ordinal);
            var idx = _index + 1;
            var results = new JsonArray();
            var errors = new JsonArray();
            var wrote = false;
            var deleted = new List<string>();
            for (var n = 0; n < ops.Count; n++)
            {
                var kv = ops[n]!["KV"]!;
                var verb = (string)kv["Verb"]!;
                var key = (string)kv["Key"]!;
                var value = kv["Value"] is { } v ? Convert.FromBase64String((string)v!) : [];
                var index = kv["Index"] is { } ix ? (ulong)ix : 0;
                work.TryGetValue(key, out var e);
                string? error = null;
                switch (verb)
                {
                    case "set":
                    case "cas":
                        if (verb == "cas" && (index == 0 ? e is not null : e is null || e.ModifyIndex != index))
                        {
                            error = $"failed to set key \"{key}\", index is stale";
                            break;
                        }
                        if (value.Length > 512 * 1024) { error = $"value for key \"{key}\" exceeds 524288 bytes"; break; }
                        if (e is null) work[key] = e = new Entry { Key = key, CreateIndex = idx };
                        e.Value = value;
                        e.ModifyIndex = idx;
                        wrote = true;
                        results.Add(new JsonObject { ["KV"] = ToJson(e, withValue: false) });
                        break;
                    case "get":
                        if (e is null) error = $"key \"{key}\" doesn't exist";
                        else results.Add(new JsonObject { ["KV"] = ToJson(e, withValue: true) });
                        break;
                    case "get-tree":
                        foreach (var t in work.Values.Where(x => x.Key.StartsWith(key, StringComparison.Ordinal)))
                            results.Add(new JsonObject { ["KV"] = ToJson(t, withValue: true) });
                        break;
                    case "check-index":
                        if (e is null) error = $"key \"{key}\" doesn't exist";
                        else if (e.ModifyIndex != index) error = $"current modify index {e.ModifyIndex} != {index}";
                        break;
                    case "check-not-exists":
                        if (e is not null) error = $"key \"{key}\" exists";
                        break;
                    case "delete":
                        if (work.Remove(key)) deleted.Add(key);
                        wrote = true;
                        break;
                    case "delete-cas":
                        if (e is not null && e.ModifyIndex != index) error = $"failed to delete key \"{key}\", index is stale";
                        else if (work.Remove(key)) { deleted.Add(key); wrote = true; }
                        break;
                    default:
                        error = $"unknown KV verb \"{verb}\"";
                        break;
                }
                if (error is not null) errors.Add(new JsonObject { ["OpIndex"] = n, ["What"] = error });
            }
            if (errors.Count > 0)
            {
                ctx.Response.Headers["X-Consul-Index"] = _index.ToString();
                WriteJson(ctx, 409, new JsonObject { ["Results"] = null, ["Errors"] = errors }.ToJsonString());
                return Task.CompletedTask;
            }
            if (wrote)
            {
                _index = idx;
                _kv = work;
                foreach (var k in deleted) _tombstones[k] = idx;
                Changed();
            }
            ctx.Response.Headers["X-Consul-Index"] = _index.ToString();
            WriteJson(ctx, 200, new JsonObject { ["Results"] = results, ["Errors"] = null }.ToJsonString());
        }
        return Task.CompletedTask;
    }

    // ---- sessions ---------------------------------------------------------------------------------------

    private Task SessionCreateAsync(HttpContext ctx, byte[] body)
    {
        var req = body.Length == 0 ? new JsonObject() : JsonNode.Parse(body)!.AsObject();
        var ttl = req["TTL"] is { } t ? ParseDuration((string)t!) : TimeSpan.Zero;
        if (ttl != TimeSpan.Zero && (ttl < TimeSpan.FromSeconds(10) || ttl > TimeSpan.FromHours(24)))
        {
            WriteText(ctx, 400, $"Invalid Session TTL '{(string)req["TTL"]!}', must be between [10s=24h0m0s]");
            return Task.CompletedTask;
        }
        lock (_gate)
        {
            var s = new Session
            {
                Id = Guid.NewGuid().ToString(),
                Name = (string?)req["Name"] ?? "",
                Behavior = (string?)req["Behavior"] ?? "release",
                Ttl = ttl,
                LockDelay = req["LockDelay"] is { } d ? ParseDuration((string)d!) : TimeSpan.FromSeconds(15),
                CreateIndex = ++_index,
            };
            _sessions[s.Id] = s;
            if (ttl > TimeSpan.Zero)
            {
                s.ExpiresAt = _time.GetUtcNow() + ttl;
                s.Timer = _time.CreateTimer(_ => Expire(s.Id), null, ttl, Timeout.InfiniteTimeSpan);
            }
            Changed();
            WriteJson(ctx, 200, new JsonObject { ["ID"] = s.Id }.ToJsonString());
        }
        return Task.CompletedTask;
    }

    private Task SessionRenewAsync(HttpContext ctx, string id)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(id, out var s)) { WriteText(ctx, 404, $"Session id '{id}' not found"); return Task.CompletedTask; }
            if (s.Ttl > TimeSpan.Zero)
            {
                s.ExpiresAt = _time.GetUtcNow() + s.Ttl;
                s.Timer?.Change(s.Ttl, Timeout.InfiniteTimeSpan);
            }
            WriteJson(ctx, 200, new JsonArray(SessionJson(s)).ToJsonString());
        }
        return Task.CompletedTask;
    }

    private Task SessionDestroyAsync(HttpContext ctx, string id)
    {
        lock (_gate) Invalidate(id);
        WriteJson(ctx, 200, "true");
        return Task.CompletedTask;
    }

    private Task SessionInfoAsync(HttpContext ctx, string id)
    {
        lock (_gate)
            WriteJson(ctx, 200, _sessions.TryGetValue(id, out var s) ? new JsonArray(SessionJson(s)).ToJsonString() : "[]");
        return Task.CompletedTask;
    }

    private void Expire(string id)
    {
        lock (_gate)
            if (_sessions.TryGetValue(id, out var s) && s.ExpiresAt <= _time.GetUtcNow())
                Invalidate(id, at: s.ExpiresAt);   // a fake clock may jump past the expiry; lock-delay counts from the expiry itself
    }

    /// <summary>Session invalidation (destroy or TTL expiry): its locks are released (or their keys deleted, behavior
    /// delete) and each of them may not be re-acquired until the session's lock-delay has passed.</summary>
    private void Invalidate(string id, DateTimeOffset? at = null)
    {
        var when = at ?? _time.GetUtcNow();
        if (!_sessions.Remove(id, out var s)) return;
        s.Timer?.Dispose();
        var idx = ++_index;
        foreach (var e in _kv.Values.Where(e => e.Session == id).ToList())
        {
            if (s.LockDelay > TimeSpan.Zero) _lockDelayUntil[e.Key] = when + s.LockDelay;
            if (s.Behavior == "delete") { _kv.Remove(e.Key); _tombstones[e.Key] = idx; }
            else { e.Session = null; e.ModifyIndex = idx; }
        }
        Changed();
    }

    private static JsonObject SessionJson(Session s) => new()
    {
        ["ID"] = s.Id, ["Name"] = s.Name, ["TTL"] = s.Ttl > TimeSpan.Zero ? $"{(long)s.Ttl.TotalSeconds}s" : "",
        ["LockDelay"] = s.LockDelay.Ticks * 100, ["Behavior"] = s.Behavior, ["CreateIndex"] = s.CreateIndex, ["ModifyIndex"] = s.CreateIndex,
    };

    // ---- plumbing ---------------------------------------------------------------------------------------

    private void Changed()
    {
        Interlocked.Increment(ref _writes);
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    private static JsonObject ToJson(Entry e, bool withValue) => new()
    {
        ["Key"] = e.Key, ["CreateIndex"] = e.CreateIndex, ["ModifyIndex"] = e.ModifyIndex, ["LockIndex"] = e.LockIndex, ["Flags"] = e.Flags,
        ["Value"] = withValue && e.Value.Length > 0 ? Convert.ToBase64String(e.Value) : null,
        ["Session"] = e.Session,
    };

    private static TimeSpan ParseDuration(string text)
    {
        text = text.Trim();
        if (text.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(double.Parse(text[..^2], System.Globalization.CultureInfo.InvariantCulture));
        var unit = text[^1];
        var n = double.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture);
        return unit switch { 's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), _ => throw new FormatException(text) };
    }

    private static void WriteJson(HttpContext ctx, int status, string json) => Write(ctx, status, json, "application/json");
    private static void WriteText(HttpContext ctx, int status, string text) => Write(ctx, status, text, "text/plain");

    /// <summary>Records the reply while the state lock is held; <see cref="HandleAsync"/> sends it after the lock is released.</summary>
    private static void Write(HttpContext ctx, int status, string text, string type) => ctx.Items[ReplyKey] = (status, text, type);

    private const string ReplyKey = "fake-consul-reply";

    private static async Task SendReplyAsync(HttpContext ctx)
    {
        if (ctx.Items[ReplyKey] is not (int status, string text, string type)) return;
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = type;
        await ctx.Response.WriteAsync(text);
    }

    private static async Task Text(HttpContext ctx, int status, string text)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "text/plain";
        await ctx.Response.WriteAsync(text);
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
            foreach (var s in _sessions.Values) s.Timer?.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

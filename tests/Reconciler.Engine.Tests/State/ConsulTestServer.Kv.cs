using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Reconciler.Engine.Tests.State;

public sealed partial class ConsulTestServer
{
    private sealed class Entry
    {
        public required string Key;
        public byte[] Value = [];
        public ulong CreateIndex, ModifyIndex, LockIndex, Flags;
        public string? Session;
        public Entry Clone() => (Entry)MemberwiseClone();
    }

    private SortedDictionary<string, Entry> _kv = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _tombstones = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lockDelayUntil = new(StringComparer.Ordinal);

    /// <summary>The stored entry of one key (index, session...), for assertions; null when absent.</summary>
    public (ulong ModifyIndex, ulong LockIndex, string? Session)? Inspect(string key)
    {
        lock (_gate) return _kv.TryGetValue(key, out var e) ? (e.ModifyIndex, e.LockIndex, e.Session) : null;
    }

    private async Task KvGetAsync(HttpContext ctx, string key, IQueryCollection q, AclRules? acl)
    {
        var prefixMatch = q.ContainsKey("recurse") || q.ContainsKey("keys");
        var wantIndex = ulong.TryParse(q["index"], out var i) ? i : 0;
        var deadline = _time.GetUtcNow() + (q.ContainsKey("wait") ? ParseDuration(q["wait"]!) : TimeSpan.FromMinutes(5));
        if (!prefixMatch && !CanRead(acl, key)) { WriteText(ctx, 403, "Permission denied"); return; }
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                var all = Match(key, prefixMatch).ToList();
                var matches = all.Where(e => CanRead(acl, e.Key)).ToList();
                var resultIndex = all.Select(e => e.ModifyIndex)
                    .Concat(_tombstones.Where(t => prefixMatch ? t.Key.StartsWith(key, StringComparison.Ordinal) : t.Key == key).Select(t => t.Value))
                    .DefaultIfEmpty(0UL).Max();
                if (wantIndex == 0 || resultIndex > wantIndex || _time.GetUtcNow() >= deadline)
                {
                    ctx.Response.Headers["X-Consul-Index"] = (resultIndex == 0 ? _index : resultIndex).ToString();
                    ctx.Response.Headers["X-Consul-KnownLeader"] = "true";
                    // agent/http.go setResultsFilteredByACLs: list endpoints drop what the token may not read and say so in this header.
                    if (matches.Count < all.Count) ctx.Response.Headers["X-Consul-Results-Filtered-By-ACLs"] = "true";
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
                    else WriteJson(ctx, 200, new JsonArray(matches.Select(e => (JsonNode)ToJson(e, withValue: true)).ToArray()));
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

    private Task KvPutAsync(HttpContext ctx, string key, IQueryCollection q, byte[] value, AclRules? acl)
    {
        // agent/kvs_endpoint.go: a value over kv_max_value_size is refused before anything is applied.
        if (value.Length > MaxValueSize) { WriteText(ctx, 413, $"Request body(len={value.Length}) too large, max size: {MaxValueSize} bytes."); return Task.CompletedTask; }
        if (!CanWrite(acl, key)) { WriteText(ctx, 403, "Permission denied"); return Task.CompletedTask; }
        var flags = ulong.TryParse(q["flags"], out var f) ? f : 0;
        bool ok;
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            _kv.TryGetValue(key, out var e);
            var idx = _index + 1;
            if (q.TryGetValue("acquire", out var acquire))
            {
                if (!_sessions.ContainsKey(acquire!)) { WriteText(ctx, 500, $"invalid session \"{acquire}\""); return Task.CompletedTask; }
                ok = e?.Session == acquire || (e?.Session is null && !(_lockDelayUntil.TryGetValue(key, out var until) && until > now));
                // kvsLockTxn: a new holder bumps LockIndex; the holder re-acquiring keeps it.
                if (ok) Set(_kv, key, value, flags, acquire!, idx, lockIndex: e is null ? 1 : e.Session == acquire ? e.LockIndex : e.LockIndex + 1);
            }
            else if (q.TryGetValue("release", out var release))
            {
                ok = e is not null && e.Session == release;
                if (ok) Set(_kv, key, value, flags, null, idx, e!.LockIndex);
            }
            else if (q.TryGetValue("cas", out var casText))
            {
                var cas = ulong.Parse(casText!);
                ok = cas == 0 ? e is null : e is not null && e.ModifyIndex == cas;
                if (ok) Set(_kv, key, value, flags, e?.Session, idx, e?.LockIndex ?? 0);
            }
            else
            {
                ok = true;
                Set(_kv, key, value, flags, e?.Session, idx, e?.LockIndex ?? 0);
            }
            if (ok && _kv[key].ModifyIndex == idx) { _index = idx; Changed(); }
        }
        WriteJson(ctx, 200, ok ? "true" : "false");
        return Task.CompletedTask;
    }

    /// <summary>kvsSetTxn: "Skip further writing in the state store if the entry is not actually changed" — a set whose
    /// value, flags and session equal the stored ones keeps the ModifyIndex (also inside a transaction).</summary>
    private static Entry Set(SortedDictionary<string, Entry> kv, string key, byte[] value, ulong flags, string? session, ulong idx, ulong lockIndex)
    {
        if (kv.TryGetValue(key, out var e) && e.Value.AsSpan().SequenceEqual(value) && e.Flags == flags && e.Session == session && e.LockIndex == lockIndex)
            return e;
        if (e is null) kv[key] = e = new Entry { Key = key, CreateIndex = idx };
        e.Value = value;
        e.Flags = flags;
        e.Session = session;
        e.LockIndex = lockIndex;
        e.ModifyIndex = idx;
        return e;
    }

    private Task KvDeleteAsync(HttpContext ctx, string key, IQueryCollection q, AclRules? acl)
    {
        if (!CanWrite(acl, key)) { WriteText(ctx, 403, "Permission denied"); return Task.CompletedTask; }
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
                ok = e is null || e.ModifyIndex == ulong.Parse(casText!);   // kvsDeleteCASTxn: a missing key counts as deleted
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

    private static JsonObject ToJson(Entry e, bool withValue) => new()
    {
        ["Key"] = e.Key, ["CreateIndex"] = e.CreateIndex, ["ModifyIndex"] = e.ModifyIndex, ["LockIndex"] = e.LockIndex, ["Flags"] = e.Flags,
        ["Value"] = withValue && e.Value.Length > 0 ? Convert.ToBase64String(e.Value) : null,
        ["Session"] = e.Session,
    };
}

using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Reconciler.Engine.Tests.State;

public sealed partial class ConsulTestServer
{
    private const string SerfCheck = "serfHealth";

    private sealed class Session
    {
        public required string Id, Name, Behavior, Node;
        public TimeSpan Ttl, LockDelay;
        public ulong CreateIndex;
        public DateTimeOffset ExpiresAt;
        public required List<(string Node, string CheckId)> Checks;
        public ITimer? Timer;
    }

    private sealed record Check(string Node, string CheckId, string Name, string Status, string ServiceId, string ServiceName);

    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Node, string CheckId), Check> _nodeChecks = [];
    private readonly List<(string Node, string Id, string Name)> _services = [];

    /// <summary>The checks a session is bound to, e.g. ["test-agent/serfHealth"]; null when it does not exist.</summary>
    public IReadOnlyList<string>? SessionChecks(string id)
    {
        lock (_gate) return _sessions.TryGetValue(id, out var s) ? s.Checks.Select(c => $"{c.Node}/{c.CheckId}").ToList() : null;
    }

    /// <summary>Registers a node (with its serfHealth check passing) unless known.</summary>
    public void RegisterNode(string node)
    {
        lock (_gate) _nodeChecks.TryAdd((node, SerfCheck), new Check(node, SerfCheck, "Serf Health Status", "passing", "", ""));
    }

    /// <summary>Registers a service instance on a node with service checks (id, status).</summary>
    public void RegisterService(string node, string id, string name, params (string CheckId, string Status)[] checks)
    {
        RegisterNode(node);
        lock (_gate)
        {
            _services.Add((node, id, name));
            foreach (var (checkId, status) in checks) _nodeChecks[(node, checkId)] = new Check(node, checkId, checkId, status, id, name);
        }
    }

    /// <summary>Sets a check's status. state/catalog.go ensureCheckTxn: a check going critical invalidates every session
    /// bound to it (and so releases its locks, with lock-delay).</summary>
    public void SetCheck(string node, string checkId, string status, string serviceId = "", string serviceName = "")
    {
        lock (_gate)
        {
            var old = _nodeChecks.GetValueOrDefault((node, checkId));
            _nodeChecks[(node, checkId)] = new Check(node, checkId, old?.Name ?? checkId, status, old?.ServiceId ?? serviceId, old?.ServiceName ?? serviceName);
            if (status == "critical")
                foreach (var s in _sessions.Values.Where(s => s.Checks.Contains((node, checkId))).ToList()) Invalidate(s.Id);
            Changed();
        }
    }

    /// <summary>`consul maint -enable`: the agent adds the critical check _node_maintenance to its node.</summary>
    public void SetNodeMaintenance(string node, bool on)
    {
        if (on) SetCheck(node, "_node_maintenance", "critical");
        else lock (_gate) _nodeChecks.Remove((node, "_node_maintenance"));
    }

    private void SessionEndpoint(HttpContext ctx, string method, string rest, byte[] body, AclRules? acl)
    {
        if (method == "PUT" && acl is { SessionWrite: false }) { WriteText(ctx, 403, "Permission denied"); return; }
        lock (_gate)
        {
            if (method == "PUT" && rest == "create") SessionCreate(ctx, body);
            else if (method == "PUT" && rest.StartsWith("renew/", StringComparison.Ordinal)) SessionRenew(ctx, rest["renew/".Length..]);
            else if (method == "PUT" && rest.StartsWith("destroy/", StringComparison.Ordinal)) { Invalidate(rest["destroy/".Length..]); WriteJson(ctx, 200, "true"); }
            else if (method == "GET" && rest.StartsWith("info/", StringComparison.Ordinal))
                WriteJson(ctx, 200, _sessions.TryGetValue(rest["info/".Length..], out var s) ? new JsonArray(SessionJson(s)) : new JsonArray());
            else WriteText(ctx, 404, $"no handler for {method} /v1/session/{rest}");
        }
    }

    private void SessionCreate(HttpContext ctx, byte[] body)
    {
        var req = body.Length == 0 ? new JsonObject() : JsonNode.Parse(body)!.AsObject();
        var ttl = req["TTL"] is { } t && ((string)t!).Length > 0 ? ParseDuration((string)t!) : TimeSpan.Zero;
        if (ttl != TimeSpan.Zero && (ttl < TimeSpan.FromSeconds(10) || ttl > TimeSpan.FromHours(24)))
        {
            WriteText(ctx, 400, $"Invalid Session TTL '{(string)req["TTL"]!}', must be between [10s=24h0m0s]");
            return;
        }
        // agent/session_endpoint.go: a session names no checks -> the agent's node and its serfHealth check; an explicit
        // (even empty) Checks/NodeChecks list replaces that default.
        var node = (string?)req["Node"] ?? AgentNode;
        var named = req.ContainsKey("Checks") || req.ContainsKey("NodeChecks");
        var checkIds = named
            ? (req["Checks"]?.AsArray() ?? []).Concat(req["NodeChecks"]?.AsArray() ?? []).Select(c => (string)c!).Distinct().ToList()
            : [SerfCheck];
        checkIds.AddRange((req["ServiceChecks"]?.AsArray() ?? []).Select(c => (string)c!["ID"]!));
        foreach (var id in checkIds)
        {
            // state/session.go sessionCreateTxn: every check must exist and must not be critical.
            if (!_nodeChecks.TryGetValue((node, id), out var check)) { WriteText(ctx, 500, $"Missing check '{id}' registration"); return; }
            if (check.Status == "critical") { WriteText(ctx, 500, $"Check '{id}' is in critical state"); return; }
        }
        var s = new Session
        {
            Id = Guid.NewGuid().ToString(), Name = (string?)req["Name"] ?? "", Behavior = (string?)req["Behavior"] ?? "release", Node = node,
            Ttl = ttl, LockDelay = req["LockDelay"] is { } d ? ParseDuration((string)d!) : TimeSpan.FromSeconds(15),
            CreateIndex = ++_index, Checks = [.. checkIds.Select(c => (node, c))],
        };
        _sessions[s.Id] = s;
        if (ttl > TimeSpan.Zero)
        {
            s.ExpiresAt = _time.GetUtcNow() + ttl * TtlMultiplier;
            s.Timer = _time.CreateTimer(_ => Expire(s.Id), null, ttl * TtlMultiplier, Timeout.InfiniteTimeSpan);
        }
        Changed();
        WriteJson(ctx, 200, new JsonObject { ["ID"] = s.Id });
    }

    /// <summary>agent/consul/session_ttl.go: "ttl = ttl * s.config.SessionTTLMultiplier" (default 2): an unrenewed
    /// session lives up to twice its TTL. This server always takes the full 2×TTL, the latest a real agent may.</summary>
    public const int TtlMultiplier = 2;

    private void SessionRenew(HttpContext ctx, string id)
    {
        if (!_sessions.TryGetValue(id, out var s)) { WriteText(ctx, 404, $"Session id '{id}' not found"); return; }
        s.ExpiresAt = _time.GetUtcNow() + s.Ttl * TtlMultiplier;
        s.Timer?.Change(s.Ttl * TtlMultiplier, Timeout.InfiniteTimeSpan);
        WriteJson(ctx, 200, new JsonArray(SessionJson(s)));
    }

    private void Expire(string id)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(id, out var s)) return;
            var left = s.ExpiresAt - _time.GetUtcNow();
            // A timer runs on the monotonic clock and may fire a little before the wall clock reaches ExpiresAt: arm it
            // again for what is left, or the session would never expire (a standby then waits for a dead leader forever).
            if (left > TimeSpan.Zero) s.Timer?.Change(left + TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
            else Invalidate(id, at: s.ExpiresAt);   // a fake clock may jump past the expiry; lock-delay counts from the expiry itself
        }
    }

    /// <summary>Session invalidation (destroy, TTL expiry, failed check): its locks are released (or their keys deleted,
    /// behavior delete) and each of them may not be re-acquired until the session's lock-delay has passed.</summary>
    private void Invalidate(string id, DateTimeOffset? at = null)
    {
        if (!_sessions.Remove(id, out var s)) return;
        s.Timer?.Dispose();
        var when = at ?? _time.GetUtcNow();
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
        ["ID"] = s.Id, ["Name"] = s.Name, ["Node"] = s.Node, ["TTL"] = s.Ttl > TimeSpan.Zero ? $"{(long)s.Ttl.TotalSeconds}s" : "",
        ["LockDelay"] = s.LockDelay.Ticks * 100, ["Behavior"] = s.Behavior, ["CreateIndex"] = s.CreateIndex, ["ModifyIndex"] = s.CreateIndex,
        ["NodeChecks"] = new JsonArray([.. s.Checks.Select(c => (JsonNode)c.CheckId)]),
    };

    /// <summary>/v1/health/service/:service — one entry per instance with its node's checks (serfHealth, maintenance)
    /// and its own service checks.</summary>
    private void HealthService(HttpContext ctx, string service)
    {
        lock (_gate)
        {
            var entries = _services.Where(s => s.Name == service).Select(s => (JsonNode)new JsonObject
            {
                ["Node"] = new JsonObject { ["Node"] = s.Node, ["Address"] = "127.0.0.1" },
                ["Service"] = new JsonObject { ["ID"] = s.Id, ["Service"] = s.Name },
                ["Checks"] = new JsonArray([.. _nodeChecks.Values.Where(c => c.Node == s.Node && (c.ServiceId == "" || c.ServiceId == s.Id))
                    .Select(c => (JsonNode)new JsonObject
                    {
                        ["Node"] = c.Node, ["CheckID"] = c.CheckId, ["Name"] = c.Name, ["Status"] = c.Status, ["Output"] = "",
                        ["ServiceID"] = c.ServiceId, ["ServiceName"] = c.ServiceName,
                    })]),
            }).ToArray();
            ctx.Response.Headers["X-Consul-Index"] = _index.ToString();
            WriteJson(ctx, 200, new JsonArray(entries));
        }
    }
}

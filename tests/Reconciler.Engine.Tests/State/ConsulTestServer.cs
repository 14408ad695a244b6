using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// An in-process HTTP server on 127.0.0.1 (or a Unix socket) that behaves like a Consul agent for the parts of the
/// HTTP API the product uses, for machines without Consul (docs/state.md, "what runs where"). Each behaviour below
/// mirrors HashiCorp's source and has a test in <c>ConsulServerBehaviourTests</c> that quotes it:
/// KV with Create/Modify/LockIndex where a set that changes nothing keeps its ModifyIndex (kvsSetTxn), ?cas=,
/// ?recurse, ?keys&amp;separator, tombstones and blocking queries (?index=&amp;wait=), ?acquire=/?release= with sessions
/// and lock-delay, /v1/txn all or nothing (64 operations, a 512 KiB request body, 409 with Errors), sessions that
/// expire at twice their TTL and die with a failing node check (serfHealth by default), /v1/health/service with node
/// and service checks, ACLs (403 outside a txn, 409 "Permission denied" inside one, reads filtered silently),
/// 429/503 from rate limits, 500 "No cluster leader", and a 500 for keys with '+' (as some 1.21 agents answer).
/// Partial files: .Kv, .Txn, .Sessions, .Acl, .Catalog (service instances with tags, datacenters and node meta).
/// </summary>
public sealed partial class ConsulTestServer : IAsyncDisposable
{
    /// <summary>Consul's defaults: kv_max_value_size and txn_max_req_len (agent/txn_endpoint.go convertOps).</summary>
    public const int MaxValueSize = 512 * 1024, MaxTxnRequestLength = 512 * 1024;
    /// <summary>The agent's own node; sessions are bound to its serfHealth check unless they name other checks.</summary>
    public const string AgentNode = "test-agent";

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly WebApplication _app;
    private ulong _index = 10;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _writes;

    /// <summary>When set, every request must carry this X-Consul-Token or gets 403 (the token is unknown to the agent).</summary>
    public string? RequiredToken { get; set; }
    /// <summary>Answer every request with 500 "No cluster leader", as an agent whose cluster lost quorum does.</summary>
    public bool NoLeader { get; set; }
    /// <summary>Answer like a web server that is not Consul (200 with an HTML page).</summary>
    public bool NotConsul { get; set; }
    /// <summary>Answer this many coming requests with 503 (rate limited: "try a different server").</summary>
    public int FailNextRequests;
    /// <summary>Answer this many coming requests with 429 (rate limited: "try again later").</summary>
    public int RateLimitNextRequests;
    /// <summary>Answer this many coming requests with a plain 500.</summary>
    public int ServerErrorNextRequests;
    public Uri Address { get; private set; } = null!;
    /// <summary>Successful writes (KV puts/deletes, committed write transactions, session changes).</summary>
    public int Writes => Volatile.Read(ref _writes);
    public int Requests;
    /// <summary>Every request as "METHOD /path?query" with its Authorization header, in arrival order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string Request, string? Authorization)> Log { get; } = new();
    /// <summary>Largest request body seen, in bytes.</summary>
    public int LargestBody { get; private set; }

    private ConsulTestServer(TimeProvider time, WebApplication app)
    {
        _time = time;
        _app = app;
        _nodeChecks[(AgentNode, SerfCheck)] = new Check(AgentNode, SerfCheck, "Serf Health Status", "passing", "", "");
    }

    /// <summary>Starts on 127.0.0.1 over HTTP; with <paramref name="https"/> over TLS; with <paramref name="unixSocket"/>
    /// on that socket file instead (Address is then unix:///path).</summary>
    public static async Task<ConsulTestServer> StartAsync(TimeProvider time, Action<HttpsConnectionAdapterOptions>? https = null, string? unixSocket = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = null;   // the Consul limits are enforced below, with Consul's answers
            if (unixSocket is not null) o.ListenUnixSocket(unixSocket);
            else o.Listen(IPAddress.Loopback, 0, l => { if (https is not null) l.UseHttps(https); });
        });
        var app = builder.Build();
        var server = new ConsulTestServer(time, app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.Address = unixSocket is not null
            ? new Uri("unix://" + unixSocket)
            : new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()
                .Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
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
        Log.Enqueue(($"{ctx.Request.Method} {path}{ctx.Request.QueryString}", ctx.Request.Headers.Authorization.FirstOrDefault()));
        if (NoLeader) { await Text(ctx, 500, "No cluster leader"); return; }
        if (NotConsul) { await Text(ctx, 200, "<html><body>It works!</body></html>"); return; }
        // agent/http.go: rate.ErrRetryElsewhere -> 503, rate.ErrRetryLater -> 429; neither request was applied.
        if (Interlocked.Decrement(ref FailNextRequests) >= 0) { await Text(ctx, 503, "rate limit exceeded, try a different server"); return; }
        if (Interlocked.Decrement(ref RateLimitNextRequests) >= 0) { await Text(ctx, 429, "rate limit exceeded, try again later"); return; }
        if (Interlocked.Decrement(ref ServerErrorNextRequests) >= 0) { await Text(ctx, 500, "rpc error: internal error"); return; }
        var token = ctx.Request.Headers["X-Consul-Token"].ToString();
        if (RequiredToken is not null && token != RequiredToken && !_tokens.ContainsKey(token))
        {
            await Text(ctx, 403, "ACL not found");
            return;
        }
        using var body = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(body, ctx.RequestAborted);
        var bytes = body.ToArray();
        lock (_gate) LargestBody = Math.Max(LargestBody, bytes.Length);
        var acl = AclFor(token);
        var method = ctx.Request.Method;
        var q = ctx.Request.Query;
        if (path.StartsWith("/v1/kv/", StringComparison.Ordinal))
        {
            var key = path["/v1/kv/".Length..];
            if (key.Contains('+')) { await Text(ctx, 500, $"invalid key \"{key}\""); return; }
            if (method == "GET") await KvGetAsync(ctx, key, q, acl);
            else if (method == "PUT") await KvPutAsync(ctx, key, q, bytes, acl);
            else if (method == "DELETE") await KvDeleteAsync(ctx, key, q, acl);
            else await Text(ctx, 405, "method not allowed");
        }
        else if (path == "/v1/txn" && method == "PUT") Txn(ctx, bytes, acl);
        else if (path.StartsWith("/v1/session/", StringComparison.Ordinal)) SessionEndpoint(ctx, method, path["/v1/session/".Length..], bytes, acl);
        else if (path.StartsWith("/v1/health/service/", StringComparison.Ordinal) && method == "GET" && IsCatalogService(path["/v1/health/service/".Length..]))
            await CatalogHealthServiceAsync(ctx, path["/v1/health/service/".Length..], q);   // .Catalog
        else if (path.StartsWith("/v1/health/service/", StringComparison.Ordinal) && method == "GET") HealthService(ctx, path["/v1/health/service/".Length..]);
        else await Text(ctx, 404, $"no handler for {method} {path}");
        await SendReplyAsync(ctx);
    }

    // ---- plumbing ---------------------------------------------------------------------------------------

    private void Changed()
    {
        Interlocked.Increment(ref _writes);
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    private static TimeSpan ParseDuration(string text)
    {
        text = text.Trim();
        if (text.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(double.Parse(text[..^2], System.Globalization.CultureInfo.InvariantCulture));
        var unit = text[^1];
        var n = double.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture);
        return unit switch { 's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), _ => throw new FormatException(text) };
    }

    private static void WriteJson(HttpContext ctx, int status, string json) => Write(ctx, status, json, "application/json");
    private static void WriteJson(HttpContext ctx, int status, JsonNode json) => Write(ctx, status, json.ToJsonString(), "application/json");
    private static void WriteText(HttpContext ctx, int status, string text) => Write(ctx, status, text, "text/plain");

    /// <summary>Records the reply while the state lock is held; <see cref="HandleAsync"/> sends it after the lock is released.</summary>
    private static void Write(HttpContext ctx, int status, string text, string type) => ctx.Items[ReplyKey] = (status, text, type);

    private const string ReplyKey = "consul-test-server-reply";

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

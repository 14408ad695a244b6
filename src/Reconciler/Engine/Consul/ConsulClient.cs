using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Polly;
using Polly.Retry;

namespace Reconciler.Consul;

/// <summary>How to reach one Consul agent.</summary>
public sealed record ConsulClientOptions(Uri Address, string? Token = null)
{
    /// <summary>Per attempt, for non-blocking requests. A blocking query adds its wait time (plus wait/16, Consul's jitter).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public int MaxRetries { get; init; } = 3;
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Network timeouts and backoff run on this clock. Keep it real time: a fake clock would stall retries.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>Reads CONSUL_HTTP_TOKEN when no token is given, as the consul CLI does.</summary>
    public static ConsulClientOptions FromEnvironment(Uri address) =>
        new(address, Environment.GetEnvironmentVariable("CONSUL_HTTP_TOKEN") is { Length: > 0 } t ? t : null);
}

/// <summary>
/// A small typed client for the parts of Consul's HTTP API this product uses: KV (get, recursive list, keys,
/// put and delete with ?cas=, session acquire/release), /v1/txn, sessions, and blocking queries.
/// Hand-written because the Consul NuGet package is not available to this project; see docs/state.md.
/// Transient failures (connection refused, 5xx, timeouts) are retried with exponential backoff through Polly,
/// but a request that may already have been applied (a CAS write, a write transaction, a session create)
/// is retried only when it certainly was not (connection refused, "No cluster leader"), so a retry can never
/// turn our own success into a false conflict.
/// </summary>
public sealed class ConsulClient : IDisposable
{
    public const int MaxTxnOperations = 64;          // Consul's limit per /v1/txn
    public const int MaxValueBytes = 512 * 1024;      // Consul's default kv_max_value_size

    private static readonly JsonSerializerOptions Wire = new() { PropertyNamingPolicy = null };
    private readonly HttpClient _http;
    private readonly ConsulClientOptions _options;
    private readonly ResiliencePipeline _retry;

    public ConsulClient(ConsulClientOptions options)
    {
        _options = options;
        _http = options.Handler is null ? new HttpClient() : new HttpClient(options.Handler, disposeHandler: false);
        _http.BaseAddress = options.Address;
        _http.Timeout = Timeout.InfiniteTimeSpan;     // each attempt has its own timeout (blocking queries need longer ones)
        if (options.Token is { Length: > 0 } token)
            _http.DefaultRequestHeaders.Add("X-Consul-Token", token);
        _retry = options.MaxRetries <= 0
            ? ResiliencePipeline.Empty
            : new ResiliencePipelineBuilder { TimeProvider = options.Time }
                .AddRetry(new RetryStrategyOptions
                {
                    ShouldHandle = new PredicateBuilder().Handle<TransientConsulFailure>(),
                    MaxRetryAttempts = options.MaxRetries,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = options.RetryBaseDelay,
                })
                .Build();
    }

    /// <summary>"http://127.0.0.1:8500", for messages.</summary>
    public string Address => _options.Address.GetLeftPart(UriPartial.Authority);

    // ---- KV ---------------------------------------------------------------------------------------------

    /// <summary>One key, or null when it does not exist. With <paramref name="block"/>, waits for a change past its index.</summary>
    public async Task<ConsulResult<KvPair?>> GetAsync(string key, BlockingQuery? block = null, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Get, KvPath(key) + BlockingQueryString(block, first: true), null, idempotent: true, block?.Wait, ct);
        if (r.Status == HttpStatusCode.NotFound) return new(null, r.Index);
        var list = Deserialize<List<KvWire>>(r.Body) ?? [];
        return new(list.Count == 0 ? null : list[0].ToPair(), r.Index);
    }

    /// <summary>Every key under <paramref name="prefix"/> (recursive), sorted by key. Empty when none.</summary>
    public async Task<ConsulResult<IReadOnlyList<KvPair>>> ListAsync(string prefix, BlockingQuery? block = null, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Get, KvPath(prefix) + "?recurse=true" + BlockingQueryString(block, first: false), null, idempotent: true, block?.Wait, ct);
        if (r.Status == HttpStatusCode.NotFound) return new([], r.Index);
        var list = (Deserialize<List<KvWire>>(r.Body) ?? []).Select(w => w.ToPair()).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        return new(list, r.Index);
    }

    /// <summary>Key names under <paramref name="prefix"/>; with a separator, only up to the next separator (like a directory listing).</summary>
    public async Task<ConsulResult<IReadOnlyList<string>>> KeysAsync(string prefix, string? separator = null, CancellationToken ct = default)
    {
        var q = "?keys=true" + (separator is null ? "" : "&separator=" + Uri.EscapeDataString(separator));
        var r = await SendAsync(HttpMethod.Get, KvPath(prefix) + q, null, idempotent: true, null, ct);
        if (r.Status == HttpStatusCode.NotFound) return new([], r.Index);
        return new((Deserialize<List<string>>(r.Body) ?? []).Order(StringComparer.Ordinal).ToList(), r.Index);
    }

    /// <summary>Writes a key. With <paramref name="cas"/>: only if its ModifyIndex still equals it (0 = only if absent).
    /// Returns false when the CAS check failed.</summary>
    public async Task<bool> PutAsync(string key, byte[] value, ulong? cas = null, CancellationToken ct = default)
    {
        CheckValueSize(key, value);
        var q = cas is { } c ? $"?cas={c}" : "";
        var r = await SendAsync(HttpMethod.Put, KvPath(key) + q, () => new ByteArrayContent(value), idempotent: cas is null, null, ct);
        return ParseBool(r.Body);
    }

    /// <summary>Deletes exactly one key (never a prefix: this client offers no recursive delete on purpose).
    /// With <paramref name="cas"/>: only if its ModifyIndex still equals it. Deleting a missing key succeeds.</summary>
    public async Task<bool> DeleteAsync(string key, ulong? cas = null, CancellationToken ct = default)
    {
        var q = cas is { } c ? $"?cas={c}" : "";
        var r = await SendAsync(HttpMethod.Delete, KvPath(key) + q, null, idempotent: cas is null, null, ct);
        return ParseBool(r.Body);
    }

    /// <summary>Takes the lock on <paramref name="key"/> for a session and writes <paramref name="value"/>. False when another session holds it
    /// (or the lock-delay after an invalidated holder is still running). Re-acquiring with the holding session updates the value.</summary>
    public async Task<bool> AcquireAsync(string key, string sessionId, byte[] value, CancellationToken ct = default)
    {
        CheckValueSize(key, value);
        var r = await SendAsync(HttpMethod.Put, KvPath(key) + "?acquire=" + Uri.EscapeDataString(sessionId), () => new ByteArrayContent(value),
            idempotent: true, null, ct);
        return ParseBool(r.Body);
    }

    /// <summary>Releases the lock on <paramref name="key"/> held by the session. False when that session does not hold it.</summary>
    public async Task<bool> ReleaseAsync(string key, string sessionId, byte[]? value = null, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Put, KvPath(key) + "?release=" + Uri.EscapeDataString(sessionId),
            value is null ? null : () => new ByteArrayContent(value), idempotent: true, null, ct);
        return ParseBool(r.Body);
    }

    // ---- Transactions -----------------------------------------------------------------------------------

    /// <summary>Runs up to 64 KV operations atomically: all apply or none. A failed check (cas, check-index...) rolls the
    /// whole transaction back and is reported in <see cref="TxnResult.Errors"/>, not thrown. Over 64 operations is refused
    /// before sending: the caller decides whether splitting is safe.</summary>
    public async Task<TxnResult> TxnAsync(IReadOnlyList<TxnOp> ops, CancellationToken ct = default)
    {
        if (ops.Count == 0) return new(true, [], [], 0);
        if (ops.Count > MaxTxnOperations)
            throw new ConsulException(ConsulErrorKind.TooLarge,
                $"a Consul transaction holds at most {MaxTxnOperations} operations; this one has {ops.Count}.");
        foreach (var op in ops)
            if (op.Value is { } v) CheckValueSize(op.Key, v);
        var body = JsonSerializer.SerializeToUtf8Bytes(ops.Select(ToWire).ToList(), Wire);
        var writes = ops.Any(o => o.Verb is not (TxnVerb.Get or TxnVerb.GetTree or TxnVerb.CheckIndex or TxnVerb.CheckNotExists));
        var r = await SendAsync(HttpMethod.Put, "/v1/txn", () => JsonContent(body), idempotent: !writes, null, ct);
        var wire = Deserialize<TxnResponseWire>(r.Body) ?? new TxnResponseWire();
        var results = (wire.Results ?? []).Where(x => x.KV is not null).Select(x => x.KV!.ToPair()).ToList();
        var errors = (wire.Errors ?? []).Select(e => new TxnError(e.OpIndex, e.What)).ToList();
        return new(r.Status == HttpStatusCode.OK && errors.Count == 0, results, errors, r.Index);
    }

    private static TxnOpWire ToWire(TxnOp op) => new()
    {
        KV = new TxnKvWire
        {
            Verb = op.Verb switch
            {
                TxnVerb.Set => "set", TxnVerb.Cas => "cas", TxnVerb.Get => "get", TxnVerb.GetTree => "get-tree",
                TxnVerb.CheckIndex => "check-index", TxnVerb.CheckNotExists => "check-not-exists",
                TxnVerb.Delete => "delete", TxnVerb.DeleteCas => "delete-cas",
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            },
            Key = op.Key,
            Value = op.Value is null ? null : Convert.ToBase64String(op.Value),
            Index = op.Index,
        },
    };

    // ---- Sessions ---------------------------------------------------------------------------------------

    /// <summary>Creates a session that is invalidated unless renewed within <paramref name="ttl"/> (Consul accepts 10 s to 24 h and may take up to twice
    /// the TTL to notice). <paramref name="lockDelay"/> keeps a lock from being re-taken right after its holder's session is invalidated.</summary>
    public async Task<string> CreateSessionAsync(string name, TimeSpan ttl, TimeSpan lockDelay, SessionBehavior behavior = SessionBehavior.Release,
        CancellationToken ct = default)
    {
        if (ttl < TimeSpan.FromSeconds(10) || ttl > TimeSpan.FromHours(24))
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "Consul session TTLs must be between 10s and 24h.");
        var body = JsonSerializer.SerializeToUtf8Bytes(new SessionCreateWire
        {
            Name = name,
            TTL = $"{(long)Math.Ceiling(ttl.TotalSeconds)}s",
            LockDelay = $"{(long)Math.Ceiling(lockDelay.TotalSeconds)}s",
            Behavior = behavior == SessionBehavior.Release ? "release" : "delete",
        }, Wire);
        var r = await SendAsync(HttpMethod.Put, "/v1/session/create", () => JsonContent(body), idempotent: false, null, ct);
        var id = Deserialize<SessionIdWire>(r.Body)?.ID;
        return string.IsNullOrEmpty(id)
            ? throw new ConsulException(ConsulErrorKind.ServerError, $"Consul at {Address} created a session but returned no ID.")
            : id;
    }

    /// <summary>Resets the session's TTL. Null when the session no longer exists (expired or destroyed).</summary>
    public async Task<SessionInfo?> RenewSessionAsync(string sessionId, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Put, "/v1/session/renew/" + Uri.EscapeDataString(sessionId), null, idempotent: true, null, ct);
        return r.Status == HttpStatusCode.NotFound ? null : FirstSession(r.Body);
    }

    /// <summary>Destroys the session; locks it holds are released (behavior release).</summary>
    public async Task<bool> DestroySessionAsync(string sessionId, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Put, "/v1/session/destroy/" + Uri.EscapeDataString(sessionId), null, idempotent: true, null, ct);
        return ParseBool(r.Body);
    }

    public async Task<SessionInfo?> ReadSessionAsync(string sessionId, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Get, "/v1/session/info/" + Uri.EscapeDataString(sessionId), null, idempotent: true, null, ct);
        return r.Status == HttpStatusCode.NotFound ? null : FirstSession(r.Body);
    }

    private SessionInfo? FirstSession(string body)
    {
        var list = Deserialize<List<SessionInfoWire>>(body);
        if (list is not { Count: > 0 }) return null;
        var s = list[0];
        TimeSpan? ttl = s.TTL is { Length: > 1 } t && t.EndsWith('s') && double.TryParse(t[..^1], System.Globalization.CultureInfo.InvariantCulture, out var secs)
            ? TimeSpan.FromSeconds(secs) : null;
        return new(s.ID, s.Name, ttl, TimeSpan.FromTicks(s.LockDelay / 100), s.Behavior == "delete" ? SessionBehavior.Delete : SessionBehavior.Release,
            s.CreateIndex);
    }

    // ---- Health (used by the consul health check of the drivers) -----------------------------------------

    /// <summary>Every health check registered for <paramref name="service"/> (GET /v1/health/checks/:service);
    /// empty when the service has none or is unknown.</summary>
    public async Task<IReadOnlyList<HealthCheckInfo>> HealthChecksAsync(string service, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Get, "/v1/health/checks/" + Uri.EscapeDataString(service), null, idempotent: true, null, ct);
        if (r.Status == HttpStatusCode.NotFound) return [];
        return (Deserialize<List<HealthCheckWire>>(r.Body) ?? [])
            .Select(c => new HealthCheckInfo(c.Node ?? "", c.CheckID ?? "", c.Name ?? "", c.Status ?? "", c.Output ?? ""))
            .OrderBy(c => c.Node, StringComparer.Ordinal).ThenBy(c => c.CheckId, StringComparer.Ordinal)
            .ToList();
    }

    private sealed class HealthCheckWire
    {
        public string? Node { get; set; }
        public string? CheckID { get; set; }
        public string? Name { get; set; }
        public string? Status { get; set; }
        public string? Output { get; set; }
    }

    // ---- Transport --------------------------------------------------------------------------------------

    private readonly record struct Response(HttpStatusCode Status, string Body, ulong Index);

    /// <summary>Thrown inside the retry pipeline for failures worth another attempt; mapped to a ConsulException when retries run out.</summary>
    private sealed class TransientConsulFailure(ConsulException final) : Exception(final.Message, final)
    {
        public ConsulException Final { get; } = final;
    }

    private async Task<Response> SendAsync(HttpMethod method, string pathAndQuery, Func<HttpContent>? content, bool idempotent,
        TimeSpan? blockingWait, CancellationToken ct)
    {
        var timeout = _options.RequestTimeout + (blockingWait is { } w ? w + w / 16 : TimeSpan.Zero);
        var what = $"{method} {PathOnly(pathAndQuery)}";
        try
        {
            return await _retry.ExecuteAsync(async token =>
            {
                using var attempt = new CancellationTokenSource(timeout, _options.Time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, attempt.Token);
                using var request = new HttpRequestMessage(method, pathAndQuery) { Content = content?.Invoke() };
                HttpResponseMessage response;
                try
                {
                    response = await _http.SendAsync(request, linked.Token);
                }
                catch (OperationCanceledException) when (attempt.IsCancellationRequested && !token.IsCancellationRequested)
                {
                    var e = new ConsulException(ConsulErrorKind.Unreachable,
                        $"Consul at {Address} did not answer {what} within {timeout.TotalSeconds:0.#}s. Check that the agent is up and reachable.");
                    throw idempotent ? new TransientConsulFailure(e) : e;
                }
                catch (HttpRequestException e)
                {
                    var refused = e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused } || e.HttpRequestError == HttpRequestError.ConnectionError;
                    var final = new ConsulException(ConsulErrorKind.Unreachable,
                        $"cannot reach Consul at {Address} ({Describe(e)}). Check that the agent runs and that the address in --state consul://HOST:PORT/PREFIX is right.",
                        inner: e);
                    // A refused connection never carried the request, so even a CAS write is safe to repeat.
                    throw idempotent || refused ? new TransientConsulFailure(final) : final;
                }
                using (response)
                {
                    var body = await response.Content.ReadAsStringAsync(token);
                    var index = response.Headers.TryGetValues("X-Consul-Index", out var values) && ulong.TryParse(values.FirstOrDefault(), out var i) ? i : 0;
                    var status = response.StatusCode;
                    if ((int)status < 300 || status is HttpStatusCode.NotFound || (status is HttpStatusCode.Conflict && pathAndQuery.StartsWith("/v1/txn", StringComparison.Ordinal)))
                        return new Response(status, body, index);
                    var error = MapError(status, body, what);
                    var retry = error.Kind == ConsulErrorKind.NoLeader || (idempotent && error.Kind == ConsulErrorKind.ServerError);
                    throw retry ? new TransientConsulFailure(error) : error;
                }
            }, ct);
        }
        catch (TransientConsulFailure t)
        {
            throw t.Final;
        }
    }

    private ConsulException MapError(HttpStatusCode status, string body, string what)
    {
        var detail = body.Trim();
        if (detail.Length > 300) detail = detail[..300] + "...";
        if (status == HttpStatusCode.Forbidden)
            return new ConsulException(ConsulErrorKind.AclDenied,
                $"Consul at {Address} denied {what}: ACL permission denied ({detail}). " +
                "Set CONSUL_HTTP_TOKEN to a token with write access to the reconciler's key prefix and session write.", (int)status);
        if ((int)status >= 500 && detail.Contains("No cluster leader", StringComparison.OrdinalIgnoreCase))
            return new ConsulException(ConsulErrorKind.NoLeader,
                $"Consul at {Address} has no cluster leader (an election is running or quorum is lost); {what} failed after retries. " +
                "Try again once `consul operator raft list-peers` shows a leader.", (int)status);
        if (status == HttpStatusCode.RequestEntityTooLarge)
            return new ConsulException(ConsulErrorKind.TooLarge, $"Consul at {Address} refused {what} as too large: {detail}", (int)status);
        if ((int)status >= 500)
            return new ConsulException(ConsulErrorKind.ServerError, $"Consul at {Address} failed {what} with {(int)status}: {detail}", (int)status);
        return new ConsulException(ConsulErrorKind.BadRequest, $"Consul at {Address} rejected {what} with {(int)status}: {detail}", (int)status);
    }

    private static string Describe(HttpRequestException e) =>
        e.InnerException is SocketException s ? s.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound => "host not found",
            SocketError.TimedOut => "connection timed out",
            _ => s.Message,
        } : e.Message;

    private static string KvPath(string key) =>
        "/v1/kv/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString));

    private static string PathOnly(string pathAndQuery) => pathAndQuery.Split('?')[0];

    private static string BlockingQueryString(BlockingQuery? block, bool first) =>
        block is null ? "" : $"{(first ? '?' : '&')}index={block.Index}&wait={Math.Max(1, (long)Math.Ceiling(block.Wait.TotalSeconds))}s";

    private static ByteArrayContent JsonContent(byte[] body)
    {
        var c = new ByteArrayContent(body);
        c.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return c;
    }

    private static void CheckValueSize(string key, byte[] value)
    {
        if (value.Length > MaxValueBytes)
            throw new ConsulException(ConsulErrorKind.TooLarge,
                $"value for Consul key '{key}' is {value.Length} bytes; Consul stores at most {MaxValueBytes} bytes per key.");
    }

    private static bool ParseBool(string body) => body.Trim() == "true";

    private T? Deserialize<T>(string body)
    {
        if (string.IsNullOrWhiteSpace(body)) return default;
        try
        {
            return JsonSerializer.Deserialize<T>(body, Wire);
        }
        catch (JsonException e)
        {
            var start = body.Length > 200 ? body[..200] + "..." : body;
            throw new ConsulException(ConsulErrorKind.ServerError,
                $"{Address} answered with something that is not Consul's JSON ({e.Message}): {start}. Is {Address} a Consul agent?", inner: e);
        }
    }

    public void Dispose() => _http.Dispose();
}

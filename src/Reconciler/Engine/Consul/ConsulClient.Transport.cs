using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Polly;
using Polly.Retry;
using Reconciler.State;

namespace Reconciler.Consul;

/// <summary>
/// Transport of <see cref="ConsulClient"/>. Transient failures are retried with exponential backoff through Polly
/// (bounded by <see cref="ConsulClientOptions.MaxRetries"/>), but a request that may already have been applied (a CAS
/// write, a write transaction, a session create) is retried only when it certainly was not: connection refused,
/// "No cluster leader", and 429/503, which Consul's rate limiter answers before applying anything (agent/http.go:
/// rate.ErrRetryLater, rate.ErrRetryElsewhere). So a retry can never turn our own success into a false conflict.
/// </summary>
public sealed partial class ConsulClient
{
    private readonly HttpClient _http;
    private readonly ConsulClientOptions _options;
    private readonly ResiliencePipeline _retry;

    public ConsulClient(ConsulClientOptions options)
    {
        _options = options;
        _http = options.Handler is null ? new HttpClient(ConsulTransport.CreateHandler(options)) : new HttpClient(options.Handler, disposeHandler: false);
        _http.BaseAddress = ConsulTransport.BaseAddress(options.Address);
        _http.Timeout = Timeout.InfiniteTimeSpan;     // each attempt has its own timeout (blocking queries need longer ones)
        if (options.Token is { Length: > 0 } token)
            _http.DefaultRequestHeaders.Add("X-Consul-Token", token);
        if (options.BasicAuth is { Length: > 0 } auth)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(auth)));
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
                    MaxDelay = options.RetryMaxDelay,
                    // A rate-limited answer may say when to come back; honour it, within the bound.
                    DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is TransientConsulFailure { RetryAfter: { } after }
                        ? (TimeSpan?)(after < options.RetryMaxDelay ? after : options.RetryMaxDelay)
                        : null),
                })
                .Build();
    }

    /// <summary>"http://127.0.0.1:8500" or "unix:///path", for messages.</summary>
    public string Address => _options.Address.Scheme == "unix" ? "unix://" + _options.Address.AbsolutePath : _options.Address.GetLeftPart(UriPartial.Authority);

    /// <summary>The agent address as configured (http, https or unix).</summary>
    public Uri AddressUri => _options.Address;

    private readonly record struct Response(HttpStatusCode Status, string Body, ulong Index, bool FilteredByAcls);

    /// <summary>Thrown inside the retry pipeline for failures worth another attempt; mapped to a ConsulException when retries run out.</summary>
    private sealed class TransientConsulFailure(ConsulException final, TimeSpan? retryAfter = null) : Exception(final.Message, final)
    {
        public ConsulException Final { get; } = final;
        public TimeSpan? RetryAfter { get; } = retryAfter;
    }

    private async Task<Response> SendAsync(HttpMethod method, string path, string query, Func<HttpContent>? content, bool idempotent,
        TimeSpan? blockingWait, CancellationToken ct)
    {
        var timeout = _options.RequestTimeout + (blockingWait is { } w ? w + w / 16 : TimeSpan.Zero);
        var what = $"{method} {path}";
        var pathAndQuery = path + QueryString(query);
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
                    var refused = e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.AddressNotAvailable }
                                  || e.HttpRequestError == HttpRequestError.ConnectionError;
                    var final = new ConsulException(ConsulErrorKind.Unreachable,
                        $"cannot reach Consul at {Address} ({Describe(e)}). Check that the agent runs, that the address in --state consul://HOST:PORT/PREFIX " +
                        "(or CONSUL_HTTP_ADDR) is right, and for TLS that CONSUL_CACERT/CONSUL_CAPATH, CONSUL_CLIENT_CERT/CONSUL_CLIENT_KEY and " +
                        "CONSUL_TLS_SERVER_NAME match the agent.", inner: e);
                    // A refused connection never carried the request, so even a CAS write is safe to repeat.
                    throw idempotent || refused ? new TransientConsulFailure(final) : final;
                }
                using (response)
                {
                    var body = await response.Content.ReadAsStringAsync(token);
                    var index = response.Headers.TryGetValues("X-Consul-Index", out var values) && ulong.TryParse(values.FirstOrDefault(), out var i) ? i : 0;
                    var filtered = response.Headers.TryGetValues("X-Consul-Results-Filtered-By-ACLs", out var f) && f.FirstOrDefault() == "true";
                    var status = response.StatusCode;
                    if ((int)status < 300 || status is HttpStatusCode.NotFound || (status is HttpStatusCode.Conflict && path == "/v1/txn"))
                        return new Response(status, body, index, filtered);
                    var error = MapError(status, body, what);
                    if (status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
                        throw new TransientConsulFailure(error, response.Headers.RetryAfter?.Delta);
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

    private string QueryString(string query)
    {
        var parts = new List<string>();
        if (query.Trim('&') is { Length: > 0 } q) parts.Add(q);
        if (_options.Namespace is { } ns) parts.Add("ns=" + Uri.EscapeDataString(ns));
        if (_options.Partition is { } partition) parts.Add("partition=" + Uri.EscapeDataString(partition));
        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }

    private ConsulException AclDenied(string what) => new(ConsulErrorKind.AclDenied,
        $"Consul at {Address} denied {what}: ACL permission denied. The token (CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE) needs " +
        "key_prefix read and write on the reconciler's prefix and session write on the agent's node.", 403);

    private void ThrowIfFiltered(Response r, string prefix)
    {
        if (r.FilteredByAcls) throw AclDenied($"part of the listing of '{prefix}' (X-Consul-Results-Filtered-By-ACLs)");
    }

    private ConsulException MapError(HttpStatusCode status, string body, string what)
    {
        var detail = body.Trim();
        if (detail.Length > 300) detail = detail[..300] + "...";
        if (status == HttpStatusCode.Forbidden) return AclDenied($"{what} ({detail})");
        if ((int)status >= 500 && detail.Contains("No cluster leader", StringComparison.OrdinalIgnoreCase))
            return new ConsulException(ConsulErrorKind.NoLeader,
                $"Consul at {Address} has no cluster leader (an election is running or quorum is lost); {what} failed after retries. " +
                "Try again once `consul operator raft list-peers` shows a leader.", (int)status);
        if (status == HttpStatusCode.RequestEntityTooLarge)
            return new ConsulException(ConsulErrorKind.TooLarge, $"Consul at {Address} refused {what} as too large: {detail}", (int)status);
        if (status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
            return new ConsulException(ConsulErrorKind.RateLimited,
                $"Consul at {Address} kept refusing {what} with {(int)status} ({detail}) after {_options.MaxRetries} retries with backoff: " +
                "its request rate limit is reached or it is overloaded. Nothing was applied by the refused requests; try again later.", (int)status);
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
        } : e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message;

    private static string KvPath(string key)
    {
        ConsulKeys.CheckStrictKey(key);
        return "/v1/kv/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
    }

    private static string BlockingQueryString(BlockingQuery? block) =>
        block is null ? "" : $"index={block.Index}&wait={Math.Max(1, (long)Math.Ceiling(block.Wait.TotalSeconds))}s";

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
                $"value for Consul key '{key}' is {value.Length} bytes; Consul stores at most {MaxValueBytes} bytes per key (kv_max_value_size).");
    }

    private static bool ParseBool(string body) => body.Trim() == "true";

    private T? Deserialize<T>(string body)
    {
        if (string.IsNullOrWhiteSpace(body)) return default;
        try
        {
            return JsonSerializer.Deserialize(body, Wire.InfoFor<T>());
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

using System.Net;
using System.Text.Json;
using Reconciler.State;

namespace Reconciler.Consul;

/// <summary>
/// A small typed client for the parts of Consul's HTTP API this product uses: KV (get, recursive list, keys,
/// put and delete with ?cas=, session acquire/release), /v1/txn, sessions, /v1/health/service and blocking queries.
/// Hand-written because the Consul NuGet package is not available to this project; see docs/state.md.
/// Requests are sized to Consul's limits before sending (64 operations and txn_max_req_len per transaction,
/// kv_max_value_size per value) and keys are checked against <see cref="ConsulKeys.IsStrictKey"/>.
/// Transport, retries and error mapping: ConsulClient.Transport.cs.
/// </summary>
public sealed partial class ConsulClient : IDisposable
{
    public const int MaxTxnOperations = 64;            // agent/txn_endpoint.go maxTxnOps
    public const int MaxValueBytes = 512 * 1024;        // Consul's default kv_max_value_size
    public const int MaxTxnRequestBytes = 512 * 1024;   // Consul's default txn_max_req_len: the whole /v1/txn body, base64 and JSON included

    private static readonly JsonSerializerOptions Wire = new() { PropertyNamingPolicy = null, TypeInfoResolver = ConsulJsonContext.Default };

    // ---- KV ---------------------------------------------------------------------------------------------

    /// <summary>One key, or null when it does not exist. With <paramref name="block"/>, waits for a change past its index.</summary>
    public async Task<ConsulResult<KvPair?>> GetAsync(string key, BlockingQuery? block = null, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Get, KvPath(key), BlockingQueryString(block), null, idempotent: true, block?.Wait, ct);
        if (r.Status == HttpStatusCode.NotFound) return new(null, r.Index);
        var list = Deserialize<List<KvWire>>(r.Body) ?? [];
        return new(list.Count == 0 ? null : list[0].ToPair(), r.Index);
    }

    /// <summary>Every key under <paramref name="prefix"/> (recursive), sorted by key. Empty when none. A listing that
    /// ACLs filtered (X-Consul-Results-Filtered-By-ACLs) is an <see cref="ConsulErrorKind.AclDenied"/>, never a shorter list.</summary>
    public async Task<ConsulResult<IReadOnlyList<KvPair>>> ListAsync(string prefix, BlockingQuery? block = null, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Get, KvPath(prefix), "recurse=true&" + BlockingQueryString(block), null, idempotent: true, block?.Wait, ct);
        ThrowIfFiltered(r, prefix);
        if (r.Status == HttpStatusCode.NotFound) return new([], r.Index);
        var list = (Deserialize<List<KvWire>>(r.Body) ?? []).Select(w => w.ToPair()).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        return new(list, r.Index);
    }

    /// <summary>Key names under <paramref name="prefix"/>; with a separator, only up to the next separator (like a directory listing).</summary>
    public async Task<ConsulResult<IReadOnlyList<string>>> KeysAsync(string prefix, string? separator = null, CancellationToken ct = default)
    {
        var q = "keys=true" + (separator is null ? "" : "&separator=" + Uri.EscapeDataString(separator));
        var r = await SendAsync(HttpMethod.Get, KvPath(prefix), q, null, idempotent: true, null, ct);
        ThrowIfFiltered(r, prefix);
        if (r.Status == HttpStatusCode.NotFound) return new([], r.Index);
        return new((Deserialize<List<string>>(r.Body) ?? []).Order(StringComparer.Ordinal).ToList(), r.Index);
    }

    /// <summary>Writes a key. With <paramref name="cas"/>: only if its ModifyIndex still equals it (0 = only if absent).
    /// Returns false when the CAS check failed. Mind that Consul keeps the ModifyIndex of a write that changes nothing.</summary>
    public async Task<bool> PutAsync(string key, byte[] value, ulong? cas = null, CancellationToken ct = default)
    {
        CheckValueSize(key, value);
        var q = cas is { } c ? $"cas={c}" : "";
        var r = await SendAsync(HttpMethod.Put, KvPath(key), q, () => new ByteArrayContent(value), idempotent: cas is null, null, ct);
        return ParseBool(r.Body);
    }

    /// <summary>Deletes exactly one key (never a prefix: this client offers no recursive delete on purpose).
    /// With <paramref name="cas"/>: only if its ModifyIndex still equals it. Deleting a missing key succeeds.</summary>
    public async Task<bool> DeleteAsync(string key, ulong? cas = null, CancellationToken ct = default)
    {
        var q = cas is { } c ? $"cas={c}" : "";
        var r = await SendAsync(HttpMethod.Delete, KvPath(key), q, null, idempotent: cas is null, null, ct);
        return ParseBool(r.Body);
    }

    /// <summary>Takes the lock on <paramref name="key"/> for a session and writes <paramref name="value"/>. False when another session holds it
    /// (or the lock-delay after an invalidated holder is still running). Re-acquiring with the holding session updates the value.</summary>
    public async Task<bool> AcquireAsync(string key, string sessionId, byte[] value, CancellationToken ct = default)
    {
        CheckValueSize(key, value);
        var r = await SendAsync(HttpMethod.Put, KvPath(key), "acquire=" + Uri.EscapeDataString(sessionId), () => new ByteArrayContent(value),
            idempotent: true, null, ct);
        return ParseBool(r.Body);
    }

    /// <summary>Releases the lock on <paramref name="key"/> held by the session, setting its value. False when that
    /// session does not hold it (then nothing changes: the key of another holder is never touched).</summary>
    public async Task<bool> ReleaseAsync(string key, string sessionId, byte[]? value = null, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Put, KvPath(key), "release=" + Uri.EscapeDataString(sessionId),
            value is null ? null : () => new ByteArrayContent(value), idempotent: true, null, ct);
        return ParseBool(r.Body);
    }

    // ---- Transactions -----------------------------------------------------------------------------------

    /// <summary>Runs up to 64 KV operations atomically: all apply or none. A failed check (cas, check-index...) rolls the
    /// whole transaction back and is reported in <see cref="TxnResult.Errors"/>, not thrown; an ACL denial inside the
    /// transaction (409 "Permission denied") is thrown as <see cref="ConsulErrorKind.AclDenied"/>. Over 64 operations or
    /// over <see cref="MaxTxnRequestBytes"/> as sent is refused before sending: the caller decides whether splitting is safe.
    /// Mind that Consul silently leaves out of a read the keys the token may not read.</summary>
    public async Task<TxnResult> TxnAsync(IReadOnlyList<TxnOp> ops, CancellationToken ct = default)
    {
        if (ops.Count == 0) return new(true, [], [], 0);
        if (ops.Count > MaxTxnOperations)
            throw new ConsulException(ConsulErrorKind.TooLarge,
                $"a Consul transaction holds at most {MaxTxnOperations} operations; this one has {ops.Count}.");
        foreach (var op in ops)
        {
            ConsulKeys.CheckStrictKey(op.Key);
            if (op.Value is { } v) CheckValueSize(op.Key, v);
        }
        var body = TxnBody(ops);
        if (body.Length > MaxTxnRequestBytes)
            throw new ConsulException(ConsulErrorKind.TooLarge,
                $"a Consul transaction request is at most {MaxTxnRequestBytes} bytes (txn_max_req_len); this one is {body.Length} bytes as sent " +
                $"({ops.Sum(o => o.Value?.Length ?? 0)} bytes of values, which base64 makes a third larger).");
        var writes = ops.Any(o => o.Verb is not (TxnVerb.Get or TxnVerb.GetTree or TxnVerb.CheckIndex or TxnVerb.CheckNotExists));
        var r = await SendAsync(HttpMethod.Put, "/v1/txn", "", () => JsonContent(body), idempotent: !writes, null, ct);
        var wire = Deserialize<TxnResponseWire>(r.Body) ?? new TxnResponseWire();
        var errors = (wire.Errors ?? []).Select(e => new TxnError(e.OpIndex, e.What)).ToList();
        // agent/consul/txn_endpoint.go preCheck: a token without the right gets 409 with "Permission denied" per operation.
        if (errors.FirstOrDefault(e => e.What.Contains("Permission denied", StringComparison.OrdinalIgnoreCase)) is { } denied)
            throw AclDenied($"{(writes ? "the write" : "the read")} transaction on '{KeyOf(ops, denied.OpIndex)}' (operation {denied.OpIndex}: {denied.What})");
        var results = (wire.Results ?? []).Where(x => x.KV is not null).Select(x => x.KV!.ToPair()).ToList();
        return new(r.Status == HttpStatusCode.OK && errors.Count == 0, results, errors, r.Index);
    }

    /// <summary>The /v1/txn body exactly as <see cref="TxnAsync"/> sends it, for sizing chunks.</summary>
    public byte[] TxnBody(IReadOnlyList<TxnOp> ops) => JsonSerializer.SerializeToUtf8Bytes(ops.Select(ToWire).ToList(), Wire.InfoFor<List<TxnOpWire>>());

    /// <summary>Splits <paramref name="ops"/> in order into transactions within Consul's limits (64 operations, the
    /// request-body size), for callers whose operations need not be atomic together. Throws when one operation alone is too large.</summary>
    public IEnumerable<IReadOnlyList<TxnOp>> Chunks(IReadOnlyList<TxnOp> ops)
    {
        var chunk = new List<TxnOp>();
        var size = 2;   // "[" and "]"; each further op adds its own JSON plus a comma
        foreach (var op in ops)
        {
            var opSize = JsonSerializer.SerializeToUtf8Bytes(ToWire(op), Wire.InfoFor<TxnOpWire>()).Length + 1;
            if (chunk.Count > 0 && (chunk.Count == MaxTxnOperations || size + opSize > MaxTxnRequestBytes))
            {
                yield return chunk;
                chunk = [];
                size = 2;
            }
            chunk.Add(op);
            size += opSize;
        }
        if (chunk.Count > 0) yield return chunk;
    }

    private static string KeyOf(IReadOnlyList<TxnOp> ops, int index) => index >= 0 && index < ops.Count ? ops[index].Key : "?";

    private TxnOpWire ToWire(TxnOp op) => new()
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
            Namespace = _options.Namespace,
            Partition = _options.Partition,
        },
    };

    // ---- Sessions ---------------------------------------------------------------------------------------

    /// <summary>Creates a session bound to exactly <paramref name="nodeChecks"/> of the agent's node (sent explicitly:
    /// a session that names none is bound to serfHealth by default) and invalidated unless renewed within
    /// <paramref name="ttl"/> (Consul accepts 10 s to 24 h and may take up to twice the TTL to notice).
    /// <paramref name="lockDelay"/> keeps a lock from being re-taken right after its holder's session is invalidated.</summary>
    public async Task<string> CreateSessionAsync(string name, TimeSpan ttl, TimeSpan lockDelay, SessionBehavior behavior = SessionBehavior.Release,
        IReadOnlyList<string>? nodeChecks = null, CancellationToken ct = default)
    {
        if (ttl < TimeSpan.FromSeconds(10) || ttl > TimeSpan.FromHours(24))
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "Consul session TTLs must be between 10s and 24h.");
        var body = JsonSerializer.SerializeToUtf8Bytes(new SessionCreateWire
        {
            Name = name,
            TTL = $"{(long)Math.Ceiling(ttl.TotalSeconds)}s",
            LockDelay = $"{(long)Math.Ceiling(lockDelay.TotalSeconds)}s",
            Behavior = behavior == SessionBehavior.Release ? "release" : "delete",
            NodeChecks = [.. nodeChecks ?? [SerfHealth]],
            Checks = [],
        }, Wire.InfoFor<SessionCreateWire>());
        var r = await SendAsync(HttpMethod.Put, "/v1/session/create", "", () => JsonContent(body), idempotent: false, null, ct);
        var id = Deserialize<SessionIdWire>(r.Body)?.ID;
        return string.IsNullOrEmpty(id)
            ? throw new ConsulException(ConsulErrorKind.ServerError, $"Consul at {Address} created a session but returned no ID.")
            : id;
    }

    /// <summary>The agent's node check every agent has: critical when the agent is gone, left or unreachable.</summary>
    public const string SerfHealth = "serfHealth";

    /// <summary>Resets the session's TTL. Null when the session no longer exists (expired or destroyed).</summary>
    public async Task<SessionInfo?> RenewSessionAsync(string sessionId, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Put, "/v1/session/renew/" + Uri.EscapeDataString(sessionId), "", null, idempotent: true, null, ct);
        return r.Status == HttpStatusCode.NotFound ? null : FirstSession(r.Body);
    }

    /// <summary>Destroys the session; locks it holds are released (behavior release), with lock-delay.</summary>
    public async Task<bool> DestroySessionAsync(string sessionId, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Put, "/v1/session/destroy/" + Uri.EscapeDataString(sessionId), "", null, idempotent: true, null, ct);
        return ParseBool(r.Body);
    }

    public async Task<SessionInfo?> ReadSessionAsync(string sessionId, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Get, "/v1/session/info/" + Uri.EscapeDataString(sessionId), "", null, idempotent: true, null, ct);
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
            s.CreateIndex, [.. (s.NodeChecks ?? []).Concat(s.Checks ?? []).Distinct().Order(StringComparer.Ordinal)]);
    }

    // ---- Health (used by the consul health check of the drivers) -----------------------------------------

    /// <summary>Every instance of <paramref name="service"/> with all its checks (GET /v1/health/service/:service): the
    /// node's checks (serfHealth, _node_maintenance) as well as the service's own. Empty when the service is unknown.</summary>
    public async Task<IReadOnlyList<ServiceHealth>> ServiceHealthAsync(string service, CancellationToken ct = default)
    {
        var r = await SendAsync(HttpMethod.Get, "/v1/health/service/" + Uri.EscapeDataString(service), "", null, idempotent: true, null, ct);
        if (r.Status == HttpStatusCode.NotFound) return [];
        return (Deserialize<List<ServiceEntryWire>>(r.Body) ?? [])
            .Select(e => new ServiceHealth(e.Node?.Node ?? "", e.Service?.ID ?? "", (e.Checks ?? [])
                .Select(c => new HealthCheckInfo(c.Node ?? "", c.CheckID ?? "", c.Name ?? "", c.Status ?? "", c.Output ?? "", c.ServiceID ?? ""))
                .OrderBy(c => c.CheckId, StringComparer.Ordinal).ToList()))
            .OrderBy(e => e.Node, StringComparer.Ordinal).ThenBy(e => e.ServiceId, StringComparer.Ordinal)
            .ToList();
    }
}

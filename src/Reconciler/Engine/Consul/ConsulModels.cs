using System.Text.Json.Serialization;

namespace Reconciler.Consul;

/// <summary>One KV entry as Consul returns it. <see cref="Value"/> is already base64-decoded (empty when the key has no value).</summary>
public sealed record KvPair(string Key, byte[] Value, ulong CreateIndex, ulong ModifyIndex, ulong LockIndex, ulong Flags, string? Session)
{
    public string ValueText => System.Text.Encoding.UTF8.GetString(Value);
}

/// <summary>A read plus the X-Consul-Index to pass to the next blocking query.</summary>
public sealed record ConsulResult<T>(T Value, ulong Index);

/// <summary>Blocking-query options: return when the watched keys change past <see cref="Index"/> or after <see cref="Wait"/>.</summary>
public sealed record BlockingQuery(ulong Index, TimeSpan Wait);

/// <summary>The KV verbs of /v1/txn this product uses (https://developer.hashicorp.com/consul/api-docs/txn).</summary>
public enum TxnVerb { Set, Cas, Get, GetTree, CheckIndex, CheckNotExists, Delete, DeleteCas }

/// <summary>One KV operation of a transaction. <see cref="Index"/> is the ModifyIndex for cas, check-index and delete-cas.</summary>
public sealed record TxnOp(TxnVerb Verb, string Key, byte[]? Value = null, ulong Index = 0)
{
    public static TxnOp Set(string key, byte[] value) => new(TxnVerb.Set, key, value);
    public static TxnOp Cas(string key, byte[] value, ulong index) => new(TxnVerb.Cas, key, value, index);
    public static TxnOp Get(string key) => new(TxnVerb.Get, key);
    public static TxnOp GetTree(string prefix) => new(TxnVerb.GetTree, prefix);
    public static TxnOp CheckIndex(string key, ulong index) => new(TxnVerb.CheckIndex, key, null, index);
    public static TxnOp CheckNotExists(string key) => new(TxnVerb.CheckNotExists, key);
    public static TxnOp Delete(string key) => new(TxnVerb.Delete, key);
    public static TxnOp DeleteCas(string key, ulong index) => new(TxnVerb.DeleteCas, key, null, index);
}

/// <summary>Outcome of /v1/txn: either committed with the KV results of every op (get-tree yields several), or rolled back with errors.</summary>
public sealed record TxnResult(bool Committed, IReadOnlyList<KvPair> Results, IReadOnlyList<TxnError> Errors, ulong Index);

public sealed record TxnError(int OpIndex, string What);

/// <summary>One Consul health check; Status is "passing", "warning" or "critical". <see cref="ServiceId"/> is empty for a
/// node check (serfHealth, _node_maintenance).</summary>
public sealed record HealthCheckInfo(string Node, string CheckId, string Name, string Status, string Output, string ServiceId = "");

/// <summary>One instance of a service as /v1/health/service returns it: its node, and every check that decides its health.</summary>
public sealed record ServiceHealth(string Node, string ServiceId, IReadOnlyList<HealthCheckInfo> Checks);

/// <summary>What happens to locks held by a session when it is invalidated.</summary>
public enum SessionBehavior { Release, Delete }

/// <summary>A session as Consul reports it; <see cref="NodeChecks"/> are the checks that invalidate it when critical.</summary>
public sealed record SessionInfo(string Id, string Name, TimeSpan? Ttl, TimeSpan LockDelay, SessionBehavior Behavior, ulong CreateIndex,
    IReadOnlyList<string> NodeChecks);

public enum ConsulErrorKind
{
    Unreachable,       // connection refused, DNS failure, TLS failure, timeout after retries
    AclDenied,         // 403, a txn's 409 "Permission denied", or a read the ACLs filtered: the token lacks a permission (or is missing)
    RateLimited,       // 429/503 after retries: the agent's rate limit or overload; nothing was applied
    NoLeader,          // 500 "No cluster leader": the cluster is electing or lost quorum
    ServerError,       // other 5xx after retries
    BadRequest,        // 4xx other than 403/404/409: this client or its input is wrong
    TooLarge,          // a value over 512 KiB, a transaction over 64 operations or over 512 KiB as sent; refused before sending
}

/// <summary>A Consul call failed in a way the caller cannot fix by retrying now. The message names the
/// agent, the request and what to do.</summary>
public sealed class ConsulException(ConsulErrorKind kind, string message, int? statusCode = null, Exception? inner = null)
    : Exception(message, inner)
{
    public ConsulErrorKind Kind { get; } = kind;
    public int? StatusCode { get; } = statusCode;
}

// Wire shapes of the HTTP API (PascalCase as Consul writes them).
internal sealed class KvWire
{
    public string Key { get; set; } = "";
    public string? Value { get; set; }
    public ulong CreateIndex { get; set; }
    public ulong ModifyIndex { get; set; }
    public ulong LockIndex { get; set; }
    public ulong Flags { get; set; }
    public string? Session { get; set; }

    public KvPair ToPair() => new(Key, Value is null ? [] : Convert.FromBase64String(Value), CreateIndex, ModifyIndex, LockIndex, Flags,
        string.IsNullOrEmpty(Session) ? null : Session);
}

internal sealed class TxnOpWire
{
    public TxnKvWire? KV { get; set; }
}

internal sealed class TxnKvWire
{
    public string Verb { get; set; } = "";
    public string Key { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Value { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Index { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Namespace { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Partition { get; set; }
}

internal sealed class TxnResponseWire
{
    public List<TxnResultWire>? Results { get; set; }
    public List<TxnErrorWire>? Errors { get; set; }
}

internal sealed class TxnResultWire
{
    public KvWire? KV { get; set; }
}

internal sealed class TxnErrorWire
{
    public int OpIndex { get; set; }
    public string What { get; set; } = "";
}

internal sealed class SessionCreateWire
{
    public string Name { get; set; } = "";
    public string? TTL { get; set; }
    public string LockDelay { get; set; } = "15s";
    public string Behavior { get; set; } = "release";
    public List<string> NodeChecks { get; set; } = [];
    /// <summary>Deprecated alias of NodeChecks; sent empty so that the agent's serfHealth default does not creep back in.</summary>
    public List<string> Checks { get; set; } = [];
}

internal sealed class SessionIdWire
{
    public string ID { get; set; } = "";
}

internal sealed class SessionInfoWire
{
    public string ID { get; set; } = "";
    public string Name { get; set; } = "";
    public string? TTL { get; set; }
    public long LockDelay { get; set; }          // nanoseconds, as Consul reports it
    public string Behavior { get; set; } = "release";
    public ulong CreateIndex { get; set; }
    public List<string>? NodeChecks { get; set; }
    public List<string>? Checks { get; set; }
}

internal sealed class ServiceEntryWire
{
    public NodeWire? Node { get; set; }
    public ServiceWire? Service { get; set; }
    public List<HealthCheckWire>? Checks { get; set; }
}

internal sealed class NodeWire
{
    public string? Node { get; set; }
    public string? Address { get; set; }
    public string? Datacenter { get; set; }
    public Dictionary<string, string>? Meta { get; set; }
}

internal sealed class ServiceWire
{
    public string? ID { get; set; }
    public string? Address { get; set; }
    public int Port { get; set; }
}

/// <summary>One instance of a service as the catalog lists it (GET /v1/health/service/:service): its node's name,
/// address (the service's own address when it registered one), datacenter and node meta.</summary>
public sealed record CatalogInstance(string Node, string ServiceId, string Address, string Datacenter, int ServicePort,
    IReadOnlyDictionary<string, string> NodeMeta);

internal sealed class HealthCheckWire
{
    public string? Node { get; set; }
    public string? CheckID { get; set; }
    public string? Name { get; set; }
    public string? Status { get; set; }
    public string? Output { get; set; }
    public string? ServiceID { get; set; }
}

using System.Collections.Concurrent;
using Reconciler.Consul;
using Reconciler.Diff.Live;

namespace Reconciler.State.Consul;

/// <summary>
/// Live state in Consul KV under one prefix (layout: <see cref="ConsulKeys"/>, docs/state.md).
/// Version = ModifyIndex of PREFIX/ENV/version. A write is one /v1/txn: a cas on the version key plus one
/// set/delete per changed service or toggle, so it is all or nothing, at most 64 operations and at most
/// txn_max_req_len as sent; a change that needs more is refused, never split. The version key's value carries a
/// serial that every write increments: Consul keeps the ModifyIndex of a set that changes nothing (kvsSetTxn), so
/// without it two writers at one version would both pass the cas. Reads are one read-only txn (get-tree), a
/// consistent snapshot; a read the token's ACLs filtered is an error, never an empty environment. The lock is a
/// Consul session lock (ConsulStateStore.Lock.cs).
/// </summary>
public sealed partial class ConsulStateStore : IStateStore
{
    private readonly ConsulClient _client;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, long> _nextJournalSeq = new();

    public ConsulStateStore(ConsulClient client, string prefix, TimeProvider time, TimeSpan? lockDelay = null)
    {
        _client = client;
        _prefix = ConsulKeys.Trim(prefix);
        _time = time;
        LockDelay = lockDelay ?? TimeSpan.FromSeconds(5);
        if (_prefix.Length == 0) throw new ReconcilerException(FailureKind.InvalidInput, "a Consul state URL needs a key prefix: consul://HOST:PORT/PREFIX (e.g. consul://127.0.0.1:8500/reconciler).");
    }

    /// <summary>Consul sessions cannot live shorter than this; shorter lock TTLs are raised to it.</summary>
    public static readonly TimeSpan MinSessionTtl = TimeSpan.FromSeconds(10);

    /// <summary>After a holder's session is invalidated, nobody can take the lock for this long (Consul lock-delay). The
    /// holder learns of the loss from its lock watch (<see cref="WatchLockAsync"/>) within one blocking-query round
    /// trip, not at its next renewal, and stops at a safe point well inside it.</summary>
    public TimeSpan LockDelay { get; }

    /// <summary>consul://HOST:PORT/PREFIX, or consuls:// over TLS.</summary>
    public string Describe
    {
        get
        {
            var a = _client.AddressUri;
            return a.Scheme == "unix"
                ? $"consul:///{_prefix} (agent at unix://{a.AbsolutePath})"
                : $"{(a.Scheme == Uri.UriSchemeHttps ? "consuls" : "consul")}://{a.Host}:{a.Port}/{_prefix}";
        }
    }

    // ---- live state -------------------------------------------------------------------------------------

    public Task<LiveState> ReadAsync(string environment, CancellationToken ct) => ReadAsync(environment, null, ct);

    public Task<LiveState> ReadAsync(string environment, ConvergedMemo? memo, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var versionKey = ConsulKeys.Version(_prefix, environment);
        var servicesTree = ConsulKeys.ServicesTree(_prefix, environment);
        var togglesTree = ConsulKeys.TogglesTree(_prefix, environment);
        // One read-only transaction: a consistent snapshot of version, services and toggles. (get-tree, not get: get fails the txn on a missing key.)
        var r = await _client.TxnAsync([TxnOp.GetTree(versionKey), TxnOp.GetTree(servicesTree), TxnOp.GetTree(togglesTree)], ct);
        if (!r.Committed) throw TxnFailed("read", environment, r);
        var version = r.Results.FirstOrDefault(k => k.Key == versionKey);
        if (version is null) await ThrowIfHiddenByAcls(versionKey, environment, ct);
        var meta = version is null ? new VersionValue(null) : StateJson.Deserialize<VersionValue>(version.Value, $"{Describe} key {versionKey}");
        var services = StateJson.ReadServices(
            [.. r.Results.Where(k => k.Key.StartsWith(servicesTree, StringComparison.Ordinal) && IsLeaf(k.Key, servicesTree)).Select(k => (k.Key[servicesTree.Length..], k.Value))],
            name => $"{Describe} key {servicesTree}{name}", memo);
        var toggles = r.Results.Where(k => k.Key.StartsWith(togglesTree, StringComparison.Ordinal) && IsLeaf(k.Key, togglesTree))
            .Select(k => StateJson.Deserialize<LiveToggle>(k.Value, $"{Describe} key {k.Key}"));
        return StateJson.BuildState(environment, (long)(version?.ModifyIndex ?? 0), services, toggles.ToList(), meta.LastGoodCommit);
    }, ct);

    public Task<long> WriteAsync(string environment, long expectedVersion, StateChange change, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        StateNames.CheckChange(change);
        var versionKey = ConsulKeys.Version(_prefix, environment);
        var current = (await _client.GetAsync(versionKey, ct: ct)).Value;
        var currentVersion = (long)(current?.ModifyIndex ?? 0);
        if (currentVersion != expectedVersion)
            throw new StateConflictException(versionKey, expectedVersion, currentVersion);
        var previous = current is null ? new VersionValue(null) : StateJson.Deserialize<VersionValue>(current.Value, $"{Describe} key {versionKey}");
        var lastGood = change.LastGoodCommit ?? previous.LastGoodCommit;

        // The cas on the version key comes first: it is the check that makes the whole txn conditional, and its
        // result carries the new version. cas with index 0 means "only if the key does not exist yet". The serial makes
        // the value differ on every write, so the ModifyIndex always moves (Consul skips a set that changes nothing).
        var ops = new List<TxnOp> { TxnOp.Cas(versionKey, StateJson.SerializeBytes(new VersionValue(lastGood, previous.Serial + 1)), (ulong)expectedVersion) };
        ops.AddRange(change.RemoveServices.Select(n => TxnOp.Delete(ConsulKeys.Service(_prefix, environment, n))));
        ops.AddRange(change.UpsertServices.Select(s => TxnOp.Set(ConsulKeys.Service(_prefix, environment, s.Name), ValueBytes(StateJson.SerializeBytes(s), s.Name))));
        ops.AddRange(change.RemoveToggles.Select(n => TxnOp.Delete(ConsulKeys.Toggle(_prefix, environment, n))));
        ops.AddRange(change.UpsertToggles.Select(t => TxnOp.Set(ConsulKeys.Toggle(_prefix, environment, t.Name), StateJson.SerializeBytes(t))));
        if (ops.Count > ConsulClient.MaxTxnOperations)
            throw new ReconcilerException(FailureKind.InvalidInput,
                $"this live-state write to environment '{environment}' changes {ops.Count - 1} services and toggles; with the version check that is " +
                $"{ops.Count} Consul operations, and one Consul transaction holds at most {ConsulClient.MaxTxnOperations}. It must be atomic, so it is " +
                $"refused rather than split. Nothing was written. Write at most {ConsulClient.MaxTxnOperations - 1} services and toggles per change.");
        if (_client.TxnBody(ops).Length is var size && size > ConsulClient.MaxTxnRequestBytes)
            throw new ReconcilerException(FailureKind.InvalidInput,
                $"this live-state write to environment '{environment}' is a {size}-byte Consul transaction request ({change.UpsertServices.Length} services, " +
                $"values base64-encoded: a third larger than stored); Consul accepts at most {ConsulClient.MaxTxnRequestBytes} bytes per transaction " +
                "(txn_max_req_len, default 512 KiB). It must be atomic, so it is refused rather than split. Nothing was written. Write fewer or smaller " +
                "services per change (about 380 KB of stored JSON at most), raise txn_max_req_len on every Consul server, or use the SQLite store.");

        var r = await _client.TxnAsync(ops, ct);
        if (!r.Committed)
        {
            // ACL denials never get here: the client throws them as AclDenied (a 409 "Permission denied" is no conflict).
            if (r.Errors.Any(e => e.OpIndex == 0))
            {
                var now = (await _client.GetAsync(versionKey, ct: ct)).Value;
                throw new StateConflictException(versionKey, expectedVersion, (long)(now?.ModifyIndex ?? 0));
            }
            throw TxnFailed("write", environment, r);
        }
        var written = r.Results.FirstOrDefault(k => k.Key == versionKey)
                      ?? throw new StateStoreUnavailableException($"{Describe}: Consul committed the write to '{environment}' but did not return the new index of {versionKey}.");
        return (long)written.ModifyIndex;
    }, ct);

    private static byte[] ValueBytes(byte[] value, string service) => value.Length <= ConsulClient.MaxValueBytes
        ? value
        : throw new ReconcilerException(FailureKind.InvalidInput, $"the live state of service '{service}' is {value.Length} bytes; a Consul value holds at most {ConsulClient.MaxValueBytes}. " +
                              "Nothing was written. Reduce the service's config (or its host count) or use the SQLite store.");

    // ---- journal ----------------------------------------------------------------------------------------

    public Task AppendJournalAsync(JournalEntry entry, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", entry.Environment);
        StateNames.Check("apply id", entry.ApplyId);
        var applyTree = ConsulKeys.JournalApply(_prefix, entry.Environment, entry.ApplyId);
        var value = StateJson.SerializeBytes(entry);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var seq = _nextJournalSeq.TryGetValue(applyTree, out var cached) ? cached : await NextSeqFromStore(applyTree, ct);
            // cas=0: create only. A sequence number is never overwritten, so entries keep their append order.
            if (await _client.PutAsync($"{applyTree}{seq:D8}", value, cas: 0, ct))
            {
                _nextJournalSeq[applyTree] = seq + 1;
                return true;
            }
            _nextJournalSeq.TryRemove(applyTree, out _);
        }
        throw new StateStoreUnavailableException($"{Describe}: could not append to the journal of apply '{entry.ApplyId}': another process keeps writing to it.");
    }, ct);

    private async Task<long> NextSeqFromStore(string applyTree, CancellationToken ct)
    {
        var keys = (await _client.KeysAsync(applyTree, ct: ct)).Value;
        return keys.Select(k => long.TryParse(k[applyTree.Length..], out var n) ? n : -1).DefaultIfEmpty(-1).Max() + 1;
    }

    public Task<IReadOnlyList<JournalEntry>> ReadOpenJournalAsync(string environment, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var tree = ConsulKeys.JournalTree(_prefix, environment);
        var all = (await _client.ListAsync(tree, ct: ct)).Value;
        var byApply = all.GroupBy(k => k.Key[tree.Length..].Split('/')[0]);
        var open = new List<(DateTimeOffset First, string Apply, List<JournalEntry> Entries)>();
        foreach (var apply in byApply)
        {
            if (apply.Any(k => k.Key.EndsWith("/" + ClosedMarker, StringComparison.Ordinal))) continue;
            var entries = apply.Where(k => long.TryParse(k.Key[(k.Key.LastIndexOf('/') + 1)..], out _))
                .OrderBy(k => k.Key, StringComparer.Ordinal)   // zero-padded sequence numbers sort in append order
                .Select(k => StateJson.Deserialize<JournalEntry>(k.Value, $"{Describe} key {k.Key}")).ToList();
            if (entries.Count > 0) open.Add((entries[0].At, apply.Key, entries));
        }
        IReadOnlyList<JournalEntry> result = open.OrderBy(o => o.First).ThenBy(o => o.Apply, StringComparer.Ordinal).SelectMany(o => o.Entries).ToList();
        return result;
    }, ct);

    private const string ClosedMarker = "closed";

    public Task CloseJournalAsync(string environment, string applyId, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        StateNames.Check("apply id", applyId);
        var applyTree = ConsulKeys.JournalApply(_prefix, environment, applyId);
        // Mark closed first (one atomic put), then delete the entries key by key in chunks: a crash half-way leaves a
        // closed apply with some entries, which readers skip, and the next close finishes the cleanup.
        await _client.PutAsync(applyTree + ClosedMarker, "{}"u8.ToArray(), ct: ct);
        var keys = (await _client.KeysAsync(applyTree, ct: ct)).Value.Where(k => k != applyTree + ClosedMarker).ToList();
        foreach (var chunk in keys.Chunk(ConsulClient.MaxTxnOperations))
        {
            var r = await _client.TxnAsync(chunk.Select(TxnOp.Delete).ToList(), ct);
            if (!r.Committed) throw TxnFailed("close journal of", environment, r);
        }
        await _client.DeleteAsync(applyTree + ClosedMarker, ct: ct);
        _nextJournalSeq.TryRemove(applyTree, out _);
        return true;
    }, ct);

    // ---- history and quarantine -------------------------------------------------------------------------

    public Task AppendHistoryAsync(HistoryEntry entry, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", entry.Environment);
        StateNames.Check("history id", entry.Id);
        return await _client.PutAsync(ConsulKeys.History(_prefix, entry.Environment, entry.Id), StateJson.SerializeBytes(entry), ct: ct);
    }, ct);

    public Task<IReadOnlyList<HistoryEntry>> ReadHistoryAsync(string environment, int limit, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var tree = ConsulKeys.HistoryTree(_prefix, environment);
        var all = (await _client.ListAsync(tree, ct: ct)).Value.Where(k => IsLeaf(k.Key, tree))
            .Select(k => StateJson.Deserialize<HistoryEntry>(k.Value, $"{Describe} key {k.Key}"));
        IReadOnlyList<HistoryEntry> list = all.OrderByDescending(h => h.Started).ThenByDescending(h => h.Id, StringComparer.Ordinal).Take(Math.Max(0, limit)).ToList();
        return list;
    }, ct);

    public Task QuarantineAsync(string environment, QuarantinedCommit commit, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        StateNames.Check("commit", commit.Commit);
        return await _client.PutAsync(ConsulKeys.Quarantine(_prefix, environment, commit.Commit), StateJson.SerializeBytes(commit), ct: ct);
    }, ct);

    public Task<bool> UnquarantineAsync(string environment, string commit, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        StateNames.Check("commit", commit);
        var key = ConsulKeys.Quarantine(_prefix, environment, commit);
        // Delete at the index read, so a quarantine written again in between is not lifted unseen.
        if ((await _client.GetAsync(key, ct: ct)).Value is not { } entry) return false;
        return await _client.DeleteAsync(key, entry.ModifyIndex, ct);
    }, ct);

    public Task<IReadOnlyList<QuarantinedCommit>> ReadQuarantineAsync(string environment, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var tree = ConsulKeys.QuarantineTree(_prefix, environment);
        IReadOnlyList<QuarantinedCommit> list = (await _client.ListAsync(tree, ct: ct)).Value.Where(k => IsLeaf(k.Key, tree))
            .Select(k => StateJson.Deserialize<QuarantinedCommit>(k.Value, $"{Describe} key {k.Key}"))
            .OrderBy(q => q.At).ThenBy(q => q.Commit, StringComparer.Ordinal).ToList();
        return list;
    }, ct);

    // ---- freeze ----------------------------------------------------------------------------------------

    public Task SetFreezeAsync(string environment, FreezeInfo? freeze, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var key = ConsulKeys.Freeze(_prefix, environment);
        return freeze is null ? await _client.DeleteAsync(key, ct: ct) : await _client.PutAsync(key, StateJson.SerializeBytes(freeze), ct: ct);
    }, ct);

    public Task<FreezeInfo?> ReadFreezeAsync(string environment, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var key = ConsulKeys.Freeze(_prefix, environment);
        var pair = (await _client.GetAsync(key, ct: ct)).Value;
        return pair is null ? null : StateJson.Deserialize<FreezeInfo>(pair.Value, $"{Describe} key {key}");
    }, ct);

    // ---- watch ------------------------------------------------------------------------------------------

    /// <summary>Blocking query on the environment's version key: returns when the version moves past
    /// <paramref name="sinceVersion"/> or after <paramref name="maxWait"/>, with the version then current.</summary>
    public Task<long> WaitForVersionAsync(string environment, long sinceVersion, TimeSpan maxWait, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var r = await _client.GetAsync(ConsulKeys.Version(_prefix, environment), new BlockingQuery((ulong)Math.Max(0, sinceVersion), maxWait), ct);
        return (long)(r.Value?.ModifyIndex ?? 0);
    }, ct);

    // ---- plumbing ---------------------------------------------------------------------------------------

    /// <summary>The version key's value. <see cref="Serial"/> counts the writes: it changes the value on every write.</summary>
    internal sealed record VersionValue(string? LastGoodCommit, long Serial = 0);

    /// <summary>A read txn silently leaves out keys the token may not read (agent/consul/txn_endpoint.go FilterTxnResults),
    /// so a missing version key is asked for directly, outside the txn: a 403 or a key that is there after all means
    /// ACLs hid it; only a 404 means the environment has no state yet.</summary>
    private async Task ThrowIfHiddenByAcls(string versionKey, string environment, CancellationToken ct)
    {
        if ((await _client.GetAsync(versionKey, ct: ct)).Value is not null)
            throw new StateStoreUnavailableException(
                $"state store {Describe}: Consul at {_client.Address} left {versionKey} out of the read of environment '{environment}' although it exists: " +
                "ACL permission denied (a transaction drops what the token may not read). The token (CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE) needs " +
                "key_prefix read and write on the reconciler's prefix. Nothing was read as empty.");
    }

    private static bool IsLeaf(string key, string tree) => key.Length > tree.Length && key.IndexOf('/', tree.Length) < 0;

    private StateStoreUnavailableException TxnFailed(string what, string env, TxnResult r) =>
        new($"{Describe}: Consul rolled back the {what} of environment '{env}': " +
            string.Join("; ", r.Errors.Select(e => $"operation {e.OpIndex}: {e.What}")) + ". Nothing was written.");

    /// <summary>Every Consul failure (unreachable, ACL, no leader) becomes a StateStoreUnavailableException that says what to do.</summary>
    private async Task<T> Guard<T>(Func<Task<T>> op, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        try
        {
            return await op();
        }
        catch (ConsulException e) when (e.Kind == ConsulErrorKind.TooLarge)
        {
            throw new ReconcilerException(FailureKind.InvalidInput, $"{Describe}: {e.Message} Nothing was written.");
        }
        catch (ConsulException e)
        {
            throw new StateStoreUnavailableException($"state store {Describe}: {e.Message}", e);
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

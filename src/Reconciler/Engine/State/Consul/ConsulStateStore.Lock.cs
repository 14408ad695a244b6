using Reconciler.Consul;

namespace Reconciler.State.Consul;

/// <summary>
/// The environment lock, as HashiCorp's api/lock.go builds one: PREFIX/ENV/lock acquired (?acquire=) by a session
/// with a TTL, lock-delay and explicit checks (the agent's serfHealth: a session dies with its agent; the TTL: it dies
/// with its process). The holder watches the key with blocking queries (<see cref="WatchLockAsync"/>) and learns at once
/// that its session was invalidated. Release is ?release= with the holder's own session, so it can never free (or
/// delete) a lock another session took meanwhile; a released key stays, without a session, and reads as free.
/// </summary>
public sealed partial class ConsulStateStore
{
    /// <summary>The lock key's value. The session id is kept so that renew, release and force-release work from any process.
    /// <see cref="ExpiresAt"/> is the latest moment the lock can still be held without a renewal (see <see cref="LatestFree"/>).</summary>
    internal sealed record LockValue(string Owner, string Reason, DateTimeOffset AcquiredAt, DateTimeOffset ExpiresAt, string Session);

    /// <summary>Consul invalidates an unrenewed session somewhere between its TTL and twice its TTL (session_ttl.go,
    /// SessionTTLMultiplier; the timer also restarts on a leader change), and then keeps the lock for its lock-delay:
    /// that is when someone else can take it at the latest.</summary>
    private DateTimeOffset LatestFree(DateTimeOffset from, TimeSpan ttl) => from + 2 * ttl + LockDelay;

    public Task<LockAttempt> TryAcquireLockAsync(string environment, string owner, string reason, TimeSpan ttl, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        if (ttl <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "a lock TTL must be positive");
        var effectiveTtl = Clamp(ttl);
        var key = ConsulKeys.Lock(_prefix, environment);
        if (await ReadHolder(key, ct) is { } held)
        {
            if (held.Owner != owner) return new LockAttempt(false, ToInfo(environment, held));
            // Ours already: renew and refresh reason and expiry with the same session.
            if (await _client.RenewSessionAsync(held.Session, ct) is { } renewed)
            {
                // A session renews to the TTL it was created with, whatever this call asked for.
                var again = held with { Reason = reason, ExpiresAt = LatestFree(_time.GetUtcNow(), renewed.Ttl ?? effectiveTtl) };
                if (await _client.AcquireAsync(key, held.Session, StateJson.SerializeBytes(again), ct))
                    return new LockAttempt(true, ToInfo(environment, again));
            }
        }
        var now = _time.GetUtcNow();
        var newSession = await _client.CreateSessionAsync($"reconciler lock {environment} {owner}", effectiveTtl, LockDelay, SessionBehavior.Release,
            SessionChecks, ct);
        var value = new LockValue(owner, reason, now, LatestFree(now, effectiveTtl), newSession);
        if (await _client.AcquireAsync(key, newSession, StateJson.SerializeBytes(value), ct))
            return new LockAttempt(true, ToInfo(environment, value));
        await _client.DestroySessionAsync(newSession, ct);
        // Not acquired and nobody holds it: the previous holder's session was invalidated and Consul's lock-delay is
        // still running. The dead holder is not named: it holds nothing.
        return new LockAttempt(false, await ReadHolder(key, ct) is { } winner
            ? ToInfo(environment, winner)
            : new LockInfo(environment, "(none)", $"the previous holder's session ended; Consul keeps the lock free for its lock-delay ({LockDelay.TotalSeconds:0}s), try again",
                now, now + LockDelay));
    }, ct);

    public Task<bool> RenewLockAsync(string environment, string owner, TimeSpan ttl, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var key = ConsulKeys.Lock(_prefix, environment);
        if (await ReadHolder(key, ct) is not { } held || held.Owner != owner) return false;
        var info = await _client.RenewSessionAsync(held.Session, ct);
        if (info is null) return false;
        // A session renews to its own TTL (fixed at creation); record the expiry it actually got.
        var renewed = held with { ExpiresAt = LatestFree(_time.GetUtcNow(), info.Ttl ?? Clamp(ttl)) };
        return await _client.AcquireAsync(key, held.Session, StateJson.SerializeBytes(renewed), ct);
    }, ct);

    public Task<bool> ReleaseLockAsync(string environment, string owner, bool force, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var key = ConsulKeys.Lock(_prefix, environment);
        if (await ReadHolder(key, ct) is not { } held) return false;
        if (held.Owner != owner && !force) return false;
        // ?release= with the session read above: Consul refuses it if another session holds the key by now (a takeover in
        // between), so the new holder's lock is never touched. Releasing also clears the value. No lock-delay, unlike
        // invalidating the session, which comes second and only ends that session.
        var released = await _client.ReleaseAsync(key, held.Session, [], ct);
        await _client.DestroySessionAsync(held.Session, ct);
        return released;
    }, ct);

    public Task<LockInfo?> ReadLockAsync(string environment, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        return await ReadHolder(ConsulKeys.Lock(_prefix, environment), ct) is { } held ? ToInfo(environment, held) : null;
    }, ct);

    /// <summary>Returns once <paramref name="owner"/> no longer holds the lock, as api/lock.go's monitorLock does: blocking
    /// queries on the lock key, each from the index of the last answer, until the key's session is no longer the one
    /// the owner acquired with (invalidated by a failed check, TTL, destroy or a forced release). Returns at once when
    /// the owner does not hold it. A store error propagates: the caller cannot prove it still holds the lock.</summary>
    public Task WatchLockAsync(string environment, string owner, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var key = ConsulKeys.Lock(_prefix, environment);
        var first = await _client.GetAsync(key, ct: ct);
        if (Holder(first.Value) is not { } held || held.Owner != owner) return true;
        var index = first.Index;
        while (true)
        {
            var next = await _client.GetAsync(key, new BlockingQuery(index, LockWatchWait), ct);
            if (next.Value?.Session != held.Session) return true;
            // Consul's advice for blocking queries: an index that goes backwards (a snapshot restore) starts over.
            index = next.Index > index ? next.Index : next.Index < index ? 0 : index;
        }
    }, ct);

    /// <summary>How long one blocking query of the lock watch waits at most before it is repeated.</summary>
    public static readonly TimeSpan LockWatchWait = TimeSpan.FromMinutes(5);

    /// <summary>The node checks every lock session is bound to (sent explicitly; docs/state.md).</summary>
    public static readonly IReadOnlyList<string> SessionChecks = [ConsulClient.SerfHealth];

    private async Task<LockValue?> ReadHolder(string key, CancellationToken ct) => Holder((await _client.GetAsync(key, ct: ct)).Value);

    /// <summary>The holder the key names, only while a session holds it: a key without a session is free, whatever its value says.</summary>
    private LockValue? Holder(KvPair? pair)
    {
        if (pair?.Session is not { } session || pair.Value.Length == 0) return null;
        var value = StateJson.Deserialize<LockValue>(pair.Value, $"{Describe} key {pair.Key}");
        return value with { Session = session };
    }

    private static LockInfo ToInfo(string env, LockValue v) => new(env, v.Owner, v.Reason, v.AcquiredAt, v.ExpiresAt);

    private static TimeSpan Clamp(TimeSpan ttl) =>
        ttl < MinSessionTtl ? MinSessionTtl : ttl > TimeSpan.FromHours(24) ? TimeSpan.FromHours(24) : ttl;
}

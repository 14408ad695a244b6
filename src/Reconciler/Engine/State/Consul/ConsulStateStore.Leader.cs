using Reconciler.Consul;

namespace Reconciler.State.Consul;

/// <summary>
/// Leader election among daemons (docs/cli/run.md, "Several daemons"), HashiCorp's leader-election recipe: PREFIX/ENV/leader
/// is acquired by a session with a TTL, the store's lock-delay and the agent's serfHealth check, renewed while the
/// daemon lives. A leader that dies stops renewing: Consul invalidates its session between TTL and twice the TTL, the
/// key is released, and after the lock-delay a standby's acquire succeeds. Standbys watch the key with blocking queries.
/// Separate from the apply lock (<see cref="TryAcquireLockAsync"/>): leadership decides who tries to apply; the apply
/// lock still guards every apply, whoever leads.
/// </summary>
public sealed partial class ConsulStateStore : ILeaderElection
{
    internal sealed record LeaderValue(string Instance, DateTimeOffset Since);

    public Task<LeaderObservation> TryLeadAsync(string environment, string instance, TimeSpan ttl, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var key = ConsulKeys.Leader(_prefix, environment);
        var current = await _client.GetAsync(key, ct: ct);
        if (Leader(current.Value) is { } held)
        {
            if (held.Value.Instance != instance) return new LeaderObservation(ToInfo(held.Value), current.Index);
            // Ours: a renewal keeps it; a session that is gone (invalidated) means we lost it and compete again below.
            if (await _client.RenewSessionAsync(held.Session, ct) is not null) return new LeaderObservation(ToInfo(held.Value), current.Index);
        }
        var session = await _client.CreateSessionAsync($"reconciler leader {environment} {instance}", Clamp(ttl), LockDelay, SessionBehavior.Release,
            SessionChecks, ct);
        var value = new LeaderValue(instance, _time.GetUtcNow());
        if (await _client.AcquireAsync(key, session, StateJson.SerializeBytes(value), ct))
        {
            var after = await _client.GetAsync(key, ct: ct);
            return new LeaderObservation(ToInfo(value), after.Index);
        }
        // Someone else won, or the lock-delay after a dead leader still runs: no session of ours may linger.
        await _client.DestroySessionAsync(session, ct);
        var now = await _client.GetAsync(key, ct: ct);
        return new LeaderObservation(Leader(now.Value)?.Value is { } v ? ToInfo(v) : null, now.Index);
    }, ct);

    public Task<LeaderObservation> WatchLeaderAsync(string environment, ulong index, TimeSpan wait, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var next = await _client.GetAsync(ConsulKeys.Leader(_prefix, environment), new BlockingQuery(index, wait), ct);
        return new LeaderObservation(Leader(next.Value)?.Value is { } v ? ToInfo(v) : null, next.Index);
    }, ct);

    public Task ResignAsync(string environment, string instance, CancellationToken ct) => Guard(async () =>
    {
        StateNames.Check("environment", environment);
        var key = ConsulKeys.Leader(_prefix, environment);
        if (Leader((await _client.GetAsync(key, ct: ct)).Value) is not { } held || held.Value.Instance != instance) return true;
        // ?release= with our own session only (never someone else's), then the session: no lock-delay for a clean hand-over.
        await _client.ReleaseAsync(key, held.Session, [], ct);
        await _client.DestroySessionAsync(held.Session, ct);
        return true;
    }, ct);

    /// <summary>The leader the key names while a session holds it; a released key (no session) names nobody.</summary>
    private (LeaderValue Value, string Session)? Leader(KvPair? pair) =>
        pair?.Session is { } session && pair.Value.Length > 0
            ? (StateJson.Deserialize<LeaderValue>(pair.Value, $"{Describe} key {pair.Key}"), session)
            : null;

    private static LeaderInfo ToInfo(LeaderValue v) => new(v.Instance, v.Since);
}

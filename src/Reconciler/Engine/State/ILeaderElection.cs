namespace Reconciler.State;

/// <summary>
/// One leader per environment among several `reconciler run` processes sharing a store (docs/cli/run.md, "Several
/// daemons"). Implemented by the Consul store with a session lock; a store without it (SQLite: one machine) has a single
/// daemon, which always leads.
/// </summary>
public interface ILeaderElection
{
    /// <summary>Takes the leadership of <paramref name="environment"/> for <paramref name="instance"/> when nobody holds it,
    /// or keeps (renews) it when <paramref name="instance"/> already does. Returns who leads now (null: nobody, e.g. while
    /// the store's lock-delay after a dead leader runs), with the index a watch continues from.</summary>
    Task<LeaderObservation> TryLeadAsync(string environment, string instance, TimeSpan ttl, CancellationToken ct);

    /// <summary>Returns once the leadership of <paramref name="environment"/> may have changed since <paramref name="index"/>
    /// (a blocking query), or after <paramref name="wait"/> at most.</summary>
    Task<LeaderObservation> WatchLeaderAsync(string environment, ulong index, TimeSpan wait, CancellationToken ct);

    /// <summary>Gives the leadership up (on a clean stop), so a standby takes over without waiting for the TTL.</summary>
    Task ResignAsync(string environment, string instance, CancellationToken ct);
}

/// <summary>Who leads an environment (null: nobody) as of the store's <paramref name="Index"/>.</summary>
public sealed record LeaderObservation(LeaderInfo? Leader, ulong Index);

public sealed record LeaderInfo(string Instance, DateTimeOffset Since);

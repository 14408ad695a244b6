using Reconciler.State;

namespace Reconciler.Daemon;

/// <summary>
/// Keeps one daemon's place in the leader election of its environment (docs/cli/run.md, "Several daemons"). The leader
/// renews every third of the TTL; a standby waits on a blocking query of the leader key and competes as soon as it is
/// released (a dead leader's session invalidated, or a clean resign), retrying through the store's lock-delay. Only the
/// leader fetches and applies; <see cref="BecameLeader"/> wakes the daemon's loop at once. Every wait is bounded and uses
/// the injected clock.
/// </summary>
public sealed class LeaderElector(ILeaderElection election, string environment, string instance, TimeSpan ttl, TimeProvider time, Action<string> log)
{
    private readonly object _gate = new();
    private LeaderInfo? _leader;
    private string? _error;
    private volatile bool _isLeader;

    public string Instance { get; } = instance;

    public TimeSpan Ttl { get; } = ttl;

    /// <summary>True while this instance holds the leadership (as of its last renewal).</summary>
    public bool IsLeader => _isLeader;

    /// <summary>Called when this instance becomes the leader.</summary>
    public Action? BecameLeader { get; set; }

    /// <summary>Who leads, as this instance last saw it, and the last store error (null when none).</summary>
    public (LeaderInfo? Leader, string? Error) Observed
    {
        get { lock (_gate) return (_leader, _error); }
    }

    /// <summary>Runs until <paramref name="stop"/>; then resigns if it leads, so a standby takes over at once.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var retry = TimeSpan.FromSeconds(1);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                LeaderObservation seen;
                try
                {
                    seen = await election.TryLeadAsync(environment, Instance, Ttl, stop);
                    Observe(seen.Leader, null);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    // The store cannot prove we lead: stop leading (the apply lock still guards a running apply).
                    Observe(null, Describe(e));
                    await Task.Delay(retry, time, stop);
                    continue;
                }
                if (_isLeader)
                {
                    await Task.Delay(Ttl / 3, time, stop);
                    continue;
                }
                if (seen.Leader is null)
                {
                    // Released but not yet free: the lock-delay after a dead leader. Try again shortly.
                    await Task.Delay(retry, time, stop);
                    continue;
                }
                try
                {
                    // A standby: block until the key changes (its holder's session ended), at most one TTL.
                    var changed = await election.WatchLeaderAsync(environment, seen.Index, Ttl, stop);
                    Observe(changed.Leader, null);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    Observe(null, Describe(e));
                    await Task.Delay(retry, time, stop);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        if (_isLeader)
        {
            try
            {
                await election.ResignAsync(environment, Instance, CancellationToken.None);
                log("resigned the leadership");
            }
            catch (ReconcilerException e)
            {
                log($"could not resign the leadership (a standby takes over after the TTL): {e.Message}");
            }
            _isLeader = false;
        }
    }

    /// <summary>A store error as the store words it; anything else (a timeout of the HTTP client) with its type.</summary>
    private static string Describe(Exception e) => e is ReconcilerException ? e.Message : $"{e.GetType().Name}: {e.Message}";

    private void Observe(LeaderInfo? leader, string? error)
    {
        var leads = leader?.Instance == Instance;
        bool became, lost;
        lock (_gate)
        {
            var before = _leader?.Instance;
            if (error is not null && error != _error) log($"leader election: {error}");
            _leader = leader;
            _error = error;
            became = leads && !_isLeader;
            lost = !leads && _isLeader;
            _isLeader = leads;
            if (!leads && leader is not null && before != leader.Instance) log($"standby: {leader.Instance} leads");
        }
        if (became)
        {
            log($"leading (session TTL {Durations.Format(Ttl)})");
            BecameLeader?.Invoke();
        }
        if (lost) log(error is null ? "lost the leadership" : $"lost the leadership: {error}");
    }
}

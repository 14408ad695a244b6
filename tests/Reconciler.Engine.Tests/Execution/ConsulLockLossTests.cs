using Reconciler.Consul;
using Reconciler.Diff.Live;
using Reconciler.Engine.Tests.State;
using Reconciler.State;
using Reconciler.State.Consul;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>The executor on the Consul store when its lock session is invalidated mid-apply (the agent's serfHealth
/// check fails): the holder's lock watch stops it at a safe point before anyone else can take the lock.</summary>
public sealed class ConsulLockLossTests
{
    private static CancellationToken Ct => CancellationToken.None;

    [TestServerOnlyFact]
    public async Task A_holder_whose_session_is_invalidated_stops_before_the_next_holders_first_write()
    {
        var w = new ExecutorWorld(hosts: 2);
        await using var server = await ConsulTestServer.StartAsync(w.Time);
        ConsulStateStore Store() => new(new ConsulClient(new ConsulClientOptions(server.Address)), "reconciler", w.Time);
        await using var holderStore = Store();
        w.StoreUnderTest = holderStore;
        w.Deployed("c0", DbOld, ApiOld);

        // web-1's activation of the new api is where the holder is when its agent fails.
        using var reached = new ManualResetEventSlim();
        using var resume = new ManualResetEventSlim();
        w.Driver.FailWhen = (host, op) =>
        {
            if (host == "web-1" && op == "activate" && !reached.IsSet)
            {
                reached.Set();
                Assert.True(resume.Wait(TimeSpan.FromSeconds(30)), "the test never resumed the activation");
            }
            return null;
        };
        var apply = Task.Run(() => w.Reconciler().ReconcileAsync(w.Request(w.Desired("c1", [DbOld, Service("api", "1.5.0", dependsOn: ["db"])])), null, Ct));
        for (var i = 0; i < 2000 && !reached.IsSet && !apply.IsCompleted; i++)
        {
            await Task.WhenAny(apply, Task.Delay(5));
            if (!reached.IsSet) w.Time.Advance(TimeSpan.FromMilliseconds(200));
        }
        Assert.True(reached.IsSet, "the apply never reached web-1's activation");

        // The agent's serfHealth goes critical: Consul invalidates the holder's session and releases its lock (lock-delay 5s).
        server.SetCheck(ConsulTestServer.AgentNode, "serfHealth", "critical");
        var callsAtLoss = w.Driver.Calls.Count;
        resume.Set();   // the step in flight finishes: that is the safe point

        // The fake clock stands still: no renewal (every 40s) can tell the holder. Only its watch on the lock key can.
        var outcome = await apply.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(ApplyResult.LockBroken, outcome.Result);
        Assert.Equal(FailureKind.LockedOrFrozen, outcome.Failure);
        Assert.Contains("lock was lost", outcome.Message);
        // Only the batch in flight (the two hosts' activations, started together, each with the prune folded into it)
        // finished; nothing was started after.
        var holderCalls = w.Driver.Calls.Count;
        var after = w.Driver.Calls.Skip(callsAtLoss).Where(c => !c.EndsWith(" prune /srv/api 5", StringComparison.Ordinal)).ToList();
        Assert.True(after.Count <= w.Hosts.Length && after.All(c => c.Contains(" activate /srv/api 1.5.0", StringComparison.Ordinal)),
            $"the holder kept working after losing the lock: {string.Join(", ", after)}");
        var holderWritesDone = server.Writes;

        // The next holder: the agent is back, the lock-delay has run out; it takes the lock and writes.
        server.SetCheck(ConsulTestServer.AgentNode, "serfHealth", "passing");
        w.Time.Advance(TimeSpan.FromSeconds(6));
        await using var next = Store();
        var taken = await next.TryAcquireLockAsync(Env, "bob", "apply c2", TimeSpan.FromMinutes(2), Ct);
        Assert.True(taken.Acquired, taken.Holder.Reason);
        var live = await next.ReadAsync(Env, Ct);
        await next.WriteAsync(Env, live.Version, StateChange.Empty with { LastGoodCommit = "c2" }, Ct);

        // Whatever time passes now, the stopped holder does nothing more: no host call, no write.
        w.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(holderCalls, w.Driver.Calls.Count);
        Assert.True(server.Writes > holderWritesDone);
        Assert.Equal("bob", (await next.ReadLockAsync(Env, Ct))?.Owner);
        Assert.Equal("c2", (await next.ReadAsync(Env, Ct)).LastGoodCommit);
    }
}

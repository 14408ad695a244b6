using System.Collections.Concurrent;
using System.Reflection;
using Xunit;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Execution;
using Reconciler.State;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>The executor's shape at the SSH floor (issue 17): every host staged before the first batch switches, the
/// prune folded into each activation, journal entries of parallel steps group-committed.</summary>
public sealed class DeployFloorTests
{
    [Fact]
    public async Task A_host_of_a_later_batch_that_cannot_take_the_release_stops_the_service_before_any_host_switches()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        // web-4 is in the second batch of two: before every host was staged first, web-1 and web-2 had switched by then.
        w.Driver.FailWhen = (host, op) => host == "web-4" && op == "stage" ? new HostStepException("web-4", "stage", "no space left on device") : null;

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [Service("db", "2.1.0"), ApiOld])));

        Assert.Equal(ApplyResult.EnvironmentFault, outcome.Result);
        Assert.Contains("no space left on device", outcome.Message);
        Assert.DoesNotContain(w.Driver.Calls, c => c.Contains(" activate ", StringComparison.Ordinal));
        Assert.All(w.Hosts, h => Assert.Equal(ServiceFields.ReleaseId(DbOld), w.Driver.Current(h.Name, "/srv/db")));
    }

    [Fact]
    public async Task Every_host_is_staged_before_the_first_batch_switches_and_each_activation_prunes_once()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [Service("db", "2.1.0"), ApiOld])));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        var calls = w.Driver.Calls.ToList();
        Assert.True(calls.FindLastIndex(c => c.Contains(" stage /srv/db", StringComparison.Ordinal)) < calls.FindIndex(c => c.Contains(" activate /srv/db", StringComparison.Ordinal)));
        // One prune per host, right after its own activation (the fold), none again once the service is done.
        foreach (var h in w.Hosts)
        {
            var activate = calls.FindIndex(c => c.StartsWith($"{h.Name} activate /srv/db", StringComparison.Ordinal));
            Assert.Equal($"{h.Name} prune /srv/db 5", calls[calls.FindIndex(activate, c => c.StartsWith($"{h.Name} ", StringComparison.Ordinal) && c != calls[activate])]);
            Assert.Single(calls, c => c == $"{h.Name} prune /srv/db 5");
        }
    }

    [Fact]
    public async Task Appends_that_arrive_while_a_write_is_under_way_are_stored_together_in_order_and_each_returns_once_stored()
    {
        var inner = new InMemoryStateStore(TimeProvider.System);
        var store = GatedJournal.Wrap(inner);
        var gated = (GatedJournal)(object)store;
        var commits = new JournalGroupCommit(store);
        JournalEntry Entry(int i) => new(Env, "apply-1", "c1", $"step-{i}", JournalStatus.Started, DateTimeOffset.UnixEpoch, null);

        var first = commits.AppendAsync(Entry(0), CancellationToken.None);
        await gated.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));   // the first write is under way, held by the test
        var rest = Enumerable.Range(1, 4).Select(i => commits.AppendAsync(Entry(i), CancellationToken.None)).ToList();

        Assert.False(first.IsCompleted);
        Assert.All(rest, t => Assert.False(t.IsCompleted));
        gated.Release.SetResult();
        await Task.WhenAll([first, .. rest]).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["1 entry", "4 entries"], gated.Calls);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"step-{i}"), (await inner.ReadOpenJournalAsync(Env, CancellationToken.None)).Select(e => e.Step));
    }

    /// <summary>A store whose first journal write waits for the test; it records the size of each journal write. A proxy,
    /// so that it forwards every other member of the store as it is.</summary>
    public class GatedJournal : DispatchProxy
    {
        private IStateStore _inner = null!;
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ConcurrentQueue<string> Calls { get; } = new();

        public static IStateStore Wrap(IStateStore inner)
        {
            var proxy = Create<IStateStore, GatedJournal>();
            ((GatedJournal)(object)proxy)._inner = inner;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            if (method!.Name != nameof(IStateStore.AppendJournalAsync)) return method.Invoke(_inner, args);
            return WriteAsync(args![0] is JournalEntry one ? [one] : (IReadOnlyList<JournalEntry>)args[0]!);
        }

        private async Task WriteAsync(IReadOnlyList<JournalEntry> entries)
        {
            Calls.Enqueue(entries.Count == 1 ? "1 entry" : $"{entries.Count} entries");
            Entered.TrySetResult();
            await Release.Task;
            foreach (var e in entries) await _inner.AppendJournalAsync(e, CancellationToken.None);
        }
    }
}

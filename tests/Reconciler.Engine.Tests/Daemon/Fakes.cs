using System.Collections.Concurrent;
using System.Collections.Immutable;
using Reconciler.Daemon;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Engine.Tests.Daemon;

/// <summary>Minimal desired states for loop tests: the daemon only passes them through.</summary>
internal static class Desired
{
    public static DesiredState For(string environment, string commit, params NotificationHook[] hooks)
    {
        var health = new HealthSpec([], TimeSpan.FromSeconds(1), 1, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        var repo = new RepositorySpec(null,
            new Defaults(5, OnFailure.Rollback, new StrategySpec(StrategyKind.Rolling, new MaxParallel(1, false), 0), health),
            [.. hooks], null);
        var env = new EnvironmentSpec(environment, [], ImmutableSortedDictionary<string, HostGroup>.Empty, [], null, null);
        return new DesiredState(environment, commit, env, ImmutableSortedDictionary<string, ServiceSpec>.Empty,
            ImmutableSortedDictionary<string, DesiredToggle>.Empty, repo);
    }
}

internal sealed class FakeLoader : IDesiredStateLoader
{
    public ConcurrentDictionary<string, string> Invalid { get; } = new();   // commit -> error message

    public DesiredState Load(string repositoryPath, string commit, string environment) =>
        Invalid.TryGetValue(commit, out var message) ? throw new ReconcilerException(FailureKind.InvalidInput, message) : Desired.For(environment, commit);
}

/// <summary>A branch whose head the test moves by hand; counts fetches.</summary>
internal sealed class FakeFollower : IBranchFollower
{
    private volatile string _head;
    private int _fetches;

    public FakeFollower(string head) => _head = head;

    public string RepositoryPath => "/fake/repo";
    public int Fetches => Volatile.Read(ref _fetches);
    public List<string> History { get; } = [];

    public void MoveTo(string sha)
    {
        lock (History) History.Add(sha);
        _head = sha;
    }

    public Task<BranchHead> FetchAsync(CancellationToken ct)
    {
        Interlocked.Increment(ref _fetches);
        return Task.FromResult(new BranchHead(_head, "Dev <dev@example.com>", "commit " + _head));
    }

    public IReadOnlyList<string> CommitsBetween(string? fromSha, string toSha, int max)
    {
        lock (History)
        {
            var to = History.IndexOf(toSha);
            var from = fromSha is null ? -1 : History.IndexOf(fromSha);
            return to < 0 ? [toSha] : History.Skip(from + 1).Take(to - from).Reverse().Take(max).ToList();
        }
    }
}

/// <summary>
/// Scripted reconciler: per commit, an outcome, or "block until pre-empted or stopped". Holds a lock flag like the
/// real one (taken on entry, released on every return path) so tests can check it is released.
/// </summary>
internal sealed class FakeReconciler : IReconciler
{
    public ConcurrentDictionary<string, Func<ReconcileRequest, CancellationToken, Task<ReconcileOutcome>>> Script { get; } = new();
    public ConcurrentQueue<string> Calls { get; } = new();
    public ConcurrentQueue<(string Commit, ApplyResult Result)> Results { get; } = new();
    private int _lockHeld;
    public bool LockHeld => Volatile.Read(ref _lockHeld) == 1;

    public async Task<ReconcileOutcome> ReconcileAsync(ReconcileRequest request, IProgress<ApplyProgress>? progress, CancellationToken ct)
    {
        var commit = request.Desired.Revision;
        Calls.Enqueue(commit);
        if (Interlocked.Exchange(ref _lockHeld, 1) == 1) throw new InvalidOperationException("two applies at once");
        try
        {
            progress?.Report(new ApplyProgress(request.Desired.Environment, commit, 1, "api", "web-1", "apply", "started"));
            var outcome = Script.TryGetValue(commit, out var step)
                ? await step(request, ct)
                : Outcome(ApplyResult.Succeeded);
            Results.Enqueue((commit, outcome.Result));
            return outcome;
        }
        finally
        {
            Volatile.Write(ref _lockHeld, 0);
        }
    }

    public static ReconcileOutcome Outcome(ApplyResult result, FailureKind? failure = null, string message = "done") =>
        new(result, null, message, failure);

    /// <summary>Waits like a health gate that never passes, until pre-empted (rolled back) or stopped (safe point).</summary>
    public static async Task<ReconcileOutcome> BlockUntilCancelled(ReconcileRequest request, CancellationToken stop, TaskCompletionSource? entered = null)
    {
        entered?.TrySetResult();
        using var either = CancellationTokenSource.CreateLinkedTokenSource(request.Preempt, stop);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, either.Token);
        }
        catch (OperationCanceledException)
        {
        }
        return request.Preempt.IsCancellationRequested
            ? Outcome(ApplyResult.Interrupted, FailureKind.Interrupted, "pre-empted by a newer commit; rolled back")
            : Outcome(ApplyResult.Interrupted, FailureKind.Interrupted, "stopped at a safe point");
    }
}

/// <summary>Waits on a condition with a bounded timeout (never a fixed sleep).</summary>
internal static class Wait
{
    public static async Task Until(Func<bool> condition, string what, int timeoutMs = 10_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline) throw new TimeoutException($"timed out waiting for: {what}");
            await Task.Delay(5);
        }
    }
}

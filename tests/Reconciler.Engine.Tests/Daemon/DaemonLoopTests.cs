using Microsoft.Extensions.Time.Testing;
using Reconciler.Daemon;
using Reconciler.Engine.Tests.Execution;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.Daemon;

public sealed class DaemonLoopTests : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly FakeFollower _follower = new("aaaa1111");
    private readonly FakeReconciler _reconciler = new();
    private readonly FakeLoader _loader = new();
    private readonly InMemoryStateStore _store;
    private readonly StringWriter _log = new();
    private readonly CancellationTokenSource _stop = new();
    private GitOpsDaemon? _daemon;
    private Task? _loop;

    public DaemonLoopTests() => _store = new InMemoryStateStore(_time);

    private GitOpsDaemon Start()
    {
        _daemon = new GitOpsDaemon(new DaemonOptions("prod", Interval, "daemon@test"), _follower, _loader, _reconciler, _store, _time, _log);
        _loop = _daemon.RunAsync(_stop.Token);
        return _daemon;
    }

    /// <summary>Advances fake time one interval at a time until the loop has fetched <paramref name="n"/> more times.</summary>
    private async Task Intervals(int n)
    {
        for (var i = 0; i < n; i++)
        {
            var before = _follower.Fetches;
            for (var tries = 0; _follower.Fetches == before; tries++)
            {
                Assert.True(tries < 400, "the loop did not fetch after the interval elapsed");
                _time.Advance(Interval);
                await Task.Delay(5);
            }
        }
    }

    private async Task Settle()
    {
        // Two more intervals: anything the loop was going to do with the current head has been done.
        await Intervals(2);
        await Wait.Until(() => _daemon!.GetStatusAsync(default).Result.Environments[0].InFlight is null, "no apply in flight");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null) await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    [Fact]
    public async Task Applies_the_head_once_and_not_again_while_it_does_not_move()
    {
        Start();
        await Wait.Until(() => _reconciler.Results.Count == 1, "first apply");
        await Intervals(4);
        Assert.Equal(["aaaa1111"], _reconciler.Calls);
        Assert.True(_follower.Fetches >= 5);
    }

    [Fact]
    public async Task A_rolled_back_commit_is_not_retried_over_several_intervals_and_the_next_commit_is_applied()
    {
        _reconciler.Script["bad22222"] = (_, _) => Task.FromResult(FakeReconciler.Outcome(ApplyResult.RolledBack, FailureKind.CommitFault,
            "health gate failed; rolled back; commit quarantined. Revert bad22222."));
        _follower.MoveTo("bad22222");
        var daemon = Start();
        await Wait.Until(() => _reconciler.Results.Count == 1, "apply of the bad commit");
        await Intervals(6);
        Assert.Equal(["bad22222"], _reconciler.Calls);
        Assert.Equal(1, _log.ToString().Split('\n').Count(l => l.Contains("rolled-back", StringComparison.Ordinal)));   // logged once, no spam

        _follower.MoveTo("fix33333");
        await Intervals(1);
        await Wait.Until(() => _reconciler.Results.Count == 2, "apply of the fix");
        Assert.Equal(["bad22222", "fix33333"], _reconciler.Calls);
        var status = (await daemon.GetStatusAsync(default)).Environments[0];
        Assert.Equal("fix33333", status.LastResult!.Commit);
        Assert.Equal("succeeded", status.LastResult.Result);
    }

    [Fact]
    public async Task An_already_quarantined_commit_refused_by_the_reconciler_is_not_retried()
    {
        _reconciler.Script["aaaa1111"] = (_, _) => Task.FromResult(FakeReconciler.Outcome(ApplyResult.Failed, FailureKind.AlreadyQuarantined, "commit aaaa1111 is quarantined"));
        Start();
        await Wait.Until(() => _reconciler.Results.Count == 1, "refused apply");
        await Intervals(5);
        Assert.Single(_reconciler.Calls);
        Assert.Contains("quarantined", _log.ToString());
    }

    [Fact]
    public async Task A_locked_environment_is_retried_at_the_next_interval_and_logged_once()
    {
        var refusals = 0;
        _reconciler.Script["aaaa1111"] = (_, _) => Task.FromResult(Interlocked.Increment(ref refusals) <= 3
            ? FakeReconciler.Outcome(ApplyResult.Failed, FailureKind.LockedOrFrozen, "environment prod is locked by alice: maintenance")
            : FakeReconciler.Outcome(ApplyResult.Succeeded));
        Start();
        await Wait.Until(() => _reconciler.Results.Count == 1, "first refusal");
        for (var i = 0; i < 6 && _reconciler.Results.Count < 4; i++) await Intervals(1);
        await Wait.Until(() => _reconciler.Results.Count == 4, "applied after the lock went away");
        Assert.Equal(ApplyResult.Succeeded, _reconciler.Results.Last().Result);
        Assert.Equal(1, _log.ToString().Split('\n').Count(l => l.Contains("locked by alice", StringComparison.Ordinal)));
        await Intervals(3);
        Assert.Equal(4, _reconciler.Calls.Count);   // and then never again
    }

    [Fact]
    public async Task A_thrown_store_outage_is_retried_but_an_invalid_commit_is_not()
    {
        _loader.Invalid["aaaa1111"] = "services/api.yaml:3:5: version 'x' is not semver";
        Start();
        await Intervals(4);
        Assert.Empty(_reconciler.Calls);
        Assert.Equal(1, _log.ToString().Split('\n').Count(l => l.Contains("not semver", StringComparison.Ordinal)));

        var outages = 0;
        _reconciler.Script["next4444"] = (_, _) => Interlocked.Increment(ref outages) == 1
            ? throw new StateStoreUnavailableException("state store sqlite:/x is unreachable")
            : Task.FromResult(FakeReconciler.Outcome(ApplyResult.Succeeded));
        _follower.MoveTo("next4444");
        await Intervals(1);
        await Wait.Until(() => _reconciler.Calls.Count == 1, "first try");
        await Intervals(3);
        await Wait.Until(() => _reconciler.Results.Count == 1, "retried after the outage");
        Assert.Equal(2, _reconciler.Calls.Count);
    }

    [Fact]
    public async Task A_newer_commit_preempts_a_stuck_health_wait_and_is_applied()
    {
        var entered = new TaskCompletionSource();
        _reconciler.Script["slow5555"] = (r, ct) => FakeReconciler.BlockUntilCancelled(r, ct, entered);
        _follower.MoveTo("slow5555");
        var daemon = Start();
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("slow5555", (await daemon.GetStatusAsync(default)).Environments[0].InFlight!.Commit);

        _follower.MoveTo("new66666");
        await Intervals(1);
        await Wait.Until(() => _reconciler.Results.Count == 2, "pre-empted apply and the newer apply");
        Assert.Equal([("slow5555", ApplyResult.Interrupted), ("new66666", ApplyResult.Succeeded)], _reconciler.Results);
        Assert.Contains("pre-empting", _log.ToString());
        await Settle();
        Assert.Equal(2, _reconciler.Calls.Count);   // the pre-empted commit is not picked up again
    }

    [Fact]
    public async Task A_webhook_trigger_fetches_without_waiting_for_the_interval()
    {
        var daemon = Start();
        await Wait.Until(() => _reconciler.Results.Count == 1, "first apply");
        var before = _follower.Fetches;
        _follower.MoveTo("hook7777");
        daemon.Trigger();   // no time advanced
        await Wait.Until(() => _reconciler.Results.Count == 2, "apply after trigger");
        Assert.True(_follower.Fetches > before);
    }

    [Fact]
    public async Task Stopping_during_an_apply_waits_for_the_safe_point_and_the_lock_is_released()
    {
        var entered = new TaskCompletionSource();
        _reconciler.Script["aaaa1111"] = (r, ct) => FakeReconciler.BlockUntilCancelled(r, ct, entered);
        Start();
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(_reconciler.LockHeld);

        await _stop.CancelAsync();
        await _loop!.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(_reconciler.LockHeld);
        Assert.Equal([("aaaa1111", ApplyResult.Interrupted)], _reconciler.Results);
        Assert.Contains("stopped", _log.ToString());
    }

    [Fact]
    public async Task Status_reports_head_in_flight_progress_quarantine_and_lock()
    {
        var entered = new TaskCompletionSource();
        _reconciler.Script["aaaa1111"] = (r, ct) => FakeReconciler.BlockUntilCancelled(r, ct, entered);
        await _store.QuarantineAsync("prod", new QuarantinedCommit("bad22222", "health gate of api failed on web-1", _time.GetUtcNow()), default);
        Assert.True((await _store.TryAcquireLockAsync("prod", "daemon@test", "apply aaaa1111", TimeSpan.FromMinutes(5), default)).Acquired);
        var daemon = Start();
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var json = System.Text.Json.JsonSerializer.Serialize(await daemon.GetStatusAsync(default), ReconcilerJson.Options);
        Reconciler.Testing.Golden.Match(json + "\n", "daemon-status.json");
    }

    [Fact]
    public async Task A_failing_fetch_is_reported_once_and_the_loop_keeps_going()
    {
        var follower = new FlakyFollower();
        _daemon = new GitOpsDaemon(new DaemonOptions("prod", Interval, "daemon@test"), follower, _loader, _reconciler, _store, _time, _log);
        _loop = _daemon.RunAsync(_stop.Token);
        for (var i = 0; i < 4; i++)
        {
            var before = follower.Fetches;
            for (var tries = 0; follower.Fetches == before; tries++)
            {
                Assert.True(tries < 400, "the loop stopped fetching");
                _time.Advance(Interval);
                await Task.Delay(5);
            }
        }
        Assert.Equal(1, _log.ToString().Split('\n').Count(l => l.Contains("remote hung up", StringComparison.Ordinal)));
        Assert.Equal("fetching failed: IOException: remote hung up", (await _daemon.GetStatusAsync(default)).Environments[0].FetchError);
        follower.Healthy = true;
        for (var tries = 0; _reconciler.Results.IsEmpty; tries++)
        {
            Assert.True(tries < 400, "not applied after the remote came back");
            _time.Advance(Interval);
            await Task.Delay(5);
        }
    }

    private sealed class FlakyFollower : Reconciler.Git.IBranchFollower
    {
        private int _fetches;
        public volatile bool Healthy;
        public int Fetches => Volatile.Read(ref _fetches);
        public string RepositoryPath => "/fake";
        public Task<Reconciler.Git.BranchHead> FetchAsync(CancellationToken ct)
        {
            Interlocked.Increment(ref _fetches);
            return Healthy ? Task.FromResult(new Reconciler.Git.BranchHead("aaaa1111", null, "A")) : Task.FromException<Reconciler.Git.BranchHead>(new IOException("remote hung up"));
        }
        public IReadOnlyList<string> CommitsBetween(string? fromSha, string toSha, int max) => [toSha];
    }
}

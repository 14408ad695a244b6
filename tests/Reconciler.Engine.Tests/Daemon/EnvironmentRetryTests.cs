using Microsoft.Extensions.Time.Testing;
using Reconciler.Daemon;
using Reconciler.Engine.Tests.Execution;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.Daemon;

/// <summary>`run` retries a commit whose apply failed because of the environment with capped exponential backoff and
/// jitter (10 s doubling, capped), shows the next attempt in /status, and never settles (or quarantines) it.</summary>
public sealed class EnvironmentRetryTests : IAsyncDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly FakeFollower _follower = new("aaaa1111");
    private readonly FakeReconciler _reconciler = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null) await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    [Fact]
    public void Backoff_doubles_from_the_first_delay_up_to_the_cap_with_at_most_half_of_each_wait_random()
    {
        var backoff = new RetryBackoff(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(10), new Random(7));
        for (var attempt = 1; attempt <= 12; attempt++)
        {
            var ceiling = TimeSpan.FromSeconds(Math.Min(600, 10 * Math.Pow(2, attempt - 1)));
            for (var i = 0; i < 50; i++)
            {
                var delay = backoff.Delay(attempt);
                Assert.InRange(delay, ceiling / 2, ceiling);
            }
        }
        // Jitter: two daemons hit by the same outage do not retry in step.
        var a = new RetryBackoff(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(10), new Random(1));
        var b = new RetryBackoff(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(10), new Random(2));
        Assert.NotEqual(a.Delay(3), b.Delay(3));
    }

    [Fact]
    public async Task An_environment_fault_is_retried_with_growing_waits_shown_in_status_until_it_succeeds()
    {
        var startedAt = new List<DateTimeOffset>();
        var failures = 3;
        _reconciler.Script["aaaa1111"] = (_, _) =>
        {
            lock (startedAt) startedAt.Add(_time.GetUtcNow());
            return Task.FromResult(failures-- > 0
                ? FakeReconciler.Outcome(ApplyResult.EnvironmentFault, FailureKind.EnvironmentFault, "secret env:DB_PASSWORD is not set")
                : FakeReconciler.Outcome(ApplyResult.Succeeded));
        };
        var store = new InMemoryStateStore(_time);
        var daemon = new GitOpsDaemon(new DaemonOptions("prod", TimeSpan.FromHours(1), "daemon@test")
            {
                FirstRetryDelay = TimeSpan.FromSeconds(10),
                MaxRetryDelay = TimeSpan.FromSeconds(30),
            }, _follower, new FakeLoader(), _reconciler, store, _time, TextWriter.Null, new Random(42));
        _loop = daemon.RunAsync(_stop.Token);

        TimeSpan[] ceilings = [TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30)];
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            await Wait.Until(() => _reconciler.Results.Count == attempt, $"attempt {attempt}");
            var next = await NextAttemptAsync(daemon, attempt);
            Assert.Equal("aaaa1111", next.Commit);
            Assert.Contains("DB_PASSWORD", next.Reason);
            var wait = next.NotBefore - startedAt[attempt - 1];
            Assert.InRange(wait, ceilings[attempt - 1] / 2, ceilings[attempt - 1]);
            // The interval is an hour: only the backoff can bring the next attempt; it never comes early.
            _time.Advance(next.NotBefore - _time.GetUtcNow());
            await Wait.Until(() => _reconciler.Results.Count == attempt + 1, $"attempt {attempt + 1}");
            Assert.True(startedAt[attempt] >= next.NotBefore, $"attempt {attempt + 1} at {startedAt[attempt]:O}, due {next.NotBefore:O}");
        }
        await Wait.Until(() => daemon.GetStatusAsync(default).Result.Environments[0].LastResult?.Result == "succeeded", "success");
        Assert.Null((await daemon.GetStatusAsync(default)).Environments[0].NextAttempt);
        Assert.Empty(await store.ReadQuarantineAsync("prod", default));
    }

    private static async Task<RetryStatus> NextAttemptAsync(GitOpsDaemon daemon, int attempt)
    {
        RetryStatus? next = null;
        await Wait.Until(() => (next = daemon.GetStatusAsync(default).Result.Environments[0].NextAttempt) is { } n && n.Attempt == attempt,
            $"/status shows attempt {attempt}");
        return next!;
    }
}

using Xunit;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Drivers;
using Reconciler.Execution;
using Reconciler.Schema.Model;

namespace Reconciler.Engine.Tests.Execution;

public sealed class HealthGateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    private sealed class ScriptedProbe(FakeTimeProvider time, Func<string, TimeSpan, Task<ProbeResult>> script) : IHealthProbe
    {
        public ConcurrentQueue<(string Host, TimeSpan At, bool Healthy)> Probes { get; } = new();

        public async Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
        {
            var at = time.GetUtcNow() - T0;
            var result = await script(context.Host.Name, at);
            Probes.Enqueue((context.Host.Name, at, result.Healthy));
            return result;
        }
    }

    private static HealthSpec Spec(int passes, int minHealthy, int deadline) =>
        new([new HealthCheckSpec(HealthCheckKind.Http, "http://${host.address}/health", 200, null, null, null, null, TimeSpan.FromSeconds(2))],
            TimeSpan.FromSeconds(1), passes, TimeSpan.FromSeconds(minHealthy), TimeSpan.FromSeconds(deadline));

    private static GateTarget Target(string name) =>
        new(new HostSpec(name, "127.0.0.1", 22, "deploy", null, null, ImmutableSortedDictionary<string, string>.Empty), null!, "1.5.0-abc");

    private static async Task<(GateResult Result, TimeSpan Elapsed)> Run(FakeTimeProvider time, IHealthProbe probe, HealthSpec spec, params string[] hosts)
    {
        var gate = new HealthGate(probe, time);
        var task = Task.Run(() => gate.WaitAsync("api", spec, [.. hosts.Select(Target)], "staging", "c1", CancellationToken.None));
        for (var i = 0; i < 10_000 && !task.IsCompleted; i++)
        {
            await Task.WhenAny(task, Task.Delay(1));
            if (!task.IsCompleted) time.Advance(TimeSpan.FromMilliseconds(250));
        }
        Assert.True(task.IsCompleted, "gate did not finish within the step bound");
        return (await task, time.GetUtcNow() - T0);
    }

    private static ProbeResult Ok => new(true, "200");
    private static ProbeResult Bad => new(false, "status 503");

    [Fact]
    public async Task A_gate_that_fails_because_a_host_cannot_be_reached_is_the_environments_fault_not_the_commits()
    {
        var time = new FakeTimeProvider(T0);
        // web-2's session is gone (the probe cannot even run); web-1 answers fine.
        var probe = new ScriptedProbe(time, (host, _) => host == "web-2"
            ? Task.FromException<ProbeResult>(new HostStepException(host, "command", "the connection was lost and 3 reconnect attempt(s) did not bring it back"))
            : Task.FromResult(Ok));
        var (unreachable, _) = await Run(time, probe, Spec(passes: 1, minHealthy: 0, deadline: 5), "web-1", "web-2");
        Assert.False(unreachable.Passed);
        Assert.Equal(FailureKind.EnvironmentFault, unreachable.Cause);

        // A host that answers, badly: the release's fault.
        var answering = new ScriptedProbe(time, (host, _) => Task.FromResult(host == "web-2" ? Bad : Ok));
        var (bad, _) = await Run(time, answering, Spec(passes: 1, minHealthy: 0, deadline: 5), "web-1", "web-2");
        Assert.False(bad.Passed);
        Assert.Equal(FailureKind.CommitFault, bad.Cause);
    }

    [Fact]
    public async Task Passes_only_after_consecutive_passes_and_min_healthy_time()
    {
        var time = new FakeTimeProvider(T0);
        var probe = new ScriptedProbe(time, (_, _) => Task.FromResult(Ok));

        var (result, elapsed) = await Run(time, probe, Spec(passes: 3, minHealthy: 5, deadline: 60), "web-1");

        Assert.True(result.Passed);
        Assert.True(elapsed >= TimeSpan.FromSeconds(5), $"passed after {elapsed}");
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"passed after {elapsed}");
        Assert.True(probe.Probes.Count >= 3);
    }

    [Fact]
    public async Task A_failure_resets_the_count_and_the_healthy_since_time()
    {
        var time = new FakeTimeProvider(T0);
        // Healthy, then one failure at 3s..4s, then healthy for good.
        var probe = new ScriptedProbe(time, (_, at) => Task.FromResult(at >= TimeSpan.FromSeconds(3) && at < TimeSpan.FromSeconds(4) ? Bad : Ok));

        var (result, elapsed) = await Run(time, probe, Spec(passes: 2, minHealthy: 3, deadline: 60), "web-1");

        Assert.True(result.Passed);
        var lastBad = probe.Probes.Where(p => !p.Healthy).Max(p => p.At);
        Assert.True(elapsed >= lastBad + TimeSpan.FromSeconds(3), $"passed at {elapsed}, last failure at {lastBad}");
    }

    [Fact]
    public async Task Fails_at_the_deadline_naming_the_host_and_the_last_problem()
    {
        var time = new FakeTimeProvider(T0);
        var probe = new ScriptedProbe(time, (host, _) => Task.FromResult(host == "web-2" ? Bad : Ok));

        var (result, elapsed) = await Run(time, probe, Spec(passes: 2, minHealthy: 1, deadline: 10), "web-1", "web-2");

        Assert.False(result.Passed);
        Assert.Contains("web-2: not healthy within 10s: http check: status 503", result.Detail);
        Assert.DoesNotContain("web-1", result.Detail);
        Assert.True(elapsed >= TimeSpan.FromSeconds(10) && elapsed < TimeSpan.FromSeconds(12), $"failed at {elapsed}");
    }

    [Fact]
    public async Task A_failure_threshold_fails_the_gate_before_its_deadline_counting_only_after_the_initial_delay()
    {
        var time = new FakeTimeProvider(T0);
        var probe = new ScriptedProbe(time, (_, _) => Task.FromResult(Bad));
        var spec = Spec(passes: 1, minHealthy: 0, deadline: 60) with { FailureThreshold = 3, InitialDelay = TimeSpan.FromSeconds(10) };

        var (result, elapsed) = await Run(time, probe, spec, "web-1");

        Assert.False(result.Passed);
        Assert.Equal("web-1: 3 consecutive failed checks (failureThreshold 3): http check: status 503", result.Detail);
        // Rounds run each second: those at 0..9 s do not count, the third failure after the delay is the one at 12 s.
        Assert.InRange(elapsed, TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(13));
    }

    [Fact]
    public async Task A_pass_between_failures_resets_the_failure_count()
    {
        var time = new FakeTimeProvider(T0);
        var round = 0;
        var probe = new ScriptedProbe(time, (_, _) => Task.FromResult(Interlocked.Increment(ref round) % 2 == 0 ? Ok : Bad));
        var spec = Spec(passes: 3, minHealthy: 0, deadline: 8) with { FailureThreshold = 2 };

        var (result, _) = await Run(time, probe, spec, "web-1");

        Assert.False(result.Passed);
        Assert.StartsWith("web-1: not healthy within 8s", result.Detail);   // never two failures in a row: the deadline decides
    }

    [Fact]
    public async Task A_probe_that_hangs_past_its_timeout_or_throws_counts_as_unhealthy()
    {
        var time = new FakeTimeProvider(T0);
        var (hung, _) = await Run(time, new CancellingProbe(time), Spec(passes: 1, minHealthy: 0, deadline: 5), "web-1");
        Assert.False(hung.Passed);
        Assert.Contains("timed out after 2s", hung.Detail);

        var throwing = new ScriptedProbe(time, (_, _) => throw new HttpRequestException("connection refused (127.0.0.1:8080)"));
        var (thrown, _) = await Run(time, throwing, Spec(passes: 1, minHealthy: 0, deadline: 5), "web-1");
        Assert.False(thrown.Passed);
        Assert.Contains("connection refused", thrown.Detail);
    }

    [Fact]
    public async Task No_checks_pass_at_once()
    {
        var time = new FakeTimeProvider(T0);
        var gate = new HealthGate(new ScriptedProbe(time, (_, _) => Task.FromResult(Bad)), time);
        var result = await gate.WaitAsync("api", Spec(1, 0, 5) with { Checks = [] }, [Target("web-1")], "staging", "c1", CancellationToken.None);
        Assert.True(result.Passed);
    }

    /// <summary>Waits until cancelled (the gate's per-check timeout), like a probe stuck on a dead socket.</summary>
    private sealed class CancellingProbe(FakeTimeProvider time) : IHealthProbe
    {
        public async Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
        {
            await Task.Delay(TimeSpan.FromHours(1), time, ct);
            return Ok;
        }
    }
}

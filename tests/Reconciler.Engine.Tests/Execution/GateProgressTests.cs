using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>The health gate tells its progress round by round (passes n/N, failures, the deadline), and
/// <see cref="ApplyActivity"/> folds an apply's events into waves, services and hosts with their times (fake time).</summary>
public sealed class GateProgressTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    private sealed class ScriptedProbe(FakeTimeProvider time, Func<TimeSpan, bool> healthy) : IHealthProbe
    {
        public Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct) =>
            Task.FromResult(healthy(time.GetUtcNow() - T0) ? new ProbeResult(true, "200") : new ProbeResult(false, "status 503"));
    }

    [Fact]
    public async Task Every_round_reports_passes_of_needed_failures_and_the_deadline()
    {
        var time = new FakeTimeProvider(T0);
        // Fails the rounds at 0 s and 1 s, healthy from 2 s on; 3 passes needed, deadline 30 s.
        var gate = new HealthGate(new ScriptedProbe(time, at => at >= TimeSpan.FromSeconds(2)), time);
        var rounds = new ConcurrentQueue<(string Host, GateProgress Gate)>();
        var health = new HealthSpec([new HealthCheckSpec(HealthCheckKind.Http, "http://x/health", 200, null, null, null, null, TimeSpan.FromSeconds(2))],
            TimeSpan.FromSeconds(1), 3, TimeSpan.Zero, TimeSpan.FromSeconds(30)) { FailureThreshold = 5 };
        var target = new GateTarget(new HostSpec("web-1", "127.0.0.1", 22, "deploy", null, null, ImmutableSortedDictionary<string, string>.Empty), null!, "1.5.0-abc");

        var task = Task.Run(() => gate.WaitAsync("api", health, [target], "staging", "c1", CancellationToken.None, (h, g) => rounds.Enqueue((h, g))));
        for (var i = 0; i < 1000 && !task.IsCompleted; i++)
        {
            await Task.WhenAny(task, Task.Delay(1));
            if (!task.IsCompleted) time.Advance(TimeSpan.FromMilliseconds(250));
        }
        Assert.True((await task).Passed);

        var deadline = T0 + TimeSpan.FromSeconds(30);
        Assert.Equal(
        [
            ("web-1", new GateProgress(0, 3, 1, 5, deadline, "http check: status 503")),
            ("web-1", new GateProgress(0, 3, 2, 5, deadline, "http check: status 503")),
            ("web-1", new GateProgress(1, 3, 0, 5, deadline, null)),
            ("web-1", new GateProgress(2, 3, 0, 5, deadline, null)),
            ("web-1", new GateProgress(3, 3, 0, 5, deadline, null)),
        ], rounds);
        Assert.Equal(TimeSpan.FromSeconds(26), rounds.Last().Gate.TimeLeft(T0 + TimeSpan.FromSeconds(4)));
        Assert.Equal(TimeSpan.Zero, rounds.Last().Gate.TimeLeft(T0 + TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task An_apply_reports_gate_rounds_with_their_batch_and_the_activity_keeps_times_per_wave_service_and_host()
    {
        var w = new ExecutorWorld(hosts: 2);
        w.Deployed("c0", Service("db", "2.0.0"), Service("api", "1.4.2", dependsOn: ["db"]));
        var bad = Service("api", "1.5.0", Rolling(1), dependsOn: ["db"]);
        w.Probe.Healthy = (_, r) => r != ServiceFields.ReleaseId(bad);
        var desired = w.Desired("c1", [Service("db", "2.1.0", Rolling(1)), bad]);
        var activity = new ApplyActivity(w.Time);

        await w.ApplyAsync(w.Request(desired) with { MaxParallel = 1 });
        foreach (var p in w.ProgressEvents) activity.Report(p);

        // Rounds of db's second batch carry it; every round says passes of needed and the deadline.
        var dbRounds = w.ProgressEvents.Where(p => p is { Service: "db", Step: "gate", Status: "checking" }).ToList();
        Assert.NotEmpty(dbRounds);
        Assert.All(dbRounds, p => Assert.Equal(2, p.Gate!.PassesNeeded));
        Assert.Equal([1, 2], dbRounds.Select(p => p.Batch!.Value).Distinct());
        Assert.Contains(dbRounds, p => p is { Host: "web-2", Batch: 2, Gate.PassesSeen: 2 });
        // api fails on web-1: its rounds count failures and none passes.
        var apiRounds = w.ProgressEvents.Where(p => p is { Service: "api", Step: "gate", Status: "checking" }).ToList();
        Assert.All(apiRounds, p => Assert.Equal(0, p.Gate!.PassesSeen));
        Assert.True(apiRounds.Max(p => p.Gate!.Failures) >= 2);

        var snapshot = activity.Snapshot();
        var db = snapshot.Services.Single(s => s.Service == "db");
        Assert.Equal((1, 2, 2), (db.Wave, db.Batch!.Value, db.HostsChanged));
        Assert.NotNull(db.Finished);
        Assert.Equal("rollback", db.Hosts["web-2"].Step);   // api's failure rolled db back too
        var api = snapshot.Services.Single(s => s.Service == "api");
        Assert.StartsWith("gate failed", api.State, StringComparison.Ordinal);
        Assert.Null(api.Finished);
        Assert.Equal("rollback", api.Hosts["web-1"].Step);
        Assert.Equal([1, 2], snapshot.Waves.Select(x => x.Wave));
    }

    [Fact]
    public void Elapsed_time_of_waves_and_services_comes_from_the_time_provider()
    {
        var time = new FakeTimeProvider(T0);
        var activity = new ApplyActivity(time);
        ApplyProgress P(int wave, string? service, string? host, string step, string status, GateProgress? gate = null) =>
            new("prod", "c1", wave, service, host, step, status, service is null ? null : 1, gate);

        activity.Report(P(1, null, null, "wave", "started"));
        time.Advance(TimeSpan.FromSeconds(2));
        activity.Report(P(1, "api", null, "service", "started"));
        time.Advance(TimeSpan.FromSeconds(5));
        activity.Report(P(1, "api", "web-1", "gate", "checking", new GateProgress(1, 3, 0, null, T0 + TimeSpan.FromSeconds(60), null)));
        time.Advance(TimeSpan.FromSeconds(3));

        var now = activity.Snapshot();
        Assert.Equal(TimeSpan.FromSeconds(10), now.Waves.Single().Elapsed(now.At));
        var api = now.Services.Single();
        Assert.Equal(TimeSpan.FromSeconds(8), api.Elapsed(now.At));
        Assert.Equal(T0 + TimeSpan.FromSeconds(7), api.Hosts["web-1"].Since);

        activity.Report(P(1, "api", null, "gate", "passed"));
        Assert.Equal(("gate", "passed"), (activity.Snapshot().Services.Single().Hosts["web-1"].Step, activity.Snapshot().Services.Single().Hosts["web-1"].Status));
        activity.Report(P(1, "api", null, "service", "finished"));
        activity.Report(P(1, null, null, "wave", "finished"));
        time.Advance(TimeSpan.FromMinutes(1));
        var later = activity.Snapshot();
        Assert.Equal(TimeSpan.FromSeconds(10), later.Waves.Single().Elapsed(later.At));
        Assert.Equal(TimeSpan.FromSeconds(8), later.Services.Single().Elapsed(later.At));
    }
}

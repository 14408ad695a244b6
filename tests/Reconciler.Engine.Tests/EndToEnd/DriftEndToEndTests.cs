using System.Collections.Immutable;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Daemon;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Drivers.Secrets;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Execution;
using Reconciler.Live;
using Reconciler.Schema.Model;
using Reconciler.State;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>
/// Issue 13 against real sshd hosts: every drift kind made by hand on the hosts as an operator would (a `current` switched
/// by hand, a deleted link, a deleted or damaged release, a stopped service, a re-imaged host, a host that is down), then
/// found by the live probe, planned as repairs with their reasons, and repaired by apply through the usual gates; and the
/// daemon's self-heal, which repairs drift and refuses to touch a frozen environment.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "EndToEnd")]
public sealed class DriftEndToEndTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IAsyncLifetime
{
    private FleetWorld _w = null!;

    public Task InitializeAsync()
    {
        _w = new FleetWorld(fixture.Fleet);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _w.DisposeAsync();

    private ExecutorDependencies Deps() =>
        ExecutorWiring.Dependencies(_w.Store, _w.Combine("."), TimeProvider.System,
            new HostDriverOptions { LocalRoot = _w.Combine("local"), SshKeyPath = _w.Fleet.ClientKeyPath, Warn = _ => { } }) with
        {
            Secrets = new SecretResolver(environment: name => _w.Secrets.GetValueOrDefault(name)),
        };

    private async Task<ObservedState> ObserveAsync(DesiredState desired) =>
        await new LiveProbe(Deps(), new LiveProbeOptions(TimeSpan.FromSeconds(20), 8)).ObserveAsync(desired, await _w.Store.ReadAsync(FleetWorld.Env, default), default);

    private static DriftKind[] DriftOf(ObservedState o, string service, string host) =>
        [.. o.Hosts.Single(h => h.Service == service && h.Host == host).Drift];

    private string OnHost(int host, string path) => _w.Fleet.OnHost(host, $"{_w.Root}/{path}");

    /// <summary>api and jobs on four hosts, both healthy; returns the desired state and the two release ids.</summary>
    private async Task<(DesiredState Desired, string Api, string Jobs)> DeployTwoServicesAsync()
    {
        var desired = _w.Desired("c1", _w.Service("api", "1.0.0"), _w.Service("jobs", "2.0.0"));
        await _w.SucceedsAsync(desired);
        return (desired, ServiceFields.ReleaseId(desired.Services["api"]), ServiceFields.ReleaseId(desired.Services["jobs"]));
    }

    [Fact]
    public async Task Each_kind_of_drift_is_detected_then_planned_and_repaired_as_its_own_action()
    {
        var (desired, api, jobs) = await DeployTwoServicesAsync();
        var clean = await ObserveAsync(desired);
        Assert.Empty(clean.Drifted);
        Assert.All(clean.Hosts, h => Assert.Equal(HostHealth.Healthy, h.Health));
        Assert.All(clean.Hosts, h => Assert.Equal(h.RecordedRelease, h.ActualRelease));

        EveryDrift.Make(_w, api, jobs);
        // web-4 is down: the same host name at an address where nothing listens.
        var down = SshdFleet.DownHost("web-4");
        var withDownHost = _w.Desired("c1", [.. _w.Fleet.Hosts.Take(3), down], desired.Services.Values.ToArray());
        var observed = await ObserveAsync(withDownHost);

        Assert.Equal([DriftKind.WrongCurrent], DriftOf(observed, "api", "web-1"));
        Assert.Equal("1.0.0-handmade00", observed.Hosts.Single(h => h.Service == "api" && h.Host == "web-1").ActualRelease);
        Assert.Equal([DriftKind.MissingCurrent], DriftOf(observed, "api", "web-2"));
        Assert.Equal([DriftKind.DamagedRelease], DriftOf(observed, "api", "web-3"));
        Assert.Equal([DriftKind.MissingRelease, DriftKind.Unhealthy], DriftOf(observed, "jobs", "web-1"));
        Assert.Equal([DriftKind.UnknownHost], DriftOf(observed, "jobs", "web-2"));
        Assert.Equal([DriftKind.Unhealthy], DriftOf(observed, "jobs", "web-3"));
        Assert.Equal([DriftKind.Unreachable], DriftOf(observed, "api", "web-4"));
        Assert.Equal([DriftKind.Unreachable], DriftOf(observed, "jobs", "web-4"));
        Assert.Equal(HostHealth.Unreachable, observed.Hosts.Single(h => h.Service == "api" && h.Host == "web-4").Health);

        // The repair, against the real fleet: each drifted host is its own repair with its reason.
        var now = await ObserveAsync(desired);
        var plan = ExecutorWiring.Plan(desired, await _w.Store.ReadAsync(FleetWorld.Env, default), now);
        RepairKind? KindOn(string service, string host) =>
            plan.Services.Single(s => s.Service == service).Hosts.SingleOrDefault(h => h.Host == host)?.Repair?.Kind;
        Assert.All(plan.Services, s => Assert.Equal(ServiceAction.Repair, s.Action));
        Assert.Equal(RepairKind.ReSwitch, KindOn("api", "web-1"));
        Assert.Equal(RepairKind.ReSwitch, KindOn("api", "web-2"));
        Assert.Equal(RepairKind.ReStage, KindOn("api", "web-3"));
        Assert.Null(KindOn("api", "web-4"));
        Assert.Equal(RepairKind.ReStage, KindOn("jobs", "web-1"));
        Assert.Equal(RepairKind.ReStage, KindOn("jobs", "web-2"));
        Assert.Equal(RepairKind.Restart, KindOn("jobs", "web-3"));
        Assert.Contains("wrong-current", plan.Services.Single(s => s.Service == "api").Hosts[0].Repair!.Reason);

        // jobs on web-3 is unhealthy because its files say so: restarting cannot fix that, so the gate fails and the
        // repair is rolled back. Fix the cause (as an operator would) and the restart repair passes its gate.
        File.WriteAllText(OnHost(2, $"jobs/releases/{jobs}/health"), "ok\n");
        var outcome = await _w.Reconciler().ReconcileAsync(new ReconcileRequest(desired, "e2e@test", null, null, Observed: now), null, default);
        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);

        var after = await ObserveAsync(desired);
        Assert.Empty(after.Drifted);
        Assert.All(after.Hosts, h => Assert.Equal(HostHealth.Healthy, h.Health));
        Assert.Equal($"releases/{api}", _w.Current(0, "api"));
        Assert.Equal(jobs, File.ReadAllText(OnHost(2, "jobs/restarted")).Trim());   // the restart repair ran the restart command
        var history = await _w.Store.ReadHistoryAsync(FleetWorld.Env, 1, default);
        Assert.StartsWith("repair drift on 3 hosts: web-1 re-switch, web-2 re-switch, web-3 re-stage", history[0].ServiceOutcomes["api"]);
        Assert.StartsWith("repair drift on 3 hosts", history[0].ServiceOutcomes["jobs"]);
    }

    [Fact]
    public async Task A_restart_repair_that_does_not_make_the_host_healthy_fails_its_gate_and_changes_nothing_else()
    {
        var desired = _w.Desired("c1", _w.Service("api", "1.0.0"), _w.Service("jobs", "2.0.0", health: FleetWorld.FastHealth with { Deadline = TimeSpan.FromSeconds(3) }));
        await _w.SucceedsAsync(desired);
        var jobs = ServiceFields.ReleaseId(desired.Services["jobs"]);
        File.WriteAllText(OnHost(2, $"jobs/releases/{jobs}/health"), "bad\n");
        var observed = await ObserveAsync(desired);
        Assert.Equal([DriftKind.Unhealthy], DriftOf(observed, "jobs", "web-3"));
        var outcome = await _w.Reconciler().ReconcileAsync(new ReconcileRequest(desired, "e2e@test", null, null, Observed: observed), null, default);
        Assert.NotEqual(ApplyResult.Succeeded, outcome.Result);
        // The host's fault, not the applied commit's: the rollback switched back to the same (unhealthy) release, so the
        // host needs attention, and the commit is not quarantined.
        Assert.Equal(FailureKind.HostsNeedAttention, outcome.Failure);
        Assert.Empty(await _w.Store.ReadQuarantineAsync(FleetWorld.Env, default));
        Assert.Equal($"releases/{jobs}", _w.Current(2, "jobs"));
    }

    [Fact]
    public async Task Self_heal_repairs_drift_found_by_the_daemon_and_refuses_in_a_frozen_environment()
    {
        var desired = _w.Desired("c1", _w.Service("api", "1.0.0"));
        desired = desired with { Repository = desired.Repository with { SelfHeal = true } };
        var release = ServiceFields.ReleaseId(desired.Services["api"]);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var interval = TimeSpan.FromSeconds(30);
        var checks = new List<DriftCheck>();
        var log = new StringWriter();
        var daemon = new GitOpsDaemon(new DaemonOptions(FleetWorld.Env, interval, "daemon@test") { DriftInterval = TimeSpan.FromMinutes(1) },
            new Daemon.FakeFollower("c1"), new FixedLoader(desired), _w.Reconciler(), _w.Store, time, log,
            observer: new LiveProbe(Deps(), new LiveProbeOptions(TimeSpan.FromSeconds(20), 8)))
        {
            OnDriftChecked = c => { lock (checks) checks.Add(c); },
        };
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var running = Task.Run(() => daemon.RunAsync(stop.Token));
        try
        {
            // Applied, then checked at once: no drift.
            await Daemon.Wait.Until(() => Count(checks) == 1, "the first drift check", 120_000);
            Assert.Empty(checks[0].Observed.Drifted);
            Assert.Null(checks[0].Repair);

            // Someone deletes `current` by hand; at the next check the daemon repairs it and records the repair.
            File.Delete(OnHost(1, "api/current"));
            var healed = await CheckAfter(time, checks, DateTimeOffset.UtcNow);
            Assert.Equal([DriftKind.MissingCurrent], DriftOf(healed.Observed, "api", "web-2"));
            Assert.True(healed.Repair?.Result == ApplyResult.Succeeded, healed.Repair?.Message);
            Assert.Equal($"releases/{release}", _w.Current(1, "api"));
            var history = await _w.Store.ReadHistoryAsync(FleetWorld.Env, 5, default);
            Assert.StartsWith("repair drift on 1 host: web-2 re-switch", history[0].ServiceOutcomes["api"]);
            Assert.NotNull((await daemon.GetStatusAsync(default)).Environments[0].Live);

            // Frozen: the drift is reported, nothing is changed, no history is written.
            await _w.Store.SetFreezeAsync(FleetWorld.Env, new FreezeInfo("release freeze", "ops", DateTimeOffset.UtcNow), default);
            var deploys = (await _w.Store.ReadHistoryAsync(FleetWorld.Env, 50, default)).Count;
            File.Delete(OnHost(3, "api/current"));
            var refused = await CheckAfter(time, checks, DateTimeOffset.UtcNow);
            Assert.Equal([DriftKind.MissingCurrent], DriftOf(refused.Observed, "api", "web-4"));
            Assert.Equal(FailureKind.LockedOrFrozen, refused.Repair?.Failure);
            Assert.Null(_w.Current(3, "api"));
            Assert.Equal(deploys, (await _w.Store.ReadHistoryAsync(FleetWorld.Env, 50, default)).Count);
            Assert.Equal([DriftKind.MissingCurrent], DriftOf((await daemon.GetStatusAsync(default)).Environments[0].Live!, "api", "web-4"));
            Assert.Contains("self-heal refused, nothing was changed", log.ToString());
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    private static int Count(List<DriftCheck> checks)
    {
        lock (checks) return checks.Count;
    }

    /// <summary>The first drift check that asked the hosts after <paramref name="since"/> (a check already running when the
    /// test changed a host does not count). Advances fake time half a drift interval at a time; bounded.</summary>
    private static async Task<DriftCheck> CheckAfter(FakeTimeProvider time, List<DriftCheck> checks, DateTimeOffset since)
    {
        DriftCheck? Found()
        {
            lock (checks) return checks.FirstOrDefault(c => c.Observed.ObservedAt > since);
        }
        for (var i = 0; i < 600 && Found() is null; i++)
        {
            time.Advance(TimeSpan.FromSeconds(30));
            await Task.Delay(100);
        }
        return Found() ?? throw new TimeoutException("the daemon did not check drift in time");
    }

    private sealed class FixedLoader(DesiredState desired) : IDesiredStateLoader
    {
        public DesiredState Load(string repositoryPath, string commit, string environment) => desired;
    }
}

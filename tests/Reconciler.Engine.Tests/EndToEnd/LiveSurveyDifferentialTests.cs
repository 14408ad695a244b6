using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Drivers.Secrets;
using Reconciler.Drivers.Ssh;
using Reconciler.Engine.Tests.Infrastructure;
using Reconciler.Execution;
using Reconciler.Live;
using Reconciler.Schema.Model;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>
/// The live probe's fast path (one exec per host, <see cref="LiveSurvey"/>) against its reference (call by call, one exec
/// for the listing, one per command check, one for the damage check) on real sshd hosts: with every kind of drift made by
/// hand and a host that is down, and with checks that print a secret to stdout and stderr and fail, that time out, and
/// that come after a check of another kind, both paths observe exactly the same thing; the fast path with fewer execs.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "EndToEnd")]
public sealed class LiveSurveyDifferentialTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IAsyncLifetime
{
    private readonly string _secret = "s3cret-live-" + Guid.NewGuid().ToString("N")[..8];
    private FleetWorld _w = null!;

    public Task InitializeAsync()
    {
        _w = new FleetWorld(fixture.Fleet);
        _w.Secrets["E2E_LIVE_SECRET"] = _secret;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _w.DisposeAsync();

    [Fact]
    public async Task One_exec_per_host_observes_exactly_what_asking_call_by_call_observes()
    {
        var config = ImmutableSortedDictionary<string, ConfigValue>.Empty.Add("PASSWORD", new ConfigValue.Secret("env:E2E_LIVE_SECRET"));
        var desired = _w.Desired("c1", _w.Service("api", "1.0.0", config: config), _w.Service("jobs", "2.0.0"));
        await _w.SucceedsAsync(desired);
        var api = ServiceFields.ReleaseId(desired.Services["api"]);
        var jobs = ServiceFields.ReleaseId(desired.Services["jobs"]);
        EveryDrift.Make(_w, api, jobs);
        var fleet = _w.Desired("c1", [.. _w.Fleet.Hosts.Take(3), SshdFleet.DownHost("web-4")], [.. desired.Services.Values]);

        var (fast, fastExecs) = await ObserveAsync(fleet, oneExecPerHost: true);
        var (slow, slowExecs) = await ObserveAsync(fleet, oneExecPerHost: false);
        Assert.Equal(Lines(slow), Lines(fast));
        Assert.Equal(
            ["api web-1 WrongCurrent", "api web-2 MissingCurrent", "api web-3 DamagedRelease", "api web-4 Unreachable",
             "jobs web-1 MissingRelease,Unhealthy", "jobs web-2 UnknownHost", "jobs web-3 Unhealthy", "jobs web-4 Unreachable"],
            fast.Hosts.Select(h => $"{h.Service} {h.Host} {string.Join(",", h.Drift)}"));
        // One exec per reachable host, plus the checks of the two services whose `current` is not the recorded release
        // (the survey ran them for the recorded one, so the probe asks them again for the release that is current).
        Assert.Equal(3 + 2, fastExecs);
        Assert.Equal(12, slowExecs);

        // Checks that fail printing the release's config (with its secret) on stdout and a line on stderr, that time out,
        // and that follow a check of another kind (a closed TCP port: the command after it must not run).
        HealthSpec Checks(params HealthCheckSpec[] checks) => FleetWorld.FastHealth with { Checks = [.. checks] };
        var leaky = Command("cat ${release.path}/config.json; echo to-stderr >&2; exit 3");
        var passing = FleetWorld.FastHealth.Checks[0];
        var late = Command("sleep 5", TimeSpan.FromMilliseconds(700));
        var closedPort = new HealthCheckSpec(HealthCheckKind.Tcp, null, null, "127.0.0.1", 1, null, null, TimeSpan.FromSeconds(2));
        // All four hosts up now: web-4 is the healthy host whose checks get past the first.
        var probing = desired with
        {
            Services = desired.Services
                .SetItem("api", desired.Services["api"] with { Health = Checks(passing, leaky) })
                .SetItem("jobs", desired.Services["jobs"] with { Health = Checks(passing, late) }),
        };
        Assert.Equal(api, ServiceFields.ReleaseId(probing.Services["api"]));
        (fast, _) = await ObserveAsync(probing, oneExecPerHost: true);
        (slow, _) = await ObserveAsync(probing, oneExecPerHost: false);
        Assert.Equal(Lines(slow), Lines(fast));
        foreach (var host in new[] { "web-1", "web-3", "web-4" })   // the survey's answer (web-3, web-4) and the probe's own (web-1)
        {
            var detail = fast.Hosts.Single(h => h.Service == "api" && h.Host == host).Detail;
            Assert.Contains("command exited 3: {", detail);
            Assert.Contains("[redacted]", detail);
            Assert.EndsWith("to-stderr", detail);
        }
        Assert.DoesNotContain(fast.Hosts, h => h.Detail?.Contains(_secret, StringComparison.Ordinal) == true);
        Assert.Equal("command timed out after 0.7s", fast.Hosts.Single(h => h is { Service: "jobs", Host: "web-4" }).Detail);

        var afterPort = probing with
        {
            Services = probing.Services.SetItem("jobs", probing.Services["jobs"] with { Health = Checks(passing, closedPort, late) }),
        };
        (fast, _) = await ObserveAsync(afterPort, oneExecPerHost: true);
        (slow, _) = await ObserveAsync(afterPort, oneExecPerHost: false);
        Assert.Equal(Lines(slow), Lines(fast));
        Assert.Contains("connection refused", fast.Hosts.Single(h => h is { Service: "jobs", Host: "web-4" }).Detail);
    }

    private static HealthCheckSpec Command(string command, TimeSpan? timeout = null) =>
        new(HealthCheckKind.Command, null, null, null, null, command, null, timeout ?? TimeSpan.FromSeconds(10));

    /// <summary>Everything observed of each host, in a form that compares by value (the drift kinds are an array).</summary>
    private static string[] Lines(ObservedState o) =>
        [.. o.Hosts.Select(h => $"{h.Service} {h.Host} desired={h.DesiredRelease} recorded={h.RecordedRelease} actual={h.ActualRelease} " +
                                $"{h.Health} [{string.Join(",", h.Drift)}] {h.Detail}")];

    private async Task<(ObservedState Observed, long Execs)> ObserveAsync(DesiredState desired, bool oneExecPerHost)
    {
        var ssh = new List<SshHostDriver>();
        var deps = ExecutorWiring.Dependencies(_w.Store, _w.Combine("."), TimeProvider.System,
            new HostDriverOptions { LocalRoot = _w.Combine("local"), SshKeyPath = _w.Fleet.ClientKeyPath, Warn = _ => { } });
        var drivers = deps.Drivers;
        deps = deps with
        {
            Secrets = new SecretResolver(environment: name => _w.Secrets.GetValueOrDefault(name)),
            Drivers = kind =>
            {
                var driver = drivers(kind);
                if (driver is SshHostDriver s) lock (ssh) ssh.Add(s);   // to count its exec channels
                return driver;
            },
        };
        var observed = await new LiveProbe(deps, new LiveProbeOptions(TimeSpan.FromSeconds(20), 8, oneExecPerHost))
            .ObserveAsync(desired, await _w.Store.ReadAsync(FleetWorld.Env, default), default);
        return (observed, ssh.Sum(d => d.Execs));
    }
}
